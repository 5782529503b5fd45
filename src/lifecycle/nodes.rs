//! `node list` and `node delete`: a profile's nodes after `start` made them. (`node add` is a
//! start with one more node: see `start::StartRequest::add_node`.)

use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use crate::effects::home::Home;
use crate::effects::lock::lock_profile;
use crate::effects::{containers, docker, image_build, kube_api};
use crate::lifecycle::start::sync_routes;
use crate::plan::cluster::{self, ContainerSpec};
use crate::plan::container_state::ContainerState;
use crate::plan::names::{self, Role};
use crate::plan::pki;
use crate::plan::profile_name::ProfileName;
use crate::ui::Ui;

/// How long a drain may take before the node is removed anyway, on a usual machine (stretched by
/// the pace).
pub const DRAIN_TIMEOUT_SECONDS: u32 = 120;

/// One node as `node list` shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeInfo {
    pub name: String,
    pub number: u32,
    pub ip: String,
    /// Docker's state of its container (`missing` when there is none).
    pub container: String,
    /// Whether Kubernetes reports it Ready (`None` when the API did not answer).
    pub ready: Option<bool>,
    pub pod_cidr: Option<String>,
    /// The kubelet's release, as the node reports it (`None` when the API did not answer): the
    /// nodes differ while an upgrade replaces them one at a time.
    pub version: Option<String>,
}

/// The profile's nodes from its configuration, with their container state and, when the API
/// answers, their Kubernetes status.
pub async fn list(home: &Home, profile: &ProfileName) -> Result<Vec<NodeInfo>> {
    let dir = home.profile(profile);
    let config = dir.load_config()?;
    let docker = docker::connect().await?;
    let client = kube_api::admin_client(&dir.admin_kubeconfig()).await.ok();
    let mut nodes = Vec::new();
    for &number in config.nodes.numbers() {
        let name = names::node_name(profile, number);
        let state = containers::container_state(&docker, &names::node_container(&name)).await?;
        let container = state.map_or_else(|| "missing".to_string(), |s| s.to_string());
        let object = match &client {
            Some(client) if state.is_some_and(ContainerState::is_running) => {
                kube_api::get_node(client, &name).await.ok().flatten()
            }
            _ => None,
        };
        nodes.push(NodeInfo {
            ready: object.as_ref().map(kube_api::node_is_ready),
            pod_cidr: object.as_ref().and_then(kube_api::node_pod_cidr),
            version: object
                .as_ref()
                .and_then(crate::effects::drain::kubelet_version),
            ip: config.node_ip(number).to_string(),
            name,
            number,
            container,
        });
    }
    Ok(nodes)
}

/// The control-plane members' components with their health; empty for a single control plane.
pub async fn members(
    home: &Home,
    profile: &ProfileName,
) -> Result<Vec<crate::plan::members::MemberHealth>> {
    let dir = home.profile(profile);
    let config = dir.load_config()?;
    if !config.is_ha() {
        return Ok(Vec::new());
    }
    let docker = docker::connect().await?;
    let client = kube_api::admin_client(&dir.admin_kubeconfig()).await.ok();
    Ok(crate::effects::members::health(&docker, client.as_ref(), profile, &config).await)
}

