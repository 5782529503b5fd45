//! `localkube delete`: remove a profile's containers, network, volumes, files and kubeconfig
//! entries — only what carries the profile's label, never anything else.

use anyhow::{Context, Result};

use super::Ctx;
use crate::effects::lock::lock_profile;
use crate::effects::{docker, kubeconfig_store};
use crate::plan::profile_name::ProfileName;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Delete every profile under this localkube home.
    #[arg(long)]
    pub all: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<u8> {
    let profiles = if args.all {
        ctx.home.list_profiles()?
    } else {
        vec![ctx.profile.clone()]
    };
    if args.all && profiles.is_empty() {
        ctx.ui.info("No profiles to delete.");
        return Ok(0);
    }
    for profile in &profiles {
        delete_one(ctx, profile)?;
    }
    Ok(0)
}

fn delete_one(ctx: &Ctx, profile: &ProfileName) -> Result<()> {
    let _lock = lock_profile(&ctx.home, profile)?;
    let dir = ctx.home.profile(profile);
    let step = ctx.ui.step(format!("Deleting profile '{profile}'"));
    // Docker first: if it does not answer, nothing is touched and the error says how to fix it.
    let removed = super::block_on(async {
        let docker = docker::connect().await?;
        docker::remove_profile(&docker, profile).await
    })??;
    let had_kubeconfig = kubeconfig_store::remove_from_user(profile)?;
    // A failed start's list of what it could not remove: all of it is removed above.
    let leftovers = ctx.home.leftovers_path(profile);
    if leftovers.exists() {
        std::fs::remove_file(&leftovers)
            .with_context(|| format!("removing {}", leftovers.display()))?;
    }
    let had_files = dir.dir.exists();
    dir.remove()?;
    if removed.containers.is_empty()
        && removed.networks.is_empty()
        && removed.volumes.is_empty()
        && !had_kubeconfig
        && !had_files
    {
        step.skipped("nothing to delete");
        if ctx.profile == *profile {
            ctx.ui.info(format!(
                "Profile '{profile}' does not exist; nothing was deleted."
            ));
        }
        return Ok(());
    }
    step.done_with(format!(
        "{} containers, {} networks, {} volumes{}",
        removed.containers.len(),
        removed.networks.len(),
        removed.volumes.len(),
        if had_kubeconfig {
            ", kubeconfig entries"
        } else {
            ""
        }
    ));
    Ok(())
}
