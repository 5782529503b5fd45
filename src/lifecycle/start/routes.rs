//! The `Routes` step: pod and service traffic routed through the nodes, from the pod CIDRs the
//! apiserver knows.

use anyhow::{Context, Result};
use bollard::Docker;
use kube::Client;

use super::context::StartContext;
use crate::effects::{containers, kube_api, staging};
use crate::plan::cluster::{self, ContainerSpec, HostFacts};
use crate::plan::config::ProfileConfig;
use crate::plan::names::Role;
use crate::plan::routes::{self, NodeRoute};

pub(super) async fn sync_routes_step(ctx: &mut StartContext<'_>) -> Result<()> {
    let step = ctx
        .ui
        .step("Routing pod and service traffic through the nodes");
    let control_plane: Vec<ContainerSpec> = Role::CONTROL_PLANE
        .iter()
        .flat_map(|role| ctx.specs(*role))
        .collect();
    let nodes = ctx.specs(Role::Node);
    sync_routes(
        ctx.docker(),
        ctx.client(),
        ctx.config(),
        ctx.facts(),
        &control_plane,
        &nodes,
    )
    .await?;
    step.done();
    Ok(())
}

pub(super) fn control_plane_routes(config: &ProfileConfig, nodes: &[NodeRoute]) -> String {
    routes::render(
        &routes::control_plane(config, nodes),
        "the pod and service ranges go through the nodes, never Docker's gateway",
    )
}

/// Writes every container's routes from the nodes' pod CIDRs as the API server knows them, and
/// has netinit apply the control plane's again where they changed (it applies them by itself at
/// every container start).
pub async fn sync_routes(
    docker: &Docker,
    client: &Client,
    config: &ProfileConfig,
    paths: &HostFacts,
    control_plane: &[ContainerSpec],
    nodes: &[ContainerSpec],
) -> Result<()> {
    let mut node_routes = Vec::new();
    for spec in nodes {
        let pod_cidrs = kube_api::get_node(client, &spec.hostname)
            .await?
            .as_ref()
            .map(kube_api::node_pod_cidrs_of)
            .unwrap_or_default();
        node_routes.push(NodeRoute {
            ip: spec.ip,
            pod_cidrs,
        });
    }
    for spec in nodes {
        let text = routes::render(
            &routes::node(config, &node_routes, spec.ip),
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
