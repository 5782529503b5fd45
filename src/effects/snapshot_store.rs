//! Where snapshots live: `<cache>/snapshots/<profile>/<name>/`, a manifest and its parts (see
//! `plan::snapshot`), every folder 0700 and every file 0600 (a snapshot holds the profile's keys).
//! A snapshot is written into a hidden folder beside and renamed into place when complete, so a
//! failed or interrupted save leaves no half snapshot; an export is one tar of the folder, the
//! manifest first.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

use crate::effects::files::{SECRET_DIR_MODE, SECRET_FILE_MODE, create_dir_with_mode};
use crate::effects::home::Home;
use crate::effects::volume_copy::Written;
use crate::plan::profile_name::ProfileName;
use crate::plan::snapshot::{self, MANIFEST_FILE, Manifest};

#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    pub fn new(home: &Home) -> Self {
        Self {
            root: home.cache().join("snapshots"),
        }
    }

    pub fn profile_dir(&self, profile: &ProfileName) -> PathBuf {
        self.root.join(profile.as_str())
    }

    pub fn dir(&self, profile: &ProfileName, name: &str) -> PathBuf {
        self.profile_dir(profile).join(name)
    }

    /// A fresh hidden folder to write a snapshot of `name` into.
    pub fn begin(&self, profile: &ProfileName, name: &str) -> Result<PathBuf> {
        let parent = self.profile_dir(profile);
        create_dir_with_mode(&self.root, SECRET_DIR_MODE)?;
        create_dir_with_mode(&parent, SECRET_DIR_MODE)?;
        let dir = parent.join(format!(".partial-{name}-{}", std::process::id()));
        remove_dir(&dir)?;
        create_dir_with_mode(&dir, SECRET_DIR_MODE)?;
        Ok(dir)
    }

    /// Writes the manifest into the folder and renames it into place.
    pub fn commit(
        &self,
        partial: &Path,
        profile: &ProfileName,
        manifest: &Manifest,
    ) -> Result<PathBuf> {
        // An import's folder holds the manifest it came with: replaced by the same, atomically.
        crate::effects::files::write_atomic(
            &partial.join(MANIFEST_FILE),
            &serde_json::to_vec_pretty(manifest)?,
            SECRET_FILE_MODE,
        )?;
        let dir = self.dir(profile, &manifest.name);
        if dir.exists() {
            bail!(
                "snapshot '{}' of profile '{profile}' already exists: delete it first \
                 (`localkube snapshot delete {} -p {profile}`) or choose another name",
                manifest.name,
                manifest.name
            );
        }
        fs::rename(partial, &dir).with_context(|| format!("moving {}", dir.display()))?;
        Ok(dir)
    }

    /// The profile's snapshots, oldest first; a folder whose manifest cannot be read is listed
    /// with that problem.
    pub fn list(&self, profile: &ProfileName) -> Result<Vec<Result<Manifest, String>>> {
        let dir = self.profile_dir(profile);
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
        };
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with('.') || !entry.path().is_dir() {
                continue;
            }
            found.push(read_manifest(&entry.path()).map_err(|e| format!("{name}: {e:#}")));
        }
        found.sort_by(|a, b| match (a, b) {
            (Ok(a), Ok(b)) => (&a.created, &a.name).cmp(&(&b.created, &b.name)),
            (Ok(_), Err(_)) => std::cmp::Ordering::Less,
            (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
            (Err(a), Err(b)) => a.cmp(b),
        });
        Ok(found)
    }

    /// The folder of an existing snapshot, or an error that lists the profile's snapshots.
    pub fn existing(&self, profile: &ProfileName, name: &str) -> Result<PathBuf> {
        let dir = self.dir(profile, name);
        if !dir.join(MANIFEST_FILE).is_file() {
            bail!(
                "profile '{profile}' has no snapshot '{name}': `localkube snapshot list -p \
                 {profile}` shows its snapshots"
            );
        }
        Ok(dir)
    }
}

pub fn read_manifest(dir: &Path) -> Result<Manifest> {
    let path = dir.join(MANIFEST_FILE);
    let text = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&text).with_context(|| {
        format!(
            "{} is damaged: it is not a snapshot manifest",
            path.display()
        )
    })
}

