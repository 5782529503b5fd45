//! Builds the images a cluster runs, from upstream sources, on this machine: no registry is needed.
//!
//! `build_images` makes sure that for one Kubernetes version every artifact in the cache verifies
//! (Kubernetes binaries, the `GO_ARTIFACTS` table's, pause, the node's root filesystem), that every image
//! `localkube/<component>:<version>` exists with the build key it should have, and that the
//! version's kubectl is in place; it builds only what is missing or damaged. `ensure_images`
//! (`start`) verifies the artifacts only when an image is to be built from them. The plan (what, from
//! which inputs, under which key) is `plan::images`; this module runs it.

pub mod archive;
pub mod cache;
pub mod counting;
pub mod definitions;
mod engine;
mod go;
pub mod process;
pub mod usage;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use bollard::Docker;
use serde::Serialize;

use self::cache::{Cache, Manifest, Status};
use self::process::Output;
use crate::plan::images::{
    self, Artifact, FileDigest, Image, PlanInputs, PlannedImage, Resolution, Toolchain,
};
use crate::plan::names;
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
    // A developer's definitions are checked at once; the embedded ones are written out under the
    // cache's lock, which `images prune` takes before removing other builds' definitions.
    let override_dir = options.images_dir.clone().or_else(|| {
        std::env::var_os("LOCALKUBE_IMAGES_DIR")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
    });
    if let Some(dir) = &override_dir
        && !dir.join("kube-apiserver").join("Dockerfile").is_file()
    {
        bail!(
            "the image definitions are not at {}: LOCALKUBE_IMAGES_DIR must name the images/ folder of a localkube checkout \
             (unset it to use the definitions built into localkube)",
            dir.display()
        );
    }
    let cache = Cache::new(cache_root);
    // The platform and the toolchain first: a missing `go` is said at once, not after waiting for
    // another build's lock.
    let goarch = engine_arch(docker).await?;
    check_host_runs_kubectl(&goarch)?;
    let cached_need = cached_go_directive(&cache, version);
    let go_version = go::go_version(cached_need.as_deref()).await?;
    let toolchain = Toolchain { go_version, goarch };
    // Keys include the Go version, so an older Go than the release needs could only rebuild, and fail.
    let release = format!("k8s.io/kubernetes {version}");
    if let Some(need) = &cached_need {
        go::check_go(&toolchain, need, &release)?;
    }

    let _lock = cache.lock_with_ui(ui).await?;
    let mut rebuilt = Vec::new();
    let images_dir = match override_dir {
        Some(dir) => dir,
        None => definitions::materialize(cache_root)?,
    };
    let resolution = go::resolve(&cache, version, &toolchain, ui, &mut rebuilt).await?;
    go::check_go(&toolchain, &resolution.go_directive, &release)?;

    let image_dirs = read_image_dirs(&images_dir)?;
    let packages_path = images_dir.join("node").join("packages.txt");
    let packages_txt = fs::read_to_string(&packages_path).with_context(|| {
        format!(
            "reading {}: it lists the node's Debian packages",
            packages_path.display()
        )
    })?;
    let cc = std::env::var("CC").unwrap_or_else(|_| "gcc".to_string());
    let cc_version = process::capture(&cc, &["--version"], Path::new("."), &[])
        .await
        .map(|v| v.lines().next().unwrap_or("").to_string())
        .unwrap_or_else(|_| format!("{cc}: not installed"));
    let mirror = std::env::var("LOCALKUBE_DEBIAN_MIRROR")
        .ok()
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| images::DEFAULT_DEBIAN_MIRROR.to_string());
    let mut plan = images::plan(&PlanInputs {
        resolution: &resolution,
        toolchain: &toolchain,
        image_dirs: &image_dirs,
        cc_version: &cc_version,
        debian_mirror: &mirror,
        node_packages_txt: &packages_txt,
    })?;
    // What this version is made of, whatever is asked for now: prune keeps it while a profile runs
    // the version, and removes artifacts of older toolchains.
    usage::record_roots(
        cache_root,
        version,
        plan.artifacts
            .iter()
            .map(|(artifact, key)| (artifact.name().to_string(), key.clone()))
            .collect(),
    )?;
    // Only the images asked for, and only the Go artifacts they are made of.
    plan.images
        .retain(|p| p.image.is_some_and(|image| options.wants(image)));
    plan.artifacts.retain(|artifact, _| {
        artifact
            .go()
            .is_none_or(|row| row.images.iter().any(|image| options.wants(*image)))
    });

    // What is there: every artifact verified (in parallel), every image inspected.
    let check = ui.step(format!(
        "checking the cache and images of Kubernetes {version}"
    ));
    let mut present = BTreeMap::new();
    for planned in plan.images.iter().chain([&plan.node_base]) {
        present.insert(
            planned.tag.clone(),
            engine::present_key(docker, &planned.tag).await?,
        );
    }
    let is_current =
        |planned: &PlannedImage| present[&planned.tag].as_deref() == Some(planned.key.as_str());
    let kubectl = kubectl_path(cache.root(), version);
    if trust_current_images
        && !options.force
        && plan.images.iter().all(is_current)
        && kubectl.is_file()
    {
        check.done_with("up to date");
        return Ok(BuildReport {
            kubernetes_version: version.to_string(),
            rebuilt,
            artifacts: Vec::new(),
            images: Vec::new(),
            kubectl,
        });
    }
    let built: Vec<Artifact> = plan
        .artifacts
        .keys()
        .copied()
        .filter(|a| *a != Artifact::Resolve)
        .collect();
    let mut verifying = Vec::new();
    for artifact in built.iter().copied() {
        let cache = cache.clone();
        let key = plan.artifacts[&artifact].clone();
        verifying.push((
            artifact,
            tokio::task::spawn_blocking(move || cache.verify(artifact, &key)),
        ));
    }
    let mut statuses = BTreeMap::new();
    for (artifact, task) in verifying {
        statuses.insert(artifact, task.await?);
    }
    let mut to_build: Vec<String> = Vec::new();
    for (artifact, status) in &statuses {
        match status {
            Status::Valid(_) if !options.force => {
                ui.detail(format!("{}: up to date", artifact.name()))
            }
            Status::Valid(_) => to_build.push(artifact.name().to_string()),
            Status::Missing => to_build.push(artifact.name().to_string()),
            Status::Corrupt(why) => {
                ui.info(format!(
                    "the cached {} is damaged ({why}): rebuilding it",
                    artifact.name()
                ));
                to_build.push(artifact.name().to_string());
            }
        }
    }
    for planned in &plan.images {
        if is_current(planned) && !options.force {
            ui.detail(format!("{}: up to date", planned.tag));
        } else {
            to_build.push(planned.tag.clone());
        }
    }
    if to_build.is_empty() {
        check.done_with("up to date");
    } else {
        check.done_with(format!("to build: {}", to_build.join(", ")));
    }
    // Artifacts, in build order.
    let mut manifests: BTreeMap<Artifact, Manifest> = BTreeMap::new();
    let mut artifact_reports = Vec::new();
    for artifact in built.iter().copied() {
        let key = &plan.artifacts[&artifact];
        let started = Instant::now();
        let manifest = match statuses.remove(&artifact) {
            Some(Status::Valid(manifest)) if !options.force => {
                artifact_reports.push((artifact, false, 0.0));
                manifest
            }
            _ => {
                let inputs = BuildInputs {
                    resolution: &resolution,
                    toolchain: &toolchain,
                    plan: &plan,
                    images_dir: &images_dir,
                };
                let manifest = build_artifact(&cache, artifact, key, &inputs, ui).await?;
                rebuilt.push(artifact.name().to_string());
                artifact_reports.push((artifact, true, started.elapsed().as_secs_f64()));
                manifest
            }
        };
        manifests.insert(artifact, manifest);
    }

    // Images, the node's base first when the node image is to be built.
    let mut image_reports = Vec::new();
    let node_needed = plan
        .images
        .iter()
        .any(|p| p.image.is_some_and(Image::on_node_base) && (options.force || !is_current(p)));
    if node_needed && (options.force || !is_current(&plan.node_base)) {
        let rootfs = cache
            .artifact_dir(Artifact::NodeRootfs, &plan.artifacts[&Artifact::NodeRootfs])
            .join("rootfs.tar");
        let planned = &plan.node_base;
        let step = ui.step(format!(
            "importing the node's root filesystem as {}",
            planned.tag
        ));
        let mut out = Output::new(ui, &step, cache.log_path("image-node-base", &planned.key));
        engine::untag(docker, &planned.tag).await?;
        engine::import(docker, planned, planned.labels(version), &rootfs, &mut out).await?;
        let (repo, _) = planned
            .tag
            .rsplit_once(':')
            .expect("image tags are repo:tag");
        for old in engine::prune_other_tags(docker, repo, &planned.tag).await? {
            ui.detail(format!("removed the older node base {old}"));
        }
        let size = engine::image_size(docker, &planned.tag).await.unwrap_or(0);
        step.done_with(megabytes(size));
        rebuilt.push(planned.tag.clone());
    }
    for planned in &plan.images {
        let image = planned.image.expect("planned images name their image");
        let started = Instant::now();
        let rebuild = options.force || !is_current(planned);
        if rebuild {
            let step = ui.step(format!("building the image {}", planned.tag));
            let mut out = Output::new(
                ui,
                &step,
                cache.log_path(&format!("image-{}", image.name()), &planned.key),
            );
            // The stale tag goes first: a build that fails leaves no image under this tag
            // (a container running the old image keeps it).
            engine::untag(docker, &planned.tag).await?;
            let mut binaries = Vec::new();
            for (artifact, file) in image.binaries() {
                let Some(key) = plan.artifacts.get(&artifact) else {
                    bail!("no {} artifact for {}", artifact.name(), planned.tag);
                };
                binaries.push((
                    file.to_string(),
                    cache.artifact_dir(artifact, key).join(file),
                ));
            }
            let dir = images_dir.join(image.name());
            let context =
                tokio::task::spawn_blocking(move || engine::context_tar(&dir, &binaries)).await??;
            let mut id =
                engine::build(docker, planned, planned.labels(version), context, &mut out).await?;
            let preloaded: Vec<String> = image
                .preloaded()
                .iter()
                .map(|held| names::image(held.name(), version))
                .collect();
            if !preloaded.is_empty() {
                id = engine::preload_node(docker, &id, planned, &preloaded, &mut out).await?;
            }
            engine::tag(docker, &id, planned).await?;
            let size = engine::image_size(docker, &planned.tag).await.unwrap_or(0);
            step.done_with(megabytes(size));
            rebuilt.push(planned.tag.clone());
        }
        image_reports.push(ImageReport {
            image: planned.tag.clone(),
            key: planned.key.clone(),
            component_version: planned.component_version.clone(),
            size_bytes: engine::image_size(docker, &planned.tag).await.unwrap_or(0),
            rebuilt: rebuild,
            seconds: if rebuild {
                started.elapsed().as_secs_f64()
            } else {
                0.0
            },
        });
    }

    // kubectl, from the Kubernetes artifact.
    let expected = manifests[&Artifact::Kubernetes]
        .files
        .get("kubectl")
        .context("the Kubernetes manifest lists no kubectl")?
        .clone();
    let check_path = kubectl.clone();
    let kubectl_ok =
        tokio::task::spawn_blocking(move || cache::verify_file(&check_path, &expected)).await?;
    if kubectl_ok.is_err() {
        let source = cache
            .artifact_dir(Artifact::Kubernetes, &plan.artifacts[&Artifact::Kubernetes])
            .join("kubectl");
        cache::install_file(&source, &kubectl)?;
        rebuilt.push("kubectl".to_string());
        ui.detail(format!("kubectl {version}: {}", kubectl.display()));
    }

    Ok(BuildReport {
        kubernetes_version: version.to_string(),
        rebuilt,
        artifacts: artifact_reports
            .into_iter()
            .map(|(artifact, rebuilt, seconds)| ArtifactReport {
                name: artifact.name().to_string(),
                key: plan.artifacts[&artifact].clone(),
                path: cache.artifact_dir(artifact, &plan.artifacts[&artifact]),
                files: manifests[&artifact].files.clone(),
                rebuilt,
                seconds,
            })
            .collect(),
        images: image_reports,
        kubectl,
    })
}

