//! The image of localkube's load balancer controller and proxies: this very binary on the node
//! image's Debian, so the controller runs the same code as the CLI that started it.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result};
use bollard::Docker;

use crate::effects::image_build;
use crate::plan::names;

const DOCKERFILE: &str = "\
# localkube in lb-controller / lb-proxy mode. The node image brings the same C library as the
# Debian host the binary was built on, and nothing else is needed.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY localkube /usr/local/bin/localkube
# Its own labels, not the node image's it inherits: `images ls` lists it as the load balancer's,
# and no image build takes it for the node image its build key would name.
LABEL io.localkube.component=lb io.localkube.component-version= io.localkube.build-key=
# The Docker socket is mounted in here: only root (the controller's broker) can enter.
RUN mkdir -p /run/localkube-docker && chmod 0700 /run/localkube-docker
ENTRYPOINT [\"/usr/local/bin/localkube\"]
";

/// Builds `tag` unless Docker has it. `kubernetes_version` picks the node image to build on.
pub async fn ensure_lb_image(docker: &Docker, tag: &str, kubernetes_version: &str) -> Result<bool> {
    if docker.inspect_image(tag).await.is_ok() {
        return Ok(false);
    }
    let exe = crate::effects::home::running_binary()?;
    let binary = stripped_copy(&exe)?;
    let binary = std::fs::read(binary.path()).context("reading the stripped binary")?;
    let context = image_build::files_context(
        &[
            ("Dockerfile", DOCKERFILE.as_bytes(), 0o644),
            ("localkube", binary.as_slice(), 0o755),
        ],
        &[],
    )?;
    let base = names::image("node", kubernetes_version);
    let build_args = HashMap::from([("BASE_IMAGE".to_string(), base.clone())]);
    let log = image_build::build_tagged(
        docker,
        tag,
        context,
        build_args,
        &format!("{tag} on {base}"),
    )
    .await?;
    docker
        .inspect_image(tag)
        .await
        .with_context(|| format!("building {tag} left no image:\n{}", log.concat()))?;
    Ok(true)
}

/// A copy of the binary without debug information (a debug build is ~200 MB, stripped ~30 MB);
/// the binary itself where `strip` is not installed.
fn stripped_copy(exe: &Path) -> Result<tempfile::NamedTempFile> {
    // Copied by this process first: `exe` may be /proc/self/exe, which names whatever process
    // opens it, so `strip` must get a path of its own.
    let original = tempfile::NamedTempFile::new()?;
    std::fs::copy(exe, original.path()).with_context(|| format!("copying {}", exe.display()))?;
    let copy = tempfile::NamedTempFile::new()?;
    let stripped = std::process::Command::new("strip")
        .arg("--strip-debug")
        .arg("-o")
        .arg(copy.path())
        .arg(original.path())
        .status()
        .is_ok_and(|s| s.success());
    if !stripped {
        std::fs::copy(original.path(), copy.path()).context("copying the localkube binary")?;
    }
    Ok(copy)
}
