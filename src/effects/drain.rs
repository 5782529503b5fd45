//! Cordon, drain and uncordon a node through the API, as `kubectl drain` does: each pod evicted
//! through the Eviction API, so the apiserver refuses an eviction (429) that a
//! PodDisruptionBudget forbids and the eviction is tried again until the budget allows it.

use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use futures_util::future::try_join_all;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Client;
use kube::api::{Api, EvictParams, ListParams, Patch, PatchParams};

use crate::effects::kube_api;

/// Marks the node unschedulable (`unschedulable: false` lets pods back on it).
pub async fn set_unschedulable(client: &Client, node: &str, unschedulable: bool) -> Result<()> {
    let nodes: Api<Node> = Api::all(client.clone());
    nodes
        .patch(
            node,
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({ "spec": { "unschedulable": unschedulable } })),
        )
        .await
        .with_context(|| {
            format!(
                "{} node {node}",
                if unschedulable {
                    "cordoning"
                } else {
                    "uncordoning"
                }
            )
        })?;
    Ok(())
}

/// What a drain did.
#[derive(Debug, Default)]
pub struct Drained {
    /// `namespace/name` of each pod evicted.
    pub evicted: Vec<String>,
    /// Pods no controller owns: kept, as their container restarts in place with the node (its
    /// volume and Node object are kept); `kubectl drain` would refuse them without `--force`.
    pub kept: Vec<String>,
    /// Evictions a PodDisruptionBudget refused at first (each tried again until it passed).
    pub refused_by_budget: u32,
}

/// Evicts every pod of `node` a controller will place elsewhere (DaemonSet pods, mirror pods and
/// pods no controller owns stay), each as its PodDisruptionBudget allows, and waits until they
/// are gone; fails after `timeout` naming the pods still there.
pub async fn drain(client: &Client, node: &str, timeout: Duration) -> Result<Drained> {
    let pods: Api<Pod> = Api::all(client.clone());
    let on_node = pods
        .list(&ListParams::default().fields(&format!("spec.nodeName={node}")))
        .await
        .with_context(|| format!("listing the pods of node {node}"))?;
    let mut drained = Drained::default();
    let mut to_evict = Vec::new();
    for pod in on_node.items {
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let finished = pod
            .status
            .as_ref()
            .and_then(|s| s.phase.as_deref())
            .is_some_and(|p| p == "Succeeded" || p == "Failed");
        let mirror = pod
            .metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key("kubernetes.io/config.mirror"));
        let controller = pod
            .metadata
            .owner_references
            .as_ref()
            .and_then(|refs| refs.iter().find(|r| r.controller == Some(true)));
        match controller {
            _ if finished || mirror => {}
            Some(owner) if owner.kind == "DaemonSet" => {}
            Some(_) => to_evict.push((namespace, name, pod.metadata.uid.clone())),
            None => drained.kept.push(format!("{namespace}/{name}")),
        }
    }
    let timeout = crate::effects::pace::scaled(timeout);
    let deadline = tokio::time::Instant::now() + timeout;
    let refusals =
        try_join_all(to_evict.iter().map(|(namespace, name, uid)| {
            evict(client, namespace, name, uid.as_deref(), deadline)
        }))
        .await?;
    drained.refused_by_budget = refusals.iter().sum();
    drained.evicted = to_evict
        .iter()
        .map(|(namespace, name, _)| format!("{namespace}/{name}"))
        .collect();
    Ok(drained)
}

/// Evicts one pod, again after each refusal of its budget, then waits until it is gone (or
/// replaced by another pod of its name, as a StatefulSet's). Returns how often a budget refused.
async fn evict(
    client: &Client,
    namespace: &str,
    name: &str,
    uid: Option<&str>,
    deadline: tokio::time::Instant,
) -> Result<u32> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let mut refused = 0;
    let mut last: String;
    loop {
        match pods.evict(name, &EvictParams::default()).await {
            Ok(_) => break,
            Err(kube::Error::Api(e)) if e.code == 404 => return Ok(refused),
            // A PodDisruptionBudget (or the pod's own disruption) forbids it now: again later,
            // as `kubectl drain` tries every 5 s.
            Err(kube::Error::Api(e)) if e.code == 429 => {
                refused += 1;
                last = e.message;
            }
            Err(e) => return Err(anyhow!(e).context(format!("evicting pod {namespace}/{name}"))),
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(anyhow!(
                "pod {namespace}/{name} could not be evicted before the drain's deadline: {last}"
            ));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
    kube_api::wait_for(
        &format!("pod {namespace}/{name} gone from its node"),
        left.max(Duration::from_secs(1)),
        || {
            let pods = pods.clone();
            async move {
                let now = pods.get_opt(name).await?;
                let same = now
                    .as_ref()
                    .is_some_and(|p| p.metadata.uid.as_deref() == uid);
                Ok((!same).then_some(()))
            }
        },
    )
    .await?;
    Ok(refused)
}

/// The kubelet version a node reports (`v1.37.2`), once registered.
pub fn kubelet_version(node: &Node) -> Option<String> {
    node.status
        .as_ref()
        .and_then(|s| s.node_info.as_ref())
        .map(|i| i.kubelet_version.clone())
}
