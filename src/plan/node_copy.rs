//! `localkube cp`'s copy, decided: which side is a node, and the scripts a node runs to send or
//! receive a tar stream (`effects::node_copy` runs them through `docker exec`). Pure.

use std::path::Path;

use anyhow::{Context, Result, bail};

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
pub const RECEIVE: &str = r#"set -e
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
tar -xf - -C "$scratch"
cp -a "$scratch/$2" "$1""#;

/// The script the node runs to send a copy: `$1` the folder, `$2` the name in it.
pub const SEND: &str = r#"set -e
[ -e "$1/$2" ] || { echo "$1/$2: no such file or folder in the node" >&2; exit 1; }
tar -cf - -C "$1" "$2""#;

/// `path`'s folder and name (`/a/b/` → `/a`, `b`).
pub fn split(path: &str) -> Result<(String, String)> {
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

/// Why an entry of a copy from a node may not be written: outside the copied `name`, or a link
/// whose target (from the entry's folder) leaves it.
pub fn entry_problem(path: &Path, link: Option<&Path>, name: &str) -> Option<String> {
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
}
