//! What the cache and Docker hold per Kubernetes version, which profiles use it, and the clean-up
//! of what none uses (`images ls`, `images prune`).
//!
//! Artifacts are content-addressed and shared between versions, so which ones a version needs is
//! recorded by every build (`versions/<version>.json`: the artifacts of its plan under the current
//! toolchain). An artifact that no used version's record names (one built with an older Go, or
//! for a version no profile runs) is garbage.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use bollard::Docker;
use bollard::query_parameters::{ListContainersOptions, ListImagesOptions, RemoveImageOptions};
use serde::{Deserialize, Serialize};

use super::cache::Cache;
use super::{archive, definitions, kubectl_path};
use crate::effects::home::Home;
use crate::plan::images::{LABEL_COMPONENT, LABEL_KUBERNETES_VERSION};

/// The artifacts a version's images are made of, as of its last build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roots {
    pub kubernetes_version: String,
    /// `(artifact, key)` pairs.
    pub artifacts: Vec<(String, String)>,
}

pub fn roots_path(cache: &Path, version: &str) -> PathBuf {
    cache.join("versions").join(format!("{version}.json"))
}

/// Records what a build of `version` uses (the caller holds the cache's lock).
pub fn record_roots(cache: &Path, version: &str, artifacts: Vec<(String, String)>) -> Result<()> {
    let roots = Roots {
        kubernetes_version: version.to_string(),
        artifacts,
    };
    let path = roots_path(cache, version);
    let dir = path.parent().expect("a folder");
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(&serde_json::to_vec_pretty(&roots)?)?;
    tmp.persist(&path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn read_roots(cache: &Path, version: &str) -> Option<Roots> {
    serde_json::from_slice(&fs::read(roots_path(cache, version)).ok()?).ok()
}

/// One thing in the cache or Docker that prune may remove.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    /// `artifact`, `kubectl`, `record`, `definitions` or `image`.
    pub kind: String,
    /// What it is: `kubernetes/ab12...`, `localkube/node:v1.35.4`, a file name.
    pub name: String,
    /// The Kubernetes version it belongs to, when it belongs to one.
    pub kubernetes_version: Option<String>,
    pub bytes: u64,
    /// A path in the cache, or the image ID.
    pub location: String,
}

/// Everything prune looks at.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// Artifacts in the cache: `(artifact, key)` with their size and folder.
    pub artifacts: Vec<Item>,
    /// kubectl binaries, load records, build records, written-out definitions.
    pub files: Vec<Item>,
    /// `localkube/*` images with a Kubernetes version label; `bytes` is what no other image shares.
    pub images: Vec<Item>,
    /// Image IDs a container (running or not) uses.
    pub images_in_use: BTreeSet<String>,
    /// Version → the artifacts its last build recorded.
    pub roots: BTreeMap<String, Roots>,
    /// Versions loaded from an archive (they need no artifact).
    pub preloaded: BTreeSet<String>,
}

/// What prune removes and what it keeps because a container still uses it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PrunePlan {
    pub used_versions: BTreeSet<String>,
    pub remove: Vec<Item>,
    /// Images of unused versions that a container still uses (left alone).
    pub kept_in_use: Vec<Item>,
    pub bytes: u64,
}

