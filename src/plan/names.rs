//! Names and labels of everything a profile owns. Docker resources are found again by their labels,
//! never by name alone, so a command only ever touches what carries its profile's label.

use crate::plan::config::Nodes;
use crate::plan::profile_name::ProfileName;

/// Marks every Docker resource localkube creates, with the profile it belongs to as the value.
pub const LABEL_PROFILE: &str = "io.localkube.profile";
/// What the resource is for within the profile (`etcd`, `apiserver`, `node`, ...).
pub const LABEL_ROLE: &str = "io.localkube.role";
/// For node containers: the Kubernetes node name they run.
pub const LABEL_NODE: &str = "io.localkube.node";
/// On control-plane containers: a digest of the spec they were created from (see
/// `cluster::with_spec_digest`).
pub const LABEL_SPEC_DIGEST: &str = "io.localkube.spec-digest";

/// The components of a cluster, each its own container (nodes: one per node).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Etcd,
    Apiserver,
    ControllerManager,
    Scheduler,
    Node,
}

impl Role {
    pub const CONTROL_PLANE: [Role; 4] = [
        Role::Etcd,
        Role::Apiserver,
        Role::ControllerManager,
        Role::Scheduler,
    ];

    /// The value of the role label, also the suffix of the container's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Etcd => "etcd",
            Role::Apiserver => "apiserver",
            Role::ControllerManager => "controller-manager",
            Role::Scheduler => "scheduler",
            Role::Node => "node",
        }
    }
}

/// Container of a control-plane component: `<profile>-<role>`, e.g. `localkube-apiserver`.
pub fn control_plane_container(profile: &ProfileName, role: Role) -> String {
    debug_assert!(role != Role::Node, "nodes are named by node_container");
    format!("{profile}-{}", role.as_str())
}

/// A Kubernetes node's name, as minikube names them: node 1 is the profile's name, node n
/// `<profile>-m0n`.
pub fn node_name(profile: &ProfileName, number: u32) -> String {
    if number == 1 {
        profile.to_string()
    } else {
        format!("{profile}-m{number:02}")
    }
}

/// The names of the profile's nodes, in number order.
pub fn node_names(profile: &ProfileName, nodes: &Nodes) -> Vec<String> {
    nodes
        .numbers()
        .iter()
        .map(|n| node_name(profile, *n))
        .collect()
}

/// A node's container carries the node's name, so `docker ps` and `kubectl get nodes` agree.
pub fn node_container(node_name: &str) -> String {
    node_name.to_string()
}

/// The profile's own bridge network.
pub fn network(profile: &ProfileName) -> String {
    format!("localkube-{profile}")
}

/// etcd's data volume: the cluster's whole state, kept across stop/start.
pub fn etcd_volume(profile: &ProfileName) -> String {
    format!("{profile}-etcd-data")
}

/// A node's /var: containerd's images and snapshots, kubelet's state, pod logs.
pub fn node_volume(node_name: &str) -> String {
    format!("{node_name}-var")
}

/// The kubeconfig cluster, user and context names: the profile's name, as minikube does.
pub fn kubeconfig_context(profile: &ProfileName) -> String {
    profile.to_string()
}

/// Local image of a component at a Kubernetes version: `localkube/<component>:<version>`.
pub fn image(component: &str, version: &str) -> String {
    format!("localkube/{component}:{version}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(name: &str) -> ProfileName {
        ProfileName::parse(name).unwrap()
    }

    #[test]
    fn node_names_follow_minikube() {
        assert_eq!(
            node_names(&profile("dev"), &Nodes::first(3)),
            vec!["dev", "dev-m02", "dev-m03"]
        );
    }

    #[test]
    fn resource_names_carry_the_profile() {
        let p = profile("dev");
        assert_eq!(
            control_plane_container(&p, Role::Apiserver),
            "dev-apiserver"
        );
        assert_eq!(
            control_plane_container(&p, Role::ControllerManager),
            "dev-controller-manager"
        );
        assert_eq!(network(&p), "localkube-dev");
        assert_eq!(etcd_volume(&p), "dev-etcd-data");
        assert_eq!(node_volume("dev-m02"), "dev-m02-var");
        assert_eq!(image("etcd", "v1.35.4"), "localkube/etcd:v1.35.4");
    }
}
