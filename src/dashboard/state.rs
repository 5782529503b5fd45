//! The cluster as the dashboard sees it: one watch (a kube-rs reflector) per kind of object, kept in
//! memory, and a counter per kind that moves on every change so the event streams know what to push.
//!
//! One set of watches serves every open page: a page costs the API server nothing more.

use std::fmt::Debug;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{
    ConfigMap, Event, Namespace, Node, PersistentVolume, PersistentVolumeClaim, Pod,
    ReplicationController, Secret, Service,
};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::watch;

use super::changes::Notifier;
pub use super::changes::{Health, KINDS, Kind, NamespaceFilter, Versions, namespace_filter};
use super::views;

/// How many recent events a page gets: the events view filters them; the overview shows only
/// the recent warnings among them.
const RECENT_EVENTS: usize = 300;

/// How many of an object's own events its page gets.
const OBJECT_EVENTS: usize = 100;

/// How often the dashboard asks Docker whether the profile is paused.
const PAUSE_POLL: Duration = Duration::from_secs(2);

/// The watched objects of the cluster.
pub struct Watched {
    notifier: Arc<Notifier>,
    namespaces: Store<Namespace>,
    nodes: Store<Node>,
    deployments: Store<Deployment>,
    replica_sets: Store<ReplicaSet>,
    replication_controllers: Store<ReplicationController>,
    pods: Store<Pod>,
    services: Store<Service>,
    ingresses: Store<Ingress>,
    events: Store<Event>,
    stateful_sets: Store<StatefulSet>,
    daemon_sets: Store<DaemonSet>,
    jobs: Store<Job>,
    cron_jobs: Store<CronJob>,
    config_maps: Store<ConfigMap>,
    secrets: Store<Secret>,
    claims: Store<PersistentVolumeClaim>,
    volumes: Store<PersistentVolume>,
    storage_classes: Store<StorageClass>,
    metrics: Arc<Mutex<super::metrics::Samples>>,
}

/// An object the page can link to: its own page is `#/object/KIND/NAMESPACE/NAME`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectLink {
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

fn link<K: Resource<DynamicType = ()>>(k: &K) -> ObjectLink {
    ObjectLink {
        kind: K::kind(&()).to_string(),
        namespace: k.namespace().unwrap_or_default(),
        name: k.name_any(),
    }
}

fn owned_in<K: Resource<DynamicType = ()> + Clone>(
    store: &Store<K>,
    uid: &str,
    out: &mut Vec<ObjectLink>,
) {
    let mut found: Vec<ObjectLink> = store
        .state()
        .iter()
        .filter(|k| k.owner_references().iter().any(|o| o.uid == uid))
        .map(|k| link(&**k))
        .collect();
    found.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    out.extend(found);
}

fn spawn_watch<K>(api: Api<K>, kind: Kind, notifier: Arc<Notifier>) -> Store<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + Hash + Clone,
{
    let (reader, writer) = reflector::store();
    let stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .reflect(writer);
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(item) = stream.next().await {
            match item {
                Ok(_) => {
                    notifier.set_health(true, None);
                    notifier.bump(kind);
                }
                // 410 Gone: the watch fell too far behind, an ordinary event; the watcher lists
                // again at once. The API server answered, so that is no loss of contact.
                Err(watcher::Error::WatchError(status)) if status.code == 410 => {}
                Err(e) => notifier.set_health(false, Some(format!("watching {}: {e}", kind.key()))),
            }
        }
    });
    reader
}

fn sorted<K: Resource>(mut items: Vec<Arc<K>>) -> Vec<Arc<K>> {
    items.sort_by_key(|k| (k.namespace(), k.name_any()));
    items
}

fn in_namespace<K: Resource>(filter: &NamespaceFilter) -> impl Fn(&K) -> bool + '_ {
    move |k: &K| {
        filter
            .as_deref()
            .is_none_or(|ns| k.meta().namespace.as_deref() == Some(ns))
    }
}

