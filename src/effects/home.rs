//! Where localkube keeps things: `$LOCALKUBE_HOME` (else the platform data folder) for profiles, and
//! `$LOCALKUBE_CACHE` (else the platform cache folder) for built artifacts shared by all profiles.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::effects::files::{
    PUBLIC_FILE_MODE, SECRET_DIR_MODE, create_dir_with_mode, write_atomic,
};
use crate::plan::cluster::HostFacts;
use crate::plan::config::ProfileConfig;
use crate::plan::load_balancer;
use crate::plan::profile_name::ProfileName;
use crate::yaml;

#[derive(Debug, Clone)]
pub struct Home {
    root: PathBuf,
    cache: PathBuf,
}

impl Home {
    /// The home this process uses, from the environment.
    pub fn from_env() -> Result<Self> {
        let root = match std::env::var_os("LOCALKUBE_HOME") {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir),
            _ => dirs::data_dir()
                .context("no data folder for this user: set LOCALKUBE_HOME to a folder localkube may use")?
                .join("localkube"),
        };
        let cache = match std::env::var_os("LOCALKUBE_CACHE") {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir),
            _ => dirs::cache_dir()
                .context("no cache folder for this user: set LOCALKUBE_CACHE to a folder localkube may use")?
                .join("localkube"),
        };
        Ok(Self { root, cache })
    }

    pub fn at(root: impl Into<PathBuf>, cache: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            cache: cache.into(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Built images' inputs and outputs, kubectl binaries: shared by every profile.
    pub fn cache(&self) -> &Path {
        &self.cache
    }

    pub fn profiles_dir(&self) -> PathBuf {
        self.root.join("profiles")
    }

    /// This machine's pace, measured once a boot and kept for every later command
    /// (`effects::pace`).
    pub fn pace_path(&self) -> PathBuf {
        self.root.join("pace.json")
    }

    /// Lock files live apart from the profiles, so taking a lock never creates a profile.
    pub fn locks_dir(&self) -> PathBuf {
        self.root.join("locks")
    }

    /// What a failed start could not remove from Docker, kept apart from the profiles (a new
    /// profile's folder is gone by then) until the next `start` or `delete` removes it.
    pub fn leftovers_path(&self, name: &ProfileName) -> PathBuf {
        self.root.join("leftovers").join(format!("{name}.json"))
    }

    pub fn profile(&self, name: &ProfileName) -> ProfileDir {
        ProfileDir {
            name: name.clone(),
            dir: self.profiles_dir().join(name.as_str()),
        }
    }

    /// Every profile that has a config file, sorted by name.
    pub fn list_profiles(&self) -> Result<Vec<ProfileName>> {
        let dir = self.profiles_dir();
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry?;
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if let Ok(name) = ProfileName::parse(&name)
                && self.profile(&name).exists()
            {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }
}

/// One profile's folder: `config.yaml`, `pki/`, `kubeconfigs/`, `logs/`.
#[derive(Debug, Clone)]
pub struct ProfileDir {
    pub name: ProfileName,
    pub dir: PathBuf,
}

impl ProfileDir {
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.yaml")
    }

    pub fn pki_dir(&self) -> PathBuf {
        self.dir.join("pki")
    }

    pub fn kubeconfigs_dir(&self) -> PathBuf {
        self.dir.join("kubeconfigs")
    }

    /// The admin's kubeconfig (group kubeadm:cluster-admins): what localkube itself talks to the
    /// cluster with.
    pub fn admin_kubeconfig(&self) -> PathBuf {
        self.kubeconfigs_dir().join("admin.conf")
    }

    /// The break-glass super-admin's kubeconfig (system:masters), used only to bind the admin's
    /// group to cluster-admin.
    pub fn super_admin_kubeconfig(&self) -> PathBuf {
        self.kubeconfigs_dir().join("super-admin.conf")
    }

    pub fn logs_dir(&self) -> PathBuf {
        self.dir.join("logs")
    }

    /// The host facts a cluster plan for this profile needs.
    pub fn host_facts(&self) -> Result<HostFacts> {
        let docker_host = std::env::var("DOCKER_HOST").ok();
        Ok(HostFacts {
            profile_dir: self.dir.clone(),
            host_has_lib_modules: Path::new("/lib/modules").is_dir(),
            lb_image: load_balancer::image_tag(&binary_fingerprint()?),
            docker_socket: load_balancer::docker_socket_path(docker_host.as_deref())
                .map_err(anyhow::Error::msg)?,
        })
    }

    /// A profile exists once its config has been written.
    pub fn exists(&self) -> bool {
        self.config_path().is_file()
    }

    pub fn load_config(&self) -> Result<ProfileConfig> {
        let path = self.config_path();
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
                "profile '{}' does not exist: create it with `localkube start -p {}`, or see `localkube profile list`",
                self.name,
                self.name
            ),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let config: ProfileConfig = yaml::from_str(&text).with_context(|| {
            format!(
                "{} is damaged: fix it by hand or remove the profile with `localkube delete -p {}`",
                path.display(),
                self.name
            )
        })?;
        config
            .validate()
            .with_context(|| format!("{} holds a setting localkube cannot use", path.display()))?;
        Ok(config)
    }

    /// Writes the config atomically; the profile folder is private (it holds keys).
    pub fn save_config(&self, config: &ProfileConfig) -> Result<()> {
        create_dir_with_mode(&self.dir, SECRET_DIR_MODE)?;
        let text = yaml::to_string(config)?;
        write_atomic(&self.config_path(), text.as_bytes(), PUBLIC_FILE_MODE)
    }

    /// The audit policy the apiservers are staged with, and the folder each of `members` writes
    /// its log into.
    /// The apiserver runs as root without DAC_OVERRIDE (it reads what it must with
    /// DAC_READ_SEARCH, and writes nowhere else): a folder of a user other than root must let
    /// others write and pass (0733; no listing), which only the owner and root can reach, as
    /// the profile's folder is 0700.
    pub fn write_audit_files(
        &self,
        policy: &str,
        members: impl IntoIterator<Item = u32>,
    ) -> Result<()> {
        use crate::plan::cluster::AUDIT_POLICY_FILE;
        write_atomic(
            &self.dir.join(AUDIT_POLICY_FILE),
            policy.as_bytes(),
            PUBLIC_FILE_MODE,
        )?;
        use std::os::unix::fs::MetadataExt;
        let owned_by_root = fs::metadata(&self.dir)
            .with_context(|| format!("reading {}", self.dir.display()))?
            .uid()
            == 0;
        let mode = if owned_by_root {
            SECRET_DIR_MODE
        } else {
            0o733
        };
        for member in members {
            let dir = self.audit_dir(member);
            create_dir_with_mode(&dir, mode)?;
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&dir, fs::Permissions::from_mode(mode))
                .with_context(|| format!("setting the mode of {}", dir.display()))?;
        }
        Ok(())
    }

    /// Where a control-plane member's apiserver keeps its audit log on the host.
    pub fn audit_dir(&self, member: u32) -> PathBuf {
        self.dir.join(crate::plan::cluster::audit_host_dir(member))
    }

    /// Removes the profile's folder and everything in it.
    pub fn remove(&self) -> Result<()> {
        match fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).with_context(|| format!("removing {}", self.dir.display())),
        }
    }
}

