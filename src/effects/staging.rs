//! Each container's config folder on the host (`staging/<container>/`, bound read-only into it):
//! copies of exactly the certificates and kubeconfigs that container needs, plus a node's
//! generated configuration. Refreshed on every start, so renewed certificates reach the components.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};

use crate::effects::files::{
    PUBLIC_FILE_MODE, SECRET_DIR_MODE, SECRET_FILE_MODE, create_dir_with_mode, write_atomic,
};
use crate::plan::cluster::{ContainerSpec, HostFacts};
use crate::plan::node_config::NodeFile;

/// Whether a staged file holds a secret (private keys; kubeconfigs embed one; the registry's
/// password hash).
fn is_secret(path: &str) -> bool {
    path.ends_with(".key")
        || path.ends_with(".conf")
        || path.ends_with("kubeconfig")
        || path.ends_with("htpasswd")
}

fn mode_for(path: &str) -> u32 {
    if is_secret(path) {
        SECRET_FILE_MODE
    } else {
        PUBLIC_FILE_MODE
    }
}

/// Copies the spec's staged files from the profile folder into its config folder.
pub fn stage_container(paths: &HostFacts, spec: &ContainerSpec) -> Result<()> {
    let dir = paths.staging_dir(&spec.name);
    create_dir_with_mode(&dir, SECRET_DIR_MODE)?;
    for file in &spec.staged_files {
        let from = paths.profile_dir.join(&file.from);
        let contents = fs::read(&from)
            .with_context(|| format!("reading {} for {}", from.display(), spec.name))?;
        write_into(&dir, &file.to, &contents)?;
    }
    Ok(())
}

/// [`stage_container`], saying whether any staged file changed (a renewed certificate, say), so
/// a running container that uses it can be restarted.
pub fn restage_container(paths: &HostFacts, spec: &ContainerSpec) -> Result<bool> {
    let dir = paths.staging_dir(&spec.name);
    create_dir_with_mode(&dir, SECRET_DIR_MODE)?;
    let mut changed = false;
    for file in &spec.staged_files {
        let from = paths.profile_dir.join(&file.from);
        let contents = fs::read(&from)
            .with_context(|| format!("reading {} for {}", from.display(), spec.name))?;
        changed |= write_into(&dir, &file.to, &contents)?;
    }
    Ok(changed)
}

/// Writes generated node files into a node's config folder.
pub fn write_node_files(paths: &HostFacts, node: &str, files: &[NodeFile]) -> Result<()> {
    let dir = paths.staging_dir(node);
    for file in files {
        write_into(&dir, &file.path, file.content.as_bytes())?;
    }
    Ok(())
}

/// Writes one generated file into a container's config folder; returns whether it changed.
pub fn write_generated(
    paths: &HostFacts,
    container: &str,
    rel: &str,
    contents: &str,
) -> Result<bool> {
    write_into(&paths.staging_dir(container), rel, contents.as_bytes())
}

/// Removes one file from a container's config folder; a file that is not there is no error.
pub fn remove_file(paths: &HostFacts, container: &str, rel: &str) -> Result<()> {
    let path = paths.staging_dir(container).join(rel);
    match fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing {}", path.display())),
    }
}

/// Whether a container's config folder already holds this file.
pub fn has_file(paths: &HostFacts, container: &str, rel: &str) -> bool {
    paths.staging_dir(container).join(rel).is_file()
}

fn write_into(dir: &Path, rel: &str, contents: &[u8]) -> Result<bool> {
    let target = dir.join(rel);
    if let Some(parent) = target.parent() {
        create_dir_with_mode(parent, SECRET_DIR_MODE)?;
    }
    // Unchanged files are left alone, so watchers inside the containers see no spurious change.
    if fs::read(&target).is_ok_and(|old| old == contents) {
        return Ok(false);
    }
    write_atomic(&target, contents, mode_for(rel))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::cluster::StagedFile;
    use crate::plan::cluster::{SecuritySpec, plan};
    use crate::plan::config::ProfileConfig;
    use crate::plan::profile_name::ProfileName;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn stages_only_the_listed_files_with_secret_modes() {
        let tmp = tempfile::tempdir().unwrap();
        let paths = HostFacts::example(tmp.path());
        fs::create_dir_all(tmp.path().join("pki")).unwrap();
        fs::write(tmp.path().join("pki/a.crt"), "cert").unwrap();
        fs::write(tmp.path().join("pki/a.key"), "key").unwrap();
        fs::write(tmp.path().join("pki/other.key"), "not for this one").unwrap();
        let profile = ProfileName::parse("dev").unwrap();
        let config = ProfileConfig::new(40000, "172.30.1.0/24".parse().unwrap());
        let mut spec = plan(&profile, &config, &paths).containers[0].clone();
        spec.security = SecuritySpec::default();
        spec.staged_files = vec![
            StagedFile {
                from: "pki/a.crt".into(),
                to: "pki/a.crt".into(),
            },
            StagedFile {
                from: "pki/a.key".into(),
                to: "pki/a.key".into(),
            },
        ];
        stage_container(&paths, &spec).unwrap();
        let dir = paths.staging_dir(&spec.name);
        let mode = |p: &str| fs::metadata(dir.join(p)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode("pki/a.key"), 0o600);
        assert_eq!(mode("pki/a.crt"), 0o644);
        assert!(!dir.join("pki/other.key").exists());
    }
}
