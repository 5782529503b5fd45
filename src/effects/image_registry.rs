//! Pushing the built images to a registry and pulling them back, verified (see
//! `plan::image_repository` for the names and the index). Docker does the transfers, so the
//! registry is reached with the engine's own settings (loopback registries need no TLS).

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use bollard::Docker;
use bollard::errors::Error as DockerError;
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, DownloadFromContainerOptions, PushImageOptions,
    RemoveImageOptions, TagImageOptions,
};
use futures_util::StreamExt;
use serde::Serialize;

use crate::effects::image_build::{self, BuildOptions, cache};
use crate::plan::config::ProfileConfig;
use crate::plan::image_repository::{
    self as repo, INDEX_DOCKERFILE, INDEX_FILE, INDEX_NAME, Index, IndexedFile, IndexedImage,
    KUBECTL_FILE, PulledImage,
};
use crate::plan::images::{Image, LABEL_BUILD_KEY};
use crate::plan::names;
use crate::ui::Ui;

/// What `images push` published.
#[derive(Debug, Clone, Serialize)]
pub struct PushReport {
    pub repository: String,
    pub index: String,
    pub index_digest: String,
    #[serde(flatten)]
    pub contents: Index,
    pub seconds: f64,
}

/// Builds what is missing (as `images build` does), then pushes every image of `version` (the
/// cluster's, the default addons' and those of `addons`) and the index with kubectl.
pub async fn push(
    docker: &Docker,
    cache_root: &Path,
    repository: &str,
    version: &str,
    ui: &Ui,
    addons: &[String],
) -> Result<PushReport> {
    let options = BuildOptions {
        addons: addons.to_vec(),
        ..BuildOptions::default()
    };
    let built = image_build::build_images(docker, cache_root, version, ui, &options).await?;
    let started = Instant::now();
    let mut images = Vec::new();
    for image in Image::ALL {
        if !built
            .images
            .iter()
            .any(|r| r.image == names::image(image.name(), version))
        {
            continue;
        }
        let local = names::image(image.name(), version);
        let target = repo::image_ref(repository, image.name(), version);
        let step = ui.step(format!("pushing {target}"));
        push_as(docker, &local, repository, image.name(), version).await?;
        let info = docker
            .inspect_image(&target)
            .await
            .with_context(|| format!("inspecting {target} after the push"))?;
        let repo_digests = info.repo_digests.clone().unwrap_or_default();
        let digest = repo::digest_for(&repo_digests, &repo::image_repo(repository, image.name()))
            .with_context(|| {
            format!("Docker recorded no digest for {target} after pushing it")
        })?;
        let key = info
            .config
            .and_then(|c| c.labels)
            .and_then(|mut l| l.remove(LABEL_BUILD_KEY))
            .unwrap_or_default();
        let size_bytes = info.size.unwrap_or(0).max(0) as u64;
        forget_reference(
            docker,
            &target,
            &repo::image_repo(repository, image.name()),
            &digest,
        )
        .await;
        step.done_with(format!("{digest}, {:.1} MB", size_bytes as f64 / 1e6));
        images.push(IndexedImage {
            image,
            digest,
            id: info.id.unwrap_or_default(),
            key,
            size_bytes,
        });
    }
    let kubectl = cache::hash_file(&built.kubectl)?;
    let index = Index {
        kubernetes_version: version.to_string(),
        images,
        kubectl: IndexedFile {
            sha256: kubectl.sha256,
            size: kubectl.size,
        },
    };
    let index_ref = repo::index_ref(repository, version);
    let step = ui.step(format!("pushing the index {index_ref}"));
    build_index_image(docker, &index, &built.kubectl, &index_ref).await?;
    let pushed = push_tag(docker, repository, INDEX_NAME, version).await;
    let info = docker.inspect_image(&index_ref).await;
    // The index is rebuilt on every push: the local copy was only the way in.
    let _ = docker
        .remove_image(&index_ref, None::<RemoveImageOptions>, None)
        .await;
    pushed?;
    let index_digest = info
        .ok()
        .and_then(|i| i.repo_digests)
        .and_then(|d| repo::digest_for(&d, &repo::image_repo(repository, INDEX_NAME)))
        .context("Docker recorded no digest for the index after pushing it")?;
    step.done_with(index_digest.clone());
    Ok(PushReport {
        repository: repository.to_string(),
        index: index_ref,
        index_digest,
        contents: index,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Tags `local` as `REGISTRY/<name>:<version>` and pushes it.
async fn push_as(
    docker: &Docker,
    local: &str,
    repository: &str,
    name: &str,
    version: &str,
) -> Result<()> {
    let target_repo = repo::image_repo(repository, name);
    docker
        .tag_image(
            local,
            Some(TagImageOptions {
                repo: Some(target_repo.clone()),
                tag: Some(version.to_string()),
            }),
        )
        .await
        .with_context(|| format!("tagging {local} as {target_repo}:{version}"))?;
    let pushed = push_tag(docker, repository, name, version).await;
    if pushed.is_err() {
        // The tag was only the way in: a failed push leaves nothing behind.
        let _ = docker
            .remove_image(
                &format!("{target_repo}:{version}"),
                Some(RemoveImageOptions {
                    noprune: true,
                    ..Default::default()
                }),
                None,
            )
            .await;
    }
    pushed
}

/// Pushes `target_repo:tag` and reads Docker's progress stream to its end: Err is the registry's
/// or the engine's last complaint, which the stream carries instead of failing the call.
pub async fn push_image_tag(
    docker: &Docker,
    target_repo: &str,
    tag: &str,
) -> std::result::Result<(), String> {
    let mut stream = crate::effects::docker::for_transfers(docker).push_image(
        target_repo,
        Some(PushImageOptions {
            tag: Some(tag.to_string()),
            ..Default::default()
        }),
        None,
    );
    let mut failure = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(detail) = info.error_detail {
                    failure = Some(detail.message.unwrap_or_default());
                }
            }
            Err(e) => failure = Some(e.to_string()),
        }
    }
    failure.map_or(Ok(()), Err)
}