/// The running localkube binary: /proc/self/exe, which stays readable when a rebuild replaces the
/// file on disk (a path from `current_exe` then names a deleted file), else `current_exe`.
pub fn running_binary() -> Result<PathBuf> {
    let proc_self = PathBuf::from("/proc/self/exe");
    if proc_self.exists() {
        return Ok(proc_self);
    }
    std::env::current_exe().context("finding the localkube binary")
}

/// A short fingerprint of the running localkube binary (its version, size and modification time):
/// it names the load balancer image, so a rebuilt binary gets a fresh image without hashing
/// hundreds of megabytes on every command.
pub fn binary_fingerprint() -> Result<String> {
    use sha2::{Digest, Sha256};
    let exe = running_binary()?;
    let meta = fs::metadata(&exe).with_context(|| format!("reading {}", exe.display()))?;
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let digest = Sha256::digest(format!(
        "{}/{}/{modified}",
        env!("CARGO_PKG_VERSION"),
        meta.len()
    ));
    Ok(hex::encode(&digest[..6]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_round_trips_on_disk_and_lists() {
        let tmp = tempfile::tempdir().unwrap();
        let home = Home::at(tmp.path().join("home"), tmp.path().join("cache"));
        let name = ProfileName::parse("dev").unwrap();
        let profile = home.profile(&name);
        assert!(!profile.exists());
        let config = ProfileConfig::new(41000, "172.30.9.0/24".parse().unwrap());
        profile.save_config(&config).unwrap();
        assert_eq!(profile.load_config().unwrap(), config);
        assert_eq!(home.list_profiles().unwrap(), vec![name]);
    }

    #[test]
    fn missing_profile_says_how_to_create_it() {
        let tmp = tempfile::tempdir().unwrap();
        let home = Home::at(tmp.path(), tmp.path().join("cache"));
        let err = home
            .profile(&ProfileName::parse("nosuch").unwrap())
            .load_config()
            .unwrap_err()
            .to_string();
        assert!(err.contains("profile 'nosuch' does not exist"), "{err}");
        assert!(err.contains("localkube start -p nosuch"), "{err}");
    }
}
