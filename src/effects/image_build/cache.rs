//! The content-addressed artifact cache: `artifacts/<artifact>/<key>/` holds an artifact's output
//! files and a `manifest.json` recording the sha256 and size of each. A build writes into a fresh
//! folder under `tmp/` and renames it into place whole, manifest included, so a folder at its final
//! path is complete or absent; every use verifies the checksums anyway, so a file truncated or
//! damaged later is caught and the artifact rebuilt.
//!
//! ```text
//! <cache>/.lock                               held by the one process building at a time
//! <cache>/tmp/                                builds in progress (emptied when the lock is taken)
//! <cache>/logs/<artifact>-<key>.log           full output of the last build of an artifact
//! <cache>/artifacts/<artifact>/<key>/         outputs + manifest.json
//! <cache>/bin/<kubernetes version>/kubectl    the kubectl `localkube kubectl` runs
//! ```

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::effects::lock;
use crate::plan::images::Artifact;

pub const MANIFEST: &str = "manifest.json";

pub use crate::plan::archive::FileEntry;

/// What an artifact's folder holds, written last into the build folder before it is renamed
/// into place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub artifact: String,
    pub key: String,
    pub files: BTreeMap<String, FileEntry>,
    /// The inputs the key was made of, for people reading the cache.
    #[serde(default)]
    pub inputs: BTreeMap<String, String>,
}

/// The state of an artifact in the cache.
#[derive(Debug, Clone)]
pub enum Status {
    Valid(Manifest),
    Missing,
    /// Present but unusable: why.
    Corrupt(String),
}

#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
}

/// The cache's lock: one process builds at a time; dropping it releases the lock.
pub type CacheLock = lock::HeldLock;

impl Cache {
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn artifact_dir(&self, artifact: Artifact, key: &str) -> PathBuf {
        self.root.join("artifacts").join(artifact.name()).join(key)
    }

    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    pub fn log_path(&self, name: &str, key: &str) -> PathBuf {
        self.root
            .join("logs")
            .join(format!("{name}-{}.log", &key[..key.len().min(16)]))
    }

    /// [`Cache::lock`] from async code, saying on `ui` whom it waits for: the lock blocks a thread
    /// until another localkube's build ends.
    pub async fn lock_with_ui(&self, ui: &crate::ui::Ui) -> Result<CacheLock> {
        let cache = self.clone();
        let ui = ui.clone();
        tokio::task::spawn_blocking(move || {
            cache.lock(|holder| {
                ui.info(format!(
                    "waiting for another localkube that is building images ({holder})"
                ))
            })
        })
        .await?
    }

    /// Takes the cache's lock, waiting for another localkube that holds it (`waiting` is called once
    /// if it has to), then empties `tmp/`: what is there was left by a build that died.
    pub fn lock(&self, waiting: impl FnOnce(&str)) -> Result<CacheLock> {
        fs::create_dir_all(&self.root)
            .with_context(|| format!("creating the cache folder {}", self.root.display()))?;
        let lock = lock::acquire(&self.root.join(".lock"), lock::Wait::Forever, waiting)?;
        let tmp = self.tmp_dir();
        if tmp.exists() {
            fs::remove_dir_all(&tmp).with_context(|| format!("emptying {}", tmp.display()))?;
        }
        fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        fs::create_dir_all(self.root.join("logs"))?;
        Ok(lock)
    }

    /// A fresh folder under `tmp/` for building `name`; removed when dropped.
    pub fn staging(&self, name: &str) -> Result<tempfile::TempDir> {
        tempfile::Builder::new()
            .prefix(&format!("{name}-"))
            .tempdir_in(self.tmp_dir())
            .with_context(|| format!("creating a build folder in {}", self.tmp_dir().display()))
    }

    /// Reads the manifest and checks every output file against it.
    pub fn verify(&self, artifact: Artifact, key: &str) -> Status {
        let dir = self.artifact_dir(artifact, key);
        if !dir.exists() {
            return Status::Missing;
        }
        match verify_dir(&dir, artifact, key) {
            Ok(manifest) => Status::Valid(manifest),
            Err(why) => Status::Corrupt(format!("{why:#}")),
        }
    }

    /// Records the outputs in `out` (which must hold exactly `artifact.outputs()`) in a manifest
    /// and moves the folder into place, replacing a damaged one.
    pub fn commit(
        &self,
        artifact: Artifact,
        key: &str,
        out: &Path,
        inputs: BTreeMap<String, String>,
    ) -> Result<Manifest> {
        let mut files = BTreeMap::new();
        for name in artifact.outputs() {
            let path = out.join(name);
            let file = File::open(&path)
                .with_context(|| format!("the build of {} made no {name}", artifact.name()))?;
            file.sync_all()
                .with_context(|| format!("flushing {}", path.display()))?;
            files.insert(name.to_string(), hash_file(&path)?);
        }
        let manifest = Manifest {
            artifact: artifact.name().to_string(),
            key: key.to_string(),
            files,
            inputs,
        };
        let mut text = serde_json::to_vec_pretty(&manifest)?;
        text.push(b'\n');
        let manifest_path = out.join(MANIFEST);
        let mut file = File::create(&manifest_path)?;
        file.write_all(&text)?;
        file.sync_all()?;

        let dest = self.artifact_dir(artifact, key);
        let parent = dest.parent().expect("artifact folders have a parent");
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        if dest.exists() {
            // A damaged folder: move it aside first, so the new one lands in one rename.
            let trash = self.staging(&format!("trash-{}", artifact.name()))?;
            fs::rename(&dest, trash.path().join("old"))
                .with_context(|| format!("moving the damaged {} aside", dest.display()))?;
        }
        fs::rename(out, &dest).with_context(|| {
            format!("moving {} into place at {}", out.display(), dest.display())
        })?;
        if let Ok(dir) = File::open(parent) {
            let _ = dir.sync_all();
        }
        Ok(manifest)
    }
}

