//! Builds the images a cluster runs, from upstream sources, on this machine: no registry is needed.
//!
//! `build_images` makes sure that for one Kubernetes version every artifact in the cache verifies
//! (Kubernetes binaries, the `GO_ARTIFACTS` table's, pause, the node's root filesystem), that every image
//! `localkube/<component>:<version>` exists with the build key it should have, and that the
//! version's kubectl is in place; it builds only what is missing or damaged. `ensure_images`
//! (`start`) verifies the artifacts only when an image is to be built from them. The plan (what, from
//! which inputs, under which key) is `plan::images`; this module runs it.

pub mod archive;
mod artifact;
pub mod cache;
pub mod counting;
pub mod definitions;
mod engine;
mod go;
mod inputs;
mod job;
pub mod process;
pub mod usage;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Result;
use bollard::Docker;
use serde::Serialize;

use self::cache::Cache;
use self::job::Job;
use crate::plan::images::Image;
use crate::ui::Ui;

pub use self::engine::{ListedImage, build_tagged, files_context};

/// What a build did: `rebuilt` names every artifact and image this run made (empty when all was
/// up to date), in the order they were made.
#[derive(Debug, Clone, Serialize)]
pub struct BuildReport {
    pub kubernetes_version: String,
    pub rebuilt: Vec<String>,
    pub artifacts: Vec<ArtifactReport>,
    pub images: Vec<ImageReport>,
    pub kubectl: PathBuf,
}

impl BuildReport {
    pub fn up_to_date(&self) -> bool {
        self.rebuilt.is_empty()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ArtifactReport {
    pub name: String,
    pub key: String,
    pub path: PathBuf,
    pub files: BTreeMap<String, cache::FileEntry>,
    pub rebuilt: bool,
    pub seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImageReport {
    pub image: String,
    pub key: String,
    pub component_version: String,
    pub size_bytes: u64,
    pub rebuilt: bool,
    pub seconds: f64,
}

#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Rebuild every artifact and image even when the cache has it.
    pub force: bool,
    /// The image definitions (default: `images_dir(cache)`).
    pub images_dir: Option<PathBuf>,
    /// Addons whose images to build besides the cluster's and those of the addons on by default
    /// (an addon's image is built when it is first enabled).
    pub addons: Vec<String>,
}

impl BuildOptions {
    /// Whether this build makes the image: the cluster's always, an addon's when the addon is on
    /// by default or asked for.
    /// An image another wanted image holds (`Image::preloaded`) is wanted with it.
    pub fn wants(&self, image: Image) -> bool {
        let asked = |image: Image| {
            crate::plan::addons::addon_of(image)
                .is_none_or(|addon| addon.default_on || self.addons.iter().any(|a| a == addon.name))
        };
        asked(image)
            || Image::ALL
                .iter()
                .any(|holder| holder.preloaded().contains(&image) && asked(*holder))
    }
}

/// The images of `addons` (and everything the cluster needs), built where missing.
pub async fn ensure_addon_images(
    docker: &Docker,
    cache: &Path,
    version: &str,
    ui: &Ui,
    addons: &[String],
) -> Result<BuildReport> {
    let options = BuildOptions {
        addons: addons.to_vec(),
        ..BuildOptions::default()
    };
    build_images(docker, cache, version, ui, &options).await
}

/// The kubectl of a Kubernetes version, kept in the cache for `localkube kubectl`.
pub fn kubectl_path(cache: &Path, version: &str) -> PathBuf {
    cache.join("bin").join(version).join("kubectl")
}

/// The image definitions: `$LOCALKUBE_IMAGES_DIR` (a developer's checkout, to try changes without
/// rebuilding localkube), else the copy embedded in this binary, written out into the cache.
pub fn images_dir(cache: &Path) -> Result<PathBuf> {
    match std::env::var_os("LOCALKUBE_IMAGES_DIR") {
        Some(dir) if !dir.is_empty() => Ok(PathBuf::from(dir)),
        _ => definitions::materialize(cache),
    }
}

/// Builds what is missing for `version` (see the module's doc); `start` calls this.
pub async fn ensure_images(
    docker: &Docker,
    cache: &Path,
    version: &str,
    ui: &Ui,
) -> Result<BuildReport> {
    build(docker, cache, version, ui, &BuildOptions::default(), true).await
}

/// `ensure_images` with options (`localkube images build --force`).
pub async fn build_images(
    docker: &Docker,
    cache_root: &Path,
    version: &str,
    ui: &Ui,
    options: &BuildOptions,
) -> Result<BuildReport> {
    build(docker, cache_root, version, ui, options, false).await
}

/// `trust_current_images`: when every image exists with its current key and kubectl is in place,
/// the artifacts are not verified, as nothing reads them then. `start` asks for it (hashing ~1 GB
/// of artifacts took 1.4-2.2 s of every start); `images build` verifies them always.
async fn build(
    docker: &Docker,
    cache_root: &Path,
    version: &str,
    ui: &Ui,
    options: &BuildOptions,
    trust_current_images: bool,
) -> Result<BuildReport> {
    // Images loaded from an archive (`images load`) are current as they are: their keys name a
    // toolchain this machine may not have.
    if let Some(report) = archive::preloaded(docker, cache_root, version, options).await? {
        ui.step(format!("checking the images of Kubernetes {version}"))
            .done_with("up to date, loaded from an image archive");
        return Ok(report);
    }
    let override_dir = inputs::definitions_override(options)?;
    let cache = Cache::new(cache_root);
    // The platform and the toolchain first: a missing `go` is said at once, not after waiting for
    // another build's lock.
    let toolchain = inputs::toolchain(docker, &cache, version).await?;
    let _lock = cache.lock_with_ui(ui).await?;
    let mut rebuilt = Vec::new();
    let images_dir = match override_dir {
        Some(dir) => dir,
        None => definitions::materialize(cache_root)?,
    };
    let resolution = go::resolve(&cache, version, &toolchain, ui, &mut rebuilt).await?;
    go::check_go(
        &toolchain,
        &resolution.go_directive,
        &inputs::release(version),
    )?;
    let plan = inputs::plan(
        cache_root,
        version,
        options,
        &resolution,
        &toolchain,
        &images_dir,
    )
    .await?;
    let job = Job {
        docker,
        cache,
        version,
        ui,
        options,
        images_dir,
        resolution,
        toolchain,
        plan,
        present: BTreeMap::new(),
    };
    job.run(trust_current_images, rebuilt).await
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_000_000.0)
}

/// Every `localkube/*` image, and the kubectl binaries in the cache (`localkube images ls`).
pub async fn list(
    docker: &Docker,
    cache: &Path,
) -> Result<(Vec<ListedImage>, Vec<(String, PathBuf, u64)>)> {
    let images = engine::list(docker).await?;
    let mut kubectls = Vec::new();
    if let Ok(entries) = fs::read_dir(cache.join("bin")) {
        for entry in entries.flatten() {
            let version = entry.file_name().to_string_lossy().into_owned();
            let path = kubectl_path(cache, &version);
            if let Ok(meta) = fs::metadata(&path) {
                kubectls.push((version, path, meta.len()));
            }
        }
    }
    kubectls.sort();
    Ok((images, kubectls))
}
