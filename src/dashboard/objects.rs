//! An object's own page: the object read fresh from the API server as YAML, the objects that own
//! it and that it owns, its own events; an edit sent back with server-side apply; a Secret's value
//! revealed one key at a time; a shell in a pod's container.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{
    ConfigMap, Event, Namespace, Node, PersistentVolume, PersistentVolumeClaim, Pod,
    ReplicationController, Secret, Service,
};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, ValidationDirective};
use kube::{Client, Resource};
use serde::Serialize;
use serde_json::{Value, json};

use super::actions::{FIELD_MANAGER, Failure, timed};
use super::state::{ObjectLink, Watched};

/// A kind the page has a view of: how to reach it in the API.
#[derive(Debug, Clone)]
pub struct KindInfo {
    pub resource: ApiResource,
    pub namespaced: bool,
}

fn info<K: Resource<DynamicType = ()>>(namespaced: bool) -> KindInfo {
    KindInfo {
        resource: ApiResource::erase::<K>(&()),
        namespaced,
    }
}

/// Every kind that has a page, by its `kind` name.
pub fn kind_info(kind: &str) -> Option<KindInfo> {
    Some(match kind {
        "Namespace" => info::<Namespace>(false),
        "Node" => info::<Node>(false),
        "PersistentVolume" => info::<PersistentVolume>(false),
        "StorageClass" => info::<StorageClass>(false),
        "Deployment" => info::<Deployment>(true),
        "ReplicaSet" => info::<ReplicaSet>(true),
        "ReplicationController" => info::<ReplicationController>(true),
        "StatefulSet" => info::<StatefulSet>(true),
        "DaemonSet" => info::<DaemonSet>(true),
        "Job" => info::<Job>(true),
        "CronJob" => info::<CronJob>(true),
        "Pod" => info::<Pod>(true),
        "Service" => info::<Service>(true),
        "Ingress" => info::<Ingress>(true),
        "ConfigMap" => info::<ConfigMap>(true),
        "Secret" => info::<Secret>(true),
        "PersistentVolumeClaim" => info::<PersistentVolumeClaim>(true),
        "Event" => info::<Event>(true),
        _ => return None,
    })
}

fn api_for(client: &Client, kind: &str, namespace: &str) -> Result<Api<DynamicObject>, Failure> {
    let info = kind_info(kind).ok_or_else(|| Failure {
        status: 404,
        error: format!("the dashboard has no page for the kind {kind:?}"),
        reason: "NotFound".into(),
    })?;
    Ok(if info.namespaced {
        Api::namespaced_with(client.clone(), namespace, &info.resource)
    } else {
        Api::all_with(client.clone(), &info.resource)
    })
}

/// What the page of one object shows.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectPage {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    /// The object as `kubectl get -o yaml` shows it, without managedFields (and, for a Secret,
    /// without its values).
    pub yaml: String,
    /// Whether the page offers to edit it (a Secret's values are not in the page, so no).
    pub editable: bool,
    /// Who manages which fields: each manager and its operation (Apply or Update).
    pub managers: Vec<String>,
    pub owners: Vec<ObjectLink>,
    pub owned: Vec<ObjectLink>,
    pub events: Vec<super::views::EventRow>,
    /// A pod's containers, init containers first, for the log and exec choosers.
    pub containers: Vec<String>,
    pub init_containers: Vec<String>,
}

/// Placeholder for each value of a Secret on its page.
pub const HIDDEN: &str = "(hidden: reveal it on the page, one key at a time)";

/// The object's JSON as the page shows it: managedFields out (they say who set what, shown as a
/// list of managers instead), a Secret's values out.
pub fn for_display(kind: &str, mut value: Value) -> Value {
    if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    if kind == "Secret" {
        for field in ["data", "stringData"] {
            if let Some(data) = value.get_mut(field).and_then(Value::as_object_mut) {
                for v in data.values_mut() {
                    *v = json!(HIDDEN);
                }
            }
        }
        if let Some(annotations) = value
            .pointer_mut("/metadata/annotations")
            .and_then(Value::as_object_mut)
        {
            // `kubectl apply` keeps the whole object, values included, in this annotation.
            annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
        }
    }
    value
}

