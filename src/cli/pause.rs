//! `localkube pause` / `unpause`: freeze the profile's containers (Docker's pause, the cgroup
//! freezer) so the cluster uses no CPU, and thaw them with every pod, address and connection as
//! it was. The order and the reasons are in `plan::pause`.

use anyhow::Result;
use serde::Serialize;

use super::Ctx;
use crate::effects::lock::lock_profile;
use crate::lifecycle::pause::{self, Outcome};

#[derive(Debug, clap::Args)]
pub struct Args {}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Report<'a> {
    profile: &'a str,
    containers: &'a [String],
    seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    leases_renewed: Option<bool>,
}

fn print(ctx: &Ctx, outcome: &Outcome) -> Result<()> {
    if ctx.json() {
        let report = Report {
            profile: ctx.profile.as_str(),
            containers: &outcome.containers,
            seconds: outcome.took.as_secs_f64(),
            leases_renewed: outcome.leases_renewed,
        };
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(())
}

pub fn run_pause(ctx: &Ctx, _args: Args) -> Result<u8> {
    let _lock = lock_profile(&ctx.home, &ctx.profile)?;
    // Refuses a profile that does not exist, with the hint to create it.
    ctx.home.profile(&ctx.profile).load_config()?;
    let step = ctx.ui.step(format!("Pausing profile '{}'", ctx.profile));
    let outcome = super::block_on(pause::pause_command(&ctx.home, &ctx.profile, &ctx.ui))?;
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            step.failed();
            return Err(e);
        }
    };
    if outcome.containers.is_empty() {
        step.done_with("nothing was running (`localkube status` shows why)");
    } else {
        step.done_with(format!(
            "{} containers frozen in {:.2} s; `localkube unpause` resumes them",
            outcome.containers.len(),
            outcome.took.as_secs_f64()
        ));
    }
    print(ctx, &outcome)?;
    Ok(0)
}

pub fn run_unpause(ctx: &Ctx, _args: Args) -> Result<u8> {
    let _lock = lock_profile(&ctx.home, &ctx.profile)?;
    let profile = ctx.home.profile(&ctx.profile);
    profile.load_config()?;
    let step = ctx.ui.step(format!("Unpausing profile '{}'", ctx.profile));
    let outcome = super::block_on(pause::unpause_command(&ctx.home, &ctx.profile))??;
    if outcome.containers.is_empty() {
        step.done_with("nothing was paused");
    } else {
        step.done_with(format!(
            "{} containers resumed in {:.2} s{}",
            outcome.containers.len(),
            outcome.took.as_secs_f64(),
            if outcome.leases_renewed == Some(false) {
                " (a kubelet had not renewed its lease in time: nodes may show NotReady briefly)"
            } else {
                ""
            }
        ));
    }
    print(ctx, &outcome)?;
    Ok(0)
}