/// What every artifact build reads.
pub(crate) struct BuildInputs<'a> {
    pub resolution: &'a Resolution,
    pub toolchain: &'a Toolchain,
    pub plan: &'a images::Plan,
    pub images_dir: &'a Path,
}

/// Builds one artifact into a fresh folder and moves it into the cache.
async fn build_artifact(
    cache: &Cache,
    artifact: Artifact,
    key: &str,
    inputs: &BuildInputs<'_>,
    ui: &Ui,
) -> Result<Manifest> {
    let BuildInputs {
        resolution,
        toolchain,
        plan,
        images_dir,
        ..
    } = *inputs;
    let what = match artifact {
        Artifact::Kubernetes => format!(
            "compiling Kubernetes {} ({})",
            resolution.kubernetes_version,
            images::KUBERNETES_COMMANDS.join(", ")
        ),
        Artifact::Go(_) => {
            let row = artifact.go().context("not a row of GO_ARTIFACTS")?;
            format!("compiling {} {}", row.title, row.version(resolution))
        }
        Artifact::Netinit => "compiling netinit (images/netinit)".to_string(),
        Artifact::Pause => "compiling pause".to_string(),
        Artifact::NodeRootfs => format!(
            "making the node's Debian {} root filesystem (mmdebstrap)",
            images::DEBIAN_SUITE
        ),
        Artifact::Resolve => unreachable!("resolved apart"),
    };
    let step = ui.step(what);
    let staging = cache.staging(artifact.name())?;
    let out_dir = staging.path().join("out");
    fs::create_dir_all(&out_dir)?;
    let mut output = Output::new(ui, &step, cache.log_path(artifact.name(), key));
    let mut inputs = match artifact {
        Artifact::Kubernetes | Artifact::Go(_) | Artifact::Netinit => {
            go::build(artifact, inputs, staging.path(), &out_dir, &mut output).await?
        }
        Artifact::Pause => {
            let script = images_dir.join("pause").join("build.sh");
            let args = vec![script.display().to_string(), out_dir.display().to_string()];
            let env = [("LOCALKUBE_PAUSE_VERSION", resolution.pause_version.clone())];
            process::run("pause", "bash", &args, staging.path(), &env, &mut output).await?;
            BTreeMap::from([(
                "command".to_string(),
                process::display_command("bash", &args),
            )])
        }
        Artifact::NodeRootfs => {
            let mirror = &plan.debian_mirror;
            let tar = out_dir.join("rootfs.tar");
            let args = images::mmdebstrap_args(
                &plan.node_packages,
                &toolchain.goarch,
                &tar.display().to_string(),
                mirror,
            );
            // mmdebstrap's own temporary root goes under the build folder, not /tmp.
            let env = [("TMPDIR", staging.path().display().to_string())];
            output.count_with(counting::Counter::Phases(counting::PhaseCounter::new(
                counting::MMDEBSTRAP_PHASES,
            )));
            process::run(
                "the node's root filesystem",
                "mmdebstrap",
                &args,
                staging.path(),
                &env,
                &mut output,
            )
            .await?;
            BTreeMap::from([(
                "command".to_string(),
                process::display_command("mmdebstrap", &args),
            )])
        }
        Artifact::Resolve => unreachable!("resolved apart"),
    };
    inputs.insert(
        "kubernetes".to_string(),
        resolution.kubernetes_version.clone(),
    );
    let cache_for_commit = cache.clone();
    let key_owned = key.to_string();
    let out_owned = out_dir.clone();
    let manifest = tokio::task::spawn_blocking(move || {
        cache_for_commit.commit(artifact, &key_owned, &out_owned, inputs)
    })
    .await??;
    let total: u64 = manifest.files.values().map(|f| f.size).sum();
    let note = match output.counted() {
        // Packages Go had compiled before come from its cache and are not printed.
        Some(p) if p.unit == "packages" => format!(
            "{}, {} packages compiled, {} from Go's build cache",
            megabytes(total),
            p.done,
            p.total - p.done.min(p.total)
        ),
        _ => megabytes(total),
    };
    drop(output);
    step.done_with(note);
    drop(staging);
    Ok(manifest)
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_000_000.0)
}

