//! `localkube logs [COMPONENT] [-f]`: a component's output, as Docker keeps it.

use anyhow::{Result, bail};

use super::Ctx;
use crate::effects::{containers, docker};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// etcd, apiserver, controller-manager, scheduler, node, or a node's name (default: all).
    pub component: Option<String>,
    /// Keep following the logs.
    #[arg(short, long)]
    pub follow: bool,
    /// Only the last N lines of each component.
    #[arg(long, default_value_t = 200)]
    pub tail: usize,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<u8> {
    ctx.home.profile(&ctx.profile).load_config()?;
    super::block_on(async {
        let docker = docker::connect().await?;
        let all = docker::profile_containers(&docker, &ctx.profile).await?;
        let chosen: Vec<_> = match &args.component {
            None => all.iter().collect(),
            Some(c) => all
                .iter()
                .filter(|x| &x.role == c || &x.name == c)
                .collect(),
        };
        if chosen.is_empty() {
            let known: Vec<&str> = all.iter().map(|c| c.role.as_str()).collect();
            bail!(
                "no component '{}' in profile '{}'; components: {}",
                args.component.as_deref().unwrap_or("(any)"),
                ctx.profile,
                if known.is_empty() {
                    "none (start the profile first)".to_string()
                } else {
                    known.join(", ")
                }
            );
        }
        if args.follow && chosen.len() > 1 {
            bail!("--follow needs one component: name it, e.g. `localkube logs apiserver -f`");
        }
        for c in chosen {
            if args.component.is_none() {
                println!("==> {} ({}) <==", c.name, c.role);
            }
            containers::write_logs(
                &docker,
                &c.name,
                args.tail,
                args.follow,
                &mut std::io::stdout(),
            )
            .await?;
        }
        Ok(0)
    })?
}
