//! Kubeconfig files: the profile's component kubeconfigs, and the user's own kubeconfig, into
//! which the admin credentials are merged (and from which they are removed on delete).
//!
//! - `<profile>/kubeconfigs/`: `admin.conf`, `controller-manager.conf`, `scheduler.conf`,
//!   `kube-proxy.conf`, `kubelet-<node>.conf`, all 0600 in a 0700 folder, written from the
//!   profile's PKI (see [`crate::plan::kubeconfig::component_kubeconfigs`]).
//! - The user's kubeconfig: the file kubectl writes (client-go's rule: the one path of
//!   `$KUBECONFIG`, else the first of its paths that exists, else its last; `~/.kube/config`
//!   without it). Updates hold kubectl's own lock (`<path>.lock`, next to the path as named, a
//!   symlink's too), replace the file atomically (in place where it cannot be replaced: a file
//!   bind-mounted into a devcontainer), make it 0600 since it holds a private key (`~/.kube`
//!   is created 0700), and write through a symlink to its target rather than replacing the link.

use std::ffi::OsStr;
use std::fs::{self, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::effects::files::{
    SECRET_DIR_MODE, SECRET_FILE_MODE, create_dir_with_mode, write_atomic,
};
use crate::effects::home::ProfileDir;
use crate::plan::config::ProfileConfig;
use crate::plan::kubeconfig::{self, Credentials};
use crate::plan::names;
use crate::plan::pki;
use crate::plan::profile_name::ProfileName;

/// How long to wait for another process (kubectl, another localkube) to release the lock.
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// Writes every component kubeconfig from the profile's PKI; returns the files written.
pub fn write_component_kubeconfigs(
    profile: &ProfileDir,
    config: &ProfileConfig,
) -> Result<Vec<PathBuf>> {
    let pki_dir = profile.pki_dir();
    let ca_pem = read_pki_file(&pki_dir, &pki::cert_file(pki::CLUSTER_CA))?;
    let dir = profile.kubeconfigs_dir();
    create_dir_with_mode(&dir, SECRET_DIR_MODE)?;
    let mut written = Vec::new();
    for spec in kubeconfig::component_kubeconfigs(&profile.name, config) {
        let credentials = Credentials {
            cluster: spec.cluster,
            server: spec.server,
            ca_pem: ca_pem.clone(),
            user: spec.user,
            cert_pem: read_pki_file(&pki_dir, &pki::cert_file(&spec.cert_stem))?,
            key_pem: read_pki_file(&pki_dir, &pki::key_file(&spec.cert_stem))?,
            context: spec.context,
            owner: profile.name.to_string(),
        };
        let path = dir.join(&spec.file_name);
        let text = kubeconfig::render(&credentials)
            .with_context(|| format!("rendering {}", path.display()))?;
        write_atomic(&path, text.as_bytes(), SECRET_FILE_MODE)?;
        written.push(path);
    }
    Ok(written)
}

/// The admin's credentials for the host: server `https://127.0.0.1:<apiserver_port>`, cluster,
/// user and context all named [`names::kubeconfig_context`], marked as the profile's.
pub fn admin_credentials(profile: &ProfileDir, config: &ProfileConfig) -> Result<Credentials> {
    let pki_dir = profile.pki_dir();
    let name = names::kubeconfig_context(&profile.name);
    Ok(Credentials {
        cluster: name.clone(),
        server: kubeconfig::host_server(config),
        ca_pem: read_pki_file(&pki_dir, &pki::cert_file(pki::CLUSTER_CA))?,
        user: name.clone(),
        cert_pem: read_pki_file(&pki_dir, &pki::cert_file(pki::ADMIN))?,
        key_pem: read_pki_file(&pki_dir, &pki::key_file(pki::ADMIN))?,
        context: name,
        owner: profile.name.to_string(),
    })
}

/// The kubeconfig kubectl writes to (see [`kubeconfig_path_from`]).
pub fn user_kubeconfig_path() -> Result<PathBuf> {
    kubeconfig_path_from(
        std::env::var_os("KUBECONFIG").as_deref(),
        dirs::home_dir().as_deref(),
        |path| fs::metadata(path).is_ok(),
    )
    .context("no home folder for this user: set KUBECONFIG to the kubeconfig file to use")
}

/// The file kubectl (client-go's `GetDefaultFilename`) writes, from explicit inputs: of the
/// paths of `kubeconfig_env` (empty ones and repeats dropped), the only one, else the first that
/// `exists` (following links, as `os.Stat`), else the last; without any, `<home>/.kube/config`.
pub fn kubeconfig_path_from(
    kubeconfig_env: Option<&OsStr>,
    home: Option<&Path>,
    exists: impl Fn(&Path) -> bool,
) -> Option<PathBuf> {
    let mut paths: Vec<PathBuf> = Vec::new();
    for path in kubeconfig_env
        .map(std::env::split_paths)
        .into_iter()
        .flatten()
    {
        if !path.as_os_str().is_empty() && !paths.contains(&path) {
            paths.push(path);
        }
    }
    match paths.len() {
        0 => home.map(|home| home.join(".kube").join("config")),
        1 => paths.pop(),
        _ => paths
            .iter()
            .find(|p| exists(p))
            .cloned()
            .or_else(|| paths.pop()),
    }
}

/// The user's kubeconfig as it was before a `start` merged into it, to undo that merge alone
/// ([`UserEntriesBefore::restore`]): edits other programs make meanwhile stay.
#[derive(Debug)]
pub struct UserEntriesBefore {
    path: PathBuf,
    text: Option<String>,
    profile: ProfileName,
}

impl UserEntriesBefore {
    pub fn take(profile: &ProfileName) -> Result<Self> {
        let path = user_kubeconfig_path()?;
        let text = read_optional(&resolve_symlink(&path)?)?;
        Ok(Self {
            path,
            text,
            profile: profile.clone(),
        })
    }

    /// Puts the profile's own entries (and the current context, if it is still theirs) back as
    /// they were; a file this start created and that holds nothing else is removed.
    pub fn restore(&self) -> Result<()> {
        let name = names::kubeconfig_context(&self.profile);
        let _lock = KubeconfigLock::acquire(&self.path, LOCK_WAIT)?;
        let target = resolve_symlink(&self.path)?;
        let Some(now) = read_optional(&target)? else {
            return Ok(());
        };
        let restored = kubeconfig::restore_own_entries(
            &now,
            self.text.as_deref(),
            [&name, &name, &name],
            self.profile.as_str(),
        )
        .with_context(|| format!("taking '{name}' out of {} again", target.display()))?;
        let Some(text) = restored else {
            return Ok(());
        };
        match &self.text {
            None if kubeconfig::is_empty(&text)? => {
                fs::remove_file(&target).with_context(|| format!("removing {}", target.display()))
            }
            // Nobody else changed it meanwhile: the user's own bytes, formatting and all.
            Some(before) if kubeconfig::same_content(&text, before)? => {
                write_private(&target, before)
            }
            _ => write_private(&target, &text),
        }
    }
}

/// Merges `c` into the user's kubeconfig; returns its path.
pub fn merge_into_user(c: &Credentials, switch_context: bool) -> Result<PathBuf> {
    let path = user_kubeconfig_path()?;
    merge_into_file(&path, c, switch_context)?;
    Ok(path)
}

/// Removes the profile's cluster, user and context from the user's kubeconfig (only entries
/// carrying its ownership marker); `true` when something was removed. A missing kubeconfig has
/// nothing to remove.
pub fn remove_from_user(profile: &ProfileName) -> Result<bool> {
    let name = names::kubeconfig_context(profile);
    remove_from_file(
        &user_kubeconfig_path()?,
        &name,
        &name,
        &name,
        profile.as_str(),
    )
}

/// Refuses, before anything is created, a start whose merge would replace entries of the user's
/// kubeconfig that localkube did not write for this profile.
pub fn check_user_mergeable(profile: &ProfileName) -> Result<()> {
    let path = resolve_symlink(&user_kubeconfig_path()?)?;
    let name = names::kubeconfig_context(profile);
    let probe = Credentials {
        cluster: name.clone(),
        server: String::new(),
        ca_pem: String::new(),
        user: name.clone(),
        cert_pem: String::new(),
        key_pem: String::new(),
        context: name,
        owner: profile.to_string(),
    };
    kubeconfig::check_mergeable(read_optional(&path)?.as_deref(), &probe)
        .with_context(|| format!("checking {}", path.display()))
}

/// Points the profile's cluster entry in the user's kubeconfig at `server` (only an entry marked
/// as the profile's); returns the file and what was there before, `None` when it was current.
pub fn set_user_server(profile: &ProfileName, server: &str) -> Result<(PathBuf, Option<String>)> {
    let named = user_kubeconfig_path()?;
    let path = resolve_symlink(&named)?;
    let name = names::kubeconfig_context(profile);
    if !path.exists() {
        bail!(
            "there is no kubeconfig at {}: `localkube -p {profile} start` writes it",
            path.display()
        );
    }
    let _lock = KubeconfigLock::acquire(&named, LOCK_WAIT)?;
    let existing = read_optional(&path)?.unwrap_or_default();
    let update = kubeconfig::set_server(&existing, &name, profile.as_str(), server)
        .with_context(|| format!("updating {}", path.display()))?;
    match update {
        kubeconfig::ServerUpdate::Current => Ok((path, None)),
        kubeconfig::ServerUpdate::Changed { previous, text } => {
            write_private(&path, &text)?;
            Ok((path, Some(previous)))
        }
    }
}

/// The current context of the user's kubeconfig, `None` when unset or when there is no file.
pub fn current_context() -> Result<Option<String>> {
    current_context_in(&user_kubeconfig_path()?)
}

/// Merges `c` into the kubeconfig at `path`, creating it (0600, folder 0700) when missing.
pub fn merge_into_file(path: &Path, c: &Credentials, switch_context: bool) -> Result<()> {
    merge_waiting(path, c, switch_context, LOCK_WAIT)
}

fn merge_waiting(path: &Path, c: &Credentials, switch_context: bool, wait: Duration) -> Result<()> {
    let target = resolve_symlink(path)?;
    ensure_parent(&target)?;
    ensure_parent(path)?;
    // kubectl's lock is next to the path it was given, link or not.
    let _lock = KubeconfigLock::acquire(path, wait)?;
    let existing = read_optional(&target)?;
    let merged = kubeconfig::merge(existing.as_deref(), c, switch_context)
        .with_context(|| format!("merging the credentials into {}", target.display()))?;
    write_private(&target, &merged)
}

/// Removes the named entries of profile `owner` from the kubeconfig at `path`; `true` when
/// something was removed.
pub fn remove_from_file(
    path: &Path,
    cluster: &str,
    user: &str,
    context: &str,
    owner: &str,
) -> Result<bool> {
    let named = path;
    let path = resolve_symlink(path)?;
    if !path.exists() {
        return Ok(false);
    }
    let _lock = KubeconfigLock::acquire(named, LOCK_WAIT)?;
    let Some(existing) = read_optional(&path)? else {
        return Ok(false);
    };
    let removed = kubeconfig::remove_entries(&existing, cluster, user, context, owner)
        .with_context(|| format!("removing '{context}' from {}", path.display()))?;
    match removed {
        Some(text) => {
            write_private(&path, &text)?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// The current context of the kubeconfig at `path`, `None` when unset or when there is no file.
pub fn current_context_in(path: &Path) -> Result<Option<String>> {
    match read_optional(path)? {
        Some(text) => kubeconfig::current_context(&text)
            .with_context(|| format!("reading the current context of {}", path.display())),
        None => Ok(None),
    }
}

fn read_pki_file(pki_dir: &Path, file: &str) -> Result<String> {
    let path = pki_dir.join(file);
    fs::read_to_string(&path).with_context(|| {
        format!(
            "reading {}: the profile's certificates are incomplete (`localkube start` regenerates them)",
            path.display()
        )
    })
}

fn read_optional(path: &Path) -> Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// A symlinked kubeconfig (dotfile managers do this) is updated at its target: replacing the
/// link with a file would silently detach it.
fn resolve_symlink(path: &Path) -> Result<PathBuf> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => match fs::canonicalize(path) {
            Ok(target) => Ok(target),
            // A dangling link: write where it points, so the link becomes valid.
            Err(_) => {
                let target = fs::read_link(path)
                    .with_context(|| format!("reading the link {}", path.display()))?;
                Ok(path
                    .parent()
                    .map_or(target.clone(), |dir| dir.join(&target)))
            }
        },
        _ => Ok(path.to_path_buf()),
    }
}

/// Creates the kubeconfig's folder (`~/.kube`) 0700 when missing; an existing one is left as is.
fn ensure_parent(path: &Path) -> Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.exists() => {
            create_dir_with_mode(dir, SECRET_DIR_MODE)
        }
        _ => Ok(()),
    }
}

