//! The rows of the kinds the books' later chapters use: StatefulSets and DaemonSets (desired
//! against current, as the other controllers), Jobs and CronJobs, ConfigMaps and Secrets (their
//! keys, never a Secret's values), PersistentVolumeClaims, PersistentVolumes and StorageClasses.

use k8s_openapi::api::apps::v1::{DaemonSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolume, PersistentVolumeClaim, Secret};
use k8s_openapi::api::storage::v1::StorageClass;
use serde::Serialize;

use super::{WorkloadRow, controller, images, name, namespace, selector_text, time};

pub fn stateful_set_row(s: &StatefulSet) -> WorkloadRow {
    let spec = s.spec.clone().unwrap_or_default();
    let status = s.status.clone().unwrap_or_default();
    WorkloadRow {
        kind: "StatefulSet",
        namespace: namespace(&s.metadata),
        name: name(&s.metadata),
        desired: spec.replicas.unwrap_or(1),
        current: status.replicas,
        ready: status.ready_replicas.unwrap_or(0),
        updated: Some(status.updated_replicas.unwrap_or(0)),
        available: status.available_replicas.unwrap_or(0),
        owner: controller(&s.metadata),
        selector: selector_text(Some(&spec.selector)),
        images: images(spec.template.spec.as_ref()),
        created: time(&s.metadata.creation_timestamp),
    }
}

