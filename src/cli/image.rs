//! `localkube image load|ls|login`: images inside the cluster's nodes, and Docker's login to the
//! profile's registry.

use anyhow::Result;

use super::Ctx;
use crate::lifecycle::image;

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
    match args.command {
        ImageCommand::Load { images } => {
            super::block_on(image::load(&ctx.home, &ctx.profile, &images, &ctx.ui))??;
        }
        ImageCommand::Ls => {
            let listed = super::block_on(image::list(&ctx.home, &ctx.profile))??;
            for (node, images) in &listed {
                if listed.len() > 1 {
                    println!("{node}:");
                }
                print!("{images}");
            }
        }
        ImageCommand::Login => {
            println!("{}", image::login(&ctx.home, &ctx.profile, &ctx.ui)?);
        }
    }
    Ok(0)
}
