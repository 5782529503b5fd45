//! `localkube ssh [-- CMD]`: a shell or a command in a node (crictl, ctr, iptables are there).

use anyhow::Result;

use super::Ctx;

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
    super::block_on(crate::lifecycle::ssh::ssh(
        &ctx.home,
        &ctx.profile,
        args.node.as_deref(),
        &args.command,
    ))?
}
