//! Images from a registry (`images push REGISTRY`, `start --image-repository REGISTRY`): how a
//! repository is named, what the index that `push` publishes says, and whether a pulled image is
//! the one that was pushed. Pure: the pushing and pulling are `effects::image_registry`.
//!
//! `push` publishes every image of a Kubernetes version as `REGISTRY/<name>:<version>` and then an
//! index image `REGISTRY/index:<version>` that holds `index.json` (each image's manifest digest,
//! image ID and build key) and the version's kubectl. `start` reads the index, pulls each image by
//! its tag and keeps it only when its manifest digest, its ID and its labels are the ones the
//! index lists: an image replaced in the registry after the push is refused, never run.

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

use super::images::{Image, LABEL_BUILD_KEY, LABEL_COMPONENT, LABEL_KUBERNETES_VERSION};

/// The index image's name under the repository.
pub const INDEX_NAME: &str = "index";
/// The files of the index image.
pub const INDEX_FILE: &str = "index.json";
pub const KUBECTL_FILE: &str = "kubectl";

/// Checks a repository as the user typed it: `HOST[:PORT]/PATH` or `HOST[:PORT]`, lower case,
/// with no tag or digest (localkube adds `/<image>:<version>`). Returns it without a trailing `/`.
pub fn parse_repository(raw: &str) -> Result<String, String> {
    let repo = raw.trim().trim_end_matches('/');
    let hint = "give a registry and a path, e.g. localhost:5000/localkube";
    if repo.is_empty() {
        return Err(format!("the image repository is empty: {hint}"));
    }
    if repo.contains('@') {
        return Err(format!(
            "'{raw}' carries a digest: name the repository only ({hint}); localkube records the digests"
        ));
    }
    let (host, path) = repo.split_once('/').unwrap_or((repo, ""));
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(format!("'{raw}' names no registry host: {hint}"));
    }
    if let Some((_, port)) = host.rsplit_once(':')
        && port.parse::<u16>().is_err()
    {
        return Err(format!("'{raw}': '{port}' is not a port number: {hint}"));
    }
    for part in path.split('/').filter(|_| !path.is_empty()) {
        let ok = !part.is_empty()
            && part.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')
            })
            && part.starts_with(|c: char| c.is_ascii_alphanumeric());
        if !ok {
            return Err(format!(
                "'{raw}': '{part}' is not a repository path component (lower-case letters, digits, '.', '_', '-'; \
                 no tag: localkube tags with the Kubernetes version): {hint}"
            ));
        }
    }
    Ok(repo.to_string())
}

/// `REGISTRY/<name>`: the repository of one image (no tag).
pub fn image_repo(repository: &str, name: &str) -> String {
    format!("{repository}/{name}")
}

/// `REGISTRY/<name>:<version>`.
pub fn image_ref(repository: &str, name: &str, version: &str) -> String {
    format!("{}:{version}", image_repo(repository, name))
}

/// `REGISTRY/index:<version>`.
pub fn index_ref(repository: &str, version: &str) -> String {
    image_ref(repository, INDEX_NAME, version)
}

