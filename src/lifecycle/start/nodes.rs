//! The `Kubelets` step (nodes registered and their kubelets let start) and the `Nodes` step
//! (every node with a pod CIDR, its CNI configuration, Ready).

use anyhow::{Context, Result};
use futures_util::future::try_join_all;

use super::context::{StartContext, WithLogs};
use super::node_images::node_images_loaded;
use super::{CA_PUBLISHED_TIMEOUT, NODE_READY_TIMEOUT};
use crate::effects::{kube_api, staging};
use crate::plan::cluster::ContainerSpec;
use crate::plan::names::{self, Role};
use crate::plan::{networking, node_config};

/// Once the apiserver answers: each new node registered with its pod CIDR and given its CNI
/// configuration, then its kubelet and kube-proxy let start (their flags files written), so that
/// kubelet registers at its first attempt and finds its network ready.
pub(super) async fn kubelets(ctx: &mut StartContext<'_>) -> Result<()> {
    let client = ctx.client().clone();
    // After a renewal the pods restart with the nodes: they must find the new CA, or those that
    // talk to the apiserver (CoreDNS) would not trust it until they restart again.
    if ctx.certs_renewed {
        let ca = std::fs::read_to_string(ctx.dir.pki_dir().join("ca.crt"))
            .context("reading the cluster CA")?;
        kube_api::wait_for(
            "the controller-manager publishing the cluster CA to every namespace (kube-root-ca.crt)",
            CA_PUBLISHED_TIMEOUT,
            || async { Ok(kube_api::root_ca_published(&client, &ca).await?.then_some(())) },
        )
        .await?;
    }
    let mut taken = kube_api::node_pod_cidrs(&client).await?;
    for &number in ctx.config().nodes.numbers() {
        let name = names::node_name(ctx.profile, number);
        let Some(spec) = ctx
            .specs(Role::Node)
            .into_iter()
            .find(|s| s.hostname == name)
        else {
            continue;
        };
        let node = kube_api::get_node(&client, &name).await?;
        let cidrs = match node.as_ref() {
            // Known already: its CNI configuration is written (again, unchanged) below.
            Some(node) => kube_api::node_pod_cidrs_of(node),
            None => {
                let cidrs = node_config::planned_pod_cidrs(ctx.config(), number, &taken)
                    .with_context(|| {
                        format!(
                            "no pod CIDR left in {} for node {name}",
                            networking::comma_list(&ctx.config().pod_cidrs())
                        )
                    })?;
                let text: Vec<String> = cidrs.iter().map(ToString::to_string).collect();
                if kube_api::register_node(&client, &name, &text).await? {
                    ctx.ui.detail(format!(
                        "{name}: registered with pods in {}",
                        text.join(", ")
                    ));
                }
                taken.extend(cidrs.iter().copied());
                cidrs
            }
        };
        // A node the controller-manager has not given a CIDR yet gets its CNI configuration in the
        // Nodes step, once it has one.
        if !cidrs.is_empty() {
            staging::write_node_files(ctx.facts(), &spec.name, &[cni_file(&cidrs)])?;
        }
        let files = node_config::node_files(ctx.config(), &spec.hostname, spec.ip);
        let (_, flags) = node_config::split_process_flags(files);
        staging::write_node_files(ctx.facts(), &spec.name, &flags)?;
    }
    Ok(())
}

pub(super) fn cni_file(pod_cidrs: &[ipnet::IpNet]) -> node_config::NodeFile {
    node_config::NodeFile {
        path: "cni/10-localkube.conflist".into(),
        content: node_config::cni_conflist(pod_cidrs),
    }
}

/// Every node at once: registered with a pod CIDR and its CNI configuration written, then Ready.
pub(super) async fn nodes(ctx: &mut StartContext<'_>) -> Result<()> {
    node_images_loaded(ctx, false).await?;
    let nodes = ctx.specs(Role::Node);
    let names: Vec<&str> = nodes.iter().map(|s| s.hostname.as_str()).collect();
    let step = ctx.ui.step(format!("Registering {}", names.join(", ")));
    let ctx_ref = &*ctx;
    try_join_all(nodes.iter().map(|spec| register_node(ctx_ref, spec))).await?;
    step.done();

    let step = ctx
        .ui
        .step(format!("Waiting for {} to be Ready", names.join(", ")));
    try_join_all(nodes.iter().map(|spec| wait_node_ready(ctx_ref, spec))).await?;
    step.done();
    Ok(())
}

/// One node after its kubelet starts: registered with a pod CIDR, its CNI configuration written.
pub(super) async fn register_node(ctx: &StartContext<'_>, spec: &ContainerSpec) -> Result<()> {
    let docker = ctx.docker();
    let client = ctx.client();
    let node = spec.hostname.as_str();
    // One pod CIDR per family of the profile.
    let families = ctx.config().pod_cidrs().len();
    let cidrs = kube_api::wait_for(
        &format!("node {node} registered with a pod CIDR"),
        NODE_READY_TIMEOUT,
        || {
            let client = client.clone();
            async move {
                Ok(kube_api::get_node(&client, node)
                    .await?
                    .as_ref()
                    .map(kube_api::node_pod_cidrs_of)
                    .filter(|cidrs| cidrs.len() >= families))
            }
        },
    )
    .await
    .with_logs(docker, &spec.name)
    .await?;
    staging::write_node_files(ctx.facts(), &spec.name, &[cni_file(&cidrs)])?;
    ctx.ui.detail(format!(
        "{node}: pods in {}",
        networking::comma_list(&cidrs)
    ));
    Ok(())
}

pub(super) async fn wait_node_ready(ctx: &StartContext<'_>, spec: &ContainerSpec) -> Result<()> {
    let node = spec.hostname.as_str();
    kube_api::wait_for(&format!("node {node} Ready"), NODE_READY_TIMEOUT, || {
        let client = ctx.client().clone();
        async move {
            Ok(kube_api::get_node(&client, node)
                .await?
                .as_ref()
                .is_some_and(kube_api::node_is_ready)
                .then_some(()))
        }
    })
    .await
    .with_logs(ctx.docker(), &spec.name)
    .await
}

/// Each node's labels and taints as the profile's settings give them; those localkube set
/// before and the settings no longer hold are taken off, others' are left alone.
pub(super) async fn node_settings(ctx: &mut StartContext<'_>) -> Result<()> {
    let client = ctx.client().clone();
    for &number in ctx.config().nodes.numbers() {
        let name = names::node_name(ctx.profile, number);
        let wanted = ctx.config().settings.node(number);
        // A node not registered yet (a node that failed to come up) gets them at the next start.
        if kube_api::get_node(&client, &name).await?.is_none() {
            continue;
        }
        if kube_api::apply_node_settings(&client, &name, &wanted).await? {
            ctx.ui.detail(format!(
                "{name}: labels {:?}, taints {:?}",
                wanted.labels, wanted.taints
            ));
        }
    }
    Ok(())
}
