//! What an image archive (`localkube images save`) may say, checked before anything is built
//! from it. An archive is foreign input: its manifest names the paths its kubectl and load
//! record are written to and the tags Docker is given, so every field is held to the shape
//! localkube itself writes, and `images.tar` may hold only the images the manifest lists.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// The archive's first entry.
pub const MANIFEST: &str = "localkube-images.json";
/// `docker save` of the images.
pub const IMAGES: &str = "images.tar";
/// The version's kubectl.
pub const KUBECTL: &str = "kubectl";
/// The archive layout this localkube reads and writes.
pub const FORMAT: u32 = 1;
/// Larger than any entry an archive of one Kubernetes version holds (about 1.5 GB today), small
/// enough that a size is never near an overflow.
pub const MAX_ENTRY_BYTES: u64 = 64 << 30;
/// The most bytes read of one of `images.tar`'s small index files (`manifest.json`, ...).
pub const MAX_INDEX_BYTES: u64 = 1 << 20;

/// A file's sha256 (hex) and size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub sha256: String,
    pub size: u64,
}

/// The first entry of an archive, and (as `preloaded/<version>.json`) the record of a load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveManifest {
    pub format: u32,
    pub kubernetes_version: String,
    /// The localkube that wrote it, for people reading the archive.
    pub localkube_version: String,
    pub images: Vec<ArchivedImage>,
    /// Every other entry of the archive, by name.
    pub files: BTreeMap<String, FileEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchivedImage {
    pub image: String,
    /// Docker's image ID (the digest of its config), the same after `docker load`.
    pub id: String,
    pub key: String,
    pub component_version: String,
    pub size_bytes: u64,
}

/// Reads and checks a manifest: its JSON, its format, then every field (see [`problem`]).
pub fn parse_manifest(bytes: &[u8]) -> Result<ArchiveManifest, String> {
    let manifest: ArchiveManifest =
        serde_json::from_slice(bytes).map_err(|e| format!("{MANIFEST} is not valid ({e})"))?;
    if manifest.format != FORMAT {
        return Err(format!(
            "it is of format {}, which this localkube (format {FORMAT}) does not read: save it \
             again with this localkube",
            manifest.format
        ));
    }
    if let Some(why) = problem(&manifest) {
        return Err(format!("{MANIFEST} {why}"));
    }
    Ok(manifest)
}

/// What is wrong with a manifest, or `None`: the version a release's shape (it becomes a folder
/// name), each image a localkube component's tag of that version listed once, IDs and checksums
/// sha256 digests, sizes bounded, and the files exactly `images.tar` and `kubectl`.
pub fn problem(m: &ArchiveManifest) -> Option<String> {
    let version = &m.kubernetes_version;
    if !is_release(version) {
        return Some(format!(
            "names Kubernetes version {version:?}, not a release (vMAJOR.MINOR.PATCH)"
        ));
    }
    if !is_label(&m.localkube_version) {
        return Some(format!(
            "names localkube version {:?}, not a version",
            m.localkube_version
        ));
    }
    if m.images.is_empty() {
        return Some("lists no image".into());
    }
    let known: BTreeSet<String> = crate::plan::images::Image::ALL
        .iter()
        .map(|i| crate::plan::names::image(i.name(), version))
        .collect();
    let mut seen = BTreeSet::new();
    for image in &m.images {
        let tag = &image.image;
        if !known.contains(tag) {
            return Some(format!(
                "lists the image {tag:?}, which is not a localkube image of Kubernetes {version}"
            ));
        }
        if !seen.insert(tag) {
            return Some(format!("lists the image {tag} twice"));
        }
        if !is_digest(image.id.strip_prefix("sha256:").unwrap_or("")) {
            return Some(format!(
                "gives {tag} the ID {:?}, not a sha256 digest",
                image.id
            ));
        }
        if image.key.is_empty()
            || image.key.len() > 128
            || !image.key.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Some(format!("gives {tag} the build key {:?}", image.key));
        }
        if !is_label(&image.component_version) {
            return Some(format!(
                "gives {tag} the version {:?}",
                image.component_version
            ));
        }
        if image.size_bytes > MAX_ENTRY_BYTES {
            return Some(format!("gives {tag} a size of {} bytes", image.size_bytes));
        }
    }
    let names: Vec<&str> = m.files.keys().map(String::as_str).collect();
    if names != [IMAGES, KUBECTL] {
        return Some(format!(
            "lists the files {names:?}, where an archive holds exactly {IMAGES} and {KUBECTL}"
        ));
    }
    for (name, entry) in &m.files {
        if !is_digest(&entry.sha256) {
            return Some(format!("gives {name} the sha256 {:?}", entry.sha256));
        }
        if entry.size == 0 || entry.size > MAX_ENTRY_BYTES {
            return Some(format!("gives {name} a size of {} bytes", entry.size));
        }
    }
    None
}

