//! The Docker side: whether an image is present with the expected key, building an image from a
//! tar context (the engine's classic builder: `FROM scratch` or a local image, nothing pulled),
//! importing the node's root filesystem, listing what localkube built.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use std::time::Duration;

use anyhow::{Context, Result, bail};
use bollard::Docker;
use bollard::errors::Error as DockerError;
use bollard::models::ContainerConfig;
use bollard::query_parameters::{
    BuildImageOptions, CommitContainerOptions, CreateImageOptions, ListImagesOptions,
    RemoveImageOptions, StopContainerOptions, TagImageOptions,
};
use futures_util::StreamExt;

use super::process::Output;
use crate::effects::{containers, kube_api, node_images};
use crate::plan::cluster::{self, NODE_ENTRYPOINT};
use crate::plan::images::{LABEL_BUILD_KEY, PlannedImage};

/// The build key label of the image tagged `tag`, `None` when there is no such image.
pub async fn present_key(docker: &Docker, tag: &str) -> Result<Option<String>> {
    match docker.inspect_image(tag).await {
        Ok(image) => Ok(Some(
            image
                .config
                .and_then(|c| c.labels)
                .and_then(|mut l| l.remove(LABEL_BUILD_KEY))
                .unwrap_or_default(),
        )),
        Err(DockerError::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(None),
        Err(e) => Err(e).with_context(|| format!("inspecting the image {tag}")),
    }
}

/// Image size in bytes.
pub async fn image_size(docker: &Docker, tag: &str) -> Result<u64> {
    let image = docker.inspect_image(tag).await?;
    Ok(image.size.unwrap_or(0).max(0) as u64)
}

/// Removes the tag so a failed rebuild leaves no image under it that does not match what is
/// expected. The old image goes too when nothing else uses it (no disk left to dangling images);
/// one a container still runs is only untagged, and stays for that container.
pub async fn untag(docker: &Docker, tag: &str) -> Result<()> {
    let remove = RemoveImageOptions {
        force: false,
        noprune: false,
        ..Default::default()
    };
    match docker.remove_image(tag, Some(remove), None).await {
        Ok(_) => return Ok(()),
        Err(DockerError::DockerResponseServerError {
            status_code: 404, ..
        }) => return Ok(()),
        // 409: a container uses the image. Fall through to untagging only.
        Err(DockerError::DockerResponseServerError {
            status_code: 409, ..
        }) => {}
        Err(e) => return Err(e).with_context(|| format!("removing the stale image {tag}")),
    }
    let untag_only = RemoveImageOptions {
        force: true,
        noprune: true,
        ..Default::default()
    };
    match docker.remove_image(tag, Some(untag_only), None).await {
        Ok(_)
        | Err(DockerError::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing the stale tag {tag}")),
    }
}

/// Removes the other tags of `repo` that localkube built (they carry a build key): an older
/// node base, once a new one is imported, serves nothing. Images of other owners are left alone.
pub async fn prune_other_tags(docker: &Docker, repo: &str, keep: &str) -> Result<Vec<String>> {
    let filters = HashMap::from([("reference".to_string(), vec![repo.to_string()])]);
    let summaries = docker
        .list_images(Some(ListImagesOptions {
            filters: Some(filters),
            ..Default::default()
        }))
        .await
        .context("listing images")?;
    let mut removed = Vec::new();
    for summary in summaries {
        if !summary.labels.contains_key(LABEL_BUILD_KEY) {
            continue;
        }
        for tag in &summary.repo_tags {
            if tag != keep && tag.starts_with(&format!("{repo}:")) {
                untag(docker, tag).await?;
                removed.push(tag.clone());
            }
        }
    }
    Ok(removed)
}

/// A build context: the files of an image folder plus binaries under `bin/`, as a tar.
pub fn context_tar(image_dir: &Path, binaries: &[(String, PathBuf)]) -> Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(true);
    builder
        .append_dir_all(".", image_dir)
        .with_context(|| format!("packing {}", image_dir.display()))?;
    for (name, path) in binaries {
        builder
            .append_path_with_name(path, format!("bin/{name}"))
            .with_context(|| format!("packing {}", path.display()))?;
    }
    builder.into_inner().context("finishing the build context")
}

/// A build context of a few files: held in memory (name, contents, mode), and copied from the
/// host (name, path).
pub fn files_context(files: &[(&str, &[u8], u32)], paths: &[(&str, &Path)]) -> Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    for (name, contents, mode) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(contents.len() as u64);
        header.set_mode(*mode);
        header.set_cksum();
        tar.append_data(&mut header, name, *contents)?;
    }
    for (name, path) in paths {
        tar.append_path_with_name(path, name)
            .with_context(|| format!("packing {}", path.display()))?;
    }
    tar.into_inner().context("finishing the build context")
}