/// What `push` published for one Kubernetes version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    pub kubernetes_version: String,
    pub images: Vec<IndexedImage>,
    /// The version's kubectl, beside index.json in the index image.
    pub kubectl: IndexedFile,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexedImage {
    pub image: Image,
    /// The registry's manifest digest, as the push reported it.
    pub digest: String,
    /// Docker's image ID (the config digest): the same on every machine for the same content.
    pub id: String,
    /// The build key label: the inputs the image was built from.
    pub key: String,
    pub size_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexedFile {
    pub sha256: String,
    pub size: u64,
}

impl Index {
    pub fn get(&self, image: Image) -> Option<&IndexedImage> {
        self.images.iter().find(|i| i.image == image)
    }

    /// The images of `wanted` the index lacks.
    pub fn missing(&self, wanted: &[Image]) -> Vec<Image> {
        wanted
            .iter()
            .copied()
            .filter(|w| self.get(*w).is_none())
            .collect()
    }

    pub fn total_bytes(&self) -> u64 {
        self.images.iter().map(|i| i.size_bytes).sum()
    }
}

/// What Docker says of an image it pulled.
#[derive(Debug, Clone, Default)]
pub struct PulledImage {
    pub id: String,
    pub repo_digests: Vec<String>,
    pub labels: BTreeMap<String, String>,
}

/// Whether `pulled`, pulled as `REGISTRY/<name>:<version>`, is the image the index lists: its
/// manifest digest among the repository's digests, its ID, and its labels (build key, component,
/// Kubernetes version). The error says what differs and what to do.
pub fn check_pulled(
    repository: &str,
    version: &str,
    expected: &IndexedImage,
    pulled: &PulledImage,
) -> Result<()> {
    let name = expected.image.name();
    let reference = image_ref(repository, name, version);
    let want_digest = format!("{}@{}", image_repo(repository, name), expected.digest);
    let fix = format!(
        "the registry's image is not the one `localkube images push` published: push again from a \
         machine that built it (`localkube images push {repository} --kubernetes-version {version}`)"
    );
    if !pulled.repo_digests.contains(&want_digest) {
        bail!(
            "{reference} has the digest {} where the index lists {}: {fix}",
            digests_of(&pulled.repo_digests, &image_repo(repository, name)),
            expected.digest
        );
    }
    if pulled.id != expected.id {
        bail!(
            "{reference} has the image ID {} where the index lists {}: {fix}",
            pulled.id,
            expected.id
        );
    }
    for (label, want) in [
        (LABEL_BUILD_KEY, expected.key.as_str()),
        (LABEL_COMPONENT, name),
        (LABEL_KUBERNETES_VERSION, version),
    ] {
        let have = pulled.labels.get(label).map(String::as_str).unwrap_or("");
        if have != want {
            bail!("{reference} carries {label}='{have}' where '{want}' was expected: {fix}");
        }
    }
    Ok(())
}

fn digests_of(repo_digests: &[String], repo: &str) -> String {
    let prefix = format!("{repo}@");
    let found: Vec<&str> = repo_digests
        .iter()
        .filter_map(|d| d.strip_prefix(&prefix))
        .collect();
    if found.is_empty() {
        "(none recorded)".to_string()
    } else {
        found.join(", ")
    }
}

/// The manifest digest Docker recorded for `repo` after a push (`REPO@sha256:...`).
pub fn digest_for(repo_digests: &[String], repo: &str) -> Option<String> {
    let prefix = format!("{repo}@");
    repo_digests
        .iter()
        .find_map(|d| d.strip_prefix(&prefix).map(str::to_string))
}

/// Whether the index found under `REGISTRY/index:<version>` (its manifest digest) is the one the
/// profile recorded when it first read it. A tag can be moved by anyone who can push: a changed
/// index is refused with what changed and the fix, never trusted silently. No pin yet: the
/// first use records this one.
pub fn check_pin(repository: &str, version: &str, pinned: Option<&str>, found: &str) -> Result<()> {
    match pinned {
        Some(pin) if pin != found => bail!(
            "{} is now {found}, not the {pin} this profile recorded when it first read it: the \
             images were pushed again or replaced in the registry. If you pushed them, accept the \
             new index with `localkube start --image-repository {repository}`; if not, find out \
             who did before you run them",
            index_ref(repository, version)
        ),
        _ => Ok(()),
    }
}

/// The index image's Dockerfile: the two files and nothing else.
pub const INDEX_DOCKERFILE: &str = "FROM scratch\nCOPY index.json kubectl /\n";

#[cfg(test)]
mod tests {
    use super::*;

    const REPO: &str = "localhost:5000/localkube";

    #[test]
    fn the_index_is_pinned_on_first_use_and_a_changed_one_is_refused() {
        let (a, b) = ("sha256:aaaa", "sha256:bbbb");
        assert!(check_pin(REPO, "v1.37.2", None, a).is_ok(), "first use");
        assert!(check_pin(REPO, "v1.37.2", Some(a), a).is_ok());
        let why = check_pin(REPO, "v1.37.2", Some(a), b)
            .unwrap_err()
            .to_string();
        assert!(
            why.contains("localhost:5000/localkube/index:v1.37.2"),
            "{why}"
        );
        assert!(why.contains(a) && why.contains(b), "{why}");
        assert!(
            why.contains("localkube start --image-repository localhost:5000/localkube"),
            "{why}"
        );
    }

    fn indexed() -> IndexedImage {
        IndexedImage {
            image: Image::Etcd,
            digest: "sha256:aaaa".into(),
            id: "sha256:1111".into(),
            key: "k1".into(),
            size_bytes: 10,
        }
    }

    fn pulled() -> PulledImage {
        PulledImage {
            id: "sha256:1111".into(),
            repo_digests: vec!["localhost:5000/localkube/etcd@sha256:aaaa".into()],
            labels: BTreeMap::from([
                (LABEL_BUILD_KEY.into(), "k1".into()),
                (LABEL_COMPONENT.into(), "etcd".into()),
                (LABEL_KUBERNETES_VERSION.into(), "v1.35.4".into()),
            ]),
        }
    }

    #[test]
    fn repositories_are_checked() {
        assert_eq!(parse_repository("localhost:5000/localkube/").unwrap(), REPO);
        assert_eq!(
            parse_repository("127.0.0.1:5000").unwrap(),
            "127.0.0.1:5000"
        );
        assert_eq!(
            parse_repository("registry.example.com/team/kube").unwrap(),
            "registry.example.com/team/kube"
        );
        for bad in [
            "",
            "localhost:5000/LocalKube",
            "localhost:x/localkube",
            "localhost:5000/localkube:v1",
            "localhost:5000/localkube@sha256:00",
            "localhost:5000//a",
        ] {
            assert!(parse_repository(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn references_add_image_and_version() {
        assert_eq!(
            image_ref(REPO, "etcd", "v1.35.4"),
            "localhost:5000/localkube/etcd:v1.35.4"
        );
        assert_eq!(
            index_ref(REPO, "v1.35.4"),
            "localhost:5000/localkube/index:v1.35.4"
        );
    }

    #[test]
    fn the_image_that_was_pushed_passes() {
        check_pulled(REPO, "v1.35.4", &indexed(), &pulled()).unwrap();
    }

    #[test]
    fn a_replaced_image_is_refused() {
        let mut other = pulled();
        other.repo_digests = vec!["localhost:5000/localkube/etcd@sha256:bbbb".into()];
        let err = check_pulled(REPO, "v1.35.4", &indexed(), &other)
            .unwrap_err()
            .to_string();
        assert!(err.contains("sha256:bbbb"), "{err}");
        assert!(err.contains("index lists sha256:aaaa"), "{err}");
        assert!(err.contains("localkube images push"), "{err}");

        let mut relabeled = pulled();
        relabeled.id = "sha256:2222".into();
        assert!(check_pulled(REPO, "v1.35.4", &indexed(), &relabeled).is_err());

        let mut wrong_key = pulled();
        wrong_key.labels.insert(LABEL_BUILD_KEY.into(), "k2".into());
        let err = check_pulled(REPO, "v1.35.4", &indexed(), &wrong_key)
            .unwrap_err()
            .to_string();
        assert!(err.contains(LABEL_BUILD_KEY), "{err}");

        // The same image under another version's tag is not this version's.
        assert!(check_pulled(REPO, "v1.36.3", &indexed(), &pulled()).is_err());
    }

    #[test]
    fn the_pushed_digest_is_found_by_repository() {
        let digests = vec![
            "other/etcd@sha256:0000".to_string(),
            "localhost:5000/localkube/etcd@sha256:aaaa".to_string(),
        ];
        assert_eq!(
            digest_for(&digests, "localhost:5000/localkube/etcd").as_deref(),
            Some("sha256:aaaa")
        );
        assert_eq!(digest_for(&digests, "localhost:5000/x/etcd"), None);
    }

    #[test]
    fn missing_images_are_named() {
        let index = Index {
            kubernetes_version: "v1.35.4".into(),
            images: vec![indexed()],
            kubectl: IndexedFile {
                sha256: "00".into(),
                size: 1,
            },
        };
        assert_eq!(
            index.missing(&[Image::Etcd, Image::Registry]),
            vec![Image::Registry]
        );
        assert_eq!(index.total_bytes(), 10);
    }
}