/// Drains a node, deletes its Node object, removes its container and volume, and routes the
/// remaining nodes' pods without it.
///
/// Ctrl-C or SIGTERM while the node drains (the long part) stops the drain and uncordons the
/// node: it stays, as it was. Once drained, the removal runs to its end whatever signal comes
/// (a half-removed node, its Node object gone but its container and settings kept, would be
/// worse than either).
pub async fn delete(home: &Home, profile: &ProfileName, node: &str, ui: &Ui) -> Result<()> {
    let interrupted = crate::lifecycle::interrupt::interruption();
    let _lock = lock_profile(home, profile)?;
    let dir = home.profile(profile);
    let config = dir.load_config()?;
    let Some(number) = config
        .nodes
        .numbers()
        .iter()
        .copied()
        .find(|n| names::node_name(profile, *n) == node)
    else {
        let known = crate::plan::names::node_names(profile, &config.nodes).join(", ");
        bail!("profile '{profile}' has no node '{node}'; its nodes: {known}");
    };
    if number == 1 {
        bail!(
            "'{node}' is the profile's first node: the control plane reaches pods and Services \
             through it, so it stays; delete the whole profile with `localkube delete -p {profile}`"
        );
    }
    let docker = docker::connect().await?;
    let apiserver = names::control_plane_container(profile, Role::Apiserver);
    if !containers::container_state(&docker, &apiserver)
        .await?
        .is_some_and(ContainerState::is_running)
    {
        bail!(
            "profile '{profile}' is not running: start it first (`localkube start -p {profile}`)"
        );
    }
    let admin = dir.admin_kubeconfig();
    let client = kube_api::admin_client(&admin).await?;

    let step = ui.step(format!("Draining {node}"));
    let kubectl = image_build::kubectl_path(home.cache(), &config.kubernetes_version);
    let drain = tokio::process::Command::new(&kubectl)
        .arg(format!("--kubeconfig={}", admin.display()))
        .args([
            "drain",
            node,
            "--ignore-daemonsets",
            "--delete-emptydir-data",
            "--force",
        ])
        .arg(format!(
            "--timeout={}s",
            crate::effects::pace::scaled(Duration::from_secs(DRAIN_TIMEOUT_SECONDS.into()))
                .as_secs()
        ))
        .kill_on_drop(true)
        .output();
    let drain = async {
        crate::lifecycle::interrupt::phase(ui, "node-delete-drain").await;
        drain
            .await
            .with_context(|| format!("running {}", kubectl.display()))
    };
    let drained = match crate::lifecycle::interrupt::or_interrupted(
        drain,
        interrupted,
        &format!("draining {node}"),
    )
    .await
    {
        Ok(drained) => drained?,
        Err(interrupted) => {
            step.failed();
            let uncordoned = Command::new(&kubectl)
                .arg(format!("--kubeconfig={}", admin.display()))
                .args(["uncordon", node])
                .output();
            return Err(match uncordoned {
                Ok(out) if out.status.success() => interrupted.context(format!(
                    "{node} was uncordoned and stays in profile '{profile}'; pods the drain \
                     evicted run on the other nodes"
                )),
                _ => interrupted.context(format!(
                    "{node} stays in profile '{profile}', cordoned: `localkube kubectl -p \
                     {profile} -- uncordon {node}` lets pods back on it"
                )),
            });
        }
    };
    if drained.status.success() {
        step.done();
    } else {
        // Its pods are deleted with the Node object below; the workload controllers recreate
        // them on the other nodes.
        step.done_with(format!(
            "not drained cleanly, removing it anyway: {}",
            String::from_utf8_lossy(&drained.stderr).trim()
        ));
    }

    let step = ui.step(format!("Removing {node}"));
    kube_api::delete_node(&client, node).await?;
    docker::remove_node(&docker, profile, node).await?;
    let mut remaining = config.clone();
    remaining.nodes = config.nodes.without(number);
    dir.save_config(&remaining)?;
    // Its credentials go with it; a later `node add` of the same number makes new ones.
    let facts = dir.host_facts()?;
    for file in [
        dir.pki_dir()
            .join(pki::cert_file(&pki::kubelet_serving(node))),
        dir.pki_dir()
            .join(pki::key_file(&pki::kubelet_serving(node))),
        dir.pki_dir()
            .join(pki::cert_file(&pki::kubelet_client(node))),
        dir.pki_dir()
            .join(pki::key_file(&pki::kubelet_client(node))),
        dir.kubeconfigs_dir().join(format!("kubelet-{node}.conf")),
    ] {
        remove_if_present(&file)?;
    }
    let staging = facts.staging_dir(&names::node_container(node));
    if staging.exists() {
        std::fs::remove_dir_all(&staging)
            .with_context(|| format!("removing {}", staging.display()))?;
    }
    step.done();

    let step = ui.step("Routing pod traffic without it");
    let plan = cluster::plan(profile, &remaining, &facts);
    let with_roles = |roles: &[Role]| -> Vec<ContainerSpec> {
        plan.containers
            .iter()
            .filter(|c| roles.contains(&c.role))
            .cloned()
            .collect()
    };
    sync_routes(
        &docker,
        &client,
        &remaining,
        &facts,
        &with_roles(&Role::CONTROL_PLANE),
        &with_roles(&[Role::Node]),
    )
    .await?;
    step.done();
    Ok(())
}

fn remove_if_present(path: &std::path::Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing {}", path.display())),
    }
}
