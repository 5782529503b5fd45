//! A profile's settings, as stored in `profiles/<name>/config.yaml`, and what is derived from them.
//!
//! Everything that certificates, kubeconfigs and routes depend on (the apiserver port, the network's
//! subnet, hence every container's address) is chosen once, written here, and never changed by a
//! restart: kind's clusters break after a Docker restart when node addresses move (kind #2045).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

use crate::plan::networking::{self, ClusterRanges, IpFamily, Ipv6Ranges, NetworkingError};
use crate::plan::version::DEFAULT_KUBERNETES_VERSION;

pub use crate::plan::nodes::Nodes;

pub const DEFAULT_POD_CIDR: &str = "10.244.0.0/16";
pub const DEFAULT_SERVICE_CIDR: &str = "10.96.0.0/12";
pub const DEFAULT_DNS_DOMAIN: &str = "cluster.local";
/// Leaf certificates: three years, as minikube (kubeadm's one year is among the anchors' most reported certificate failures).
pub const DEFAULT_CERT_VALIDITY_DAYS: u32 = 3 * 365;
pub const MAX_NODES: u32 = 9;
/// The control-plane sizes `start --control-planes` accepts: one, or three members (an etcd
/// cluster of three keeps its quorum with one member lost; two would tolerate no loss at all,
/// and five would not fit the small machines localkube is for).
pub const CONTROL_PLANE_SIZES: [u32; 2] = [1, 3];
/// Leaves never outlive the CA that signs them (10 years, `pki::CA_VALIDITY_DAYS`).
pub const MAX_CERT_VALIDITY_DAYS: u32 = 3650;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileConfig {
    /// The Kubernetes release every component runs, `vX.Y.Z`.
    pub kubernetes_version: String,
    /// IPv4 pod addresses (where the family has IPv4); each node gets a /24 of it.
    pub pod_cidr: Ipv4Net,
    /// IPv4 ClusterIP addresses (where the family has IPv4); the first is the `kubernetes`
    /// service, the tenth CoreDNS.
    pub service_cidr: Ipv4Net,
    /// The address families the cluster runs, fixed at creation; profiles written before
    /// families load as `ipv4`.
    #[serde(default, skip_serializing_if = "IpFamily::is_ipv4")]
    pub ip_family: IpFamily,
    /// The IPv6 pod and service ranges of an `ipv6` or `dual` profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<Ipv6Ranges>,
    /// The cluster's DNS domain (`cluster.local`).
    pub dns_domain: String,
    /// Host port on 127.0.0.1 where the apiserver is published; chosen once, kept across restarts.
    pub apiserver_port: u16,
    /// The profile's Docker network; every container has a fixed address on it.
    pub network_subnet: Ipv4Net,
    /// The cluster's nodes, by number.
    pub nodes: Nodes,
    /// Validity of leaf certificates in days (CAs get ten years).
    pub cert_validity_days: u32,
    /// The user's addon choices (`addons enable|disable`, `start --addons`); an addon without a
    /// choice follows its default. Profiles written before addons load with none.
    #[serde(
        default,
        skip_serializing_if = "crate::plan::addon_choices::AddonChoices::is_empty"
    )]
    pub addons: crate::plan::addon_choices::AddonChoices,
    /// Control-plane members (`start --control-planes`): each runs etcd, an apiserver, a
    /// controller-manager and a scheduler; with more than one, the apiservers are reached through
    /// the profile's own load balancer. Fixed at creation; profiles written before it have one.
    #[serde(default = "one_member", skip_serializing_if = "is_one_member")]
    pub control_planes: u32,
    /// The registry the images come from (`start --image-repository`, checked against the index
    /// `images push` published) instead of being built here; `None`: built here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_repository: Option<String>,
    /// The manifest digest of `image_repository`'s index for this version, recorded the first
    /// time it was read: a later index under the same tag is refused (`start
    /// --image-repository` accepts the one there now).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_index: Option<String>,
    /// How the host reaches LoadBalancer services, chosen when the profile is made from where
    /// the daemon runs; profiles written before it load as `loopback`.
    #[serde(
        default,
        skip_serializing_if = "crate::plan::exposure::Exposure::is_loopback"
    )]
    pub load_balancer: crate::plan::exposure::Exposure,
    /// Which kinds of Service also answer on localhost (`start --localhost`, the cluster file's
    /// `localhost:`); every kind unless turned off, profiles written before it too.
    #[serde(
        default,
        skip_serializing_if = "crate::plan::localhost::Localhost::is_default"
    )]
    pub localhost: crate::plan::localhost::Localhost,
    /// The profile's own component settings, node labels and taints, host folders and audit log
    /// (a cluster file, `--extra-config`, `--feature-gates`, `--mount`); none by default.
    #[serde(
        default,
        skip_serializing_if = "crate::plan::settings::ClusterSettings::is_empty"
    )]
    pub settings: crate::plan::settings::ClusterSettings,
}

