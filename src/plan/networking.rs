//! The address families a cluster runs (`networking.ipFamily` of the cluster file, `start
//! --ip-family`): IPv4 (the default), IPv6 only, or both (dual-stack, IPv4 first, as kind's
//! `dual`), and the pod and service ranges of each family.
//!
//! The IPv6 ranges are unique local (fc00::/7): nothing on the internet routes them, so a packet
//! for one that escaped the fences would still go nowhere. Their defaults sit under fd6c:6b00::/32,
//! clear of the fd00::/64 hosts like this project's machines hold on their interface (kind's
//! fd00:10:244::/56 is one /56 away from it), and a new profile's ranges are checked against the
//! host's own routes of both families.
//!
//! The profile's Docker network gets an IPv6 /64 derived from its IPv4 /24 (its third octet), and
//! every container on it the IPv6 twin of its fixed IPv4 address (the same last number): nothing
//! more to choose or store, and two profiles' networks never share a /64.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

/// A dual-stack or IPv6 profile's pod range by default: a /64 for each node (kind's size).
pub const DEFAULT_POD_CIDR_V6: &str = "fd6c:6b00:244::/56";
/// Its ClusterIP range by default: kind's /112 (the apiserver allocates at most 2^20 addresses of
/// an IPv6 range, so /108 is the largest it takes).
pub const DEFAULT_SERVICE_CIDR_V6: &str = "fd6c:6b00:96::/112";
/// Each node's IPv6 pod range: the controller-manager's `--node-cidr-mask-size-ipv6` default.
pub const NODE_POD_CIDR_PREFIX_V6: u8 = 64;
/// The largest IPv6 service range the apiserver accepts (20 bits of addresses).
pub const LARGEST_SERVICE_PREFIX_V6: u8 = 108;
/// The smallest IPv6 service range that still holds CoreDNS's tenth address and a few Services.
pub const SMALLEST_SERVICE_PREFIX_V6: u8 = 120;

/// Which address families the cluster runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IpFamily {
    #[default]
    Ipv4,
    Ipv6,
    /// Both; IPv4 is the primary family (the one single-stack Services and `--advertise-address`
    /// take), as in kind and kubeadm's examples.
    Dual,
}

impl IpFamily {
    pub const ALL: [IpFamily; 3] = [IpFamily::Ipv4, IpFamily::Ipv6, IpFamily::Dual];

    pub fn as_str(self) -> &'static str {
        match self {
            IpFamily::Ipv4 => "ipv4",
            IpFamily::Ipv6 => "ipv6",
            IpFamily::Dual => "dual",
        }
    }

    /// `start --ip-family`'s parser.
    pub fn parse(text: &str) -> Result<IpFamily, String> {
        IpFamily::ALL
            .into_iter()
            .find(|f| f.as_str() == text.trim().to_ascii_lowercase())
            .ok_or_else(|| format!("'{text}' is no IP family: use ipv4, ipv6 or dual"))
    }

    pub fn has_ipv4(self) -> bool {
        self != IpFamily::Ipv6
    }

    pub fn has_ipv6(self) -> bool {
        self != IpFamily::Ipv4
    }

    /// For serde: the default is not written, so profiles made before families read the same.
    pub fn is_ipv4(&self) -> bool {
        *self == IpFamily::Ipv4
    }
}

impl std::fmt::Display for IpFamily {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A dual-stack or IPv6 profile's IPv6 cluster ranges, as stored in its config.yaml.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ipv6Ranges {
    /// Pod addresses; each node gets a /64 of it.
    pub pod_cidr: Ipv6Net,
    /// ClusterIP addresses.
    pub service_cidr: Ipv6Net,
}

impl Default for Ipv6Ranges {
    fn default() -> Self {
        Ipv6Ranges {
            pod_cidr: DEFAULT_POD_CIDR_V6.parse().expect("default IPv6 pod CIDR"),
            service_cidr: DEFAULT_SERVICE_CIDR_V6
                .parse()
                .expect("default IPv6 service CIDR"),
        }
    }
}

/// What the cluster file's `networking:` (and `start --ip-family`) ask of a new profile; each
/// list holds at most one range per family, and a family not listed keeps its default ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Networking {
    /// `ipv4` (the default), `ipv6` or `dual`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_family: Option<IpFamily>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pod_subnet: Vec<IpNet>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_subnet: Vec<IpNet>,
}

