//! What a learner does from the page: scale, delete a pod, apply a manifest, read logs. Each is one
//! request to the API server with the admin credentials; when the API server refuses, its own
//! message is passed on word for word.

use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use kube::Client;
use kube::api::{
    Api, DeleteParams, DynamicObject, LogParams, Patch, PatchParams, ValidationDirective,
};
use kube::core::GroupVersionKind;
use kube::discovery::{Scope, pinned_kind};
use serde::Serialize;
use serde_json::json;

/// The field manager of everything the dashboard applies or scales.
pub const FIELD_MANAGER: &str = "localkube-dashboard";

/// A single API request must not hang the page.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Why an action failed: an HTTP status and the message to show as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    #[serde(skip)]
    pub status: u16,
    /// The API server's `message`, verbatim, when it answered.
    pub error: String,
    /// The API server's `reason` (Invalid, NotFound, Forbidden, ...), when it answered.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

impl Failure {
    pub fn bad_request(error: impl Into<String>) -> Self {
        Self {
            status: 400,
            error: error.into(),
            reason: "BadRequest".into(),
        }
    }

    fn from_kube(e: kube::Error) -> Self {
        match e {
            kube::Error::Api(status) => Self {
                status: if (400..600).contains(&status.code) {
                    status.code
                } else {
                    500
                },
                error: status.message.clone(),
                reason: status.reason.clone(),
            },
            other => Self {
                status: 502,
                error: format!("the API server could not be reached: {other}"),
                reason: String::new(),
            },
        }
    }
}

pub(super) async fn timed<T>(
    what: &str,
    call: impl Future<Output = Result<T, kube::Error>>,
) -> Result<T, Failure> {
    match tokio::time::timeout(REQUEST_TIMEOUT, call).await {
        Ok(result) => result.map_err(Failure::from_kube),
        Err(_) => Err(timeout_failure(what)),
    }
}

fn timeout_failure(what: &str) -> Failure {
    Failure {
        status: 504,
        error: format!(
            "{what}: the API server did not answer within {}s",
            REQUEST_TIMEOUT.as_secs()
        ),
        reason: "Timeout".into(),
    }
}

/// Kinds that have a scale subresource and that the page offers to scale.
pub const SCALABLE: [&str; 4] = [
    "Deployment",
    "ReplicaSet",
    "ReplicationController",
    "StatefulSet",
];

/// Sets `spec.replicas` through the scale subresource (as `kubectl scale` does); returns the
/// replicas the API server now holds.
pub async fn scale(
    client: &Client,
    kind: &str,
    namespace: &str,
    name: &str,
    replicas: i32,
) -> Result<i32, Failure> {
    let patch = Patch::Merge(json!({"spec": {"replicas": replicas}}));
    let params = PatchParams::default();
    let scale = match kind {
        "Deployment" => {
            let api: Api<Deployment> = Api::namespaced(client.clone(), namespace);
            timed("scaling", api.patch_scale(name, &params, &patch)).await?
        }
        "ReplicaSet" => {
            let api: Api<ReplicaSet> = Api::namespaced(client.clone(), namespace);
            timed("scaling", api.patch_scale(name, &params, &patch)).await?
        }
        "ReplicationController" => {
            let api: Api<ReplicationController> = Api::namespaced(client.clone(), namespace);
            timed("scaling", api.patch_scale(name, &params, &patch)).await?
        }
        "StatefulSet" => {
            let api: Api<StatefulSet> = Api::namespaced(client.clone(), namespace);
            timed("scaling", api.patch_scale(name, &params, &patch)).await?
        }
        other => {
            return Err(Failure::bad_request(format!(
                "cannot scale a {other}: only {} have replicas here",
                SCALABLE.join(", ")
            )));
        }
    };
    Ok(scale.spec.and_then(|s| s.replicas).unwrap_or(replicas))
}

/// Deletes a pod, as `kubectl delete pod` does (with its grace period).
pub async fn delete_pod(client: &Client, namespace: &str, name: &str) -> Result<(), Failure> {
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    timed("deleting", api.delete(name, &DeleteParams::default())).await?;
    Ok(())
}

/// What applying one object of a manifest did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectResult {
    pub kind: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// "created" or "configured"; absent when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<&'static str>,
    /// The API server's message, verbatim, when it refused this object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The outcome of applying a manifest: one result per object, and the first failure.
#[derive(Debug, Clone, Serialize)]
pub struct ApplyReport {
    pub results: Vec<ObjectResult>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
}

/// The objects of a manifest, checked before any is sent: every document must be an object with
/// apiVersion, kind and metadata.name (server-side apply needs a name).
fn parse_manifest(manifest: &str) -> Result<Vec<DynamicObject>, Failure> {
    let docs = crate::yaml::documents(manifest).map_err(|e| Failure::bad_request(e.to_string()))?;
    if docs.is_empty() {
        return Err(Failure::bad_request("the manifest has no objects"));
    }
    docs.into_iter()
        .enumerate()
        .map(|(i, doc)| {
            let n = i + 1;
            let object: DynamicObject = serde_json::from_value(doc).map_err(|e| {
                Failure::bad_request(format!("document {n} is not a Kubernetes object: {e}"))
            })?;
            if object.types.is_none() {
                return Err(Failure::bad_request(format!(
                    "document {n} has no apiVersion and kind"
                )));
            }
            if object.metadata.name.as_deref().is_none_or(str::is_empty) {
                return Err(Failure::bad_request(format!(
                    "document {n} has no metadata.name (apply needs one; generateName is not enough)"
                )));
            }
            Ok(object)
        })
        .collect()
}