impl Watched {
    /// Starts the watches; they run until the runtime stops, re-connecting with backoff.
    pub fn start(client: &Client) -> Arc<Self> {
        let (versions, _) = watch::channel([0; KINDS.len()]);
        let notifier = Arc::new(Notifier {
            versions,
            health: Mutex::new(Health::default()),
        });
        let n = || notifier.clone();
        let c = || client.clone();
        Arc::new(Self {
            namespaces: spawn_watch(Api::all(c()), Kind::Namespaces, n()),
            nodes: spawn_watch(Api::all(c()), Kind::Nodes, n()),
            deployments: spawn_watch(Api::all(c()), Kind::Deployments, n()),
            replica_sets: spawn_watch(Api::all(c()), Kind::ReplicaSets, n()),
            replication_controllers: spawn_watch(Api::all(c()), Kind::ReplicationControllers, n()),
            pods: spawn_watch(Api::all(c()), Kind::Pods, n()),
            services: spawn_watch(Api::all(c()), Kind::Services, n()),
            ingresses: spawn_watch(Api::all(c()), Kind::Ingresses, n()),
            events: spawn_watch(Api::all(c()), Kind::Events, n()),
            stateful_sets: spawn_watch(Api::all(c()), Kind::StatefulSets, n()),
            daemon_sets: spawn_watch(Api::all(c()), Kind::DaemonSets, n()),
            jobs: spawn_watch(Api::all(c()), Kind::Jobs, n()),
            cron_jobs: spawn_watch(Api::all(c()), Kind::CronJobs, n()),
            config_maps: spawn_watch(Api::all(c()), Kind::ConfigMaps, n()),
            secrets: spawn_watch(Api::all(c()), Kind::Secrets, n()),
            claims: spawn_watch(Api::all(c()), Kind::PersistentVolumeClaims, n()),
            volumes: spawn_watch(Api::all(c()), Kind::PersistentVolumes, n()),
            storage_classes: spawn_watch(Api::all(c()), Kind::StorageClasses, n()),
            metrics: super::metrics::follow(c(), n()),
            notifier,
        })
    }

    /// Follows whether the profile is paused, from its containers' states in Docker, for as long
    /// as the runtime runs; no Docker means not known to be paused. With several control-plane
    /// members (`members_of`), each member's health too.
    pub fn follow_paused(
        &self,
        profile: crate::plan::profile_name::ProfileName,
        members_of: Option<crate::plan::config::ProfileConfig>,
        client: Client,
    ) {
        let notifier = self.notifier.clone();
        tokio::spawn(async move {
            let Ok(docker) = crate::effects::docker::connect().await else {
                return;
            };
            loop {
                if let Ok(found) =
                    crate::effects::docker::profile_containers(&docker, &profile).await
                {
                    let paused = crate::plan::pause::is_paused(found.iter().map(|c| c.state));
                    notifier.set_paused(paused);
                    if let Some(config) = members_of.as_ref().filter(|_| !paused) {
                        let members = crate::effects::members::health(
                            &docker,
                            Some(&client),
                            &profile,
                            config,
                        )
                        .await;
                        notifier.set_members(members);
                    }
                }
                tokio::time::sleep(PAUSE_POLL).await;
            }
        });
    }

    /// Waits until every watch has its first full list, or `timeout` passes; says whether all did.
    pub async fn wait_ready(&self, timeout: Duration) -> bool {
        let all = async {
            let _ = self.namespaces.wait_until_ready().await;
            let _ = self.nodes.wait_until_ready().await;
            let _ = self.deployments.wait_until_ready().await;
            let _ = self.replica_sets.wait_until_ready().await;
            let _ = self.replication_controllers.wait_until_ready().await;
            let _ = self.pods.wait_until_ready().await;
            let _ = self.services.wait_until_ready().await;
            let _ = self.ingresses.wait_until_ready().await;
            let _ = self.events.wait_until_ready().await;
            let _ = self.stateful_sets.wait_until_ready().await;
            let _ = self.daemon_sets.wait_until_ready().await;
            let _ = self.jobs.wait_until_ready().await;
            let _ = self.cron_jobs.wait_until_ready().await;
            let _ = self.config_maps.wait_until_ready().await;
            let _ = self.secrets.wait_until_ready().await;
            let _ = self.claims.wait_until_ready().await;
            let _ = self.volumes.wait_until_ready().await;
            let _ = self.storage_classes.wait_until_ready().await;
        };
        tokio::time::timeout(timeout, all).await.is_ok()
    }

