//! Image archives: every image a cluster of one Kubernetes version runs, and its kubectl, in one
//! file with their checksums, so a machine without Go (or without time to compile) starts from
//! images built elsewhere: minikube's preload, with no registry.
//!
//! ```text
//! localkube-images.json   what the archive holds: the images (tag, image ID, build key) and
//!                         the sha256 and size of every other entry; always the first entry
//! images.tar              `docker save` of every image, layers shared
//! kubectl                 the version's kubectl
//! ```
//!
//! Loading checks every checksum before anything is imported, then imports, then checks that
//! Docker holds each tag with the image ID the archive recorded. It leaves a record in the cache
//! (`preloaded/<version>.json`) that lets a build find these images current without a Go
//! toolchain (whose version is part of the build keys).

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use bollard::Docker;
use bollard::query_parameters::ImportImageOptions;
use futures_util::StreamExt;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::cache::{self, Cache, FileEntry};
use super::{BuildOptions, BuildReport, ImageReport, engine, kubectl_path, megabytes};
use crate::plan::archive as checks;
use crate::ui::{Progress, Ui};

pub use crate::plan::archive::{ArchiveManifest, ArchivedImage, FORMAT, IMAGES, KUBECTL, MANIFEST};

/// Whether Docker's image is the one the archive recorded: the same ID, or on Docker's containerd
/// image store, which names an image by its manifest's digest rather than its config's as the
/// classic store (and the archive) do (seen with Docker 28.5), the same build key label.
fn is_archived(inspected: &bollard::models::ImageInspect, recorded: &ArchivedImage) -> bool {
    inspected.id.as_deref() == Some(recorded.id.as_str())
        || (inspected.descriptor.is_some()
            && inspected
                .config
                .as_ref()
                .and_then(|c| c.labels.as_ref())
                .and_then(|l| l.get(crate::plan::images::LABEL_BUILD_KEY))
                == Some(&recorded.key))
}

/// What `save` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct Saved {
    pub path: PathBuf,
    pub size_bytes: u64,
    pub manifest: ArchiveManifest,
}

