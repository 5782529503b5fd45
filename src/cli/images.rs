//! `localkube images build|ls`: arrives with the images work.
use super::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_ctx: &Ctx, _args: Args) -> anyhow::Result<u8> {
    super::not_available_yet("images", "the component images work")
}