fn one_member() -> u32 {
    1
}

fn is_one_member(n: &u32) -> bool {
    *n == 1
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error(
        "{0} control-plane members requested: use 1 or 3 (etcd needs a majority of its members, so 3 keep working with one lost, while 2 stop with either lost)"
    )]
    ControlPlanes(u32),
    #[error(
        "the pod CIDR {pod} overlaps the service CIDR {service}: choose ranges that do not overlap"
    )]
    PodServiceOverlap { pod: Ipv4Net, service: Ipv4Net },
    #[error(
        "the network subnet {subnet} overlaps the {what} CIDR {cidr}: choose ranges that do not overlap"
    )]
    NetworkOverlap {
        subnet: Ipv4Net,
        what: &'static str,
        cidr: Ipv4Net,
    },
    #[error("the pod CIDR {0} is too small: it needs a /24 for each node, so at most a /{max}", max = 24 - 4)]
    PodCidrTooSmall(Ipv4Net),
    #[error(
        "the service CIDR {0} is too small: use a /24 or larger (the default is {DEFAULT_SERVICE_CIDR})"
    )]
    ServiceCidrTooSmall(Ipv4Net),
    #[error("the network subnet {0} is too small: use a /24 or larger")]
    NetworkTooSmall(Ipv4Net),
    #[error("{0} nodes requested: localkube supports 1 to {MAX_NODES}")]
    NodeCount(u32),
    #[error(
        "node numbers {0:?} are not valid: each is 1 to {MAX_NODES}, once, and node 1 is always there"
    )]
    NodeNumbers(Vec<u32>),
    #[error("the apiserver port must be between 1024 and 65535, not {0}")]
    ApiserverPort(u16),
    #[error(
        "certificate validity of {0} days: use 1 to {MAX_CERT_VALIDITY_DAYS} days (a certificate cannot outlive the 10-year CA that signs it); for an existing profile, fix cert_validity_days in its config.yaml"
    )]
    CertValidity(u32),
    #[error(
        "'{0}' is not a valid DNS domain: use labels of a-z, 0-9 and '-' separated by dots, like cluster.local"
    )]
    DnsDomain(String),
    #[error(transparent)]
    Networking(#[from] NetworkingError),
    #[error(
        "{0} control-plane members with ipFamily {1}: several members run IPv4 only for now; use one control plane (leave out --control-planes) or ipFamily ipv4"
    )]
    HaFamily(u32, IpFamily),
}

