//! `localkube version`.

use anyhow::Result;
use serde_json::json;

use super::Ctx;
use crate::plan::version::DEFAULT_KUBERNETES_VERSION;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(ctx: &Ctx, _args: Args) -> Result<u8> {
    let version = env!("CARGO_PKG_VERSION");
    if ctx.json() {
        println!(
            "{}",
            json!({ "localkube": version, "defaultKubernetesVersion": DEFAULT_KUBERNETES_VERSION })
        );
    } else {
        println!("localkube {version}");
        println!("default Kubernetes version: {DEFAULT_KUBERNETES_VERSION}");
    }
    Ok(0)
}
