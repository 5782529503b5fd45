//! What the page shows of each object: one plain row per object, computed from the API objects
//! the way kubectl's columns are. Pure functions, unit-tested.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Event, Namespace, Node, Pod, ReplicationController, Service};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time};
use serde::Serialize;

use crate::plan::service_urls::{NoUrl, ServiceUrl, service_type, service_urls};

pub mod kinds;

fn time(t: &Option<Time>) -> Option<String> {
    t.as_ref().map(|t| t.0.to_string())
}

fn name(meta: &ObjectMeta) -> String {
    meta.name.clone().unwrap_or_default()
}

fn namespace(meta: &ObjectMeta) -> String {
    meta.namespace.clone().unwrap_or_default()
}

/// The controller that owns an object, as `Kind/name`.
fn controller(meta: &ObjectMeta) -> Option<String> {
    meta.owner_references
        .as_ref()?
        .iter()
        .find(|o| o.controller == Some(true))
        .map(|o| format!("{}/{}", o.kind, o.name))
}

fn labels_text(labels: Option<&std::collections::BTreeMap<String, String>>) -> String {
    labels
        .map(|l| {
            l.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

fn selector_text(selector: Option<&LabelSelector>) -> String {
    let Some(selector) = selector else {
        return String::new();
    };
    let mut parts = vec![labels_text(selector.match_labels.as_ref())];
    for expr in selector.match_expressions.iter().flatten() {
        let values = expr.values.clone().unwrap_or_default().join(",");
        parts.push(format!("{} {} ({values})", expr.key, expr.operator));
    }
    parts.retain(|p| !p.is_empty());
    parts.join(",")
}

/// Bytes as a person reads them: `16303548Ki` is `15.5 GiB`.
pub fn human_bytes(quantity: &str) -> String {
    let units = [
        ("Ki", 1u64 << 10),
        ("Mi", 1 << 20),
        ("Gi", 1 << 30),
        ("Ti", 1 << 40),
        ("k", 1000),
        ("M", 1_000_000),
        ("G", 1_000_000_000),
    ];
    let (digits, factor) = units
        .iter()
        .find_map(|(suffix, f)| quantity.strip_suffix(suffix).map(|d| (d, *f)))
        .unwrap_or((quantity, 1));
    let Ok(n) = digits.parse::<u64>() else {
        return quantity.to_string();
    };
    let bytes = n as f64 * factor as f64;
    let gib = bytes / (1u64 << 30) as f64;
    if gib >= 1.0 {
        format!("{gib:.1} GiB")
    } else {
        format!("{:.0} MiB", bytes / (1u64 << 20) as f64)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeRow {
    pub name: String,
    /// Ready, NotReady or Unknown.
    pub status: String,
    /// Conditions other than Ready that are True (MemoryPressure, DiskPressure, ...).
    pub problems: Vec<String>,
    pub roles: String,
    pub version: String,
    pub internal_ip: String,
    pub os_image: String,
    pub container_runtime: String,
    pub cpu: String,
    pub memory: String,
    pub max_pods: String,
    pub pod_cidr: String,
    pub created: Option<String>,
}

pub fn node_row(node: &Node) -> NodeRow {
    let status = node.status.clone().unwrap_or_default();
    let conditions = status.conditions.unwrap_or_default();
    let ready = conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| match c.status.as_str() {
            "True" => "Ready",
            "False" => "NotReady",
            _ => "Unknown",
        })
        .unwrap_or("Unknown");
    let problems = conditions
        .iter()
        .filter(|c| c.type_ != "Ready" && c.status == "True")
        .map(|c| c.type_.clone())
        .collect();
    let mut roles: Vec<String> = node
        .metadata
        .labels
        .iter()
        .flatten()
        .filter_map(|(k, _)| k.strip_prefix("node-role.kubernetes.io/"))
        .map(str::to_string)
        .collect();
    roles.sort();
    let info = status.node_info.unwrap_or_default();
    let capacity = status.capacity.unwrap_or_default();
    let cap = |k: &str| capacity.get(k).map(|q| q.0.clone()).unwrap_or_default();
    NodeRow {
        name: name(&node.metadata),
        status: ready.into(),
        problems,
        roles: if roles.is_empty() {
            "<none>".into()
        } else {
            roles.join(",")
        },
        version: info.kubelet_version,
        internal_ip: status
            .addresses
            .unwrap_or_default()
            .into_iter()
            .find(|a| a.type_ == "InternalIP")
            .map(|a| a.address)
            .unwrap_or_default(),
        os_image: info.os_image,
        container_runtime: info.container_runtime_version,
        cpu: cap("cpu"),
        memory: human_bytes(&cap("memory")),
        max_pods: cap("pods"),
        pod_cidr: node
            .spec
            .as_ref()
            .and_then(|s| s.pod_cidr.clone())
            .unwrap_or_default(),
        created: time(&node.metadata.creation_timestamp),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceRow {
    pub name: String,
    pub phase: String,
}

pub fn namespace_row(ns: &Namespace) -> NamespaceRow {
    NamespaceRow {
        name: name(&ns.metadata),
        phase: ns
            .status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_else(|| "Active".into()),
    }
}

/// A Deployment, ReplicaSet or ReplicationController: desired state against current state.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadRow {
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
    /// `spec.replicas`: what was asked for.
    pub desired: i32,
    /// `status.replicas`: pods the controller has created (and not yet seen gone).
    pub current: i32,
    /// `status.readyReplicas`: pods passing their readiness checks.
    pub ready: i32,
    /// Deployments: pods that run the newest template.
    pub updated: Option<i32>,
    pub available: i32,
    /// The controller that owns this one (a Deployment owns its ReplicaSets).
    pub owner: Option<String>,
    pub selector: String,
    pub images: Vec<String>,
    pub created: Option<String>,
}

fn images(spec: Option<&k8s_openapi::api::core::v1::PodSpec>) -> Vec<String> {
    spec.map(|s| {
        s.containers
            .iter()
            .filter_map(|c| c.image.clone())
            .collect()
    })
    .unwrap_or_default()
}

pub fn deployment_row(d: &Deployment) -> WorkloadRow {
    let spec = d.spec.clone().unwrap_or_default();
    let status = d.status.clone().unwrap_or_default();
    WorkloadRow {
        kind: "Deployment",
        namespace: namespace(&d.metadata),
        name: name(&d.metadata),
        desired: spec.replicas.unwrap_or(1),
        current: status.replicas.unwrap_or(0),
        ready: status.ready_replicas.unwrap_or(0),
        updated: Some(status.updated_replicas.unwrap_or(0)),
        available: status.available_replicas.unwrap_or(0),
        owner: controller(&d.metadata),
        selector: selector_text(Some(&spec.selector)),
        images: images(spec.template.spec.as_ref()),
        created: time(&d.metadata.creation_timestamp),
    }
}

pub fn replica_set_row(rs: &ReplicaSet) -> WorkloadRow {
    let spec = rs.spec.clone().unwrap_or_default();
    let status = rs.status.clone().unwrap_or_default();
    WorkloadRow {
        kind: "ReplicaSet",
        namespace: namespace(&rs.metadata),
        name: name(&rs.metadata),
        desired: spec.replicas.unwrap_or(1),
        current: status.replicas,
        ready: status.ready_replicas.unwrap_or(0),
        updated: None,
        available: status.available_replicas.unwrap_or(0),
        owner: controller(&rs.metadata),
        selector: selector_text(Some(&spec.selector)),
        images: images(spec.template.as_ref().and_then(|t| t.spec.as_ref())),
        created: time(&rs.metadata.creation_timestamp),
    }
}

pub fn replication_controller_row(rc: &ReplicationController) -> WorkloadRow {
    let spec = rc.spec.clone().unwrap_or_default();
    let status = rc.status.clone().unwrap_or_default();
    WorkloadRow {
        kind: "ReplicationController",
        namespace: namespace(&rc.metadata),
        name: name(&rc.metadata),
        desired: spec.replicas.unwrap_or(1),
        current: status.replicas,
        ready: status.ready_replicas.unwrap_or(0),
        updated: None,
        available: status.available_replicas.unwrap_or(0),
        owner: controller(&rc.metadata),
        selector: labels_text(spec.selector.as_ref()),
        images: images(spec.template.as_ref().and_then(|t| t.spec.as_ref())),
        created: time(&rc.metadata.creation_timestamp),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodRow {
    pub namespace: String,
    pub name: String,
    /// `status.phase`: Pending, Running, Succeeded, Failed, Unknown.
    pub phase: String,
    /// What `kubectl get pods` shows in STATUS: the phase, or why it is not running
    /// (ContainerCreating, CrashLoopBackOff, Terminating, ...).
    pub status: String,
    /// Ready containers.
    pub ready: usize,
    pub containers: Vec<String>,
    pub restarts: i32,
    pub ip: String,
    pub node: String,
    pub owner: Option<String>,
    pub labels: String,
    pub created: Option<String>,
    pub terminating: bool,
}

/// kubectl's STATUS column, simplified: Terminating, an init container's or a container's
/// waiting/terminated reason, else the pod's reason or phase.
pub fn pod_status(pod: &Pod) -> String {
    if pod.metadata.deletion_timestamp.is_some() {
        return "Terminating".into();
    }
    let status = pod.status.clone().unwrap_or_default();
    let phase = status.phase.clone().unwrap_or_else(|| "Pending".into());
    let init = status.init_container_statuses.unwrap_or_default();
    for (i, c) in init.iter().enumerate() {
        let state = c.state.clone().unwrap_or_default();
        match (state.terminated, state.waiting) {
            (Some(t), _) if t.exit_code == 0 => continue,
            (Some(t), _) => {
                return format!(
                    "Init:{}",
                    t.reason
                        .unwrap_or_else(|| format!("ExitCode:{}", t.exit_code))
                );
            }
            (None, Some(w)) if w.reason.as_deref().is_some_and(|r| r != "PodInitializing") => {
                return format!("Init:{}", w.reason.unwrap_or_default());
            }
            _ => return format!("Init:{i}/{}", init.len()),
        }
    }
    for c in status.container_statuses.unwrap_or_default().iter().rev() {
        let state = c.state.clone().unwrap_or_default();
        if let Some(reason) = state.waiting.and_then(|w| w.reason) {
            return reason;
        }
        if let Some(t) = state.terminated
            && phase != "Succeeded"
            && phase != "Failed"
        {
            return t
                .reason
                .unwrap_or_else(|| format!("ExitCode:{}", t.exit_code));
        }
    }
    status.reason.unwrap_or(phase)
}

pub fn pod_row(pod: &Pod) -> PodRow {
    let status = pod.status.clone().unwrap_or_default();
    let statuses = status.container_statuses.clone().unwrap_or_default();
    PodRow {
        namespace: namespace(&pod.metadata),
        name: name(&pod.metadata),
        phase: status.phase.clone().unwrap_or_else(|| "Pending".into()),
        status: pod_status(pod),
        ready: statuses.iter().filter(|c| c.ready).count(),
        containers: pod
            .spec
            .as_ref()
            .map(|s| s.containers.iter().map(|c| c.name.clone()).collect())
            .unwrap_or_default(),
        restarts: statuses.iter().map(|c| c.restart_count).sum(),
        ip: status.pod_ip.clone().unwrap_or_default(),
        node: pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default(),
        owner: controller(&pod.metadata),
        labels: labels_text(pod.metadata.labels.as_ref()),
        created: time(&pod.metadata.creation_timestamp),
        terminating: pod.metadata.deletion_timestamp.is_some(),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceRow {
    pub namespace: String,
    pub name: String,
    #[serde(rename = "type")]
    pub type_: String,
    pub cluster_ip: String,
    /// What `kubectl get svc` shows in EXTERNAL-IP.
    pub external: String,
    /// `port:nodePort/protocol`, as kubectl shows them.
    pub ports: String,
    pub selector: String,
    /// The URLs `localkube service` prints.
    pub urls: Vec<ServiceUrl>,
    /// Why there is no URL, when there is none.
    pub no_url: Option<String>,
    /// Its localhost ports another program holds, each naming the holder.
    pub localhost_held: Vec<String>,
    pub created: Option<String>,
}

pub fn service_row(service: &Service, nodes: &[Node]) -> ServiceRow {
    let spec = service.spec.clone().unwrap_or_default();
    let type_ = service_type(service);
    let ingress: Vec<String> = service
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .map(|i| {
            i.iter()
                .filter_map(|i| i.ip.clone().or_else(|| i.hostname.clone()))
                .collect()
        })
        .unwrap_or_default();
    let external = if !ingress.is_empty() {
        ingress.join(",")
    } else if let Some(ips) = spec.external_ips.as_ref().filter(|i| !i.is_empty()) {
        ips.join(",")
    } else if type_ == "LoadBalancer" {
        "<pending>".into()
    } else if type_ == "ExternalName" {
        spec.external_name.clone().unwrap_or_default()
    } else {
        "<none>".into()
    };
    let ports = spec
        .ports
        .iter()
        .flatten()
        .map(|p| {
            let proto = p.protocol.as_deref().unwrap_or("TCP");
            match p.node_port {
                Some(np) => format!("{}:{np}/{proto}", p.port),
                None => format!("{}/{proto}", p.port),
            }
        })
        .collect::<Vec<_>>()
        .join(",");
    let (urls, no_url) = match service_urls(service, nodes) {
        Ok(urls) => (urls, None),
        Err(NoUrl::ClusterOnly(kind)) => (
            Vec::new(),
            Some(format!("{kind}: reachable only from inside the cluster")),
        ),
        Err(NoUrl::Pending) => (Vec::new(), Some("pending: no address yet".into())),
    };
    ServiceRow {
        namespace: namespace(&service.metadata),
        name: name(&service.metadata),
        type_,
        cluster_ip: spec.cluster_ip.clone().unwrap_or_default(),
        external,
        ports,
        selector: labels_text(spec.selector.as_ref()),
        urls,
        no_url,
        localhost_held: crate::plan::localhost::held_messages(service),
        created: time(&service.metadata.creation_timestamp),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressRow {
    pub namespace: String,
    pub name: String,
    /// ingressClassName, `<none>` when it has none.
    pub class: String,
    /// The addresses of its status (the ingress addon's loopback one), as `kubectl get ingress`.
    pub address: String,
    /// `80` or `80, 443` (with `tls`), as `kubectl get ingress`.
    pub ports: String,
    /// One per rule path, in the manifest's order.
    pub routes: Vec<IngressRoute>,
    /// Why there is no command to reach it, when there is none.
    pub no_url: Option<String>,
    pub created: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressRoute {
    /// `http://kubia.example.com/` (`https://` for a host of its `tls`); `*` stands for any host.
    pub url: String,
    /// `service:port` it reaches.
    pub backend: String,
    /// A URL to open from this machine: only for a rule without a host (the address alone
    /// reaches it); a host name does not resolve, `curl` names it.
    pub link: Option<String>,
    /// The command that reaches it from this machine: `curl -H 'Host: ...' http://ADDRESS/...`,
    /// or `curl --resolve HOST:443:ADDRESS ...` for a TLS host.
    pub curl: Option<String>,
}

pub fn ingress_row(ingress: &Ingress) -> IngressRow {
    let spec = ingress.spec.clone().unwrap_or_default();
    let addresses: Vec<String> = ingress
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|i| i.ip.clone().or_else(|| i.hostname.clone()))
        .collect();
    let tls_hosts: Vec<String> = spec
        .tls
        .iter()
        .flatten()
        .flat_map(|t| t.hosts.clone().unwrap_or_default())
        .collect();
    let backend_text = |b: &k8s_openapi::api::networking::v1::IngressBackend| match &b.service {
        Some(svc) => {
            let port = svc.port.as_ref().map_or(String::new(), |p| {
                p.number
                    .map(|n| n.to_string())
                    .or_else(|| p.name.clone())
                    .unwrap_or_default()
            });
            format!("{}:{port}", svc.name)
        }
        None => b
            .resource
            .as_ref()
            .map_or_else(String::new, |r| format!("{}/{}", r.kind, r.name)),
    };
    let mut paths: Vec<(Option<String>, String, String)> = Vec::new();
    for rule in spec.rules.iter().flatten() {
        for path in rule.http.iter().flat_map(|h| &h.paths) {
            paths.push((
                rule.host.clone(),
                path.path.clone().unwrap_or_else(|| "/".into()),
                backend_text(&path.backend),
            ));
        }
    }
    if paths.is_empty()
        && let Some(default) = &spec.default_backend
    {
        paths.push((None, "/".into(), backend_text(default)));
    }
    let address = addresses.first();
    let routes = paths
        .into_iter()
        .map(|(host, path, backend)| {
            let tls = host.as_ref().is_some_and(|h| tls_hosts.contains(h));
            let scheme = if tls { "https" } else { "http" };
            let shown_host = host.clone().unwrap_or_else(|| "*".into());
            let (link, curl) = match (address, &host) {
                (None, _) => (None, None),
                (Some(a), None) => (Some(format!("http://{a}{path}")), None),
                // A wildcard host names no one host to send.
                (Some(_), Some(h)) if h.starts_with('*') => (None, None),
                // Pasted into a shell: the Ingress's host and path are its author's text (a
                // path may hold `$(...)` or a quote), so every argument built from them is
                // quoted.
                (Some(a), Some(h)) if tls => (
                    None,
                    Some(format!(
                        "curl --resolve {} --cacert CERT {}",
                        shell_quote(&format!("{h}:443:{a}")),
                        shell_quote(&format!("https://{h}{path}"))
                    )),
                ),
                (Some(a), Some(h)) => (
                    None,
                    Some(format!(
                        "curl -H {} {}",
                        shell_quote(&format!("Host: {h}")),
                        shell_quote(&format!("http://{a}{path}"))
                    )),
                ),
            };
            IngressRoute {
                url: format!("{scheme}://{shown_host}{path}"),
                backend,
                link,
                curl,
            }
        })
        .collect();
    IngressRow {
        namespace: namespace(&ingress.metadata),
        name: name(&ingress.metadata),
        class: spec
            .ingress_class_name
            .clone()
            .unwrap_or_else(|| "<none>".into()),
        address: addresses.join(","),
        ports: if spec.tls.as_ref().is_some_and(|t| !t.is_empty()) {
            "80, 443".into()
        } else {
            "80".into()
        },
        routes,
        no_url: addresses.is_empty().then(|| {
            "pending: no address yet (is the ingress addon on? `localkube addons enable ingress`)"
                .into()
        }),
        created: time(&ingress.metadata.creation_timestamp),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventRow {
    pub namespace: String,
    /// Normal or Warning.
    #[serde(rename = "type")]
    pub type_: String,
    pub reason: String,
    /// `Kind/name` of the object the event is about.
    pub object: String,
    pub object_kind: String,
    pub object_name: String,
    pub message: String,
    pub count: i32,
    pub source: String,
    pub last_seen: Option<String>,
}

/// When an event last happened: the newest of its timestamps.
pub fn event_time(e: &Event) -> Option<k8s_openapi::jiff::Timestamp> {
    e.last_timestamp
        .as_ref()
        .map(|t| t.0)
        .or_else(|| e.event_time.as_ref().map(|t| t.0))
        .or_else(|| {
            e.series
                .as_ref()
                .and_then(|s| s.last_observed_time.as_ref().map(|t| t.0))
        })
        .or_else(|| e.first_timestamp.as_ref().map(|t| t.0))
        .or_else(|| e.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

pub fn event_row(e: &Event) -> EventRow {
    let source = e
        .reporting_component
        .clone()
        .filter(|s| !s.is_empty())
        .or_else(|| e.source.as_ref().and_then(|s| s.component.clone()))
        .unwrap_or_default();
    EventRow {
        namespace: namespace(&e.metadata),
        type_: e.type_.clone().unwrap_or_else(|| "Normal".into()),
        reason: e.reason.clone().unwrap_or_default(),
        object: format!(
            "{}/{}",
            e.involved_object.kind.clone().unwrap_or_default(),
            e.involved_object.name.clone().unwrap_or_default()
        ),
        object_kind: e.involved_object.kind.clone().unwrap_or_default(),
        object_name: e.involved_object.name.clone().unwrap_or_default(),
        message: e.message.clone().unwrap_or_default().trim().to_string(),
        count: e
            .series
            .as_ref()
            .and_then(|s| s.count)
            .or(e.count)
            .unwrap_or(1),
        source,
        last_seen: event_time(e).map(|t| t.to_string()),
    }
}

/// `text` as one word for a POSIX shell: bare when it holds only characters no shell treats
/// specially, else in single quotes (a quote inside as `'\''`).
fn shell_quote(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:@%+=,".contains(&b));
    if plain {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests;
