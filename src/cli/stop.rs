//! `localkube stop`: stop every container of the profile; volumes, network and files stay.

use anyhow::Result;

use super::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(ctx: &Ctx, _args: Args) -> Result<u8> {
    super::block_on(crate::lifecycle::stop::stop(
        &ctx.home,
        &ctx.profile,
        &ctx.ui,
    ))??;
    Ok(0)
}
