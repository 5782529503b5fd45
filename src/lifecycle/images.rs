//! `images build|ls|save|load|prune|push`: the work behind each, from a request to its report. The
//! verb prints the report.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Serialize;

use crate::effects::docker;
use crate::effects::home::Home;
use crate::effects::image_build::{self, BuildOptions, BuildReport, ListedImage, archive, usage};
use crate::effects::image_registry::{self, PushReport};
use crate::ui::Ui;

/// Builds (or finds in the cache) every image of `version` that `options` asks for.
pub async fn build(
    home: &Home,
    version: &str,
    ui: &Ui,
    options: &BuildOptions,
) -> Result<BuildReport> {
    let docker = docker::connect().await?;
    image_build::build_images(&docker, home.cache(), version, ui, options).await
}

/// What `images ls` shows.
#[derive(Debug, Serialize)]
pub struct Listing {
    /// Per Kubernetes version: sizes and the profiles that run it.
    pub versions: Vec<usage::VersionUsage>,
    pub images: Vec<ListedImage>,
    pub kubectl: Vec<ListedKubectl>,
}

#[derive(Debug, Serialize)]
pub struct ListedKubectl {
    pub kubernetes_version: String,
    pub path: PathBuf,
    pub size_bytes: u64,
}

/// The built images, the cached kubectls, and which profiles use which version.
pub async fn list(home: &Home) -> Result<Listing> {
    let docker = docker::connect().await?;
    let (images, kubectls) = image_build::list(&docker, home.cache()).await?;
    let versions = usage::usage(&docker, home).await?;
    Ok(Listing {
        versions,
        images,
        kubectl: kubectls
            .into_iter()
            .map(|(kubernetes_version, path, size_bytes)| ListedKubectl {
                kubernetes_version,
                path,
                size_bytes,
            })
            .collect(),
    })
}

/// Builds what is missing of `version`'s images, then writes them and kubectl to `file`.
pub async fn save(
    home: &Home,
    version: &str,
    addons: Vec<String>,
    file: &Path,
    ui: &Ui,
) -> Result<archive::Saved> {
    let options = BuildOptions {
        addons,
        ..BuildOptions::default()
    };
    let docker = docker::connect().await?;
    let report = image_build::build_images(&docker, home.cache(), version, ui, &options).await?;
    archive::save(&docker, &report, file, ui).await
}

/// Checks an image archive and imports it into Docker and the cache (`images load`,
/// `start --images`).
pub async fn load(home: &Home, file: &Path, ui: &Ui) -> Result<archive::ArchiveManifest> {
    let docker = docker::connect().await?;
    archive::load(&docker, home.cache(), file, ui).await
}

/// What `images prune` removed (with `dry_run`: would remove) and kept.
#[derive(Debug, Serialize)]
pub struct Pruned {
    pub dry_run: bool,
    pub used_versions: BTreeSet<String>,
    /// What was removed (with `--dry-run`: what would be).
    pub removed: Vec<usage::Item>,
    pub freed_bytes: u64,
    pub kept_in_use: Vec<usage::Item>,
}

/// Removes the cache's images and files no profile needs (only `version`'s when given), under the
/// cache's lock so no build runs meanwhile; `dry_run` only says what would go.
pub async fn prune(home: &Home, version: Option<&str>, dry_run: bool, ui: &Ui) -> Result<Pruned> {
    let docker = docker::connect().await?;
    let cache = home.cache();
    let lock = if dry_run {
        None
    } else {
        Some(
            image_build::cache::Cache::new(cache)
                .lock_with_ui(ui)
                .await?,
        )
    };
    let used: BTreeSet<String> = usage::used_versions(home)?.into_keys().collect();
    let inventory = usage::inventory(&docker, cache).await?;
    let current = image_build::definitions::digest()[..16].to_string();
    let current_lb =
        crate::plan::load_balancer::image_tag(&crate::effects::home::binary_fingerprint()?);
    let plan = usage::plan_prune(&inventory, &used, version, &current, &current_lb)?;
    let removed = if dry_run {
        plan.remove.clone()
    } else {
        usage::prune(&docker, cache, &plan).await?
    };
    drop(lock);
    Ok(Pruned {
        dry_run,
        used_versions: plan.used_versions,
        freed_bytes: removed.iter().map(|i| i.bytes).sum(),
        removed,
        kept_in_use: plan.kept_in_use,
    })
}

/// Builds what is missing of `version`'s images and pushes them, with kubectl and an index, to
/// `repository`.
pub async fn push(
    home: &Home,
    repository: &str,
    version: &str,
    addons: &[String],
    ui: &Ui,
) -> Result<PushReport> {
    for addon in addons {
        crate::plan::addons::find(addon)?;
    }
    let docker = docker::connect().await?;
    image_registry::push(&docker, home.cache(), repository, version, ui, addons).await
}
