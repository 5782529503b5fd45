//! `localkube doctor`: the checks `start` runs before it creates anything, on demand, each with
//! its verdict and, for a problem, the command that fixes it.

use anyhow::Result;

use super::Ctx;
use crate::lifecycle::preflight;
use crate::plan::preflight::{Severity, check};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Judge for this many nodes (default: the profile's, or 1 for a profile not yet created).
    #[arg(long)]
    pub nodes: Option<u32>,
}

/// Exit code 1 when a problem would stop `start`, 0 otherwise (warnings included).
pub fn run(ctx: &Ctx, args: Args) -> Result<u8> {
    let mut intent = preflight::intent(&ctx.home, &ctx.profile, args.nodes, None, false, None);
    if let Some(nodes) = args.nodes {
        intent.nodes = nodes;
    }
    let facts = super::block_on(preflight::gather(&ctx.home, &ctx.profile, &intent))?;
    let findings = check(&facts, &intent);
    let blocking = findings.iter().any(|f| f.severity == Severity::Blocking);
    if ctx.json() {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "profile": ctx.profile.as_str(),
                "nodes": intent.nodes,
                "ready": !blocking,
                "findings": findings,
                "facts": facts,
                "time_factor": crate::effects::pace::factor(),
                "pace_measured": crate::effects::pace::measured().map(|m| serde_json::json!({
                    "host_ms": m.host.as_secs_f64() * 1000.0,
                    "docker_round_trip_ms": m.docker.map(|d| d.as_secs_f64() * 1000.0),
                })),
                "pace_kept_in": crate::effects::pace::kept_in(),
            }))?
        );
    } else {
        for f in &findings {
            println!("{}", f.line());
        }
        let warnings = findings
            .iter()
            .filter(|f| f.severity == Severity::Warning)
            .count();
        println!(
            "{}",
            if blocking {
                "`localkube start` would refuse: fix the problems above first.".to_string()
            } else {
                format!("`localkube start` can run here ({warnings} warning(s)).")
            }
        );
    }
    Ok(u8::from(blocking))
}
