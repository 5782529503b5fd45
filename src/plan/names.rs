//! Names and labels of everything a profile owns. Docker resources are found again by their labels,
//! never by name alone, so a command only ever touches what carries its profile's label.

use crate::plan::nodes::Nodes;
use crate::plan::profile_name::ProfileName;

/// Marks every Docker resource localkube creates, with the profile it belongs to as the value.
pub const LABEL_PROFILE: &str = "io.localkube.profile";
/// What the resource is for within the profile (`etcd`, `apiserver`, `node`, ...).
pub const LABEL_ROLE: &str = "io.localkube.role";
/// For node containers: the Kubernetes node name they run.
pub const LABEL_NODE: &str = "io.localkube.node";
/// On the containers of a control plane of several members: the member's number (1, 2, 3).
pub const LABEL_MEMBER: &str = "io.localkube.member";
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
    /// localkube's LoadBalancer controller (the load-balancer addon).
    LbController,
    /// A proxy the controller runs for one LoadBalancer Service.
    LbProxy,
    /// The registry addon's container: the one the host pushes to, with a password.
    Registry,
    /// The registry addon's pull-only mirror, which the nodes read.
    RegistryMirror,
    /// The load balancer in front of the apiservers of a control plane of several members.
    ApiserverLb,
    /// The short-lived containerd that fills a new node image's store before it is committed.
    NodePreload,
}

impl Role {
    pub const CONTROL_PLANE: [Role; 4] = [
        Role::Etcd,
        Role::Apiserver,
        Role::ControllerManager,
        Role::Scheduler,
    ];

    pub const ALL: [Role; 11] = [
        Role::Etcd,
        Role::Apiserver,
        Role::ControllerManager,
        Role::Scheduler,
        Role::Node,
        Role::LbController,
        Role::LbProxy,
        Role::Registry,
        Role::RegistryMirror,
        Role::ApiserverLb,
        Role::NodePreload,
    ];

    /// The value of the role label, also the suffix of a control-plane container's name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Etcd => "etcd",
            Role::Apiserver => "apiserver",
            Role::ControllerManager => "controller-manager",
            Role::Scheduler => "scheduler",
            Role::Node => "node",
            Role::LbController => "lb-controller",
            Role::LbProxy => "lb",
            Role::Registry => "registry",
            Role::RegistryMirror => "registry-mirror",
            Role::ApiserverLb => "apiserver-lb",
            Role::NodePreload => "node-preload",
        }
    }

    /// The role of a role label's value (`None`: no container of localkube has it).
    pub fn parse(label: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == label)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// As its label's value: a spec's digest and `status -o json` read the same as when roles were
