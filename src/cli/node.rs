//! `localkube node add|list|delete`: the profile's nodes, as minikube's `node` verbs.

use anyhow::Result;

use super::Ctx;
use crate::lifecycle::nodes;
use crate::lifecycle::start::{self as lifecycle, StartRequest};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: NodeCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum NodeCommand {
    /// Add a node to the running (or stopped) cluster and start it.
    Add,
    /// List the nodes: container state, address, Ready, pod CIDR.
    List,
    /// Drain a node, then remove it: its Node object, container and volume.
    Delete {
        /// The node's name, as `node list` shows it (the first node cannot be deleted).
        name: String,
    },
}

pub fn run(ctx: &Ctx, args: Args) -> Result<u8> {
    match args.command {
        NodeCommand::Add => {
            let request = StartRequest {
                add_node: true,
                ..StartRequest::default()
            };
            super::block_on(lifecycle::run(&ctx.home, &ctx.profile, &ctx.ui, &request))??;
            ctx.ui.info(format!(
                "Done. `localkube -p {} node list` shows the nodes.",
                ctx.profile
            ));
        }
        NodeCommand::List => {
            let list = super::block_on(nodes::list(&ctx.home, &ctx.profile))??;
            if ctx.json() {
                println!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(0);
            }
            println!(
                "{:<24} {:<16} {:<10} {:<6} {:<9} POD CIDR",
                "NAME", "IP", "CONTAINER", "READY", "VERSION"
            );
            for node in &list {
                let ready = match node.ready {
                    Some(true) => "yes",
                    Some(false) => "no",
                    None => "?",
                };
                println!(
                    "{:<24} {:<16} {:<10} {:<6} {:<9} {}",
                    node.name,
                    node.ip,
                    node.container,
                    ready,
                    node.version.as_deref().unwrap_or("?"),
                    node.pod_cidr.as_deref().unwrap_or("-")
                );
            }
            // Nodes of several releases: an upgrade under way, or one left half-done.
            if let Some(versions) = crate::plan::upgrade::versions_differ(
                list.iter().filter_map(|n| n.version.as_deref()),
            ) {
                ctx.ui.info(format!(
                    "The nodes run different releases ({}): an upgrade is under way or did not \
                     finish; `localkube start -p {} --kubernetes-version {}` completes it.",
                    versions.join(", "),
                    ctx.profile,
                    versions.last().expect("two or more")
                ));
            }
            // With several control-plane members, each member's components and their health.
            let members = super::block_on(nodes::members(&ctx.home, &ctx.profile))??;
            if !members.is_empty() {
                println!("\ncontrol-plane members:");
                println!("{:<7} {:<20} {:<28} HEALTH", "MEMBER", "ROLE", "CONTAINER");
                for m in members {
                    println!(
                        "{:<7} {:<20} {:<28} {}",
                        m.member, m.role, m.container, m.health
                    );
                }
            }
        }
        NodeCommand::Delete { name } => {
            super::block_on(nodes::delete(&ctx.home, &ctx.profile, &name, &ctx.ui))??;
            ctx.ui.info(format!("Node {name} deleted."));
        }
    }
    Ok(0)
}