/// Pushes the host's `image` as `target_repo:tag` through an extra tag that is only the way in:
/// the host keeps the image under its own name. Err as [`push_image_tag`]'s.
pub async fn push_host_image(
    docker: &Docker,
    image: &str,
    target_repo: &str,
    tag: &str,
) -> std::result::Result<(), String> {
    let options = bollard::query_parameters::TagImageOptionsBuilder::new()
        .repo(target_repo)
        .tag(tag)
        .build();
    docker
        .tag_image(image, Some(options))
        .await
        .map_err(|e| format!("tagging {image} as {target_repo}:{tag}: {e}"))?;
    let pushed = push_image_tag(docker, target_repo, tag).await;
    let _ = docker
        .remove_image(
            &format!("{target_repo}:{tag}"),
            None::<bollard::query_parameters::RemoveImageOptions>,
            None,
        )
        .await;
    pushed
}

async fn push_tag(docker: &Docker, repository: &str, name: &str, version: &str) -> Result<()> {
    let target_repo = repo::image_repo(repository, name);
    if let Err(why) = push_image_tag(docker, &target_repo, version).await {
        bail!(
            "pushing {target_repo}:{version}: {why}; is a registry serving at {}?",
            repository.split('/').next().unwrap_or(repository)
        );
    }
    Ok(())
}

/// Drops the push's own tag and digest reference: the host keeps the image under its
/// `localkube/` name only.
async fn forget_reference(docker: &Docker, tag: &str, repo_name: &str, digest: &str) {
    for reference in [tag.to_string(), format!("{repo_name}@{digest}")] {
        let _ = docker
            .remove_image(
                &reference,
                Some(RemoveImageOptions {
                    noprune: true,
                    ..Default::default()
                }),
                None,
            )
            .await;
    }
}

/// `FROM scratch` with index.json and kubectl.
async fn build_index_image(
    docker: &Docker,
    index: &Index,
    kubectl: &Path,
    tag: &str,
) -> Result<()> {
    let json = serde_json::to_vec_pretty(index)?;
    let kubectl_path = kubectl.to_path_buf();
    let context = tokio::task::spawn_blocking(move || {
        image_build::files_context(
            &[
                ("Dockerfile", INDEX_DOCKERFILE.as_bytes(), 0o644),
                (INDEX_FILE, json.as_slice(), 0o644),
            ],
            &[(KUBECTL_FILE, &kubectl_path)],
        )
    })
    .await??;
    let what = format!("the index image {tag}");
    image_build::build_tagged(docker, tag, context, HashMap::new(), &what).await?;
    Ok(())
}

/// The images every cluster of a version runs: its own and those of the addons on by default.
pub fn cluster_images() -> Vec<Image> {
    let options = BuildOptions::default();
    Image::ALL
        .into_iter()
        .filter(|i| options.wants(*i))
        .collect()
}