/// Decides what prune removes: everything of versions no profile uses (only `only`'s when given),
/// artifacts no used version's build names, definitions and load balancer images other than this
/// binary's (those a container uses stay).
pub fn plan_prune(
    inventory: &Inventory,
    used: &BTreeSet<String>,
    only: Option<&str>,
    current_definitions: &str,
    current_lb: &str,
) -> Result<PrunePlan> {
    // A used version whose needs are not recorded would lose its artifacts: refuse.
    let unknown: Vec<&String> = used
        .iter()
        .filter(|v| !inventory.roots.contains_key(*v) && !inventory.preloaded.contains(*v))
        .collect();
    if !unknown.is_empty() {
        bail!(
            "which cached artifacts Kubernetes {} needs is not recorded yet (it was built by an older localkube), \
             so prune cannot tell what is garbage: `localkube images build --kubernetes-version VERSION` for each \
             records it (in seconds when its images are built)",
            unknown
                .iter()
                .map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let live: BTreeSet<(String, String)> = used
        .iter()
        .filter_map(|v| inventory.roots.get(v))
        .flat_map(|r| r.artifacts.iter().cloned())
        .collect();
    let in_scope = |version: &Option<String>| match (only, version) {
        (Some(only), Some(v)) => v == only,
        (Some(_), None) => false,
        (None, _) => true,
    };
    let mut plan = PrunePlan {
        used_versions: used.clone(),
        ..PrunePlan::default()
    };
    for artifact in &inventory.artifacts {
        let (name, key) = artifact
            .name
            .split_once('/')
            .map(|(n, k)| (n.to_string(), k.to_string()))
            .unwrap_or_default();
        if live.contains(&(name.clone(), key.clone())) {
            continue;
        }
        // With a version named, only what that version's build recorded goes.
        let of_only = only.is_none_or(|v| {
            inventory
                .roots
                .get(v)
                .is_some_and(|r| r.artifacts.contains(&(name.clone(), key.clone())))
        });
        if of_only {
            plan.remove.push(artifact.clone());
        }
    }
    for file in &inventory.files {
        let garbage = match file.kind.as_str() {
            "definitions" => only.is_none() && file.name != current_definitions,
            _ => file
                .kubernetes_version
                .as_ref()
                .is_some_and(|v| !used.contains(v) && in_scope(&file.kubernetes_version)),
        };
        if garbage {
            plan.remove.push(file.clone());
        }
    }
    for image in &inventory.images {
        let unused = match &image.kubernetes_version {
            Some(v) => !used.contains(v) && in_scope(&image.kubernetes_version),
            // The load balancer's image of another localkube binary.
            None => only.is_none() && image.name != current_lb,
        };
        if !unused {
            continue;
        }
        if inventory.images_in_use.contains(&image.location) {
            plan.kept_in_use.push(image.clone());
        } else {
            plan.remove.push(image.clone());
        }
    }
    plan.bytes = plan.remove.iter().map(|i| i.bytes).sum();
    Ok(plan)
}

/// The versions this home's profiles run.
pub fn used_versions(home: &Home) -> Result<BTreeMap<String, Vec<String>>> {
    let mut used: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for name in home.list_profiles()? {
        let config = home.profile(&name).load_config().with_context(|| {
            format!("reading profile '{name}' (prune keeps what every profile uses, so it must read them all)")
        })?;
        used.entry(config.kubernetes_version)
            .or_default()
            .push(name.to_string());
    }
    Ok(used)
}

/// What the cache and Docker hold.
pub async fn inventory(docker: &Docker, cache: &Path) -> Result<Inventory> {
    let mut inv = Inventory::default();
    let artifacts = cache.join("artifacts");
    for (name, dir) in subdirs(&artifacts)? {
        for (key, path) in subdirs(&dir)? {
            inv.artifacts.push(Item {
                kind: "artifact".into(),
                name: format!("{name}/{key}"),
                kubernetes_version: manifest_version(&path),
                bytes: tree_size(&path),
                location: path.display().to_string(),
            });
        }
    }
    for (version, dir) in subdirs(&cache.join("bin"))? {
        inv.files.push(Item {
            kind: "kubectl".into(),
            name: format!("kubectl {version}"),
            kubernetes_version: Some(version.clone()),
            bytes: tree_size(&dir),
            location: dir.display().to_string(),
        });
    }
    for (kind, folder) in [("record", "preloaded"), ("record", "versions")] {
        for (file, path) in files(&cache.join(folder))? {
            let Some(version) = file.strip_suffix(".json") else {
                continue;
            };
            if folder == "preloaded" {
                inv.preloaded.insert(version.to_string());
            } else if let Some(roots) = read_roots(cache, version) {
                inv.roots.insert(version.to_string(), roots);
            }
            inv.files.push(Item {
                kind: kind.into(),
                name: format!("{folder}/{file}"),
                kubernetes_version: Some(version.to_string()),
                bytes: tree_size(&path),
                location: path.display().to_string(),
            });
        }
    }
    for (digest, dir) in subdirs(&definitions::parent(cache))? {
        inv.files.push(Item {
            kind: "definitions".into(),
            name: digest,
            kubernetes_version: None,
            bytes: tree_size(&dir),
            location: dir.display().to_string(),
        });
    }

    let filters = HashMap::from([("reference".to_string(), vec!["localkube/*".to_string()])]);
    let summaries = docker
        .list_images(Some(ListImagesOptions {
            filters: Some(filters),
            shared_size: true,
            ..Default::default()
        }))
        .await
        .context("listing images")?;
    for summary in summaries {
        let size = summary.size.max(0) as u64;
        let shared = summary.shared_size.max(0) as u64;
        // The load balancer's images, one per localkube binary that started a cluster: made again
        // in seconds when missing.
        if !summary.repo_tags.is_empty()
            && summary
                .repo_tags
                .iter()
                .all(|t| t.starts_with("localkube/lb:"))
        {
            inv.images.push(Item {
                kind: "image".into(),
                name: summary.repo_tags.join(", "),
                kubernetes_version: None,
                bytes: size.saturating_sub(shared),
                location: summary.id.clone(),
            });
            continue;
        }
        let Some(version) = summary.labels.get(LABEL_KUBERNETES_VERSION).cloned() else {
            continue;
        };
        // The node's Debian base is one image for every version (older ones are removed when a
        // new one is made), tagged by its key: not a version's.
        if summary.labels.get(LABEL_COMPONENT).map(String::as_str) == Some("node-base") {
            continue;
        }
        // A version's images are tagged `localkube/<component>:<version>`. Others inherit the
        // label from the image they were built on (the load balancer's, test images) and are
        // not a version's; an image also tagged outside localkube/ is someone else's too.
        let tags: Vec<&String> = summary
            .repo_tags
            .iter()
            .filter(|t| {
                t.strip_prefix("localkube/")
                    .and_then(|t| t.rsplit_once(':'))
                    .is_some_and(|(_, tag)| tag == version)
            })
            .collect();
        if tags.is_empty() || tags.len() != summary.repo_tags.len() {
            continue;
        }
        inv.images.push(Item {
            kind: "image".into(),
            name: tags
                .iter()
                .map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            kubernetes_version: Some(version),
            bytes: size.saturating_sub(shared),
            location: summary.id.clone(),
        });
    }
    let containers = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            ..Default::default()
        }))
        .await
        .context("listing containers")?;
    inv.images_in_use = containers.into_iter().filter_map(|c| c.image_id).collect();
    inv.images.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(inv)
}

