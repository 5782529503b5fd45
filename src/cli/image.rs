//! `localkube image load|ls`: images inside the cluster's nodes.

use anyhow::Result;

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
}

pub fn run(ctx: &Ctx, args: Args) -> Result<u8> {
    let config = ctx.home.profile(&ctx.profile).load_config()?;
    super::block_on(async {
        let docker = docker::connect().await?;
        let nodes = docker::running_nodes(&docker, &ctx.profile).await?;
        match args.command {
            ImageCommand::Load { images } => {
                lifecycle::image::load(&docker, &config, &nodes, &images, &ctx.ui).await?;
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
        }
        Ok(0)
    })?
}