/// Builds and tags `tag` from `context` (the small images localkube makes beside its build: the
/// load balancer's, a registry index); `what` names it in errors. Returns the build's output.
pub async fn build_tagged(
    docker: &Docker,
    tag: &str,
    context: Vec<u8>,
    build_args: HashMap<String, String>,
    what: &str,
) -> Result<Vec<String>> {
    let transfers = crate::effects::docker::for_transfers(docker);
    let mut stream = transfers.build_image(
        BuildImageOptions {
            dockerfile: "Dockerfile".into(),
            t: Some(tag.to_string()),
            rm: true,
            forcerm: true,
            buildargs: (!build_args.is_empty()).then_some(build_args),
            ..Default::default()
        },
        None,
        Some(bollard::body_full(context.into())),
    );
    let mut log = Vec::new();
    while let Some(item) = stream.next().await {
        let info = item.with_context(|| format!("building {what}"))?;
        if let Some(text) = info.stream {
            log.push(text);
        }
        if let Some(err) = info.error_detail.and_then(|e| e.message) {
            bail!("building {what} failed: {err}\n{}", log.concat());
        }
    }
    Ok(log)
}

/// Builds the image of `planned` from `context` and verifies its key label; returns its ID,
/// untagged (see [`tag`]).
pub async fn build(
    docker: &Docker,
    planned: &PlannedImage,
    labels: BTreeMap<String, String>,
    context: Vec<u8>,
    out: &mut Output<'_>,
) -> Result<String> {
    let what = format!("the image {}", planned.tag);
    let command = format!(
        "docker build (engine API, classic builder) for {}",
        planned.tag
    );
    let options = BuildImageOptions {
        dockerfile: "Dockerfile".to_string(),
        t: None,
        rm: true,
        forcerm: true,
        buildargs: Some(
            planned
                .build_args
                .clone()
                .into_iter()
                .collect::<HashMap<_, _>>(),
        ),
        labels: Some(labels.into_iter().collect::<HashMap<_, _>>()),
        ..Default::default()
    };
    let transfers = crate::effects::docker::for_transfers(docker);
    let mut stream = transfers.build_image(options, None, Some(bollard::body_full(context.into())));
    let mut id: Option<String> = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(text) = info.stream {
                    for line in text.lines() {
                        if let Some(rest) = line.strip_prefix("Successfully built ") {
                            id.get_or_insert(rest.trim().to_string());
                        }
                        out.line(line);
                    }
                }
                if let Some(status) = info.status {
                    out.line(&status);
                }
                // Without the buildkit feature, `aux` is the classic builder's `{"ID": "sha256:…"}`.
                if let Some(image_id) = info.aux.and_then(|aux| aux.id) {
                    id = Some(image_id);
                }
            }
            Err(e) => {
                out.line(&e.to_string());
                return Err(out.failure(&what, &command, "failed"));
            }
        }
    }
    let id = id.ok_or_else(|| out.failure(&what, &command, "ended without an image"))?;
    check_key(docker, &id, planned).await?;
    Ok(id)
}

/// Fails unless the image `id` carries `planned`'s build key.
async fn check_key(docker: &Docker, id: &str, planned: &PlannedImage) -> Result<()> {
    let built_key = present_key(docker, id).await?;
    if built_key.as_deref() != Some(planned.key.as_str()) {
        bail!(
            "the image built for {} carries the key {built_key:?}, not {}",
            planned.tag,
            planned.key
        );
    }
    Ok(())
}

/// Tags the image `id` as `planned`'s tag.
pub async fn tag(docker: &Docker, id: &str, planned: &PlannedImage) -> Result<()> {
    let (repo, tag) = planned
        .tag
        .rsplit_once(':')
        .context("image tags are repo:tag")?;
    docker
        .tag_image(
            id,
            Some(TagImageOptions {
                repo: Some(repo.to_string()),
                tag: Some(tag.to_string()),
            }),
        )
        .await
        .with_context(|| format!("tagging {id} as {}", planned.tag))?;
    Ok(())
}

