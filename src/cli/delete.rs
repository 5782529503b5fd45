//! `localkube delete`: remove a profile's containers, network, volumes, files and kubeconfig
//! entries — only what carries the profile's label, never anything else.

use anyhow::Result;

use super::Ctx;
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
    let step = ctx.ui.step(format!("Deleting profile '{profile}'"));
    let deleted = super::block_on(crate::lifecycle::delete::delete(&ctx.home, profile))??;
    if deleted.nothing() {
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
        deleted.containers,
        deleted.networks,
        deleted.volumes,
        if deleted.kubeconfig {
            ", kubeconfig entries"
        } else {
            ""
        }
    ));
    Ok(())
}
