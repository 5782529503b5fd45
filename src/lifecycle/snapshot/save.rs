//! `snapshot save`: etcd's snapshot taken live, the other containers frozen for the copy of the
//! nodes' volumes, the profile's files beside them.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bollard::Docker;

use super::{ETCD_ANSWER_WAIT, etcd_config_dir, image_of, mb, node_volumes};
use crate::effects::docker;
use crate::effects::home::Home;
use crate::effects::lock::lock_profile;
use crate::effects::snapshot_store::{self as store, Store};
use crate::effects::volume_copy::{self, VolumeHelper};
use crate::effects::{containers, etcd_snapshot, kube_api};
use crate::lifecycle::{interrupt, pause};
use crate::plan::cluster::{self, ClusterPlan};
use crate::plan::config::ProfileConfig;
use crate::plan::container_state::ContainerState;
use crate::plan::names::{self, Role};
use crate::plan::profile_name::ProfileName;
use crate::plan::snapshot::{self as plan, Manifest, Part, SnapshotNode};
use crate::ui::{Progress, Ui};
use crate::yaml;

#[derive(Debug)]
pub struct SaveOutcome {
    pub manifest: Manifest,
    pub dir: PathBuf,
    pub took: Duration,
    /// How long the profile's other containers were frozen for the copy.
    pub frozen_for: Duration,
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
    let frozen = match pause::pause_profile(docker, profile, &[Role::Etcd], ui).await {
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
            let timeout = crate::plan::shutdown::stop_timeout(Role::Etcd);
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