/// The node image `id` with `images` in its containerd store (see `Image::preloaded`): a
/// container of it runs containerd, imports them unpacked, stops, and is committed with the
/// node's own entrypoint back. Returns the committed image's ID; the container is removed
/// whatever happens.
pub async fn preload_node(
    docker: &Docker,
    id: &str,
    planned: &PlannedImage,
    images: &[String],
    out: &mut Output<'_>,
) -> Result<String> {
    let name = format!("localkube-preload-{}", &planned.key[..12]);
    // A container left by an interrupted build of the same image (made from the same image).
    let owner = crate::effects::owned::Owner::CreatedFrom(id.to_string());
    containers::remove_container(docker, &name, &owner).await?;
    let spec = cluster::node_preload_container(id, &name);
    let committed = preload_in(docker, &spec, images, out).await;
    let removed = containers::remove_container(docker, &name, &owner).await;
    let committed = committed?;
    removed?;
    check_key(docker, &committed, planned).await?;
    Ok(committed)
}

async fn preload_in(
    docker: &Docker,
    spec: &cluster::ContainerSpec,
    images: &[String],
    out: &mut Output<'_>,
) -> Result<String> {
    let name = spec.name.as_str();
    out.line(&format!(
        "preloading {} into the node image",
        images.join(", ")
    ));
    containers::create_and_start(docker, spec).await?;
    let answering = kube_api::wait_for(
        "containerd answering in the preload container",
        Duration::from_secs(60),
        || async {
            let answer = containers::exec(docker, name, &["ctr", "version"], None).await?;
            Ok((answer.exit_code == 0).then_some(()))
        },
    )
    .await;
    if let Err(e) = answering {
        let logs = containers::logs_tail(docker, name, 20).await;
        return Err(e.context(format!("{name}'s last log lines:\n{}", logs.trim_end())));
    }
    let tags: Vec<&str> = images.iter().map(String::as_str).collect();
    node_images::import_images(
        docker,
        name,
        &tags,
        &[
            // The layers are only unpacked once, here: their compressed copies would double the
            // node's copy of /var for nothing (nothing exports them from a node).
            "--local",
            "--discard-unpacked-layers",
            // As kind does: kubelet's image garbage collection leaves them alone.
            "--label=io.cri-containerd.pinned=pinned",
        ],
    )
    .await?;
    // The discarded layers go at containerd's next garbage collection; a synchronous removal of
    // an image runs one now, so they are not committed. The image removed is a second name for
    // one just imported.
    let collect = "ctr -n k8s.io images tag \"$1\" localkube.invalid/collect:now >/dev/null \
                   && ctr -n k8s.io images rm --sync localkube.invalid/collect:now >/dev/null";
    // containerd names Docker's short references in full.
    let first = format!("docker.io/{}", tags[0]);
    let collected =
        containers::exec(docker, name, &["sh", "-c", collect, "sh", &first], None).await?;
    if collected.exit_code != 0 {
        bail!(
            "collecting the unpacked layers in {name} failed: {}",
            collected.output.trim()
        );
    }
    // SIGTERM: containerd closes its metadata database cleanly before the layer is committed.
    docker
        .stop_container(
            name,
            Some(StopContainerOptions {
                t: Some(60),
                ..Default::default()
            }),
        )
        .await
        .with_context(|| format!("stopping {name}"))?;
    let committed = docker
        .commit_container(
            CommitContainerOptions {
                container: Some(name.to_string()),
                pause: false,
                // The node's entrypoint again, in place of the containerd this container ran.
                changes: Some(format!("ENTRYPOINT [\"{NODE_ENTRYPOINT}\"]")),
                ..Default::default()
            },
            ContainerConfig::default(),
        )
        .await
        .with_context(|| format!("committing {name}"))?;
    Ok(committed.id)
}