/// A DaemonSet's desired count is not asked for but follows from the nodes that match it: one
/// pod per node. It has no scale subresource.
pub fn daemon_set_row(d: &DaemonSet) -> WorkloadRow {
    let spec = d.spec.clone().unwrap_or_default();
    let status = d.status.clone().unwrap_or_default();
    WorkloadRow {
        kind: "DaemonSet",
        namespace: namespace(&d.metadata),
        name: name(&d.metadata),
        desired: status.desired_number_scheduled,
        current: status.current_number_scheduled,
        ready: status.number_ready,
        updated: Some(status.updated_number_scheduled.unwrap_or(0)),
        available: status.number_available.unwrap_or(0),
        owner: controller(&d.metadata),
        selector: selector_text(Some(&spec.selector)),
        images: images(spec.template.spec.as_ref()),
        created: time(&d.metadata.creation_timestamp),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRow {
    pub namespace: String,
    pub name: String,
    /// Complete, Failed, Suspended or Running.
    pub status: String,
    /// `spec.completions`: how many pods must succeed (1 unless set).
    pub completions: i32,
    pub parallelism: i32,
    pub succeeded: i32,
    pub active: i32,
    pub failed: i32,
    pub owner: Option<String>,
    pub images: Vec<String>,
    pub started: Option<String>,
    pub completed: Option<String>,
    pub created: Option<String>,
}

pub fn job_row(j: &Job) -> JobRow {
    let spec = j.spec.clone().unwrap_or_default();
    let status = j.status.clone().unwrap_or_default();
    let condition = |t: &str| {
        status
            .conditions
            .iter()
            .flatten()
            .any(|c| c.type_ == t && c.status == "True")
    };
    let state = if condition("Complete") {
        "Complete"
    } else if condition("Failed") {
        "Failed"
    } else if spec.suspend == Some(true) {
        "Suspended"
    } else {
        "Running"
    };
    JobRow {
        namespace: namespace(&j.metadata),
        name: name(&j.metadata),
        status: state.into(),
        completions: spec.completions.unwrap_or(1),
        parallelism: spec.parallelism.unwrap_or(1),
        succeeded: status.succeeded.unwrap_or(0),
        active: status.active.unwrap_or(0),
        failed: status.failed.unwrap_or(0),
        owner: controller(&j.metadata),
        images: images(spec.template.spec.as_ref()),
        started: time(&status.start_time),
        completed: time(&status.completion_time),
        created: time(&j.metadata.creation_timestamp),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CronJobRow {
    pub namespace: String,
    pub name: String,
    pub schedule: String,
    pub suspended: bool,
    /// Jobs it runs now.
    pub active: usize,
    pub last_schedule: Option<String>,
    pub last_success: Option<String>,
    pub created: Option<String>,
}

pub fn cron_job_row(c: &CronJob) -> CronJobRow {
    let spec = c.spec.clone().unwrap_or_default();
    let status = c.status.clone().unwrap_or_default();
    CronJobRow {
        namespace: namespace(&c.metadata),
        name: name(&c.metadata),
        schedule: spec.schedule,
        suspended: spec.suspend == Some(true),
        active: status.active.map(|a| a.len()).unwrap_or(0),
        last_schedule: time(&status.last_schedule_time),
        last_success: time(&status.last_successful_time),
        created: time(&c.metadata.creation_timestamp),
    }
}

/// A ConfigMap or a Secret: its keys. A Secret's values stay on the server until asked for one by
/// one (`/api/secret`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DataRow {
    pub namespace: String,
    pub name: String,
    /// A Secret's type (Opaque, kubernetes.io/tls, ...); empty for a ConfigMap.
    #[serde(rename = "type")]
    pub type_: String,
    pub keys: Vec<String>,
    pub immutable: bool,
    pub created: Option<String>,
}

pub fn config_map_row(c: &ConfigMap) -> DataRow {
    let mut keys: Vec<String> = c.data.iter().flatten().map(|(k, _)| k.clone()).collect();
    keys.extend(c.binary_data.iter().flatten().map(|(k, _)| k.clone()));
    keys.sort();
    DataRow {
        namespace: namespace(&c.metadata),
        name: name(&c.metadata),
        type_: String::new(),
        keys,
        immutable: c.immutable == Some(true),
        created: time(&c.metadata.creation_timestamp),
    }
}

pub fn secret_row(s: &Secret) -> DataRow {
    let mut keys: Vec<String> = s.data.iter().flatten().map(|(k, _)| k.clone()).collect();
    keys.extend(s.string_data.iter().flatten().map(|(k, _)| k.clone()));
    keys.sort();
    keys.dedup();
    DataRow {
        namespace: namespace(&s.metadata),
        name: name(&s.metadata),
        type_: s.type_.clone().unwrap_or_else(|| "Opaque".into()),
        keys,
        immutable: s.immutable == Some(true),
        created: time(&s.metadata.creation_timestamp),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimRow {
    pub namespace: String,
    pub name: String,
    /// Pending, Bound or Lost.
    pub status: String,
    pub volume: String,
    /// What the bound volume holds, or what was requested while pending.
    pub capacity: String,
    pub access_modes: String,
    pub storage_class: String,
    pub created: Option<String>,
}

fn access_modes(modes: Option<&Vec<String>>) -> String {
    modes
        .into_iter()
        .flatten()
        .map(|m| match m.as_str() {
            "ReadWriteOnce" => "RWO",
            "ReadOnlyMany" => "ROX",
            "ReadWriteMany" => "RWX",
            "ReadWriteOncePod" => "RWOP",
            other => other,
        })
        .collect::<Vec<_>>()
        .join(",")
}

pub fn claim_row(c: &PersistentVolumeClaim) -> ClaimRow {
    let spec = c.spec.clone().unwrap_or_default();
    let status = c.status.clone().unwrap_or_default();
    let capacity = status
        .capacity
        .as_ref()
        .and_then(|c| c.get("storage"))
        .or_else(|| {
            spec.resources
                .as_ref()
                .and_then(|r| r.requests.as_ref())
                .and_then(|r| r.get("storage"))
        })
        .map(|q| q.0.clone())
        .unwrap_or_default();
    ClaimRow {
        namespace: namespace(&c.metadata),
        name: name(&c.metadata),
        status: status.phase.unwrap_or_else(|| "Pending".into()),
        volume: spec.volume_name.unwrap_or_default(),
        capacity,
        access_modes: access_modes(status.access_modes.as_ref().or(spec.access_modes.as_ref())),
        storage_class: spec.storage_class_name.unwrap_or_default(),
        created: time(&c.metadata.creation_timestamp),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeRow {
    pub name: String,
    /// Available, Bound, Released or Failed.
    pub status: String,
    pub capacity: String,
    pub access_modes: String,
    pub reclaim_policy: String,
    /// The claim bound to it, as `namespace/name`.
    pub claim: String,
    pub storage_class: String,
    /// Where the data lives (hostPath, local, nfs, csi ...).
    pub source: String,
    pub created: Option<String>,
}

pub fn volume_row(v: &PersistentVolume) -> VolumeRow {
    let spec = v.spec.clone().unwrap_or_default();
    let source = if let Some(h) = &spec.host_path {
        format!("hostPath {}", h.path)
    } else if let Some(l) = &spec.local {
        format!("local {}", l.path)
    } else if let Some(n) = &spec.nfs {
        format!("nfs {}:{}", n.server, n.path)
    } else if let Some(c) = &spec.csi {
        format!("csi {}", c.driver)
    } else {
        String::new()
    };
    VolumeRow {
        name: name(&v.metadata),
        status: v
            .status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_default(),
        capacity: spec
            .capacity
            .as_ref()
            .and_then(|c| c.get("storage"))
            .map(|q| q.0.clone())
            .unwrap_or_default(),
        access_modes: access_modes(spec.access_modes.as_ref()),
        reclaim_policy: spec.persistent_volume_reclaim_policy.unwrap_or_default(),
        claim: spec
            .claim_ref
            .map(|c| {
                format!(
                    "{}/{}",
                    c.namespace.unwrap_or_default(),
                    c.name.unwrap_or_default()
                )
            })
            .unwrap_or_default(),
        storage_class: spec.storage_class_name.unwrap_or_default(),
        source,
        created: time(&v.metadata.creation_timestamp),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageClassRow {
    pub name: String,
    pub provisioner: String,
    pub reclaim_policy: String,
    pub binding_mode: String,
    /// Claims that name no class get this one.
    pub default: bool,
    pub created: Option<String>,
}

pub fn storage_class_row(s: &StorageClass) -> StorageClassRow {
    StorageClassRow {
        name: name(&s.metadata),
        provisioner: s.provisioner.clone(),
        reclaim_policy: s.reclaim_policy.clone().unwrap_or_else(|| "Delete".into()),
        binding_mode: s
            .volume_binding_mode
            .clone()
            .unwrap_or_else(|| "Immediate".into()),
        default: s
            .metadata
            .annotations
            .iter()
            .flatten()
            .any(|(k, v)| k == "storageclass.kubernetes.io/is-default-class" && v == "true"),
        created: time(&s.metadata.creation_timestamp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;

    #[test]
    fn a_secret_row_holds_its_keys_and_never_a_value() {
        let mut s = Secret::default();
        s.metadata.name = Some("db".into());
        s.metadata.namespace = Some("default".into());
        s.data = Some(
            [
                ("password".to_string(), ByteString(b"hunter2".to_vec())),
                ("user".to_string(), ByteString(b"admin".to_vec())),
            ]
            .into(),
        );
        let row = secret_row(&s);
        assert_eq!(row.keys, ["password", "user"]);
        assert_eq!(row.type_, "Opaque");
        let json = serde_json::to_string(&row).unwrap();
        assert!(
            !json.contains("hunter2") && !json.contains("aHVudGVyMg"),
            "{json}"
        );
    }

    #[test]
    fn a_daemon_set_wants_one_pod_per_matching_node() {
        let mut d = DaemonSet::default();
        d.metadata.name = Some("fluentd".into());
        d.status = Some(k8s_openapi::api::apps::v1::DaemonSetStatus {
            desired_number_scheduled: 3,
            current_number_scheduled: 2,
            number_ready: 1,
            updated_number_scheduled: Some(2),
            ..Default::default()
        });
        let row = daemon_set_row(&d);
        assert_eq!(
            (row.kind, row.desired, row.current, row.ready, row.updated),
            ("DaemonSet", 3, 2, 1, Some(2))
        );
    }

    #[test]
    fn a_job_is_complete_by_its_condition_and_counts_its_pods() {
        let j: Job = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "batch", "namespace": "default"},
            "spec": {"completions": 5, "parallelism": 2, "template": {"spec": {"containers": []}}},
            "status": {"succeeded": 5, "conditions": [{"type": "Complete", "status": "True"}]}
        }))
        .unwrap();
        let row = job_row(&j);
        assert_eq!(row.status, "Complete");
        assert_eq!((row.completions, row.succeeded, row.active), (5, 5, 0));
    }

    #[test]
    fn a_claim_shows_the_bound_capacity_and_short_access_modes() {
        let c: PersistentVolumeClaim = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "data", "namespace": "default"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                     "volumeName": "pv-1", "storageClassName": "standard"},
            "status": {"phase": "Bound", "capacity": {"storage": "2Gi"}}
        }))
        .unwrap();
        let row = claim_row(&c);
        assert_eq!(
            (
                row.status.as_str(),
                row.capacity.as_str(),
                row.access_modes.as_str()
            ),
            ("Bound", "2Gi", "RWO")
        );
    }
}
