//! The cluster as Docker objects: one network, volumes, and a container per component, each
//! described as plain data before anything runs (kind's provider plans every name and flag first).
//! `start --dry-run` prints exactly this plan; `start` creates it.
//!
//! Every container option below carries the reason it is there.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::plan::config::ProfileConfig;
use crate::plan::load_balancer;
use crate::plan::names::{self, LABEL_NODE, LABEL_PROFILE, LABEL_ROLE, LABEL_SPEC_DIGEST, Role};
use crate::plan::profile_name::ProfileName;
use crate::plan::routes::CONTROL_PLANE_ROUTES_FILE;

pub use crate::plan::spec::{
    COMPONENT_CONFIG_DIR, ContainerSpec, HostFacts, MountSpec, NODE_CONFIG_DIR, NetworkSpec,
    PortSpec, SecuritySpec, StagedFile, VolumeSpec,
};

/// The apiserver's port inside the profile's network (kubeadm's default).
pub const APISERVER_PORT: u16 = 6443;
pub const ETCD_CLIENT_PORT: u16 = 2379;
pub const ETCD_PEER_PORT: u16 = 2380;
/// The control-plane images' entrypoint (images/netinit).
pub const NETINIT: &str = "/usr/local/bin/netinit";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterPlan {
    pub network: NetworkSpec,
    pub volumes: Vec<VolumeSpec>,
    /// In start order: etcd, apiserver, controller-manager, scheduler, nodes, and localkube's load
    /// balancer controller.
    pub containers: Vec<ContainerSpec>,
}

pub fn plan(profile: &ProfileName, config: &ProfileConfig, paths: &HostFacts) -> ClusterPlan {
    let network = NetworkSpec {
        name: names::network(profile),
        subnet: config.network_subnet,
        gateway: config.gateway_ip(),
        labels: labels(profile, "network", None),
    };
    let node_names = names::node_names(profile, &config.nodes);
    let mut volumes = vec![VolumeSpec {
        name: names::etcd_volume(profile),
        labels: labels(profile, Role::Etcd.as_str(), None),
    }];
    volumes.extend(node_names.iter().map(|node| VolumeSpec {
        name: names::node_volume(node),
        labels: labels(profile, Role::Node.as_str(), Some(node)),
    }));

    let mut containers: Vec<ContainerSpec> = [
        etcd(profile, config, paths),
        apiserver(profile, config, paths),
        controller_manager(profile, config, paths),
        scheduler(profile, config, paths),
    ]
    .into_iter()
    .map(with_spec_digest)
    .collect();
    containers.extend(
        config
            .nodes
            .numbers()
            .iter()
            .zip(&node_names)
            .map(|(number, node)| node_container(profile, config, paths, node, *number)),
    );
    containers.push(load_balancer::controller_spec(
        profile,
        config,
        paths,
        &paths.lb_image,
        &paths.docker_socket,
    ));
    ClusterPlan {
        network,
        volumes,
        containers,
    }
}

/// Labels a container with a digest of its spec, so `start` can tell a container made from an
/// older plan (another image, other flags or entrypoint) and recreate it. Only for stateless
/// containers: their state is in etcd's volume, not in the container.
fn with_spec_digest(mut spec: ContainerSpec) -> ContainerSpec {
    let json = serde_json::to_vec(&spec).expect("a container spec serialises");
    let digest = hex::encode(Sha256::digest(&json));
    spec.labels.insert(LABEL_SPEC_DIGEST.to_string(), digest);
    spec
}

fn labels(profile: &ProfileName, role: &str, node: Option<&str>) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::from([
        (LABEL_PROFILE.to_string(), profile.to_string()),
        (LABEL_ROLE.to_string(), role.to_string()),
    ]);
    if let Some(node) = node {
        labels.insert(LABEL_NODE.to_string(), node.to_string());
    }
    labels
}

fn staged(pairs: &[(&str, &str)]) -> Vec<StagedFile> {
    pairs
        .iter()
        .map(|(from, to)| StagedFile {
            from: from.to_string(),
            to: to.to_string(),
        })
        .collect()
}

