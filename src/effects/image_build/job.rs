//! One build of a version, once it is planned, phase by phase: what is there, what to build, the
//! artifacts, the node's base, the images, kubectl. Each phase is one method of [`Job`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use bollard::Docker;

use super::artifact::{BuildInputs, build_artifact};
use super::cache::{self, Cache, Manifest, Status};
use super::process::Output;
use super::{ArtifactReport, BuildOptions, BuildReport, ImageReport, engine, megabytes};
use crate::plan::images::{self, Artifact, Image, PlannedImage, Resolution, Toolchain};
use crate::plan::names;
use crate::ui::Ui;

/// What one build reads: its request, the resolved version, the plan, and what Docker holds.
pub(super) struct Job<'a> {
    pub docker: &'a Docker,
    pub cache: Cache,
    pub version: &'a str,
    pub ui: &'a Ui,
    pub options: &'a BuildOptions,
    pub images_dir: PathBuf,
    pub resolution: Resolution,
    pub toolchain: Toolchain,
    pub plan: images::Plan,
    /// The key each planned image (the node's base too) carries in Docker now, by tag.
    pub present: BTreeMap<String, Option<String>>,
}

impl Job<'_> {
    /// Runs the phases in order. `rebuilt` holds what was made before (the resolution) and gets
    /// every artifact and image this run makes, in that order. With `trust_current_images`, when
    /// every image exists with its current key and kubectl is in place, the artifacts are not
    /// verified, as nothing reads them then.
    pub async fn run(
        mut self,
        trust_current_images: bool,
        mut rebuilt: Vec<String>,
    ) -> Result<BuildReport> {
        let check = self.ui.step(format!(
            "checking the cache and images of Kubernetes {}",
            self.version
        ));
        self.present = self.present_keys().await?;
        let kubectl = super::kubectl_path(self.cache.root(), self.version);
        if trust_current_images
            && !self.options.force
            && self.plan.images.iter().all(|p| self.is_current(p))
            && kubectl.is_file()
        {
            check.done_with("up to date");
            return Ok(self.report(rebuilt, Vec::new(), Vec::new(), kubectl));
        }
        let mut statuses = self.verify_artifacts().await?;
        let to_build = self.to_build(&statuses);
        if to_build.is_empty() {
            check.done_with("up to date");
        } else {
            check.done_with(format!("to build: {}", to_build.join(", ")));
        }
        let (manifests, artifacts) = self.artifacts(&mut statuses, &mut rebuilt).await?;
        if self.node_base_needed() {
            self.node_base().await?;
            rebuilt.push(self.plan.node_base.tag.clone());
        }
        let mut images = Vec::new();
        for planned in &self.plan.images {
            let report = self.image(planned).await?;
            if report.rebuilt {
                rebuilt.push(planned.tag.clone());
            }
            images.push(report);
        }
        if self.install_kubectl(&manifests, &kubectl).await? {
            rebuilt.push("kubectl".to_string());
        }
        Ok(self.report(rebuilt, artifacts, images, kubectl))
    }

    fn report(
        &self,
        rebuilt: Vec<String>,
        artifacts: Vec<ArtifactReport>,
        images: Vec<ImageReport>,
        kubectl: PathBuf,
    ) -> BuildReport {
        BuildReport {
            kubernetes_version: self.version.to_string(),
            rebuilt,
            artifacts,
            images,
            kubectl,
        }
    }

    /// Every planned image inspected, the node's base too.
    async fn present_keys(&self) -> Result<BTreeMap<String, Option<String>>> {
        let mut present = BTreeMap::new();
        for planned in self.plan.images.iter().chain([&self.plan.node_base]) {
            present.insert(
                planned.tag.clone(),
                engine::present_key(self.docker, &planned.tag).await?,
            );
        }
        Ok(present)
    }

    /// Whether Docker holds the image under its tag with the key it should have.
    fn is_current(&self, planned: &PlannedImage) -> bool {
        self.present[&planned.tag].as_deref() == Some(planned.key.as_str())
    }

    /// The artifacts this build makes or reads, in build order (the resolution is apart).
    fn built_artifacts(&self) -> Vec<Artifact> {
        self.plan
            .artifacts
            .keys()
            .copied()
            .filter(|a| *a != Artifact::Resolve)
            .collect()
    }

    /// Every artifact in the cache verified against its key, all in parallel.
    async fn verify_artifacts(&self) -> Result<BTreeMap<Artifact, Status>> {
        let mut verifying = Vec::new();
        for artifact in self.built_artifacts() {
            let cache = self.cache.clone();
            let key = self.plan.artifacts[&artifact].clone();
            verifying.push((
                artifact,
                tokio::task::spawn_blocking(move || cache.verify(artifact, &key)),
            ));
        }
        let mut statuses = BTreeMap::new();
        for (artifact, task) in verifying {
            statuses.insert(artifact, task.await?);
        }
        Ok(statuses)
    }

    /// The artifacts and images to make, each up-to-date one and each damaged one said.
    fn to_build(&self, statuses: &BTreeMap<Artifact, Status>) -> Vec<String> {
        let mut to_build = Vec::new();
        for (artifact, status) in statuses {
            match status {
                Status::Valid(_) if !self.options.force => {
                    self.ui.detail(format!("{}: up to date", artifact.name()))
                }
                Status::Valid(_) => to_build.push(artifact.name().to_string()),
                Status::Missing => to_build.push(artifact.name().to_string()),
                Status::Corrupt(why) => {
                    self.ui.info(format!(
                        "the cached {} is damaged ({why}): rebuilding it",
                        artifact.name()
                    ));
                    to_build.push(artifact.name().to_string());
                }
            }
        }
        for planned in &self.plan.images {
            if self.is_current(planned) && !self.options.force {
                self.ui.detail(format!("{}: up to date", planned.tag));
            } else {
                to_build.push(planned.tag.clone());
            }
        }
        to_build
    }

    /// Every artifact, in build order: a valid one as it is, the others built. Returns their
    /// manifests and reports; adds what it built to `rebuilt`.
    async fn artifacts(
        &self,
        statuses: &mut BTreeMap<Artifact, Status>,
        rebuilt: &mut Vec<String>,
    ) -> Result<(BTreeMap<Artifact, Manifest>, Vec<ArtifactReport>)> {
        let inputs = BuildInputs {
            resolution: &self.resolution,
            toolchain: &self.toolchain,
            plan: &self.plan,
            images_dir: &self.images_dir,
        };
        let mut manifests = BTreeMap::new();
        let mut reports = Vec::new();
        for artifact in self.built_artifacts() {
            let key = &self.plan.artifacts[&artifact];
            let started = Instant::now();
            let (manifest, built, seconds) = match statuses.remove(&artifact) {
                Some(Status::Valid(manifest)) if !self.options.force => (manifest, false, 0.0),
                _ => {
                    let manifest =
                        build_artifact(&self.cache, artifact, key, &inputs, self.ui).await?;
                    rebuilt.push(artifact.name().to_string());
                    (manifest, true, started.elapsed().as_secs_f64())
                }
            };
            reports.push(ArtifactReport {
                name: artifact.name().to_string(),
                key: key.clone(),
                path: self.cache.artifact_dir(artifact, key),
                files: manifest.files.clone(),
                rebuilt: built,
                seconds,
            });
            manifests.insert(artifact, manifest);
        }
        Ok((manifests, reports))
    }

    /// The node's base is imported when an image built on it is to be built and the base is not
    /// current itself.
    fn node_base_needed(&self) -> bool {
        let force = self.options.force;
        let on_it_to_build =
            self.plan.images.iter().any(|p| {
                p.image.is_some_and(Image::on_node_base) && (force || !self.is_current(p))
            });
        on_it_to_build && (force || !self.is_current(&self.plan.node_base))
    }

    /// The node's root filesystem imported as its base image; older bases removed.
    async fn node_base(&self) -> Result<()> {
        let rootfs = self
            .cache
            .artifact_dir(
                Artifact::NodeRootfs,
                &self.plan.artifacts[&Artifact::NodeRootfs],
            )
            .join("rootfs.tar");
        let planned = &self.plan.node_base;
        let step = self.ui.step(format!(
            "importing the node's root filesystem as {}",
            planned.tag
        ));
        let log = self.cache.log_path("image-node-base", &planned.key);
        let mut out = Output::new(self.ui, &step, log);
        engine::untag(self.docker, &planned.tag).await?;
        let labels = planned.labels(self.version);
        engine::import(self.docker, planned, labels, &rootfs, &mut out).await?;
        let (repo, _) = planned
            .tag
            .rsplit_once(':')
            .expect("image tags are repo:tag");
        for old in engine::prune_other_tags(self.docker, repo, &planned.tag).await? {
            self.ui.detail(format!("removed the older node base {old}"));
        }
        let size = engine::image_size(self.docker, &planned.tag)
            .await
            .unwrap_or(0);
        step.done_with(megabytes(size));
        Ok(())
    }

    /// One image: built when it is not current (or `--force`), and reported either way.
    async fn image(&self, planned: &PlannedImage) -> Result<ImageReport> {
        let started = Instant::now();
        let rebuild = self.options.force || !self.is_current(planned);
        if rebuild {
            self.build_image(planned).await?;
        }
        Ok(ImageReport {
            image: planned.tag.clone(),
            key: planned.key.clone(),
            component_version: planned.component_version.clone(),
            size_bytes: engine::image_size(self.docker, &planned.tag)
                .await
                .unwrap_or(0),
            rebuilt: rebuild,
            seconds: if rebuild {
                started.elapsed().as_secs_f64()
            } else {
                0.0
            },
        })
    }

    /// Builds one image from its folder and the binaries it holds, preloads the images a node
    /// holds into it, and tags it.
    async fn build_image(&self, planned: &PlannedImage) -> Result<()> {
        let image = planned.image.expect("planned images name their image");
        let step = self.ui.step(format!("building the image {}", planned.tag));
        let log = self
            .cache
            .log_path(&format!("image-{}", image.name()), &planned.key);
        let mut out = Output::new(self.ui, &step, log);
        // The stale tag goes first: a build that fails leaves no image under this tag (a
        // container running the old image keeps it).
        engine::untag(self.docker, &planned.tag).await?;
        let binaries = self.binaries(image, planned)?;
        let dir = self.images_dir.join(image.name());
        let context =
            tokio::task::spawn_blocking(move || engine::context_tar(&dir, &binaries)).await??;
        let labels = planned.labels(self.version);
        let mut id = engine::build(self.docker, planned, labels, context, &mut out).await?;
        let preloaded: Vec<String> = image
            .preloaded()
            .iter()
            .map(|held| names::image(held.name(), self.version))
            .collect();
        if !preloaded.is_empty() {
            id = engine::preload_node(self.docker, &id, planned, &preloaded, &mut out).await?;
        }
        engine::tag(self.docker, &id, planned).await?;
        let size = engine::image_size(self.docker, &planned.tag)
            .await
            .unwrap_or(0);
        step.done_with(megabytes(size));
        Ok(())
    }

    /// The cached binaries an image's build context holds under `bin/`: (file name, path).
    fn binaries(&self, image: Image, planned: &PlannedImage) -> Result<Vec<(String, PathBuf)>> {
        let mut binaries = Vec::new();
        for (artifact, file) in image.binaries() {
            let Some(key) = self.plan.artifacts.get(&artifact) else {
                bail!("no {} artifact for {}", artifact.name(), planned.tag);
            };
            binaries.push((
                file.to_string(),
                self.cache.artifact_dir(artifact, key).join(file),
            ));
        }
        Ok(binaries)
    }

    /// kubectl, from the Kubernetes artifact, installed where it is missing or damaged; true
    /// when it was.
    async fn install_kubectl(
        &self,
        manifests: &BTreeMap<Artifact, Manifest>,
        kubectl: &Path,
    ) -> Result<bool> {
        let expected = manifests[&Artifact::Kubernetes]
            .files
            .get("kubectl")
            .context("the Kubernetes manifest lists no kubectl")?
            .clone();
        let check_path = kubectl.to_path_buf();
        let kubectl_ok =
            tokio::task::spawn_blocking(move || cache::verify_file(&check_path, &expected)).await?;
        if kubectl_ok.is_ok() {
            return Ok(false);
        }
        let source = self
            .cache
            .artifact_dir(
                Artifact::Kubernetes,
                &self.plan.artifacts[&Artifact::Kubernetes],
            )
            .join("kubectl");
        cache::install_file(&source, kubectl)?;
        self.ui
            .detail(format!("kubectl {}: {}", self.version, kubectl.display()));
        Ok(true)
    }
}