/// The API resource of a kind, or kubectl's words when the API server serves no such kind.
async fn lookup_kind(
    client: &Client,
    gvk: &GroupVersionKind,
) -> Result<(kube::api::ApiResource, kube::discovery::ApiCapabilities), Failure> {
    let version = if gvk.group.is_empty() {
        gvk.version.clone()
    } else {
        format!("{}/{}", gvk.group, gvk.version)
    };
    let no_match = || Failure {
        status: 404,
        error: format!(
            "no matches for kind \"{}\" in version \"{version}\"",
            gvk.kind
        ),
        reason: "NotFound".into(),
    };
    match tokio::time::timeout(REQUEST_TIMEOUT, pinned_kind(client, gvk)).await {
        Ok(Ok(found)) => Ok(found),
        Ok(Err(kube::Error::Discovery(_))) => Err(no_match()),
        Ok(Err(kube::Error::Api(status))) if status.code == 404 => Err(no_match()),
        Ok(Err(e)) => Err(Failure::from_kube(e)),
        Err(_) => Err(timeout_failure("looking up the kind")),
    }
}

/// Applies every object of a (multi-document) manifest with server-side apply, as `kubectl apply
/// --server-side` does, with strict field validation so a misspelt field is refused rather than
/// dropped. Namespaced objects without a namespace go to `default_namespace`. Every object is
/// tried; the report says what happened to each.
pub async fn apply(client: &Client, manifest: &str, default_namespace: &str) -> ApplyReport {
    let objects = match parse_manifest(manifest) {
        Ok(objects) => objects,
        Err(failure) => {
            return ApplyReport {
                results: Vec::new(),
                failure: Some(failure),
            };
        }
    };
    let mut params = PatchParams::apply(FIELD_MANAGER).force();
    params.field_validation = Some(ValidationDirective::Strict);
    let mut results = Vec::new();
    let mut first_failure = None;
    for mut object in objects {
        let types = object.types.clone().unwrap_or_default();
        let name = object.metadata.name.clone().unwrap_or_default();
        let mut result = ObjectResult {
            kind: types.kind.clone(),
            name: name.clone(),
            namespace: None,
            action: None,
            error: None,
        };
        let outcome = async {
            let gvk = GroupVersionKind::try_from(&types)
                .map_err(|e| Failure::bad_request(e.to_string()))?;
            let (resource, caps) = lookup_kind(client, &gvk).await?;
            let api: Api<DynamicObject> = match caps.scope {
                Scope::Namespaced => {
                    let ns = object
                        .metadata
                        .namespace
                        .get_or_insert_with(|| default_namespace.to_string())
                        .clone();
                    result.namespace = Some(ns.clone());
                    Api::namespaced_with(client.clone(), &ns, &resource)
                }
                Scope::Cluster => Api::all_with(client.clone(), &resource),
            };
            let existed = timed("reading", api.get_metadata_opt(&name))
                .await?
                .is_some();
            timed(
                "applying",
                api.patch(&name, &params, &Patch::Apply(&object)),
            )
            .await?;
            Ok::<_, Failure>(if existed { "configured" } else { "created" })
        }
        .await;
        match outcome {
            Ok(action) => result.action = Some(action),
            Err(failure) => {
                result.error = Some(failure.error.clone());
                first_failure.get_or_insert(failure);
            }
        }
        results.push(result);
    }
    ApplyReport {
        results,
        failure: first_failure,
    }
}

fn log_params(container: Option<String>, previous: bool) -> LogParams {
    LogParams {
        container: container.filter(|c| !c.is_empty()),
        previous,
        tail_lines: Some(1000),
        ..LogParams::default()
    }
}

/// The last lines of a pod's container's log (`previous`: of the container that ran before the
/// last restart, as `kubectl logs --previous`).
pub async fn logs(
    client: &Client,
    namespace: &str,
    pod: &str,
    container: Option<String>,
    previous: bool,
) -> Result<String, Failure> {
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    timed(
        "reading logs",
        api.logs(pod, &log_params(container, previous)),
    )
    .await
}

/// A pod's log as it is written (`kubectl logs -f`).
pub async fn follow_logs(
    client: &Client,
    namespace: &str,
    pod: &str,
    container: Option<String>,
) -> Result<impl futures_util::AsyncBufRead + use<>, Failure> {
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let mut params = log_params(container, false);
    params.follow = true;
    params.tail_lines = Some(500);
    timed("following logs", api.log_stream(pod, &params)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_are_checked_before_anything_is_sent() {
        let err = parse_manifest("kind: [").unwrap_err();
        assert_eq!(err.status, 400);
        assert!(err.error.starts_with("invalid YAML"), "{}", err.error);
        let err = parse_manifest("").unwrap_err();
        assert!(err.error.contains("no objects"), "{}", err.error);
        let err = parse_manifest("apiVersion: v1\nkind: Pod\nmetadata:\n  generateName: x-\n")
            .unwrap_err();
        assert!(
            err.error.contains("document 1 has no metadata.name"),
            "{}",
            err.error
        );
        let err = parse_manifest("metadata:\n  name: x\n").unwrap_err();
        assert!(
            err.error.contains("no apiVersion and kind"),
            "{}",
            err.error
        );
        let ok = parse_manifest(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n",
        )
        .unwrap();
        assert_eq!(ok.len(), 2);
    }

    #[test]
    fn api_errors_pass_through_verbatim() {
        let status = kube::core::Status::failure(
            "Deployment.apps \"Bad\" is invalid: metadata.name: Invalid value",
            "Invalid",
        )
        .with_code(422);
        let f = Failure::from_kube(kube::Error::Api(status.boxed()));
        assert_eq!(f.status, 422);
        assert_eq!(
            f.error,
            "Deployment.apps \"Bad\" is invalid: metadata.name: Invalid value"
        );
        assert_eq!(f.reason, "Invalid");
    }
}