impl ProfileConfig {
    /// A new profile's settings: defaults plus the two values chosen on this machine.
    pub fn new(apiserver_port: u16, network_subnet: Ipv4Net) -> Self {
        Self {
            kubernetes_version: DEFAULT_KUBERNETES_VERSION.to_string(),
            pod_cidr: DEFAULT_POD_CIDR.parse().expect("default pod CIDR"),
            service_cidr: DEFAULT_SERVICE_CIDR.parse().expect("default service CIDR"),
            ip_family: IpFamily::Ipv4,
            ipv6: None,
            dns_domain: DEFAULT_DNS_DOMAIN.to_string(),
            apiserver_port,
            network_subnet,
            nodes: Nodes::first(1),
            cert_validity_days: DEFAULT_CERT_VALIDITY_DAYS,
            control_planes: 1,
            addons: Default::default(),
            image_repository: None,
            image_index: None,
            load_balancer: Default::default(),
            localhost: Default::default(),
            settings: Default::default(),
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.pod_cidr.contains(&self.service_cidr.network())
            || self.service_cidr.contains(&self.pod_cidr.network())
        {
            return Err(ConfigError::PodServiceOverlap {
                pod: self.pod_cidr,
                service: self.service_cidr,
            });
        }
        for (what, cidr) in [("pod", self.pod_cidr), ("service", self.service_cidr)] {
            if cidr.contains(&self.network_subnet.network())
                || self.network_subnet.contains(&cidr.network())
            {
                return Err(ConfigError::NetworkOverlap {
                    subnet: self.network_subnet,
                    what,
                    cidr,
                });
            }
        }
        if self.pod_cidr.prefix_len() > 20 {
            return Err(ConfigError::PodCidrTooSmall(self.pod_cidr));
        }
        if self.service_cidr.prefix_len() > 24 {
            return Err(ConfigError::ServiceCidrTooSmall(self.service_cidr));
        }
        if self.network_subnet.prefix_len() > 24 {
            return Err(ConfigError::NetworkTooSmall(self.network_subnet));
        }
        let count = self.nodes.count();
        if count == 0 || count > MAX_NODES {
            return Err(ConfigError::NodeCount(count));
        }
        let numbers = self.nodes.numbers();
        let distinct: std::collections::BTreeSet<_> = numbers.iter().collect();
        if !self.nodes.contains(1)
            || distinct.len() != numbers.len()
            || numbers.iter().any(|n| *n == 0 || *n > MAX_NODES)
        {
            return Err(ConfigError::NodeNumbers(numbers.to_vec()));
        }
        if !CONTROL_PLANE_SIZES.contains(&self.control_planes) {
            return Err(ConfigError::ControlPlanes(self.control_planes));
        }
        if self.apiserver_port < 1024 {
            return Err(ConfigError::ApiserverPort(self.apiserver_port));
        }
        if self.cert_validity_days == 0 || self.cert_validity_days > MAX_CERT_VALIDITY_DAYS {
            return Err(ConfigError::CertValidity(self.cert_validity_days));
        }
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        };
        if !self.dns_domain.split('.').all(label_ok) {
            return Err(ConfigError::DnsDomain(self.dns_domain.clone()));
        }
        self.ranges().check_ipv6(self.network_subnet)?;
        // The members' load balancer and their certificates know their IPv4 addresses only.
        if self.is_ha() && self.ip_family != IpFamily::Ipv4 {
            return Err(ConfigError::HaFamily(self.control_planes, self.ip_family));
        }
        Ok(())
    }

    /// The family and the cluster ranges, as `plan::networking` reads them.
    pub fn ranges(&self) -> ClusterRanges {
        ClusterRanges {
            ip_family: self.ip_family,
            pod_v4: self.pod_cidr,
            service_v4: self.service_cidr,
            ipv6: self.ipv6,
        }
    }

    /// A new profile's family and ranges, as a cluster file or `--ip-family` ask.
    pub fn set_networking(
        &mut self,
        asked: &networking::Networking,
    ) -> Result<(), NetworkingError> {
        let ranges = asked.resolve(self.ranges())?;
        self.ip_family = ranges.ip_family;
        self.pod_cidr = ranges.pod_v4;
        self.service_cidr = ranges.service_v4;
        self.ipv6 = ranges.ipv6;
        Ok(())
    }

    /// The pod ranges, primary family first.
    pub fn pod_cidrs(&self) -> Vec<IpNet> {
        self.ranges().pod_cidrs()
    }

    /// The service ranges, primary family first.
    pub fn service_cidrs(&self) -> Vec<IpNet> {
        self.ranges().service_cidrs()
    }

    /// The primary family's service range: where the `kubernetes` Service and CoreDNS get
    /// their single-stack addresses.
    fn primary_service_cidr(&self) -> IpNet {
        self.service_cidrs()[0]
    }

    /// The `kubernetes` service's ClusterIP: the first address of the primary service range.
    pub fn kubernetes_service_ip(&self) -> IpAddr {
        networking::nth(self.primary_service_cidr(), 1)
    }

