//! `image load`: host images copied into a running cluster's nodes, and stored in its registry
//! when the registry addon is on.

use anyhow::{Result, bail};
use bollard::Docker;

use crate::effects::{containers, node_images};
use crate::plan::addons::REGISTRY_ADDON;
use crate::plan::config::ProfileConfig;
use crate::ui::Ui;

/// Copies `images` from the host's Docker into every node of `nodes` that lacks them or holds
/// another build under the tag (as `kind load`: loading again is quick, a rebuilt image is loaded
/// again), then into the profile's registry if it has one.
pub async fn load(
    docker: &Docker,
    config: &ProfileConfig,
    nodes: &[String],
    images: &[String],
    ui: &Ui,
) -> Result<()> {
    let mut ids = Vec::new();
    for image in images {
        // A clear error for a typo, before any node is touched.
        let Ok(id) = containers::image_id(docker, image).await else {
            bail!(
                "image '{image}' is not in the host's Docker: build it first \
                 (`docker build -t {image} .`) or check `docker images`"
            );
        };
        ids.push(id);
    }
    for node in nodes {
        let missing = node_images::missing_in_node(docker, node, images, &ids).await?;
        if missing.is_empty() {
            ui.info(format!("{node} already holds {}", images.join(", ")));
            continue;
        }
        let step = ui.step(format!("Loading {} into {node}", missing.join(", ")));
        node_images::load_images_into_node(docker, node, &missing).await?;
        step.done();
    }
    // With the registry addon, the images are stored there too: pods that pull them (`:latest`)
    // get them through the nodes' docker.io mirror.
    if config.addons.is_enabled(REGISTRY_ADDON)
        && let Some(port) = config.addons.registry_port
    {
        for image in images {
            let step = ui.step(format!("Storing {image} in the registry"));
            match crate::lifecycle::addons::push_to_registry(docker, port, image).await? {
                Some(at) => step.done_with(at),
                None => step.done_with("not a Docker Hub image: skipped"),
            }
        }
    }
    Ok(())
}