fn verify_dir(dir: &Path, artifact: Artifact, key: &str) -> Result<Manifest> {
    let path = dir.join(MANIFEST);
    let text = fs::read(&path).context("no manifest (a build that did not finish)")?;
    let manifest: Manifest = serde_json::from_slice(&text).context("unreadable manifest")?;
    if manifest.artifact != artifact.name() || manifest.key != key {
        bail!(
            "the manifest belongs to {} {}",
            manifest.artifact,
            manifest.key
        );
    }
    for name in artifact.outputs() {
        let expected = manifest
            .files
            .get(name)
            .with_context(|| format!("the manifest lists no {name}"))?;
        verify_file(&dir.join(name), expected).with_context(|| name.to_string())?;
    }
    Ok(manifest)
}

/// Checks a file's size, then its sha256, against a manifest entry.
pub fn verify_file(path: &Path, expected: &FileEntry) -> Result<()> {
    let meta = fs::metadata(path).context("missing")?;
    if meta.len() != expected.size {
        bail!(
            "{} bytes where {} were recorded (truncated or overwritten)",
            meta.len(),
            expected.size
        );
    }
    let actual = hash_file(path)?;
    if actual.sha256 != expected.sha256 {
        bail!(
            "sha256 {} where {} was recorded (damaged)",
            actual.sha256,
            expected.sha256
        );
    }
    Ok(())
}

pub fn hash_file(path: &Path) -> Result<FileEntry> {
    let mut file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    hash_reader(&mut file).with_context(|| format!("reading {}", path.display()))
}

/// The sha256 and size of everything `reader` yields (a cached file, an archive's entry).
pub fn hash_reader(reader: &mut dyn Read) -> std::io::Result<FileEntry> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok(FileEntry {
        sha256: hex::encode(hasher.finalize()),
        size,
    })
}

/// Copies `from` to `to` through a temporary file in `to`'s folder and a rename, executable.
pub fn install_file(from: &Path, to: &Path) -> Result<()> {
    let dir = to.parent().context("install path has no folder")?;
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    let mut source = File::open(from).with_context(|| format!("opening {}", from.display()))?;
    std::io::copy(&mut source, &mut tmp.as_file())
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(0o755))?;
    tmp.as_file().sync_all()?;
    tmp.persist(to)
        .with_context(|| format!("replacing {}", to.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn built(cache: &Cache, key: &str, content: &[u8]) -> Manifest {
        let out = cache.staging("pause").unwrap().keep();
        fs::write(out.join("pause"), content).unwrap();
        cache
            .commit(Artifact::Pause, key, &out, BTreeMap::new())
            .unwrap()
    }

    #[test]
    fn commit_then_verify_then_detect_damage() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::new(tmp.path());
        let _lock = cache.lock(|_| {}).unwrap();
        assert!(matches!(
            cache.verify(Artifact::Pause, "k1"),
            Status::Missing
        ));

        let manifest = built(&cache, "k1", b"binary");
        assert_eq!(manifest.files["pause"].size, 6);
        assert!(matches!(cache.verify(Artifact::Pause, "k1"), Status::Valid(m) if m == manifest));

        // Truncated: caught by size.
        let file = cache.artifact_dir(Artifact::Pause, "k1").join("pause");
        fs::write(&file, b"bin").unwrap();
        let Status::Corrupt(why) = cache.verify(Artifact::Pause, "k1") else {
            panic!("truncation not detected")
        };
        assert!(why.contains("truncated"), "{why}");

        // Same size, other bytes: caught by sha256.
        fs::write(&file, b"BINARY").unwrap();
        let Status::Corrupt(why) = cache.verify(Artifact::Pause, "k1") else {
            panic!("damage not detected")
        };
        assert!(why.contains("damaged"), "{why}");

        // A rebuild replaces the damaged folder.
        built(&cache, "k1", b"binary");
        assert!(matches!(
            cache.verify(Artifact::Pause, "k1"),
            Status::Valid(_)
        ));
    }

    #[test]
    fn a_folder_without_manifest_is_not_used() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::new(tmp.path());
        let dir = cache.artifact_dir(Artifact::Pause, "k2");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("pause"), b"half").unwrap();
        let Status::Corrupt(why) = cache.verify(Artifact::Pause, "k2") else {
            panic!("partial artifact used")
        };
        assert!(why.contains("no manifest"), "{why}");
    }

    #[test]
    fn missing_output_fails_the_commit() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::new(tmp.path());
        let _lock = cache.lock(|_| {}).unwrap();
        let out = cache.staging("etcd").unwrap().keep();
        let err = cache
            .commit(Artifact::Go("etcd"), "k", &out, BTreeMap::new())
            .unwrap_err();
        assert!(err.to_string().contains("made no etcd"), "{err}");
        assert!(matches!(
            cache.verify(Artifact::Go("etcd"), "k"),
            Status::Missing
        ));
    }

    #[test]
    fn lock_empties_tmp() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::new(tmp.path());
        fs::create_dir_all(cache.tmp_dir().join("kubernetes-left")).unwrap();
        let _lock = cache.lock(|_| {}).unwrap();
        assert_eq!(fs::read_dir(cache.tmp_dir()).unwrap().count(), 0);
    }
}
