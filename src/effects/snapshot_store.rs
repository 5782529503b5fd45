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

    /// The folder of snapshot `name`: the name checked first, wherever it comes from (a verb's
    /// argument, a manifest), so it never leaves the profile's folder.
    pub fn dir(&self, profile: &ProfileName, name: &str) -> Result<PathBuf> {
        let name = snapshot::parse_name(name).map_err(anyhow::Error::msg)?;
        Ok(self.profile_dir(profile).join(name))
    }

    /// A fresh hidden folder to write a snapshot of `name` into.
    pub fn begin(&self, profile: &ProfileName, name: &str) -> Result<PathBuf> {
        let name = snapshot::parse_name(name).map_err(anyhow::Error::msg)?;
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
        let dir = self.dir(profile, &manifest.name)?;
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
        let dir = self.dir(profile, name)?;
        if !dir.join(MANIFEST_FILE).is_file() {
            bail!(
                "profile '{profile}' has no snapshot '{name}': `localkube snapshot list -p \
                 {profile}` shows its snapshots"
            );
        }
        Ok(dir)
    }
}

/// A snapshot folder's manifest, read no further than [`snapshot::MANIFEST_MAX_BYTES`] and
/// checked ([`snapshot::check_manifest`]).
pub fn read_manifest(dir: &Path) -> Result<Manifest> {
    let path = dir.join(MANIFEST_FILE);
    let file = fs::File::open(&path).with_context(|| format!("reading {}", path.display()))?;
    parse_manifest(file, &path.display().to_string())
}

fn parse_manifest(reader: impl Read, what: &str) -> Result<Manifest> {
    let mut text = Vec::new();
    reader
        .take(snapshot::MANIFEST_MAX_BYTES + 1)
        .read_to_end(&mut text)
        .with_context(|| format!("reading {what}"))?;
    if text.len() as u64 > snapshot::MANIFEST_MAX_BYTES {
        bail!(
            "{what} is damaged: a manifest holds at most {} bytes",
            snapshot::MANIFEST_MAX_BYTES
        );
    }
    let manifest: Manifest = serde_json::from_slice(&text)
        .with_context(|| format!("{what} is damaged: it is not a snapshot manifest"))?;
    snapshot::check_manifest(&manifest).map_err(|e| anyhow::anyhow!("{what} is damaged: {e}"))?;
    Ok(manifest)
}

