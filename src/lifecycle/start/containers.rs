//! The `NetworkAndVolumes`, `Containers` and `Scheduler` steps: the Docker objects of the plan,
//! staged, created or started, each recorded before it is made.

use anyhow::Result;
use bollard::Docker;

use super::context::StartContext;
use super::created::Created;
use super::node_images::load_node_images_in_background;
use super::routes::control_plane_routes;
use crate::effects::containers::{self, ContainerState, Making, container_state};
use crate::effects::staging;
use crate::plan::cluster::{ClusterPlan, ContainerSpec};
use crate::plan::names::Role;
use crate::plan::node_config;
use crate::plan::routes::{self, NodeRoute};

pub(super) async fn network_and_volumes(ctx: &mut StartContext<'_>) -> Result<()> {
    let step = ctx.ui.step("Creating network and volumes");
    let docker = ctx.docker().clone();
    let plan = ctx.plan().clone();
    if containers::ensure_network(&docker, &plan.network).await? {
        ctx.created.network = Some(plan.network.name.clone());
    }
    for volume in &plan.volumes {
        if containers::ensure_volume(&docker, volume).await? {
            ctx.created.volumes.push(volume.name.clone());
        }
    }
    step.done();
    Ok(())
}

/// The cluster's containers but the scheduler's, started at once (see [`Step::Containers`]).
pub(super) async fn containers(ctx: &mut StartContext<'_>) -> Result<()> {
    let nodes = ctx.specs(Role::Node.as_str());
    let control_plane: Vec<ContainerSpec> = Role::CONTROL_PLANE
        .iter()
        .chain(&[Role::ApiserverLb])
        .filter(|r| **r != Role::Scheduler)
        .flat_map(|r| ctx.specs(r.as_str()))
        .collect();
    let mut what: Vec<&str> = control_plane.iter().map(|s| s.role.as_str()).collect();
    // Several members: each role once.
    what.dedup();
    what.extend(nodes.iter().map(|s| s.hostname.as_str()));
    let step = ctx.ui.step(format!("Starting {}", what.join(", ")));
    stage_control_plane(ctx, &control_plane)?;
    stage_nodes(ctx, &nodes).await?;
    // etcd and the apiserver first, on their own: the engine starts containers given at once
    // one after another (1-1.4 s for five, measured), and everything else waits for the
    // apiserver anyway. The rest follow while it boots. (Several members: every etcd member,
    // which need each other for a quorum, every apiserver and their load balancer.)
    let first_roles = [Role::Etcd, Role::Apiserver, Role::ApiserverLb].map(Role::as_str);
    let (first, rest): (Vec<ContainerSpec>, Vec<ContainerSpec>) = control_plane
        .into_iter()
        .chain(nodes.iter().cloned())
        .partition(|s| first_roles.contains(&s.role.as_str()));
    run_containers(ctx, &first).await?;
    run_containers(ctx, &rest).await?;
    step.done();
    load_node_images_in_background(ctx, &nodes).await
}

/// The scheduler's container (see [`Step::Scheduler`]).
pub(super) async fn scheduler(ctx: &mut StartContext<'_>) -> Result<()> {
    let specs = ctx.specs(Role::Scheduler.as_str());
    let step = ctx.ui.step("Starting scheduler");
    stage_control_plane(ctx, &specs)?;
    run_containers(ctx, &specs).await?;
    step.done();
    Ok(())
}

/// The control plane's staged files and routes.
pub(super) fn stage_control_plane(ctx: &StartContext<'_>, specs: &[ContainerSpec]) -> Result<()> {
    for spec in specs {
        ctx.ui.detail(format!(
            "{} {}",
            spec.entrypoint.join(" "),
            spec.args.join(" ")
        ));
        staging::stage_container(ctx.facts(), spec)?;
        // A resumed cluster keeps the routes of its last start (every node's pod CIDR); a new
        // one starts with the ranges via the first node, whose address is known already.
        if !staging::has_file(ctx.facts(), &spec.name, routes::CONTROL_PLANE_ROUTES_FILE) {
            let first_node = NodeRoute {
                ip: ctx.config().node_ip(1),
                pod_cidr: None,
            };
            staging::write_generated(
                ctx.facts(),
                &spec.name,
                routes::CONTROL_PLANE_ROUTES_FILE,
                &control_plane_routes(ctx.config(), &[first_node]),
            )?;
        }
    }
    Ok(())
}

/// The nodes' staged files. kubelet and kube-proxy wait for their flags files, written once the
/// apiserver answers (a node that already runs as planned keeps them).
pub(super) async fn stage_nodes(ctx: &StartContext<'_>, nodes: &[ContainerSpec]) -> Result<()> {
    let docker = ctx.docker();
    for spec in nodes {
        let keeps_running = container_state(docker, &spec.name)
            .await?
            .is_some_and(ContainerState::is_running)
            && containers::is_current(docker, spec).await?;
        let files = node_config::node_files(ctx.config(), &spec.hostname, spec.ip);
        let (boot, flags) = node_config::split_process_flags(files);
        staging::write_node_files(ctx.facts(), &spec.name, &boot)?;
        if keeps_running {
            staging::write_node_files(ctx.facts(), &spec.name, &flags)?;
        } else {
            for file in &flags {
                staging::remove_file(ctx.facts(), &spec.name, &file.path)?;
            }
        }
        staging::stage_container(ctx.facts(), spec)?;
    }
    Ok(())
}

/// [`containers::run_container`] for each spec, all at once; everything made is recorded before a failure is
/// reported, so a roll-back finds it all.
pub(super) async fn run_containers(
    ctx: &mut StartContext<'_>,
    specs: &[ContainerSpec],
) -> Result<()> {
    let docker = ctx.docker().clone();
    // Recorded before they are made or started: an interruption drops the futures below with
    // what they did, and the roll-back must still find it.
    for spec in specs {
        let state = container_state(&docker, &spec.name).await?;
        ctx.created.expect(&spec.name, state);
    }
    let results = futures_util::future::join_all(specs.iter().map(|spec| async {
        let mut created = Created::default();
        let result = containers::run_container(&docker, spec, |making| match making {
            Making::Created => created.add_container(&spec.name),
            Making::Started => created.add_started(&spec.name),
        })
        .await;
        (created, result)
    }))
    .await;
    let mut failure = None;
    for (created, result) in results {
        ctx.created.merge(&created);
        if let Err(e) = result {
            failure.get_or_insert(e);
        }
    }
    failure.map_or(Ok(()), Err)
}

/// Whether every container of the plan exists, runs, and was made from this plan.
pub async fn all_running(docker: &Docker, plan: &ClusterPlan) -> Result<bool> {
    for spec in &plan.containers {
        if !container_state(docker, &spec.name)
            .await?
            .is_some_and(ContainerState::is_running)
            || !containers::is_current(docker, spec).await?
        {
            return Ok(false);
        }
    }
    Ok(true)
}
