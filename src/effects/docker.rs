//! The connection to the Docker engine (bollard), honouring DOCKER_HOST like the docker CLI.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context, Result};
use bollard::Docker;
use bollard::query_parameters::{
    ListContainersOptions, ListNetworksOptions, ListVolumesOptions, StopContainerOptions,
};
use ipnet::Ipv4Net;

use crate::effects::docker_error::is_not_found;
use crate::effects::owned::{self, Kind};
use crate::plan::container_state::ContainerState;
use crate::plan::names::{LABEL_NODE, LABEL_PROFILE, LABEL_ROLE, Role};
use crate::plan::profile_name::ProfileName;
use crate::plan::shutdown;

/// Connects, checks that a daemon answers and that localkube can work with it: an engine too
/// old, or Podman's Docker-compatible API, is refused with the version needed
/// (`plan::preflight::daemon_refusal`).
pub async fn connect() -> Result<Docker> {
    let docker = connect_unchecked().await?;
    let daemon = crate::effects::host_facts::daemon_version(&docker)
        .await
        .context("asking the Docker daemon its version")?;
    if let Some(refusal) = crate::plan::preflight::daemon_refusal(&daemon) {
        anyhow::bail!(refusal);
    }
    Ok(docker)
}

/// Connects and checks that a daemon answers, whatever it is (`doctor` describes any). The API
/// version is negotiated: Debian's docker.io 20.10 speaks API 1.41, older than bollard's default,
/// and a newer engine answers the older API bollard asks for.
pub async fn connect_unchecked() -> Result<Docker> {
    let address =
        std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
    let hint = || {
        format!(
            "no Docker daemon answers at {address}: start Docker (`sudo systemctl start docker`), \
             or run `scripts/setup.sh`, which installs Debian's docker.io and starts dockerd; \
             set DOCKER_HOST if your daemon listens elsewhere"
        )
    };
    let docker = Docker::connect_with_defaults()
        .with_context(hint)?
        .with_timeout(call_timeout());
    let docker = docker.negotiate_version().await.with_context(hint)?;
    docker.ping().await.with_context(hint)?;
    Ok(docker)
}

/// How long one Docker call (a create, start, stop, remove, inspect, exec) may take on a usual
/// machine before it counts as hung; stretched by the pace ([`call_timeout`]). bollard's own
/// default, a fixed 120 s, cut a container's start off in an emulated VM under load, where a
/// start took longer than that while the daemon was fine.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(300);

/// Tests shrink Docker's deadlines (each call's, a roll-back's) to this many seconds, before the
/// pace stretches them, so a daemon made slow or failing on purpose crosses them in seconds.
pub const TEST_TIMEOUT_ENV: &str = "LOCALKUBE_TEST_DOCKER_TIMEOUT";

/// A deadline for Docker work that takes `usual` on a usual machine: stretched by the pace.
pub fn deadline(usual: Duration) -> Duration {
    let base = std::env::var(TEST_TIMEOUT_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|secs| *secs > 0)
        .map_or(usual, Duration::from_secs);
    crate::effects::pace::scaled(base)
}

/// The deadline of every Docker call of this process: [`CALL_TIMEOUT`] stretched by the pace.
pub fn call_timeout() -> Duration {
    deadline(CALL_TIMEOUT)
}

/// How long one streaming request (an image load, save, build, import, push or pull) may take on
/// a usual machine, stretched by the pace ([`for_transfers`]). bollard's default of 120 s for
/// every request cut a 1.1 GB `images load` off at 587 MB in a VM without hardware
/// virtualisation (`scripts/check-host.sh`); slow disks and big archives get there too. Progress
/// is shown meanwhile, and Ctrl-C stops it.
pub const TRANSFER_TIMEOUT: Duration = Duration::from_secs(3600);

/// The same connection with [`TRANSFER_TIMEOUT`] stretched by the pace, for requests that stream
/// images or copy a volume.
pub fn for_transfers(docker: &Docker) -> Docker {
    docker
        .clone()
        .with_timeout(crate::effects::pace::scaled(TRANSFER_TIMEOUT))
}

