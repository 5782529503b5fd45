//! What a build is planned from, read from this machine: the image definitions, the toolchain
//! and the engine's platform, and the files of every image folder. `plan::images` turns them into
//! keys.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use bollard::Docker;

use super::cache::{self, Cache};
use super::{BuildOptions, go, process};
use crate::plan::images::{self, Artifact, FileDigest, Image, PlanInputs, Resolution, Toolchain};

/// A developer's image definitions (`BuildOptions::images_dir`, else `$LOCALKUBE_IMAGES_DIR`),
/// checked at once; `None`: the embedded ones, written out later under the cache's lock, which
/// `images prune` takes before removing other builds' definitions.
pub(super) fn definitions_override(options: &BuildOptions) -> Result<Option<PathBuf>> {
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
    Ok(override_dir)
}

/// The release a toolchain is checked against, in its messages.
pub(super) fn release(version: &str) -> String {
    format!("k8s.io/kubernetes {version}")
}

/// The engine's platform and the Go toolchain, checked before anything waits: a missing `go`, or
/// one older than the cached resolution of `version` asks for, is said at once. Keys include the
/// Go version, so an older Go than the release needs could only rebuild, and fail.
pub(super) async fn toolchain(docker: &Docker, cache: &Cache, version: &str) -> Result<Toolchain> {
    let goarch = engine_arch(docker).await?;
    check_host_runs_kubectl(&goarch)?;
    let cached_need = cached_go_directive(cache, version);
    let go_version = go::go_version(cached_need.as_deref()).await?;
    let toolchain = Toolchain { go_version, goarch };
    if let Some(need) = &cached_need {
        go::check_go(&toolchain, need, &release(version))?;
    }
    Ok(toolchain)
}

/// The plan of what is asked for (`plan::images`): every artifact and image with its key, cut to
/// the images `options` wants and the Go artifacts they are made of. What the whole version is
/// made of is recorded first, whatever is asked for now: prune keeps it while a profile runs the
/// version, and removes artifacts of older toolchains.
pub(super) async fn plan(
    cache_root: &Path,
    version: &str,
    options: &BuildOptions,
    resolution: &Resolution,
    toolchain: &Toolchain,
    images_dir: &Path,
) -> Result<images::Plan> {
    let image_dirs = read_image_dirs(images_dir)?;
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
        resolution,
        toolchain,
        image_dirs: &image_dirs,
        cc_version: &cc_version,
        debian_mirror: &mirror,
        node_packages_txt: &packages_txt,
    })?;
    super::usage::record_roots(
        cache_root,
        version,
        plan.artifacts
            .iter()
            .map(|(artifact, key)| (artifact.name().to_string(), key.clone()))
            .collect(),
    )?;
    plan.images
        .retain(|p| p.image.is_some_and(|image| options.wants(image)));
    plan.artifacts.retain(|artifact, _| {
        artifact
            .go()
            .is_none_or(|row| row.images.iter().any(|image| options.wants(*image)))
    });
    Ok(plan)
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