/// `docker import` of a root filesystem tar as the image of `planned`, with its labels.
pub async fn import(
    docker: &Docker,
    planned: &PlannedImage,
    labels: BTreeMap<String, String>,
    rootfs_tar: &Path,
    out: &mut Output<'_>,
) -> Result<()> {
    let what = format!("the image {}", planned.tag);
    let command = format!("docker import {} {}", rootfs_tar.display(), planned.tag);
    let (repo, tag) = planned
        .tag
        .rsplit_once(':')
        .context("image tags are repo:tag")?;
    let label_change = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{v}\""))
        .collect::<Vec<_>>()
        .join(" ");
    let options = CreateImageOptions {
        from_src: Some("-".to_string()),
        repo: Some(repo.to_string()),
        tag: Some(tag.to_string()),
        changes: vec![format!("LABEL {label_change}")],
        message: Some("localkube node base: Debian root filesystem from mmdebstrap".to_string()),
        ..Default::default()
    };
    // Streamed from the file, counted: the import shows how many megabytes Docker has taken.
    let file = tokio::fs::File::open(rootfs_tar)
        .await
        .with_context(|| format!("reading {}", rootfs_tar.display()))?;
    let total = file.metadata().await?.len();
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counted = sent.clone();
    let body = futures_util::stream::unfold(file, |mut file| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 1 << 20];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(bytes::Bytes::from(buf)), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    })
    .map(move |chunk: std::io::Result<bytes::Bytes>| {
        if let Ok(bytes) = &chunk {
            counted.fetch_add(bytes.len() as u64, std::sync::atomic::Ordering::Relaxed);
        }
        chunk
    });
    let mut stream = crate::effects::docker::for_transfers(docker).create_image(
        Some(options),
        Some(bollard::body_try_stream(body)),
        None,
    );
    let mut ticker = tokio::time::interval(std::time::Duration::from_millis(500));
    loop {
        let item = tokio::select! {
            item = stream.next() => match item {
                Some(item) => item,
                None => break,
            },
            _ = ticker.tick() => {
                let done = sent.load(std::sync::atomic::Ordering::Relaxed);
                out.step.progress(crate::ui::Progress {
                    done: done / 1_000_000,
                    total: total / 1_000_000,
                    unit: "MB",
                });
                continue;
            }
        };
        match item {
            Ok(info) => {
                if let Some(status) = info.status {
                    out.line(&status);
                }
            }
            Err(e) => {
                out.line(&e.to_string());
                return Err(out.failure(&what, &command, "failed"));
            }
        }
    }
    out.step.progress(crate::ui::Progress {
        done: total / 1_000_000,
        total: total / 1_000_000,
        unit: "MB",
    });
    let key = present_key(docker, &planned.tag).await?;
    if key.as_deref() != Some(planned.key.as_str()) {
        bail!(
            "the imported {} carries the key {key:?}, not {}",
            planned.tag,
            planned.key
        );
    }
    Ok(())
}

/// One image localkube built.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ListedImage {
    pub image: String,
    pub component: String,
    pub kubernetes_version: String,
    pub component_version: String,
    pub size_bytes: u64,
    /// Seconds since the epoch.
    pub created: i64,
    pub build_key: String,
    /// The versions of the programs it holds besides its component (the node's containerd,
    /// runc, crictl, CNI plugins), by program.
    pub versions: std::collections::BTreeMap<String, String>,
}

/// Every `localkube/*` image with its labels.
pub async fn list(docker: &Docker) -> Result<Vec<ListedImage>> {
    use crate::plan::images::{LABEL_COMPONENT, LABEL_COMPONENT_VERSION, LABEL_KUBERNETES_VERSION};
    let filters = HashMap::from([("reference".to_string(), vec!["localkube/*".to_string()])]);
    let summaries = docker
        .list_images(Some(ListImagesOptions {
            filters: Some(filters),
            ..Default::default()
        }))
        .await
        .context("listing images")?;
    let mut listed = Vec::new();
    for summary in summaries {
        let label = |name: &str| summary.labels.get(name).cloned().unwrap_or_default();
        for tag in summary
            .repo_tags
            .iter()
            .filter(|t| t.starts_with("localkube/"))
        {
            listed.push(ListedImage {
                image: tag.clone(),
                component: label(LABEL_COMPONENT),
                kubernetes_version: label(LABEL_KUBERNETES_VERSION),
                component_version: label(LABEL_COMPONENT_VERSION),
                size_bytes: summary.size.max(0) as u64,
                created: summary.created,
                build_key: label(LABEL_BUILD_KEY),
                versions: summary
                    .labels
                    .iter()
                    .filter_map(|(name, value)| {
                        crate::plan::images::program_of_version_label(name)
                            .map(|program| (program.to_string(), value.clone()))
                    })
                    .collect(),
            });
        }
    }
    listed.sort_by(|a, b| a.image.cmp(&b.image));
    Ok(listed)
}