/// A profile's family and cluster ranges, each family's where it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterRanges {
    pub ip_family: IpFamily,
    pub pod_v4: Ipv4Net,
    pub service_v4: Ipv4Net,
    pub ipv6: Option<Ipv6Ranges>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NetworkingError {
    #[error(
        "networking.{field}: {subnet} is an {kind} range but the cluster's ipFamily is {family}: \
         write `ipFamily: dual` to run both families, or leave the range out"
    )]
    FamilyMismatch {
        field: &'static str,
        subnet: IpNet,
        kind: &'static str,
        family: IpFamily,
    },
    #[error("networking.{field}: {a} and {b} are both {kind} ranges: give one range per family")]
    TwoOfOneFamily {
        field: &'static str,
        a: IpNet,
        b: IpNet,
        kind: &'static str,
    },
    #[error("networking.{field}: {subnet} has bits set past its prefix: write {network}")]
    NotANetwork {
        field: &'static str,
        subnet: IpNet,
        network: IpNet,
    },
    #[error(
        "the {what} range {range} is not unique local: use a range of fd00::/8 (say {default}), \
         which nothing outside this machine routes"
    )]
    NotUniqueLocal {
        what: &'static str,
        range: Ipv6Net,
        default: &'static str,
    },
    #[error(
        "the IPv6 pod range {0} is too small: each node needs a /{NODE_POD_CIDR_PREFIX_V6}, so use a /60 or larger"
    )]
    PodCidrTooSmall(Ipv6Net),
    #[error(
        "the IPv6 service range {0} does not fit the apiserver: use a /{LARGEST_SERVICE_PREFIX_V6} to a /{SMALLEST_SERVICE_PREFIX_V6} (the default is {DEFAULT_SERVICE_CIDR_V6})"
    )]
    ServiceCidrSize(Ipv6Net),
    #[error(
        "the {a} range {a_range} overlaps the {b} range {b_range}: choose ranges that do not overlap"
    )]
    Overlap {
        a: &'static str,
        a_range: IpNet,
        b: &'static str,
        b_range: IpNet,
    },
    #[error(
        "the profile's IP family is {family} but its config.yaml {problem}: fix ipFamily or the ipv6 ranges there, or delete the profile"
    )]
    Stored {
        family: IpFamily,
        problem: &'static str,
    },
    #[error(
        "the {what} range {range} overlaps this host's route to {route}{device}: packets for it would go there; choose another range (networking.{field} in a cluster file)"
    )]
    HostRoute {
        what: &'static str,
        field: &'static str,
        range: IpNet,
        route: IpNet,
        device: String,
    },
}

fn kind_of(net: &IpNet) -> &'static str {
    match net {
        IpNet::V4(_) => "IPv4",
        IpNet::V6(_) => "IPv6",
    }
}

/// The one range of each family a list holds.
fn per_family(
    field: &'static str,
    list: &[IpNet],
    family: IpFamily,
) -> Result<(Option<Ipv4Net>, Option<Ipv6Net>), NetworkingError> {
    let (mut v4, mut v6): (Option<Ipv4Net>, Option<Ipv6Net>) = (None, None);
    for subnet in list {
        if *subnet != subnet.trunc() {
            return Err(NetworkingError::NotANetwork {
                field,
                subnet: *subnet,
                network: subnet.trunc(),
            });
        }
        let allowed = match subnet {
            IpNet::V4(_) => family.has_ipv4(),
            IpNet::V6(_) => family.has_ipv6(),
        };
        if !allowed {
            return Err(NetworkingError::FamilyMismatch {
                field,
                subnet: *subnet,
                kind: kind_of(subnet),
                family,
            });
        }
        let earlier = match subnet {
            IpNet::V4(n) => v4.replace(*n).map(IpNet::V4),
            IpNet::V6(n) => v6.replace(*n).map(IpNet::V6),
        };
        if let Some(a) = earlier {
            return Err(NetworkingError::TwoOfOneFamily {
                field,
                a,
                b: *subnet,
                kind: kind_of(subnet),
            });
        }
    }
    Ok((v4, v6))
}

