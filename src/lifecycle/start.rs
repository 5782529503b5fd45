//! Bringing a profile's cluster up: create what is missing, start what is stopped, wait until the
//! API answers, the node is Ready and CoreDNS is Ready. One code path serves a new cluster and a
//! stopped one, so a resume repairs whatever a user removed by hand.

use std::time::Duration;

use anyhow::{Context, Result};
use bollard::Docker;
use kube::Client;

use crate::effects::containers::{self, container_state};
use crate::effects::home::ProfileDir;
use crate::effects::{kube_api, staging};
use crate::plan::cluster::{self, ClusterPlan, ContainerSpec, HostFacts};
use crate::plan::config::ProfileConfig;
use crate::plan::names::Role;
use crate::plan::profile_name::ProfileName;
use crate::plan::routes::{self, NodeRoute};
use crate::plan::{addons, load_balancer, names, node_config};
use crate::ui::Ui;

/// How long each component gets to become ready before the start fails.
pub const APISERVER_READY_TIMEOUT: Duration = Duration::from_secs(90);
pub const NODE_READY_TIMEOUT: Duration = Duration::from_secs(120);
pub const COREDNS_READY_TIMEOUT: Duration = Duration::from_secs(120);

/// What this run created, so a failure removes exactly that and nothing older.
#[derive(Debug, Default)]
pub struct Created {
    pub network: Option<String>,
    pub volumes: Vec<String>,
    pub containers: Vec<String>,
}

impl Created {
    pub fn is_empty(&self) -> bool {
        self.network.is_none() && self.volumes.is_empty() && self.containers.is_empty()
    }

    /// Removes what this run created: containers first, then volumes and the network.
    pub async fn roll_back(&self, docker: &Docker) -> Result<()> {
        for name in self.containers.iter().rev() {
            containers::remove_container(docker, name).await?;
        }
        for name in &self.volumes {
            docker
                .remove_volume(
                    name,
                    Some(bollard::query_parameters::RemoveVolumeOptions { force: true }),
                )
                .await
                .with_context(|| format!("removing volume {name}"))?;
        }
        if let Some(network) = &self.network {
            docker
                .remove_network(network)
                .await
                .with_context(|| format!("removing network {network}"))?;
        }
        Ok(())
    }
}

pub struct StartInput<'a> {
    pub profile: &'a ProfileName,
    pub dir: &'a ProfileDir,
    pub config: &'a ProfileConfig,
    pub plan: &'a ClusterPlan,
    /// The host facts the plan was made with.
    pub facts: &'a HostFacts,
    pub ui: &'a Ui,
}

/// Whether every container of the plan exists, runs, and was made from this plan.
pub async fn all_running(docker: &Docker, plan: &ClusterPlan) -> Result<bool> {
    for spec in &plan.containers {
        if container_state(docker, &spec.name).await?.as_deref() != Some("running")
            || !is_current(docker, spec).await?
        {
            return Ok(false);
        }
    }
    Ok(true)
}

/// False for a stateless container made from an older plan (before an upgrade of localkube or of
/// the Kubernetes version): `start` makes it anew from this one.
async fn is_current(docker: &Docker, spec: &ContainerSpec) -> Result<bool> {
    let Some(digest) = spec.labels.get(names::LABEL_SPEC_DIGEST) else {
        return Ok(true);
    };
    if container_state(docker, &spec.name).await?.is_none() {
        return Ok(true); // nothing to replace: it is made from this plan
    }
    let existing =
        containers::container_label(docker, &spec.name, names::LABEL_SPEC_DIGEST).await?;
    Ok(existing.as_ref() == Some(digest))
}