/// A snapshot's settings file, read no further than [`snapshot::CONFIG_MAX_BYTES`].
pub fn read_config(dir: &Path) -> Result<String> {
    let path = dir.join(snapshot::CONFIG_PART);
    let mut text = String::new();
    fs::File::open(&path)
        .with_context(|| format!("reading {}", path.display()))?
        .take(snapshot::CONFIG_MAX_BYTES + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("{} is not text", path.display()))?;
    if text.len() as u64 > snapshot::CONFIG_MAX_BYTES {
        bail!(
            "{} is damaged: it is larger than settings are",
            path.display()
        );
    }
    Ok(text)
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

/// Unpacks a tar of [`tar_folder`] into `dir` (made 0700): folders and plain files only, each
/// folder 0700 and each file 0600 whatever the tar says, no link, no name that leaves `dir`.
/// The tar is a part of a snapshot that may come from someone else.
pub fn untar_folder(file: &Path, dir: &Path) -> Result<()> {
    create_dir_with_mode(dir, SECRET_DIR_MODE)?;
    let reader = fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let mut archive = tar::Archive::new(std::io::BufReader::new(reader));
    let damaged = |why: String| anyhow::anyhow!("{} is damaged: {why}", file.display());
    for entry in archive
        .entries()
        .with_context(|| format!("reading {}", file.display()))?
    {
        let mut entry = entry.map_err(|e| damaged(e.to_string()))?;
        let name = entry
            .path()
            .map_err(|e| damaged(e.to_string()))?
            .into_owned();
        let mut relative = PathBuf::new();
        for part in name.components() {
            match part {
                std::path::Component::CurDir => {}
                std::path::Component::Normal(p) => relative.push(p),
                _ => return Err(damaged(format!("it holds '{}'", name.display()))),
            }
        }
        let path = dir.join(&relative);
        match entry.header().entry_type() {
            tar::EntryType::Directory => {
                if !relative.as_os_str().is_empty() {
                    create_dir_with_mode(&path, SECRET_DIR_MODE)?;
                }
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let mut out = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(SECRET_FILE_MODE)
                    .open(&path)
                    .with_context(|| format!("creating {}", path.display()))?;
                std::io::copy(&mut entry, &mut out)
                    .with_context(|| format!("unpacking {}", path.display()))?;
            }
            other => {
                return Err(damaged(format!(
                    "'{}' is a {other:?} entry, where only folders and files belong",
                    name.display()
                )));
            }
        }
    }
    Ok(())
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

/// Unpacks an export into the fresh folder `dir` and returns its manifest, every part checked.
/// The file may come from anyone: the manifest comes first, is read no further than its cap
/// and checked before any part is written; then each part must be a plain file the manifest
/// lists, once, of exactly its size (no sparse entry, which would unpack a few KB into
/// gigabytes, and no link), hashed as it streams; the first difference stops the unpacking.
/// Nothing is renamed into place here: the caller commits `dir` only after this returns.
pub fn unpack_export(file: &Path, dir: &Path) -> Result<Manifest> {
    let reader = fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let mut archive = tar::Archive::new(std::io::BufReader::new(reader));
    let not_ours =
        |why: String| anyhow::anyhow!("{} is not a localkube snapshot: {why}", file.display());
    let mut entries = archive
        .entries()
        .with_context(|| format!("reading {}", file.display()))?;
    let first = entries
        .next()
        .ok_or_else(|| not_ours(format!("it is empty; it begins with {MANIFEST_FILE}")))?
        .with_context(|| format!("{} is damaged", file.display()))?;
    let name = entry_name(&first)?;
    if name != MANIFEST_FILE || first.header().entry_type() != tar::EntryType::Regular {
        return Err(not_ours(format!(
            "it begins with '{name}', and a snapshot's export begins with {MANIFEST_FILE}"
        )));
    }
    let manifest = parse_manifest(first, &format!("{}'s {MANIFEST_FILE}", file.display()))?;
    write_secret(
        &dir.join(MANIFEST_FILE),
        &serde_json::to_vec_pretty(&manifest)?,
    )?;
    let mut seen: Vec<String> = Vec::new();
    for entry in entries {
        let mut entry = entry.with_context(|| format!("{} is damaged", file.display()))?;
        let name = entry_name(&entry)?;
        let Some(part) = manifest.parts.iter().find(|p| p.file == name) else {
            return Err(not_ours(format!(
                "it holds '{name}', which its manifest does not list"
            )));
        };
        if seen.contains(&name) {
            return Err(not_ours(format!("it holds {name} twice")));
        }
        let kind = entry.header().entry_type();
        if kind != tar::EntryType::Regular {
            return Err(not_ours(format!(
                "{name} is a {kind:?} entry: parts are plain files (no sparse file, no link)"
            )));
        }
        let size = entry.header().size()?;
        if size != part.bytes {
            bail!(
                "{} is damaged: {name} has {size} bytes, its manifest says {}",
                file.display(),
                part.bytes
            );
        }
        let path = dir.join(&name);
        let mut out = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(SECRET_FILE_MODE)
            .open(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        let written = copy_hashed(&mut (&mut entry).take(part.bytes), &mut out)
            .with_context(|| format!("{} is damaged (reading {name})", file.display()))?;
        out.sync_all()?;
        if written.bytes != part.bytes || written.sha256 != part.sha256 {
            bail!(
                "{} is damaged, so nothing was imported: {name}'s sha256 is {} ({} bytes), the \
                 manifest says {} ({} bytes)",
                file.display(),
                written.sha256,
                written.bytes,
                part.sha256,
                part.bytes
            );
        }
        seen.push(name);
    }
    if let Some(missing) = manifest.parts.iter().find(|p| !seen.contains(&p.file)) {
        bail!(
            "{} is damaged: it lacks {}, which its manifest lists",
            file.display(),
            missing.file
        );
    }
    Ok(manifest)
}

/// An entry's name as text; a name that is not UTF-8 is no part's.
fn entry_name<R: Read>(entry: &tar::Entry<'_, R>) -> Result<String> {
    let path = entry.path().context("an entry's name")?;
    Ok(path.to_string_lossy().into_owned())
}

/// Copies `from` into `to` and hashes what passes.
fn copy_hashed(from: &mut impl Read, to: &mut impl Write) -> std::io::Result<Written> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = from.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        to.write_all(&buf[..n])?;
        bytes += n as u64;
    }
    Ok(Written {
        bytes,
        sha256: hex::encode(hasher.finalize()),
    })
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

    /// An export of `manifest` whose entries are `(name, type, data)`, the manifest first.
    fn export_of(path: &Path, manifest: &Manifest, entries: &[(&str, tar::EntryType, Vec<u8>)]) {
        let mut tar = tar::Builder::new(fs::File::create(path).unwrap());
        let mut append = |name: &str, kind: tar::EntryType, data: &[u8]| {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(kind);
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            if kind == tar::EntryType::Symlink {
                header.set_link_name("/etc/shadow").unwrap();
            }
            header.set_cksum();
            tar.append_data(&mut header, name, data).unwrap();
        };
        let text = serde_json::to_vec(manifest).unwrap();
        append(MANIFEST_FILE, tar::EntryType::Regular, &text);
        for (name, kind, data) in entries {
            append(name, *kind, data);
        }
        tar.into_inner().unwrap();
    }

    /// The parts of [`sample`] as an export's entries, with `edit` applied.
    fn parts_of(dir: &Path, manifest: &Manifest) -> Vec<(&'static str, tar::EntryType, Vec<u8>)> {
        ["etcd.db", "pki.tar", "config.yaml", "node-1.tar"]
            .into_iter()
            .filter(|f| manifest.parts.iter().any(|p| p.file == *f))
            .map(|f| (f, tar::EntryType::Regular, fs::read(dir.join(f)).unwrap()))
            .collect()
    }

    #[test]
    fn a_foreign_export_is_checked_while_it_streams_and_nothing_is_left_of_a_bad_one() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        fs::create_dir(&src).unwrap();
        let good = sample(&src);
        let file = tmp.path().join("x.snapshot");
        let try_unpack = |manifest: &Manifest, entries: &[(&str, tar::EntryType, Vec<u8>)]| {
            export_of(&file, manifest, entries);
            let into = tmp.path().join("in");
            let _ = fs::remove_dir_all(&into);
            fs::create_dir(&into).unwrap();
            let result = unpack_export(&file, &into).map_err(|e| format!("{e:#}"));
            (result, into)
        };
        let (ok, into) = try_unpack(&good, &parts_of(&src, &good));
        assert_eq!(ok.unwrap(), good);
        verify(&into, &good).unwrap();

        // A name that would leave the snapshot folder.
        let mut escaped = good.clone();
        escaped.name = "../../../somewhere".into();
        let (err, _) = try_unpack(&escaped, &parts_of(&src, &good));
        assert!(err.unwrap_err().contains("invalid snapshot name"));

        // A sparse part: a few bytes in the file, any size unpacked.
        let mut entries = parts_of(&src, &good);
        entries[0].1 = tar::EntryType::GNUSparse;
        let (err, into) = try_unpack(&good, &entries);
        let err = err.unwrap_err();
        assert!(err.contains("sparse") || err.contains("damaged"), "{err}");
        assert!(!into.join("etcd.db").exists());

        // A link where a part belongs.
        let mut entries = parts_of(&src, &good);
        entries[3] = ("node-1.tar", tar::EntryType::Symlink, Vec::new());
        let (err, _) = try_unpack(&good, &entries);
        assert!(err.unwrap_err().contains("no link"));

        // More bytes than the manifest says, or other bytes: stopped at that part.
        let mut entries = parts_of(&src, &good);
        entries[0].2.extend_from_slice(&[0; 4096]);
        let (err, into) = try_unpack(&good, &entries);
        assert!(
            err.unwrap_err()
                .contains("etcd.db has 4796 bytes, its manifest says 700")
        );
        assert!(!into.join("etcd.db").exists() && !into.join("pki.tar").exists());
        let mut entries = parts_of(&src, &good);
        entries[1].2[3] ^= 1;
        let (err, into) = try_unpack(&good, &entries);
        assert!(err.unwrap_err().contains("pki.tar's sha256"));
        assert!(!into.join("config.yaml").exists());

        // A part twice, a part missing, an entry the manifest does not list.
        let mut entries = parts_of(&src, &good);
        entries.push(entries[0].clone());
        assert!(try_unpack(&good, &entries).0.unwrap_err().contains("twice"));
        let mut entries = parts_of(&src, &good);
        entries.pop();
        assert!(
            try_unpack(&good, &entries)
                .0
                .unwrap_err()
                .contains("lacks node-1.tar")
        );
        let mut entries = parts_of(&src, &good);
        entries.push(("node-2.tar", tar::EntryType::Regular, vec![1]));
        assert!(
            try_unpack(&good, &entries)
                .0
                .unwrap_err()
                .contains("does not list")
        );

        // A manifest past its cap is not read whole.
        let mut big = good.clone();
        big.created = "x".repeat(snapshot::MANIFEST_MAX_BYTES as usize);
        let err = try_unpack(&big, &[]).0.unwrap_err();
        assert!(err.contains("at most"), "{err}");
    }

    #[test]
    fn pki_is_unpacked_with_fixed_modes_and_no_links() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("pki.tar");
        let mut tar = tar::Builder::new(fs::File::create(&file).unwrap());
        let mut add = |name: &str, kind: tar::EntryType, mode: u32, data: &[u8]| {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(kind);
            header.set_size(data.len() as u64);
            header.set_mode(mode);
            header.set_cksum();
            tar.append_data(&mut header, name, data).unwrap();
        };
        add("./", tar::EntryType::Directory, 0o777, b"");
        add("etcd/", tar::EntryType::Directory, 0o777, b"");
        add("ca.key", tar::EntryType::Regular, 0o4777, b"key");
        add("etcd/ca.crt", tar::EntryType::Regular, 0o666, b"crt");
        tar.into_inner().unwrap();
        let into = tmp.path().join("pki");
        untar_folder(&file, &into).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode(&into), 0o700);
        assert_eq!(mode(&into.join("etcd")), 0o700);
        assert_eq!(mode(&into.join("ca.key")), 0o600);
        assert_eq!(mode(&into.join("etcd/ca.crt")), 0o600);

        for (name, kind) in [
            ("ca.crt", tar::EntryType::Symlink),
            ("ca.crt", tar::EntryType::Link),
            ("x", tar::EntryType::Fifo),
        ] {
            let bad = tmp.path().join("bad.tar");
            let mut tar = tar::Builder::new(fs::File::create(&bad).unwrap());
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(kind);
            header.set_size(0);
            header.set_mode(0o600);
            if kind != tar::EntryType::Fifo {
                header.set_link_name("/etc/shadow").unwrap();
            }
            header.set_cksum();
            tar.append_data(&mut header, name, &b""[..]).unwrap();
            tar.into_inner().unwrap();
            let into = tmp.path().join(format!("out-{kind:?}"));
            let err = format!("{:#}", untar_folder(&bad, &into).unwrap_err());
            assert!(err.contains("only folders and files"), "{err}");
            assert!(fs::symlink_metadata(into.join(name)).is_err());
        }
    }
}
