//! localkube's stand-in for a cloud load balancer, planned as data.
//!
//! A controller container of the profile watches Services of type LoadBalancer and, for each, runs
//! a small proxy container (cloud-provider-kind runs one Envoy per service the same way). The proxy
//! shares the host's network namespace and listens on a loopback address of its own itself, with
//! the one capability that lets it bind ports below 1024, so the user needs no root, no sudo and no
//! foreground process, privileged ports included; it forwards to the service's NodePorts, where
//! kube-proxy spreads connections over the ready endpoints: one user-space hop, not Docker's
//! published port in front of a second proxy. Each profile draws addresses from its
//! own block, `127.<b>.<c>.2-99` for a network `172.<b>.<c>.0/24`, so profiles never clash: Docker
//! networks cannot overlap, hence neither can the blocks.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::Service;
use sha2::{Digest, Sha256};

use crate::plan::config::ProfileConfig;
pub use crate::plan::exposure::Exposure;
use crate::plan::names::{self, LABEL_PROFILE, LABEL_ROLE, Role};
use crate::plan::profile_name::ProfileName;
use crate::plan::spec::{
    COMPONENT_CONFIG_DIR, ContainerSpec, HostFacts, MountSpec, PortSpec, StagedFile,
};

/// The service a proxy serves, `namespace/name`.
pub const LABEL_SERVICE: &str = "io.localkube.service";
/// The loopback address a proxy listens on.
pub const LABEL_ADDRESS: &str = "io.localkube.lb-address";
/// A digest of everything the proxy was created from; a different one means recreate.
pub const LABEL_SPEC: &str = "io.localkube.lb-spec";
/// Where the controller finds the Docker socket inside its container.
pub const DOCKER_SOCKET_IN_CONTAINER: &str = "/run/localkube-docker/docker.sock";
/// The folder of [`DOCKER_SOCKET_IN_CONTAINER`]: 0700 root in the image, so only the broker
/// (root) can reach the socket, whatever its own mode on the host.
pub const DOCKER_SOCKET_DIR_IN_CONTAINER: &str = "/run/localkube-docker";
/// The user the controller proper runs as in its container: `nobody`, no supplementary groups.
pub const CONTROLLER_UID: u32 = 65534;

/// The last octets a profile hands out: `.2` to `.99` (`.1` is left alone, as 127.0.0.1 is).
const FIRST_HOST: u8 = 2;
const LAST_HOST: u8 = 99;
/// Docker's name for the host's network namespace (`--network host`).
pub const HOST_NETWORK: &str = "host";

/// The address a service shows as its EXTERNAL-IP, and answers on from the host: its own pool
/// address, or 127.0.0.1 where its ports are published.
pub fn ingress_address(config: &ProfileConfig, address: Ipv4Addr) -> Ipv4Addr {
    match config.load_balancer {
        Exposure::Loopback => address,
        Exposure::Published => Ipv4Addr::LOCALHOST,
    }
}

/// A published proxy's address on the profile's network: `172.<b>.<c>.1<dd>` for its pool
/// address `127.<b>.<c>.<dd>` (102 to 199), clear of the control plane and addons' containers
/// (.2-.9, members 2 and 3 at .20-.27) and the nodes (.10-.18).
pub fn published_proxy_ip(config: &ProfileConfig, address: Ipv4Addr) -> Ipv4Addr {
    let [a, b, c, _] = config.network_subnet.network().octets();
    Ipv4Addr::new(a, b, c, 100 + address.octets()[3])
}

/// The loopback block of a profile: `127.<b>.<c>.2-99` for its network `172.<b>.<c>.0/24`.
pub fn address_pool(config: &ProfileConfig) -> Vec<Ipv4Addr> {
    let [_, b, c, _] = config.network_subnet.network().octets();
    (FIRST_HOST..=LAST_HOST)
        .map(|d| Ipv4Addr::new(127, b, c, d))
        .collect()
}

