//! The images every node needs, loaded into the nodes in the background from the `Containers`
//! step on, and awaited by the steps that need them.

use std::time::Duration;

use anyhow::{Context, Result};
use bollard::Docker;
use futures_util::future::try_join_all;

use super::context::{NodeImages, StartContext, WithLogs};
use crate::effects::{containers, kube_api, node_images};
use crate::plan::cluster::ContainerSpec;
use crate::plan::images::Image;
use crate::plan::{addons, names};

/// Starts loading the images every node needs into the nodes, in the background: containerd
/// comes up while etcd and the apiserver boot.
pub(super) async fn load_node_images_in_background(
    ctx: &mut StartContext<'_>,
    nodes: &[ContainerSpec],
) -> Result<()> {
    let docker = ctx.docker().clone();
    // The enabled addons' images too, with those `--addons` turns on (their errors are the addons
    // step's to report); an image not built yet is built and loaded by that step.
    let mut choices = ctx.config().addons.clone();
    for name in &ctx.request.addons {
        let _ = choices.set(name, true);
    }
    let version = ctx.config().kubernetes_version.clone();
    let (mut needed, mut later) = (Vec::new(), Vec::new());
    for image in addons::node_images(&choices.enabled_addons()) {
        let tag = names::image(image.name(), &version);
        if image.row().every_node || containers::image_exists(&docker, &tag).await {
            if image.row().needed_by_start {
                needed.push(tag);
            } else {
                later.push(tag);
            }
        }
    }
    ctx.node_image_tags = needed.iter().chain(&later).cloned().collect();
    // A node whose /var volume this start made holds the node image's own store, preloaded
    // images included, exactly as built: nothing of those to check, nor any need to wait for
    // its containerd (with three nodes, the last one's came up 1.4 s after the others').
    let preloaded: Vec<String> = Image::Node
        .preloaded()
        .iter()
        .map(|image| names::image(image.name(), &version))
        .collect();
    let loads: Vec<NodeLoad> = nodes
        .iter()
        .map(|spec| {
            let fresh = ctx
                .created
                .volumes
                .contains(&names::node_volume(&spec.hostname));
            let wanted = |tags: &[String]| -> Vec<String> {
                tags.iter()
                    .filter(|tag| !(fresh && preloaded.contains(tag)))
                    .cloned()
                    .collect()
            };
            NodeLoad {
                node: spec.name.clone(),
                needed: wanted(&needed),
                later: wanted(&later),
            }
        })
        .filter(|load| !load.needed.is_empty() || !load.later.is_empty())
        .collect();
    let (loaded, needed_loaded) = tokio::sync::oneshot::channel();
    let all = tokio::spawn(async move {
        try_join_all(
            loads
                .iter()
                .map(|load| load_node_images(&docker, &load.node, &load.needed)),
        )
        .await?;
        let _ = loaded.send(());
        try_join_all(
            loads
                .iter()
                .map(|load| node_images::load_missing_into_node(&docker, &load.node, &load.later)),
        )
        .await?;
        Ok(())
    });
    ctx.node_images = Some(NodeImages {
        needed: Some(needed_loaded),
        all,
    });
    Ok(())
}

/// The images one node gets in the background: those pods of `start` need, then the rest.
pub(super) struct NodeLoad {
    node: String,
    needed: Vec<String>,
    later: Vec<String>,
}

/// Waits until the node's containerd answers, then loads the images it lacks.
pub(super) async fn load_node_images(docker: &Docker, node: &str, tags: &[String]) -> Result<()> {
    kube_api::wait_for(
        "containerd answering in the node",
        Duration::from_secs(60),
        || async {
            let out = containers::exec(docker, node, &["ctr", "version"], None).await?;
            Ok((out.exit_code == 0).then_some(()))
        },
    )
    .await
    .with_logs(docker, node)
    .await?;
    node_images::load_missing_into_node(docker, node, tags)
        .await
        .with_context(|| format!("loading images into node {node}"))
}

/// Waits until the nodes hold the images the pods of `start` run (all of them with `all`).
pub(super) async fn node_images_loaded(ctx: &mut StartContext<'_>, all: bool) -> Result<()> {
    let Some(loading) = ctx.node_images.as_mut() else {
        return Ok(());
    };
    if !all {
        // In now, or before (a failure takes the whole load away); else its error below.
        let failed = match loading.needed.take() {
            Some(needed) => needed.await.is_err(),
            None => false,
        };
        if !failed {
            return Ok(());
        }
    }
    // Everything asked for, or the load failed: its outcome says which.
    let loading = ctx.node_images.take().expect("checked above");
    let step = ctx.ui.step("Loading images into the nodes");
    loading
        .all
        .await
        .context("loading images into the nodes")??;
    step.done();
    Ok(())
}