fn config_mount(paths: &HostFacts, container: &str, target: &str) -> MountSpec {
    // Read-only: components never write their credentials.
    MountSpec::Bind {
        source: paths.staging_dir(container),
        target: target.to_string(),
        read_only: true,
    }
}

#[allow(clippy::too_many_arguments)] // each argument is one of the few ways components differ
/// What every control-plane container shares: a fixed address on the profile's network, the
/// profile's labels, a restart policy, and Docker's default (unprivileged) security.
fn control_plane_container(
    profile: &ProfileName,
    config: &ProfileConfig,
    paths: &HostFacts,
    role: Role,
    ip: Ipv4Addr,
    binary: &str,
    args: Vec<String>,
    staged_files: Vec<StagedFile>,
) -> ContainerSpec {
    let name = names::control_plane_container(profile, role);
    ContainerSpec {
        mounts: vec![config_mount(paths, &name, COMPONENT_CONFIG_DIR)],
        hostname: name.clone(),
        image: names::image(binary, &config.kubernetes_version),
        // netinit first routes the pod and service ranges through the nodes (plan::routes says
        // why), then gives up CAP_NET_ADMIN and executes the component, which becomes PID 1.
        entrypoint: vec![
            NETINIT.into(),
            format!("{COMPONENT_CONFIG_DIR}/{CONTROL_PLANE_ROUTES_FILE}"),
            "--".into(),
            format!("/usr/local/bin/{binary}"),
        ],
        args,
        network: names::network(profile),
        // Fixed: certificates, kubeconfigs and etcd's peer URL name it, and it must survive a
        // dockerd restart (kind #2045).
        ip,
        ports: Vec::new(),
        labels: labels(profile, role.as_str(), None),
        // Back after a crash or a dockerd restart, but a `localkube stop` stays stopped.
        restart_policy: "unless-stopped".to_string(),
        security: control_plane_security(),
        staged_files,
        role: role.as_str().to_string(),
        name,
    }
}

fn etcd(profile: &ProfileName, config: &ProfileConfig, paths: &HostFacts) -> ContainerSpec {
    let name = names::control_plane_container(profile, Role::Etcd);
    let ip = config.etcd_ip();
    let pki = format!("{COMPONENT_CONFIG_DIR}/pki/etcd");
    let args = vec![
        format!("--name={name}"),
        // The data lives on a named volume: the whole cluster state, kept across stop/start.
        "--data-dir=/var/lib/etcd".into(),
        format!(
            "--listen-client-urls=https://127.0.0.1:{ETCD_CLIENT_PORT},https://{ip}:{ETCD_CLIENT_PORT}"
        ),
        format!("--advertise-client-urls=https://{ip}:{ETCD_CLIENT_PORT}"),
        format!("--listen-peer-urls=https://{ip}:{ETCD_PEER_PORT}"),
        format!("--initial-advertise-peer-urls=https://{ip}:{ETCD_PEER_PORT}"),
        format!("--initial-cluster={name}=https://{ip}:{ETCD_PEER_PORT}"),
        // Plain HTTP metrics and /health on loopback only, for the status check via docker exec.
        "--listen-metrics-urls=http://127.0.0.1:2381".into(),
        format!("--cert-file={pki}/server.crt"),
        format!("--key-file={pki}/server.key"),
        format!("--trusted-ca-file={pki}/ca.crt"),
        "--client-cert-auth=true".into(),
        format!("--peer-cert-file={pki}/peer.crt"),
        format!("--peer-key-file={pki}/peer.key"),
        format!("--peer-trusted-ca-file={pki}/ca.crt"),
        "--peer-client-cert-auth=true".into(),
        "--snapshot-count=10000".into(),
    ];
    let mut spec = control_plane_container(
        profile,
        config,
        paths,
        Role::Etcd,
        ip,
        "etcd",
        args,
        staged(&[
            ("pki/etcd/ca.crt", "pki/etcd/ca.crt"),
            ("pki/etcd/server.crt", "pki/etcd/server.crt"),
            ("pki/etcd/server.key", "pki/etcd/server.key"),
            ("pki/etcd/peer.crt", "pki/etcd/peer.crt"),
            ("pki/etcd/peer.key", "pki/etcd/peer.key"),
        ]),
    );
    spec.mounts.push(MountSpec::Volume {
        name: names::etcd_volume(profile),
        target: "/var/lib/etcd".into(),
    });
    spec
}

