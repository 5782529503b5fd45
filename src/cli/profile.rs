//! `localkube profile list`.

use anyhow::Result;
use serde_json::json;

use super::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: ProfileCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum ProfileCommand {
    /// List the profiles on this machine.
    List,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<u8> {
    match args.command {
        ProfileCommand::List => list(ctx),
    }
}

fn list(ctx: &Ctx) -> Result<u8> {
    let mut rows = Vec::new();
    for name in ctx.home.list_profiles()? {
        let config = ctx.home.profile(&name).load_config()?;
        rows.push((name, config));
    }
    if ctx.json() {
        let list: Vec<_> = rows
            .iter()
            .map(|(name, c)| {
                json!({
                    "name": name.as_str(),
                    "kubernetesVersion": c.kubernetes_version,
                    "nodes": c.nodes.count(),
                    "apiserver": format!("https://127.0.0.1:{}", c.apiserver_port),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(0);
    }
    if rows.is_empty() {
        ctx.ui
            .info("No profiles yet: `localkube start` creates the default one.");
        return Ok(0);
    }
    println!(
        "{:<24} {:<10} {:<6} APISERVER",
        "PROFILE", "VERSION", "NODES"
    );
    for (name, c) in rows {
        println!(
            "{:<24} {:<10} {:<6} https://127.0.0.1:{}",
            name.as_str(),
            c.kubernetes_version,
            c.nodes.count(),
            c.apiserver_port
        );
    }
    Ok(0)
}
