//! Images inside a node's containerd: which of them a node holds, and copying the host Docker's
//! into it (`docker save` streamed into `ctr images import`), as `kind load docker-image` does.

use anyhow::{Context, Result, bail};
use bollard::Docker;

use crate::effects::containers;

/// Copies images from the host's Docker into a node's containerd (docker save → ctr import), as
/// `kind load docker-image` does. The k8s.io namespace is the one kubelet's CRI uses.
pub async fn load_images_into_node(docker: &Docker, node: &str, images: &[&str]) -> Result<()> {
    import_images(docker, node, images, &[]).await
}

/// `docker save` of `images` streamed into `ctr images import` in the container, with `flags`.
pub async fn import_images(
    docker: &Docker,
    node: &str,
    images: &[&str],
    flags: &[&str],
) -> Result<()> {
    let tar = crate::effects::docker::for_transfers(docker).export_images(images);
    let mut command = vec![
        "ctr",
        "--namespace=k8s.io",
        "images",
        "import",
        "--all-platforms",
    ];
    command.extend(flags);
    command.push("-");
    let out = containers::exec(docker, node, &command, Some(Box::pin(tar))).await?;
    if out.exit_code != 0 {
        bail!(
            "importing {} into node {node} failed: {}",
            images.join(", "),
            out.output.trim()
        );
    }
    Ok(())
}

/// The ID (config digest) of an image in a node's containerd, as the CRI reports it, or `None`
/// when the node does not hold it. Docker's image ID is the same digest, so equal IDs mean the
/// node already has exactly this image.
pub async fn node_image_id(docker: &Docker, node: &str, image: &str) -> Result<Option<String>> {
    let out = containers::exec(
        docker,
        node,
        &["crictl", "inspecti", "-o", "json", image],
        None,
    )
    .await?;
    if out.exit_code != 0 {
        return Ok(None);
    }
    let start = out.output.find('{').unwrap_or(0);
    let info: serde_json::Value = serde_json::from_str(&out.output[start..])
        .with_context(|| format!("reading crictl inspecti of {image} in {node}"))?;
    Ok(info["status"]["id"].as_str().map(str::to_string))
}

/// Of `tags` (with their IDs in the host's Docker, `ids`), those `node` lacks or holds another
/// build of: the node's image IDs are compared with Docker's, all at once.
pub async fn missing_in_node<'a>(
    docker: &Docker,
    node: &str,
    tags: &'a [String],
    ids: &[String],
) -> Result<Vec<&'a str>> {
    let held =
        futures_util::future::try_join_all(tags.iter().map(|tag| node_image_id(docker, node, tag)))
            .await?;
    Ok(tags
        .iter()
        .zip(ids)
        .zip(&held)
        .filter(|((_, id), held)| held.as_deref() != Some(id.as_str()))
        .map(|((tag, _), _)| tag.as_str())
        .collect())
}

/// Copies into one node, in one import, the images of localkube's (tags) it lacks or holds
/// another build of.
pub async fn load_missing_into_node(docker: &Docker, node: &str, tags: &[String]) -> Result<()> {
    let mut ids = Vec::new();
    for tag in tags {
        let id = containers::image_id(docker, tag).await.with_context(|| {
            format!("the image {tag} is not built: run `localkube images build`")
        })?;
        ids.push(id);
    }
    let missing = missing_in_node(docker, node, tags, &ids).await?;
    if !missing.is_empty() {
        load_images_into_node(docker, node, &missing).await?;
    }
    Ok(())
}