/// `start`'s images: built here, or, for a profile with a registry, pulled from it (built here
/// only when the registry lacks them and `build_if_missing`).
pub async fn ensure_cluster_images(
    docker: &Docker,
    cache_root: &Path,
    config: &ProfileConfig,
    build_if_missing: bool,
    ui: &Ui,
) -> Result<()> {
    let version = &config.kubernetes_version;
    let Some(repository) = &config.image_repository else {
        image_build::ensure_images(docker, cache_root, version, ui).await?;
        return Ok(());
    };
    let wanted = cluster_images();
    if let Pulled::Missing(why) = pull(docker, cache_root, repository, version, &wanted, ui).await?
    {
        if !build_if_missing {
            bail!(
                "{why}: push them from a machine that built them (`localkube images push \
                 {repository} --kubernetes-version {version}`), or start with --build-if-missing \
                 to build what the registry lacks here"
            );
        }
        ui.info(format!("{why}: building here (--build-if-missing)"));
        image_build::ensure_images(docker, cache_root, version, ui).await?;
    }
    Ok(())
}

/// What the registry lacked, when `start` may not build.
#[derive(Debug)]
pub enum Pulled {
    /// Every image wanted is here, verified, tagged `localkube/<name>:<version>`; kubectl too.
    Ready,
    /// The registry cannot give them (no index for the version, or images missing from it).
    Missing(String),
}

/// Makes the images of `wanted` and the version's kubectl come from `repository`: reads the
/// index, pulls each image by its tag, refuses any whose digest, ID or labels differ from the
/// index, and tags the verified image as the `localkube/` name the cluster runs. An image whose
/// local pull is already the indexed one is not pulled again. Nothing is built.
pub async fn pull(
    docker: &Docker,
    cache_root: &Path,
    repository: &str,
    version: &str,
    wanted: &[Image],
    ui: &Ui,
) -> Result<Pulled> {
    let index_ref = repo::index_ref(repository, version);
    let step = ui.step(format!("reading the index {index_ref}"));
    if let Err(why) = pull_ref(docker, &index_ref).await {
        if docker.inspect_image(&index_ref).await.is_err() {
            step.failed();
            return Ok(Pulled::Missing(format!(
                "{index_ref} cannot be pulled ({why:#})"
            )));
        }
        ui.info(format!(
            "{index_ref} cannot be pulled ({why:#}): using the copy pulled before"
        ));
    }
    let container = IndexReader::create(docker, &index_ref).await?;
    let result = pull_with_index(
        docker, cache_root, repository, version, wanted, ui, &container, step,
    )
    .await;
    container.remove().await;
    result
}

#[allow(clippy::too_many_arguments)]
async fn pull_with_index(
    docker: &Docker,
    cache_root: &Path,
    repository: &str,
    version: &str,
    wanted: &[Image],
    ui: &Ui,
    reader: &IndexReader<'_>,
    step: crate::ui::Step,
) -> Result<Pulled> {
    let index_ref = repo::index_ref(repository, version);
    let json = reader.read(INDEX_FILE).await?;
    let index: Index = serde_json::from_slice(&json)
        .with_context(|| format!("{index_ref} holds no index localkube can read"))?;
    if index.kubernetes_version != version {
        bail!(
            "{index_ref} lists the images of {} instead of {version}: push again with `localkube images push {repository} --kubernetes-version {version}`",
            index.kubernetes_version
        );
    }
    step.done_with(format!(
        "{} images, {:.1} MB",
        index.images.len(),
        index.total_bytes() as f64 / 1e6
    ));
    let missing = index.missing(wanted);
    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|i| i.name()).collect();
        return Ok(Pulled::Missing(format!(
            "{index_ref} lists no {}",
            names.join(", ")
        )));
    }
    for image in wanted {
        let expected = index.get(*image).expect("checked above");
        ensure_image(docker, repository, version, expected, ui).await?;
    }
    // kubectl, for `localkube kubectl` and the node steps.
    let kubectl = image_build::kubectl_path(cache_root, version);
    let entry = cache::FileEntry {
        sha256: index.kubectl.sha256.clone(),
        size: index.kubectl.size,
    };
    if cache::verify_file(&kubectl, &entry).is_err() {
        let step = ui.step(format!("kubectl {version} from {index_ref}"));
        let bytes = reader.read(KUBECTL_FILE).await?;
        let tmp = tempfile::NamedTempFile::new()?;
        std::fs::write(tmp.path(), &bytes)?;
        cache::verify_file(tmp.path(), &entry).with_context(|| {
            format!("the kubectl in {index_ref} is not the one its index lists")
        })?;
        cache::install_file(tmp.path(), &kubectl)?;
        step.done();
    }
    Ok(Pulled::Ready)
}

