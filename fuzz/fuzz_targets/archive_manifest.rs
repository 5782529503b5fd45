//! An image archive is foreign input: the manifest's checks, the tags check of images.tar's
//! index files, and the whole archive check, on any bytes. None may panic, and an archive that
//! passes must satisfy what the rest of localkube builds from it.
#![no_main]

use std::collections::BTreeMap;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use localkube::effects::image_build::archive;
use localkube::plan::archive as checks;

fuzz_target!(|data: &[u8]| {
    // The manifest alone.
    if let Ok(manifest) = checks::parse_manifest(data) {
        assert!(checks::is_release(&manifest.kubernetes_version));
        assert!(!manifest.kubernetes_version.contains('/'));
    }
    // images.tar's index files: the first byte picks which one the rest is.
    if let Some((&pick, rest)) = data.split_first() {
        let name = checks::SAVE_INDEX_FILES[pick as usize % 3];
        let mut index = BTreeMap::from([(name.to_string(), rest.to_vec())]);
        if name != "manifest.json" {
            index.insert("manifest.json".into(), b"[]".to_vec());
        }
        let _ = checks::foreign_tags(&["localkube/pause:v1.37.2".to_string()], &index);
    }
    // The whole archive: a tar of manifest, images.tar and kubectl.
    if let Ok(manifest) = archive::verify_from(data, Path::new("fuzz.tar")) {
        assert!(checks::problem(&manifest).is_none());
    }
});
