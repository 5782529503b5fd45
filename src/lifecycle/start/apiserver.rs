//! The `Apiserver` step (a wait for /readyz) and `AdminGroup` (the admin's group bound to
//! cluster-admin before any step acts as the admin).

use anyhow::{Context, Result};

use super::APISERVER_READY_TIMEOUT;
use super::context::{StartContext, WithLogs};
use crate::effects::kube_api;
use crate::plan::names::{self, Role};
use crate::plan::pki;

/// Waits until the apiserver answers /readyz; keeps the client for the later steps.
pub(super) async fn wait_for_apiserver(ctx: &mut StartContext<'_>) -> Result<()> {
    let step = ctx.ui.step("Waiting for the apiserver");
    let client = kube_api::admin_client(&ctx.dir.admin_kubeconfig()).await?;
    let apiserver = names::control_plane_container(ctx.profile, Role::Apiserver);
    kube_api::wait_for(
        "the apiserver answering /readyz",
        APISERVER_READY_TIMEOUT,
        || {
            let client = client.clone();
            async move { Ok(kube_api::readyz(&client, "").await?.then_some(())) }
        },
    )
    .await
    .with_logs(ctx.docker(), &apiserver)
    .await?;
    ctx.client = Some(client);
    step.done();
    Ok(())
}

/// Binds the admin's group to `cluster-admin` as the break-glass super-admin (kubeadm's way): the
/// admin certificate is in `kubeadm:cluster-admins`, not `system:masters`.
pub(super) async fn bind_admin_group(ctx: &StartContext<'_>) -> Result<()> {
    let super_admin = kube_api::admin_client(&ctx.dir.super_admin_kubeconfig()).await?;
    kube_api::apply_manifest(&super_admin, pki::ADMIN_BINDING)
        .await
        .context("binding the admin's group kubeadm:cluster-admins to cluster-admin")?;
    // The authorizer sees a new binding a moment after it is written: the next steps act as the
    // admin at once, so they wait for it (measured: a list of nodes right after was refused).
    let admin = ctx.client().clone();
    kube_api::wait_for(
        "the admin's rights in effect",
        APISERVER_READY_TIMEOUT,
        || {
            let admin = admin.clone();
            async move { Ok(kube_api::node_pod_cidrs(&admin).await.is_ok().then_some(())) }
        },
    )
    .await
}
