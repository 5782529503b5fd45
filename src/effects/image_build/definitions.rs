//! The image definitions (`images/`), embedded in the binary at compile time (see `build.rs`) and
//! written out into the cache when a build needs them as files (Docker build contexts, scripts,
//! Go modules). The folder is named after the digest of its contents, so a binary built from other
//! definitions gets its own, and an unchanged one is written once.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_images.rs"));
}

/// Every embedded file: path under `images/`, contents, executable.
pub fn files() -> &'static [(&'static str, &'static [u8], bool)] {
    embedded::FILES
}

/// The digest of the embedded definitions: every path, executable bit and content.
pub fn digest() -> String {
    let mut hasher = Sha256::new();
    for (path, contents, executable) in files() {
        hasher.update(path.as_bytes());
        hasher.update([0, u8::from(*executable)]);
        hasher.update((contents.len() as u64).to_le_bytes());
        hasher.update(contents);
    }
    hex::encode(hasher.finalize())
}

/// Where the cache keeps written-out definitions.
pub fn parent(cache: &Path) -> PathBuf {
    cache.join("definitions")
}

/// The embedded definitions as a folder of the cache, written (whole, through a rename) if absent.
pub fn materialize(cache: &Path) -> Result<PathBuf> {
    let parent = parent(cache);
    let dest = parent.join(&digest()[..16]);
    if dest.join("kube-apiserver").join("Dockerfile").is_file() {
        return Ok(dest);
    }
    fs::create_dir_all(&parent).with_context(|| format!("creating {}", parent.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempdir_in(&parent)
        .with_context(|| format!("creating a folder in {}", parent.display()))?;
    for (path, contents, executable) in files() {
        let target = tmp.path().join(path);
        if let Some(dir) = target.parent() {
            fs::create_dir_all(dir)?;
        }
        let mut file =
            fs::File::create(&target).with_context(|| format!("writing {}", target.display()))?;
        file.write_all(contents)?;
        let mode = if *executable { 0o755 } else { 0o644 };
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        file.sync_all()?;
    }
    let written = tmp.keep();
    match fs::rename(&written, &dest) {
        Ok(()) => Ok(dest),
        // Another localkube wrote the same folder first: theirs is as good.
        Err(_) if dest.join("kube-apiserver").join("Dockerfile").is_file() => {
            let _ = fs::remove_dir_all(&written);
            Ok(dest)
        }
        Err(e) => {
            let _ = fs::remove_dir_all(&written);
            Err(e).with_context(|| format!("moving the image definitions to {}", dest.display()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_definition_is_embedded_with_its_mode() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("images");
        let mut on_disk = Vec::new();
        walk(&root, "", &mut on_disk);
        let embedded: Vec<(String, Vec<u8>, bool)> = files()
            .iter()
            .map(|(p, c, x)| (p.to_string(), c.to_vec(), *x))
            .collect();
        assert_eq!(embedded, on_disk);
        assert!(embedded.iter().any(|(p, _, x)| p == "pause/build.sh" && *x));
    }

    #[test]
    fn written_out_definitions_match_the_source_tree() {
        let cache = tempfile::tempdir().unwrap();
        let dir = materialize(cache.path()).unwrap();
        let mut written = Vec::new();
        walk(&dir, "", &mut written);
        let mut source = Vec::new();
        walk(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("images"),
            "",
            &mut source,
        );
        assert_eq!(written, source);
        // A second call finds the folder and writes nothing.
        assert_eq!(materialize(cache.path()).unwrap(), dir);
        assert_eq!(fs::read_dir(parent(cache.path())).unwrap().count(), 1);
    }

    fn walk(dir: &Path, prefix: &str, files: &mut Vec<(String, Vec<u8>, bool)>) {
        let mut entries: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap()).collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let rel = format!("{prefix}{}", entry.file_name().to_string_lossy());
            let meta = fs::metadata(entry.path()).unwrap();
            if meta.is_dir() {
                walk(&entry.path(), &format!("{rel}/"), files);
            } else {
                files.push((
                    rel,
                    fs::read(entry.path()).unwrap(),
                    meta.permissions().mode() & 0o111 != 0,
                ));
            }
        }
    }
}