/// Writes the images of `report` (a build of their version) and its kubectl into `path`, through a
/// temporary file next to it: `path` is whole or untouched.
pub async fn save(docker: &Docker, report: &BuildReport, path: &Path, ui: &Ui) -> Result<Saved> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        bail!(
            "cannot write {}: the folder {} does not exist",
            path.display(),
            dir.display()
        );
    }
    let mut images = Vec::new();
    for built in &report.images {
        let inspected = docker
            .inspect_image(&built.image)
            .await
            .with_context(|| format!("inspecting {}", built.image))?;
        images.push(ArchivedImage {
            image: built.image.clone(),
            id: inspected.id.context("Docker named no image ID")?,
            key: built.key.clone(),
            component_version: built.component_version.clone(),
            size_bytes: built.size_bytes,
        });
    }

    // `docker save` of every image into a temporary file, hashed as it arrives.
    let step = ui.step(format!(
        "saving {} images of Kubernetes {}",
        images.len(),
        report.kubernetes_version
    ));
    let saved = tempfile::Builder::new()
        .prefix(".localkube-images-")
        .tempfile_in(&dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    let tags: Vec<&str> = images.iter().map(|i| i.image.as_str()).collect();
    let total: u64 = images.iter().map(|i| i.size_bytes).sum();
    let mut stream = crate::effects::docker::for_transfers(docker).export_images(&tags);
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut file = saved.as_file();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.context("reading the images from Docker (docker save)")?;
        hasher.update(&chunk);
        file.write_all(&chunk)
            .with_context(|| format!("writing {}", saved.path().display()))?;
        size += chunk.len() as u64;
        step.progress(megabytes_progress(size, total.max(size)));
    }
    file.sync_all()?;
    // Image sizes count shared layers once per image: the total was an estimate.
    step.progress(megabytes_progress(size, size));
    let images_entry = FileEntry {
        sha256: hex::encode(hasher.finalize()),
        size,
    };
    let kubectl_entry = cache::hash_file(&report.kubectl)?;
    let manifest = ArchiveManifest {
        format: FORMAT,
        kubernetes_version: report.kubernetes_version.clone(),
        localkube_version: env!("CARGO_PKG_VERSION").to_string(),
        images,
        files: BTreeMap::from([
            (IMAGES.to_string(), images_entry),
            (KUBECTL.to_string(), kubectl_entry.clone()),
        ]),
    };

    // The archive: the manifest first, then the entries it lists.
    let out = tempfile::Builder::new()
        .prefix(".localkube-archive-")
        .tempfile_in(&dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    let manifest_json = serde_json::to_vec_pretty(&manifest)?;
    let saved_path = saved.path().to_path_buf();
    let kubectl = report.kubectl.clone();
    let out = tokio::task::spawn_blocking(move || -> Result<tempfile::NamedTempFile> {
        let mut tar = tar::Builder::new(out.as_file());
        append_bytes(&mut tar, MANIFEST, &manifest_json, 0o644)?;
        let mut images = File::open(&saved_path)?;
        append_reader(&mut tar, IMAGES, &mut images, size, 0o644)?;
        let mut kubectl_file =
            File::open(&kubectl).with_context(|| format!("opening {}", kubectl.display()))?;
        append_reader(
            &mut tar,
            KUBECTL,
            &mut kubectl_file,
            kubectl_entry.size,
            0o755,
        )?;
        tar.finish()?;
        drop(tar);
        // An archive is made to be copied and read by others, like a build's output.
        use std::os::unix::fs::PermissionsExt;
        out.as_file()
            .set_permissions(fs::Permissions::from_mode(0o644))?;
        out.as_file().sync_all()?;
        Ok(out)
    })
    .await??;
    drop(saved);
    out.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    let size_bytes = fs::metadata(path)?.len();
    step.done_with(megabytes(size_bytes));
    Ok(Saved {
        path: path.to_path_buf(),
        size_bytes,
        manifest,
    })
}

fn append_bytes<W: Write>(
    tar: &mut tar::Builder<W>,
    name: &str,
    data: &[u8],
    mode: u32,
) -> Result<()> {
    append_reader(tar, name, &mut &data[..], data.len() as u64, mode)
}

fn append_reader<W: Write>(
    tar: &mut tar::Builder<W>,
    name: &str,
    data: &mut dyn Read,
    size: u64,
    mode: u32,
) -> Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(size);
    header.set_mode(mode);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut header, name, data)
        .with_context(|| format!("writing {name} into the archive"))?;
    Ok(())
}

/// Reads the archive through once: its manifest, and every entry against it. Nothing is imported
/// from an archive that fails here.
pub fn verify(path: &Path) -> Result<ArchiveManifest> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    verify_from(file, path)
}