/// The address for a service: the one it had (if still in the pool and not taken by another),
/// else the lowest free one. None when the pool is exhausted.
pub fn allocate(
    pool: &[Ipv4Addr],
    taken: &BTreeSet<Ipv4Addr>,
    previous: Option<Ipv4Addr>,
) -> Option<Ipv4Addr> {
    if let Some(prev) = previous
        && pool.contains(&prev)
        && !taken.contains(&prev)
    {
        return Some(prev);
    }
    pool.iter().find(|a| !taken.contains(a)).copied()
}

/// The address for a Service in the controller's pass, marked taken: the one its own proxy
/// holds (`own`), else the one its status still shows (`shown`) if nobody holds it now, else the
/// lowest free one. Only its own proxy's address is freed for it first: a status can be stale
/// (its proxy gone, the address since given to another Service), and freeing an address on its
/// word would put two Services on one address.
pub fn assign(
    pool: &[Ipv4Addr],
    taken: &mut BTreeSet<Ipv4Addr>,
    own: Option<Ipv4Addr>,
    shown: Option<Ipv4Addr>,
) -> Option<Ipv4Addr> {
    if let Some(own) = own {
        taken.remove(&own);
    }
    let previous = own.or(shown.filter(|ip| pool.contains(ip)));
    let address = allocate(pool, taken, previous)?;
    taken.insert(address);
    Some(address)
}

/// One port of a load balancer: where it listens, and the NodePort it forwards to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct LbPort {
    pub port: u16,
    pub node_port: u16,
}

/// What a service asks of its load balancer: TCP ports with their NodePorts. Ports of other
/// protocols are returned apart, to be reported rather than silently dropped.
pub fn service_ports(service: &Service) -> (Vec<LbPort>, Vec<String>) {
    let mut tcp = Vec::new();
    let mut unsupported = Vec::new();
    let ports = service
        .spec
        .as_ref()
        .and_then(|s| s.ports.clone())
        .unwrap_or_default();
    for p in ports {
        let protocol = p.protocol.clone().unwrap_or_else(|| "TCP".into());
        match (protocol.as_str(), p.node_port) {
            ("TCP", Some(node_port)) => tcp.push(LbPort {
                port: p.port as u16,
                node_port: node_port as u16,
            }),
            _ => unsupported.push(format!("{}/{protocol}", p.port)),
        }
    }
    tcp.sort();
    (tcp, unsupported)
}

/// A load balancer to run: the service, its address, its ports, the nodes it forwards to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LoadBalancer {
    pub namespace: String,
    pub name: String,
    pub address: Ipv4Addr,
    /// Ports on the service's own address (none for a NodePort Service).
    pub ports: Vec<LbPort>,
    /// Ports on localhost, taken where free (`plan::localhost`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub localhost: Vec<LbPort>,
    /// Node addresses of a family of the Service (`backends_for`).
    pub backends: Vec<IpAddr>,
}

