//! Hidden verbs run inside localkube's own containers: `lb-controller` and `lb-proxy` (see
//! `crate::lb`). Users never type them; the containers' command lines do.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use anyhow::{Context, Result};

use super::Ctx;
use super::block_on;
use crate::lb;
use crate::lb::proxy::{Forward, parse_forward};
use crate::plan::config::ProfileConfig;

/// The profile whose services and containers it manages is the global `--profile`.
#[derive(Debug, clap::Args)]
pub struct ControllerArgs {
    /// The profile's config.yaml (for its address pool and network).
    #[arg(long)]
    pub config: PathBuf,
    /// Kubeconfig of the controller's own identity.
    #[arg(long)]
    pub kubeconfig: PathBuf,
    /// The image proxies run (the controller's own).
    #[arg(long)]
    pub image: String,
}

#[derive(Debug, clap::Args)]
pub struct ProxyArgs {
    /// PORT:NODEPORT, once per service port.
    #[arg(long = "listen", value_parser = parse_forward)]
    pub listens: Vec<Forward>,
    /// A node address to forward to; repeat for each node.
    #[arg(long = "backend")]
    pub backends: Vec<Ipv4Addr>,
}

pub fn run_controller(ctx: &Ctx, args: ControllerArgs) -> Result<u8> {
    let text = std::fs::read_to_string(&args.config)
        .with_context(|| format!("reading {}", args.config.display()))?;
    let config: ProfileConfig = crate::yaml::from_str(&text)?;
    block_on(lb::controller::run(
        ctx.profile.clone(),
        config,
        &args.kubeconfig,
        args.image,
        false,
    ))??;
    Ok(0)
}

pub fn run_proxy(args: ProxyArgs) -> Result<u8> {
    block_on(lb::proxy::run(args.listens, args.backends))??;
    Ok(0)
}
