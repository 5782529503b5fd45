//! `localkube kubectl -- ARGS`: the kubectl built for the profile's Kubernetes version, with the
//! profile's admin credentials, whatever kubectl's current context is.

use std::process::Command;

use anyhow::{Context, Result, bail};

use super::Ctx;
use crate::effects::image_build;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Arguments passed to kubectl unchanged.
    #[arg(last = true)]
    pub args: Vec<String>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<u8> {
    let profile = ctx.home.profile(&ctx.profile);
    let config = profile.load_config()?;
    let kubectl = image_build::kubectl_path(ctx.home.cache(), &config.kubernetes_version);
    if !kubectl.is_file() {
        bail!(
            "no kubectl {} in {}: build it with `localkube images build --kubernetes-version {}`",
            config.kubernetes_version,
            ctx.home.cache().display(),
            config.kubernetes_version
        );
    }
    let status = Command::new(&kubectl)
        .args(&args.args)
        // The profile's own admin kubeconfig: `localkube kubectl` always talks to this profile.
        .env("KUBECONFIG", profile.admin_kubeconfig())
        .status()
        .with_context(|| format!("running {}", kubectl.display()))?;
    Ok(status.code().unwrap_or(1).clamp(0, 255) as u8)
}
