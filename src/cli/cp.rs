//! `localkube cp`: copies a file or folder between the host and a node, as `minikube cp`:
//! `cp SRC NODE:DST`, `cp NODE:SRC DST`, and `cp SRC /ABSOLUTE/DST` for the first node. The
//! docker CLI's `cp` does the copy (a node is a container named after it).

use std::process::Command;

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
    /// `docker cp`'s two arguments.
    pub fn docker_args(&self) -> [String; 2] {
        match self {
            Copy::ToNode { host, node, path } => [host.clone(), format!("{node}:{path}")],
            Copy::FromNode { node, path, host } => [format!("{node}:{path}"), host.clone()],
        }
    }
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
    if let Copy::ToNode { host, .. } = &copy
        && !std::path::Path::new(host).exists()
    {
        bail!("'{host}' does not exist on this machine");
    }
    let out = Command::new("docker")
        .arg("cp")
        .args(copy.docker_args())
        .output()
        .context("running `docker cp` (the docker CLI is needed for `localkube cp`)")?;
    if !out.status.success() {
        bail!(
            "docker cp {}: {}",
            copy.docker_args().join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(0)
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
        assert_eq!(back.docker_args(), ["dev:/var/log/x.log", "./x.log"]);
    }

    #[test]
    fn an_absolute_target_means_the_first_node() {
        let copy = plan_copy("a.txt", "/home/a.txt", &nodes()).unwrap();
        assert_eq!(copy.docker_args(), ["a.txt", "dev:/home/a.txt"]);
    }

    #[test]
    fn colons_of_other_names_are_host_paths() {
        // `other` is no node of the profile: a host file whose name has a colon.
        let copy = plan_copy("other:file", "dev:/tmp/f", &nodes()).unwrap();
        assert_eq!(copy.docker_args(), ["other:file", "dev:/tmp/f"]);
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