impl Networking {
    pub fn is_empty(&self) -> bool {
        *self == Networking::default()
    }

    /// A new profile's family and ranges: what is asked, over the defaults (`current`, the IPv4
    /// ranges a new profile starts with).
    pub fn resolve(&self, current: ClusterRanges) -> Result<ClusterRanges, NetworkingError> {
        let family = self.ip_family.unwrap_or_default();
        let (pod_v4, pod_v6) = per_family("podSubnet", &self.pod_subnet, family)?;
        let (service_v4, service_v6) = per_family("serviceSubnet", &self.service_subnet, family)?;
        let defaults = current.ipv6.unwrap_or_default();
        Ok(ClusterRanges {
            ip_family: family,
            pod_v4: pod_v4.unwrap_or(current.pod_v4),
            service_v4: service_v4.unwrap_or(current.service_v4),
            ipv6: family.has_ipv6().then(|| Ipv6Ranges {
                pod_cidr: pod_v6.unwrap_or(defaults.pod_cidr),
                service_cidr: service_v6.unwrap_or(defaults.service_cidr),
            }),
        })
    }

    /// What a profile with these ranges is written as in a cluster file: nothing for the
    /// default family with the default ranges.
    pub fn of(ranges: ClusterRanges, default_v4: (Ipv4Net, Ipv4Net)) -> Networking {
        if ranges.ip_family == IpFamily::Ipv4 && (ranges.pod_v4, ranges.service_v4) == default_v4 {
            return Networking::default();
        }
        Networking {
            ip_family: Some(ranges.ip_family),
            pod_subnet: ranges.pod_cidrs(),
            service_subnet: ranges.service_cidrs(),
        }
    }

    /// Why an existing profile cannot take this request: its family and ranges are fixed at
    /// creation (every address, certificate and route of the cluster follows them).
    pub fn refusal(&self, ranges: ClusterRanges) -> Option<String> {
        let fix = "the family and ranges are fixed when a profile is created (every node's \
                   address, the certificates and the routes follow them); start another profile \
                   with `-p NAME`, or delete this one first (`localkube delete`)";
        if let Some(family) = self.ip_family
            && family != ranges.ip_family
        {
            return Some(format!(
                "this profile's IP family is {}, not {family}: {fix}, or leave out --ip-family",
                ranges.ip_family
            ));
        }
        let differs = |field: &str, asked: &[IpNet], has: Vec<IpNet>| {
            asked.iter().find(|a| !has.contains(a)).map(|a| {
                let has: Vec<String> = has.iter().map(ToString::to_string).collect();
                format!(
                    "networking.{field} {a} is not this profile's ({}): {fix}",
                    has.join(", ")
                )
            })
        };
        differs("podSubnet", &self.pod_subnet, ranges.pod_cidrs()).or_else(|| {
            differs(
                "serviceSubnet",
                &self.service_subnet,
                ranges.service_cidrs(),
            )
        })
    }
}

impl ClusterRanges {
    /// The pod ranges, primary family first (the order kube-controller-manager's
    /// `--cluster-cidr` and the nodes' `podCIDRs` take).
    pub fn pod_cidrs(&self) -> Vec<IpNet> {
        self.pick(IpNet::V4(self.pod_v4), |r| IpNet::V6(r.pod_cidr))
    }

    /// The service ranges, primary family first (`--service-cluster-ip-range`).
    pub fn service_cidrs(&self) -> Vec<IpNet> {
        self.pick(IpNet::V4(self.service_v4), |r| IpNet::V6(r.service_cidr))
    }

    fn pick(&self, v4: IpNet, v6: impl Fn(&Ipv6Ranges) -> IpNet) -> Vec<IpNet> {
        let mut out = Vec::new();
        if self.ip_family.has_ipv4() {
            out.push(v4);
        }
        if self.ip_family.has_ipv6()
            && let Some(ranges) = &self.ipv6
        {
            out.push(v6(ranges));
        }
        out
    }

