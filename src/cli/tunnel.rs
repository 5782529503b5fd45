//! `localkube tunnel`: the LoadBalancer stand-in's view and foreground mode.

use anyhow::Result;

use super::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run in the foreground like `minikube tunnel`, removing the load balancers on Ctrl-C.
    #[arg(long)]
    pub foreground: bool,
}

pub fn run(_ctx: &Ctx, _args: Args) -> Result<u8> {
    super::not_available_yet(
        "tunnel",
        "the LoadBalancer stand-in (service URLs and tunnels)",
    )
}