/// Checks every part's size and sha256 against the manifest; refuses with each problem.
pub fn verify(dir: &Path, manifest: &Manifest) -> Result<()> {
    let mut found = Vec::new();
    for part in &manifest.parts {
        // Parts are plain names in the folder: a manifest naming anything else is damaged.
        if snapshot::parse_part_file(&part.file).is_none() {
            bail!(
                "snapshot '{}' is damaged: its manifest names the part '{}'",
                manifest.name,
                part.file
            );
        }
        let path = dir.join(&part.file);
        if path.is_file() {
            let written = hash_file(&path)?;
            found.push((part.file.clone(), written.bytes, written.sha256));
        }
    }
    if let Some(problem) = snapshot::damage(manifest, &found) {
        bail!(
            "snapshot '{}' is damaged, so nothing was touched: {problem}; delete it (`localkube \
             snapshot delete {}`) and use another",
            manifest.name,
            manifest.name
        );
    }
    Ok(())
}

pub fn hash_file(path: &Path) -> Result<Written> {
    let mut file = fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = file
            .read(&mut buf)
            .with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok(Written {
        bytes,
        sha256: hex::encode(hasher.finalize()),
    })
}

/// Writes a new file, 0600 from its first byte.
pub fn write_secret(path: &Path, contents: &[u8]) -> Result<Written> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(SECRET_FILE_MODE)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(Written {
        bytes: contents.len() as u64,
        sha256: hex::encode(Sha256::digest(contents)),
    })
}

/// A tar of the folder `dir` (relative names, modes kept) into `out`, 0600.
pub fn tar_folder(dir: &Path, out: &Path) -> Result<Written> {
    let mut tar = tar::Builder::new(Vec::new());
    tar.follow_symlinks(false);
    tar.append_dir_all(".", dir)
        .with_context(|| format!("archiving {}", dir.display()))?;
    let bytes = tar.into_inner()?;
    write_secret(out, &bytes)
}

/// Unpacks a tar of [`tar_folder`] into `dir` (made 0700), modes as stored.
pub fn untar_folder(file: &Path, dir: &Path) -> Result<()> {
    create_dir_with_mode(dir, SECRET_DIR_MODE)?;
    let reader = fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    archive
        .unpack(dir)
        .with_context(|| format!("unpacking {} into {}", file.display(), dir.display()))
}

/// Writes the snapshot folder as one tar: the manifest first, then the parts in its order.
pub fn export(dir: &Path, manifest: &Manifest, out: &Path) -> Result<u64> {
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = tempfile::Builder::new()
        .prefix(".localkube-export-")
        .tempfile_in(parent)
        .with_context(|| format!("creating a file in {}", parent.display()))?;
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(SECRET_FILE_MODE))?;
    let mut tar = tar::Builder::new(std::io::BufWriter::new(tmp.as_file()));
    let mut files = vec![MANIFEST_FILE.to_string()];
    files.extend(manifest.parts.iter().map(|p| p.file.clone()));
    for file in &files {
        tar.append_path_with_name(dir.join(file), file)
            .with_context(|| format!("adding {file} to {}", out.display()))?;
    }
    tar.into_inner()?.flush()?;
    tmp.as_file().sync_all()?;
    let bytes = tmp.as_file().metadata()?.len();
    tmp.persist(out)
        .with_context(|| format!("writing {}", out.display()))?;
    Ok(bytes)
}

