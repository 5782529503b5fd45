//! What changed, as the pages are told it: the kinds of things a page shows, a change counter per
//! kind, and the cluster's health. The watches (`state`) and the metrics poller (`metrics`) both
//! report through it.

use std::sync::Mutex;

use serde::Serialize;
use tokio::sync::watch;

/// What a page is told about, each pushed on its own when it changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Whether the watches reach the API server.
    Health,
    Namespaces,
    Nodes,
    Deployments,
    ReplicaSets,
    ReplicationControllers,
    Pods,
    Services,
    /// Ingresses, shown beside the Services with the address they answer on.
    Ingresses,
    Events,
    StatefulSets,
    DaemonSets,
    Jobs,
    CronJobs,
    ConfigMaps,
    /// Their keys only: a value leaves the server only when asked for, one at a time.
    Secrets,
    PersistentVolumeClaims,
    PersistentVolumes,
    StorageClasses,
    /// CPU and memory of nodes and pods from metrics-server, with their recent history.
    Metrics,
}

pub const KINDS: [Kind; 20] = [
    Kind::Health,
    Kind::Namespaces,
    Kind::Nodes,
    Kind::Deployments,
    Kind::ReplicaSets,
    Kind::ReplicationControllers,
    Kind::Pods,
    Kind::Services,
    Kind::Ingresses,
    Kind::Events,
    Kind::StatefulSets,
    Kind::DaemonSets,
    Kind::Jobs,
    Kind::CronJobs,
    Kind::ConfigMaps,
    Kind::Secrets,
    Kind::PersistentVolumeClaims,
    Kind::PersistentVolumes,
    Kind::StorageClasses,
    Kind::Metrics,
];

impl Kind {
    pub(super) fn index(self) -> usize {
        KINDS.iter().position(|k| *k == self).unwrap_or(0)
    }

    /// The key in `/api/state` and the name of the server-sent event.
    pub fn key(self) -> &'static str {
        match self {
            Kind::Health => "health",
            Kind::Namespaces => "namespaces",
            Kind::Nodes => "nodes",
            Kind::Deployments => "deployments",
            Kind::ReplicaSets => "replicaSets",
            Kind::ReplicationControllers => "replicationControllers",
            Kind::Pods => "pods",
            Kind::Services => "services",
            Kind::Ingresses => "ingresses",
            Kind::Events => "events",
            Kind::StatefulSets => "statefulSets",
            Kind::DaemonSets => "daemonSets",
            Kind::Jobs => "jobs",
            Kind::CronJobs => "cronJobs",
            Kind::ConfigMaps => "configMaps",
            Kind::Secrets => "secrets",
            Kind::PersistentVolumeClaims => "persistentVolumeClaims",
            Kind::PersistentVolumes => "persistentVolumes",
            Kind::StorageClasses => "storageClasses",
            Kind::Metrics => "metrics",
        }
    }
}

/// A change counter per kind.
pub type Versions = [u64; KINDS.len()];

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    pub connected: bool,
    /// The last watch error, while the API server does not answer.
    pub error: Option<String>,
    /// The profile is paused (`localkube pause`): its watches hang rather than fail, so this
    /// comes from Docker.
    pub paused: bool,
    /// With several control-plane members: each member's components and what the cluster says
    /// of them (etcd leader or follower, the controller-manager's and scheduler's Lease holder).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub control_plane: Vec<crate::plan::members::MemberHealth>,
}

pub(super) struct Notifier {
    pub(super) versions: watch::Sender<Versions>,
    pub(super) health: Mutex<Health>,
}

impl Notifier {
    pub(super) fn bump(&self, kind: Kind) {
        self.versions.send_modify(|v| v[kind.index()] += 1);
    }

    pub(super) fn set_health(&self, connected: bool, error: Option<String>) {
        let changed = {
            let mut health = self.health.lock().unwrap_or_else(|e| e.into_inner());
            let changed = health.connected != connected || (!connected && health.error != error);
            health.connected = connected;
            health.error = error;
            changed
        };
        if changed {
            self.bump(Kind::Health);
        }
    }
}

impl Notifier {
    pub(super) fn set_members(&self, members: Vec<crate::plan::members::MemberHealth>) {
        let changed = {
            let mut health = self.health.lock().unwrap_or_else(|e| e.into_inner());
            std::mem::replace(&mut health.control_plane, members.clone()) != members
        };
        if changed {
            self.bump(Kind::Health);
        }
    }

    pub(super) fn set_paused(&self, paused: bool) {
        let changed = {
            let mut health = self.health.lock().unwrap_or_else(|e| e.into_inner());
            std::mem::replace(&mut health.paused, paused) != paused
        };
        if changed {
            self.bump(Kind::Health);
        }
    }
}

/// Namespaces a page looks at: one, or all (`None`).
pub type NamespaceFilter = Option<String>;

/// "all", "" and absent mean every namespace.
pub fn namespace_filter(param: Option<&str>) -> NamespaceFilter {
    param
        .filter(|ns| !ns.is_empty() && *ns != "all")
        .map(str::to_string)
}
