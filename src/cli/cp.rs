//! `localkube cp`: copies a file or folder between the host and a node, as `minikube cp`:
//! `cp SRC NODE:DST`, `cp NODE:SRC DST`, and `cp SRC /ABSOLUTE/DST` for the first node.
//!
//! The copy is a tar stream through `docker exec` (a node is a container named after it), not
//! `docker cp`: Docker's archive API writes beneath a tmpfs mount, so a file copied to the node's
//! `/tmp` or `/run` would vanish. Either side then places it as `cp -a` does: into DST when DST is
//! a folder, else as DST.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use super::Ctx;
use crate::plan::names;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to copy: a host path, or NODE:PATH in a node.
    pub source: String,
    /// Where to: NODE:PATH, a host path when the source is in a node, or an absolute path (in
    /// the first node) when the source is on the host.
    pub target: String,
}

/// One copy, its direction decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Copy {
    ToNode {
        host: String,
        node: String,
        path: String,
    },
    FromNode {
        node: String,
        path: String,
        host: String,
    },
}

impl Copy {
    /// The copy as `docker cp` would write it, for messages.
    pub fn describe(&self) -> [String; 2] {
        match self {
            Copy::ToNode { host, node, path } => [host.clone(), format!("{node}:{path}")],
            Copy::FromNode { node, path, host } => [format!("{node}:{path}"), host.clone()],
        }
    }
}

/// The script the node runs to receive a copy: unpack to a scratch folder, place with `cp -a`.
/// `$1` is the destination, `$2` the name of the copied file or folder in the stream.
const RECEIVE: &str = r#"set -e
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
tar -xf - -C "$scratch"
cp -a "$scratch/$2" "$1""#;

/// The script the node runs to send a copy: `$1` the folder, `$2` the name in it.
const SEND: &str = r#"set -e
[ -e "$1/$2" ] || { echo "$1/$2: no such file or folder in the node" >&2; exit 1; }
tar -cf - -C "$1" "$2""#;

/// `path`'s folder and name (`/a/b/` → `/a`, `b`).
fn split(path: &str) -> Result<(String, String)> {
    let trimmed = path.trim_end_matches('/');
    let p = Path::new(trimmed);
    let name = p
        .file_name()
        .with_context(|| format!("'{path}' names no file or folder"))?
        .to_string_lossy()
        .into_owned();
    let parent = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_string_lossy().into_owned(),
        _ if trimmed.starts_with('/') => "/".to_string(),
        _ => ".".to_string(),
    };
    Ok((parent, name))
}

/// `NODE:PATH` when the part before the first ':' names one of `nodes` (anything else, `C:` or
/// `a:b.txt`, is a host path); the path in a node must be absolute.
fn in_node(arg: &str, nodes: &[String]) -> Result<Option<(String, String)>> {
    let Some((node, path)) = arg.split_once(':') else {
        return Ok(None);
    };
    if !nodes.iter().any(|n| n == node) {
        return Ok(None);
    }
    if !path.starts_with('/') {
        bail!("'{arg}': the path in node {node} must be absolute, like {node}:/tmp/file");
    }
    Ok(Some((node.to_string(), path.to_string())))
}

/// The copy `SRC DST` asks for, with `nodes` the profile's node names (the first one first).
pub fn plan_copy(source: &str, target: &str, nodes: &[String]) -> Result<Copy> {
    let names = nodes.join(", ");
    match (in_node(source, nodes)?, in_node(target, nodes)?) {
        (Some(_), Some(_)) => bail!(
            "both '{source}' and '{target}' are in nodes: copy to the host first, then to the other node"
        ),
        (Some((node, path)), None) => Ok(Copy::FromNode {
            node,
            path,
            host: target.to_string(),
        }),
        (None, Some((node, path))) => Ok(Copy::ToNode {
            host: source.to_string(),
            node,
            path,
        }),
        (None, None) if target.starts_with('/') => Ok(Copy::ToNode {
            host: source.to_string(),
            node: nodes.first().context("the profile has no node")?.clone(),
            path: target.to_string(),
        }),
        (None, None) => bail!(
            "neither '{source}' nor '{target}' is in a node: write NODE:/PATH for the node's side \
             (nodes: {names})"
        ),
    }
}

pub fn run(ctx: &Ctx, args: Args) -> Result<u8> {
    let config = ctx.home.profile(&ctx.profile).load_config()?;
    let nodes = names::node_names(&ctx.profile, &config.nodes);
    let copy = plan_copy(&args.source, &args.target, &nodes)?;
    let result = match &copy {
        Copy::ToNode { host, node, path } => to_node(host, node, path),
        Copy::FromNode { node, path, host } => from_node(node, path, host),
    };
    result.with_context(|| format!("copying {} to {}", copy.describe()[0], copy.describe()[1]))?;
    Ok(0)
}

fn docker_exec(node: &str, script: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new("docker");
    cmd.args(["exec", "-i", node, "sh", "-c", script, "sh"])
        .args(args);
    cmd
}

