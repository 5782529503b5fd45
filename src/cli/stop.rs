//! `localkube stop`: stop every container of the profile; volumes, network and files stay.

use anyhow::Result;

use super::Ctx;
use crate::effects::docker;
use crate::effects::lock::lock_profile;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(ctx: &Ctx, _args: Args) -> Result<u8> {
    let _lock = lock_profile(&ctx.home, &ctx.profile)?;
    // Refuses a profile that does not exist, with the hint to create it.
    ctx.home.profile(&ctx.profile).load_config()?;
    // Docker would skip frozen containers, or kill them at the timeout: thawed first, every
    // component exits by itself.
    super::block_on(crate::lifecycle::pause::unpause_first(
        &ctx.home,
        &ctx.profile,
        &ctx.ui,
        "so each component exits by itself",
    ))??;
    let step = ctx.ui.step(format!("Stopping profile '{}'", ctx.profile));
    let stopped = super::block_on(async {
        let docker = docker::connect().await?;
        docker::stop_profile(&docker, &ctx.profile).await
    })??;
    if stopped.is_empty() {
        step.done_with("nothing was running");
    } else {
        step.done_with(format!("{} containers stopped", stopped.len()));
    }
    Ok(0)
}
