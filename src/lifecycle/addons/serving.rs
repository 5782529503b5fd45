//! Whether an enabled addon serves: each sign its row lists (`plan::addons::Serving`), waited
//! for with a deadline; and the address a LoadBalancer Service publishes.

use std::net::Ipv4Addr;
use std::time::Duration;

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::networking::v1::Ingress;
use kube::Client;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::pinned_kind;

use super::{ADDON_READY_TIMEOUT, Cluster};
use crate::effects::{containers, kube_api};
use crate::plan::addons::{self, Addon, Serving};
use crate::plan::names;

/// Waits until the addon does its job: every sign of its row, in order.
pub async fn wait_serving(cluster: &Cluster<'_>, addon: &Addon) -> Result<()> {
    for sign in addon.serving {
        match *sign {
            Serving::Deployment(namespace, name) => {
                let client = cluster.client.clone();
                let first_node = names::node_container(&names::node_name(cluster.profile, 1));
                let waited = kube_api::wait_for(
                    &format!("the {} addon ready", addon.name),
                    ADDON_READY_TIMEOUT,
                    || {
                        let client = client.clone();
                        async move {
                            Ok(kube_api::deployment_ready(&client, namespace, name)
                                .await?
                                .then_some(()))
                        }
                    },
                )
                .await;
                with_logs(cluster, waited, &first_node).await?;
            }
            Serving::ApiService(service) => {
                let client = cluster.client.clone();
                kube_api::wait_for(
                    &format!("the APIService {service} Available"),
                    ADDON_READY_TIMEOUT,
                    || {
                        let client = client.clone();
                        async move {
                            Ok(api_service_available(&client, service)
                                .await?
                                .then_some(()))
                        }
                    },
                )
                .await?;
            }
            Serving::LoadBalancerHttp(namespace, name) => {
                let client = cluster.client.clone();
                let address = kube_api::wait_for(
                    &format!("the {name} Service's load-balancer address"),
                    ADDON_READY_TIMEOUT,
                    || {
                        let client = client.clone();
                        async move { service_address(&client, (namespace, name)).await }
                    },
                )
                .await?;
                kube_api::wait_for(
                    &format!("{name} answering on http://{address}/"),
                    ADDON_READY_TIMEOUT,
                    || async move { Ok(http_answers(address, 80).await.then_some(())) },
                )
                .await?;
            }
            Serving::Registry => {
                let port = cluster.config.addons.registry_port.unwrap_or_default();
                let container = addons::registry_container(cluster.profile);
                let password = crate::effects::registry_auth::read(&cluster.facts.profile_dir)
                    .unwrap_or_default();
                let waited = kube_api::wait_for(
                    "the registry answering /v2/ with the profile's password",
                    ADDON_READY_TIMEOUT,
                    || {
                        let password = password.clone();
                        async move { Ok(registry_answers(port, &password).await.then_some(())) }
                    },
                )
                .await;
                with_logs(cluster, waited, &container).await?;
                // The nodes' side, as the nodes see it.
                let mirror = addons::registry_mirror_container(cluster.profile);
                let endpoint = (
                    addons::registry_mirror_ip(cluster.config),
                    addons::REGISTRY_CONTAINER_PORT,
                );
                let first_node = names::node_container(&names::node_name(cluster.profile, 1));
                let docker = cluster.docker;
                let waited = kube_api::wait_for(
                    "the registry's pull-only mirror answering the nodes",
                    ADDON_READY_TIMEOUT,
                    || {
                        let first_node = first_node.clone();
                        async move {
                            Ok(mirror_answers(docker, &first_node, endpoint)
                                .await
                                .then_some(()))
                        }
                    },
                )
                .await;
                with_logs(cluster, waited, &mirror).await?;
            }
        }
    }
    Ok(())
}

/// A failed wait, with the last log lines of the container that tells why.
async fn with_logs(cluster: &Cluster<'_>, waited: Result<()>, container: &str) -> Result<()> {
    if let Err(e) = waited {
        let logs = containers::logs_tail(cluster.docker, container, 20).await;
        return Err(e.context(format!(
            "{container}'s last log lines:\n{}",
            logs.trim_end()
        )));
    }
    Ok(())
}

/// Whether the aggregated API's APIService has the condition Available=True.
async fn api_service_available(client: &Client, name: &str) -> Result<bool> {
    let gvk = GroupVersionKind::gvk("apiregistration.k8s.io", "v1", "APIService");
    let (resource, _) = pinned_kind(client, &gvk).await?;
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
    let Some(object) = api.get_opt(name).await? else {
        return Ok(false);
    };
    Ok(object.data["status"]["conditions"]
        .as_array()
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| c["type"] == "Available" && c["status"] == "True")
        }))
}

