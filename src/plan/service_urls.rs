//! The URLs that reach a Service from the host, as `localkube service` prints them and the
//! dashboard links them: a LoadBalancer's external address (localkube gives each one its own
//! loopback address), else a node's address and the NodePort; beside it, the same port on
//! `localhost` while it answers there too (`plan::localhost`). ClusterIP services have none.

use k8s_openapi::api::core::v1::{LoadBalancerIngress, Node, Service};

use crate::plan::localhost;

/// One port of a service and the URL that reaches it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceUrl {
    /// The port's name, or its number when unnamed.
    pub port_name: String,
    /// The port the pods listen on, as `kubectl get svc` would show it (`targetPort`).
    pub target_port: String,
    pub url: String,
    /// The same port on localhost, while it answers there too (`plan::localhost`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub localhost: Option<String>,
}

/// Why a service has no URL from the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoUrl {
    /// ClusterIP (or headless, or ExternalName): reachable only from inside the cluster.
    ClusterOnly(String),
    /// A LoadBalancer that has no external address yet, and no node to reach its NodePort on.
    Pending,
}

pub fn service_type(service: &Service) -> String {
    service
        .spec
        .as_ref()
        .and_then(|s| s.type_.clone())
        .unwrap_or_else(|| "ClusterIP".into())
}

/// The first InternalIP of the first node that has one: where NodePorts answer.
pub fn node_address(nodes: &[Node]) -> Option<String> {
    nodes.iter().find_map(|n| {
        n.status
            .as_ref()?
            .addresses
            .as_ref()?
            .iter()
            .find(|a| a.type_ == "InternalIP")
            .map(|a| a.address.clone())
    })
}

fn scheme(port: i32, name: Option<&str>) -> &'static str {
    if port == 443 || port == 8443 || name.is_some_and(|n| n.contains("https")) {
        "https"
    } else {
        "http"
    }
}

/// The URL with https instead of http (`service --https`: the user says the port speaks TLS).
pub fn with_https(url: &str) -> String {
    match url.strip_prefix("http://") {
        Some(rest) => format!("https://{rest}"),
        None => url.to_string(),
    }
}

/// A LoadBalancer's status entries (addresses and hostnames); none before one is assigned.
pub fn lb_ingress(service: &Service) -> &[LoadBalancerIngress] {
    service
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_deref())
        .unwrap_or_default()
}

/// The first address of a LoadBalancer's status: its EXTERNAL-IP.
pub fn external_ip(service: &Service) -> Option<String> {
    lb_ingress(service).iter().find_map(|i| i.ip.clone())
}

/// The URLs of every TCP port of the service, or why there are none.
pub fn service_urls(service: &Service, nodes: &[Node]) -> Result<Vec<ServiceUrl>, NoUrl> {
    let kind = service_type(service);
    let spec = service.spec.clone().unwrap_or_default();
    let ports = spec.ports.unwrap_or_default();
    let ingress_ip = external_ip(service);
    let node = node_address(nodes);
    let mut urls = Vec::new();
    for port in ports
        .iter()
        .filter(|p| p.protocol.as_deref().unwrap_or("TCP") == "TCP")
    {
        let host_port = match (kind.as_str(), &ingress_ip, &node, port.node_port) {
            ("LoadBalancer", Some(ip), _, _) => Some(host_port_text(ip, port.port)),
            ("LoadBalancer" | "NodePort", _, Some(node), Some(node_port)) => {
                Some(host_port_text(node, node_port))
            }
            _ => None,
        };
        let Some(host_port) = host_port else { continue };
        let url = format!("{}://{host_port}", scheme(port.port, port.name.as_deref()));
        urls.push(ServiceUrl {
            port_name: port.name.clone().unwrap_or_else(|| port.port.to_string()),
            target_port: target_port(port),
            // Published, the own address is 127.0.0.1 already.
            localhost: localhost_url(service, port)
                .filter(|l| l.replace("://localhost:", "://127.0.0.1:") != url),
            url,
        });
    }
    match kind.as_str() {
        "LoadBalancer" | "NodePort" if urls.is_empty() => Err(NoUrl::Pending),
        "LoadBalancer" | "NodePort" => Ok(urls),
        other => Err(NoUrl::ClusterOnly(other.to_string())),
    }
}

/// `address:port`, an IPv6 address in brackets (an IPv6 profile's nodes have IPv6 InternalIPs).
fn host_port_text(address: &str, port: i32) -> String {
    match address.parse::<std::net::IpAddr>() {
        Ok(ip) => format!("{}:{port}", crate::plan::networking::url_host(ip)),
        Err(_) => format!("{address}:{port}"),
    }
}

/// The URL of this port of a Service on localhost, while it answers there (its load balancer's
/// condition for the port says so): a LoadBalancer's port, a NodePort Service's NodePort.
fn localhost_url(
    service: &Service,
    port: &k8s_openapi::api::core::v1::ServicePort,
) -> Option<String> {
    let on_localhost = if service_type(service) == "NodePort" {
        port.node_port?
    } else {
        port.port
    };
    let on_localhost = u16::try_from(on_localhost).ok()?;
    let serving = localhost::port_conditions(service)
        .iter()
        .any(|c| c.serving && c.port == on_localhost);
    serving.then(|| {
        format!(
            "{}://localhost:{on_localhost}",
            scheme(port.port, port.name.as_deref())
        )
    })
}

