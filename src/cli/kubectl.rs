//! `localkube kubectl -- ARGS`: the version-matched kubectl against the profile.

use anyhow::Result;

use super::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Arguments passed to kubectl unchanged.
    #[arg(last = true)]
    pub args: Vec<String>,
}

pub fn run(_ctx: &Ctx, _args: Args) -> Result<u8> {
    super::not_available_yet("kubectl", "the cluster work")
}
