//! The `Certificates` step (the profile's PKI made or renewed) and `RenewedCertificates` (a
//! renewal handed to the components of an existing cluster).

use anyhow::{Context, Result};

use super::context::StartContext;
use crate::effects::containers::{self, container_state};
use crate::effects::{docker, pki_store, staging};
use crate::plan::names::Role;
use crate::plan::{pki, shutdown};

pub(super) async fn certificates(ctx: &mut StartContext<'_>) -> Result<()> {
    let plan = pki::plan(ctx.profile, ctx.config());
    let pki_dir = ctx.dir.pki_dir();
    if ctx.request.renew_ca {
        ctx.ui.info(
            "--renew-ca: new cluster, front-proxy and etcd CAs; every certificate and kubeconfig \
             is reissued and the components restarted with them. The cluster's objects are kept; \
             kubeconfigs copied elsewhere stop working.",
        );
        pki_store::drop_cas(&pki_dir, &plan)?;
    } else if !ctx.created.profile && !ctx.request.dry_run {
        // A cluster with data keeps its CAs: a damaged or replaced one is refused, not remade.
        let docker = docker::connect().await?;
        if docker::holds_cluster_data(&docker, ctx.profile).await? {
            pki_store::check_keeps_cas(&pki_dir, &plan, time::OffsetDateTime::now_utc())?;
        }
    }
    let step = ctx.ui.step("Generating certificates");
    let outcome = pki_store::ensure_pki(&pki_dir, &plan)?;
    ctx.certs_renewed = !outcome.generated.is_empty() && !ctx.created.profile;
    if outcome.generated.is_empty() {
        step.done_with("all present and valid");
    } else {
        step.done_with(format!("{} generated", outcome.generated.len()));
    }
    for name in &outcome.generated {
        ctx.ui.detail(format!("generated {name}"));
    }
    Ok(())
}

/// After a renewal: every existing container of the plan gets its files restaged; a running one
/// whose files changed is restarted so the component reads them (a node is stopped, and started
/// again by the Containers step). The steps after this one then run in full, waiting for each
/// component to be ready again. Without a renewal (or in a dry run, which has no plan to run),
/// nothing.
pub(super) async fn restage_renewed(ctx: &mut StartContext<'_>) -> Result<()> {
    if !ctx.certs_renewed || ctx.plan.is_none() {
        return Ok(());
    }
    let step = ctx
        .ui
        .step("Handing the renewed certificates to the components");
    let docker = ctx.docker().clone();
    let mut restarted = Vec::new();
    for spec in ctx.plan().containers.clone() {
        let Some(state) = container_state(&docker, &spec.name).await? else {
            continue;
        };
        containers::check_owned(&docker, &spec.name, &spec.labels).await?;
        if !staging::restage_container(ctx.facts(), &spec)? || !state.is_running() {
            continue;
        }
        if spec.role == Role::Node {
            // Stopped, not restarted: the Containers step starts it as a stopped node, its
            // kubelet held until the new CA is published for its pods (see `kubelets`).
            // The patience `stop` gives a node.
            let timeout = shutdown::stop_timeout(spec.role);
            containers::stop_container(&docker, &spec.name, Some(timeout))
                .await
                .with_context(|| format!("stopping {} to renew its certificates", spec.name))?;
        } else {
            containers::restart_container(&docker, &spec.name)
                .await
                .with_context(|| {
                    format!("restarting {} with its renewed certificates", spec.name)
                })?;
        }
        restarted.push(spec.name.clone());
    }
    ctx.already_running = false;
    step.done_with(if restarted.is_empty() {
        "no running container used them".to_string()
    } else {
        format!("restarted {}", restarted.join(", "))
    });
    Ok(())
}
