//! `localkube version`.

use anyhow::Result;
use serde_json::json;

use super::Ctx;
use crate::plan::version::{DEFAULT_KUBERNETES_VERSION, RELEASES, latest, stable};

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(ctx: &Ctx, _args: Args) -> Result<u8> {
    let version = env!("CARGO_PKG_VERSION");
    if ctx.json() {
        let releases: Vec<_> = RELEASES
            .iter()
            .map(|r| json!({ "minor": format!("1.{}", r.minor), "pinned": r.pinned, "verified": r.verified }))
            .collect();
        println!(
            "{}",
            json!({
                "localkube": version,
                "defaultKubernetesVersion": DEFAULT_KUBERNETES_VERSION,
                "stable": stable().pinned,
                "latest": latest().pinned,
                "supported": releases,
            })
        );
    } else {
        println!("localkube {version}");
        println!("default Kubernetes version: {DEFAULT_KUBERNETES_VERSION}");
        println!(
            "supported (--kubernetes-version): {} (stable = {}, latest = {})",
            RELEASES
                .iter()
                .map(|r| format!(
                    "{}{}",
                    r.pinned,
                    if r.verified { "" } else { " (unverified)" }
                ))
                .collect::<Vec<_>>()
                .join(", "),
            stable().pinned,
            latest().pinned
        );
    }
    Ok(0)
}