    /// The `kubernetes` service's first address in each family's range: a dual-stack client
    /// may reach the apiserver through either, so its certificate names both.
    pub fn kubernetes_service_ips(&self) -> Vec<IpAddr> {
        self.service_cidrs()
            .into_iter()
            .map(|cidr| networking::nth(cidr, 1))
            .collect()
    }

    /// CoreDNS's ClusterIP: the tenth address of the primary service range, as kubeadm.
    pub fn dns_service_ip(&self) -> IpAddr {
        networking::nth(self.primary_service_cidr(), 10)
    }

    /// The network's IPv6 /64, for an `ipv6` or `dual` profile (Docker networks keep IPv4 in
    /// every case: Docker's embedded DNS and the published ports use it).
    pub fn network_subnet_v6(&self) -> Option<Ipv6Net> {
        self.ip_family
            .has_ipv6()
            .then(|| networking::network_v6(self.network_subnet))
    }

    /// The IPv6 address beside a fixed IPv4 one of the network, for an `ipv6` or `dual` profile.
    pub fn ipv6_twin(&self, ip: Ipv4Addr) -> Option<Ipv6Addr> {
        self.network_subnet_v6()
            .map(|net| networking::twin(net, ip))
    }

    /// The addresses a node runs with (kubelet's `--node-ip`), primary family first.
    pub fn node_ips(&self, number: u32) -> Vec<IpAddr> {
        self.addresses_of(self.node_ip(number))
    }

    /// The addresses of the container with the fixed IPv4 address `v4` that the cluster uses,
    /// primary family first.
    pub fn addresses_of(&self, v4: Ipv4Addr) -> Vec<IpAddr> {
        let mut out = Vec::new();
        if self.ip_family.has_ipv4() {
            out.push(IpAddr::V4(v4));
        }
        out.extend(self.ipv6_twin(v4).map(IpAddr::V6));
        out
    }

    /// The address of the primary family a component with the fixed IPv4 address `ip` is
    /// known by (the apiserver's `--advertise-address`, the endpoint of the `kubernetes` Service).
    pub fn primary_ip(&self, ip: Ipv4Addr) -> IpAddr {
        match (self.ip_family, self.ipv6_twin(ip)) {
            (IpFamily::Ipv6, Some(v6)) => IpAddr::V6(v6),
            _ => IpAddr::V4(ip),
        }
    }

    /// The network's gateway (Docker's bridge on the host).
    pub fn gateway_ip(&self) -> Ipv4Addr {
        nth_address(self.network_subnet, 1)
    }

    /// Fixed address of a control-plane component on the profile's network.
    pub fn etcd_ip(&self) -> Ipv4Addr {
        nth_address(self.network_subnet, 2)
    }

    pub fn apiserver_ip(&self) -> Ipv4Addr {
        nth_address(self.network_subnet, 3)
    }

    pub fn controller_manager_ip(&self) -> Ipv4Addr {
        nth_address(self.network_subnet, 4)
    }

    pub fn scheduler_ip(&self) -> Ipv4Addr {
        nth_address(self.network_subnet, 5)
    }

    /// Whether the control plane has several members behind the profile's load balancer.
    pub fn is_ha(&self) -> bool {
        self.control_planes > 1
    }

    /// The control-plane members, by number (1 is the member a single control plane has).
    pub fn members(&self) -> std::ops::RangeInclusive<u32> {
        1..=self.control_planes
    }

    /// Fixed address of a member's component: member 1 has the single control plane's (.2 to
    /// .5), member m > 1 four of its own from .20 on, clear of the nodes' (.10 to .18).
    pub fn member_ip(&self, role: crate::plan::names::Role, member: u32) -> Ipv4Addr {
        use crate::plan::names::Role;
        let offset = match role {
            Role::Etcd => 0,
            Role::Apiserver => 1,
            Role::ControllerManager => 2,
            Role::Scheduler => 3,
            other => panic!("{} is no control-plane member's component", other.as_str()),
        };
        if member == 1 {
            return nth_address(self.network_subnet, 2 + offset);
        }
        nth_address(self.network_subnet, 20 + 4 * (member - 2) + offset)
    }

