//! `localkube addons list|enable|disable`: the choice is stored in the profile (so it survives
//! stop/start); a running cluster gets the addon at once, a stopped one at its next start. The
//! work is `lifecycle::addons::change`; this prints what it reports.

use anyhow::Result;
use serde::Serialize;

use super::Ctx;
use crate::lifecycle::addons as lifecycle_addons;
use crate::plan::addons::ADDONS;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: AddonsCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum AddonsCommand {
    /// List the addons and whether each is enabled.
    List,
    /// Enable an addon in the profile's cluster (its image is built on first enable).
    Enable { name: String },
    /// Disable an addon: removes what enabling it created.
    Disable { name: String },
}

#[derive(Debug, Serialize)]
struct Listed {
    name: &'static str,
    enabled: bool,
    default: bool,
    description: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<String>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<u8> {
    match args.command {
        AddonsCommand::List => list(ctx),
        AddonsCommand::Enable { name } => change(ctx, &name, true),
        AddonsCommand::Disable { name } => change(ctx, &name, false),
    }
}

fn list(ctx: &Ctx) -> Result<u8> {
    let config = ctx.home.profile(&ctx.profile).load_config()?;
    let listed: Vec<Listed> = ADDONS
        .iter()
        .map(|a| Listed {
            name: a.name,
            enabled: config.addons.is_enabled(a.name),
            default: a.default_on,
            description: a.description,
            address: config
                .addons
                .is_enabled(a.name)
                .then(|| a.host_address(&config))
                .flatten(),
        })
        .collect();
    if ctx.json() {
        println!("{}", serde_json::to_string_pretty(&listed)?);
        return Ok(0);
    }
    println!(
        "{:<22} {:<9} {:<8} DESCRIPTION",
        "NAME", "STATUS", "DEFAULT"
    );
    for a in &listed {
        println!(
            "{:<22} {:<9} {:<8} {}{}",
            a.name,
            if a.enabled { "enabled" } else { "disabled" },
            if a.default { "on" } else { "off" },
            a.description,
            a.address
                .as_ref()
                .map(|h| format!(" ({h})"))
                .unwrap_or_default()
        );
    }
    Ok(0)
}

fn change(ctx: &Ctx, name: &str, on: bool) -> Result<u8> {
    let changed = super::block_on(lifecycle_addons::change(
        &ctx.home,
        &ctx.profile,
        &ctx.ui,
        name,
        on,
        lifecycle_addons::Lock::Take,
    ))??;
    for address in &changed.addresses {
        println!("{address}");
    }
    Ok(0)
}