fn apiserver(profile: &ProfileName, config: &ProfileConfig, paths: &HostFacts) -> ContainerSpec {
    let pki = format!("{COMPONENT_CONFIG_DIR}/pki");
    let args = vec![
        format!("--advertise-address={}", config.apiserver_ip()),
        format!("--secure-port={APISERVER_PORT}"),
        "--allow-privileged=true".into(),
        "--authorization-mode=Node,RBAC".into(),
        "--enable-admission-plugins=NodeRestriction".into(),
        format!("--client-ca-file={pki}/ca.crt"),
        format!("--tls-cert-file={pki}/apiserver.crt"),
        format!("--tls-private-key-file={pki}/apiserver.key"),
        format!("--kubelet-client-certificate={pki}/apiserver-kubelet-client.crt"),
        format!("--kubelet-client-key={pki}/apiserver-kubelet-client.key"),
        // Each kubelet's serving certificate is signed by the cluster CA for its name and
        // address, so the apiserver verifies the kubelet it talks to (CIS 1.2.5).
        format!("--kubelet-certificate-authority={pki}/ca.crt"),
        "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname".into(),
        "--profiling=false".into(),
        format!(
            "--etcd-servers=https://{}:{ETCD_CLIENT_PORT}",
            config.etcd_ip()
        ),
        format!("--etcd-cafile={pki}/etcd/ca.crt"),
        format!("--etcd-certfile={pki}/apiserver-etcd-client.crt"),
        format!("--etcd-keyfile={pki}/apiserver-etcd-client.key"),
        format!("--service-cluster-ip-range={}", config.service_cidr),
        format!(
            "--service-account-issuer=https://kubernetes.default.svc.{}",
            config.dns_domain
        ),
        format!("--service-account-key-file={pki}/sa.pub"),
        format!("--service-account-signing-key-file={pki}/sa.key"),
        format!("--proxy-client-cert-file={pki}/front-proxy-client.crt"),
        format!("--proxy-client-key-file={pki}/front-proxy-client.key"),
        format!("--requestheader-client-ca-file={pki}/front-proxy-ca.crt"),
        "--requestheader-allowed-names=front-proxy-client".into(),
        "--requestheader-extra-headers-prefix=X-Remote-Extra-".into(),
        "--requestheader-group-headers=X-Remote-Group".into(),
        "--requestheader-username-headers=X-Remote-User".into(),
    ];
    let mut spec = control_plane_container(
        profile,
        config,
        paths,
        Role::Apiserver,
        config.apiserver_ip(),
        "kube-apiserver",
        args,
        staged(&[
            ("pki/ca.crt", "pki/ca.crt"),
            ("pki/apiserver.crt", "pki/apiserver.crt"),
            ("pki/apiserver.key", "pki/apiserver.key"),
            (
                "pki/apiserver-kubelet-client.crt",
                "pki/apiserver-kubelet-client.crt",
            ),
            (
                "pki/apiserver-kubelet-client.key",
                "pki/apiserver-kubelet-client.key",
            ),
            ("pki/front-proxy-ca.crt", "pki/front-proxy-ca.crt"),
            ("pki/front-proxy-client.crt", "pki/front-proxy-client.crt"),
            ("pki/front-proxy-client.key", "pki/front-proxy-client.key"),
            ("pki/etcd/ca.crt", "pki/etcd/ca.crt"),
            (
                "pki/apiserver-etcd-client.crt",
                "pki/apiserver-etcd-client.crt",
            ),
            (
                "pki/apiserver-etcd-client.key",
                "pki/apiserver-etcd-client.key",
            ),
            ("pki/sa.pub", "pki/sa.pub"),
            ("pki/sa.key", "pki/sa.key"),
        ]),
    );
    // Published on 127.0.0.1 only, on the port chosen once for the profile: kubectl on the host
    // reaches it, nothing beyond this machine does.
    spec.ports.push(PortSpec {
        host_ip: Ipv4Addr::LOCALHOST,
        host_port: config.apiserver_port,
        container_port: APISERVER_PORT,
        protocol: "tcp".into(),
    });
    spec
}