/// A container of a profile, as found by its labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileContainer {
    pub id: String,
    pub name: String,
    /// `None`: a role label this build does not know (a newer localkube made it).
    pub role: Option<Role>,
    pub state: ContainerState,
    pub labels: HashMap<String, String>,
}

impl ProfileContainer {
    /// Its role label as written, known to this build or not: what `status` and `logs` show.
    pub fn role_label(&self) -> &str {
        self.labels.get(LABEL_ROLE).map_or("", String::as_str)
    }
}

fn profile_filter(profile: &ProfileName) -> HashMap<String, Vec<String>> {
    HashMap::from([(
        "label".to_string(),
        vec![format!("{LABEL_PROFILE}={profile}")],
    )])
}

/// Every container carrying the profile's label, running or not.
pub async fn profile_containers(
    docker: &Docker,
    profile: &ProfileName,
) -> Result<Vec<ProfileContainer>> {
    labelled_containers(docker, profile_filter(profile))
        .await
        .with_context(|| format!("listing the containers of profile '{profile}'"))
}

/// Every container of this role, of any profile (read only: to see what other profiles hold).
pub async fn containers_with_role(docker: &Docker, role: Role) -> Result<Vec<ProfileContainer>> {
    let filter = HashMap::from([("label".to_string(), vec![format!("{LABEL_ROLE}={role}")])]);
    labelled_containers(docker, filter)
        .await
        .with_context(|| format!("listing the containers of role '{role}'"))
}

async fn labelled_containers(
    docker: &Docker,
    filters: HashMap<String, Vec<String>>,
) -> Result<Vec<ProfileContainer>> {
    let found = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        }))
        .await?;
    let mut containers: Vec<ProfileContainer> = found
        .into_iter()
        .map(|c| {
            let labels = c.labels.unwrap_or_default();
            ProfileContainer {
                id: c.id.unwrap_or_default(),
                name: c
                    .names
                    .and_then(|n| n.into_iter().next())
                    .unwrap_or_default()
                    .trim_start_matches('/')
                    .to_string(),
                role: labels.get(LABEL_ROLE).and_then(|r| Role::parse(r)),
                state: c.state.map_or(ContainerState::Unknown, |s| {
                    ContainerState::parse(s.as_ref())
                }),
                labels,
            }
        })
        .collect();
    containers.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(containers)
}

/// The names of the profile's node containers that run; an error saying how to start them when
/// none does.
pub async fn running_nodes(docker: &Docker, profile: &ProfileName) -> Result<Vec<String>> {
    let nodes: Vec<String> = profile_containers(docker, profile)
        .await?
        .into_iter()
        .filter(|c| c.role == Some(Role::Node) && c.state.is_running())
        .map(|c| c.name)
        .collect();
    if nodes.is_empty() {
        anyhow::bail!(
            "profile '{profile}' has no running node: start it with `localkube start -p {profile}`"
        );
    }
    Ok(nodes)
}

/// Stops every running container of the profile; volumes and the network stay. Wave by wave
/// (`plan::shutdown`), every container of a wave at once; each wave lists the containers afresh,
/// so proxies the load balancer controller made before it stopped are found.
pub async fn stop_profile(docker: &Docker, profile: &ProfileName) -> Result<Vec<String>> {
    let mut stopped = Vec::new();
    for wave in 0..shutdown::WAVES {
        let this_wave: Vec<ProfileContainer> = profile_containers(docker, profile)
            .await?
            .into_iter()
            .filter(|c| {
                c.role.map_or(0, shutdown::wave) == wave
                    && matches!(
                        c.state,
                        ContainerState::Running | ContainerState::Restarting
                    )
            })
            .collect();
        let results = futures_util::future::join_all(this_wave.into_iter().map(|c| async move {
            let options = StopContainerOptions {
                t: Some(
                    c.role
                        .map_or(shutdown::STOP_TIMEOUT_SECS, shutdown::stop_timeout),
                ),
                ..Default::default()
            };
            match docker.stop_container(&c.id, Some(options)).await {
                Ok(()) => Ok(Some(c.name)),
                Err(e) if is_not_found(&e) => Ok(None),
                Err(e) => Err(e).with_context(|| format!("stopping container {}", c.name)),
            }
        }))
        .await;
        for result in results {
            stopped.extend(result?);
        }
    }
    Ok(stopped)
}