/// Runs every step; on error, `created` holds what must be rolled back.
pub async fn bring_up(
    docker: &Docker,
    input: &StartInput<'_>,
    created: &mut Created,
) -> Result<()> {
    let StartInput {
        profile,
        dir,
        config,
        plan,
        facts: paths,
        ui,
    } = input;

    let step = ui.step("Creating network and volumes");
    if containers::ensure_network(docker, &plan.network).await? {
        created.network = Some(plan.network.name.clone());
    }
    for volume in &plan.volumes {
        if containers::ensure_volume(docker, volume).await? {
            created.volumes.push(volume.name.clone());
        }
    }
    step.done();

    let with_role = |role: &str| -> Vec<&ContainerSpec> {
        plan.containers.iter().filter(|c| c.role == role).collect()
    };
    let control_plane: Vec<&ContainerSpec> = Role::CONTROL_PLANE
        .iter()
        .flat_map(|role| with_role(role.as_str()))
        .collect();
    let nodes = with_role(Role::Node.as_str());
    let add_ons = with_role(load_balancer::CONTROLLER_ROLE);
    for spec in &control_plane {
        let step = ui.step(format!("Starting {}", spec.role));
        ui.detail(format!(
            "{} {}",
            spec.entrypoint.join(" "),
            spec.args.join(" ")
        ));
        staging::stage_container(paths, spec)?;
        // A resumed cluster keeps the routes of its last start (every node's pod CIDR); a new
        // one starts with the ranges via the first node, whose address is known already.
        if !staging::has_file(paths, &spec.name, routes::CONTROL_PLANE_ROUTES_FILE) {
            let first_node = NodeRoute {
                ip: config.node_ip(0),
                pod_cidr: None,
            };
            staging::write_generated(
                paths,
                &spec.name,
                routes::CONTROL_PLANE_ROUTES_FILE,
                &control_plane_routes(config, &[first_node]),
            )?;
        }
        run_container(docker, spec, created).await?;
        step.done();
    }

    let step = ui.step("Waiting for the apiserver");
    let client = kube_api::admin_client(&dir.kubeconfigs_dir().join("admin.conf")).await?;
    let apiserver = names::control_plane_container(profile, Role::Apiserver);
    kube_api::wait_for(
        "the apiserver answering /readyz",
        APISERVER_READY_TIMEOUT,
        || {
            let client = client.clone();
            async move { Ok(kube_api::readyz(&client, "").await?.then_some(())) }
        },
    )
    .await
    .with_logs(docker, &apiserver)
    .await?;
    step.done();

    for (index, spec) in nodes.iter().enumerate() {
        start_node(docker, &client, input, paths, spec, index as u32, created).await?;
    }

    let step = ui.step("Routing pod and service traffic through the nodes");
    sync_routes(docker, &client, input, &control_plane, &nodes).await?;
    step.done();

    let step = ui.step("Installing CoreDNS");
    kube_api::apply_manifest(&client, &addons::coredns(config)).await?;
    kube_api::wait_for("CoreDNS ready", COREDNS_READY_TIMEOUT, || {
        let client = client.clone();
        async move {
            Ok(
                kube_api::deployment_ready(&client, "kube-system", "coredns")
                    .await?
                    .then_some(()),
            )
        }
    })
    .await
    .with_logs(docker, &nodes[0].name)
    .await?;
    step.done();

    let step = ui.step("Starting the load balancer controller");
    kube_api::apply_manifest(&client, addons::lb_controller()).await?;
    for spec in &add_ons {
        staging::stage_container(paths, spec)?;
        run_container(docker, spec, created).await?;
    }
    step.done();
    Ok(())
}

/// Creates the container if missing, starts it if stopped; records what it created.
async fn run_container(docker: &Docker, spec: &ContainerSpec, created: &mut Created) -> Result<()> {
    // The controller runs this very binary: a controller of another localkube build is replaced.
    if spec.role == load_balancer::CONTROLLER_ROLE
        && containers::container_image(docker, &spec.name)
            .await?
            .is_some_and(|image| image != spec.image)
    {
        containers::remove_container(docker, &spec.name).await?;
    }
    if !is_current(docker, spec).await? {
        containers::remove_container(docker, &spec.name).await?;
    }
    match container_state(docker, &spec.name).await? {
        None => {
            created.containers.push(spec.name.clone());
            containers::create_and_start(docker, spec).await?;
        }
        Some(state) if state == "running" => {}
        Some(_) => containers::start_existing(docker, &spec.name).await?,
    }
    Ok(())
}