fn controller_manager(
    profile: &ProfileName,
    config: &ProfileConfig,
    paths: &HostFacts,
) -> ContainerSpec {
    let dir = COMPONENT_CONFIG_DIR;
    let kubeconfig = format!("{dir}/controller-manager.conf");
    let args = vec![
        format!("--kubeconfig={kubeconfig}"),
        format!("--authentication-kubeconfig={kubeconfig}"),
        format!("--authorization-kubeconfig={kubeconfig}"),
        "--bind-address=127.0.0.1".into(),
        format!("--client-ca-file={dir}/pki/ca.crt"),
        format!("--requestheader-client-ca-file={dir}/pki/front-proxy-ca.crt"),
        format!("--root-ca-file={dir}/pki/ca.crt"),
        format!("--service-account-private-key-file={dir}/pki/sa.key"),
        format!("--cluster-signing-cert-file={dir}/pki/ca.crt"),
        format!("--cluster-signing-key-file={dir}/pki/ca.key"),
        // Each controller acts as its own ServiceAccount, so RBAC gives each only its own rights.
        "--use-service-account-credentials=true".into(),
        // Getting those identities costs four requests per controller (the ServiceAccount, its
        // namespace, its creation, a token), made one controller after another through the
        // client's rate limiter before any controller runs. At the default 20 requests/s with a
        // burst of 30 that alone took 5-6 s of every first start; one user's cluster has no
        // need to shield its apiserver from its own controller-manager, which the apiserver's
        // priority and fairness does anyway.
        "--kube-api-qps=200".into(),
        "--kube-api-burst=400".into(),
        "--controllers=*,bootstrapsigner,tokencleaner".into(),
        // Each node gets a /24 of the pod CIDR in node.spec.podCIDR; the node's CNI config and
        // the other nodes' routes are made from it.
        "--allocate-node-cidrs=true".into(),
        format!("--cluster-cidr={}", config.pod_cidr),
        format!("--service-cluster-ip-range={}", config.service_cidr),
        format!("--cluster-name={profile}"),
        // One replica: no one to elect against, and no lease traffic.
        "--leader-elect=false".into(),
        "--profiling=false".into(),
    ];
    control_plane_container(
        profile,
        config,
        paths,
        Role::ControllerManager,
        config.controller_manager_ip(),
        "kube-controller-manager",
        args,
        staged(&[
            (
                "kubeconfigs/controller-manager.conf",
                "controller-manager.conf",
            ),
            ("pki/ca.crt", "pki/ca.crt"),
            ("pki/ca.key", "pki/ca.key"),
            ("pki/front-proxy-ca.crt", "pki/front-proxy-ca.crt"),
            ("pki/sa.key", "pki/sa.key"),
        ]),
    )
}

fn scheduler(profile: &ProfileName, config: &ProfileConfig, paths: &HostFacts) -> ContainerSpec {
    let kubeconfig = format!("{COMPONENT_CONFIG_DIR}/scheduler.conf");
    let args = vec![
        format!("--kubeconfig={kubeconfig}"),
        format!("--authentication-kubeconfig={kubeconfig}"),
        format!("--authorization-kubeconfig={kubeconfig}"),
        "--bind-address=127.0.0.1".into(),
        "--leader-elect=false".into(),
        "--profiling=false".into(),
    ];
    control_plane_container(
        profile,
        config,
        paths,
        Role::Scheduler,
        config.scheduler_ip(),
        "kube-scheduler",
        args,
        staged(&[("kubeconfigs/scheduler.conf", "scheduler.conf")]),
    )
}

