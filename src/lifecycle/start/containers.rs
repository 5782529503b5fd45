//! The `NetworkAndVolumes`, `Containers` and `Scheduler` steps: the Docker objects of the plan,
//! staged, created or started, each recorded before it is made.

use anyhow::Result;
use bollard::Docker;

use super::APISERVER_READY_TIMEOUT;
use super::context::{StartContext, WithLogs};
use super::created::Created;
use super::node_images::load_node_images_in_background;
use super::routes::control_plane_routes;
use crate::effects::containers::{self, Making, container_state};
use crate::effects::{kube_api, staging};
use crate::lb::ready;
use crate::plan::cluster::{ClusterPlan, ContainerSpec};
use crate::plan::container_state::ContainerState;
use crate::plan::names::{self, Role};
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

/// The cluster's containers but the scheduler's (the `Containers` row of `STEPS`): etcd and the
/// apiserver first, then the rest, each group at once.
pub(super) async fn containers(ctx: &mut StartContext<'_>) -> Result<()> {
    let nodes = ctx.specs(Role::Node);
    let control_plane: Vec<ContainerSpec> = Role::CONTROL_PLANE
        .iter()
        .chain(&[Role::ApiserverLb])
        .filter(|r| **r != Role::Scheduler)
        .flat_map(|r| ctx.specs(*r))
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
    let first_roles = [Role::Etcd, Role::Apiserver, Role::ApiserverLb];
    let (first, rest): (Vec<ContainerSpec>, Vec<ContainerSpec>) = control_plane
        .into_iter()
        .chain(nodes.iter().cloned())
        .partition(|s| first_roles.contains(&s.role));
    let (first, one_at_a_time) = apiservers_to_replace_in_turn(ctx, first).await?;
    run_containers(ctx, &first).await?;
    replace_in_turn(ctx, &step, &one_at_a_time).await?;
    run_containers(ctx, &rest).await?;
    step.done();
    load_node_images_in_background(ctx, &nodes).await
}

/// The apiservers of a running control plane of several members that this start replaces (a
/// changed flag, gate or audit policy), taken out of `first`: replaced one at a time by
/// [`replace_in_turn`], so the API keeps answering through the others meanwhile, as kubeadm
/// upgrades one control-plane node at a time. A stopped or single apiserver starts with the rest.
async fn apiservers_to_replace_in_turn(
    ctx: &StartContext<'_>,
    first: Vec<ContainerSpec>,
) -> Result<(Vec<ContainerSpec>, Vec<ContainerSpec>)> {
    if !ctx.config().is_ha() {
        return Ok((first, Vec::new()));
    }
    let docker = ctx.docker();
    let (mut now, mut in_turn) = (Vec::new(), Vec::new());
    for spec in first {
        let replaced_while_serving = spec.role == Role::Apiserver
            && container_state(docker, &spec.name)
                .await?
                .is_some_and(ContainerState::is_running)
            && !containers::is_current(docker, &spec).await?;
        if replaced_while_serving {
            in_turn.push(spec);
        } else {
            now.push(spec);
        }
    }
    Ok((now, in_turn))
}

/// Replaces each apiserver in turn, and goes on to the next only once the load balancer sends
/// connections to the new one: it says so in its output (`lb::ready::state_line`), which is what
/// decides where requests go, and it reaches the members where the host may not (Docker Desktop,
/// rootless Docker).
async fn replace_in_turn(
    ctx: &mut StartContext<'_>,
    step: &crate::ui::Step,
    specs: &[ContainerSpec],
) -> Result<()> {
    let docker = ctx.docker().clone();
    let lb = names::apiserver_lb_container(ctx.profile);
    for spec in specs {
        step.update(format!("replacing {}, one member at a time", spec.name));
        ctx.ui
            .detail(format!("replacing {} while the others serve", spec.name));
        // Only what the load balancer prints from here on counts: earlier lines are the old
        // container's.
        let seen = containers::logs_all(&docker, &lb).await?.lines().count();
        run_containers(ctx, std::slice::from_ref(spec)).await?;
        kube_api::wait_for(
            &format!(
                "the load balancer sending connections to the new {}",
                spec.name
            ),
            APISERVER_READY_TIMEOUT,
            || {
                let docker = docker.clone();
                let lb = lb.clone();
                async move {
                    let output = containers::logs_all(&docker, &lb).await?;
                    let last = output
                        .lines()
                        .skip(seen)
                        .filter_map(ready::backend_state)
                        .filter(|(at, _)| at.ip() == std::net::IpAddr::V4(spec.ip))
                        .last();
                    Ok(matches!(last, Some((_, true))).then_some(()))
                }
            },
        )
        .await
        .with_logs(&docker, &spec.name)
        .await?;
    }
    Ok(())
}

/// The scheduler's container (the `Scheduler` row of `STEPS`).
pub(super) async fn scheduler(ctx: &mut StartContext<'_>) -> Result<()> {
    let specs = ctx.specs(Role::Scheduler);
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
                pod_cidrs: Vec::new(),
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