/// Removes what the plan names (under the cache's lock); returns what was removed.
pub async fn prune(docker: &Docker, cache: &Path, plan: &PrunePlan) -> Result<Vec<Item>> {
    let mut removed = Vec::new();
    for item in &plan.remove {
        if item.kind == "image" {
            // Tag by tag, without force: the last tag takes the image with it, and Docker refuses
            // (409) an image a container made since the listing uses.
            let mut all = true;
            for tag in item.name.split(", ") {
                match docker
                    .remove_image(tag, Some(RemoveImageOptions::default()), None)
                    .await
                {
                    Ok(_) => {}
                    Err(bollard::errors::Error::DockerResponseServerError {
                        status_code: 409 | 404,
                        ..
                    }) => all = false,
                    Err(e) => return Err(e).with_context(|| format!("removing {tag}")),
                }
            }
            if all {
                removed.push(item.clone());
            }
        } else {
            let path = Path::new(&item.location);
            let result = if path.is_dir() {
                fs::remove_dir_all(path)
            } else {
                fs::remove_file(path)
            };
            match result {
                Ok(()) => removed.push(item.clone()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("removing {}", path.display())),
            }
            if item.kind == "artifact"
                && let Some((name, key)) = item.name.split_once('/')
            {
                let _ = fs::remove_file(Cache::new(cache).log_path(name, key));
            }
        }
    }
    // Folders left empty (`artifacts/<name>/`) go too.
    for (_, dir) in subdirs(&cache.join("artifacts"))? {
        let _ = fs::remove_dir(dir);
    }
    Ok(removed)
}

/// Per Kubernetes version: its images, kubectl and cached artifacts and the profiles using it
/// (`images ls`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct VersionUsage {
    pub kubernetes_version: String,
    pub images: usize,
    /// Docker's sizes of its images (layers shared between images counted in each).
    pub image_bytes: u64,
    /// The cached artifacts its last build recorded, and its kubectl.
    pub cache_bytes: u64,
    pub loaded_from_archive: bool,
    pub profiles: Vec<String>,
}