    /// The IPv6 checks (the IPv4 ranges' are `ProfileConfig::validate`'s): the stored ranges
    /// match the family, are unique local, fit the components and overlap nothing of the cluster.
    pub fn check_ipv6(&self, network_v4: Ipv4Net) -> Result<(), NetworkingError> {
        let stored = |problem| NetworkingError::Stored {
            family: self.ip_family,
            problem,
        };
        let ranges = match (self.ip_family.has_ipv6(), self.ipv6) {
            (false, None) => return Ok(()),
            (false, Some(_)) => return Err(stored("holds IPv6 ranges")),
            (true, None) => return Err(stored("holds no IPv6 ranges")),
            (true, Some(r)) => r,
        };
        let ula: Ipv6Net = "fc00::/7".parse().expect("ULA");
        for (what, range, default) in [
            ("IPv6 pod", ranges.pod_cidr, DEFAULT_POD_CIDR_V6),
            ("IPv6 service", ranges.service_cidr, DEFAULT_SERVICE_CIDR_V6),
        ] {
            if !ula.contains(&range) {
                return Err(NetworkingError::NotUniqueLocal {
                    what,
                    range,
                    default,
                });
            }
        }
        if ranges.pod_cidr.prefix_len() > NODE_POD_CIDR_PREFIX_V6 - 4 {
            return Err(NetworkingError::PodCidrTooSmall(ranges.pod_cidr));
        }
        let service = ranges.service_cidr.prefix_len();
        if !(LARGEST_SERVICE_PREFIX_V6..=SMALLEST_SERVICE_PREFIX_V6).contains(&service) {
            return Err(NetworkingError::ServiceCidrSize(ranges.service_cidr));
        }
        let named = [
            ("IPv6 pod", IpNet::V6(ranges.pod_cidr)),
            ("IPv6 service", IpNet::V6(ranges.service_cidr)),
            ("network's IPv6", IpNet::V6(network_v6(network_v4))),
        ];
        for (i, (a, a_range)) in named.iter().enumerate() {
            for (b, b_range) in &named[i + 1..] {
                if overlaps(a_range, b_range) {
                    return Err(NetworkingError::Overlap {
                        a,
                        a_range: *a_range,
                        b,
                        b_range: *b_range,
                    });
                }
            }
        }
        Ok(())
    }

    /// A new profile's cluster ranges against the host's routes (`(destination, device)`, both
    /// families; default routes do not count): a range the host already routes somewhere would
    /// mix the cluster's packets with that network's. Every IPv6 range is checked (hosts hold
    /// ULA prefixes of their own, like fd00::/64 here), and the IPv4 ranges the request names;
    /// the IPv4 defaults stay unchecked, as before families.
    pub fn check_host_routes(
        &self,
        routes: &[(IpNet, String)],
        asked: &Networking,
    ) -> Result<(), NetworkingError> {
        let checked = |r: &IpNet| {
            matches!(r, IpNet::V6(_))
                || asked.pod_subnet.contains(r)
                || asked.service_subnet.contains(r)
        };
        let named = self
            .pod_cidrs()
            .into_iter()
            .map(|r| ("pod", "podSubnet", r))
            .chain(
                self.service_cidrs()
                    .into_iter()
                    .map(|r| ("service", "serviceSubnet", r)),
            )
            .filter(|(_, _, r)| checked(r));
        for (what, field, range) in named {
            if let Some((route, device)) = routes
                .iter()
                .find(|(route, _)| route.prefix_len() > 0 && overlaps(route, &range))
            {
                return Err(NetworkingError::HostRoute {
                    what,
                    field,
                    range,
                    route: *route,
                    device: if device.is_empty() {
                        String::new()
                    } else {
                        format!(" (dev {device})")
                    },
                });
            }
        }
        Ok(())
    }
}

