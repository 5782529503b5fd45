//! The `Plan` step (every container as data) and the `Images` step (the images there, and whether
//! the cluster already runs as planned).

use anyhow::{Result, bail};
use bollard::Docker;

use super::Outcome;
use super::containers::all_running;
use super::context::StartContext;
use crate::effects::containers::container_state;
use crate::effects::{docker, image_registry, lb_image};
use crate::plan::cluster;
use crate::plan::config::ProfileConfig;
use crate::plan::container_state::ContainerState;
use crate::plan::names::{self, Role};
use crate::plan::profile_name::ProfileName;

/// Every container as data; a dry run ends here with the plan.
pub(super) async fn plan(ctx: &mut StartContext<'_>) -> Result<()> {
    let facts = ctx.dir.host_facts()?;
    // The audit policy is staged from the profile's folder like its certificates.
    if let Some(audit) = &ctx.config().settings.audit {
        ctx.dir
            .write_audit_files(audit.policy_text(), ctx.config().members())?;
    }
    let plan = cluster::plan(ctx.profile, ctx.config(), &facts);
    ctx.facts = Some(facts);
    if ctx.request.dry_run {
        ctx.outcome = Some(Outcome::Planned(Box::new(plan)));
        // A dry run leaves what it wrote: the profile is the point of it.
        ctx.created.profile = false;
        return Ok(());
    }
    ctx.plan = Some(plan);
    Ok(())
}

/// The component images (built from upstream sources on first use) and the load balancer's; then
/// whether the cluster already runs as planned, and the apiserver's port is free if it does not.
pub(super) async fn images(ctx: &mut StartContext<'_>) -> Result<()> {
    let docker = docker::connect().await?;
    let version = ctx.config().kubernetes_version.clone();
    let index = image_registry::ensure_cluster_images(
        &docker,
        ctx.home.cache(),
        ctx.config(),
        ctx.request.build_if_missing,
        ctx.ui,
    )
    .await?;
    // The index read on first use is pinned: a later one under the same tag is refused.
    if index.is_some() && ctx.config().image_index != index {
        let mut config = ctx.config().clone();
        config.image_index = index;
        ctx.dir.save_config(&config)?;
        ctx.config = Some(config);
    }
    lb_image::ensure_lb_image(&docker, &ctx.facts().lb_image, &version).await?;
    ctx.already_running = all_running(&docker, ctx.plan()).await?;
    if !ctx.already_running {
        check_apiserver_port(&docker, ctx.profile, ctx.config(), ctx.plan()).await?;
    }
    ctx.docker = Some(docker);
    Ok(())
}

/// A port taken by another program fails the start before anything is created, with the fix.
pub(super) async fn check_apiserver_port(
    docker: &Docker,
    profile: &ProfileName,
    config: &ProfileConfig,
    plan: &cluster::ClusterPlan,
) -> Result<()> {
    // The container that publishes it: the apiserver, or with several members their load
    // balancer.
    let apiserver = plan
        .containers
        .iter()
        .find(|c| c.ports.iter().any(|p| p.host_port == config.apiserver_port))
        .map_or_else(
            || names::control_plane_container(profile, Role::Apiserver),
            |c| c.name.clone(),
        );
    if container_state(docker, &apiserver)
        .await?
        .is_some_and(ContainerState::is_running)
    {
        return Ok(());
    }
    if std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, config.apiserver_port)).is_err()
    {
        bail!(
            "port {} on 127.0.0.1, where this profile's apiserver is published, is taken by another program: stop that program, or delete the profile and start it again with another --apiserver-port",
            config.apiserver_port
        );
    }
    Ok(())
}