/// Writes a kubeconfig, which holds a private key: the owner's bits of an existing file are kept,
/// nobody else's (a 0644 file becomes 0600), a new one is 0600. Replaced atomically; where the
/// file cannot be replaced (a file bind-mounted into a container: rename fails with EBUSY, or
/// EXDEV across mounts) it is rewritten in place, as kubectl always does.
fn write_private(path: &Path, text: &str) -> Result<()> {
    let mode = match fs::metadata(path) {
        Ok(meta) => meta.permissions().mode() & 0o700,
        Err(_) => SECRET_FILE_MODE,
    };
    crate::effects::files::write_atomic_or_in_place(path, text.as_bytes(), mode)
}

/// kubectl's lock on a kubeconfig: `<file>.lock`, created exclusively, removed when done. Holding
/// it keeps a concurrent `kubectl config` or localkube from losing our update, or we theirs.
#[derive(Debug)]
struct KubeconfigLock {
    path: PathBuf,
}

impl KubeconfigLock {
    fn acquire(kubeconfig: &Path, wait: Duration) -> Result<Self> {
        let mut name = kubeconfig.as_os_str().to_owned();
        name.push(".lock");
        let path = PathBuf::from(name);
        let deadline = Instant::now() + wait;
        loop {
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(_) => return Ok(Self { path }),
                Err(e) if e.kind() == ErrorKind::AlreadyExists && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => bail!(
                    "{} is locked by another program; if none is running, remove the stale lock {}",
                    kubeconfig.display(),
                    path.display()
                ),
                Err(e) => {
                    return Err(e).with_context(|| format!("creating the lock {}", path.display()));
                }
            }
        }
    }
}