/// Ranges as the components' flags take them: comma-separated, in order.
pub fn comma_list(nets: &[IpNet]) -> String {
    nets.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

pub fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The IPv6 /64 of the profile network whose IPv4 subnet is `network_v4`: fd6c:6b00:30:N::/64,
/// N its third octet (localkube's /24s all lie in 172.30.0.0/16, so N tells them apart).
pub fn network_v6(network_v4: Ipv4Net) -> Ipv6Net {
    let third = network_v4.network().octets()[2];
    Ipv6Net::new(
        Ipv6Addr::new(0xfd6c, 0x6b00, 0x30, third as u16, 0, 0, 0, 0),
        64,
    )
    .expect("a /64")
}

/// The IPv6 address a container with the fixed IPv4 address `ip` holds on the network's /64:
/// the same last number.
pub fn twin(network_v6: Ipv6Net, ip: Ipv4Addr) -> Ipv6Addr {
    Ipv6Addr::from(u128::from(network_v6.network()) + u128::from(ip.octets()[3]))
}

/// The `n`th address of a range of either family.
pub fn nth(net: IpNet, n: u32) -> IpAddr {
    match net {
        IpNet::V4(v4) => IpAddr::V4(Ipv4Addr::from(u32::from(v4.network()) + n)),
        IpNet::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6.network()) + u128::from(n))),
    }
}