pub async fn usage(docker: &Docker, home: &Home) -> Result<Vec<VersionUsage>> {
    let cache = home.cache();
    let inv = inventory(docker, cache).await?;
    let used = used_versions(home)?;
    let mut rows: Vec<VersionUsage> = Vec::new();
    let versions: BTreeSet<String> = inv
        .images
        .iter()
        .filter_map(|i| i.kubernetes_version.clone())
        .chain(inv.roots.keys().cloned())
        .chain(inv.preloaded.iter().cloned())
        .chain(used.keys().cloned())
        .collect();
    let artifact_bytes: BTreeMap<&str, u64> = inv
        .artifacts
        .iter()
        .map(|a| (a.name.as_str(), a.bytes))
        .collect();
    for version in versions {
        let mut row = VersionUsage {
            kubernetes_version: version.clone(),
            ..VersionUsage::default()
        };
        for image in inv
            .images
            .iter()
            .filter(|i| i.kubernetes_version.as_deref() == Some(version.as_str()))
        {
            row.images += image.name.split(", ").count();
            row.image_bytes += docker_size(docker, &image.location).await;
        }
        if let Some(roots) = inv.roots.get(&version) {
            row.cache_bytes += roots
                .artifacts
                .iter()
                .filter_map(|(n, k)| artifact_bytes.get(format!("{n}/{k}").as_str()))
                .sum::<u64>();
        } else {
            // Not recorded yet: the artifacts this version built.
            row.cache_bytes += inv
                .artifacts
                .iter()
                .filter(|a| a.kubernetes_version.as_deref() == Some(version.as_str()))
                .map(|a| a.bytes)
                .sum::<u64>();
        }
        row.cache_bytes += fs::metadata(kubectl_path(cache, &version))
            .map(|m| m.len())
            .unwrap_or(0);
        row.loaded_from_archive = archive::record_path(cache, &version).is_file();
        row.profiles = used.get(&version).cloned().unwrap_or_default();
        rows.push(row);
    }
    rows.sort_by(|a, b| {
        version_order(&a.kubernetes_version).cmp(&version_order(&b.kubernetes_version))
    });
    Ok(rows)
}

async fn docker_size(docker: &Docker, id: &str) -> u64 {
    docker
        .inspect_image(id)
        .await
        .ok()
        .and_then(|i| i.size)
        .map_or(0, |s| s.max(0) as u64)
}

fn version_order(version: &str) -> Vec<u64> {
    version
        .trim_start_matches('v')
        .split('.')
        .map(|p| p.parse().unwrap_or(0))
        .collect()
}

fn manifest_version(dir: &Path) -> Option<String> {
    let text = fs::read(dir.join(super::cache::MANIFEST)).ok()?;
    let manifest: super::cache::Manifest = serde_json::from_slice(&text).ok()?;
    manifest.inputs.get("kubernetes").cloned()
}

fn subdirs(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    entries(dir, true)
}

fn files(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    entries(dir, false)
}