/// `v1.MINOR.PATCH`, numbers of at most four digits: the shape of every release localkube runs.
pub fn is_release(version: &str) -> bool {
    let Some(bare) = version.strip_prefix("v1.") else {
        return false;
    };
    let parts: Vec<&str> = bare.split('.').collect();
    parts.len() == 2
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// A version as people write them (`3.10.2`, `v0.1.0-dev+abc`): printed, never a path, but
/// nothing that could drive a terminal.
fn is_label(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b))
}

fn is_digest(hex: &str) -> bool {
    hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The index files of a `docker save` archive that name tags: Docker's `manifest.json` and
/// `repositories`, and the OCI `index.json` newer Dockers write and load.
pub const SAVE_INDEX_FILES: [&str; 3] = ["manifest.json", "repositories", "index.json"];

/// Refuses an `images.tar` whose index files name a tag the manifest does not list: `docker
/// load` imports every tag there, so an archive could otherwise replace `debian:13` or the load
/// balancer's image. `index` holds the files of [`SAVE_INDEX_FILES`] found in it.
pub fn foreign_tags(listed: &[String], index: &BTreeMap<String, Vec<u8>>) -> Result<(), String> {
    let listed: BTreeSet<String> = listed.iter().map(|t| normalise(t)).collect();
    let Some(manifest) = index.get("manifest.json") else {
        return Err(format!(
            "{IMAGES} holds no manifest.json: not a `docker save` archive"
        ));
    };
    let mut named: Vec<String> = Vec::new();
    let docker: Vec<DockerSaveEntry> = serde_json::from_slice(manifest)
        .map_err(|e| format!("{IMAGES}'s manifest.json is not valid ({e})"))?;
    for entry in docker {
        named.extend(entry.repo_tags.unwrap_or_default());
    }
    if let Some(repositories) = index.get("repositories") {
        let repos: BTreeMap<String, BTreeMap<String, serde_json::Value>> =
            serde_json::from_slice(repositories)
                .map_err(|e| format!("{IMAGES}'s repositories is not valid ({e})"))?;
        for (repo, tags) in repos {
            named.extend(tags.keys().map(|tag| format!("{repo}:{tag}")));
        }
    }
    if let Some(oci) = index.get("index.json") {
        let oci: OciIndex = serde_json::from_slice(oci)
            .map_err(|e| format!("{IMAGES}'s index.json is not valid ({e})"))?;
        let tags: BTreeSet<&str> = listed
            .iter()
            .filter_map(|t| t.rsplit_once(':').map(|(_, tag)| tag))
            .collect();
        for manifest in oci.manifests {
            let annotations = manifest.annotations.unwrap_or_default();
            if let Some(name) = annotations.get("io.containerd.image.name") {
                named.push(name.clone());
            }
            // A bare tag names the image of `io.containerd.image.name`; anything more is a
            // reference of its own.
            if let Some(reference) = annotations.get("org.opencontainers.image.ref.name")
                && !tags.contains(reference.as_str())
            {
                named.push(reference.clone());
            }
        }
    }
    let mut foreign: Vec<String> = named
        .into_iter()
        .filter(|tag| !listed.contains(&normalise(tag)))
        .collect();
    foreign.sort();
    foreign.dedup();
    if !foreign.is_empty() {
        return Err(format!(
            "its {IMAGES} holds {}, which {MANIFEST} does not list: loading it would replace \
             those images in Docker",
            foreign.join(", ")
        ));
    }
    Ok(())
}

/// A reference as Docker stores it: `docker.io/localkube/etcd:v1` and `localkube/etcd:v1` are
/// one.
fn normalise(reference: &str) -> String {
    let bare = reference.strip_prefix("docker.io/").unwrap_or(reference);
    bare.strip_prefix("library/").unwrap_or(bare).to_string()
}

#[derive(Deserialize)]
struct DockerSaveEntry {
    #[serde(rename = "RepoTags")]
    repo_tags: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct OciIndex {
    #[serde(default)]
    manifests: Vec<OciDescriptor>,
}

#[derive(Deserialize)]
struct OciDescriptor {
    annotations: Option<BTreeMap<String, String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn good() -> ArchiveManifest {
        ArchiveManifest {
            format: FORMAT,
            kubernetes_version: "v1.37.2".into(),
            localkube_version: "0.1.0".into(),
            images: vec![ArchivedImage {
                image: "localkube/pause:v1.37.2".into(),
                id: format!("sha256:{DIGEST}"),
                key: "abc123".into(),
                component_version: "3.10.2".into(),
                size_bytes: 700_000,
            }],
            files: BTreeMap::from([
                (
                    IMAGES.to_string(),
                    FileEntry {
                        sha256: DIGEST.into(),
                        size: 10,
                    },
                ),
                (
                    KUBECTL.to_string(),
                    FileEntry {
                        sha256: DIGEST.into(),
                        size: 10,
                    },
                ),
            ]),
        }
    }

    #[test]
    fn a_manifest_as_localkube_writes_it_passes() {
        assert_eq!(problem(&good()), None);
        let bytes = serde_json::to_vec(&good()).unwrap();
        assert_eq!(parse_manifest(&bytes).unwrap(), good());
    }

    #[test]
    fn every_field_is_held_to_its_shape() {
        type Edit = fn(&mut ArchiveManifest);
        let cases: [(Edit, &str); 12] = [
            (
                |m| m.kubernetes_version = "../../../.local/bin".into(),
                "not a release",
            ),
            (
                |m| m.kubernetes_version = "v1.37.2/..".into(),
                "not a release",
            ),
            (|m| m.kubernetes_version = "v1.37".into(), "not a release"),
            (
                |m| m.localkube_version = "0.1\u{1b}[2J".into(),
                "localkube version",
            ),
            (|m| m.images.clear(), "lists no image"),
            (
                |m| m.images[0].image = "debian:13".into(),
                "not a localkube image",
            ),
            (
                |m| m.images[0].image = "localkube/pause:v1.36.0".into(),
                "not a localkube image",
            ),
            (
                |m| m.images.push(m.images[0].clone()),
                "localkube/pause:v1.37.2 twice",
            ),
            (|m| m.images[0].id = "sha256:abc".into(), "not a sha256"),
            (|m| m.images[0].size_bytes = u64::MAX, "a size of"),
            (
                |m| {
                    m.files.remove(KUBECTL);
                },
                "exactly images.tar and kubectl",
            ),
            (
                |m| m.files.get_mut(KUBECTL).unwrap().size = 0,
                "kubectl a size of 0",
            ),
        ];
        for (edit, expected) in cases {
            let mut m = good();
            edit(&mut m);
            let why = problem(&m).unwrap_or_default();
            assert!(why.contains(expected), "{expected}: {why:?}");
        }
    }

    #[test]
    fn only_listed_tags_may_be_in_images_tar() {
        let listed = vec!["localkube/pause:v1.37.2".to_string()];
        let index = |files: &[(&str, &str)]| -> BTreeMap<String, Vec<u8>> {
            files
                .iter()
                .map(|(n, t)| (n.to_string(), t.as_bytes().to_vec()))
                .collect()
        };
        let ours = r#"[{"Config":"c.json","RepoTags":["localkube/pause:v1.37.2"],"Layers":[]}]"#;
        assert_eq!(
            foreign_tags(&listed, &index(&[("manifest.json", ours)])),
            Ok(())
        );
        let oci = r#"{"manifests":[{"annotations":{"io.containerd.image.name":"docker.io/localkube/pause:v1.37.2","org.opencontainers.image.ref.name":"v1.37.2"}}]}"#;
        assert_eq!(
            foreign_tags(
                &listed,
                &index(&[("manifest.json", ours), ("index.json", oci)])
            ),
            Ok(())
        );

        let theirs = r#"[{"RepoTags":["localkube/pause:v1.37.2","debian:13"]}]"#;
        let why = foreign_tags(&listed, &index(&[("manifest.json", theirs)])).unwrap_err();
        assert!(why.contains("holds debian:13"), "{why}");
        let repositories = r#"{"localkube/lb":{"x":"sha256:aa"}}"#;
        let why = foreign_tags(
            &listed,
            &index(&[("manifest.json", ours), ("repositories", repositories)]),
        )
        .unwrap_err();
        assert!(why.contains("localkube/lb:x"), "{why}");
        let oci =
            r#"{"manifests":[{"annotations":{"org.opencontainers.image.ref.name":"debian:13"}}]}"#;
        let why = foreign_tags(
            &listed,
            &index(&[("manifest.json", ours), ("index.json", oci)]),
        )
        .unwrap_err();
        assert!(why.contains("debian:13"), "{why}");
        let why = foreign_tags(&listed, &index(&[])).unwrap_err();
        assert!(why.contains("no manifest.json"), "{why}");
    }
}
