//! `snapshot restore`: every part checked, unpacked beside the data it replaces, swapped in with
//! the cluster stopped, and the replaced data put back if anything fails.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bollard::Docker;

use super::{image_of, mb, node_volumes};
use crate::effects::docker;
use crate::effects::home::Home;
use crate::effects::lock::lock_profile;
use crate::effects::snapshot::FilesSnapshot;
use crate::effects::snapshot_store::{self as store, Store};
use crate::effects::volume_copy::{self, VolumeHelper};
use crate::effects::{containers, etcd_snapshot, kube_api};
use crate::lifecycle::start::{self, StartRequest};
use crate::lifecycle::{interrupt, pause};
use crate::plan::cluster;
use crate::plan::config::ProfileConfig;
use crate::plan::container_state::ContainerState;
use crate::plan::names::{self, Role};
use crate::plan::profile_name::ProfileName;
use crate::plan::snapshot::{self as plan, Manifest};
use crate::ui::Ui;
use crate::yaml;

#[derive(Debug)]
pub struct RestoreOutcome {
    pub manifest: Manifest,
    pub took: Duration,
    /// Whether the cluster was started from the restored data (it ran before, or was imported).
    pub started: bool,
}

/// Restores snapshot `name` onto the profile it belongs to.
pub async fn restore(
    home: &Home,
    profile: &ProfileName,
    name: &str,
    ui: &Ui,
) -> Result<RestoreOutcome> {
    let started = Instant::now();
    let name = &plan::parse_name(name).map_err(anyhow::Error::msg)?;
    let lock = lock_profile(home, profile)?;
    let config = home.profile(profile).load_config()?;
    if let Some(problem) = plan::members_problem(profile.as_str(), &config) {
        bail!(problem);
    }
    let store = Store::new(home);
    let dir = store.existing(profile, name)?;
    let manifest = store::read_manifest(&dir)?;
    if let Some(problem) = plan::restore_problem(&manifest, &config) {
        bail!(
            "snapshot '{name}' cannot be restored onto profile '{profile}', so nothing was touched: {problem}"
        );
    }
    let step = ui.step(format!(
        "Checking snapshot '{name}' ({} MB)",
        mb(manifest.total_bytes())
    ));
    if let Err(e) = store::verify(&dir, &manifest) {
        step.failed();
        return Err(e);
    }
    step.done();
    let mut config = config;
    // The addons the cluster had then: `start` makes exactly those run again.
    let snapshot_config: ProfileConfig =
        yaml::from_str(&store::read_config(&dir)?).context("the snapshot's config.yaml")?;
    config.addons = snapshot_config.addons;
    // A snapshot of the release before an upgrade takes the profile back to that release.
    if config.kubernetes_version != manifest.kubernetes_version {
        ui.info(format!(
            "Snapshot '{name}' is of Kubernetes {}: profile '{profile}' goes back from {} to it.",
            manifest.kubernetes_version, config.kubernetes_version
        ));
        config.kubernetes_version = manifest.kubernetes_version.clone();
    }
    let started_cluster =
        restore_into(home, profile, &config, &dir, &manifest, ui, lock, false).await?;
    Ok(RestoreOutcome {
        manifest,
        took: started.elapsed(),
        started: started_cluster,
    })
}

