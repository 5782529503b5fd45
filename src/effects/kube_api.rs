//! The cluster's API, through kube-rs with the profile's admin credentials: readiness checks,
//! node state and applying addon manifests.

use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::GroupVersionKind;
use kube::discovery::{Scope, pinned_kind};
use kube::{Client, Config};

/// A client for the profile's cluster from its admin kubeconfig.
pub async fn admin_client(kubeconfig: &Path) -> Result<Client> {
    let kubeconfig = Kubeconfig::read_from(kubeconfig)
        .with_context(|| format!("reading {}", kubeconfig.display()))?;
    let mut config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .context("loading the admin kubeconfig")?;
    // Each poll is short: a hung request must not eat the whole wait. Stretched on a slow
    // machine, where a TLS handshake with a busy apiserver alone took more than 5 s (an
    // emulated VM: the coredns addon's first request timed out).
    config.connect_timeout = Some(super::pace::scaled(Duration::from_secs(5)));
    config.read_timeout = Some(super::pace::scaled(Duration::from_secs(10)));
    Client::try_from(config).context("creating the API client")
}

/// Polls `check` until it returns Some, or fails after `timeout` with the last reason it gave.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    // The waits' timeouts are set for this project's machines: a slower one gets them stretched.
    let timeout = super::pace::scaled(timeout);
    let started = Instant::now();
    let mut last = String::from("no answer yet");
    let mut interval = Duration::from_millis(50);
    loop {
        match check().await {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            Err(e) => last = format!("{e:#}"),
        }
        if started.elapsed() >= timeout {
            bail!("{what}: not within {}s (last: {last})", timeout.as_secs());
        }
        tokio::time::sleep(interval).await;
        // Quick at first (components are often ready within a second), gentler after; a quarter
        // of a second at most, as each wait is on `start`'s path and a GET costs the apiserver
        // next to nothing.
        interval = (interval * 2).min(Duration::from_millis(250));
    }
}

/// The apiserver's own readiness (`/readyz`), which includes its etcd check.
pub async fn readyz(client: &Client, check: &str) -> Result<bool> {
    let path = if check.is_empty() {
        "/readyz".to_string()
    } else {
        format!("/readyz/{check}")
    };
    let request = http::Request::get(path).body(Vec::new())?;
    match client.request_text(request).await {
        Ok(body) => Ok(body.trim() == "ok"),
        Err(kube::Error::Api(_)) => Ok(false),
        Err(e) => Err(anyhow!(e)),
    }
}

pub async fn get_node(client: &Client, name: &str) -> Result<Option<Node>> {
    let nodes: Api<Node> = Api::all(client.clone());
    Ok(nodes.get_opt(name).await?)
}

/// Registers a node before its kubelet does, with its pod CIDR, so its CNI configuration can be
/// written before kubelet starts (kubelet then finds its Node and adopts it, as after a restart;
/// the controller-manager takes the CIDR as allocated). It carries the taint kubelet registers
/// with, so nothing is scheduled there before kubelet reports it Ready. False when a Node of that
/// name exists already.
pub async fn register_node(client: &Client, name: &str, pod_cidrs: &[String]) -> Result<bool> {
    let nodes: Api<Node> = Api::all(client.clone());
    let pod_cidr = pod_cidrs
        .first()
        .context("a node is registered with a pod CIDR")?;
    let node: Node = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "spec": {
            "podCIDR": pod_cidr,
            "podCIDRs": pod_cidrs,
            "taints": [{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}],
        },
    }))?;
    match nodes.create(&Default::default(), &node).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
        Err(e) => Err(e).with_context(|| format!("registering node {name}")),
    }
}

/// Every node's pod CIDRs the API server holds, of every family.
pub async fn node_pod_cidrs(client: &Client) -> Result<Vec<ipnet::IpNet>> {
    let nodes: Api<Node> = Api::all(client.clone());
    Ok(nodes
        .list(&Default::default())
        .await
        .context("listing nodes")?
        .items
        .iter()
        .flat_map(node_pod_cidrs_of)
        .collect())
}

pub fn node_is_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|conds| {
            conds
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        })
}

pub fn node_pod_cidr(node: &Node) -> Option<String> {
    node.spec.as_ref().and_then(|s| s.pod_cidr.clone())
}

/// A node's pod CIDRs, one per family (the primary's alone where `podCIDRs` is not set); empty
/// until it has one.
pub fn node_pod_cidrs_of(node: &Node) -> Vec<ipnet::IpNet> {
    let spec = node.spec.as_ref();
    let listed = spec.and_then(|s| s.pod_cidrs.clone()).unwrap_or_default();
    let all = if listed.is_empty() {
        spec.and_then(|s| s.pod_cidr.clone()).into_iter().collect()
    } else {
        listed
    };
    all.iter().filter_map(|c| c.parse().ok()).collect()
}

