//! `service`: the URLs of a profile's Services that answer from the host, with no root and no
//! terminal kept open (a LoadBalancer's own loopback address, or a node's NodePort, and the same
//! port on localhost while it answers there). The verb prints what this returns.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use kube::Client;

use crate::effects::home::Home;
use crate::effects::kube_api;
use crate::plan::profile_name::ProfileName;
use crate::plan::service_urls::{NoUrl, ServiceUrl, service_type, service_urls};

/// How long a new LoadBalancer may take to get its address before the NodePort URL is printed.
const ADDRESS_WAIT: Duration = Duration::from_secs(15);

/// A Service of `service list`, with its URLs or why it has none.
pub struct Listed {
    pub namespace: String,
    pub name: String,
    pub type_: String,
    pub urls: Result<Vec<ServiceUrl>, NoUrl>,
}

/// What `service NAME` asks.
pub struct ShowRequest {
    pub namespace: String,
    /// The Services; `None`: every LoadBalancer and NodePort Service of the namespace.
    pub names: Option<Vec<String>>,
    /// Seconds to wait for a ready pod behind each.
    pub wait: Option<u64>,
}

/// A Service's URLs, and what its load balancer says of the localhost ports another holds.
pub struct Shown {
    pub name: String,
    pub urls: Vec<ServiceUrl>,
    pub held: Vec<String>,
}

async fn client(home: &Home, profile: &ProfileName) -> Result<Client> {
    let dir = home.profile(profile);
    dir.load_config()?;
    kube_api::admin_client(&dir.admin_kubeconfig()).await
}

/// Every Service (of `namespace`, or of all) with its URLs.
pub async fn list(
    home: &Home,
    profile: &ProfileName,
    namespace: Option<&str>,
) -> Result<Vec<Listed>> {
    let client = client(home, profile).await?;
    let services = kube_api::list_services(&client, namespace).await?;
    let nodes = kube_api::list_nodes(&client).await?;
    Ok(services
        .iter()
        .map(|svc| Listed {
            namespace: svc.metadata.namespace.clone().unwrap_or_default(),
            name: svc.metadata.name.clone().unwrap_or_default(),
            type_: service_type(svc),
            urls: service_urls(svc, &nodes),
        })
        .collect())
}

/// The URLs of the Services asked for, each once it has a ready pod.
pub async fn show(home: &Home, profile: &ProfileName, request: &ShowRequest) -> Result<Vec<Shown>> {
    let client = client(home, profile).await?;
    let names = match &request.names {
        Some(names) => names.clone(),
        None => kube_api::list_services(&client, Some(&request.namespace))
            .await?
            .into_iter()
            .filter(|s| matches!(service_type(s).as_str(), "LoadBalancer" | "NodePort"))
            .filter_map(|s| s.metadata.name)
            .collect(),
    };
    let mut shown = Vec::new();
    for name in names {
        let (urls, held) =
            urls_when_ready(&client, &request.namespace, &name, request.wait).await?;
        shown.push(Shown { name, urls, held });
    }
    Ok(shown)
}

/// The service's URLs once it has a ready pod (waiting up to `wait` seconds for one) and, for a
/// LoadBalancer, its external address; with what its load balancer says of localhost ports
/// another program holds.
async fn urls_when_ready(
    client: &Client,
    namespace: &str,
    name: &str,
    wait: Option<u64>,
) -> Result<(Vec<ServiceUrl>, Vec<String>)> {
    let started = Instant::now();
    let wait = Duration::from_secs(wait.unwrap_or(0));
    loop {
        let svc = kube_api::get_service(client, namespace, name)
            .await?
            .with_context(|| {
                format!(
                    "no service '{name}' in namespace '{namespace}': `localkube service list` shows them"
                )
            })?;
        let nodes = kube_api::list_nodes(client).await?;
        let ready = kube_api::ready_endpoints(client, Some(namespace))
            .await?
            .get(&(namespace.to_string(), name.to_string()))
            .copied()
            .unwrap_or(0);
        let urls = service_urls(&svc, &nodes);
        let has_address = svc
            .status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|l| l.ingress.as_ref())
            .is_some_and(|i| !i.is_empty());
        let waiting_for_address = service_type(&svc) == "LoadBalancer"
            && !has_address
            && started.elapsed() < ADDRESS_WAIT;
        match urls {
            Err(NoUrl::ClusterOnly(kind)) => bail!(
                "service '{name}' is of type {kind}: it is reachable only inside the cluster. \
                 Reach it with `localkube kubectl -- port-forward svc/{name} 8080:PORT`, or give \
                 it an address from the host with `localkube kubectl -- patch svc {name} -n \
                 {namespace} -p '{{\"spec\":{{\"type\":\"LoadBalancer\"}}}}'`"
            ),
            Ok(urls) if ready > 0 && !waiting_for_address => {
                return Ok((urls, crate::plan::localhost::held_messages(&svc)));
            }
            _ if started.elapsed() < wait || waiting_for_address => {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(NoUrl::Pending) => bail!(
                "service '{name}' has no address yet: its load balancer is being set up; \
                 `localkube tunnel` shows why"
            ),
            Ok(_) => bail!(
                "service '{name}' in namespace '{namespace}' has no ready pod behind it: check \
                 `localkube kubectl -- get pods -n {namespace}` (or wait for one with --wait SECONDS)"
            ),
        }
    }
}