/// Restores the checked snapshot in `dir` onto the profile whose settings are `config` (written
/// as part of the restore); starts the cluster from it when it ran before, or `always_start`.
#[allow(clippy::too_many_arguments)] // the restore's whole context, passed once
pub(super) async fn restore_into(
    home: &Home,
    profile: &ProfileName,
    config: &ProfileConfig,
    dir: &Path,
    manifest: &Manifest,
    ui: &Ui,
    lock: crate::effects::lock::ProfileLock,
    always_start: bool,
) -> Result<bool> {
    let profile_dir = home.profile(profile);
    let facts = profile_dir.host_facts()?;
    let cluster_plan = cluster::plan(profile, config, &facts);
    let docker = docker::connect().await?;
    volume_copy::remove_leftovers(&docker, profile).await?;
    for volume in &cluster_plan.volumes {
        containers::ensure_volume(&docker, volume).await?;
    }
    let found = docker::profile_containers(&docker, profile).await?;
    let was_running = found.iter().any(|c| {
        matches!(
            c.state,
            ContainerState::Running | ContainerState::Paused | ContainerState::Restarting
        )
    });

    let volumes = node_volumes(profile, config);
    let mut mounts: Vec<(String, String)> = vec![(names::etcd_volume(profile), plan::etcd_mount())];
    mounts.extend(volumes.iter().map(|(_, v, m)| (v.clone(), m.clone())));
    let mount_points: Vec<String> = mounts.iter().map(|(_, m)| m.clone()).collect();
    let node_image = image_of(&cluster_plan, Role::Node)?;
    let etcd_image = image_of(&cluster_plan, Role::Etcd)?;
    let helper = VolumeHelper::start(&docker, profile, &node_image, &mounts, true).await?;

    // 1. Unpack beside the data; the cluster runs on meanwhile. This is the long part, and
    // Ctrl-C or SIGTERM stops it with nothing touched; from the swap on, the restore runs to
    // its end (or its own roll-back) whatever signal comes: the handlers stay installed.
    let unpacking = async {
        interrupt::phase(ui, "restore-unpack").await;
        unpack(
            &docker,
            profile,
            config,
            dir,
            &volumes,
            &mount_points,
            &helper,
            &etcd_image,
            ui,
        )
        .await
    };
    let unpacked = interrupt::or_interrupted(
        unpacking,
        interrupt::interruption(),
        "unpacking the snapshot",
    )
    .await
    .unwrap_or_else(Err);
    if let Err(e) = unpacked {
        let _ = helper.script(&plan::undo_script(&mount_points)).await;
        helper.remove().await;
        return Err(e.context(
            "restoring the snapshot failed before the cluster was touched; it is as it was",
        ));
    }

    // 2. The swap, with the cluster stopped.
    if was_running {
        let step = ui.step(format!(
            "Stopping profile '{profile}' to swap in the snapshot's data"
        ));
        let stopped = async {
            pause::unpause_profile(&docker, profile, None).await?;
            docker::stop_profile(&docker, profile).await
        }
        .await;
        if let Err(e) = stopped {
            step.failed();
            let _ = helper.script(&plan::undo_script(&mount_points)).await;
            helper.remove().await;
            return Err(e);
        }
        step.done();
    }
    let files = FilesSnapshot::take(
        &[profile_dir.config_path()],
        &[profile_dir.pki_dir(), profile_dir.kubeconfigs_dir()],
    )?;
    let step = ui.step("Swapping in the snapshot's data");
    let swapped = async {
        profile_dir.save_config(config)?;
        store::remove_dir(&profile_dir.pki_dir())?;
        store::untar_folder(&dir.join(plan::PKI_PART), &profile_dir.pki_dir())?;
        helper
            .script_ok(
                &plan::swap_script(&mount_points),
                "swapping the volumes' data",
            )
            .await
    }
    .await;
    if let Err(e) = swapped {
        step.failed();
        let undone = put_back(&helper, &mount_points, &files).await;
        helper.remove().await;
        drop(lock);
        if was_running {
            restart_as_it_was(home, profile, ui).await;
        }
        return Err(e.context(format!("restoring the snapshot failed{undone}")));
    }
    step.done();

    // 3. Start from the restored data; on failure, everything as it was.
    drop(lock);
    let start_now = was_running || always_start;
    if start_now {
        let request = StartRequest {
            switch_context: always_start,
            ..StartRequest::default()
        };
        if let Err(e) = start::run(home, profile, ui, &request).await {
            let _ = docker::stop_profile(&docker, profile).await;
            let undone = put_back(&helper, &mount_points, &files).await;
            helper.remove().await;
            if was_running {
                restart_as_it_was(home, profile, ui).await;
            }
            return Err(e.context(format!(
                "the cluster did not start from the snapshot's data{undone}"
            )));
        }
        // Nodes of the profile the snapshot came from (another name) never come back.
        let stale = plan::stale_node_names(manifest, profile);
        if !stale.is_empty() {
            let admin = profile_dir.kubeconfigs_dir().join("admin.conf");
            let client = kube_api::admin_client(&admin).await?;
            for node in stale {
                kube_api::delete_node(&client, &node).await?;
            }
        }
    }
    let _ = helper.script(&plan::cleanup_script(&mount_points)).await;
    helper.remove().await;
    Ok(start_now)
}

