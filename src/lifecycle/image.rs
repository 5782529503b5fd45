//! `image load`: host images copied into a running cluster's nodes, and stored in its registry
//! when the registry addon is on.

use anyhow::{Result, bail};

use crate::effects::home::Home;
use crate::effects::{containers, docker, node_images, registry_auth};
use crate::plan::addons::REGISTRY_ADDON;
use crate::plan::profile_name::ProfileName;
use crate::ui::Ui;

/// Copies `images` from the host's Docker into every running node of the profile that lacks
/// them or holds another build under the tag (as `kind load`: loading again is quick, a rebuilt
/// image is loaded again), then into the profile's registry if it has one.
pub async fn load(home: &Home, profile: &ProfileName, images: &[String], ui: &Ui) -> Result<()> {
    let dir = home.profile(profile);
    let config = dir.load_config()?;
    let profile_dir = &dir.dir;
    let docker = docker::connect().await?;
    let docker = &docker;
    let nodes = docker::running_nodes(docker, profile).await?;
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
    for node in &nodes {
        let missing = node_images::missing_in_node(docker, node, images, &ids).await?;
        if missing.is_empty() {
            ui.info(format!("{node} already holds {}", images.join(", ")));
            continue;
        }
        let step = ui.step(format!("Loading {} into {node}", missing.join(", ")));
        node_images::load_images_into_node(docker, node, &missing).await?;
        step.done();
    }
    // With the registry addon, the images are stored there too: pods that pull them (`:latest`,
    // imagePullPolicy Always) get them through the nodes' docker.io or registry.k8s.io mirror.
    if config.addons.is_enabled(REGISTRY_ADDON)
        && let Some(port) = config.addons.registry_port
    {
        for image in images {
            let step = ui.step(format!("Storing {image} in the registry"));
            match crate::lifecycle::addons::push_to_registry(docker, profile_dir, port, image)
                .await?
            {
                Some(at) => step.done_with(at),
                None => step.done_with("not a docker.io or registry.k8s.io image: skipped"),
            }
        }
    }
    Ok(())
}

/// The images each running node holds, as crictl lists them: `(node, listing)`.
pub async fn list(home: &Home, profile: &ProfileName) -> Result<Vec<(String, String)>> {
    home.profile(profile).load_config()?;
    let docker = docker::connect().await?;
    let mut listed = Vec::new();
    for node in docker::running_nodes(&docker, profile).await? {
        let out = containers::exec_ok(&docker, &node, &["crictl", "images"]).await?;
        listed.push((node, out));
    }
    Ok(listed)
}

/// `docker login localhost:PORT` with the profile's registry password; returns the host.
pub fn login(home: &Home, profile: &ProfileName, ui: &Ui) -> Result<String> {
    let dir = home.profile(profile);
    let config = dir.load_config()?;
    let enable = format!("enable it first: `localkube -p {profile} addons enable registry`");
    let host = match crate::plan::addons::registry_host(&config) {
        Some(host) if config.addons.is_enabled(REGISTRY_ADDON) => host,
        _ => bail!("profile '{profile}' has no registry: {enable}"),
    };
    let Some(password) = registry_auth::read(&dir.dir) else {
        bail!("the registry of profile '{profile}' has no password yet: {enable}");
    };
    let step = ui.step(format!("Logging Docker in to {host}"));
    if let Err(e) = registry_auth::docker_login(&host, &password) {
        step.failed();
        return Err(e);
    }
    step.done();
    Ok(host)
}
