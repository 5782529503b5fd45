//! `localkube profile list`: the profiles on this machine, with their state (from Docker), version,
//! nodes and addresses, as `minikube profile list`.

use anyhow::Result;
use serde::Serialize;

use super::Ctx;
use crate::lifecycle::profile::Listed;
use crate::plan::kubeconfig;
use crate::plan::names;
use crate::plan::profile_state::State;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: ProfileCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum ProfileCommand {
    /// List the profiles on this machine.
    List,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    name: String,
    status: State,
    kubernetes_version: String,
    nodes: u32,
    apiserver: String,
    addresses: Vec<NodeAddress>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image_repository: Option<String>,
}

#[derive(Debug, Serialize)]
struct NodeAddress {
    node: String,
    ip: String,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<u8> {
    match args.command {
        ProfileCommand::List => list(ctx),
    }
}

fn list(ctx: &Ctx) -> Result<u8> {
    let listed = super::block_on(crate::lifecycle::profile::list(&ctx.home))??;
    let rows: Vec<Row> = listed
        .iter()
        .map(
            |Listed {
                 name,
                 config,
                 state,
             }| Row {
                name: name.to_string(),
                status: *state,
                kubernetes_version: config.kubernetes_version.clone(),
                nodes: config.nodes.count(),
                apiserver: kubeconfig::host_server(config),
                addresses: config
                    .nodes
                    .numbers()
                    .iter()
                    .map(|n| NodeAddress {
                        node: names::node_name(name, *n),
                        ip: config.node_ip(*n).to_string(),
                    })
                    .collect(),
                image_repository: config.image_repository.clone(),
            },
        )
        .collect();
    if ctx.json() {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(0);
    }
    if rows.is_empty() {
        ctx.ui
            .info("No profiles yet: `localkube start` creates the default one.");
        return Ok(0);
    }
    println!(
        "{:<24} {:<11} {:<10} {:<6} {:<24} NODE ADDRESSES",
        "PROFILE", "STATUS", "VERSION", "NODES", "APISERVER"
    );
    for r in rows {
        let addresses: Vec<String> = r.addresses.iter().map(|a| a.ip.clone()).collect();
        println!(
            "{:<24} {:<11} {:<10} {:<6} {:<24} {}",
            r.name,
            format!("{:?}", r.status),
            r.kubernetes_version,
            r.nodes,
            r.apiserver,
            addresses.join(", ")
        );
    }
    Ok(0)
}