impl LoadBalancer {
    pub fn service_key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// `<profile>-lb-<namespace>-<name>`: readable in `docker ps`.
pub fn proxy_container_name(profile: &ProfileName, namespace: &str, name: &str) -> String {
    format!("{profile}-lb-{namespace}-{name}")
}

/// The proxy container of a load balancer.
pub fn proxy_spec(
    profile: &ProfileName,
    config: &ProfileConfig,
    lb: &LoadBalancer,
    image: &str,
) -> ContainerSpec {
    let name = proxy_container_name(profile, &lb.namespace, &lb.name);
    let published = config.load_balancer == Exposure::Published;
    // Published: it listens on every address of its own network namespace, which holds only
    // loopback and the profile's network; Docker forwards 127.0.0.1:<port> to it.
    let listen = if published {
        Ipv4Addr::UNSPECIFIED
    } else {
        lb.address
    };
    let mut args = vec![format!("--address={listen}")];
    for p in &lb.ports {
        args.push(format!("--listen={}:{}", p.port, p.node_port));
    }
    // Published, a localhost port is one more port Docker publishes on 127.0.0.1 (a
    // LoadBalancer's own ports are there already); on loopback, the proxy binds 127.0.0.1 and
    // ::1 itself, where free.
    let published_extra: Vec<&LbPort> = lb
        .localhost
        .iter()
        .filter(|l| !lb.ports.iter().any(|p| p.port == l.port))
        .collect();
    if published {
        for p in &published_extra {
            args.push(format!("--listen={}:{}", p.port, p.node_port));
        }
    } else {
        for p in &lb.localhost {
            args.push(format!("--localhost={}:{}", p.port, p.node_port));
        }
    }
    for b in &lb.backends {
        args.push(format!("--backend={b}"));
    }
    let mut labels = BTreeMap::from([
        (LABEL_PROFILE.to_string(), profile.to_string()),
        (LABEL_ROLE.to_string(), Role::LbProxy.to_string()),
        (LABEL_SERVICE.to_string(), lb.service_key()),
        (LABEL_ADDRESS.to_string(), lb.address.to_string()),
    ]);
    let mut spec = ContainerSpec {
        hostname: name.clone(),
        image: image.to_string(),
        entrypoint: vec!["/usr/local/bin/localkube".into(), "lb-proxy".into()],
        args,
        // The host's network namespace: the proxy itself listens on the service's loopback
        // address (and on nothing else: `--address`), and reaches the nodes over the profile's
        // bridge as the host does. A published port would put docker-proxy, a second user-space
        // copy, in front of it (half the requests per second, measured by scripts/bench-lb.sh).
        network: HOST_NETWORK.into(),
        ip: Ipv4Addr::UNSPECIFIED,
        ip6: None,
        mounts: Vec::new(),
        ports: Vec::new(),
        labels: BTreeMap::new(),
        // Back after a dockerd restart; a `localkube stop` stays stopped.
        restart_policy: "unless-stopped".into(),
        // In the host's namespace it gets only what a TCP forwarder on ports below 1024 needs:
        // every capability dropped but NET_BIND_SERVICE (no NET_ADMIN, no NET_RAW: it cannot change
        // or sniff the host's network), and no way to gain more through exec.
        security: crate::plan::spec::least_privilege(&["NET_BIND_SERVICE"]),
        staged_files: Vec::new(),
        role: Role::LbProxy,
        name,
    };
    if published {
        // Where the host's loopback is not the daemon's (Docker Desktop, rootless): the proxy
        // on the profile's network, at an address its pool address gives it, and each port
        // published on 127.0.0.1 only, as the apiserver's is. One hop more (Docker's port
        // forwarding), but the only way the host reaches it there.
        spec.network = names::network(profile);
        spec.ip = published_proxy_ip(config, lb.address);
        spec.ports = lb
            .ports
            .iter()
            .chain(published_extra.iter().copied())
            .map(|p| PortSpec {
                host_ip: Ipv4Addr::LOCALHOST,
                host_port: p.port,
                container_port: p.port,
                protocol: "tcp".into(),
            })
            .collect();
    }
    labels.insert(LABEL_SPEC.to_string(), spec_digest(&spec));
    spec.labels = labels;
    spec
}

/// A digest of what a proxy container is made of: a container whose label differs is stale.
pub fn spec_digest(spec: &ContainerSpec) -> String {
    let mut hasher = Sha256::new();
    hasher.update(spec.image.as_bytes());
    for part in spec.entrypoint.iter().chain(&spec.args) {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    for p in &spec.ports {
        hasher.update(format!("{}:{}:{}", p.host_ip, p.host_port, p.container_port).as_bytes());
    }
    hasher.update(spec.ip.to_string().as_bytes());
    hasher.update(spec.network.as_bytes());
    hex::encode(&hasher.finalize()[..8])
}

/// The most ports one load balancer proxy forwards: far more than a Service has in practice,
/// few enough that a proxy cannot be made to hold thousands of listeners on the host.
pub const MAX_PORTS: usize = 32;

/// The addresses a node of the profile can have (`ProfileConfig::node_ip` of 1 to
/// `MAX_NODES`): the only backends a proxy may forward to. Not the rest of the /24: the
/// gateway is the host itself, and the control plane, registry and controller are no
/// Service's backends. Every node slot, not only today's nodes, since the broker reads the
/// configuration once and `node add` does not restart it.
/// On an IPv6 or dual-stack profile, a node's IPv6 address counts too.
pub fn node_addresses(config: &ProfileConfig) -> Vec<IpAddr> {
    (1..=crate::plan::config::MAX_NODES)
        .flat_map(|n| config.addresses_of(config.node_ip(n)))
        .collect()
}

/// The node addresses a Service's proxy forwards to: those of IPv4 where the Service has an
/// IPv4 family (its NodePorts answer there: kube-proxy serves each family of a Service on the
/// nodes' addresses of that family), else those of IPv6 (an IPv6-only Service, any Service of
/// an IPv6 profile). A Service that names no family has its cluster's primary one, IPv4 unless
/// no node has IPv4.
pub fn backends_for(service: &Service, nodes: &[IpAddr]) -> Vec<IpAddr> {
    let families = service
        .spec
        .as_ref()
        .and_then(|s| s.ip_families.clone())
        .unwrap_or_default();
    let any_v4 = nodes.iter().any(IpAddr::is_ipv4);
    let v4 = if families.is_empty() {
        any_v4
    } else {
        families.iter().any(|f| f == "IPv4")
    };
    nodes
        .iter()
        .copied()
        .filter(|ip| ip.is_ipv4() == v4)
        .collect()
}

/// Whether a proxy the controller asks the broker for stays within its profile: an address of
/// the profile's pool, one to `MAX_NODES` backends that are node addresses, one to
/// [`MAX_PORTS`] distinct ports, and a service name that is a DNS label (it becomes part of a
/// container name).
pub fn check_request(config: &ProfileConfig, lb: &LoadBalancer) -> Result<(), String> {
    if !address_pool(config).contains(&lb.address) {
        return Err(format!(
            "{} is not an address of this profile's pool",
            lb.address
        ));
    }
    let nodes = node_addresses(config);
    if let Some(backend) = lb.backends.iter().find(|b| !nodes.contains(*b)) {
        return Err(format!(
            "backend {backend} is not a node address of the profile ({} to {})",
            nodes[0],
            nodes[nodes.len() - 1]
        ));
    }
    if lb.backends.is_empty() || lb.backends.len() > crate::plan::config::MAX_NODES as usize {
        return Err(format!(
            "a load balancer needs 1 to {} backends, not {}",
            crate::plan::config::MAX_NODES,
            lb.backends.len()
        ));
    }
    if (lb.ports.is_empty() && lb.localhost.is_empty())
        || lb
            .ports
            .iter()
            .chain(&lb.localhost)
            .any(|p| p.port == 0 || p.node_port == 0)
    {
        return Err("a load balancer needs ports other than 0".into());
    }
    for (what, ports) in [("", &lb.ports), ("localhost ", &lb.localhost)] {
        let distinct: BTreeSet<u16> = ports.iter().map(|p| p.port).collect();
        if ports.len() > MAX_PORTS || distinct.len() != ports.len() {
            return Err(format!(
                "a load balancer has 0 to {MAX_PORTS} distinct {what}ports, not {} ({} distinct)",
                ports.len(),
                distinct.len()
            ));
        }
    }
    let label = |s: &str| {
        !s.is_empty()
            && s.len() <= 63
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    if !label(&lb.namespace) || !label(&lb.name) {
        return Err(format!(
            "'{}/{}' is not a Kubernetes service name",
            lb.namespace, lb.name
        ));
    }
    Ok(())
}

/// Whether one more proxy for `lb` fits beside the profile's `existing` ones (each its service
/// and address labels): one proxy per pool address at most, and no address already held by
/// another Service's proxy.
pub fn check_capacity(
    config: &ProfileConfig,
    existing: &[(String, String)],
    lb: &LoadBalancer,
) -> Result<(), String> {
    let pool = address_pool(config).len();
    if existing.len() >= pool {
        return Err(format!(
            "the profile has {} load balancer proxies, one per address of its pool of {pool}",
            existing.len()
        ));
    }
    let address = lb.address.to_string();
    let service = lb.service_key();
    if let Some((other, _)) = existing
        .iter()
        .find(|(s, a)| *a == address && *s != service)
    {
        return Err(format!("{address} is held by the proxy of {other}"));
    }
    Ok(())
}

/// Where the host's Docker socket is, for the controller to manage proxies with.
pub fn docker_socket_path(docker_host: Option<&str>) -> Result<PathBuf, String> {
    match docker_host {
        None | Some("") => Ok(PathBuf::from("/var/run/docker.sock")),
        Some(host) => match host.strip_prefix("unix://") {
            Some(path) => Ok(PathBuf::from(path)),
            None => Err(format!(
                "DOCKER_HOST={host} is not a local socket: localkube's load balancer controller \
                 runs in a container and needs the daemon's unix socket"
            )),
        },
    }
}

/// The controller container: the localkube binary in `lb-controller` mode, with the Docker socket
/// (to run proxies) and a kubeconfig of its own narrow identity.
pub fn controller_spec(
    profile: &ProfileName,
    config: &ProfileConfig,
    paths: &HostFacts,
    image: &str,
    docker_socket: &Path,
) -> ContainerSpec {
    let name = format!("{profile}-{}", Role::LbController);
    let [a, b, c, _] = config.network_subnet.network().octets();
    let mut spec = ContainerSpec {
        hostname: name.clone(),
        image: image.to_string(),
        entrypoint: vec!["/usr/local/bin/localkube".into(), "lb-controller".into()],
        args: vec![
            format!("--profile={profile}"),
            format!("--config={COMPONENT_CONFIG_DIR}/config.yaml"),
            format!("--kubeconfig={COMPONENT_CONFIG_DIR}/lb-controller.conf"),
            // Proxies run the same image as the controller.
            format!("--image={image}"),
        ],
        network: names::network(profile),
        ip: Ipv4Addr::new(a, b, c, 6),
        ip6: config.ipv6_twin(Ipv4Addr::new(a, b, c, 6)),
        mounts: vec![
            MountSpec::Bind {
                source: paths.staging_dir(&name),
                target: COMPONENT_CONFIG_DIR.into(),
                read_only: true,
            },
            // For the broker alone (see `lb::runtime`): it creates, starts and removes the proxy
            // containers of this profile and nothing else, for the controller running as nobody.
            MountSpec::Bind {
                source: docker_socket.to_path_buf(),
                target: DOCKER_SOCKET_IN_CONTAINER.into(),
                read_only: false,
            },
        ],
        ports: Vec::new(),
        labels: BTreeMap::from([
            (LABEL_PROFILE.to_string(), profile.to_string()),
            (LABEL_ROLE.to_string(), Role::LbController.to_string()),
        ]),
        restart_policy: "unless-stopped".into(),
        // The broker (root) reads its kubeconfig and starts the controller as nobody; nothing
        // else: no NET_RAW (Docker's default) to forge packets on the profile's network, no
        // gaining rights through exec.
        security: crate::plan::spec::least_privilege(&["SETUID", "SETGID", "DAC_READ_SEARCH"]),
        staged_files: vec![
            StagedFile {
                from: "kubeconfigs/lb-controller.conf".into(),
                to: "lb-controller.conf".into(),
            },
            StagedFile {
                from: "config.yaml".into(),
                to: "config.yaml".into(),
            },
        ],
        role: Role::LbController,
        name,
    };
    // The controller reads which kinds answer on localhost from its staged config.yaml once:
    // a changed choice must make it anew, so the choice is a label its digest covers.
    spec.labels
        .insert(LABEL_LOCALHOST.to_string(), config.localhost.describe());
    crate::plan::spec::with_spec_digest(spec)
}

/// Which kinds of Service answer on localhost, on the controller (`plan::localhost`).
pub const LABEL_LOCALHOST: &str = "io.localkube.localhost";

/// The image the controller and proxies run: the localkube binary on the node image's Debian
/// (same C library as the host build). Tagged by a fingerprint of the binary.
pub fn image_tag(binary_fingerprint: &str) -> String {
    format!("localkube/lb:{binary_fingerprint}")
}

#[cfg(test)]
mod tests;
