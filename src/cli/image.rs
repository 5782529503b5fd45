//! `localkube image load|ls|login`: images inside the cluster's nodes, and Docker's login to the
//! profile's registry.

use anyhow::{Result, bail};

use super::Ctx;
use crate::effects::{containers, docker};
use crate::lifecycle;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: ImageCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum ImageCommand {
    /// Copy images from the host's Docker into every node (replacing a stale tag), so pods can use
    /// them with `imagePullPolicy: Never` or `IfNotPresent` and no registry.
    Load {
        /// Image references as the host's Docker knows them (`docker images`).
        #[arg(required = true)]
        images: Vec<String>,
    },
    /// List the images in the nodes.
    Ls,
    /// Log the host's Docker in to the profile's registry (the registry addon), so that
    /// `docker push localhost:PORT/IMAGE` works: runs `docker login` with the profile's registry
    /// password on its standard input.
    Login,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<u8> {
    let config = ctx.home.profile(&ctx.profile).load_config()?;
    if let ImageCommand::Login = args.command {
        return login(ctx, &config);
    }
    super::block_on(async {
        let docker = docker::connect().await?;
        let nodes = docker::running_nodes(&docker, &ctx.profile).await?;
        match args.command {
            ImageCommand::Load { images } => {
                let dir = &ctx.home.profile(&ctx.profile).dir;
                lifecycle::image::load(&docker, &config, dir, &nodes, &images, &ctx.ui).await?;
            }
            ImageCommand::Ls => {
                for node in &nodes {
                    let out = containers::exec_ok(&docker, node, &["crictl", "images"]).await?;
                    if nodes.len() > 1 {
                        println!("{node}:");
                    }
                    print!("{out}");
                }
            }
            ImageCommand::Login => unreachable!("handled above"),
        }
        Ok(0)
    })?
}

/// `docker login localhost:PORT` with the profile's registry password.
fn login(ctx: &Ctx, config: &crate::plan::config::ProfileConfig) -> Result<u8> {
    let enable = format!(
        "enable it first: `localkube -p {} addons enable registry`",
        ctx.profile
    );
    let host = match crate::plan::addons::registry_host(config) {
        Some(host)
            if config
                .addons
                .is_enabled(crate::plan::addons::REGISTRY_ADDON) =>
        {
            host
        }
        _ => bail!("profile '{}' has no registry: {enable}", ctx.profile),
    };
    let dir = &ctx.home.profile(&ctx.profile).dir;
    let Some(password) = crate::effects::registry_auth::read(dir) else {
        bail!(
            "the registry of profile '{}' has no password yet: {enable}",
            ctx.profile
        );
    };
    let step = ctx.ui.step(format!("Logging Docker in to {host}"));
    if let Err(e) = crate::effects::registry_auth::docker_login(&host, &password) {
        step.failed();
        return Err(e);
    }
    step.done();
    println!("{host}");
    Ok(0)
}
