//! `status`: each component's container state, what the API says of itself, and the kubeconfig
//! context.
//!
//! The exit code is a bitmask as minikube's: 1 a container is not running, 2 the control plane is
//! not healthy, 4 kubeconfig does not point at the profile; 0 when all is well. A paused profile
//! (`localkube pause`) has 1 and 2 set (its containers are frozen and its API does not answer)
//! and says Paused, with `"paused": true` in JSON.

use anyhow::Result;
use serde::Serialize;

use crate::effects::home::Home;
use crate::effects::{docker, kube_api, kubeconfig_store};
use crate::plan::cluster;
use crate::plan::container_state::ContainerState;
use crate::plan::names::{self, Role};
use crate::plan::profile_name::ProfileName;

pub const EXIT_CONTAINERS: u8 = 1;
pub const EXIT_CONTROL_PLANE: u8 = 2;
pub const EXIT_KUBECONFIG: u8 = 4;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    pub profile: String,
    /// Settings that switch a safeguard off, which the profile accepted (`insecure: true`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub insecure: Vec<String>,
    /// Frozen by `localkube pause`: the API is not asked (it would not answer).
    pub paused: bool,
    pub components: Vec<ComponentStatus>,
    pub health: Health,
    pub kubeconfig: String,
    pub exit_code: u8,
}

/// What the cluster's API says of itself, with the admin credentials.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    pub apiserver: bool,
    pub etcd: bool,
    pub nodes_ready: bool,
    /// Why the API could not be asked, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ComponentStatus {
    pub name: String,
    pub role: Role,
    pub state: String,
    /// With several control-plane members, what the cluster says of this one: etcd leader,
    /// follower or not answering; apiserver serving or not; controller-manager and scheduler
    /// leader or standby.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<String>,
}

/// Asks the API; a busy machine gets a few tries before a component counts as not ready, and
/// the last error is kept for the report.
async fn health(admin_kubeconfig: &std::path::Path, plan: &cluster::ClusterPlan) -> Health {
    let mut health = Health::default();
    for attempt in 0..3 {
        if attempt > 0 {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
        match check(admin_kubeconfig, plan).await {
            Ok(h) if h.apiserver && h.etcd && h.nodes_ready => return h,
            Ok(h) => health = h,
            Err(e) => {
                health = Health {
                    problem: Some(format!("{e:#}")),
                    ..Health::default()
                }
            }
        }
    }
    health
}

async fn check(admin_kubeconfig: &std::path::Path, plan: &cluster::ClusterPlan) -> Result<Health> {
    let client = kube_api::admin_client(admin_kubeconfig).await?;
    let apiserver = kube_api::readyz(&client, "").await?;
    let etcd = kube_api::readyz(&client, "etcd").await?;
    let mut nodes_ready = true;
    for spec in plan.containers.iter().filter(|c| c.role == Role::Node) {
        let node = kube_api::get_node(&client, &spec.hostname).await?;
        nodes_ready &= node.as_ref().is_some_and(kube_api::node_is_ready);
    }
    Ok(Health {
        apiserver,
        etcd,
        nodes_ready,
        problem: None,
    })
}

/// The profile's status: its containers, what its API says, and the kubeconfig.
pub async fn status(home: &Home, profile_name: &ProfileName) -> Result<Status> {
    let profile = home.profile(profile_name);
    let config = profile.load_config()?;
    let plan = cluster::plan(profile_name, &config, &profile.host_facts()?);
    let docker = docker::connect().await?;
    let found = docker::profile_containers(&docker, profile_name).await?;
    let state_of = |name: &str| found.iter().find(|c| c.name == name).map(|c| c.state);
    let components: Vec<ComponentStatus> = plan
        .containers
        .iter()
        .map(|spec| ComponentStatus {
            name: spec.name.clone(),
            role: spec.role,
            state: state_of(&spec.name).map_or_else(|| "nonexistent".into(), |s| s.to_string()),
            health: None,
        })
        .collect();
    let mut components = components;
    let mut exit_code = 0;
    let paused = crate::plan::pause::is_paused(
        components
            .iter()
            .map(|c| crate::plan::container_state::ContainerState::parse(&c.state)),
    );
    let all_running = plan
        .containers
        .iter()
        .all(|spec| state_of(&spec.name).is_some_and(ContainerState::is_running));
    let health = if all_running {
        health(&profile.admin_kubeconfig(), &plan).await
    } else {
        // Nothing answers without its containers.
        Health::default()
    };
    if config.is_ha() && !paused {
        let client = kube_api::admin_client(&profile.admin_kubeconfig())
            .await
            .ok();
        let client = client.filter(|_| health.apiserver);
        let members =
            crate::effects::members::health(&docker, client.as_ref(), profile_name, &config).await;
        for c in &mut components {
            c.health = members
                .iter()
                .find(|m| m.container == c.name)
                .map(|m| m.health.clone());
        }
    }
    if !all_running {
        exit_code |= EXIT_CONTAINERS;
    }
    if !(health.apiserver && health.etcd && health.nodes_ready) {
        exit_code |= EXIT_CONTROL_PLANE;
    }
    let context = names::kubeconfig_context(profile_name);
    let kubeconfig = match kubeconfig_store::current_context()? {
        Some(current) if current == context => "configured".to_string(),
        Some(current) => {
            exit_code |= EXIT_KUBECONFIG;
            format!("current context is '{current}', not '{context}'")
        }
        None => {
            exit_code |= EXIT_KUBECONFIG;
            "no current context".to_string()
        }
    };
    let status = Status {
        profile: profile_name.to_string(),
        insecure: config.settings.insecure_report(),
        paused,
        components,
        health,
        kubeconfig,
        exit_code,
    };
    Ok(status)
}