fn managers(object: &DynamicObject) -> Vec<String> {
    object
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .map(|m| {
            let mut text = format!(
                "{} ({})",
                m.manager.clone().unwrap_or_default(),
                m.operation.clone().unwrap_or_default()
            );
            if let Some(sub) = m.subresource.as_deref().filter(|s| !s.is_empty()) {
                text.push_str(&format!(" on /{sub}"));
            }
            text
        })
        .collect()
}

pub async fn page(
    client: &Client,
    watched: &Watched,
    kind: &str,
    namespace: &str,
    name: &str,
) -> Result<ObjectPage, Failure> {
    let api = api_for(client, kind, namespace)?;
    let object = timed("reading the object", api.get(name)).await?;
    let uid = object.metadata.uid.clone().unwrap_or_default();
    let owners = object
        .metadata
        .owner_references
        .iter()
        .flatten()
        .map(|o| ObjectLink {
            kind: o.kind.clone(),
            namespace: namespace.to_string(),
            name: o.name.clone(),
        })
        .collect();
    let managers = managers(&object);
    let mut value = serde_json::to_value(&object).map_err(|e| Failure {
        status: 500,
        error: e.to_string(),
        reason: String::new(),
    })?;
    let names = |field: &str| -> Vec<String> {
        value["spec"][field]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str().map(str::to_string))
            .collect()
    };
    let (containers, init_containers) = if kind == "Pod" {
        (names("containers"), names("initContainers"))
    } else {
        (Vec::new(), Vec::new())
    };
    value = for_display(kind, value);
    let yaml = crate::yaml::to_string(&value).map_err(|e| Failure {
        status: 500,
        error: e.to_string(),
        reason: String::new(),
    })?;
    let target = ObjectLink {
        kind: kind.to_string(),
        namespace: namespace.to_string(),
        name: name.to_string(),
    };
    Ok(ObjectPage {
        kind: kind.to_string(),
        namespace: namespace.to_string(),
        name: name.to_string(),
        yaml,
        editable: kind != "Secret",
        managers,
        owners,
        owned: watched.owned_by(&uid),
        events: watched.events_of(&uid, &target),
        uid,
        containers,
        init_containers,
    })
}

/// Fields of what `kubectl get -o yaml` shows that an apply must not carry: the server's own
/// (`status`, the uid, the version, timestamps) and the managers' record.
fn for_apply(mut value: Value) -> Value {
    if let Some(object) = value.as_object_mut() {
        object.remove("status");
    }
    if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in [
            "managedFields",
            "resourceVersion",
            "uid",
            "creationTimestamp",
            "generation",
            "selfLink",
        ] {
            meta.remove(field);
        }
    }
    value
}

