//! File writes that never leave a half-written file behind, with the permissions secrets need.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, Result};

/// Mode of files holding private keys or credentials.
pub const SECRET_FILE_MODE: u32 = 0o600;
/// Mode of folders holding such files.
pub const SECRET_DIR_MODE: u32 = 0o700;
pub const PUBLIC_FILE_MODE: u32 = 0o644;

/// Writes `contents` to `path` atomically: a temporary file in the same folder, flushed to disk,
/// given `mode`, then renamed over `path`. Readers see the old file or the new one, never a mix.
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    written_beside(path, contents, mode)?
        .persist(path)
        .with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

/// [`write_atomic`], except where the file cannot be replaced (a file bind-mounted into a
/// container: rename fails with EBUSY, or EXDEV across mounts): there it is rewritten in place,
/// as kubectl always does.
pub fn write_atomic_or_in_place(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    match written_beside(path, contents, mode)?.persist(path) {
        Ok(_) => Ok(()),
        Err(e) if cannot_replace(&e.error) => {
            drop(e.file);
            write_in_place(path, contents, mode)
        }
        Err(e) => Err(e.error).with_context(|| format!("replacing {}", path.display())),
    }
}

/// A rename onto a mount point (EBUSY) or across file systems (EXDEV).
fn cannot_replace(error: &std::io::Error) -> bool {
    matches!(error.raw_os_error(), Some(16) | Some(18))
}

fn write_in_place(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .with_context(|| format!("opening {} to rewrite it in place", path.display()))?;
    file.set_permissions(fs::Permissions::from_mode(mode))
        .with_context(|| format!("setting permissions for {}", path.display()))?;
    file.write_all(contents)
        .and_then(|_| file.sync_all())
        .with_context(|| format!("writing {} in place", path.display()))
}

/// `contents` written and synced to a temporary file of mode `mode` beside `path`, not yet
/// renamed into place.
fn written_beside(path: &Path, contents: &[u8], mode: u32) -> Result<tempfile::NamedTempFile> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(mode))
        .with_context(|| format!("setting permissions for {}", path.display()))?;
    tmp.write_all(contents)
        .and_then(|_| tmp.as_file().sync_all())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(tmp)
}

/// Creates `dir` and its parents; `dir` itself gets `mode` (also when it already existed).
pub fn create_dir_with_mode(dir: &Path, mode: u32) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(mode))
        .with_context(|| format!("setting permissions of {}", dir.display()))
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_file_that_cannot_be_replaced_is_written_in_place() {
        assert!(cannot_replace(&std::io::Error::from_raw_os_error(16)));
        assert!(cannot_replace(&std::io::Error::from_raw_os_error(18)));
        assert!(!cannot_replace(&std::io::Error::from_raw_os_error(13)));
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("config");
        fs::write(&path, "old old old old").unwrap();
        write_in_place(&path, b"new", 0o600).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    use super::*;

    #[test]
    fn atomic_write_replaces_and_sets_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        write_atomic(&path, b"first", SECRET_FILE_MODE).unwrap();
        write_atomic(&path, b"second", SECRET_FILE_MODE).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn secret_dir_gets_0700() {
        let dir = tempfile::tempdir().unwrap();
        let pki = dir.path().join("a/pki");
        create_dir_with_mode(&pki, SECRET_DIR_MODE).unwrap();
        let mode = fs::metadata(&pki).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }
}