    /// The apiservers' load balancer (several members only): .8, between the registry addon's
    /// .7 and .9 and the first node's .10.
    pub fn apiserver_lb_ip(&self) -> Ipv4Addr {
        nth_address(self.network_subnet, 8)
    }

    /// Where the nodes and the components reach the apiserver: the load balancer with several
    /// members, else the one apiserver.
    pub fn apiserver_endpoint_ip(&self) -> Ipv4Addr {
        if self.is_ha() {
            self.apiserver_lb_ip()
        } else {
            self.apiserver_ip()
        }
    }

    /// Fixed address of the node with this number (1 for the first node: .10).
    pub fn node_ip(&self, number: u32) -> Ipv4Addr {
        nth_address(self.network_subnet, 9 + number)
    }
}

fn nth_address(net: Ipv4Net, n: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(net.network()) + n)
}

/// Candidate subnets for a profile's network, in the order they are tried: a /24 in 172.30.0.0/16
/// picked by a hash of the profile name (so two profiles rarely try the same one first), then the
/// rest of that range in order. The caller skips those that clash with an existing network.
pub fn candidate_subnets(profile: &str) -> impl Iterator<Item = Ipv4Net> {
    let start = profile
        .bytes()
        .fold(2166136261u32, |h, b| (h ^ b as u32).wrapping_mul(16777619))
        % 256;
    (0..256u32).map(move |i| {
        let third = (start + i) % 256;
        Ipv4Net::new(Ipv4Addr::new(172, 30, third as u8, 0), 24).expect("valid /24")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml;

    fn config() -> ProfileConfig {
        ProfileConfig::new(40123, "172.30.7.0/24".parse().unwrap())
    }

    #[test]
    fn defaults_are_kubeadms() {
        let c = config();
        assert_eq!(c.pod_cidr.to_string(), "10.244.0.0/16");
        assert_eq!(c.service_cidr.to_string(), "10.96.0.0/12");
        assert_eq!(c.dns_domain, "cluster.local");
        assert_eq!(c.kubernetes_service_ip().to_string(), "10.96.0.1");
        assert_eq!(c.dns_service_ip().to_string(), "10.96.0.10");
        assert_eq!(c.nodes, Nodes::first(1));
        assert_eq!(c.cert_validity_days, 1095);
        c.validate().unwrap();
    }

    #[test]
    fn addresses_are_fixed_per_role() {
        let c = config();
        assert_eq!(c.gateway_ip().to_string(), "172.30.7.1");
        assert_eq!(c.etcd_ip().to_string(), "172.30.7.2");
        assert_eq!(c.apiserver_ip().to_string(), "172.30.7.3");
        assert_eq!(c.node_ip(1).to_string(), "172.30.7.10");
        assert_eq!(c.node_ip(2).to_string(), "172.30.7.11");
    }

    #[test]
    fn members_get_addresses_of_their_own_clear_of_everything_else() {
        use crate::plan::names::Role;
        let mut c = config();
        c.control_planes = 3;
        c.validate().unwrap();
        assert_eq!(c.member_ip(Role::Etcd, 1), c.etcd_ip());
        assert_eq!(c.member_ip(Role::Scheduler, 1), c.scheduler_ip());
        let mut all = std::collections::BTreeSet::new();
        for m in c.members() {
            for role in Role::CONTROL_PLANE {
                assert!(all.insert(c.member_ip(role, m)), "{role:?} of {m}");
            }
        }
        assert_eq!(c.member_ip(Role::Etcd, 2).to_string(), "172.30.7.20");
        assert_eq!(c.member_ip(Role::Scheduler, 3).to_string(), "172.30.7.27");
        let others = [
            c.gateway_ip(),
            c.apiserver_lb_ip(),
            c.node_ip(1),
            c.node_ip(MAX_NODES),
        ]
        .into_iter()
        // The LB controller (.6) and the registry addon's two containers (.7, .9).
        .chain([6, 7, 9].map(|n| nth_address(c.network_subnet, n)));
        for other in others {
            assert!(!all.contains(&other), "{other}");
        }
        assert_eq!(c.apiserver_endpoint_ip(), c.apiserver_lb_ip());
        c.control_planes = 1;
        assert_eq!(c.apiserver_endpoint_ip(), c.apiserver_ip());
    }

    #[test]
    fn control_planes_are_one_or_three_and_one_is_not_written() {
        let mut c = config();
        assert!(!yaml::to_string(&c).unwrap().contains("controlPlanes"));
        for bad in [0, 2, 4, 5] {
            c.control_planes = bad;
            let err = c.validate().unwrap_err();
            assert_eq!(err, ConfigError::ControlPlanes(bad));
            assert!(err.to_string().contains("use 1 or 3"), "{err}");
        }
        c.control_planes = 3;
        let text = yaml::to_string(&c).unwrap();
        assert!(text.contains("controlPlanes: 3"), "{text}");
        assert_eq!(yaml::from_str::<ProfileConfig>(&text).unwrap(), c);
    }

    #[test]
    fn round_trips_through_yaml() {
        let mut c = config();
        c.nodes = Nodes::first(3).without(2);
        c.kubernetes_version = "v1.36.3".into();
        let text = yaml::to_string(&c).unwrap();
        assert!(text.contains("podCidr: 10.244.0.0/16"), "{text}");
        let back: ProfileConfig = yaml::from_str(&text).unwrap();
        assert_eq!(back, c);
    }

    /// The fuzzer's seeds are valid profiles, so a fuzz run starts inside the format (and a
    /// change of the format that would leave them behind fails here).
    #[test]
    fn the_fuzzers_config_seeds_are_valid_profiles() {
        for seed in [
            include_str!("../../fuzz/seeds/config_yaml/profile.yaml"),
            include_str!("../../fuzz/seeds/config_yaml/minimal.yaml"),
        ] {
            let config: ProfileConfig = yaml::from_str(seed).unwrap();
            config.validate().unwrap();
        }
    }

    #[test]
    fn the_image_repository_is_kept_and_optional() {
        let mut c = config();
        let text = yaml::to_string(&c).unwrap();
        assert!(!text.contains("imageRepository"), "{text}");
        c.image_repository = Some("localhost:5000/localkube".into());
        let text = yaml::to_string(&c).unwrap();
        assert!(
            text.contains("imageRepository: localhost:5000/localkube"),
            "{text}"
        );
        assert_eq!(yaml::from_str::<ProfileConfig>(&text).unwrap(), c);
    }

    #[test]
    fn profiles_that_stored_a_node_count_still_load() {
        let mut c = config();
        c.nodes = Nodes::first(2);
        let text = yaml::to_string(&c).unwrap().replace("- 1\n- 2\n", "2\n");
        let text = text.replace("nodes:\n2\n", "nodes: 2\n");
        assert!(text.contains("nodes: 2\n"), "{text}");
        let back: ProfileConfig = yaml::from_str(&text).unwrap();
        assert_eq!(back.nodes, Nodes::first(2));
    }

    #[test]
    fn node_numbers_are_reused_once_free() {
        let nodes = Nodes::first(3).without(2);
        assert_eq!(nodes.numbers(), [1, 3]);
        assert_eq!(nodes.next_free(), 2);
        assert_eq!(nodes.with(2), Nodes::first(3));
    }

    #[test]
    fn refuses_overlapping_ranges() {
        let mut c = config();
        c.pod_cidr = "10.96.0.0/16".parse().unwrap();
        assert!(matches!(
            c.validate(),
            Err(ConfigError::PodServiceOverlap { .. })
        ));
        let mut c = config();
        c.network_subnet = "10.244.3.0/24".parse().unwrap();
        assert!(matches!(
            c.validate(),
            Err(ConfigError::NetworkOverlap { what: "pod", .. })
        ));
    }

    #[test]
    fn refuses_bad_values() {
        let mut c = config();
        c.nodes = Nodes::first(0);
        assert_eq!(c.validate(), Err(ConfigError::NodeCount(0)));
        let mut c = config();
        c.nodes = Nodes::first(3).without(1);
        assert_eq!(c.validate(), Err(ConfigError::NodeNumbers(vec![2, 3])));
        let mut c = config();
        c.dns_domain = "Cluster.Local".into();
        assert!(matches!(c.validate(), Err(ConfigError::DnsDomain(_))));
        let mut c = config();
        c.apiserver_port = 80;
        assert_eq!(c.validate(), Err(ConfigError::ApiserverPort(80)));
    }

    #[test]
    fn cert_validity_is_bounded_by_the_cas() {
        let mut c = ProfileConfig::new(40123, "172.30.5.0/24".parse().unwrap());
        for bad in [0, 3651, 2_900_000, u32::MAX] {
            c.cert_validity_days = bad;
            let err = c.validate().unwrap_err();
            assert_eq!(err, ConfigError::CertValidity(bad));
            assert!(err.to_string().contains("1 to 3650"), "{err}");
        }
        for good in [1, 365, 3650] {
            c.cert_validity_days = good;
            assert_eq!(c.validate(), Ok(()));
        }
    }

    #[test]
    fn a_dual_stack_profile_keeps_its_family_and_ipv6_ranges_through_yaml() {
        let mut c = config();
        assert!(!yaml::to_string(&c).unwrap().contains("ipFamily"));
        c.set_networking(&networking::Networking {
            ip_family: Some(IpFamily::Dual),
            ..Default::default()
        })
        .unwrap();
        c.validate().unwrap();
        let text = yaml::to_string(&c).unwrap();
        assert!(text.contains("ipFamily: dual"), "{text}");
        assert!(text.contains("podCidr: fd6c:6b00:244::/56"), "{text}");
        assert_eq!(yaml::from_str::<ProfileConfig>(&text).unwrap(), c);
        // A profile that says dual but lost its ranges is refused, naming the fix.
        let broken = text.replace("ipFamily: dual", "ipFamily: ipv4");
        let e = yaml::from_str::<ProfileConfig>(&broken)
            .unwrap()
            .validate()
            .unwrap_err();
        assert!(e.to_string().contains("holds IPv6 ranges"), "{e}");
    }

    #[test]
    fn dual_stack_addresses_are_ipv4_first_with_ipv6_twins() {
        let mut c = config();
        assert_eq!(c.node_ips(2), [IpAddr::V4(c.node_ip(2))]);
        assert_eq!(c.ipv6_twin(c.node_ip(1)), None);
        assert_eq!(c.primary_ip(c.apiserver_ip()), IpAddr::V4(c.apiserver_ip()));
        c.ip_family = IpFamily::Dual;
        c.ipv6 = Some(Ipv6Ranges::default());
        let ips: Vec<String> = c.node_ips(2).iter().map(ToString::to_string).collect();
        assert_eq!(ips, ["172.30.7.11", "fd6c:6b00:30:7::b"]);
        assert_eq!(c.dns_service_ip().to_string(), "10.96.0.10");
        let sans: Vec<String> = c
            .kubernetes_service_ips()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(sans, ["10.96.0.1", "fd6c:6b00:96::1"]);
        assert_eq!(c.primary_ip(c.apiserver_ip()), IpAddr::V4(c.apiserver_ip()));
        c.ip_family = IpFamily::Ipv6;
        let ips: Vec<String> = c.node_ips(1).iter().map(ToString::to_string).collect();
        assert_eq!(ips, ["fd6c:6b00:30:7::a"]);
        assert_eq!(c.dns_service_ip().to_string(), "fd6c:6b00:96::a");
        assert_eq!(
            c.primary_ip(c.apiserver_ip()).to_string(),
            "fd6c:6b00:30:7::3"
        );
        assert_eq!(c.pod_cidrs().len(), 1);
        c.validate().unwrap();
    }

    #[test]
    fn candidate_subnets_cover_the_range_once() {
        let all: std::collections::BTreeSet<_> = candidate_subnets("dev").collect();
        assert_eq!(all.len(), 256);
        assert_ne!(
            candidate_subnets("dev").next(),
            candidate_subnets("prod").next()
        );
    }
}
