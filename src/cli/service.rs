//! `localkube service`: URLs of a service that answer from the host.

use anyhow::Result;

use super::Ctx;

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<ServiceCommand>,
    /// The service's name.
    pub name: Option<String>,
    /// The service's namespace.
    #[arg(short, long, default_value = "default")]
    pub namespace: String,
    /// Only print the URLs; do not open a browser.
    #[arg(long)]
    pub url: bool,
    /// Every service in the namespace.
    #[arg(long)]
    pub all: bool,
    /// Wait up to this many seconds for a ready pod behind the service.
    #[arg(long, value_name = "SECONDS")]
    pub wait: Option<u64>,
}

#[derive(Debug, clap::Subcommand)]
pub enum ServiceCommand {
    /// List services and their URLs.
    List {
        /// Only this namespace (default: all).
        #[arg(short, long)]
        namespace: Option<String>,
    },
}

pub fn run(_ctx: &Ctx, _args: Args) -> Result<u8> {
    super::not_available_yet(
        "service",
        "the LoadBalancer stand-in (service URLs and tunnels)",
    )
}