fn to_node(host: &str, node: &str, path: &str) -> Result<()> {
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

fn from_node(node: &str, path: &str, host: &str) -> Result<()> {
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

/// Why an entry of a copy from a node may not be written: outside the copied `name`, or a link
/// whose target (from the entry's folder) leaves it.
fn entry_problem(path: &Path, link: Option<&Path>, name: &str) -> Option<String> {
    use std::path::Component;
    let inside = |p: &Path| -> bool {
        let mut depth: i32 = 0;
        let mut first = None;
        for c in p.components() {
            match c {
                Component::Normal(part) => {
                    if depth == 0 && first.is_none() {
                        first = Some(part.to_owned());
                    }
                    depth += 1;
                }
                Component::CurDir => {}
                Component::ParentDir => {
                    depth -= 1;
                    if depth < 1 {
                        return false;
                    }
                }
                Component::RootDir | Component::Prefix(_) => return false,
            }
        }
        depth >= 1 && first.as_deref() == Some(std::ffi::OsStr::new(name))
    };
    if !inside(path) {
        return Some(format!("it is not under {name}"));
    }
    let link = link?;
    let resolved = path.parent().unwrap_or(Path::new("")).join(link);
    if link.is_absolute() || !inside(&resolved) {
        return Some(format!(
            "it links to {}, outside what is copied",
            link.display()
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command as CliCommand};
    use clap::Parser;

    fn nodes() -> Vec<String> {
        vec!["dev".into(), "dev-m02".into()]
    }

    #[test]
    fn host_to_node_and_back() {
        assert_eq!(
            plan_copy("app.conf", "dev-m02:/etc/app.conf", &nodes()).unwrap(),
            Copy::ToNode {
                host: "app.conf".into(),
                node: "dev-m02".into(),
                path: "/etc/app.conf".into()
            }
        );
        let back = plan_copy("dev:/var/log/x.log", "./x.log", &nodes()).unwrap();
        assert_eq!(back.describe(), ["dev:/var/log/x.log", "./x.log"]);
    }

    #[test]
    fn an_absolute_target_means_the_first_node() {
        let copy = plan_copy("a.txt", "/home/a.txt", &nodes()).unwrap();
        assert_eq!(copy.describe(), ["a.txt", "dev:/home/a.txt"]);
    }

    #[test]
    fn colons_of_other_names_are_host_paths() {
        // `other` is no node of the profile: a host file whose name has a colon.
        let copy = plan_copy("other:file", "dev:/tmp/f", &nodes()).unwrap();
        assert_eq!(copy.describe(), ["other:file", "dev:/tmp/f"]);
    }

    #[test]
    fn paths_split_into_folder_and_name() {
        assert_eq!(
            split("/etc/hostname").unwrap(),
            ("/etc".into(), "hostname".into())
        );
        assert_eq!(split("/var/log/").unwrap(), ("/var".into(), "log".into()));
        assert_eq!(split("/x").unwrap(), ("/".into(), "x".into()));
        assert_eq!(split("a.txt").unwrap(), (".".into(), "a.txt".into()));
        assert!(split("/").is_err());
    }

    #[test]
    fn refusals_name_the_fix() {
        let err = plan_copy("dev:/a", "dev-m02:/a", &nodes())
            .unwrap_err()
            .to_string();
        assert!(err.contains("copy to the host first"), "{err}");
        let err = plan_copy("a", "b", &nodes()).unwrap_err().to_string();
        assert!(
            err.contains("NODE:/PATH") && err.contains("dev, dev-m02"),
            "{err}"
        );
        let err = plan_copy("a", "dev:tmp/a", &nodes())
            .unwrap_err()
            .to_string();
        assert!(err.contains("must be absolute"), "{err}");
    }

    #[test]
    fn links_out_of_the_copy_are_refused() {
        let ok = |p: &str, l: Option<&str>| entry_problem(Path::new(p), l.map(Path::new), "conf");
        assert_eq!(ok("conf", None), None);
        assert_eq!(ok("conf/a/b", None), None);
        assert_eq!(ok("conf/a/link", Some("../b")), None);
        assert_eq!(ok("conf/link", Some("a/./b")), None);
        for (path, link) in [
            ("conf/key", Some("/root/.ssh/id_rsa")),
            ("conf/up", Some("../../etc/passwd")),
            ("conf/a/up", Some("../..")),
            ("conf", Some("..")),
            ("other", None),
            ("../conf", None),
            ("/etc/passwd", None),
            ("conf/../../x", None),
        ] {
            assert!(ok(path, link).is_some(), "{path} -> {link:?}");
        }
    }

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

    #[test]
    fn arguments_map() {
        let cli =
            Cli::try_parse_from(["localkube", "-p", "dev", "cp", "a.txt", "dev:/tmp/a"]).unwrap();
        let CliCommand::Cp(args) = cli.command else {
            panic!("parsed as {:?}", cli.command)
        };
        assert_eq!(
            (args.source.as_str(), args.target.as_str()),
            ("a.txt", "dev:/tmp/a")
        );
    }
}