fn node_container(
    profile: &ProfileName,
    config: &ProfileConfig,
    paths: &HostFacts,
    node: &str,
    number: u32,
) -> ContainerSpec {
    let name = names::node_container(node);
    let dir = NODE_CONFIG_DIR;
    ContainerSpec {
        name: name.clone(),
        role: Role::Node.as_str().to_string(),
        // kubelet registers the node under its hostname.
        hostname: node.to_string(),
        image: names::image("node", &config.kubernetes_version),
        entrypoint: vec![NODE_ENTRYPOINT.into()],
        args: Vec::new(),
        network: names::network(profile),
        ip: config.node_ip(number),
        mounts: vec![
            config_mount(paths, &name, dir),
            // containerd's images and snapshots, kubelet's state and pod logs: a volume, so the
            // overlayfs snapshotter is not stacked on the container's own overlay, and so pulled
            // or loaded images survive the container.
            MountSpec::Volume {
                name: names::node_volume(node),
                target: "/var".into(),
            },
            // Fresh on every boot, as on a real machine: sockets, pids, mount points.
            MountSpec::Tmpfs {
                target: "/run".into(),
            },
            MountSpec::Tmpfs {
                target: "/tmp".into(),
            },
        ]
        .into_iter()
        .chain(paths.host_has_lib_modules.then(|| {
            // kube-proxy and the CNI plugins look up kernel modules; read-only.
            MountSpec::Bind {
                source: PathBuf::from("/lib/modules"),
                target: "/lib/modules".into(),
                read_only: true,
            }
        }))
        .collect(),
        ports: Vec::new(),
        labels: labels(profile, Role::Node.as_str(), Some(node)),
        restart_policy: "unless-stopped".into(),
        security: node_security(),
        staged_files: staged(&[
            (
                &format!("kubeconfigs/kubelet-{node}.conf"),
                "kubelet/kubeconfig",
            ),
            ("kubeconfigs/kube-proxy.conf", "kube-proxy/kubeconfig"),
            ("pki/ca.crt", "pki/ca.crt"),
            (
                &format!("pki/kubelet-serving-{node}.crt"),
                "pki/kubelet.crt",
            ),
            (
                &format!("pki/kubelet-serving-{node}.key"),
                "pki/kubelet.key",
            ),
        ]),
    }
}

/// Docker's default rights plus CAP_NET_ADMIN, which only netinit uses, to set the container's
/// routes in its own network namespace; it drops the capability before the component starts.
pub fn control_plane_security() -> SecuritySpec {
    SecuritySpec {
        cap_add: vec!["NET_ADMIN".into()],
        ..SecuritySpec::default()
    }
}

/// A node runs containerd, which creates namespaces, mounts, cgroups and iptables rules for pods:
/// it needs near-root rights inside its own namespaces. Only nodes get these.
pub fn node_security() -> SecuritySpec {
    SecuritySpec {
        privileged: true,
        // Fallback where --privileged is refused: every capability but SYS_RESOURCE, which this
        // sandbox's bounding set lacks (measured).
        cap_add: vec!["ALL".into()],
        cap_drop: vec!["SYS_RESOURCE".into()],
        security_opt: vec![
            // runc inside needs syscalls (unshare, mount, keyctl) the default profile blocks.
            "seccomp=unconfined".into(),
            "apparmor=unconfined".into(),
        ],
        unmask_system_paths: true,
        // The node's own cgroup namespace: its cgroup tree is rooted at its container and can be
        // mounted writable inside without touching the host's hierarchy.
        cgroupns_private: true,
    }
}

/// The node image's entrypoint (images/node/entrypoint): PID 1 of every node.
pub const NODE_ENTRYPOINT: &str = "/usr/local/bin/entrypoint";

