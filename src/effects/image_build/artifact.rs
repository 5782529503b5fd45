//! One artifact of the cache built: the Go programs (`go`), pause, the node's root filesystem.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use anyhow::{Context, Result};

use super::cache::{Cache, Manifest};
use super::process::{self, Output};
use super::{counting, go, megabytes};
use crate::plan::images::{self, Artifact, Resolution, Toolchain};
use crate::ui::Ui;

/// What every artifact build reads.
pub(crate) struct BuildInputs<'a> {
    pub resolution: &'a Resolution,
    pub toolchain: &'a Toolchain,
    pub plan: &'a images::Plan,
    pub images_dir: &'a Path,
}

/// Builds one artifact into a fresh folder and moves it into the cache.
pub(super) async fn build_artifact(
    cache: &Cache,
    artifact: Artifact,
    key: &str,
    inputs: &BuildInputs<'_>,
    ui: &Ui,
) -> Result<Manifest> {
    let BuildInputs {
        resolution,
        toolchain,
        plan,
        images_dir,
        ..
    } = *inputs;
    let what = match artifact {
        Artifact::Kubernetes => format!(
            "compiling Kubernetes {} ({})",
            resolution.kubernetes_version,
            images::KUBERNETES_COMMANDS.join(", ")
        ),
        Artifact::Go(_) => {
            let row = artifact.go().context("not a row of GO_ARTIFACTS")?;
            format!("compiling {} {}", row.title, row.version(resolution))
        }
        Artifact::Netinit => "compiling netinit (images/netinit)".to_string(),
        Artifact::Pause => "compiling pause".to_string(),
        Artifact::NodeRootfs => format!(
            "making the node's Debian {} root filesystem (mmdebstrap)",
            images::DEBIAN_SUITE
        ),
        Artifact::Resolve => unreachable!("resolved apart"),
    };
    let step = ui.step(what);
    let staging = cache.staging(artifact.name())?;
    let out_dir = staging.path().join("out");
    fs::create_dir_all(&out_dir)?;
    let mut output = Output::new(ui, &step, cache.log_path(artifact.name(), key));
    let mut inputs = match artifact {
        Artifact::Kubernetes | Artifact::Go(_) | Artifact::Netinit => {
            go::build(artifact, inputs, staging.path(), &out_dir, &mut output).await?
        }
        Artifact::Pause => {
            let script = images_dir.join("pause").join("build.sh");
            let args = vec![script.display().to_string(), out_dir.display().to_string()];
            let env = [("LOCALKUBE_PAUSE_VERSION", resolution.pause_version.clone())];
            process::run("pause", "bash", &args, staging.path(), &env, &mut output).await?;
            BTreeMap::from([(
                "command".to_string(),
                process::display_command("bash", &args),
            )])
        }
        Artifact::NodeRootfs => {
            let mirror = &plan.debian_mirror;
            let tar = out_dir.join("rootfs.tar");
            let args = images::mmdebstrap_args(
                &plan.node_packages,
                &toolchain.goarch,
                &tar.display().to_string(),
                mirror,
            );
            // mmdebstrap's own temporary root goes under the build folder, not /tmp.
            let env = [("TMPDIR", staging.path().display().to_string())];
            output.count_with(counting::Counter::Phases(counting::PhaseCounter::new(
                counting::MMDEBSTRAP_PHASES,
            )));
            process::run(
                "the node's root filesystem",
                "mmdebstrap",
                &args,
                staging.path(),
                &env,
                &mut output,
            )
            .await?;
            BTreeMap::from([(
                "command".to_string(),
                process::display_command("mmdebstrap", &args),
            )])
        }
        Artifact::Resolve => unreachable!("resolved apart"),
    };
    inputs.insert(
        "kubernetes".to_string(),
        resolution.kubernetes_version.clone(),
    );
    let cache_for_commit = cache.clone();
    let key_owned = key.to_string();
    let out_owned = out_dir.clone();
    let manifest = tokio::task::spawn_blocking(move || {
        cache_for_commit.commit(artifact, &key_owned, &out_owned, inputs)
    })
    .await??;
    let total: u64 = manifest.files.values().map(|f| f.size).sum();
    let note = match output.counted() {
        // Packages Go had compiled before come from its cache and are not printed.
        Some(p) if p.unit == "packages" => format!(
            "{}, {} packages compiled, {} from Go's build cache",
            megabytes(total),
            p.done,
            p.total - p.done.min(p.total)
        ),
        _ => megabytes(total),
    };
    drop(output);
    step.done_with(note);
    drop(staging);
    Ok(manifest)
}
