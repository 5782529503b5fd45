//! The archive's checks against archives made in memory: what is refused and why.

use super::*;

/// An archive as `save` lays it out, from in-memory entries.
fn archive(dir: &Path, manifest: &ArchiveManifest, entries: &[(&str, &[u8])]) -> PathBuf {
    let path = dir.join("images.tar");
    let mut tar = tar::Builder::new(File::create(&path).unwrap());
    append_bytes(
        &mut tar,
        MANIFEST,
        &serde_json::to_vec(manifest).unwrap(),
        0o644,
    )
    .unwrap();
    for (name, data) in entries {
        append_bytes(&mut tar, name, data, 0o644).unwrap();
    }
    tar.finish().unwrap();
    path
}

fn entry(data: &[u8]) -> FileEntry {
    cache::hash_reader(&mut &data[..]).unwrap()
}

/// A `docker save` archive whose manifest.json names `tags`, padded with `filler` bytes.
fn saved(tags: &[&str], filler: usize) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    let index = serde_json::json!([{"Config": "c.json", "RepoTags": tags, "Layers": []}]);
    append_bytes(
        &mut tar,
        "manifest.json",
        index.to_string().as_bytes(),
        0o644,
    )
    .unwrap();
    append_bytes(&mut tar, "c.json", &vec![7u8; filler], 0o644).unwrap();
    tar.into_inner().unwrap()
}

fn manifest(images: &[u8], kubectl: &[u8]) -> ArchiveManifest {
    ArchiveManifest {
        format: FORMAT,
        kubernetes_version: "v1.37.2".into(),
        localkube_version: "0.1.0".into(),
        images: vec![ArchivedImage {
            image: "localkube/pause:v1.37.2".into(),
            id: format!("sha256:{}", "ab".repeat(32)),
            key: "abc".into(),
            component_version: "3.10.2".into(),
            size_bytes: 700_000,
        }],
        files: BTreeMap::from([
            (IMAGES.to_string(), entry(images)),
            (KUBECTL.to_string(), entry(kubectl)),
        ]),
    }
}

#[test]
fn an_intact_archive_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let layers = saved(&["localkube/pause:v1.37.2"], 100);
    let m = manifest(&layers, b"kubectl");
    let path = archive(tmp.path(), &m, &[(IMAGES, &layers), (KUBECTL, b"kubectl")]);
    assert_eq!(verify(&path).unwrap(), m);
}

#[test]
fn an_archive_holding_other_tags_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let layers = saved(
        &["localkube/pause:v1.37.2", "debian:13", "localkube/lb:x"],
        100,
    );
    let m = manifest(&layers, b"kubectl");
    let path = archive(tmp.path(), &m, &[(IMAGES, &layers), (KUBECTL, b"kubectl")]);
    let err = format!("{:#}", verify(&path).unwrap_err());
    assert!(
        err.contains("holds debian:13, localkube/lb:x") && err.contains("Nothing was imported"),
        "{err}"
    );
}

#[test]
fn a_version_that_is_a_path_is_refused_before_any_path_is_built() {
    let tmp = tempfile::tempdir().unwrap();
    let layers = saved(&["localkube/pause:v1.37.2"], 100);
    let mut m = manifest(&layers, b"kubectl");
    m.kubernetes_version = "../../../.local/bin".into();
    let path = archive(tmp.path(), &m, &[(IMAGES, &layers), (KUBECTL, b"kubectl")]);
    let err = format!("{:#}", verify(&path).unwrap_err());
    assert!(
        err.contains("\"../../../.local/bin\", not a release"),
        "{err}"
    );
}

#[test]
fn damage_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let layers = saved(&["localkube/pause:v1.37.2"], 100);
    let mut flipped = layers.clone();
    flipped[600] ^= 1;
    let m = manifest(&layers, b"kubectl");
    type Entries<'a> = &'a [(&'a str, &'a [u8])];
    let cases: [(Entries, &str); 4] = [
        (
            &[(IMAGES, &flipped), (KUBECTL, b"kubectl")],
            "the sha256 of images.tar",
        ),
        (
            &[(IMAGES, &layers[..1500]), (KUBECTL, b"kubectl")],
            "images.tar has 1500 bytes",
        ),
        (&[(IMAGES, &layers)], "kubectl is missing"),
        (
            &[(IMAGES, &layers), (KUBECTL, b"kubectl"), ("extra", b"x")],
            "extra, which",
        ),
    ];
    for (entries, expected) in cases {
        let path = archive(tmp.path(), &m, entries);
        let err = format!("{:#}", verify(&path).unwrap_err());
        assert!(err.contains(expected), "{err}");
        assert!(err.contains("Nothing was imported"), "{err}");
    }
}

#[test]
fn a_truncated_or_foreign_file_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let layers = saved(&["localkube/pause:v1.37.2"], 4096);
    let m = manifest(&layers, b"kubectl");
    let path = archive(tmp.path(), &m, &[(IMAGES, &layers), (KUBECTL, b"kubectl")]);
    let bytes = fs::read(&path).unwrap();
    fs::write(&path, &bytes[..3000]).unwrap();
    let err = format!("{:#}", verify(&path).unwrap_err());
    assert!(
        err.contains("not a usable localkube image archive"),
        "{err}"
    );

    fs::write(&path, b"hello, not a tar").unwrap();
    assert!(verify(&path).is_err());

    let other = tmp.path().join("other.tar");
    let mut tar = tar::Builder::new(File::create(&other).unwrap());
    append_bytes(&mut tar, "README", b"hi", 0o644).unwrap();
    tar.finish().unwrap();
    drop(tar);
    let err = format!("{:#}", verify(&other).unwrap_err());
    assert!(err.contains("its first entry is README"), "{err}");
}