async fn start_node(
    docker: &Docker,
    client: &Client,
    input: &StartInput<'_>,
    paths: &HostFacts,
    spec: &ContainerSpec,
    index: u32,
    created: &mut Created,
) -> Result<()> {
    let StartInput { config, ui, .. } = input;
    let node = spec.hostname.as_str();
    let step = ui.step(format!("Starting node {node}"));
    staging::write_node_files(
        paths,
        &spec.name,
        &node_config::node_files(config, node, config.node_ip(index)),
    )?;
    staging::stage_container(paths, spec)?;
    run_container(docker, spec, created).await?;
    step.done();

    let step = ui.step(format!("Loading pause and CoreDNS images into {node}"));
    kube_api::wait_for(
        "containerd answering in the node",
        Duration::from_secs(60),
        || async {
            let out = containers::exec(docker, &spec.name, &["ctr", "version"], None).await?;
            Ok((out.exit_code == 0).then_some(()))
        },
    )
    .await
    .with_logs(docker, &spec.name)
    .await?;
    let version = &config.kubernetes_version;
    let images = [
        names::image("pause", version),
        names::image("coredns", version),
    ];
    let refs: Vec<&str> = images.iter().map(String::as_str).collect();
    containers::load_images_into_node(docker, &spec.name, &refs).await?;
    step.done();

    let step = ui.step(format!("Waiting for node {node} to register"));
    let pod_cidr = kube_api::wait_for(
        "the node registered with a pod CIDR",
        NODE_READY_TIMEOUT,
        || {
            let client = client.clone();
            async move {
                Ok(kube_api::get_node(&client, node)
                    .await?
                    .as_ref()
                    .and_then(kube_api::node_pod_cidr))
            }
        },
    )
    .await
    .with_logs(docker, &spec.name)
    .await?;
    let cidr = pod_cidr
        .parse()
        .with_context(|| format!("node {node} has an invalid pod CIDR '{pod_cidr}'"))?;
    staging::write_node_files(
        paths,
        &spec.name,
        &[node_config::NodeFile {
            path: "cni/10-localkube.conflist".into(),
            content: node_config::cni_conflist(cidr),
        }],
    )?;
    step.done_with(format!("pods in {pod_cidr}"));

    let step = ui.step(format!("Waiting for node {node} to be Ready"));
    kube_api::wait_for("the node Ready", NODE_READY_TIMEOUT, || {
        let client = client.clone();
        async move {
            Ok(kube_api::get_node(&client, node)
                .await?
                .as_ref()
                .is_some_and(kube_api::node_is_ready)
                .then_some(()))
        }
    })
    .await
    .with_logs(docker, &spec.name)
    .await?;
    step.done();
    Ok(())
}

fn control_plane_routes(config: &ProfileConfig, nodes: &[NodeRoute]) -> String {
    routes::render(
        &routes::control_plane(config, nodes),
        "the pod and service ranges go through the nodes, never Docker's gateway",
    )
}

/// Writes every container's routes from the nodes' pod CIDRs as the API server knows them, and
/// has netinit apply the control plane's again where they changed (it applies them by itself at
/// every container start).
async fn sync_routes(
    docker: &Docker,
    client: &Client,
    input: &StartInput<'_>,
    control_plane: &[&ContainerSpec],
    nodes: &[&ContainerSpec],
) -> Result<()> {
    let StartInput {
        config,
        facts: paths,
        ..
    } = input;
    let mut node_routes = Vec::new();
    for spec in nodes {
        let pod_cidr = kube_api::get_node(client, &spec.hostname)
            .await?
            .as_ref()
            .and_then(kube_api::node_pod_cidr)
            .and_then(|cidr| cidr.parse().ok());
        node_routes.push(NodeRoute {
            ip: spec.ip,
            pod_cidr,
        });
    }
    for spec in nodes {
        let text = routes::render(
            &routes::node(&node_routes, spec.ip),
            "the other nodes' pods, each via its node",
        );
        staging::write_generated(paths, &spec.name, routes::NODE_ROUTES_FILE, &text)?;
    }
    let text = control_plane_routes(config, &node_routes);
    for spec in control_plane {
        let file = routes::CONTROL_PLANE_ROUTES_FILE;
        if staging::write_generated(paths, &spec.name, file, &text)? {
            let path = format!("{}/{file}", cluster::COMPONENT_CONFIG_DIR);
            containers::exec_ok(docker, &spec.name, &[cluster::NETINIT, &path])
                .await
                .with_context(|| format!("applying the new routes in {}", spec.name))?;
        }
    }
    Ok(())
}

/// Adds a component's last log lines to the error of a wait for it.
trait WithLogs<T> {
    async fn with_logs(self, docker: &Docker, container: &str) -> Result<T>;
}

impl<T> WithLogs<T> for Result<T> {
    async fn with_logs(self, docker: &Docker, container: &str) -> Result<T> {
        match self {
            Ok(value) => Ok(value),
            Err(e) => Err(e.context(component_failed(docker, container).await)),
        }
    }
}

/// The error context for a component that did not become ready: its last log lines.
async fn component_failed(docker: &Docker, container: &str) -> String {
    let logs = containers::logs_tail(docker, container, 20).await;
    format!(
        "{container} did not become ready; its last log lines:\n{}",
        logs.trim_end()
    )
}