/// Puts the replaced data and files back; says how that went, for the error.
async fn put_back(helper: &VolumeHelper, mounts: &[String], files: &FilesSnapshot) -> String {
    let volumes = helper
        .script_ok(&plan::undo_script(mounts), "putting the volumes' data back")
        .await;
    let files = files.restore();
    match (volumes, files) {
        (Ok(()), Ok(())) => "; the profile's data and files are back as they were".into(),
        (v, f) => format!(
            "; putting the old data back failed too ({}{}): the replaced data is in \
             {}/ of each volume",
            v.err().map(|e| format!("{e:#}")).unwrap_or_default(),
            f.err().map(|e| format!(" {e:#}")).unwrap_or_default(),
            plan::OLD_DIR
        ),
    }
}

async fn restart_as_it_was(home: &Home, profile: &ProfileName, ui: &Ui) {
    ui.info(format!("Starting profile '{profile}' again as it was."));
    let _ = start::run(home, profile, ui, &StartRequest::default()).await;
}

#[allow(clippy::too_many_arguments)] // the restore's whole context, passed once
async fn unpack(
    docker: &Docker,
    profile: &ProfileName,
    config: &ProfileConfig,
    dir: &Path,
    volumes: &[(u32, String, String)],
    mount_points: &[String],
    helper: &VolumeHelper,
    etcd_image: &str,
    ui: &Ui,
) -> Result<()> {
    let check = helper
        .script(&plan::interrupted_check_script(mount_points))
        .await?;
    if check.exit_code == 3 {
        bail!(
            "a restore of profile '{profile}' was interrupted after it began swapping data: {}/{} \
             holds the data it replaced; nothing was touched now",
            check.output.trim(),
            plan::OLD_DIR
        );
    }
    if check.exit_code != 0 {
        bail!("preparing the volumes failed: {}", check.output.trim());
    }
    let step = ui.step("Restoring etcd's snapshot into a new data folder (etcdutl)");
    helper
        .load(
            &[
                "sh".into(),
                "-c".into(),
                format!(
                    "umask 077 && cat > {}/{}",
                    plan::etcd_mount(),
                    plan::ETCD_SNAPSHOT_IN_VOLUME
                ),
            ],
            &dir.join(plan::ETCD_PART),
        )
        .await?;
    etcd_snapshot::restore(
        docker,
        profile,
        etcd_image,
        &names::etcd_volume(profile),
        plan::etcdutl_restore_args(profile, config),
    )
    .await?;
    step.done();
    for (number, volume, mount) in volumes {
        let file = dir.join(plan::node_part(*number));
        let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        let step = ui.step(format!("Unpacking {} MB into volume {volume}", mb(size)));
        helper
            .script_ok(
                &format!("mkdir -p {mount}/{}", plan::RESTORE_DIR),
                "making the restore folder",
            )
            .await?;
        match helper.load(&plan::tar_restore_args(mount), &file).await {
            Ok(()) => step.done(),
            Err(e) => {
                step.failed();
                return Err(e.context(format!("unpacking into volume {volume}")));
            }
        }
    }
    Ok(())
}