/// The Go architecture of the Docker engine's machine, where the images run.
async fn engine_arch(docker: &Docker) -> Result<String> {
    let version = docker
        .version()
        .await
        .context("asking Docker for its version")?;
    let os = version.os.unwrap_or_default();
    if !os.is_empty() && os != "linux" {
        bail!("the Docker engine runs {os} containers; localkube's images are Linux images");
    }
    Ok(match version.arch.as_deref() {
        Some("x86_64") | None => "amd64".to_string(),
        Some("aarch64") => "arm64".to_string(),
        Some(arch) => arch.to_string(),
    })
}

/// kubectl comes from the same build as the cluster's binaries, so this machine must be able to
/// run those.
fn check_host_runs_kubectl(goarch: &str) -> Result<()> {
    let host_arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    if std::env::consts::OS != "linux" || host_arch != goarch {
        bail!(
            "this machine is {}/{host_arch} but the Docker engine runs linux/{goarch}: localkube builds kubectl together \
             with the cluster's binaries and so needs both to be the same platform",
            std::env::consts::OS
        );
    }
    Ok(())
}

/// The `go` line of a version's cached resolution, to say which Go is needed when there is none.
fn cached_go_directive(cache: &Cache, version: &str) -> Option<String> {
    let key = images::resolve_key(version);
    let path = cache
        .artifact_dir(Artifact::Resolve, &key)
        .join("resolution.json");
    let resolution: Resolution = serde_json::from_slice(&fs::read(path).ok()?).ok()?;
    Some(resolution.go_directive)
}

/// The files of every image folder, hashed, for the keys.
fn read_image_dirs(images_dir: &Path) -> Result<BTreeMap<String, Vec<FileDigest>>> {
    let mut dirs = BTreeMap::new();
    let folders = Image::ALL
        .iter()
        .map(|image| image.name())
        .chain([images::NETINIT_DIR]);
    for folder in folders {
        let dir = images_dir.join(folder);
        let mut files = Vec::new();
        if dir.is_dir() {
            walk(&dir, "", &mut files)?;
        }
        dirs.insert(folder.to_string(), files);
    }
    Ok(dirs)
}

fn walk(dir: &Path, prefix: &str, files: &mut Vec<FileDigest>) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut entries: Vec<_> = fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .collect::<std::io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let rel = format!("{prefix}{name}");
        let meta = fs::metadata(&path).with_context(|| format!("reading {}", path.display()))?;
        if meta.is_dir() {
            walk(&path, &format!("{rel}/"), files)?;
        } else {
            let entry = cache::hash_file(&path)?;
            files.push(FileDigest {
                path: rel,
                executable: meta.permissions().mode() & 0o111 != 0,
                sha256: entry.sha256,
            });
        }
    }
    Ok(())
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
