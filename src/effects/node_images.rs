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

/// What a node's containerd calls the image a tag names, for a comparison with Docker's image ID:
/// the config digest the CRI reports as the image's ID (Docker's ID on its classic store), and the
/// digests of the manifests or indexes recorded under the image's names (Docker's ID on its
/// containerd image store, which `docker save` carries into `ctr import`). Empty when the node
/// does not hold the tag.
pub async fn node_image_ids(docker: &Docker, node: &str, image: &str) -> Result<Vec<String>> {
    // One exec: crictl resolves the tag as kubelet will; ctr lists the records' digests.
    let script = format!(
        "crictl inspecti -o json \"$1\" || exit 0; echo '{NODE_IMAGE_SEPARATOR}'; \
         ctr --namespace=k8s.io images ls"
    );
    let out = containers::exec(docker, node, &["sh", "-c", &script, "sh", image], None).await?;
    if out.exit_code != 0 {
        bail!(
            "listing the images of node {node} failed: {}",
            out.output.trim()
        );
    }
    parse_node_image_ids(&out.output)
        .with_context(|| format!("reading crictl inspecti of {image} in {node}"))
}

/// Between crictl's and ctr's output in [`node_image_ids`].
const NODE_IMAGE_SEPARATOR: &str = "--- ctr images ls ---";

/// [`node_image_ids`]'s reading of `crictl inspecti -o json`, the separator, and `ctr images ls`
/// (its columns: REF TYPE DIGEST ...). No separator: crictl found no such image.
fn parse_node_image_ids(output: &str) -> Result<Vec<String>> {
    let Some((crictl, ctr)) = output.split_once(NODE_IMAGE_SEPARATOR) else {
        return Ok(Vec::new());
    };
    // The first JSON value; crictl's own warnings (on stderr, which the exec interleaves) may
    // follow it.
    let start = crictl.find('{').unwrap_or(0);
    let info: serde_json::Value = serde_json::Deserializer::from_str(&crictl[start..])
        .into_iter()
        .next()
        .context("crictl printed no image")??;
    let status = &info["status"];
    let Some(id) = status["id"].as_str() else {
        return Ok(Vec::new());
    };
    let names: Vec<&str> = status["repoTags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.as_str())
        .collect();
    let mut ids = vec![id.to_string()];
    for line in ctr.lines() {
        let mut columns = line.split_whitespace();
        let (Some(name), Some(_kind), Some(digest)) =
            (columns.next(), columns.next(), columns.next())
        else {
            continue;
        };
        if names.contains(&name)
            && digest.starts_with("sha256:")
            && !ids.iter().any(|i| i == digest)
        {
            ids.push(digest.to_string());
        }
    }
    Ok(ids)
}

/// Of `tags` (with their IDs in the host's Docker, `ids`), those `node` lacks or holds another
/// build of: Docker's image ID is looked for among the node's IDs of each tag
/// ([`node_image_ids`]), all at once.
pub async fn missing_in_node<'a>(
    docker: &Docker,
    node: &str,
    tags: &'a [String],
    ids: &[String],
) -> Result<Vec<&'a str>> {
    let held = futures_util::future::try_join_all(
        tags.iter().map(|tag| node_image_ids(docker, node, tag)),
    )
    .await?;
    Ok(tags
        .iter()
        .zip(ids)
        .zip(&held)
        .filter(|((_, id), held)| !held.contains(id))
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

#[cfg(test)]
mod tests {
    use super::parse_node_image_ids;

    const CRICTL: &str = r#"{
  "status": {
    "id": "sha256:c0f1",
    "repoTags": ["docker.io/library/app:1", "docker.io/library/app:stable"],
    "repoDigests": []
  },
  "info": {}
}"#;

    fn node_output(ctr_rows: &str) -> String {
        format!(
            "{CRICTL}\n{}\nREF TYPE DIGEST SIZE PLATFORMS LABELS\n{ctr_rows}",
            super::NODE_IMAGE_SEPARATOR
        )
    }

    /// Docker's classic store names an image by its config digest, its containerd store by the
    /// manifest or index digest: the node's image is recognised by either, so a second `image
    /// load` of the same image skips it on both stores.
    #[test]
    fn a_node_image_is_known_by_its_config_and_its_recorded_digests() {
        let out = node_output(
            "docker.io/library/app:1 application/vnd.oci.image.index.v1+json sha256:1d3e 5.0 MiB linux/amd64,linux/arm64 -\n\
             docker.io/library/other:2 application/vnd.oci.image.manifest.v1+json sha256:99aa 1.0 MiB linux/amd64 -\n",
        );
        let ids = parse_node_image_ids(&out).unwrap();
        assert_eq!(ids, ["sha256:c0f1", "sha256:1d3e"]);
    }

    #[test]
    fn what_crictl_prints_after_its_json_is_ignored() {
        let out = format!(
            "{CRICTL}\nW1203 00:58:01 a warning of crictl's\n{}\n",
            super::NODE_IMAGE_SEPARATOR
        );
        assert_eq!(parse_node_image_ids(&out).unwrap(), ["sha256:c0f1"]);
    }

    #[test]
    fn a_tag_the_node_lacks_has_no_ids() {
        // crictl's failure ends the script before the separator.
        let out = "time=... level=fatal msg=\"no such image\"\n";
        assert!(parse_node_image_ids(out).unwrap().is_empty());
    }
}