/// The network of a container that needs none.
pub const NO_NETWORK: &str = "none";

/// The container that fills a new node image's containerd store (`Image::preloaded`) before it
/// is committed as the image: containerd alone, run from the image as a node runs it, but with
/// no network (it only reads the images it is given on stdin) and no /var volume, so what it
/// writes under /var/lib/containerd is the container's own layer.
pub fn node_preload_container(image: &str, name: &str) -> ContainerSpec {
    ContainerSpec {
        name: name.to_string(),
        role: "node-preload".into(),
        hostname: "preload".into(),
        image: image.to_string(),
        // containerd's defaults are the node's root, state and socket; the node's entrypoint
        // would also set up pod networking, which needs a network.
        entrypoint: vec!["containerd".into()],
        args: Vec::new(),
        network: NO_NETWORK.into(),
        ip: Ipv4Addr::UNSPECIFIED,
        mounts: vec![
            // containerd's state and socket, as in a node; nothing of them belongs in the image.
            MountSpec::Tmpfs {
                target: "/run".into(),
            },
            MountSpec::Tmpfs {
                target: "/tmp".into(),
            },
        ],
        ports: Vec::new(),
        // None: the image committed from it would carry them.
        labels: BTreeMap::new(),
        restart_policy: "no".into(),
        // Unpacking layers mounts snapshots, as in a node.
        security: node_security(),
        staged_files: Vec::new(),
    }
}