impl Drop for KubeconfigLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::effects::home::Home;
    use crate::effects::pki_store;
    use serde_json::Value;

    fn credentials(name: &str) -> Credentials {
        Credentials {
            cluster: name.into(),
            server: "https://127.0.0.1:40123".into(),
            ca_pem: "CA".into(),
            user: name.into(),
            cert_pem: "CERT".into(),
            key_pem: "KEY".into(),
            context: name.into(),
            owner: name.into(),
        }
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn the_file_is_the_one_kubectl_writes() {
        let home = Path::new("/home/u");
        let none = |_: &Path| false;
        let only_b = |p: &Path| p == Path::new("/b/two");
        let pick = |env: &str, exists: &dyn Fn(&Path) -> bool| {
            kubeconfig_path_from(Some(OsStr::new(env)), Some(home), exists)
        };
        // client-go: the first that exists, else the last.
        assert_eq!(pick("/a/one:/b/two", &only_b), Some("/b/two".into()));
        assert_eq!(pick("/a/one:/b/two:/c", &none), Some("/c".into()));
        assert_eq!(pick("/a/one:/b/two", &|_| true), Some("/a/one".into()));
        // One path (repeats and empty entries dropped): that one, existing or not.
        assert_eq!(pick("/a/one", &none), Some("/a/one".into()));
        assert_eq!(pick(":/b/two:/b/two", &none), Some("/b/two".into()));
        assert_eq!(pick("", &none), Some("/home/u/.kube/config".into()));
        assert_eq!(
            kubeconfig_path_from(None, Some(home), none),
            Some(PathBuf::from("/home/u/.kube/config"))
        );
        assert_eq!(kubeconfig_path_from(None, None, none), None);
    }

    #[test]
    fn a_file_holding_a_key_becomes_private() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("config");
        fs::write(&path, "").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        merge_into_file(&path, &credentials("dev"), true).unwrap();
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn the_lock_is_next_to_the_path_as_named_even_a_link() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("dotfiles-kubeconfig");
        fs::write(&target, "").unwrap();
        let link = tmp.path().join("config");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        // kubectl holds `config.lock`: the merge waits for it, and gives up naming it.
        let held = KubeconfigLock::acquire(&link, Duration::ZERO).unwrap();
        let err = merge_waiting(&link, &credentials("dev"), true, Duration::from_millis(200))
            .unwrap_err();
        assert!(format!("{err:#}").contains("config.lock"), "{err:#}");
        assert_eq!(fs::read_to_string(&target).unwrap(), "");
        drop(held);
        merge_waiting(&link, &credentials("dev"), true, Duration::ZERO).unwrap();
        assert!(!tmp.path().join("dotfiles-kubeconfig.lock").exists());
    }

    #[test]
    fn merge_creates_a_private_file_and_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(".kube").join("config");
        merge_into_file(&path, &credentials("dev"), true).unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        assert_eq!(current_context_in(&path).unwrap().as_deref(), Some("dev"));
        // The lock is released and no temporary file remains.
        let entries: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(entries, ["config"]);
    }

    #[test]
    fn merge_keeps_an_existing_files_owner_mode_and_handles_an_empty_one() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("config");
        fs::write(&path, "").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
        merge_into_file(&path, &credentials("dev"), false).unwrap();
        assert_eq!(mode(&path), 0o400);
        assert_eq!(current_context_in(&path).unwrap(), None);
        merge_into_file(&path, &credentials("other"), true).unwrap();
        let once = fs::read_to_string(&path).unwrap();
        merge_into_file(&path, &credentials("other"), true).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), once);
        assert_eq!(current_context_in(&path).unwrap().as_deref(), Some("other"));
    }

    #[test]
    fn merge_writes_through_a_symlink() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("dotfiles-kubeconfig");
        fs::write(&target, "").unwrap();
        let link = tmp.path().join("config");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        merge_into_file(&link, &credentials("dev"), true).unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(fs::read_to_string(&target).unwrap().contains("dev"));
    }

    #[test]
    fn remove_reports_whether_anything_went() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("config");
        assert!(!remove_from_file(&path, "dev", "dev", "dev", "dev").unwrap());
        assert!(!path.exists());
        merge_into_file(&path, &credentials("keep"), true).unwrap();
        merge_into_file(&path, &credentials("dev"), true).unwrap();
        assert!(remove_from_file(&path, "dev", "dev", "dev", "dev").unwrap());
        assert!(!remove_from_file(&path, "dev", "dev", "dev", "dev").unwrap());
        let text = fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("keep") && !text.contains("name: dev"),
            "{text}"
        );
        assert_eq!(current_context_in(&path).unwrap(), None);
    }

    #[test]
    fn the_lock_is_kubectls_and_exclusive() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("config");
        let held = KubeconfigLock::acquire(&path, Duration::ZERO).unwrap();
        assert!(tmp.path().join("config.lock").exists());
        let err = KubeconfigLock::acquire(&path, Duration::from_millis(200)).unwrap_err();
        assert!(format!("{err:#}").contains("config.lock"), "{err:#}");
        drop(held);
        assert!(!tmp.path().join("config.lock").exists());
        KubeconfigLock::acquire(&path, Duration::ZERO).unwrap();
    }

    #[test]
    fn component_kubeconfigs_embed_the_profiles_pki() {
        let tmp = tempfile::tempdir().unwrap();
        let home = Home::at(tmp.path().join("home"), tmp.path().join("cache"));
        let profile = home.profile(&ProfileName::parse("dev").unwrap());
        let config = ProfileConfig::new(40123, "172.30.5.0/24".parse().unwrap());
        pki_store::ensure_pki(&profile.pki_dir(), &pki::plan(&profile.name, &config)).unwrap();

        let written = write_component_kubeconfigs(&profile, &config).unwrap();
        let files: Vec<String> = written
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            files,
            [
                "admin.conf",
                "super-admin.conf",
                "controller-manager.conf",
                "scheduler.conf",
                "kube-proxy.conf",
                "lb-controller.conf",
                "kubelet-dev.conf"
            ]
        );
        assert_eq!(mode(&profile.kubeconfigs_dir()), 0o700);
        for path in &written {
            assert_eq!(mode(path), 0o600, "{}", path.display());
        }
        let doc: Value = crate::yaml::from_str(&fs::read_to_string(&written[6]).unwrap()).unwrap();
        assert_eq!(
            doc["clusters"][0]["cluster"]["server"],
            "https://172.30.5.3:6443"
        );
        assert_eq!(doc["users"][0]["name"], "system:node:dev");

        let admin = admin_credentials(&profile, &config).unwrap();
        assert_eq!(admin.server, "https://127.0.0.1:40123");
        assert_eq!(
            (
                admin.cluster.as_str(),
                admin.user.as_str(),
                admin.context.as_str()
            ),
            ("localkube-dev", "localkube-dev", "localkube-dev")
        );
        assert_eq!(
            admin.cert_pem,
            fs::read_to_string(profile.pki_dir().join("admin.crt")).unwrap()
        );
        assert_eq!(
            fs::read_to_string(&written[0]).unwrap(),
            kubeconfig::render(&admin).unwrap()
        );
    }
}
