//! `localkube addons list|enable|disable`: the choice is stored in the profile (so it survives
//! stop/start); a running cluster gets the addon at once, a stopped one at its next start.

use anyhow::Result;
use serde::Serialize;

use super::Ctx;
use crate::effects::lock::lock_profile;
use crate::lifecycle::addons as lifecycle_addons;
use crate::plan::addons::{self, ADDONS};

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
        AddonsCommand::Enable { name } => enable(ctx, &name),
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
            address: (a.name == addons::REGISTRY_ADDON && config.addons.is_enabled(a.name))
                .then(|| addons::registry_host(&config))
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

/// `addons enable NAME`, also for `start --addons` of a cluster that already runs.
pub fn enable(ctx: &Ctx, name: &str) -> Result<u8> {
    change(ctx, name, true)
}

fn change(ctx: &Ctx, name: &str, on: bool) -> Result<u8> {
    let addon = addons::find(name)?;
    let _lock = lock_profile(&ctx.home, &ctx.profile)?;
    let dir = ctx.home.profile(&ctx.profile);
    let mut config = dir.load_config()?;
    let turned_on = if on {
        config.addons.set(name, true)?
    } else {
        // Addons that need this one go with it.
        let mut off = vec![addon.name];
        for other in ADDONS {
            if other.needs.contains(&addon.name) && config.addons.is_enabled(other.name) {
                off.insert(0, other.name);
            }
        }
        off
    };
    if on && config.addons.is_enabled(addons::REGISTRY_ADDON) {
        lifecycle_addons::choose_registry_port(&mut config)?;
    }
    let before = config.clone();
    // The ingress addon's address, once it serves: printed last, as the registry's host.
    let mut ingress = None;
    let result: Result<()> = super::block_on(async {
        let Some((facts, plan, docker, client)) =
            lifecycle_addons::connect(&dir, &ctx.profile, &config).await?
        else {
            ctx.ui.info(format!(
                "profile '{}' is not running: the addon is {} at its next start",
                ctx.profile,
                if on { "enabled" } else { "disabled" }
            ));
            return Ok(());
        };
        let todo: Vec<&addons::Addon> = turned_on
            .iter()
            .map(|n| addons::find(n))
            .collect::<Result<_>>()?;
        if on {
            lifecycle_addons::build_images(&docker, &ctx.home, &config, &todo, &ctx.ui).await?;
        }
        let cluster = lifecycle_addons::Cluster {
            profile: &ctx.profile,
            config: &config,
            facts: &facts,
            plan: &plan,
            docker: &docker,
            client: &client,
            ui: &ctx.ui,
        };
        for addon in todo {
            if on {
                let step = ctx.ui.step(format!("Enabling the {} addon", addon.name));
                lifecycle_addons::ensure(&cluster, addon).await?;
                step.done();
                if addon.name == addons::INGRESS_ADDON {
                    ingress = lifecycle_addons::ingress_address(&client).await?;
                }
                let usage = lifecycle_addons::usage(addon, &config, ingress);
                if !usage.is_empty() {
                    ctx.ui.info(format!("{}: {usage}", addon.name));
                }
            } else {
                let step = ctx.ui.step(format!("Disabling the {} addon", addon.name));
                lifecycle_addons::remove(&cluster, addon).await?;
                step.done();
            }
        }
        Ok(())
    })?;
    result?;
    if !on {
        for name in &turned_on {
            config.addons.set(name, false)?;
        }
    }
    if on || config != before {
        dir.save_config(&config)?;
    }
    if on
        && let Some(host) = addons::registry_host(&config)
        && addon.name == addons::REGISTRY_ADDON
    {
        println!("{host}");
    }
    if let Some(address) = ingress {
        println!("{address}");
    }
    Ok(0)
}