/// The plan as a reader sees it in `start --dry-run`: one block per container.
pub fn render_text(plan: &ClusterPlan) -> String {
    let mut out = String::new();
    let n = &plan.network;
    out.push_str(&format!(
        "network {} subnet {} gateway {}\n",
        n.name, n.subnet, n.gateway
    ));
    for v in &plan.volumes {
        out.push_str(&format!("volume  {}\n", v.name));
    }
    for c in &plan.containers {
        out.push_str(&format!("\ncontainer {} ({})\n", c.name, c.role));
        out.push_str(&format!("  image:   {}\n", c.image));
        out.push_str(&format!("  address: {} on {}\n", c.ip, c.network));
        out.push_str(&format!(
            "  command: {}\n",
            c.entrypoint
                .iter()
                .chain(&c.args)
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(" \\\n           ")
        ));
        for m in &c.mounts {
            let line = match m {
                MountSpec::Volume { name, target } => format!("volume {name} -> {target}"),
                MountSpec::Bind {
                    source,
                    target,
                    read_only,
                } => format!(
                    "bind {} -> {target}{}",
                    source.display(),
                    if *read_only { " (ro)" } else { "" }
                ),
                MountSpec::Tmpfs { target } => format!("tmpfs {target}"),
            };
            out.push_str(&format!("  mount:   {line}\n"));
        }
        for p in &c.ports {
            out.push_str(&format!(
                "  port:    {}:{} -> {}/{}\n",
                p.host_ip, p.host_port, p.container_port, p.protocol
            ));
        }
        let labels: Vec<String> = c.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.push_str(&format!("  labels:  {}\n", labels.join(", ")));
        out.push_str(&format!("  restart: {}\n", c.restart_policy));
        let s = &c.security;
        if s.privileged || !s.cap_add.is_empty() {
            out.push_str(&format!(
                "  rights:  privileged (else cap-add {} cap-drop {}), {}{}, cgroupns {}\n",
                s.cap_add.join(","),
                s.cap_drop.join(","),
                s.security_opt.join(", "),
                if s.unmask_system_paths {
                    ", systempaths=unconfined"
                } else {
                    ""
                },
                if s.cgroupns_private {
                    "private"
                } else {
                    "host"
                }
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> ClusterPlan {
        let profile = ProfileName::parse("dev").unwrap();
        let config = ProfileConfig::new(40123, "172.30.7.0/24".parse().unwrap());
        let paths = HostFacts {
            host_has_lib_modules: true,
            ..HostFacts::example("/home/u/.local/share/localkube/profiles/dev")
        };
        plan(&profile, &config, &paths)
    }

    fn container<'a>(plan: &'a ClusterPlan, name: &str) -> &'a ContainerSpec {
        plan.containers
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no container {name}"))
    }

    #[test]
    fn plans_every_component_in_start_order() {
        let plan = fixture();
        let names: Vec<&str> = plan.containers.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "dev-etcd",
                "dev-apiserver",
                "dev-controller-manager",
                "dev-scheduler",
                "dev",
                "dev-lb-controller"
            ]
        );
        assert_eq!(plan.network.name, "localkube-dev");
        let volumes: Vec<&str> = plan.volumes.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(volumes, ["dev-etcd-data", "dev-var"]);
    }

    #[test]
    fn everything_carries_the_profile_label() {
        let plan = fixture();
        let all_labels = std::iter::once(&plan.network.labels)
            .chain(plan.volumes.iter().map(|v| &v.labels))
            .chain(plan.containers.iter().map(|c| &c.labels));
        for labels in all_labels {
            assert_eq!(labels.get(LABEL_PROFILE).map(String::as_str), Some("dev"));
            assert!(labels.contains_key(LABEL_ROLE));
        }
    }

    #[test]
    fn only_the_apiserver_is_published_and_only_on_loopback() {
        let plan = fixture();
        for c in &plan.containers {
            if c.name == "dev-apiserver" {
                assert_eq!(
                    c.ports,
                    vec![PortSpec {
                        host_ip: Ipv4Addr::LOCALHOST,
                        host_port: 40123,
                        container_port: 6443,
                        protocol: "tcp".into()
                    }]
                );
            } else {
                assert!(c.ports.is_empty(), "{} publishes ports", c.name);
            }
        }
    }

    #[test]
    fn only_nodes_get_elevated_rights() {
        let plan = fixture();
        for c in &plan.containers {
            if c.role == "node" {
                assert!(c.security.privileged);
                assert_eq!(c.security.cap_drop, ["SYS_RESOURCE"]);
                assert!(c.security.cgroupns_private);
            } else if c.entrypoint.first().map(String::as_str) == Some(NETINIT) {
                assert_eq!(c.security, control_plane_security(), "{}", c.name);
            } else {
                assert_eq!(c.security, SecuritySpec::default(), "{}", c.name);
            }
        }
    }

    #[test]
    fn control_plane_components_start_behind_netinit_with_their_routes() {
        let plan = fixture();
        for role in Role::CONTROL_PLANE {
            let c = container(&plan, &format!("dev-{}", role.as_str()));
            assert_eq!(
                c.entrypoint[..3],
                [NETINIT, "/etc/kubernetes/routes", "--"],
                "{}",
                c.name
            );
            assert!(c.entrypoint[3].starts_with("/usr/local/bin/"));
            assert_eq!(c.security.cap_add, ["NET_ADMIN"]);
            assert!(!c.security.privileged);
        }
    }

    #[test]
    fn addresses_are_fixed_and_distinct() {
        let plan = fixture();
        let ips: std::collections::BTreeSet<_> = plan.containers.iter().map(|c| c.ip).collect();
        assert_eq!(ips.len(), plan.containers.len());
        assert_eq!(container(&plan, "dev-etcd").ip.to_string(), "172.30.7.2");
        assert_eq!(container(&plan, "dev").ip.to_string(), "172.30.7.10");
    }

    #[test]
    fn apiserver_flags_follow_kubeadm() {
        let plan = fixture();
        let api = container(&plan, "dev-apiserver");
        for flag in [
            "--advertise-address=172.30.7.3",
            "--secure-port=6443",
            "--etcd-servers=https://172.30.7.2:2379",
            "--service-cluster-ip-range=10.96.0.0/12",
            "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        ] {
            assert!(api.args.iter().any(|a| a == flag), "missing {flag}");
        }
        assert_eq!(
            api.image,
            format!(
                "localkube/kube-apiserver:{}",
                crate::plan::version::DEFAULT_KUBERNETES_VERSION
            )
        );
    }

    #[test]
    fn hardening_follows_cis_and_kubeadm() {
        let plan = fixture();
        let api = container(&plan, "dev-apiserver");
        let ca = api
            .args
            .iter()
            .find_map(|a| a.strip_prefix("--kubelet-certificate-authority="));
        assert!(
            ca.is_some_and(|path| path.ends_with("/pki/ca.crt")),
            "{:?}",
            api.args
        );
        for name in ["dev-apiserver", "dev-controller-manager", "dev-scheduler"] {
            let c = container(&plan, name);
            assert!(c.args.iter().any(|a| a == "--profiling=false"), "{name}");
        }
    }

    #[test]
    fn controller_manager_allocates_node_cidrs_from_the_pod_cidr() {
        let plan = fixture();
        let cm = container(&plan, "dev-controller-manager");
        assert!(cm.args.contains(&"--allocate-node-cidrs=true".to_string()));
        assert!(
            cm.args
                .contains(&"--cluster-cidr=10.244.0.0/16".to_string())
        );
    }

    #[test]
    fn components_see_only_their_own_secrets() {
        let plan = fixture();
        let scheduler = container(&plan, "dev-scheduler");
        assert_eq!(scheduler.staged_files.len(), 1);
        let etcd = container(&plan, "dev-etcd");
        assert!(
            etcd.staged_files
                .iter()
                .all(|f| f.from.starts_with("pki/etcd/"))
        );
        assert!(
            !container(&plan, "dev-apiserver")
                .staged_files
                .iter()
                .any(|f| f.from == "pki/ca.key"),
            "the apiserver does not sign certificates"
        );
    }

    #[test]
    fn nodes_share_kernel_modules_only_where_the_host_has_them() {
        let profile = ProfileName::parse("dev").unwrap();
        let config = ProfileConfig::new(40123, "172.30.7.0/24".parse().unwrap());
        for has in [true, false] {
            let paths = HostFacts {
                host_has_lib_modules: has,
                ..HostFacts::example("/p")
            };
            let plan = plan(&profile, &config, &paths);
            let node = container(&plan, "dev");
            let mounted = node
                .mounts
                .iter()
                .any(|m| matches!(m, MountSpec::Bind { target, .. } if target == "/lib/modules"));
            assert_eq!(mounted, has);
        }
    }

    #[test]
    fn etcd_data_is_on_its_volume() {
        let plan = fixture();
        assert!(
            container(&plan, "dev-etcd")
                .mounts
                .contains(&MountSpec::Volume {
                    name: "dev-etcd-data".into(),
                    target: "/var/lib/etcd".into()
                })
        );
    }

    #[test]
    fn several_nodes_get_their_own_names_volumes_and_addresses() {
        let profile = ProfileName::parse("dev").unwrap();
        let mut config = ProfileConfig::new(40123, "172.30.7.0/24".parse().unwrap());
        config.nodes = crate::plan::config::Nodes::first(3);
        let paths = HostFacts::example("/p");
        let plan = plan(&profile, &config, &paths);
        let nodes: Vec<(&str, String)> = plan
            .containers
            .iter()
            .filter(|c| c.role == "node")
            .map(|c| (c.name.as_str(), c.ip.to_string()))
            .collect();
        assert_eq!(
            nodes,
            [
                ("dev", "172.30.7.10".to_string()),
                ("dev-m02", "172.30.7.11".to_string()),
                ("dev-m03", "172.30.7.12".to_string())
            ]
        );
        assert_eq!(plan.volumes.len(), 4);
    }

    #[test]
    fn text_rendering_names_every_container_image_and_mount() {
        let plan = fixture();
        let text = render_text(&plan);
        for c in &plan.containers {
            assert!(text.contains(&format!("container {}", c.name)));
            assert!(text.contains(&c.image));
        }
        assert!(text.contains("127.0.0.1:40123 -> 6443/tcp"));
        assert!(text.contains("volume dev-etcd-data -> /var/lib/etcd"));
    }
}
