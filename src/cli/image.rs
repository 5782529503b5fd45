//! `localkube image load|ls`: images inside the cluster's nodes.

use anyhow::{Result, bail};

use super::Ctx;
use crate::effects::{containers, docker};
use crate::plan::names::Role;

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
    ctx.home.profile(&ctx.profile).load_config()?;
    super::block_on(async {
        let docker = docker::connect().await?;
        let nodes = running_nodes(ctx, &docker).await?;
        match args.command {
            ImageCommand::Load { images } => {
                let mut ids = Vec::new();
                for image in &images {
                    // A clear error for a typo, before any node is touched.
                    match docker.inspect_image(image).await {
                        Ok(info) => ids.push(info.id.unwrap_or_default()),
                        Err(_) => bail!(
                            "image '{image}' is not in the host's Docker: build it first \
                             (`docker build -t {image} .`) or check `docker images`"
                        ),
                    }
                }
                for node in &nodes {
                    // As `kind load`: a node that holds the same image ID is skipped, so loading
                    // again is quick, and a rebuilt image under the same tag is loaded again.
                    let mut missing = Vec::new();
                    for (image, id) in images.iter().zip(&ids) {
                        let held = containers::node_image_id(&docker, node, image).await?;
                        if held.as_deref() != Some(id.as_str()) {
                            missing.push(image.as_str());
                        }
                    }
                    if missing.is_empty() {
                        ctx.ui
                            .info(format!("{node} already holds {}", images.join(", ")));
                        continue;
                    }
                    let step = ctx
                        .ui
                        .step(format!("Loading {} into {node}", missing.join(", ")));
                    containers::load_images_into_node(&docker, node, &missing).await?;
                    step.done();
                }
                // With the registry addon, the images are stored there too: pods that pull them
                // (`:latest`, imagePullPolicy Always) get them through the nodes' docker.io or
                // registry.k8s.io mirror.
                let config = ctx.home.profile(&ctx.profile).load_config()?;
                if config
                    .addons
                    .is_enabled(crate::plan::addons::REGISTRY_ADDON)
                    && let Some(port) = config.addons.registry_port
                {
                    for image in &images {
                        let step = ctx.ui.step(format!("Storing {image} in the registry"));
                        match crate::lifecycle::addons::push_to_registry(&docker, port, image)
                            .await?
                        {
                            Some(at) => step.done_with(at),
                            None => {
                                step.done_with("not a docker.io or registry.k8s.io image: skipped")
                            }
                        }
                    }
                }
                Ok(0)
            }
            ImageCommand::Ls => {
                for node in &nodes {
                    let out = containers::exec_ok(&docker, node, &["crictl", "images"]).await?;
                    if nodes.len() > 1 {
                        println!("{node}:");
                    }
                    print!("{out}");
                }
                Ok(0)
            }
        }
    })?
}

/// The profile's node containers that run; an error saying how to start them when none does.
pub async fn running_nodes(ctx: &Ctx, docker: &bollard::Docker) -> Result<Vec<String>> {
    let nodes: Vec<String> = docker::profile_containers(docker, &ctx.profile)
        .await?
        .into_iter()
        .filter(|c| c.role == Role::Node.as_str() && c.state.is_running())
        .map(|c| c.name)
        .collect();
    if nodes.is_empty() {
        bail!(
            "profile '{}' has no running node: start it with `localkube start -p {}`",
            ctx.profile,
            ctx.profile
        );
    }
    Ok(nodes)
}
