//! `localkube addons list|enable|disable`.

use anyhow::Result;

use super::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: AddonsCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum AddonsCommand {
    /// List the addons and whether each is enabled.
    List,
    /// Enable an addon in the profile's cluster.
    Enable { name: String },
    /// Disable an addon in the profile's cluster.
    Disable { name: String },
}

pub fn run(_ctx: &Ctx, _args: Args) -> Result<u8> {
    super::not_available_yet("addons", "the cluster work (CoreDNS is the first addon)")
}
