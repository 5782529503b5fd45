//! `localkube ip [-n NODE]`: a node's address on the profile's network, as `minikube ip`. Nodes
//! have fixed addresses, so the profile's configuration answers without asking Docker.

use anyhow::{Result, bail};
use serde_json::json;

use super::Ctx;
use crate::plan::config::ProfileConfig;
use crate::plan::names;
use crate::plan::profile_name::ProfileName;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The node (default: the first).
    #[arg(short, long)]
    pub node: Option<String>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<u8> {
    let config = ctx.home.profile(&ctx.profile).load_config()?;
    let (node, ip) = node_ip(&ctx.profile, &config, args.node.as_deref())?;
    if ctx.json() {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({"node": node, "ip": ip.to_string()}))?
        );
    } else {
        println!("{ip}");
    }
    Ok(0)
}

/// The node's name and address; the first node when none is named.
pub fn node_ip(
    profile: &ProfileName,
    config: &ProfileConfig,
    node: Option<&str>,
) -> Result<(String, std::net::Ipv4Addr)> {
    let nodes: Vec<(String, u32)> = config
        .nodes
        .numbers()
        .iter()
        .map(|n| (names::node_name(profile, *n), *n))
        .collect();
    let found = match node {
        None => nodes.first(),
        Some(wanted) => nodes.iter().find(|(name, _)| name == wanted),
    };
    match found {
        Some((name, number)) => Ok((name.clone(), config.node_ip(*number))),
        None => {
            let all: Vec<&str> = nodes.iter().map(|(n, _)| n.as_str()).collect();
            bail!(
                "profile '{profile}' has no node '{}'; its nodes: {}",
                node.unwrap_or_default(),
                all.join(", ")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use crate::plan::config::Nodes;
    use clap::Parser;

    fn config() -> ProfileConfig {
        let mut c = ProfileConfig::new(40000, "172.30.7.0/24".parse().unwrap());
        c.nodes = Nodes::first(1).with(3);
        c
    }

    #[test]
    fn the_first_node_by_default_and_any_by_name() {
        let profile = ProfileName::parse("dev").unwrap();
        let (name, ip) = node_ip(&profile, &config(), None).unwrap();
        assert_eq!(
            (name.as_str(), ip.to_string().as_str()),
            ("dev", "172.30.7.10")
        );
        let (name, ip) = node_ip(&profile, &config(), Some("dev-m03")).unwrap();
        assert_eq!(
            (name.as_str(), ip.to_string().as_str()),
            ("dev-m03", "172.30.7.12")
        );
        let err = node_ip(&profile, &config(), Some("dev-m02"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no node 'dev-m02'") && err.contains("dev, dev-m03"),
            "{err}"
        );
    }

    #[test]
    fn node_flag_maps() {
        let cli = Cli::try_parse_from(["localkube", "ip", "-n", "dev-m02"]).unwrap();
        let Command::Ip(args) = cli.command else {
            panic!("parsed as {:?}", cli.command)
        };
        assert_eq!(args.node.as_deref(), Some("dev-m02"));
    }
}