/// Whether every active namespace's `kube-root-ca.crt` ConfigMap holds the cluster CA `ca_pem`.
/// The controller-manager publishes it there, and a pod's containers read it as it starts: one
/// started with an old CA does not trust the apiserver until it restarts.
pub async fn root_ca_published(client: &Client, ca_pem: &str) -> Result<bool> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let active = namespaces
        .list(&Default::default())
        .await
        .context("listing namespaces")?
        .items
        .into_iter()
        .filter(|ns| ns.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Active"))
        .filter_map(|ns| ns.metadata.name);
    let maps: Api<ConfigMap> = Api::all(client.clone());
    let published = maps
        .list(&ListParams::default().fields("metadata.name=kube-root-ca.crt"))
        .await
        .context("listing the kube-root-ca.crt ConfigMaps")?
        .items;
    let holds_ca = |namespace: &str| {
        published.iter().any(|map| {
            map.metadata.namespace.as_deref() == Some(namespace)
                && map
                    .data
                    .as_ref()
                    .and_then(|d| d.get("ca.crt"))
                    .is_some_and(|ca| ca.trim() == ca_pem.trim())
        })
    };
    Ok(active.into_iter().all(|ns| holds_ca(&ns)))
}

/// Deletes a Node object; one already gone is fine.
pub async fn delete_node(client: &Client, name: &str) -> Result<()> {
    let nodes: Api<Node> = Api::all(client.clone());
    match nodes.delete(name, &Default::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e).with_context(|| format!("deleting node {name}")),
    }
}

/// Whether a Deployment has all its desired replicas ready.
pub async fn deployment_ready(client: &Client, namespace: &str, name: &str) -> Result<bool> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let Some(d) = api.get_opt(name).await? else {
        return Ok(false);
    };
    let desired = d.spec.and_then(|s| s.replicas).unwrap_or(1);
    let ready = d.status.and_then(|s| s.ready_replicas).unwrap_or(0);
    Ok(ready >= desired)
}

/// One object of a manifest with the API that serves it (namespaced objects default to
/// `default`, as kubectl does).
struct ManifestObject {
    object: DynamicObject,
    api: Api<DynamicObject>,
    kind: String,
    name: String,
}

/// Every object of a (multi-document) manifest, each with its API.
async fn manifest_objects(client: &Client, manifest: &str) -> Result<Vec<ManifestObject>> {
    let mut objects = Vec::new();
    for doc in crate::yaml::documents(manifest)? {
        let object: DynamicObject =
            serde_json::from_value(doc).context("a manifest document is not an object")?;
        let types = object
            .types
            .as_ref()
            .context("a manifest object has no apiVersion/kind")?;
        let gvk = GroupVersionKind::try_from(types)?;
        let kind = types.kind.clone();
        let name = object
            .metadata
            .name
            .clone()
            .context("a manifest object has no name")?;
        let (resource, caps) = pinned_kind(client, &gvk)
            .await
            .with_context(|| format!("looking up {kind}"))?;
        let api: Api<DynamicObject> = match caps.scope {
            Scope::Namespaced => {
                let ns = object.metadata.namespace.as_deref().unwrap_or("default");
                Api::namespaced_with(client.clone(), ns, &resource)
            }
            Scope::Cluster => Api::all_with(client.clone(), &resource),
        };
        objects.push(ManifestObject {
            object,
            api,
            kind,
            name,
        });
    }
    Ok(objects)
}

/// Applies every object of a (multi-document) manifest with server-side apply, as
/// `kubectl apply --server-side` would; the field manager is `localkube`.
pub async fn apply_manifest(client: &Client, manifest: &str) -> Result<()> {
    let params = PatchParams::apply("localkube").force();
    for m in manifest_objects(client, manifest).await? {
        m.api
            .patch(&m.name, &params, &Patch::Apply(&m.object))
            .await
            .with_context(|| format!("applying {} {}", m.kind, m.name))?;
    }
    Ok(())
}

/// Deletes every object of a manifest (last first), tolerating those already gone.
pub async fn delete_manifest(client: &Client, manifest: &str) -> Result<()> {
    for m in manifest_objects(client, manifest).await?.into_iter().rev() {
        match m.api.delete(&m.name, &DeleteParams::background()).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e).with_context(|| format!("deleting {} {}", m.kind, m.name)),
        }
    }
    Ok(())
}

