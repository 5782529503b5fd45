//! Where cluster traffic goes. Every container sits on the profile's Docker network, whose default
//! route is Docker's gateway on the host: a packet for a pod or a Service that followed it would
//! leave the machine. So the control-plane containers route the pod range and the service range
//! through the nodes, and each node routes the other nodes' pod CIDRs to them.
//!
//! Control plane (applied by `images/netinit` at every container start, and again through
//! `docker exec` when nodes come or go):
//! - the whole pod range and the whole service range via the first node: that node forwards to its
//!   pods and applies kube-proxy's rules to Service addresses (masquerading, so replies come back
//!   the same way);
//! - each other node's pod CIDR via that node, so traffic to its pods takes one hop and replies
//!   come straight back on the same path (through the first node, the first node's conntrack would
//!   see only one direction and kube-proxy drops such packets as INVALID).
//!
//! The files use one line per route, `CIDR via IP`, read by netinit and by the node entrypoint.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use crate::plan::config::ProfileConfig;

/// The routes file of a control-plane container, in its config folder.
pub const CONTROL_PLANE_ROUTES_FILE: &str = "routes";
/// A node's routes file, in its config folder (the node entrypoint re-reads it every second).
pub const NODE_ROUTES_FILE: &str = "routes";

/// One route: destination range and next hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub destination: Ipv4Net,
    pub via: Ipv4Addr,
}

/// A node as routing sees it: its fixed address and, once the controller-manager assigned it, its
/// pod CIDR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeRoute {
    pub ip: Ipv4Addr,
    pub pod_cidr: Option<Ipv4Net>,
}

/// The control plane's routes. `nodes` in node order; the first node carries the ranges.
pub fn control_plane(config: &ProfileConfig, nodes: &[NodeRoute]) -> Vec<Route> {
    let Some(first) = nodes.first() else {
        return Vec::new();
    };
    let mut routes = vec![
        Route {
            destination: config.pod_cidr,
            via: first.ip,
        },
        Route {
            destination: config.service_cidr,
            via: first.ip,
        },
    ];
    routes.extend(nodes.iter().skip(1).filter_map(|node| {
        node.pod_cidr.map(|cidr| Route {
            destination: cidr,
            via: node.ip,
        })
    }));
    routes
}

/// A node's routes: every other node's pod CIDR via that node.
pub fn node(nodes: &[NodeRoute], this_ip: Ipv4Addr) -> Vec<Route> {
    nodes
        .iter()
        .filter(|n| n.ip != this_ip)
        .filter_map(|n| {
            n.pod_cidr.map(|cidr| Route {
                destination: cidr,
                via: n.ip,
            })
        })
        .collect()
}

/// The text of a routes file, with a comment line saying who wrote it and why.
pub fn render(routes: &[Route], why: &str) -> String {
    let mut out = format!("# written by localkube: {why}\n");
    for route in routes {
        out.push_str(&format!("{} via {}\n", route.destination, route.via));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ProfileConfig {
        ProfileConfig::new(40123, "172.30.7.0/24".parse().unwrap())
    }

    fn nodes() -> Vec<NodeRoute> {
        vec![
            NodeRoute {
                ip: "172.30.7.10".parse().unwrap(),
                pod_cidr: Some("10.244.0.0/24".parse().unwrap()),
            },
            NodeRoute {
                ip: "172.30.7.11".parse().unwrap(),
                pod_cidr: Some("10.244.1.0/24".parse().unwrap()),
            },
            NodeRoute {
                ip: "172.30.7.12".parse().unwrap(),
                pod_cidr: None,
            },
        ]
    }

    #[test]
    fn one_node_carries_both_ranges_before_it_has_a_pod_cidr() {
        let first = NodeRoute {
            ip: "172.30.7.10".parse().unwrap(),
            pod_cidr: None,
        };
        let text = render(&control_plane(&config(), &[first]), "test");
        assert_eq!(
            text,
            "# written by localkube: test\n10.244.0.0/16 via 172.30.7.10\n10.96.0.0/12 via 172.30.7.10\n"
        );
    }

    #[test]
    fn other_nodes_pods_go_straight_to_their_node() {
        let routes = control_plane(&config(), &nodes());
        assert_eq!(routes.len(), 3, "the node without a CIDR yet gets none");
        assert_eq!(routes[2].destination.to_string(), "10.244.1.0/24");
        assert_eq!(routes[2].via.to_string(), "172.30.7.11");
    }

    #[test]
    fn a_node_routes_the_others_pods_not_its_own() {
        let routes = node(&nodes(), "172.30.7.11".parse().unwrap());
        assert_eq!(
            routes,
            [Route {
                destination: "10.244.0.0/24".parse().unwrap(),
                via: "172.30.7.10".parse().unwrap()
            }]
        );
    }

    #[test]
    fn no_nodes_no_routes() {
        assert!(control_plane(&config(), &[]).is_empty());
    }
}