/// Unpacks an export into the fresh folder `dir` and returns its manifest, unchecked; entries
/// other than plain part names are refused.
pub fn unpack_export(file: &Path, dir: &Path) -> Result<Manifest> {
    let reader = fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let mut archive = tar::Archive::new(std::io::BufReader::new(reader));
    let mut seen_manifest = false;
    for entry in archive
        .entries()
        .with_context(|| format!("reading {}", file.display()))?
    {
        let mut entry = entry.with_context(|| format!("{} is damaged", file.display()))?;
        let name = entry.path()?.to_string_lossy().to_string();
        if name != MANIFEST_FILE && snapshot::parse_part_file(&name).is_none() {
            bail!(
                "{} is not a localkube snapshot: it holds '{name}'",
                file.display()
            );
        }
        seen_manifest |= name == MANIFEST_FILE;
        let path = dir.join(&name);
        let mut out = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(SECRET_FILE_MODE)
            .open(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        std::io::copy(&mut entry, &mut out)
            .with_context(|| format!("{} is damaged (reading {name})", file.display()))?;
    }
    if !seen_manifest {
        bail!(
            "{} is not a localkube snapshot: it has no {MANIFEST_FILE}",
            file.display()
        );
    }
    read_manifest(dir)
}

pub fn remove_dir(dir: &Path) -> Result<()> {
    match fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing {}", dir.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::snapshot::{FORMAT, Part, SnapshotNode};

    fn sample(dir: &Path) -> Manifest {
        let mut parts = Vec::new();
        for file in ["etcd.db", "pki.tar", "config.yaml", "node-1.tar"] {
            let w = write_secret(&dir.join(file), file.repeat(100).as_bytes()).unwrap();
            parts.push(Part {
                file: file.into(),
                bytes: w.bytes,
                sha256: w.sha256,
            });
        }
        Manifest {
            format: FORMAT,
            name: "ch5".into(),
            profile: "dev".into(),
            created: "2026-12-02T19:00:00Z".into(),
            kubernetes_version: "v1.37.2".into(),
            localkube_version: "0.1.0".into(),
            nodes: vec![SnapshotNode {
                number: 1,
                name: "dev".into(),
            }],
            parts,
        }
    }

    #[test]
    fn a_committed_snapshot_lists_verifies_exports_and_imports() {
        let tmp = tempfile::tempdir().unwrap();
        let home = Home::at(tmp.path().join("home"), tmp.path().join("cache"));
        let store = Store::new(&home);
        let dev = ProfileName::parse("dev").unwrap();
        let partial = store.begin(&dev, "ch5").unwrap();
        let manifest = sample(&partial);
        let dir = store.commit(&partial, &dev, &manifest).unwrap();
        assert!(!partial.exists());
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("etcd.db")), 0o600);
        assert_eq!(mode(&dir.join(MANIFEST_FILE)), 0o600);
        assert_eq!(store.list(&dev).unwrap(), vec![Ok(manifest.clone())]);
        verify(&dir, &manifest).unwrap();
        // A second commit of the same name is refused.
        let again = store.begin(&dev, "ch5").unwrap();
        let err = store
            .commit(&again, &dev, &sample(&again))
            .unwrap_err()
            .to_string();
        assert!(err.contains("already exists"), "{err}");

        let file = tmp.path().join("ch5.snapshot");
        export(&dir, &manifest, &file).unwrap();
        assert_eq!(mode(&file), 0o600);
        let into = tmp.path().join("import");
        fs::create_dir(&into).unwrap();
        let read = unpack_export(&file, &into).unwrap();
        assert_eq!(read, manifest);
        verify(&into, &read).unwrap();
        // An import unpacks into another profile's store and commits what came with it.
        let class = ProfileName::parse("class").unwrap();
        let partial = store.begin(&class, "import").unwrap();
        let read = unpack_export(&file, &partial).unwrap();
        let dir = store.commit(&partial, &class, &read).unwrap();
        verify(&dir, &read).unwrap();
    }

    #[test]
    fn a_changed_part_is_refused_by_name() {
        let tmp = tempfile::tempdir().unwrap();
        let manifest = sample(tmp.path());
        let path = tmp.path().join("node-1.tar");
        let mut bytes = fs::read(&path).unwrap();
        bytes[10] ^= 1;
        fs::remove_file(&path).unwrap();
        write_secret(&path, &bytes).unwrap();
        let err = format!("{:#}", verify(tmp.path(), &manifest).unwrap_err());
        assert!(err.contains("snapshot 'ch5' is damaged"), "{err}");
        assert!(err.contains("node-1.tar's sha256"), "{err}");
    }

    #[test]
    fn an_archive_with_other_entries_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("x.tar");
        let mut tar = tar::Builder::new(fs::File::create(&file).unwrap());
        let data = b"hello";
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, "etc/passwd", &data[..])
            .unwrap();
        tar.into_inner().unwrap();
        let into = tmp.path().join("in");
        fs::create_dir(&into).unwrap();
        let err = unpack_export(&file, &into).unwrap_err().to_string();
        assert!(err.contains("not a localkube snapshot"), "{err}");
    }
}