/// [`verify`] of an archive read from `reader` (`path` names it in messages): the whole check,
/// for the fuzzer too.
pub fn verify_from(reader: impl Read, path: &Path) -> Result<ArchiveManifest> {
    let damaged = |why: String| {
        anyhow::anyhow!(
            "{} is not a usable localkube image archive: {why}. Nothing was imported; \
             copy the archive again or write a new one with `localkube images save`",
            path.display()
        )
    };
    let mut archive = tar::Archive::new(reader);
    let mut entries = archive
        .entries()
        .map_err(|e| damaged(format!("unreadable ({e})")))?;
    let manifest: ArchiveManifest = {
        let mut first = match entries.next() {
            Some(Ok(entry)) => entry,
            Some(Err(e)) => return Err(damaged(format!("unreadable ({e})"))),
            None => return Err(damaged("it is empty".into())),
        };
        let name = entry_name(&first);
        if name != MANIFEST {
            return Err(damaged(format!(
                "its first entry is {name}, not {MANIFEST}"
            )));
        }
        let mut text = Vec::new();
        (&mut first)
            .take(checks::MAX_INDEX_BYTES + 1)
            .read_to_end(&mut text)
            .map_err(|e| damaged(format!("{MANIFEST} is unreadable ({e})")))?;
        if text.len() as u64 > checks::MAX_INDEX_BYTES {
            return Err(damaged(format!(
                "{MANIFEST} is larger than any localkube writes"
            )));
        }
        // Checked whole before anything is built from it: its version names folders.
        checks::parse_manifest(&text).map_err(damaged)?
    };
    let mut seen = BTreeMap::new();
    for entry in entries {
        let mut entry = entry.map_err(|e| damaged(format!("unreadable ({e})")))?;
        let name = entry_name(&entry);
        let Some(expected) = manifest.files.get(&name) else {
            return Err(damaged(format!(
                "it holds {name}, which {MANIFEST} does not list"
            )));
        };
        let (actual, index) = if name == IMAGES {
            read_saved_images(&mut entry)
        } else {
            cache::hash_reader(&mut entry).map(|entry| (entry, BTreeMap::new()))
        }
        .map_err(|e| damaged(format!("{name} is unreadable ({e}): truncated?")))?;
        if actual.size != expected.size {
            return Err(damaged(format!(
                "{name} has {} bytes where {} were recorded (truncated?)",
                actual.size, expected.size
            )));
        }
        if actual.sha256 != expected.sha256 {
            return Err(damaged(format!(
                "the sha256 of {name} is {} where {} was recorded (damaged)",
                actual.sha256, expected.sha256
            )));
        }
        if name == IMAGES {
            let listed: Vec<String> = manifest.images.iter().map(|i| i.image.clone()).collect();
            checks::foreign_tags(&listed, &index).map_err(|why| {
                anyhow::anyhow!(
                    "{} is refused: {why}. Nothing was imported; load only archives written by \
                     `localkube images save`",
                    path.display()
                )
            })?;
        }
        if seen.insert(name.clone(), ()).is_some() {
            return Err(damaged(format!("it holds {name} twice")));
        }
    }
    for name in manifest.files.keys() {
        if !seen.contains_key(name) {
            return Err(damaged(format!("{name} is missing (truncated?)")));
        }
    }
    Ok(manifest)
}

/// Hashes `images.tar` as it is read, and keeps the index files `docker load` takes tags from
/// (see `plan::archive::foreign_tags`). One of them twice, or larger than any Docker writes, is
/// an error: Docker would read the other copy.
fn read_saved_images(
    entry: &mut dyn Read,
) -> std::io::Result<(FileEntry, BTreeMap<String, Vec<u8>>)> {
    let mut hashing = Hashing {
        inner: entry,
        hasher: Sha256::new(),
        size: 0,
    };
    let mut index = BTreeMap::new();
    {
        let mut inner = tar::Archive::new(&mut hashing);
        // A malformed inner archive stops the scan; the hash is still taken of every byte, and
        // an index without manifest.json is refused.
        if let Ok(entries) = inner.entries() {
            for file in entries {
                let Ok(mut file) = file else { break };
                let Ok(path) = file.path() else { continue };
                // Docker cleans paths as it extracts: `./manifest.json` is `manifest.json`.
                let name: PathBuf = path
                    .components()
                    .filter(|c| !matches!(c, std::path::Component::CurDir))
                    .collect();
                let name = name.display().to_string();
                if !checks::SAVE_INDEX_FILES.contains(&name.as_str()) {
                    continue;
                }
                let mut text = Vec::new();
                (&mut file)
                    .take(checks::MAX_INDEX_BYTES + 1)
                    .read_to_end(&mut text)?;
                if text.len() as u64 > checks::MAX_INDEX_BYTES {
                    return Err(std::io::Error::other(format!("{name} is too large")));
                }
                if index.insert(name.clone(), text).is_some() {
                    return Err(std::io::Error::other(format!("{name} is there twice")));
                }
            }
        }
    }
    std::io::copy(&mut hashing, &mut std::io::sink())?;
    Ok((
        FileEntry {
            sha256: hex::encode(hashing.hasher.finalize()),
            size: hashing.size,
        },
        index,
    ))
}

