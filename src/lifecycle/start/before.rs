//! The rows before anything of the profile is made: the request's settings checked, an earlier
//! failed start's leftovers removed, a paused profile resumed, the host checked, an image archive
//! loaded. They run under the profile's lock, and Ctrl-C stops them as it stops any other row.

use anyhow::{Context, Result};

use super::context::StartContext;
use super::created::Leftovers;
use super::{profile, runner};
use crate::effects::docker;
use crate::effects::image_build::archive;
use crate::lifecycle::{pause, preflight};

pub(super) async fn check_settings(ctx: &mut StartContext<'_>) -> Result<()> {
    profile::check_settings(ctx.home, ctx.profile, &ctx.request)
}

/// Removes what an earlier start's roll-back could not remove (`created::Leftovers`, kept on
/// file). A dry run touches no Docker.
pub(super) async fn remove_leftovers(ctx: &mut StartContext<'_>) -> Result<()> {
    let path = ctx.home.leftovers_path(ctx.profile);
    let Some(earlier) = Leftovers::load(&path)?.filter(|_| !ctx.request.dry_run) else {
        return Ok(());
    };
    let docker = docker::connect().await?;
    let step = ctx.ui.step("Removing what an earlier failed start left");
    let mut recorded = earlier.remaining.clone();
    // A profile made by that start and gone since owns nothing older: its label is enough.
    recorded.profile = earlier.remaining.profile && !ctx.dir.exists();
    match runner::remove_created(&docker, ctx.profile, &recorded).await {
        None => {
            std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
            step.done();
            Ok(())
        }
        Some(left) => {
            step.failed();
            left.save(&path)?;
            anyhow::bail!(
                "an earlier failed start left objects this one could not remove either: {}",
                left.describe(ctx.profile)
            )
        }
    }
}

pub(super) async fn unpause(ctx: &mut StartContext<'_>) -> Result<()> {
    if !ctx.request.dry_run && ctx.dir.exists() {
        pause::unpause_first(ctx.home, ctx.profile, ctx.ui, "`start` resumes it").await?;
    }
    Ok(())
}

/// A dry run asks no Docker.
pub(super) async fn preflight(ctx: &mut StartContext<'_>) -> Result<()> {
    if ctx.request.dry_run {
        return Ok(());
    }
    let intent = preflight::intent(
        ctx.home,
        ctx.profile,
        ctx.request.nodes,
        ctx.request.apiserver_port,
        ctx.request.add_node,
        ctx.request.networking.ip_family,
    );
    preflight::before_start(ctx.home, ctx.profile, ctx.ui, &intent).await
}

/// `--images FILE`: the archive's images loaded (a dry run, which touches no Docker, only checks
/// it), and its Kubernetes version for a new profile that asked for none.
pub(super) async fn image_archive(ctx: &mut StartContext<'_>) -> Result<()> {
    let Some(file) = ctx.request.images_archive.clone() else {
        return Ok(());
    };
    let loaded = if ctx.request.dry_run {
        archive::verify(&file)?
    } else {
        archive::load(&docker::connect().await?, ctx.home.cache(), &file, ctx.ui).await?
    };
    if ctx.request.kubernetes_version.is_none() && !ctx.dir.exists() {
        ctx.request.kubernetes_version = Some(loaded.kubernetes_version);
    }
    Ok(())
}
