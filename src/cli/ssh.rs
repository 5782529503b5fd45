//! `localkube ssh [-- CMD]`: a shell or a command in a node (crictl, ctr, iptables are there).

use std::io::IsTerminal;
use std::process::Command;

use anyhow::{Context, Result};

use super::Ctx;
use crate::effects::docker;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The node (default: the first).
    #[arg(short, long)]
    pub node: Option<String>,
    /// The command to run instead of a shell.
    #[arg(last = true)]
    pub command: Vec<String>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<u8> {
    ctx.home.profile(&ctx.profile).load_config()?;
    let nodes = super::block_on(async {
        let docker = docker::connect().await?;
        docker::running_nodes(&docker, &ctx.profile).await
    })??;
    let node = match &args.node {
        Some(n) if nodes.contains(n) => n.clone(),
        Some(n) => anyhow::bail!(
            "no running node '{n}' in profile '{}'; nodes: {}",
            ctx.profile,
            nodes.join(", ")
        ),
        None => nodes[0].clone(),
    };
    // An interactive terminal session (resizing, line discipline) is what the docker CLI does well;
    // bollard's exec has no terminal handling, so the shell is the docker CLI's `exec`.
    let mut cmd = Command::new("docker");
    cmd.arg("exec").arg("-i");
    if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
        cmd.arg("-t");
    }
    cmd.arg(&node);
    if args.command.is_empty() {
        cmd.arg("bash");
    } else {
        cmd.args(&args.command);
    }
    let status = cmd
        .status()
        .context("running `docker exec` (the docker CLI is needed for `localkube ssh`)")?;
    Ok(status.code().unwrap_or(1).clamp(0, 255) as u8)
}