/// A reader that hashes what passes through it.
struct Hashing<'a> {
    inner: &'a mut dyn Read,
    hasher: Sha256,
    size: u64,
}

impl Read for Hashing<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
}

fn entry_name<R: Read>(entry: &tar::Entry<'_, R>) -> String {
    entry
        .path()
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

/// The record of a load, for builds without a toolchain.
pub fn record_path(cache: &Path, version: &str) -> PathBuf {
    cache.join("preloaded").join(format!("{version}.json"))
}

/// Verifies `path`, imports its images into Docker and its kubectl into the cache, and records the
/// load. Returns the archive's manifest.
pub async fn load(
    docker: &Docker,
    cache_root: &Path,
    path: &Path,
    ui: &Ui,
) -> Result<ArchiveManifest> {
    let step = ui.step(format!("checking the image archive {}", path.display()));
    let owned = path.to_path_buf();
    let manifest = tokio::task::spawn_blocking(move || verify(&owned)).await??;
    step.done_with(format!(
        "Kubernetes {}, {} images, checksums match",
        manifest.kubernetes_version,
        manifest.images.len()
    ));

    let cache = Cache::new(cache_root);
    let _lock = cache.lock_with_ui(ui).await?;

    // The images: the archive's images.tar entry streamed into `docker load`.
    let step = ui.step(format!(
        "importing {} images into Docker",
        manifest.images.len()
    ));
    let total = manifest.files[IMAGES].size;
    let (sender, receiver) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(8);
    let owned = path.to_path_buf();
    let reader = tokio::task::spawn_blocking(move || -> Result<()> {
        let mut archive = tar::Archive::new(File::open(&owned)?);
        for entry in archive.entries()? {
            let mut entry = entry?;
            if entry_name(&entry) != IMAGES {
                continue;
            }
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = entry.read(&mut buf)?;
                if n == 0 {
                    return Ok(());
                }
                if sender
                    .blocking_send(Ok(bytes::Bytes::copy_from_slice(&buf[..n])))
                    .is_err()
                {
                    bail!("Docker stopped reading the images");
                }
            }
        }
        bail!("the archive holds no {IMAGES}")
    });
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counted = sent.clone();
    let body = tokio_stream_from(receiver).map(move |chunk| {
        if let Ok(bytes) = &chunk {
            counted.fetch_add(bytes.len() as u64, std::sync::atomic::Ordering::Relaxed);
        }
        chunk
    });
    let mut responses = crate::effects::docker::for_transfers(docker).import_image(
        ImportImageOptions {
            quiet: true,
            ..Default::default()
        },
        bollard::body_try_stream(body),
        None,
    );
    let mut ticker = tokio::time::interval(std::time::Duration::from_millis(500));
    loop {
        tokio::select! {
            item = responses.next() => match item {
                Some(Ok(info)) => {
                    if let Some(text) = info.stream {
                        for line in text.lines().filter(|l| !l.trim().is_empty()) {
                            ui.detail(line.trim());
                        }
                    }
                    if let Some(error) = info.error_detail.and_then(|e| e.message) {
                        bail!("Docker refused the images of {}: {error}", path.display());
                    }
                }
                Some(Err(e)) => {
                    return Err(e).with_context(|| format!("importing the images of {} (docker load)", path.display()));
                }
                None => break,
            },
            _ = ticker.tick() => {
                let done = sent.load(std::sync::atomic::Ordering::Relaxed);
                step.progress(megabytes_progress(done, total));
            }
        }
    }
    reader.await??;
    step.progress(megabytes_progress(total, total));
    // Docker holds each tag as the image the archive recorded.
    for image in &manifest.images {
        let inspected = docker
            .inspect_image(&image.image)
            .await
            .with_context(|| format!("{} was not imported from {}", image.image, path.display()))?;
        if !is_archived(&inspected, image) {
            bail!(
                "after loading {}, {} is the image {:?}, not {} as the archive records",
                path.display(),
                image.image,
                inspected.id,
                image.id
            );
        }
    }
    step.done_with(megabytes(total));

    // kubectl, checked again as it is copied into place.
    let kubectl = kubectl_path(cache.root(), &manifest.kubernetes_version);
    let expected = manifest.files[KUBECTL].clone();
    let owned = path.to_path_buf();
    let staging = cache.staging("kubectl")?;
    let extracted = staging.path().join(KUBECTL);
    let target = kubectl.clone();
    tokio::task::spawn_blocking(move || -> Result<()> {
        let mut archive = tar::Archive::new(File::open(&owned)?);
        for entry in archive.entries()? {
            let mut entry = entry?;
            if entry_name(&entry) == KUBECTL {
                let mut out = File::create(&extracted)?;
                std::io::copy(&mut entry, &mut out)?;
                out.sync_all()?;
                cache::verify_file(&extracted, &expected)
                    .context("the archive's kubectl changed while it was loaded")?;
                return cache::install_file(&extracted, &target);
            }
        }
        bail!("the archive holds no {KUBECTL}")
    })
    .await??;
    ui.detail(format!(
        "kubectl {}: {}",
        manifest.kubernetes_version,
        kubectl.display()
    ));

    let record = record_path(cache.root(), &manifest.kubernetes_version);
    write_atomically(&record, &serde_json::to_vec_pretty(&manifest)?)?;
    Ok(manifest)
}

