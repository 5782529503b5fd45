//! A snapshot's manifest is foreign input (snapshots are shared): on any bytes, reading and
//! checking it must not panic, and a manifest the checks accept names a snapshot folder that
//! stays in the store, a release, and exactly the parts of its nodes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use localkube::plan::snapshot::{self, Manifest};

fuzz_target!(|data: &[u8]| {
    let Ok(manifest) = serde_json::from_slice::<Manifest>(data) else {
        return;
    };
    if snapshot::check_manifest(&manifest).is_err() {
        return;
    }
    assert_eq!(snapshot::parse_name(&manifest.name).as_ref(), Ok(&manifest.name));
    assert!(!manifest.name.contains('/') && !manifest.name.starts_with('.'));
    assert!(
        manifest.name.chars().all(|c| !c.is_control()),
        "{:?}",
        manifest.name
    );
    for part in &manifest.parts {
        assert!(snapshot::parse_part_file(&part.file).is_some(), "{}", part.file);
    }
    let mut files: Vec<&str> = manifest.parts.iter().map(|p| p.file.as_str()).collect();
    files.sort_unstable();
    files.dedup();
    assert_eq!(files.len(), manifest.expected_files().len());
    let _ = manifest.total_bytes();
});