/// words.
impl serde::Serialize for Role {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Container of a control-plane component: `<profile>-<role>`, e.g. `localkube-apiserver`.
pub fn control_plane_container(profile: &ProfileName, role: Role) -> String {
    debug_assert!(role != Role::Node, "nodes are named by node_container");
    format!("{profile}-{}", role.as_str())
}

/// A member's container of a control-plane component: member 1's is the single control plane's
/// (`<profile>-etcd`), member m's `<profile>-<role>-<m>` (kind numbers its control-plane nodes
/// so: `kind-control-plane`, `kind-control-plane2`).
pub fn member_container(profile: &ProfileName, role: Role, member: u32) -> String {
    let first = control_plane_container(profile, role);
    if member == 1 {
        first
    } else {
        format!("{first}-{member}")
    }
}

/// A member's etcd data volume: member 1's is the single control plane's.
pub fn etcd_member_volume(profile: &ProfileName, member: u32) -> String {
    if member == 1 {
        etcd_volume(profile)
    } else {
        format!("{}-data", member_container(profile, Role::Etcd, member))
    }
}

/// The apiservers' load balancer: `<profile>-apiserver-lb`.
pub fn apiserver_lb_container(profile: &ProfileName) -> String {
    control_plane_container(profile, Role::ApiserverLb)
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

/// The kubeconfig cluster, user and context names: `localkube-<profile>` (the default profile
/// `localkube` is plain `localkube`), so a user's own `dev` or `minikube` entries never share a
/// name with a profile's. Every entry also carries an ownership marker (see
/// `plan::kubeconfig::OWNER_EXTENSION`): localkube replaces or removes only entries holding it.
pub fn kubeconfig_context(profile: &ProfileName) -> String {
    if profile.as_str() == crate::plan::profile_name::DEFAULT_PROFILE {
        profile.to_string()
    } else {
        format!("localkube-{profile}")
    }
}

/// Suffixes of the names a profile gives its containers and volumes (`<profile>-<suffix>`):
/// every role's (a test checks each name a cluster with every addon uses).
const RESERVED_SUFFIXES: [&str; 10] = [
    "etcd",
    "apiserver",
    "controller-manager",
    "manager",
    "scheduler",
    "var",
    "data",
    "lb",
    // The registry addon's container; its volume ends in `-data`.
    "registry",
    // The registry addon's pull-only mirror (`<profile>-registry-mirror`).
    "mirror",
];

/// Why a new profile's name could collide with another profile's container, volume or node
/// names, or `None` when it cannot. Profile `a` owns `a-etcd`, `a-m02`, `a-lb-controller`, ...:
/// a profile named `a-etcd` would have a node container named `a-etcd` too.
pub fn collision_problem(profile: &ProfileName) -> Option<String> {
    let name = profile.as_str();
    // A member of a control plane of several: `<profile>-<role>-<m>`.
    let unnumbered = match name.rsplit_once('-') {
        Some((rest, m)) if m.len() == 1 && m.as_bytes()[0].is_ascii_digit() => rest,
        _ => name,
    };
    for suffix in RESERVED_SUFFIXES {
        if let Some(owner) = unnumbered.strip_suffix(&format!("-{suffix}")) {
            return Some(format!(
                "it ends in '-{suffix}', a suffix localkube gives the containers or volumes of \
                 profile '{owner}'"
            ));
        }
    }
    if let Some((owner, last)) = name.rsplit_once('-')
        && last.len() >= 3
        && last.starts_with('m')
        && last[1..].chars().all(|c| c.is_ascii_digit())
    {
        return Some(format!(
            "it ends in '-{last}', the name localkube gives a node of profile '{owner}'"
        ));
    }
    // Load balancer containers are `<profile>-lb-<namespace>-<service>`.
    if let Some((owner, _)) = name.split_once("-lb-") {
        return Some(format!(
            "it contains '-lb-', which localkube uses in the names of the load balancer \
             containers of profile '{owner}'"
        ));
    }
    None
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

    #[test]
    fn kubeconfig_names_are_recognisably_localkubes() {
        assert_eq!(kubeconfig_context(&profile("dev")), "localkube-dev");
        assert_eq!(
            kubeconfig_context(&profile("minikube")),
            "localkube-minikube"
        );
        assert_eq!(kubeconfig_context(&profile("localkube")), "localkube");
        assert_eq!(
            kubeconfig_context(&profile("localkube-x")),
            "localkube-localkube-x"
        );
    }

    /// Every container a profile `dev` may own, with every addon and several nodes: a profile
    /// named like any of them (but `dev` itself, its first node) would share its names, so each
    /// must be refused. A new role whose suffix is not reserved fails here.
    #[test]
    fn every_name_a_profile_gives_its_containers_is_reserved() {
        use crate::plan::{addons, cluster, config::ProfileConfig, load_balancer};
        let dev = profile("dev");
        let mut config = ProfileConfig::new(40123, "172.30.7.0/24".parse().unwrap());
        config.nodes = Nodes::first(3);
        config.control_planes = 3;
        for addon in addons::ADDONS {
            config.addons.set(addon.name, true).unwrap();
        }
        let plan = cluster::plan(&dev, &config, &cluster::HostFacts::example("/p"));
        let mut owned: Vec<String> = plan.containers.iter().map(|c| c.name.clone()).collect();
        owned.extend(plan.volumes.iter().map(|v| v.name.clone()));
        owned.push(addons::registry_container(&dev));
        owned.push(addons::registry_mirror_container(&dev));
        owned.push(load_balancer::proxy_container_name(&dev, "default", "web"));
        assert!(
            owned.contains(&"dev-lb-controller".to_string()),
            "{owned:?}"
        );
        for name in owned.iter().filter(|n| n.as_str() != "dev") {
            assert!(
                collision_problem(&profile(name)).is_some(),
                "a profile named '{name}' would collide with profile dev's container"
            );
        }
    }

    #[test]
    fn names_that_collide_with_another_profiles_are_refused() {
        for bad in [
            "a-etcd",
            "a-apiserver",
            "a-controller-manager",
            "a-scheduler",
            "a-m02",
            "dev-m10",
            "a-var",
            "a-etcd-data",
            "a-lb",
            "a-lb-controller",
            "a-lb-default-web",
            "dev-registry",
            "dev-registry-data",
            "dev-registry-mirror",
            "dev-etcd-2",
            "dev-apiserver-3",
            "dev-etcd-2-data",
            "dev-apiserver-lb",
        ] {
            let problem = collision_problem(&profile(bad));
            assert!(problem.is_some(), "{bad}");
        }
        let why = collision_problem(&profile("a-etcd")).unwrap();
        assert!(
            why.contains("'-etcd'") && why.contains("profile 'a'"),
            "{why}"
        );
        for good in [
            "a", "dev", "etcd", "book-ch2", "m02", "a-m", "a-mx2", "lbx", "a-lbx", "dev-2",
            "etcd-3",
        ] {
            assert_eq!(collision_problem(&profile(good)), None, "{good}");
        }
    }
}
