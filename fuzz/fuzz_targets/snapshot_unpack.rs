//! A snapshot export and its pki.tar are foreign input: on any bytes, `import`'s unpacker and
//! the PKI unpacker must not panic, an export they accept holds exactly its manifest's parts at
//! their sizes, and a pki.tar unpacks only plain files 0600 and folders 0700 inside its folder.
#![no_main]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use localkube::effects::snapshot_store;

/// A scratch folder of this process, emptied for each input.
fn scratch() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("localkube-fuzz-unpack-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Every path under `dir`, with its metadata (links not followed).
fn walk(dir: &Path, out: &mut Vec<(std::path::PathBuf, std::fs::Metadata)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let meta = std::fs::symlink_metadata(entry.path()).unwrap();
        let is_dir = meta.is_dir();
        out.push((entry.path(), meta));
        if is_dir {
            walk(&entry.path(), out);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let root = scratch();
    let file = root.join("in.tar");
    std::fs::write(&file, data).unwrap();

    let export = root.join("export");
    std::fs::create_dir(&export).unwrap();
    if let Ok(manifest) = snapshot_store::unpack_export(&file, &export) {
        let mut found = Vec::new();
        walk(&export, &mut found);
        assert_eq!(found.len(), manifest.parts.len() + 1, "{found:?}");
        for part in &manifest.parts {
            let meta = std::fs::symlink_metadata(export.join(&part.file)).unwrap();
            assert!(meta.is_file());
            assert_eq!(meta.len(), part.bytes);
            assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        }
    }

    let pki = root.join("pki");
    let _ = snapshot_store::untar_folder(&file, &pki);
    if pki.exists() {
        let mut found = Vec::new();
        walk(&pki, &mut found);
        for (path, meta) in found {
            assert!(path.starts_with(&pki));
            let mode = meta.permissions().mode() & 0o7777;
            if meta.is_dir() {
                assert_eq!(mode, 0o700, "{}", path.display());
            } else {
                assert!(meta.is_file(), "{} is neither file nor folder", path.display());
                assert_eq!(mode, 0o600, "{}", path.display());
            }
        }
    }
    let _ = std::fs::remove_dir_all(&root);
});