/// An address as it stands in a URL or a `host:port`: IPv6 in brackets.
pub fn url_host(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

/// Parses /proc/net/ipv6_route: destination (32 hex digits), prefix length (hex), ..., device.
pub fn parse_ipv6_routes(text: &str) -> Vec<(Ipv6Net, String)> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let destination = u128::from_str_radix(fields.first()?, 16).ok()?;
            let prefix = u8::from_str_radix(fields.get(1)?, 16).ok()?;
            let device = fields.get(9)?;
            let net = Ipv6Net::new(Ipv6Addr::from(destination), prefix).ok()?;
            Some((net.trunc(), device.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4_defaults() -> ClusterRanges {
        ClusterRanges {
            ip_family: IpFamily::Ipv4,
            pod_v4: "10.244.0.0/16".parse().unwrap(),
            service_v4: "10.96.0.0/12".parse().unwrap(),
            ipv6: None,
        }
    }

    fn net(text: &str) -> IpNet {
        text.parse().unwrap()
    }

    fn ask(family: Option<IpFamily>, pods: &[&str], services: &[&str]) -> Networking {
        Networking {
            ip_family: family,
            pod_subnet: pods.iter().map(|p| net(p)).collect(),
            service_subnet: services.iter().map(|s| net(s)).collect(),
        }
    }

    #[test]
    fn families_parse_and_print_as_kind_writes_them() {
        for family in IpFamily::ALL {
            assert_eq!(IpFamily::parse(family.as_str()), Ok(family));
        }
        assert_eq!(IpFamily::parse("IPv6"), Ok(IpFamily::Ipv6));
        let e = IpFamily::parse("dualstack").unwrap_err();
        assert!(e.contains("ipv4, ipv6 or dual"), "{e}");
        assert_eq!(IpFamily::default(), IpFamily::Ipv4);
        assert!(IpFamily::Dual.has_ipv4() && IpFamily::Dual.has_ipv6());
        assert!(!IpFamily::Ipv6.has_ipv4() && !IpFamily::Ipv4.has_ipv6());
    }

    #[test]
    fn nothing_asked_is_ipv4_with_its_ranges() {
        let ranges = Networking::default().resolve(v4_defaults()).unwrap();
        assert_eq!(ranges, v4_defaults());
        assert_eq!(ranges.pod_cidrs(), [net("10.244.0.0/16")]);
        assert_eq!(ranges.service_cidrs(), [net("10.96.0.0/12")]);
        ranges.check_ipv6("172.30.7.0/24".parse().unwrap()).unwrap();
    }

    #[test]
    fn dual_lists_ipv4_first_and_takes_the_ipv6_defaults() {
        let ranges = ask(Some(IpFamily::Dual), &[], &[])
            .resolve(v4_defaults())
            .unwrap();
        assert_eq!(
            ranges.pod_cidrs(),
            [net("10.244.0.0/16"), net(DEFAULT_POD_CIDR_V6)]
        );
        assert_eq!(
            ranges.service_cidrs(),
            [net("10.96.0.0/12"), net(DEFAULT_SERVICE_CIDR_V6)]
        );
        ranges.check_ipv6("172.30.7.0/24".parse().unwrap()).unwrap();
        // The order the file lists them in does not matter.
        let given = ask(
            Some(IpFamily::Dual),
            &["fd6c:1::/56", "10.200.0.0/16"],
            &["fd6c:2::/112"],
        )
        .resolve(v4_defaults())
        .unwrap();
        assert_eq!(
            given.pod_cidrs(),
            [net("10.200.0.0/16"), net("fd6c:1::/56")]
        );
        assert_eq!(given.service_cidrs()[1], net("fd6c:2::/112"));
    }

    #[test]
    fn ipv6_only_lists_only_ipv6() {
        let ranges = ask(Some(IpFamily::Ipv6), &[], &[])
            .resolve(v4_defaults())
            .unwrap();
        assert_eq!(ranges.pod_cidrs(), [net(DEFAULT_POD_CIDR_V6)]);
        assert_eq!(ranges.service_cidrs(), [net(DEFAULT_SERVICE_CIDR_V6)]);
    }

    #[test]
    fn a_range_of_a_family_the_cluster_does_not_run_is_refused_with_the_fix() {
        let e = ask(None, &["fd6c:1::/56"], &[])
            .resolve(v4_defaults())
            .unwrap_err();
        assert!(matches!(e, NetworkingError::FamilyMismatch { .. }));
        let text = e.to_string();
        assert!(
            text.contains("networking.podSubnet: fd6c:1::/56 is an IPv6 range"),
            "{text}"
        );
        assert!(text.contains("ipFamily: dual"), "{text}");
        let e = ask(Some(IpFamily::Ipv6), &[], &["10.96.0.0/12"])
            .resolve(v4_defaults())
            .unwrap_err();
        assert!(e.to_string().contains("serviceSubnet"), "{e}");
        let e = ask(Some(IpFamily::Dual), &["10.1.0.0/16", "10.2.0.0/16"], &[])
            .resolve(v4_defaults())
            .unwrap_err();
        assert!(e.to_string().contains("one range per family"), "{e}");
        let e = ask(Some(IpFamily::Dual), &["fd6c:1::1/56"], &[])
            .resolve(v4_defaults())
            .unwrap_err();
        assert!(e.to_string().contains("write fd6c:1::/56"), "{e}");
    }

    fn with_v6(pod: &str, service: &str) -> ClusterRanges {
        ClusterRanges {
            ip_family: IpFamily::Dual,
            ipv6: Some(Ipv6Ranges {
                pod_cidr: pod.parse().unwrap(),
                service_cidr: service.parse().unwrap(),
            }),
            ..v4_defaults()
        }
    }

    #[test]
    fn ipv6_ranges_are_unique_local_sized_for_the_components_and_apart() {
        let network: Ipv4Net = "172.30.7.0/24".parse().unwrap();
        let check = |pod: &str, service: &str| with_v6(pod, service).check_ipv6(network);
        check(DEFAULT_POD_CIDR_V6, DEFAULT_SERVICE_CIDR_V6).unwrap();
        let e = check("2001:db8::/56", DEFAULT_SERVICE_CIDR_V6).unwrap_err();
        assert!(e.to_string().contains("not unique local"), "{e}");
        assert!(matches!(
            check("fd6c:1::/62", DEFAULT_SERVICE_CIDR_V6),
            Err(NetworkingError::PodCidrTooSmall(_))
        ));
        for service in ["fd6c:2::/100", "fd6c:2::/124"] {
            assert!(matches!(
                check(DEFAULT_POD_CIDR_V6, service),
                Err(NetworkingError::ServiceCidrSize(_))
            ));
        }
        let e = check("fd6c:1::/56", "fd6c:1::/112").unwrap_err();
        assert!(matches!(e, NetworkingError::Overlap { .. }), "{e}");
        // The pod range over the profile network's /64.
        let e = check("fd6c:6b00:30::/48", DEFAULT_SERVICE_CIDR_V6).unwrap_err();
        assert!(e.to_string().contains("network's IPv6"), "{e}");
    }

    #[test]
    fn stored_ranges_must_match_the_family() {
        let network: Ipv4Net = "172.30.7.0/24".parse().unwrap();
        let mut r = with_v6(DEFAULT_POD_CIDR_V6, DEFAULT_SERVICE_CIDR_V6);
        r.ip_family = IpFamily::Ipv4;
        assert!(matches!(
            r.check_ipv6(network),
            Err(NetworkingError::Stored { .. })
        ));
        r.ip_family = IpFamily::Ipv6;
        r.ipv6 = None;
        assert!(matches!(
            r.check_ipv6(network),
            Err(NetworkingError::Stored { .. })
        ));
    }

    /// This project's machines: fd00::/64 on eth0 and a default route via fd00::1.
    const HOST_IPV6_ROUTES: &str = "\
fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001  docker0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000001 00000000 00000003     eth0
00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000002 00000000 80200001       lo
";

    #[test]
    fn host_routes_of_both_families_are_kept_clear() {
        let routes = parse_ipv6_routes(HOST_IPV6_ROUTES);
        assert_eq!(
            routes[0],
            ("fd00::/64".parse().unwrap(), "eth0".to_string())
        );
        assert_eq!(routes[2].0.prefix_len(), 0);
        assert_eq!(routes[3].0, "::1/128".parse::<Ipv6Net>().unwrap());
        let mut all: Vec<(IpNet, String)> =
            routes.into_iter().map(|(n, d)| (IpNet::V6(n), d)).collect();
        all.push((net("192.168.0.0/16"), "wlan0".into()));
        // The defaults clear the host's fd00::/64 and its default route (prefix 0) is no clash.
        let none = Networking::default();
        with_v6(DEFAULT_POD_CIDR_V6, DEFAULT_SERVICE_CIDR_V6)
            .check_host_routes(&all, &none)
            .unwrap();
        // kind's fd00::/… style ranges on this host are refused.
        let e = with_v6("fd00::/56", DEFAULT_SERVICE_CIDR_V6)
            .check_host_routes(&all, &none)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("fd00::/56 overlaps this host's route to fd00::/64 (dev eth0)"),
            "{e}"
        );
        assert!(e.contains("networking.podSubnet"), "{e}");
        // An IPv4 range is checked when the request names it.
        let asked = ask(None, &[], &["192.168.0.0/20"]);
        let r = asked.resolve(v4_defaults()).unwrap();
        let e = r.check_host_routes(&all, &asked).unwrap_err().to_string();
        assert!(e.contains("service range 192.168.0.0/20"), "{e}");
        all.push((net("10.0.0.0/8"), "tun0".into()));
        v4_defaults().check_host_routes(&all, &none).unwrap();
    }

    #[test]
    fn a_profile_refuses_another_family_or_range() {
        let dual = with_v6(DEFAULT_POD_CIDR_V6, DEFAULT_SERVICE_CIDR_V6);
        assert_eq!(Networking::default().refusal(dual), None);
        assert_eq!(ask(Some(IpFamily::Dual), &[], &[]).refusal(dual), None);
        let same = Networking::of(dual, (dual.pod_v4, dual.service_v4));
        assert_eq!(same.refusal(dual), None);
        let e = ask(Some(IpFamily::Ipv4), &[], &[]).refusal(dual).unwrap();
        assert!(e.contains("IP family is dual, not ipv4"), "{e}");
        assert!(e.contains("localkube delete"), "{e}");
        let e = ask(None, &[], &["fd6c:9::/112"]).refusal(dual).unwrap();
        assert!(e.contains("networking.serviceSubnet fd6c:9::/112"), "{e}");
        // The default IPv4 profile writes no networking at all.
        let v4 = v4_defaults();
        assert!(Networking::of(v4, (v4.pod_v4, v4.service_v4)).is_empty());
    }

    #[test]
    fn the_network_and_its_containers_have_ipv6_twins() {
        let v6 = network_v6("172.30.7.0/24".parse().unwrap());
        assert_eq!(v6.to_string(), "fd6c:6b00:30:7::/64");
        assert_ne!(v6, network_v6("172.30.8.0/24".parse().unwrap()));
        assert_eq!(
            twin(v6, "172.30.7.10".parse().unwrap()).to_string(),
            "fd6c:6b00:30:7::a"
        );
        assert_eq!(
            nth(net(DEFAULT_SERVICE_CIDR_V6), 10).to_string(),
            "fd6c:6b00:96::a"
        );
        assert_eq!(
            url_host(nth(net(DEFAULT_SERVICE_CIDR_V6), 1)),
            "[fd6c:6b00:96::1]"
        );
        assert_eq!(url_host("127.0.0.1".parse().unwrap()), "127.0.0.1");
    }
}
