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

use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;

use crate::plan::config::ProfileConfig;

/// The routes file of a control-plane container, in its config folder.
pub const CONTROL_PLANE_ROUTES_FILE: &str = "routes";
/// A node's routes file, in its config folder (the node entrypoint re-reads it every second).
pub const NODE_ROUTES_FILE: &str = "routes";

/// One route: destination range and next hop, of the same family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub destination: IpNet,
    pub via: IpAddr,
}

/// A node as routing sees it: its fixed IPv4 address and, once assigned, its pod CIDRs (one per
/// family of the profile).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRoute {
    pub ip: Ipv4Addr,
    pub pod_cidrs: Vec<IpNet>,
}

/// The node's address of the family of `destination`: IPv6 ranges go to its IPv6 twin. `None`
/// only for an IPv6 range on a profile without IPv6, which `ProfileConfig::validate` refuses.
fn via(config: &ProfileConfig, node: Ipv4Addr, destination: &IpNet) -> Option<IpAddr> {
    match destination {
        IpNet::V4(_) => Some(IpAddr::V4(node)),
        IpNet::V6(_) => config.ipv6_twin(node).map(IpAddr::V6),
    }
}

/// The routes to each of `node`'s pod CIDRs.
fn to_pods_of(config: &ProfileConfig, node: &NodeRoute) -> Vec<Route> {
    node.pod_cidrs
        .iter()
        .filter_map(|cidr| {
            via(config, node.ip, cidr).map(|via| Route {
                destination: *cidr,
                via,
            })
        })
        .collect()
}

/// The control plane's routes. `nodes` in node order; the first node carries the ranges of
/// every family.
pub fn control_plane(config: &ProfileConfig, nodes: &[NodeRoute]) -> Vec<Route> {
    let Some(first) = nodes.first() else {
        return Vec::new();
    };
    let mut routes: Vec<Route> = config
        .pod_cidrs()
        .into_iter()
        .chain(config.service_cidrs())
        .filter_map(|destination| {
            via(config, first.ip, &destination).map(|via| Route { destination, via })
        })
        .collect();
    routes.extend(
        nodes
            .iter()
            .skip(1)
            .flat_map(|node| to_pods_of(config, node)),
    );
    routes
}

/// A node's routes: every other node's pod CIDRs via that node.
pub fn node(config: &ProfileConfig, nodes: &[NodeRoute], this_ip: Ipv4Addr) -> Vec<Route> {
    nodes
        .iter()
        .filter(|n| n.ip != this_ip)
        .flat_map(|n| to_pods_of(config, n))
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
                pod_cidrs: vec!["10.244.0.0/24".parse().unwrap()],
            },
            NodeRoute {
                ip: "172.30.7.11".parse().unwrap(),
                pod_cidrs: vec!["10.244.1.0/24".parse().unwrap()],
            },
            NodeRoute {
                ip: "172.30.7.12".parse().unwrap(),
                pod_cidrs: Vec::new(),
            },
        ]
    }

    #[test]
    fn one_node_carries_both_ranges_before_it_has_a_pod_cidr() {
        let first = NodeRoute {
            ip: "172.30.7.10".parse().unwrap(),
            pod_cidrs: Vec::new(),
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
        let routes = node(&config(), &nodes(), "172.30.7.11".parse().unwrap());
        assert_eq!(
            routes,
            [Route {
                destination: "10.244.0.0/24".parse().unwrap(),
                via: "172.30.7.10".parse().unwrap()
            }]
        );
    }

    #[test]
    fn a_dual_stack_profile_routes_each_familys_ranges_via_the_nodes_address_of_that_family() {
        let mut config = config();
        config.ip_family = crate::plan::networking::IpFamily::Dual;
        config.ipv6 = Some(Default::default());
        let nodes = [
            NodeRoute {
                ip: "172.30.7.10".parse().unwrap(),
                pod_cidrs: vec![
                    "10.244.0.0/24".parse().unwrap(),
                    "fd6c:6b00:244::/64".parse().unwrap(),
                ],
            },
            NodeRoute {
                ip: "172.30.7.11".parse().unwrap(),
                pod_cidrs: vec![
                    "10.244.1.0/24".parse().unwrap(),
                    "fd6c:6b00:244:1::/64".parse().unwrap(),
                ],
            },
        ];
        let text = render(&control_plane(&config, &nodes), "t");
        assert_eq!(
            text,
            "# written by localkube: t\n\
             10.244.0.0/16 via 172.30.7.10\n\
             fd6c:6b00:244::/56 via fd6c:6b00:30:7::a\n\
             10.96.0.0/12 via 172.30.7.10\n\
             fd6c:6b00:96::/112 via fd6c:6b00:30:7::a\n\
             10.244.1.0/24 via 172.30.7.11\n\
             fd6c:6b00:244:1::/64 via fd6c:6b00:30:7::b\n"
        );
        let text = render(&node(&config, &nodes, nodes[1].ip), "t");
        assert!(
            text.ends_with("fd6c:6b00:244::/64 via fd6c:6b00:30:7::a\n"),
            "{text}"
        );
    }

    #[test]
    fn no_nodes_no_routes() {
        assert!(control_plane(&config(), &[]).is_empty());
    }
}
