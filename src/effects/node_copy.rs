//! Copies between the host and a node as a tar stream through `docker exec` (a node is a
//! container named after it), not `docker cp`: Docker's archive API writes beneath a tmpfs
//! mount, so a file copied to the node's `/tmp` or `/run` would vanish. Either side then places
//! it as `cp -a` does: into DST when DST is a folder, else as DST.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::plan::node_copy::{RECEIVE, SEND, entry_problem, split};

fn docker_exec(node: &str, script: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new("docker");
    cmd.args(["exec", "-i", node, "sh", "-c", script, "sh"])
        .args(args);
    cmd
}

pub fn to_node(host: &str, node: &str, path: &str) -> Result<()> {
    let source = Path::new(host);
    if !source.exists() {
        bail!("'{host}' does not exist on this machine");
    }
    let (_, name) = split(host)?;
    let mut child = docker_exec(node, RECEIVE, &[path, &name])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("running `docker exec` (the docker CLI is needed for `localkube cp`)")?;
    // Streamed into the node as it is read, never whole in memory; links are copied as links
    // (`cp -a`), never followed to whatever they point at on the host.
    let mut archive = tar::Builder::new(child.stdin.take().expect("piped"));
    archive.follow_symlinks(false);
    let sent = if source.is_dir() {
        archive.append_dir_all(&name, source)
    } else {
        archive.append_path_with_name(source, &name)
    }
    .and_then(|()| archive.finish());
    drop(archive);
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("{}", String::from_utf8_lossy(&out.stderr).trim());
    }
    sent.context("sending the files to the node")?;
    Ok(())
}

pub fn from_node(node: &str, path: &str, host: &str) -> Result<()> {
    let (folder, name) = split(path)?;
    // Unpacked next to the destination, then moved into place in one rename.
    let target = PathBuf::from(host);
    let (dest, parent) = if target.is_dir() {
        (target.join(&name), target.clone())
    } else {
        let parent = target
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        (target.clone(), parent)
    };
    let scratch = tempfile::Builder::new()
        .prefix(".localkube-cp-")
        .tempdir_in(&parent)
        .with_context(|| format!("writing into {}", parent.display()))?;
    let mut child = docker_exec(node, SEND, &[&folder, &name])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running `docker exec` (the docker CLI is needed for `localkube cp`)")?;
    let stream = child.stdout.take().expect("piped");
    let unpacked = unpack_within(stream, scratch.path(), &name);
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("{}", String::from_utf8_lossy(&out.stderr).trim());
    }
    unpacked?;
    let unpacked = scratch.path().join(&name);
    if unpacked.is_dir() && dest.is_dir() {
        bail!(
            "{} is a folder already: remove it or copy into it",
            dest.display()
        );
    }
    std::fs::rename(&unpacked, &dest).with_context(|| format!("writing {}", dest.display()))?;
    Ok(())
}

/// Unpacks the node's tar stream as it arrives, entry by entry, into `dir`: only entries under
/// `name`, and no link that leads out of what is copied (a node's `x -> /root/.ssh/id_rsa` would
/// hand the host's file to whoever reads the copy).
fn unpack_within(stream: impl std::io::Read, dir: &Path, name: &str) -> Result<()> {
    let mut archive = tar::Archive::new(stream);
    for entry in archive.entries().context("reading the node's files")? {
        let mut entry = entry.context("reading the node's files")?;
        let path = entry
            .path()
            .context("a name in the node's files")?
            .into_owned();
        if let Some(why) = entry_problem(&path, entry.link_name()?.as_deref(), name) {
            bail!("refused {}: {why}", path.display());
        }
        entry
            .unpack_in(dir)
            .with_context(|| format!("unpacking {}", path.display()))?;
    }
    // The entries end at tar's end-of-archive blocks, before the padding of its last record:
    // read to the end, or `docker exec` may fail writing into a closed pipe (seen as a failed
    // copy with no message).
    std::io::copy(&mut archive.into_inner(), &mut std::io::sink())
        .context("reading the node's files")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A node's archive with a link to the host's files is refused before anything is written.
    #[test]
    fn a_stream_with_an_escaping_link_writes_nothing() {
        let mut tar = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Symlink);
        header.set_size(0);
        tar.append_link(&mut header, "conf/key", "/root/.ssh/id_rsa")
            .unwrap();
        let bytes = tar.into_inner().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let err = unpack_within(bytes.as_slice(), dir.path(), "conf").unwrap_err();
        assert!(
            format!("{err:#}").contains("outside what is copied"),
            "{err:#}"
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
