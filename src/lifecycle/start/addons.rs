//! The `Addons` step (every enabled addon applied) and `AddonsServing` (each serving).

use anyhow::{Context, Result};
use bollard::Docker;
use futures_util::future::try_join_all;

use super::context::StartContext;
use super::node_images::node_images_loaded;
use crate::effects::containers::container_state;
use crate::lifecycle::addons as lifecycle_addons;
use crate::plan::addons;
use crate::plan::names::Role;

/// Every enabled addon, in the table's order: the choices of `--addons` stored first, the images
/// of addons enabled for the first time built, then each made to run and waited for.
pub(super) async fn addons_step(ctx: &mut StartContext<'_>) -> Result<()> {
    let mut config = ctx.config().clone();
    for name in &ctx.request.addons {
        config.addons.set(name, true)?;
    }
    lifecycle_addons::choose_ports(&mut config)?;
    if &config != ctx.config() {
        ctx.dir.save_config(&config)?;
        ctx.config = Some(config);
    }
    node_images_loaded(ctx, false).await?;
    let enabled = ctx.config().addons.enabled_addons();
    let docker = ctx.docker().clone();
    lifecycle_addons::build_images(&docker, ctx.home, ctx.config(), &enabled, ctx.ui).await?;
    // The addons' containers (the load balancer controller, the registry) that are stopped now
    // are started below: a failure stops them again.
    let addon_containers: Vec<String> = ctx
        .plan()
        .containers
        .iter()
        .filter(|c| c.role == Role::LbController)
        .map(|c| c.name.clone())
        .chain([
            addons::registry_container(ctx.profile),
            addons::registry_mirror_container(ctx.profile),
        ])
        .collect();
    // Recorded before they are made or started, as in `run_containers`.
    for name in addon_containers {
        let state = container_state(&docker, &name).await?;
        ctx.created.expect(&name, state);
    }
    // All at once: they are independent, and one of them (the load balancer's controller) is
    // a container to create, which alone took as long as the others together.
    let names: Vec<&str> = enabled.iter().map(|a| a.name).collect();
    let step = ctx
        .ui
        .step(format!("Enabling the addons ({})", names.join(", ")));
    let results = {
        let cluster = addons_cluster(ctx, &docker);
        let tags = &ctx.node_image_tags;
        futures_util::future::join_all(enabled.iter().map(|addon| {
            let cluster = &cluster;
            async move {
                lifecycle_addons::apply(cluster, addon, tags)
                    .await
                    .with_context(|| format!("enabling the {} addon", addon.name))
            }
        }))
        .await
    };
    let mut failure = None;
    for result in results {
        match result {
            Ok(made) => {
                for name in &made {
                    ctx.created.add_container(name);
                }
            }
            Err(e) => {
                failure.get_or_insert(e);
            }
        }
    }
    match failure {
        Some(e) => {
            step.failed();
            Err(e)
        }
        None => {
            step.done();
            Ok(())
        }
    }
}

/// What the addon functions need of the cluster being started.
pub(super) fn addons_cluster<'a>(
    ctx: &'a StartContext<'_>,
    docker: &'a Docker,
) -> lifecycle_addons::Cluster<'a> {
    lifecycle_addons::Cluster {
        profile: ctx.profile,
        config: ctx.config(),
        facts: ctx.facts(),
        plan: ctx.plan(),
        docker,
        client: ctx.client(),
        ui: ctx.ui,
    }
}

/// Every enabled addon serving, waited for at once (CoreDNS answering among them, so `start`
/// returns with a cluster whose Services resolve).
pub(super) async fn addons_serving(ctx: &mut StartContext<'_>) -> Result<()> {
    let enabled = ctx.config().addons.enabled_addons();
    let names: Vec<&str> = enabled.iter().map(|a| a.name).collect();
    let step = ctx
        .ui
        .step(format!("Waiting for the addons ({})", names.join(", ")));
    let docker = ctx.docker().clone();
    let cluster = addons_cluster(ctx, &docker);
    try_join_all(
        enabled
            .iter()
            .map(|addon| lifecycle_addons::wait_serving(&cluster, addon)),
    )
    .await?;
    step.done();
    node_images_loaded(ctx, true).await
}
