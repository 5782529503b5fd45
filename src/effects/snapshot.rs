//! Copies of files taken before `start` changes them, put back when it fails, so a failed start
//! leaves the profile's settings, certificates and kubeconfigs, and the user's kubeconfig, exactly
//! as they were (byte for byte, with their modes).

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::effects::files::write_atomic;

/// What a set of files and folders held when it was taken.
#[derive(Debug, Default)]
pub struct FilesSnapshot {
    /// Every regular file found, with its bytes and mode.
    files: Vec<(PathBuf, Vec<u8>, u32)>,
    /// Files that did not exist (restoring removes them).
    absent: Vec<PathBuf>,
    /// Folders whose whole content is restored: files added since are removed.
    trees: Vec<PathBuf>,
}

impl FilesSnapshot {
    /// Records `files` (each may be missing) and every file below `trees` (each may be missing).
    pub fn take(files: &[PathBuf], trees: &[PathBuf]) -> Result<Self> {
        let mut snapshot = Self::default();
        for path in files {
            snapshot.record(path)?;
        }
        for tree in trees {
            for path in files_below(tree)? {
                snapshot.record(&path)?;
            }
            snapshot.trees.push(tree.clone());
        }
        Ok(snapshot)
    }

    fn record(&mut self, path: &Path) -> Result<()> {
        match fs::read(path) {
            Ok(bytes) => {
                let mode = fs::metadata(path)
                    .with_context(|| format!("reading {}", path.display()))?
                    .permissions()
                    .mode()
                    & 0o7777;
                self.files.push((path.to_path_buf(), bytes, mode));
            }
            Err(e) if e.kind() == ErrorKind::NotFound => self.absent.push(path.to_path_buf()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        }
        Ok(())
    }

    /// Puts every recorded file back where its bytes or mode changed, removes recorded-absent
    /// files and files added below the recorded folders. Goes on past a failure; returns them.
    pub fn restore(&self) -> Result<()> {
        let mut failures = Vec::new();
        for tree in &self.trees {
            match files_below(tree) {
                Ok(found) => {
                    for path in found {
                        if !self.files.iter().any(|(p, _, _)| *p == path)
                            && let Err(e) = fs::remove_file(&path)
                        {
                            failures.push(format!("removing {}: {e}", path.display()));
                        }
                    }
                }
                Err(e) => failures.push(format!("{e:#}")),
            }
        }
        for path in &self.absent {
            match fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => failures.push(format!("removing {}: {e}", path.display())),
            }
        }
        for (path, bytes, mode) in &self.files {
            let same = fs::read(path).is_ok_and(|now| now == *bytes)
                && fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o7777 == *mode);
            if same {
                continue;
            }
            let restored = path
                .parent()
                .map_or(Ok(()), fs::create_dir_all)
                .map_err(anyhow::Error::from)
                .and_then(|()| write_atomic(path, bytes, *mode));
            if let Err(e) = restored {
                failures.push(format!("restoring {}: {e:#}", path.display()));
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            anyhow::bail!("{}", failures.join("; "))
        }
    }
}

/// Every regular file below `dir`, recursively; none when it does not exist.
fn files_below(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            found.extend(files_below(&entry.path())?);
        } else if kind.is_file() {
            found.push(entry.path());
        }
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restore_puts_back_bytes_and_modes_and_removes_what_is_new() {
        let tmp = tempfile::tempdir().unwrap();
        let config = tmp.path().join("config.yaml");
        let pki = tmp.path().join("pki");
        let absent = tmp.path().join("kube/config");
        fs::create_dir_all(pki.join("etcd")).unwrap();
        fs::write(&config, "a: 1\n").unwrap();
        fs::write(pki.join("ca.key"), "KEY").unwrap();
        fs::set_permissions(pki.join("ca.key"), fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(pki.join("etcd/ca.crt"), "CRT").unwrap();

        let snapshot = FilesSnapshot::take(
            &[config.clone(), absent.clone()],
            std::slice::from_ref(&pki),
        )
        .unwrap();
        fs::write(&config, "a: 2\n").unwrap();
        fs::write(pki.join("ca.key"), "NEW").unwrap();
        fs::set_permissions(pki.join("ca.key"), fs::Permissions::from_mode(0o644)).unwrap();
        fs::remove_file(pki.join("etcd/ca.crt")).unwrap();
        fs::write(pki.join("extra.crt"), "X").unwrap();
        fs::create_dir_all(absent.parent().unwrap()).unwrap();
        fs::write(&absent, "made by the failed run").unwrap();

        snapshot.restore().unwrap();
        assert_eq!(fs::read_to_string(&config).unwrap(), "a: 1\n");
        assert_eq!(fs::read_to_string(pki.join("ca.key")).unwrap(), "KEY");
        let mode = fs::metadata(pki.join("ca.key"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(fs::read_to_string(pki.join("etcd/ca.crt")).unwrap(), "CRT");
        assert!(!pki.join("extra.crt").exists());
        assert!(!absent.exists());
    }
}