fn target_port(port: &k8s_openapi::api::core::v1::ServicePort) -> String {
    port.target_port
        .as_ref()
        .map(|t| match t {
            k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(i) => i.to_string(),
            k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(s) => s.clone(),
        })
        .unwrap_or_else(|| port.port.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn service(value: serde_json::Value) -> Service {
        serde_json::from_value(value).unwrap()
    }

    fn nodes() -> Vec<Node> {
        vec![
            serde_json::from_value(json!({
                "metadata": {"name": "dev"},
                "status": {"addresses": [
                    {"type": "Hostname", "address": "dev"},
                    {"type": "InternalIP", "address": "172.30.7.10"}
                ]}
            }))
            .unwrap(),
        ]
    }

    #[test]
    fn https_replaces_only_the_scheme() {
        assert_eq!(
            with_https("http://172.30.7.10:31000"),
            "https://172.30.7.10:31000"
        );
        assert_eq!(
            with_https("https://127.30.7.2:443"),
            "https://127.30.7.2:443"
        );
    }

    #[test]
    fn load_balancer_uses_its_external_address_and_service_port() {
        let svc = service(json!({
            "metadata": {"name": "kubia"},
            "spec": {"type": "LoadBalancer", "ports": [
                {"port": 80, "targetPort": 8080, "nodePort": 31000, "protocol": "TCP"}
            ]},
            "status": {"loadBalancer": {"ingress": [{"ip": "127.30.7.2"}]}}
        }));
        let urls = service_urls(&svc, &nodes()).unwrap();
        assert_eq!(
            urls,
            vec![ServiceUrl {
                port_name: "80".into(),
                target_port: "8080".into(),
                url: "http://127.30.7.2:80".into(),
                localhost: None,
            }]
        );
    }

    #[test]
    fn pending_load_balancer_falls_back_to_the_node_port() {
        let svc = service(json!({
            "metadata": {"name": "kubia"},
            "spec": {"type": "LoadBalancer", "ports": [{"port": 8080, "nodePort": 31000}]}
        }));
        assert_eq!(
            service_urls(&svc, &nodes()).unwrap()[0].url,
            "http://172.30.7.10:31000"
        );
        assert_eq!(service_urls(&svc, &[]), Err(NoUrl::Pending));
    }

    #[test]
    fn an_ipv6_address_is_bracketed() {
        let svc = service(json!({
            "metadata": {"name": "web"},
            "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}
        }));
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": "dev"},
            "status": {"addresses": [{"type": "InternalIP", "address": "fd6c:6b00:30:7::a"}]}
        }))
        .unwrap();
        assert_eq!(
            service_urls(&svc, &[node]).unwrap()[0].url,
            "http://[fd6c:6b00:30:7::a]:30080"
        );
    }

    #[test]
    fn node_port_uses_a_node_address() {
        let svc = service(json!({
            "metadata": {"name": "web"},
            "spec": {"type": "NodePort", "ports": [
                {"name": "https", "port": 443, "targetPort": "web", "nodePort": 30443},
                {"name": "dns", "port": 53, "protocol": "UDP", "nodePort": 30053}
            ]}
        }));
        let urls = service_urls(&svc, &nodes()).unwrap();
        assert_eq!(urls.len(), 1, "UDP ports have no URL");
        assert_eq!(urls[0].url, "https://172.30.7.10:30443");
        assert_eq!(urls[0].target_port, "web");
    }

    #[test]
    fn ports_served_on_localhost_carry_their_localhost_url() {
        let condition = |port: u16, status: &str| {
            json!({"type": localhost::condition_type(port), "status": status,
                   "reason": "R", "message": "m", "lastTransitionTime": "2026-12-07T19:00:00Z"})
        };
        let lb = service(json!({
            "metadata": {"name": "web"},
            "spec": {"type": "LoadBalancer", "ports": [
                {"port": 8080, "nodePort": 31000},
                {"port": 443, "nodePort": 31001}
            ]},
            "status": {
                "loadBalancer": {"ingress": [{"ip": "127.30.7.2"}, {"hostname": "localhost"}]},
                "conditions": [condition(8080, "True"), condition(443, "False")]
            }
        }));
        let urls: Vec<(String, Option<String>)> = service_urls(&lb, &nodes())
            .unwrap()
            .into_iter()
            .map(|u| (u.url, u.localhost))
            .collect();
        // 443 is held by another program: its own address only.
        assert_eq!(
            urls,
            [
                (
                    "http://127.30.7.2:8080".to_string(),
                    Some("http://localhost:8080".to_string())
                ),
                ("https://127.30.7.2:443".to_string(), None)
            ]
        );
        let np = service(json!({
            "metadata": {"name": "web"},
            "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]},
            "status": {"conditions": [condition(30080, "True")]}
        }));
        let url = &service_urls(&np, &nodes()).unwrap()[0];
        assert_eq!(url.url, "http://172.30.7.10:30080");
        assert_eq!(url.localhost.as_deref(), Some("http://localhost:30080"));
    }

    #[test]
    fn cluster_ip_has_no_url() {
        let svc = service(json!({"metadata": {"name": "db"}, "spec": {"ports": [{"port": 5432}]}}));
        assert_eq!(
            service_urls(&svc, &nodes()),
            Err(NoUrl::ClusterOnly("ClusterIP".into()))
        );
    }
}