fn entries(dir: &Path, dirs: bool) -> Result<Vec<(String, PathBuf)>> {
    let read = match fs::read_dir(dir) {
        Ok(read) => read,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    let mut out = Vec::new();
    for entry in read {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        // Half-written folders and files of a writer still at work.
        if name.starts_with('.') {
            continue;
        }
        if entry.file_type()?.is_dir() == dirs {
            out.push((name, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// Bytes of the files under `path` (or of the file).
pub fn tree_size(path: &Path) -> u64 {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    fs::read_dir(path)
        .map(|read| read.flatten().map(|e| tree_size(&e.path())).sum())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(kind: &str, name: &str, version: Option<&str>, bytes: u64) -> Item {
        Item {
            kind: kind.into(),
            name: name.into(),
            kubernetes_version: version.map(str::to_string),
            bytes,
            location: format!("/x/{name}"),
        }
    }

    fn roots(version: &str, artifacts: &[(&str, &str)]) -> (String, Roots) {
        (
            version.to_string(),
            Roots {
                kubernetes_version: version.into(),
                artifacts: artifacts
                    .iter()
                    .map(|(a, k)| (a.to_string(), k.to_string()))
                    .collect(),
            },
        )
    }

    fn inventory() -> Inventory {
        Inventory {
            artifacts: vec![
                item("artifact", "kubernetes/new", Some("v1.37.2"), 500),
                item("artifact", "kubernetes/oldgo", Some("v1.37.2"), 400),
                item("artifact", "kubernetes/v135", Some("v1.35.4"), 300),
                item("artifact", "node-rootfs/shared", Some("v1.35.4"), 200),
            ],
            files: vec![
                item("kubectl", "kubectl v1.35.4", Some("v1.35.4"), 50),
                item("kubectl", "kubectl v1.37.2", Some("v1.37.2"), 50),
                item("record", "versions/v1.35.4.json", Some("v1.35.4"), 1),
                item("definitions", "aaaa", None, 7),
                item("definitions", "bbbb", None, 7),
            ],
            images: vec![
                item("image", "localkube/node:v1.35.4", Some("v1.35.4"), 90),
                item("image", "localkube/etcd:v1.35.4", Some("v1.35.4"), 20),
                item("image", "localkube/node:v1.37.2", Some("v1.37.2"), 90),
                item("image", "localkube/lb:mine", None, 30),
                item("image", "localkube/lb:older", None, 30),
                item("image", "localkube/lb:running", None, 30),
            ],
            images_in_use: BTreeSet::from([
                "/x/localkube/etcd:v1.35.4".to_string(),
                "/x/localkube/lb:running".to_string(),
            ]),
            roots: BTreeMap::from([
                roots(
                    "v1.37.2",
                    &[("kubernetes", "new"), ("node-rootfs", "shared")],
                ),
                roots(
                    "v1.35.4",
                    &[("kubernetes", "v135"), ("node-rootfs", "shared")],
                ),
            ]),
            preloaded: BTreeSet::new(),
        }
    }

    fn names(plan: &PrunePlan) -> Vec<&str> {
        plan.remove.iter().map(|i| i.name.as_str()).collect()
    }

    #[test]
    fn what_no_used_version_needs_goes() {
        let used = BTreeSet::from(["v1.37.2".to_string()]);
        let plan = plan_prune(&inventory(), &used, None, "aaaa", "localkube/lb:mine").unwrap();
        assert_eq!(
            names(&plan),
            [
                "kubernetes/oldgo",
                "kubernetes/v135",
                "kubectl v1.35.4",
                "versions/v1.35.4.json",
                "bbbb",
                "localkube/node:v1.35.4",
                "localkube/lb:older",
            ],
            "the rootfs both versions share stays, and so do the images a container uses"
        );
        assert_eq!(plan.kept_in_use.len(), 2);
        assert_eq!(plan.bytes, 400 + 300 + 50 + 1 + 7 + 90 + 30);
    }

    #[test]
    fn one_version_only() {
        let used = BTreeSet::from(["v1.37.2".to_string()]);
        let plan = plan_prune(
            &inventory(),
            &used,
            Some("v1.35.4"),
            "aaaa",
            "localkube/lb:mine",
        )
        .unwrap();
        assert_eq!(
            names(&plan),
            [
                "kubernetes/v135",
                "kubectl v1.35.4",
                "versions/v1.35.4.json",
                "localkube/node:v1.35.4",
            ]
        );
        // A used version is never pruned, even when named.
        let plan = plan_prune(
            &inventory(),
            &used,
            Some("v1.37.2"),
            "aaaa",
            "localkube/lb:mine",
        )
        .unwrap();
        assert!(plan.remove.is_empty(), "{:?}", names(&plan));
    }

    #[test]
    fn a_used_version_without_a_record_stops_prune() {
        let used = BTreeSet::from(["v1.36.3".to_string()]);
        let err = plan_prune(&inventory(), &used, None, "aaaa", "localkube/lb:mine").unwrap_err();
        assert!(err.to_string().contains("Kubernetes v1.36.3"), "{err}");
        let mut loaded = inventory();
        loaded.preloaded.insert("v1.36.3".into());
        assert!(plan_prune(&loaded, &used, None, "aaaa", "localkube/lb:mine").is_ok());
    }
}