/// A LoadBalancer Service's address, once the load balancer gave it one.
pub async fn service_address(
    client: &Client,
    (namespace, name): (&str, &str),
) -> Result<Option<Ipv4Addr>> {
    let api: Api<Service> = Api::namespaced(client.clone(), namespace);
    let Some(service) = api.get_opt(name).await? else {
        return Ok(None);
    };
    Ok(service
        .status
        .and_then(|s| s.load_balancer)
        .and_then(|lb| lb.ingress)
        .into_iter()
        .flatten()
        .find_map(|i| i.ip.and_then(|ip| ip.parse().ok())))
}

/// Whether something on address:port answers HTTP (any status: Traefik says 404 for a host no
/// Ingress names, which is serving).
async fn http_answers(address: Ipv4Addr, port: u16) -> bool {
    status_line(address, port, "/", &format!("Host: {address}\r\n"))
        .await
        .is_some_and(|head| head.starts_with(b"HTTP/"))
}

/// Whether the registry on 127.0.0.1:port answers `GET /v2/` with 200 to the account's
/// password (without it, 401).
pub async fn registry_answers(port: u16, password: &str) -> bool {
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{password}", addons::REGISTRY_USER));
    status_line(
        Ipv4Addr::LOCALHOST,
        port,
        "/v2/",
        &format!("Host: localhost:{port}\r\nAuthorization: Basic {basic}\r\n"),
    )
    .await
    .is_some_and(|head| head.ends_with(b" 200"))
}

/// Whether the mirror answers `GET /v2/` with 200 from inside a node (bash's /dev/tcp: the node
/// image has no HTTP client), the way containerd reaches it.
async fn mirror_answers(docker: &bollard::Docker, node: &str, (ip, port): (Ipv4Addr, u16)) -> bool {
    let script = format!(
        "exec 3<>/dev/tcp/{ip}/{port} && printf 'GET /v2/ HTTP/1.0\\r\\n\\r\\n' >&3 && head -c 12 <&3"
    );
    let seconds = crate::effects::pace::scaled(Duration::from_secs(2))
        .as_secs()
        .to_string();
    containers::exec_ok(docker, node, &["timeout", &seconds, "bash", "-c", &script])
        .await
        .is_ok_and(|head| head.ends_with(" 200"))
}

/// The first 12 bytes (`HTTP/1.1 200`) of the answer to `GET path` with these header lines, if
/// one comes within seconds.
async fn status_line(address: Ipv4Addr, port: u16, path: &str, headers: &str) -> Option<[u8; 12]> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let within = crate::effects::pace::scaled(Duration::from_secs(2));
    let connect = tokio::net::TcpStream::connect((address, port));
    let mut stream = tokio::time::timeout(within, connect).await.ok()?.ok()?;
    let request = format!("GET {path} HTTP/1.0\r\n{headers}\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut head = [0u8; 12];
    tokio::time::timeout(within, stream.read_exact(&mut head))
        .await
        .ok()?
        .ok()?;
    Some(head)
}

/// Once the pods behind the Service (namespace, name) have stopped, takes its address out of the
/// Ingresses' status, where it stayed behind: nothing answers there any more, so
/// `kubectl get ingress` must not show it.
pub(super) async fn clear_ingress_status(
    client: &Client,
    (namespace, name): (&str, &str),
    address: Ipv4Addr,
) -> Result<()> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let selector = ListParams::default().labels(&format!("app.kubernetes.io/name={name}"));
    kube_api::wait_for(
        &format!("the pods of {name} gone"),
        ADDON_READY_TIMEOUT,
        || {
            let (pods, selector) = (pods.clone(), selector.clone());
            async move { Ok(pods.list(&selector).await?.items.is_empty().then_some(())) }
        },
    )
    .await?;
    let address = address.to_string();
    let all: Api<Ingress> = Api::all(client.clone());
    for ingress in all.list(&ListParams::default()).await? {
        let shows_it = ingress
            .status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|lb| lb.ingress.as_ref())
            .is_some_and(|i| i.iter().any(|i| i.ip.as_deref() == Some(address.as_str())));
        let (Some(namespace), Some(name)) = (&ingress.metadata.namespace, &ingress.metadata.name)
        else {
            continue;
        };
        if shows_it {
            let api: Api<Ingress> = Api::namespaced(client.clone(), namespace);
            let patch = serde_json::json!({"status": {"loadBalancer": {"ingress": null}}});
            match api
                .patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!("clearing the address of Ingress {namespace}/{name}")
                    });
                }
            }
        }
    }
    Ok(())
}
