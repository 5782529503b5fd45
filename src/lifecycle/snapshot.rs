//! `localkube snapshot`: save a profile's whole state, restore it, move it to another machine or
//! profile. What a snapshot holds and how a restore can always be undone is `plan::snapshot`'s;
//! this module runs the steps.
//!
//! Save: etcd keeps running (its snapshot is taken live, through its Maintenance API) while every
//! other container of the profile is frozen for the copy of the nodes' volumes, so the objects
//! and the volumes' contents are of one moment; then everything resumes as `unpause` does.
//!
//! Restore: every part is checked first (a damaged snapshot, or one of another Kubernetes
//! version, is refused before anything is touched), unpacked beside the data it replaces, and
//! swapped in by renames with the cluster stopped; the replaced data is kept until the cluster
//! has started from the restored, and put back if anything fails.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bollard::Docker;

use crate::effects::containers::ContainerState;
use crate::effects::docker::{self};
use crate::effects::home::Home;
use crate::effects::lock::lock_profile;
use crate::effects::snapshot::FilesSnapshot;
use crate::effects::snapshot_store::{self as store, Store};
use crate::effects::volume_copy::{self, VolumeHelper};
use crate::effects::{containers, etcd_snapshot, kube_api};
use crate::lifecycle::start::{self, StartRequest};
use crate::lifecycle::{interrupt, pause};
use crate::plan::cluster::{self, ClusterPlan};
use crate::plan::config::ProfileConfig;
use crate::plan::names::{self, Role};
use crate::plan::profile_name::ProfileName;
use crate::plan::snapshot::{self as plan, Manifest, Part, SnapshotNode};
use crate::ui::{Progress, Ui};
use crate::yaml;

/// How long a just-started etcd gets to answer etcdctl.
const ETCD_ANSWER_WAIT: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub struct SaveOutcome {
    pub manifest: Manifest,
    pub dir: PathBuf,
    pub took: Duration,
    /// How long the profile's other containers were frozen for the copy.
    pub frozen_for: Duration,
}

fn image_of(plan: &ClusterPlan, role: Role) -> Result<String> {
    plan.containers
        .iter()
        .find(|c| c.role == role.as_str())
        .map(|c| c.image.clone())
        .with_context(|| format!("the profile's plan has no {} container", role.as_str()))
}

fn etcd_config_dir(plan: &ClusterPlan, facts: &cluster::HostFacts) -> Result<PathBuf> {
    let spec = plan
        .containers
        .iter()
        .find(|c| c.role == Role::Etcd.as_str())
        .context("the profile's plan has no etcd")?;
    Ok(facts.staging_dir(&spec.name))
}

/// The node volumes of a plan, by node number, with the helper's mount of each.
fn node_volumes(profile: &ProfileName, config: &ProfileConfig) -> Vec<(u32, String, String)> {
    config
        .nodes
        .numbers()
        .iter()
        .map(|n| {
            (
                *n,
                names::node_volume(&names::node_name(profile, *n)),
                plan::node_mount(*n),
            )
        })
        .collect()
}

fn mb(bytes: u64) -> u64 {
    bytes.div_ceil(1 << 20)
}