/// What `delete` removed, for its report.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Removed {
    pub containers: Vec<String>,
    pub networks: Vec<String>,
    pub volumes: Vec<String>,
}

/// Removes the profile's containers, networks and volumes, and nothing without its label.
pub async fn remove_profile(docker: &Docker, profile: &ProfileName) -> Result<Removed> {
    let mut removed = Removed::default();
    // The load balancer controller first, then a fresh list of the rest, as in `stop_profile`.
    for controller_pass in [true, false] {
        for c in profile_containers(docker, profile).await? {
            if (c.role == Some(Role::LbController)) != controller_pass {
                continue;
            }
            if owned::remove_listed(docker, Kind::Container, &c.name, &c.id).await? {
                removed.containers.push(c.name);
            }
        }
    }
    let networks = docker
        .list_networks(Some(ListNetworksOptions {
            filters: Some(profile_filter(profile)),
        }))
        .await
        .context("listing networks")?;
    for n in networks {
        let name = n.name.unwrap_or_default();
        let id = n.id.clone().unwrap_or_else(|| name.clone());
        if owned::remove_listed(docker, Kind::Network, &name, &id).await? {
            removed.networks.push(name);
        }
    }
    removed.volumes = remove_volumes(docker, profile_filter(profile)).await?;
    Ok(removed)
}

/// Removes the volumes matching the label filters; returns their names.
async fn remove_volumes(
    docker: &Docker,
    filters: HashMap<String, Vec<String>>,
) -> Result<Vec<String>> {
    let volumes = docker
        .list_volumes(Some(ListVolumesOptions {
            filters: Some(filters),
        }))
        .await
        .context("listing volumes")?;
    let mut removed = Vec::new();
    for v in volumes.volumes.unwrap_or_default() {
        if owned::remove_listed(docker, Kind::Volume, &v.name, &v.name).await? {
            removed.push(v.name);
        }
    }
    Ok(removed)
}

/// Whether the profile's cluster holds data: its etcd volume exists and carries its label.
pub async fn holds_cluster_data(docker: &Docker, profile: &ProfileName) -> Result<bool> {
    let name = crate::plan::names::etcd_volume(profile);
    match docker.inspect_volume(&name).await {
        Ok(volume) => {
            Ok(volume.labels.get(crate::plan::names::LABEL_PROFILE) == Some(&profile.to_string()))
        }
        Err(e) if is_not_found(&e) => Ok(false),
        Err(e) => Err(e).with_context(|| format!("inspecting volume {name}")),
    }
}

/// Removes one node's container and volume: only what carries both the profile's label and the
/// node's.
pub async fn remove_node(docker: &Docker, profile: &ProfileName, node: &str) -> Result<Removed> {
    let mut removed = Removed::default();
    let filters = HashMap::from([(
        "label".to_string(),
        vec![
            format!("{LABEL_PROFILE}={profile}"),
            format!("{LABEL_NODE}={node}"),
        ],
    )]);
    let found = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(filters.clone()),
            ..Default::default()
        }))
        .await
        .with_context(|| format!("listing the containers of node {node}"))?;
    for c in found {
        let id = c.id.unwrap_or_default();
        if owned::remove_listed(docker, Kind::Container, node, &id).await? {
            removed.containers.push(node.to_string());
        }
    }
    removed.volumes = remove_volumes(docker, filters).await?;
    Ok(removed)
}

/// Subnets of every Docker network, so a new profile's network avoids them.
pub async fn network_subnets(docker: &Docker) -> Result<Vec<Ipv4Net>> {
    let networks = docker
        .list_networks(None::<ListNetworksOptions>)
        .await
        .context("listing networks")?;
    Ok(networks
        .into_iter()
        .flat_map(|n| n.ipam.and_then(|i| i.config).unwrap_or_default())
        .filter_map(|c| c.subnet.and_then(|s| s.parse().ok()))
        .collect())
}