/// One image: already the indexed one under its `localkube/` name and its pulled name, or pulled
/// now, verified, and tagged.
async fn ensure_image(
    docker: &Docker,
    repository: &str,
    version: &str,
    expected: &IndexedImage,
    ui: &Ui,
) -> Result<()> {
    let name = expected.image.name();
    let reference = repo::image_ref(repository, name, version);
    let local = names::image(name, version);
    let pulled_here = match inspect(docker, &reference).await? {
        Some(p) => repo::check_pulled(repository, version, expected, &p).is_ok(),
        None => false,
    };
    if !pulled_here {
        let step = ui.step(format!("pulling {reference}"));
        if let Err(e) = pull_ref(docker, &reference).await {
            step.failed();
            return Err(e);
        }
        let pulled = inspect(docker, &reference)
            .await?
            .with_context(|| format!("pulling {reference} left no image"))?;
        if let Err(e) = repo::check_pulled(repository, version, expected, &pulled) {
            step.failed();
            // What failed the check is not kept under the name.
            let _ = docker
                .remove_image(&reference, None::<RemoveImageOptions>, None)
                .await;
            return Err(e);
        }
        step.done_with(format!("{:.1} MB", expected.size_bytes as f64 / 1e6));
    }
    let local_id = docker.inspect_image(&local).await.ok().and_then(|i| i.id);
    if local_id.as_deref() != Some(expected.id.as_str()) {
        let (local_repo, tag) = local.rsplit_once(':').expect("repo:tag");
        docker
            .tag_image(
                &reference,
                Some(TagImageOptions {
                    repo: Some(local_repo.to_string()),
                    tag: Some(tag.to_string()),
                }),
            )
            .await
            .with_context(|| format!("tagging {reference} as {local}"))?;
    }
    Ok(())
}

async fn inspect(docker: &Docker, reference: &str) -> Result<Option<PulledImage>> {
    match docker.inspect_image(reference).await {
        Ok(info) => Ok(Some(PulledImage {
            id: info.id.unwrap_or_default(),
            repo_digests: info.repo_digests.unwrap_or_default(),
            labels: info
                .config
                .and_then(|c| c.labels)
                .unwrap_or_default()
                .into_iter()
                .collect(),
        })),
        Err(DockerError::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(None),
        Err(e) => Err(e).with_context(|| format!("inspecting {reference}")),
    }
}

async fn pull_ref(docker: &Docker, reference: &str) -> Result<()> {
    let (from, tag) = reference.rsplit_once(':').expect("references carry a tag");
    let mut stream = crate::effects::docker::for_transfers(docker).create_image(
        Some(CreateImageOptions {
            from_image: Some(from.to_string()),
            tag: Some(tag.to_string()),
            ..Default::default()
        }),
        None,
        None,
    );
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(message) = info.error_detail.and_then(|e| e.message) {
                    bail!("pulling {reference}: {message}");
                }
            }
            Err(e) => bail!("pulling {reference}: {e}"),
        }
    }
    Ok(())
}

/// A container created (never started) from the index image, to copy its files out.
struct IndexReader<'a> {
    docker: &'a Docker,
    id: String,
}

impl<'a> IndexReader<'a> {
    async fn create(docker: &'a Docker, image: &str) -> Result<Self> {
        let created = docker
            .create_container(
                None::<CreateContainerOptions>,
                ContainerCreateBody {
                    image: Some(image.to_string()),
                    // Never run: a scratch image needs a command only to be created.
                    cmd: Some(vec![format!("/{KUBECTL_FILE}")]),
                    labels: Some(HashMap::from([(
                        "io.localkube.role".to_string(),
                        "index-reader".to_string(),
                    )])),
                    ..Default::default()
                },
            )
            .await
            .with_context(|| format!("reading {image}"))?;
        Ok(Self {
            docker,
            id: created.id,
        })
    }

    /// One file at the image's root.
    async fn read(&self, file: &str) -> Result<Vec<u8>> {
        let mut stream = self.docker.download_from_container(
            &self.id,
            Some(DownloadFromContainerOptions {
                path: format!("/{file}"),
            }),
        );
        let mut tar_bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            tar_bytes.extend_from_slice(&chunk.with_context(|| format!("copying /{file}"))?);
        }
        let mut archive = tar::Archive::new(tar_bytes.as_slice());
        for entry in archive.entries()? {
            let mut entry = entry?;
            if entry.path()?.as_os_str() == file {
                let mut out = Vec::new();
                entry.read_to_end(&mut out)?;
                return Ok(out);
            }
        }
        bail!("the index image holds no {file}")
    }

    async fn remove(&self) {
        // The ID its create returned: this reader's own.
        let _ = crate::effects::owned::remove_listed(
            self.docker,
            crate::effects::owned::Kind::Container,
            "the index reader",
            &self.id,
        )
        .await;
    }
}