fn tokio_stream_from<T: Send + 'static>(
    mut receiver: tokio::sync::mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> + Send + 'static {
    futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}

fn write_atomically(path: &Path, data: &[u8]) -> Result<()> {
    let dir = path.parent().context("no folder")?;
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(data)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// The images a load recorded for `version`, when Docker still holds every one `options` wants
/// as that image and the kubectl verifies: a build then has nothing to do, and needs no Go.
pub async fn preloaded(
    docker: &Docker,
    cache_root: &Path,
    version: &str,
    options: &BuildOptions,
) -> Result<Option<BuildReport>> {
    if options.force || options.images_dir.is_some() {
        return Ok(None);
    }
    let Ok(text) = fs::read(record_path(cache_root, version)) else {
        return Ok(None);
    };
    // Written by a load after its checks; a record changed since is not trusted.
    let Ok(record) = checks::parse_manifest(&text) else {
        return Ok(None);
    };
    let wanted: Vec<crate::plan::images::Image> = crate::plan::images::Image::ALL
        .into_iter()
        .filter(|image| options.wants(*image))
        .collect();
    let mut images = Vec::new();
    for image in wanted {
        let tag = format!("localkube/{}:{version}", image.name());
        let Some(recorded) = record.images.iter().find(|i| i.image == tag) else {
            return Ok(None);
        };
        match docker.inspect_image(&tag).await {
            Ok(inspected) if is_archived(&inspected, recorded) => {}
            _ => return Ok(None),
        }
        images.push(ImageReport {
            image: tag.clone(),
            key: recorded.key.clone(),
            component_version: recorded.component_version.clone(),
            size_bytes: engine::image_size(docker, &tag).await.unwrap_or(0),
            rebuilt: false,
            seconds: 0.0,
        });
    }
    let kubectl = kubectl_path(cache_root, version);
    let Some(expected) = record.files.get(KUBECTL) else {
        return Ok(None);
    };
    if cache::verify_file(&kubectl, expected).is_err() {
        return Ok(None);
    }
    Ok(Some(BuildReport {
        kubernetes_version: version.to_string(),
        rebuilt: Vec::new(),
        artifacts: Vec::new(),
        images,
        kubectl,
    }))
}

fn megabytes_progress(bytes: u64, total: u64) -> Progress<'static> {
    Progress {
        done: bytes / 1_000_000,
        total: total / 1_000_000,
        unit: "MB",
    }
}

#[cfg(test)]
mod tests;