/// A node's labels and taints brought to the profile's settings (see
/// `plan::settings::node_changes`); retried when someone else changed the node meanwhile.
/// Returns whether anything changed.
pub async fn apply_node_settings(
    client: &Client,
    name: &str,
    wanted: &crate::plan::settings::NodeSettings,
) -> Result<bool> {
    use crate::plan::settings::{
        AppliedNodeSettings, NODE_SETTINGS_ANNOTATION, Taint, node_changes,
    };
    let nodes: Api<Node> = Api::all(client.clone());
    for _ in 0..5 {
        let Some(mut node) = nodes.get_opt(name).await.context("reading a node")? else {
            bail!("node {name} is not registered");
        };
        let meta = &mut node.metadata;
        let before: AppliedNodeSettings = meta
            .annotations
            .as_ref()
            .and_then(|a| a.get(NODE_SETTINGS_ANNOTATION))
            .and_then(|v| serde_json::from_str(v).ok())
            .unwrap_or_default();
        if before == AppliedNodeSettings::default() && wanted.is_empty() {
            return Ok(false);
        }
        let labels = meta.labels.clone().unwrap_or_default();
        let spec = node.spec.get_or_insert_with(Default::default);
        let taints: Vec<Taint> = spec
            .taints
            .iter()
            .flatten()
            .map(|t| Taint {
                key: t.key.clone(),
                value: t.value.clone(),
                effect: t.effect.clone(),
            })
            .collect();
        let crate::plan::settings::NodeChanges {
            labels: new_labels,
            taints: new_taints,
            record,
        } = node_changes(&labels, &taints, &before, wanted)?;
        if new_labels == labels && new_taints == taints && record == before {
            return Ok(false);
        }
        let old_taints = spec.taints.take().unwrap_or_default();
        spec.taints = Some(
            new_taints
                .iter()
                .map(|t| {
                    // A taint kept as it was keeps its timeAdded.
                    old_taints
                        .iter()
                        .find(|o| o.key == t.key && o.effect == t.effect && o.value == t.value)
                        .cloned()
                        .unwrap_or(k8s_openapi::api::core::v1::Taint {
                            key: t.key.clone(),
                            value: t.value.clone(),
                            effect: t.effect.clone(),
                            time_added: None,
                        })
                })
                .collect(),
        );
        node.metadata.labels = Some(new_labels);
        node.metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert(
                NODE_SETTINGS_ANNOTATION.to_string(),
                serde_json::to_string(&record)?,
            );
        match nodes.replace(name, &Default::default(), &node).await {
            Ok(_) => return Ok(true),
            Err(kube::Error::Api(e)) if e.code == 409 => continue,
            Err(e) => {
                return Err(e).with_context(|| format!("setting node {name}'s labels and taints"));
            }
        }
    }
    bail!(
        "node {name} kept changing while its labels and taints were set: run `localkube start` again"
    )
}
/// Objects of one namespace, or of all.
fn api_in<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// The cluster's Services, of one namespace or of all.
pub async fn list_services(
    client: &Client,
    namespace: Option<&str>,
) -> Result<Vec<k8s_openapi::api::core::v1::Service>> {
    Ok(
        api_in::<k8s_openapi::api::core::v1::Service>(client, namespace)
            .list(&ListParams::default())
            .await
            .context("listing services (is the profile running? `localkube status`)")?
            .items,
    )
}

/// One Service, if it is there.
pub async fn get_service(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<Option<k8s_openapi::api::core::v1::Service>> {
    let api: Api<k8s_openapi::api::core::v1::Service> = Api::namespaced(client.clone(), namespace);
    Ok(api.get_opt(name).await?)
}

/// The cluster's Nodes.
pub async fn list_nodes(client: &Client) -> Result<Vec<Node>> {
    Ok(Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await
        .context("reading the cluster's nodes (is the profile running? `localkube status`)")?
        .items)
}

/// The ready endpoints of every Service, by namespace and name (from the EndpointSlices).
pub async fn ready_endpoints(
    client: &Client,
    namespace: Option<&str>,
) -> Result<std::collections::HashMap<(String, String), usize>> {
    use k8s_openapi::api::discovery::v1::EndpointSlice;
    let mut ready = std::collections::HashMap::new();
    let slices = api_in::<EndpointSlice>(client, namespace)
        .list(&ListParams::default())
        .await?;
    for slice in slices.items {
        let ns = slice.metadata.namespace.clone().unwrap_or_default();
        let Some(service) = slice
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("kubernetes.io/service-name").cloned())
        else {
            continue;
        };
        let count = slice
            .endpoints
            .iter()
            .filter(|e| e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(false))
            .count();
        *ready.entry((ns, service)).or_default() += count;
    }
    Ok(ready)
}

/// The note of an object's newest warning event (a host port in use, say).
pub async fn newest_warning(client: &Client, namespace: &str, name: &str) -> Option<String> {
    let api: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(client.clone(), namespace);
    let list = api
        .list(&ListParams::default().fields(&format!("regarding.name={name},type=Warning")))
        .await
        .ok()?;
    list.items
        .into_iter()
        .max_by_key(|e| {
            e.series
                .as_ref()
                .map(|s| s.last_observed_time.0)
                .or(e.event_time.as_ref().map(|t| t.0))
        })
        .and_then(|e| e.note)
}