    pub fn subscribe(&self) -> watch::Receiver<Versions> {
        self.notifier.versions.subscribe()
    }

    pub fn health(&self) -> Health {
        self.notifier
            .health
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn nodes(&self) -> Vec<Node> {
        sorted(self.nodes.state())
            .iter()
            .map(|n| (**n).clone())
            .collect()
    }

    /// The objects that name `uid` as an owner, among the watched kinds (a Deployment's
    /// ReplicaSets, a ReplicaSet's pods, a CronJob's Jobs, a StatefulSet's claims ...).
    pub fn owned_by(&self, uid: &str) -> Vec<ObjectLink> {
        let mut out = Vec::new();
        owned_in(&self.deployments, uid, &mut out);
        owned_in(&self.replica_sets, uid, &mut out);
        owned_in(&self.stateful_sets, uid, &mut out);
        owned_in(&self.daemon_sets, uid, &mut out);
        owned_in(&self.jobs, uid, &mut out);
        owned_in(&self.pods, uid, &mut out);
        owned_in(&self.claims, uid, &mut out);
        owned_in(&self.config_maps, uid, &mut out);
        owned_in(&self.secrets, uid, &mut out);
        owned_in(&self.services, uid, &mut out);
        out
    }

    /// The events about one object (by its uid, or by kind, namespace and name for events
    /// written before it had one), newest first.
    pub fn events_of(&self, uid: &str, target: &ObjectLink) -> Vec<views::EventRow> {
        let mut events = self.events.state_filter(|e| {
            let o = &e.involved_object;
            o.uid.as_deref() == Some(uid)
                || (o.kind.as_deref() == Some(target.kind.as_str())
                    && o.name.as_deref() == Some(target.name.as_str())
                    && o.namespace.clone().unwrap_or_default() == target.namespace)
        });
        newest_first(&mut events);
        events
            .iter()
            .take(OBJECT_EVENTS)
            .map(|e| views::event_row(e))
            .collect()
    }

    /// A Secret from the watch, for revealing one of its values.
    pub fn secret(&self, namespace: &str, name: &str) -> Option<Arc<Secret>> {
        self.secrets
            .get(&reflector::ObjectRef::new(name).within(namespace))
    }

    /// The rows of one kind, for the page.
    pub fn rows(&self, kind: Kind, filter: &NamespaceFilter) -> Value {
        let value = match kind {
            Kind::Health => serde_json::to_value(self.health()),
            Kind::Namespaces => serde_json::to_value(
                sorted(self.namespaces.state())
                    .iter()
                    .map(|n| views::namespace_row(n))
                    .collect::<Vec<_>>(),
            ),
            Kind::Nodes => {
                serde_json::to_value(self.nodes().iter().map(views::node_row).collect::<Vec<_>>())
            }
            Kind::Deployments => serde_json::to_value(
                sorted(self.deployments.state_filter(in_namespace(filter)))
                    .iter()
                    .map(|d| views::deployment_row(d))
                    .collect::<Vec<_>>(),
            ),
            Kind::ReplicaSets => serde_json::to_value(
                sorted(self.replica_sets.state_filter(in_namespace(filter)))
                    .iter()
                    .map(|r| views::replica_set_row(r))
                    .collect::<Vec<_>>(),
            ),
            Kind::ReplicationControllers => serde_json::to_value(
                sorted(
                    self.replication_controllers
                        .state_filter(in_namespace(filter)),
                )
                .iter()
                .map(|r| views::replication_controller_row(r))
                .collect::<Vec<_>>(),
            ),
            Kind::Pods => serde_json::to_value(
                sorted(self.pods.state_filter(in_namespace(filter)))
                    .iter()
                    .map(|p| views::pod_row(p))
                    .collect::<Vec<_>>(),
            ),
            Kind::Services => {
                let nodes = self.nodes();
                serde_json::to_value(
                    sorted(self.services.state_filter(in_namespace(filter)))
                        .iter()
                        .map(|s| views::service_row(s, &nodes))
                        .collect::<Vec<_>>(),
                )
            }
            Kind::Ingresses => serde_json::to_value(
                sorted(self.ingresses.state_filter(in_namespace(filter)))
                    .iter()
                    .map(|i| views::ingress_row(i))
                    .collect::<Vec<_>>(),
            ),
            Kind::StatefulSets => rows_of(&self.stateful_sets, filter, |s| {
                views::kinds::stateful_set_row(s)
            }),
            Kind::DaemonSets => rows_of(&self.daemon_sets, filter, |d| {
                views::kinds::daemon_set_row(d)
            }),
            Kind::Jobs => rows_of(&self.jobs, filter, views::kinds::job_row),
            Kind::CronJobs => rows_of(&self.cron_jobs, filter, views::kinds::cron_job_row),
            Kind::ConfigMaps => rows_of(&self.config_maps, filter, |c| {
                views::kinds::config_map_row(c)
            }),
            Kind::Secrets => rows_of(&self.secrets, filter, views::kinds::secret_row),
            Kind::PersistentVolumeClaims => rows_of(&self.claims, filter, views::kinds::claim_row),
            Kind::PersistentVolumes => rows_of(&self.volumes, &None, views::kinds::volume_row),
            Kind::StorageClasses => rows_of(&self.storage_classes, &None, |s| {
                views::kinds::storage_class_row(s)
            }),
            Kind::Metrics => Ok(self
                .metrics
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .to_json(filter)),
            Kind::Events => {
                let mut events = self.events.state_filter(in_namespace(filter));
                newest_first(&mut events);
                serde_json::to_value(
                    events
                        .iter()
                        .take(RECENT_EVENTS)
                        .map(|e| views::event_row(e))
                        .collect::<Vec<_>>(),
                )
            }
        };
        value.unwrap_or_else(|e| json!({"error": e.to_string()}))
    }

    /// Every kind at once.
    pub fn snapshot(&self, filter: &NamespaceFilter) -> serde_json::Map<String, Value> {
        KINDS
            .iter()
            .map(|k| (k.key().to_string(), self.rows(*k, filter)))
            .collect()
    }
}

/// Timestamps have whole seconds; within one, the resourceVersion (etcd's revision, which only
/// grows) tells the order.
fn newest_first(events: &mut [Arc<Event>]) {
    events.sort_by_key(|e| {
        let revision = e
            .metadata
            .resource_version
            .as_deref()
            .and_then(|v| v.parse::<u64>().ok());
        std::cmp::Reverse((views::event_time(e), revision))
    });
}

fn rows_of<K, R: Serialize>(
    store: &Store<K>,
    filter: &NamespaceFilter,
    row: impl Fn(&K) -> R,
) -> serde_json::Result<Value>
where
    K: Resource + Clone + 'static,
    K::DynamicType: Eq + Hash + Clone,
{
    serde_json::to_value(
        sorted(store.state_filter(in_namespace(filter)))
            .iter()
            .map(|k| row(k))
            .collect::<Vec<_>>(),
    )
}

/// Whether `kind` changed between two counters. Services show node addresses in their URLs, so
/// they change with the nodes too.
pub fn changed(kind: Kind, before: &Versions, now: &Versions) -> bool {
    let moved = |k: Kind| before[k.index()] != now[k.index()];
    moved(kind) || (kind == Kind::Services && moved(Kind::Nodes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_follow_node_changes() {
        let before = [0; KINDS.len()];
        let mut now = before;
        now[Kind::Nodes.index()] = 1;
        assert!(changed(Kind::Nodes, &before, &now));
        assert!(changed(Kind::Services, &before, &now));
        assert!(!changed(Kind::Pods, &before, &now));
    }

    #[test]
    fn all_means_no_filter() {
        assert_eq!(namespace_filter(Some("all")), None);
        assert_eq!(namespace_filter(Some("")), None);
        assert_eq!(namespace_filter(None), None);
        assert_eq!(namespace_filter(Some("default")), Some("default".into()));
    }
}