/// Takes a snapshot `name` of the profile.
///
/// Ctrl-C or SIGTERM at any point leaves the profile as it found it: what the save froze is
/// thawed, etcd is put back in its state, and no part (they hold the cluster's keys) is left.
pub async fn save(home: &Home, profile: &ProfileName, name: &str, ui: &Ui) -> Result<SaveOutcome> {
    let interrupted = interrupt::interruption();
    let name = plan::parse_name(name).map_err(anyhow::Error::msg)?;
    let _lock = lock_profile(home, profile)?;
    let dir = home.profile(profile);
    let config = dir.load_config()?;
    if let Some(problem) = plan::members_problem(profile.as_str(), &config) {
        bail!(problem);
    }
    let store = Store::new(home);
    if store.dir(profile, &name)?.exists() {
        bail!(
            "profile '{profile}' already has a snapshot '{name}': delete it first (`localkube \
             snapshot delete {name} -p {profile}`) or choose another name"
        );
    }
    let facts = dir.host_facts()?;
    let cluster_plan = cluster::plan(profile, &config, &facts);
    let docker = docker::connect().await?;
    volume_copy::remove_leftovers(&docker, profile).await?;
    let etcd = names::control_plane_container(profile, Role::Etcd);
    let Some(etcd_state) = containers::container_state(&docker, &etcd).await? else {
        bail!(
            "profile '{profile}' has no cluster to save yet: start it first (`localkube start -p \
             {profile}`)"
        );
    };
    let started = Instant::now();
    let paused_before = pause::paused_containers(&docker, profile).await?;
    let partial = store.begin(profile, &name)?;
    let work = async {
        let (parts, frozen_for) = save_into(
            &docker,
            home,
            profile,
            &config,
            &cluster_plan,
            &facts,
            &etcd,
            etcd_state,
            &partial,
            ui,
        )
        .await?;
        let manifest = Manifest {
            format: plan::FORMAT,
            name: name.clone(),
            profile: profile.to_string(),
            created: now_rfc3339(),
            kubernetes_version: config.kubernetes_version.clone(),
            localkube_version: env!("CARGO_PKG_VERSION").to_string(),
            nodes: config
                .nodes
                .numbers()
                .iter()
                .map(|n| SnapshotNode {
                    number: *n,
                    name: names::node_name(profile, *n),
                })
                .collect(),
            parts,
        };
        interrupt::phase(ui, "save-written").await;
        // No await from here on: an interruption comes before the commit or not at all.
        let dir = store.commit(&partial, profile, &manifest)?;
        anyhow::Ok((manifest, dir, frozen_for))
    };
    let what = format!("saving snapshot '{name}'");
    let result = match interrupt::or_interrupted(work, interrupted, &what).await {
        Ok(result) => result,
        Err(interrupted) => {
            // The save was dropped where it stood: the containers it froze are thawed, etcd
            // put back as it was, its helpers removed (below, the half-written parts).
            let admin = home.profile(profile).kubeconfigs_dir().join("admin.conf");
            let thawed =
                pause::thaw_what_was_frozen(&docker, profile, Some(&admin), &paused_before).await;
            put_etcd_back(&docker, &etcd, etcd_state).await;
            let _ = volume_copy::remove_leftovers(&docker, profile).await;
            Err(match thawed {
                Ok(_) => interrupted.context(format!(
                    "profile '{profile}' runs as before, and nothing of the snapshot was kept"
                )),
                Err(e) => interrupted.context(format!(
                    "thawing the profile failed ({e:#}): `localkube unpause -p {profile}` \
                     resumes it; nothing of the snapshot was kept"
                )),
            })
        }
    };
    let (manifest, dir, frozen_for) = match result {
        Ok(done) => done,
        Err(e) => {
            // Nothing half-made: the parts written so far hold the cluster's keys.
            let _ = store::remove_dir(&partial);
            return Err(e);
        }
    };
    Ok(SaveOutcome {
        manifest,
        dir,
        took: started.elapsed(),
        frozen_for,
    })
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

#[allow(clippy::too_many_arguments)] // the save's whole context, passed once
async fn save_into(
    docker: &Docker,
    home: &Home,
    profile: &ProfileName,
    config: &ProfileConfig,
    cluster_plan: &ClusterPlan,
    facts: &cluster::HostFacts,
    etcd: &str,
    etcd_state: ContainerState,
    partial: &Path,
    ui: &Ui,
) -> Result<(Vec<Part>, Duration)> {
    // etcd must answer: thawed or started for the snapshot, and put back as it was after.
    match etcd_state {
        ContainerState::Running => {}
        ContainerState::Paused => {
            crate::effects::pause::unpause_one(docker, etcd)
                .await
                .context("thawing etcd for the snapshot")?;
        }
        _ => {
            ui.info(format!(
                "Profile '{profile}' is stopped: starting its etcd alone for the snapshot."
            ));
            containers::start_existing(docker, etcd).await?;
        }
    }
    let frozen_at = Instant::now();
    let step = ui.step(format!(
        "Freezing profile '{profile}' but etcd, for a copy of one moment"
    ));
    let frozen = match pause::pause_profile(docker, profile, &[Role::Etcd.as_str()], ui).await {
        Ok(outcome) => {
            step.done_with(format!("{} containers", outcome.containers.len()));
            outcome.containers
        }
        Err(e) => {
            step.failed();
            put_etcd_back(docker, etcd, etcd_state).await;
            return Err(e);
        }
    };
    interrupt::phase(ui, "save-frozen").await;
    let copied = copy_parts(
        docker,
        profile,
        config,
        cluster_plan,
        facts,
        etcd,
        partial,
        ui,
    )
    .await;
    let frozen_for = frozen_at.elapsed();
    let admin = home.profile(profile).kubeconfigs_dir().join("admin.conf");
    let thawed = if frozen.is_empty() {
        Ok(())
    } else {
        let step = ui.step(format!("Resuming profile '{profile}'"));
        let result = pause::unpause_containers(docker, profile, Some(&admin), Some(&frozen)).await;
        match &result {
            Ok(o) => step.done_with(format!(
                "{} containers, frozen for {:.1} s",
                o.containers.len(),
                frozen_for.as_secs_f64()
            )),
            Err(_) => step.failed(),
        }
        result.map(|_| ())
    };
    put_etcd_back(docker, etcd, etcd_state).await;
    let mut parts = copied?;
    thawed?;
    interrupt::phase(ui, "save-thawed").await;
    // The profile's certificates and keys, and its settings.
    let pki = store::tar_folder(
        &home.profile(profile).pki_dir(),
        &partial.join(plan::PKI_PART),
    )?;
    parts.push(part(plan::PKI_PART, pki));
    let config_text = yaml::to_string(config)?;
    let written = store::write_secret(&partial.join(plan::CONFIG_PART), config_text.as_bytes())?;
    parts.push(part(plan::CONFIG_PART, written));
    Ok((parts, frozen_for))
}

fn part(file: &str, written: volume_copy::Written) -> Part {
    Part {
        file: file.to_string(),
        bytes: written.bytes,
        sha256: written.sha256,
    }
}

/// Puts etcd back in the state the save found it in (paused, stopped), best effort.
async fn put_etcd_back(docker: &Docker, etcd: &str, state: ContainerState) {
    match state {
        ContainerState::Running => {}
        ContainerState::Paused => {
            let _ = crate::effects::pause::pause_one(docker, etcd).await;
        }
        _ => {
            let timeout = crate::plan::shutdown::stop_timeout(Role::Etcd.as_str());
            let _ = containers::stop_container(docker, etcd, Some(timeout)).await;
        }
    }
}

#[allow(clippy::too_many_arguments)] // the save's whole context, passed once
async fn copy_parts(
    docker: &Docker,
    profile: &ProfileName,
    config: &ProfileConfig,
    cluster_plan: &ClusterPlan,
    facts: &cluster::HostFacts,
    etcd: &str,
    partial: &Path,
    ui: &Ui,
) -> Result<Vec<Part>> {
    let mut parts = Vec::new();
    let step = ui.step("Saving etcd's snapshot (etcdctl snapshot save)");
    let etcd_image = image_of(cluster_plan, Role::Etcd)?;
    let config_dir = etcd_config_dir(cluster_plan, facts)?;
    let out = partial.join(plan::ETCD_PART);
    // A just-started etcd may not answer the first tries.
    let written = kube_api::wait_for("etcd's snapshot", ETCD_ANSWER_WAIT, || {
        let (etcd_image, config_dir, out) = (&etcd_image, &config_dir, &out);
        async move {
            let _ = std::fs::remove_file(out);
            match etcd_snapshot::save(docker, profile, etcd_image, etcd, config_dir, out).await {
                Ok(w) => Ok(Some(w)),
                Err(e)
                    if format!("{e:#}").contains("etcdctl")
                        && format!("{e:#}").contains("no such file") =>
                {
                    Err(e.context(format!(
                        "{etcd_image} has no etcdctl (an image of an older localkube): `localkube \
                         start -p {profile}` rebuilds it"
                    )))
                }
                Err(e) => Err(e),
            }
        }
    })
    .await;
    let written = match written {
        Ok(w) => w,
        Err(e) => {
            step.failed();
            return Err(e);
        }
    };
    step.done_with(format!("{} MB", mb(written.bytes)));
    parts.push(part(plan::ETCD_PART, written));
    interrupt::phase(ui, "save-etcd-saved").await;

    let volumes = node_volumes(profile, config);
    let node_image = image_of(cluster_plan, Role::Node)?;
    let helper = VolumeHelper::start(
        docker,
        profile,
        &node_image,
        &volumes
            .iter()
            .map(|(_, v, m)| (v.clone(), m.clone()))
            .collect::<Vec<_>>(),
        false,
    )
    .await?;
    let mut result = Ok(());
    for (number, volume, mount) in &volumes {
        let step = ui.step(format!("Copying volume {volume}"));
        let file = plan::node_part(*number);
        // The volume's size, for the progress (tar's stream is a little larger: headers).
        let total = helper
            .script(&format!("du -sxb {mount} | cut -f1"))
            .await
            .ok()
            .and_then(|out| out.output.trim().parse::<u64>().ok())
            .unwrap_or(0);
        let progress = |bytes: u64| {
            step.progress(Progress {
                done: mb(bytes),
                total: mb(total.max(bytes)),
                unit: "MB",
            })
        };
        match helper
            .save(&plan::tar_save_args(mount), &partial.join(&file), &progress)
            .await
        {
            Ok(written) => {
                step.done_with(format!("{} MB", mb(written.bytes)));
                parts.push(part(&file, written));
            }
            Err(e) => {
                step.failed();
                result = Err(e.context(format!("copying volume {volume}")));
                break;
            }
        }
    }
    if result.is_ok() {
        interrupt::phase(ui, "save-volumes-copied").await;
    }
    helper.remove().await;
    result.map(|()| parts)
}

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
async fn restore_into(
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

/// Writes snapshot `name` of the profile as one file.
pub fn export(home: &Home, profile: &ProfileName, name: &str, file: &Path, ui: &Ui) -> Result<u64> {
    let store = Store::new(home);
    let dir = store.existing(profile, name)?;
    let manifest = store::read_manifest(&dir)?;
    if file.exists() {
        bail!(
            "{} exists: choose another file name, or remove it first",
            file.display()
        );
    }
    let step = ui.step(format!(
        "Checking snapshot '{name}' ({} MB)",
        mb(manifest.total_bytes())
    ));
    store::verify(&dir, &manifest)?;
    step.done();
    let step = ui.step(format!("Writing {}", file.display()));
    let bytes = store::export(&dir, &manifest, file)?;
    step.done_with(format!("{} MB", mb(bytes)));
    Ok(bytes)
}

#[derive(Debug)]
pub struct ImportOutcome {
    pub manifest: Manifest,
    pub took: Duration,
}

/// Makes profile `profile` (which must not exist) from an exported snapshot and starts it.
///
/// The file may come from anyone. Its parts are checked as they are unpacked; its settings go
/// through the checks a cluster file's go through (settings that switch a safeguard off, host
/// folders of the denylist); its image source is never used; and what its settings would do on
/// this machine (host folders, extra flags, fields, gates) is shown to `trust`, which must say
/// yes before anything starts.
pub async fn import(
    home: &Home,
    file: &Path,
    profile: &ProfileName,
    ui: &Ui,
    trust: &dyn Fn(&[String]) -> Result<bool>,
) -> Result<ImportOutcome> {
    let started = Instant::now();
    let profile_dir = home.profile(profile);
    if profile_dir.exists() {
        bail!(
            "profile '{profile}' exists: import into a new profile (`-p NEW`), or delete this one \
             first (`localkube delete -p {profile}`)"
        );
    }
    if let Some(problem) = names::collision_problem(profile) {
        bail!(
            "profile name '{profile}' cannot be used: {problem}; choose another name (`-p NAME`)"
        );
    }
    let lock = lock_profile(home, profile)?;
    let store = Store::new(home);
    let partial = store.begin(profile, "import")?;
    let step = ui.step(format!("Reading and checking {}", file.display()));
    // Every part's size and sha256 are checked while it is unpacked.
    let checked = store::unpack_export(file, &partial).and_then(|manifest| {
        let config = imported_settings(home, profile, &partial, &manifest)?;
        Ok((manifest, config))
    });
    let (manifest, (snapshot_config, changes)) = match checked {
        Ok(m) => m,
        Err(e) => {
            step.failed();
            let _ = store::remove_dir(&partial);
            return Err(e.context(format!(
                "{} was not imported; nothing was touched",
                file.display()
            )));
        }
    };
    step.done_with(format!(
        "snapshot '{}' of profile '{}', Kubernetes {}, {} MB",
        manifest.name,
        manifest.profile,
        manifest.kubernetes_version,
        mb(manifest.total_bytes())
    ));
    if let Some(repository) = &snapshot_config.image_repository {
        ui.info(format!(
            "The snapshot names the image source {repository}: not used; the images come from \
             this machine (built, or `localkube images load`)."
        ));
    }
    let agreed = if changes.is_empty() {
        Ok(true)
    } else {
        trust(&changes)
    };
    match agreed {
        Ok(true) => {}
        Ok(false) | Err(_) => {
            let _ = store::remove_dir(&partial);
            let why = agreed
                .err()
                .map(|e| format!(" ({e:#})"))
                .unwrap_or_default();
            bail!(
                "{} was not imported, nothing was touched: its settings would change this \
                 machine's cluster beyond a default profile{why}:\n  {}\nImport it only if you \
                 trust where it came from: `localkube snapshot import {} -p {profile} --trust`",
                file.display(),
                changes
                    .iter()
                    .map(|l| crate::plan::terminal_text::escape_controls(l))
                    .collect::<Vec<_>>()
                    .join("\n  "),
                file.display()
            );
        }
    }
    let dir = match store.commit(&partial, profile, &manifest) {
        Ok(dir) => dir,
        Err(e) => {
            let _ = store::remove_dir(&partial);
            return Err(e);
        }
    };
    let result = async {
        let port = crate::lifecycle::start::free_loopback_port()?;
        let (subnet, exposure) = crate::lifecycle::start::network_choices(profile).await?;
        let config = plan::imported_config(&snapshot_config, port, subnet, exposure);
        config.validate()?;
        profile_dir.save_config(&config)?;
        // The snapshot's CAs and service-account key, so its tokens and kubeconfigs stay valid;
        // `start` reissues the leaves whose names or addresses are this profile's now.
        store::untar_folder(&dir.join(plan::PKI_PART), &profile_dir.pki_dir())?;
        restore_into(home, profile, &config, &dir, &manifest, ui, lock, true).await
    }
    .await;
    if let Err(e) = result {
        // Nothing half-made: the new profile's objects and files go, and the stored snapshot.
        if let Ok(docker) = docker::connect().await {
            let _ = volume_copy::remove_leftovers(&docker, profile).await;
            let _ = docker::remove_profile(&docker, profile).await;
        }
        let _ = profile_dir.remove();
        let _ = store::remove_dir(&dir);
        return Err(e.context(format!(
            "importing {} failed; profile '{profile}' was removed again",
            file.display()
        )));
    }
    Ok(ImportOutcome {
        manifest,
        took: started.elapsed(),
    })
}

/// An unpacked snapshot's settings, checked as a cluster file's are, with what they would do
/// on this machine beyond a default profile. The settings keep the snapshot's image source for
/// the caller to name; [`plan::imported_config`] drops it.
fn imported_settings(
    home: &Home,
    profile: &ProfileName,
    dir: &Path,
    manifest: &Manifest,
) -> Result<(ProfileConfig, Vec<String>)> {
    let mut config: ProfileConfig =
        yaml::from_str(&store::read_config(dir)?).context("the snapshot's config.yaml")?;
    if config.kubernetes_version != manifest.kubernetes_version
        || config.nodes.numbers() != manifest.node_numbers()
    {
        bail!(
            "the snapshot is damaged: its config.yaml is of Kubernetes {} with nodes {:?}, its \
             manifest says {} with nodes {:?}",
            config.kubernetes_version,
            config.nodes.numbers(),
            manifest.kubernetes_version,
            manifest.node_numbers()
        );
    }
    config.validate().context("the snapshot's settings")?;
    if let Some(problem) = plan::members_problem(profile.as_str(), &config) {
        bail!("{problem}");
    }
    config
        .settings
        .validate(&config.kubernetes_version, config.nodes.numbers())
        .context("the snapshot's settings are refused as a cluster file's would be")?;
    // Host folders are another machine's paths: each is checked as `--mount` checks it.
    let insecure = config.settings.insecure;
    crate::effects::cluster_file::check_mounts(home, &mut config.settings, insecure).context(
        "the snapshot's profile binds host folders into its nodes: each must be a folder of your \
         own on this machine (the same path)",
    )?;
    let changes = plan::import_changes(&config.settings);
    Ok((config, changes))
}

/// Removes snapshot `name` of the profile.
pub fn delete(home: &Home, profile: &ProfileName, name: &str) -> Result<()> {
    let store = Store::new(home);
    let dir = store.existing(profile, name)?;
    store::remove_dir(&dir)
}