/// The outcome of an edit.
#[derive(Debug, Clone, Serialize)]
pub struct Edited {
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

/// Sends an edited object back with server-side apply, as `kubectl apply --server-side` would:
/// a field that another manager set to another value is a conflict (409, with the API server's
/// message naming the managers and fields) unless `force` takes it over. The edit must be the
/// object of this page: the same kind, name and namespace.
pub async fn apply_edit(
    client: &Client,
    target: &ObjectLink,
    yaml: &str,
    force: bool,
) -> Result<Edited, Failure> {
    let docs = crate::yaml::documents(yaml).map_err(|e| Failure::bad_request(e.to_string()))?;
    let [doc] = <[Value; 1]>::try_from(docs)
        .map_err(|_| Failure::bad_request("the edit must be exactly one object"))?;
    let doc = for_apply(doc);
    let kind = doc["kind"].as_str().unwrap_or_default();
    let name = doc["metadata"]["name"].as_str().unwrap_or_default();
    let namespace = doc["metadata"]["namespace"].as_str().unwrap_or_default();
    if kind != target.kind || name != target.name || namespace != target.namespace {
        return Err(Failure::bad_request(format!(
            "this page edits {} {}: the edit names {kind} {name}{}; to create another object, \
             use Apply a manifest",
            target.kind,
            target.name,
            if namespace.is_empty() {
                String::new()
            } else {
                format!(" in {namespace}")
            }
        )));
    }
    if kind == "Secret" {
        return Err(Failure::bad_request(
            "a Secret is not edited from the page (its values are not in it): use `localkube kubectl -- edit secret`",
        ));
    }
    let api = api_for(client, kind, namespace)?;
    let mut params = PatchParams::apply(FIELD_MANAGER);
    params.force = force;
    params.field_validation = Some(ValidationDirective::Strict);
    timed(
        "applying the edit",
        api.patch(name, &params, &Patch::Apply(&doc)),
    )
    .await?;
    Ok(Edited {
        kind: kind.into(),
        namespace: namespace.into(),
        name: name.into(),
    })
}

/// One value of a Secret, decoded as text when it is UTF-8 (else as base64), from the watch.
pub fn secret_value(
    watched: &Watched,
    namespace: &str,
    name: &str,
    key: &str,
) -> Result<Value, Failure> {
    let not_found = |what: String| Failure {
        status: 404,
        error: what,
        reason: "NotFound".into(),
    };
    let secret = watched
        .secret(namespace, name)
        .ok_or_else(|| not_found(format!("no Secret {namespace}/{name}")))?;
    let data: BTreeMap<String, Vec<u8>> = secret
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.0.clone()))
        .collect();
    let bytes = data
        .get(key)
        .ok_or_else(|| not_found(format!("the Secret {namespace}/{name} has no key {key:?}")))?;
    Ok(match std::str::from_utf8(bytes) {
        Ok(text) => json!({"key": key, "text": text}),
        Err(_) => {
            use base64::Engine;
            json!({"key": key, "base64": base64::engine::general_purpose::STANDARD.encode(bytes)})
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_kind_has_a_page() {
        for kind in [
            "Namespace",
            "Node",
            "Deployment",
            "StatefulSet",
            "DaemonSet",
            "Job",
            "CronJob",
            "Pod",
            "Service",
            "Ingress",
            "ConfigMap",
            "Secret",
            "PersistentVolumeClaim",
            "PersistentVolume",
            "StorageClass",
        ] {
            let info = kind_info(kind).unwrap_or_else(|| panic!("{kind}"));
            assert_eq!(info.resource.kind, kind);
        }
        assert_eq!(kind_info("CronJob").unwrap().resource.group, "batch");
        assert!(!kind_info("Node").unwrap().namespaced);
        assert!(kind_info("Nonsense").is_none());
    }

    #[test]
    fn a_secret_page_carries_no_value() {
        let shown = for_display(
            "Secret",
            json!({"kind": "Secret", "metadata": {"name": "s", "managedFields": [{}],
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"data\":{\"p\":\"aHVudGVyMg==\"}}"}},
                "data": {"p": "aHVudGVyMg=="}}),
        );
        let text = shown.to_string();
        assert!(!text.contains("aHVudGVyMg"), "{text}");
        assert!(!text.contains("managedFields"));
        assert_eq!(shown["data"]["p"], HIDDEN);
    }

    #[test]
    fn an_edit_carries_none_of_the_servers_fields() {
        let sent = for_apply(json!({
            "kind": "ConfigMap",
            "metadata": {"name": "c", "uid": "1", "resourceVersion": "2", "creationTimestamp": "x",
                         "managedFields": [], "labels": {"a": "b"}},
            "data": {"k": "v"},
            "status": {}
        }));
        assert_eq!(
            sent,
            json!({"kind": "ConfigMap", "metadata": {"name": "c", "labels": {"a": "b"}}, "data": {"k": "v"}})
        );
    }
}
