//! The cluster as Docker objects: one network, volumes, and a container per component, each
//! described as plain data before anything runs (kind's provider plans every name and flag first).
//! `start --dry-run` prints exactly this plan; `start` creates it.
//!
//! Every container option below carries the reason it is there.

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::plan::config::ProfileConfig;
use crate::plan::load_balancer;
use crate::plan::names::{
    self, LABEL_MEMBER, LABEL_NODE, LABEL_PROFILE, LABEL_ROLE, LABEL_SPEC_DIGEST, Role,
};
use crate::plan::profile_name::ProfileName;
use crate::plan::routes::CONTROL_PLANE_ROUTES_FILE;

mod apiserver_lb;
mod components;
mod node;
mod user_settings;

pub use crate::plan::spec::{CAPABILITY_REASONS, least_privilege, with_spec_digest};
pub use crate::plan::spec::{
    COMPONENT_CONFIG_DIR, ContainerSpec, HostFacts, MountSpec, NODE_CONFIG_DIR, NetworkSpec,
    PortSpec, SecuritySpec, StagedFile, VolumeSpec,
};
pub use components::control_plane_security;
use components::{apiserver, controller_manager, etcd, scheduler};
use node::node_container;
pub use node::{
    LOG_DRIVER, LOG_OPTIONS, NO_NETWORK, NODE_ENTRYPOINT, node_preload_container, node_security,
};
pub use user_settings::{AUDIT_HOST_DIR, AUDIT_POLICY_FILE, LABEL_AUDIT_POLICY, audit_host_dir};

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
        subnet_v6: config.network_subnet_v6(),
        labels: labels(profile, "network", None),
    };
    let node_names = names::node_names(profile, &config.nodes);
    let mut volumes: Vec<VolumeSpec> = config
        .members()
        .map(|member| VolumeSpec {
            name: names::etcd_member_volume(profile, member),
            labels: labels(profile, Role::Etcd.as_str(), None),
        })
        .collect();
    volumes.extend(node_names.iter().map(|node| VolumeSpec {
        name: names::node_volume(node),
        labels: labels(profile, Role::Node.as_str(), Some(node)),
    }));

    // Each component's members together (etcd's first, which the others need), the apiservers'
    // load balancer after the apiservers.
    let members = || config.members();
    let mut control_plane: Vec<ContainerSpec> = Vec::new();
    control_plane.extend(members().map(|m| etcd(profile, config, paths, m)));
    control_plane.extend(members().map(|m| apiserver(profile, config, paths, m)));
    if config.is_ha() {
        control_plane.push(apiserver_lb::apiserver_lb(profile, config, paths));
    }
    control_plane.extend(members().map(|m| controller_manager(profile, config, paths, m)));
    control_plane.extend(members().map(|m| scheduler(profile, config, paths, m)));
    let mut containers: Vec<ContainerSpec> = control_plane
        .into_iter()
        .map(|spec| user_settings::control_plane(spec, config, paths))
        .map(with_spec_digest)
        .collect();
    containers.extend(
        config
            .nodes
            .numbers()
            .iter()
            .zip(&node_names)
            .map(|(number, node)| node_container(profile, config, paths, node, *number))
            .map(|spec| user_settings::node(spec, config))
            .map(|spec| with_node_digest(spec, config)),
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

/// A node's digest also covers the kubelet and kube-proxy configuration it is given, so a node
/// whose settings changed (a KubeletConfiguration field, a gate, a host folder) is made anew from
/// the plan; its /var volume, with its images and pods' data, is kept.
fn with_node_digest(mut spec: ContainerSpec, config: &ProfileConfig) -> ContainerSpec {
    let mut hash = Sha256::new();
    hash.update(serde_json::to_vec(&spec).expect("a container spec serialises"));
    for file in crate::plan::node_config::node_files(config, &spec.hostname, spec.ip) {
        if file.path.ends_with("config.yaml") {
            hash.update(file.content.as_bytes());
        }
    }
    spec.labels
        .insert(LABEL_SPEC_DIGEST.to_string(), hex::encode(hash.finalize()));
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

/// Which member of the control plane a container is: its number, and whether it has peers (so
/// its container carries the member label; a single control plane's containers are as before).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Member {
    number: u32,
    of_several: bool,
}

impl Member {
    fn of(config: &ProfileConfig, number: u32) -> Self {
        Member {
            number,
            of_several: config.is_ha(),
        }
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
    member: Member,
    binary: &str,
    args: Vec<String>,
    staged_files: Vec<StagedFile>,
) -> ContainerSpec {
    let name = names::member_container(profile, role, member.number);
    let ip = config.member_ip(role, member.number);
    let mut labels = labels(profile, role.as_str(), None);
    if member.of_several {
        // `status` and `node list` group the containers by member.
        labels.insert(LABEL_MEMBER.to_string(), member.number.to_string());
    }
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
        ip6: config.ipv6_twin(ip),
        ports: Vec::new(),
        labels,
        // Back after a crash or a dockerd restart, but a `localkube stop` stays stopped.
        restart_policy: "unless-stopped".to_string(),
        security: control_plane_security(),
        staged_files,
        role,
        name,
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
    if let Some(v6) = n.subnet_v6 {
        out.push_str(&format!("        IPv6 subnet {v6}\n"));
    }
    for v in &plan.volumes {
        out.push_str(&format!("volume  {}\n", v.name));
    }
    for c in &plan.containers {
        out.push_str(&format!("\ncontainer {} ({})\n", c.name, c.role));
        out.push_str(&format!("  image:   {}\n", c.image));
        out.push_str(&format!("  address: {} on {}\n", c.ip, c.network));
        if let Some(ip6) = c.ip6 {
            out.push_str(&format!("           {ip6}\n"));
        }
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
                MountSpec::VolumeReadOnly { name, target } => {
                    format!("volume {name} -> {target} (ro)")
                }
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
        if !s.privileged && !s.cap_drop.is_empty() {
            out.push_str(&format!(
                "  rights:  cap-drop {} cap-add {}{}\n",
                s.cap_drop.join(","),
                if s.cap_add.is_empty() {
                    "none".to_string()
                } else {
                    s.cap_add.join(",")
                },
                s.security_opt
                    .iter()
                    .map(|o| format!(", {o}"))
                    .collect::<String>()
            ));
        } else if s.privileged || !s.cap_add.is_empty() {
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
    use std::net::Ipv4Addr;

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
    fn only_nodes_get_elevated_rights_and_the_rest_the_least_they_need() {
        let plan = fixture();
        for c in &plan.containers {
            if c.role == Role::Node {
                assert!(c.security.privileged);
                assert_eq!(c.security.cap_drop, ["SYS_RESOURCE"]);
                assert!(c.security.cgroupns_private);
                continue;
            }
            if c.entrypoint.first().map(String::as_str) == Some(NETINIT) {
                assert_eq!(c.security, control_plane_security(), "{}", c.name);
            }
            assert!(!c.security.privileged, "{}", c.name);
            assert_eq!(c.security.cap_drop, ["ALL"], "{}", c.name);
            assert_eq!(c.security.security_opt, ["no-new-privileges"], "{}", c.name);
            for cap in &c.security.cap_add {
                assert!(
                    CAPABILITY_REASONS.iter().any(|(name, _)| name == cap),
                    "{} gets {cap}, which has no reason in CAPABILITY_REASONS",
                    c.name
                );
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
            assert_eq!(
                c.security.cap_add,
                ["NET_ADMIN", "SETPCAP", "DAC_READ_SEARCH"]
            );
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
            .filter(|c| c.role == Role::Node)
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

    fn ha_fixture() -> ClusterPlan {
        let profile = ProfileName::parse("dev").unwrap();
        let mut config = ProfileConfig::new(40123, "172.30.7.0/24".parse().unwrap());
        config.control_planes = 3;
        config.validate().unwrap();
        plan(&profile, &config, &HostFacts::example("/p"))
    }

    fn arg<'a>(c: &'a ContainerSpec, flag: &str) -> &'a str {
        c.args
            .iter()
            .find_map(|a| a.strip_prefix(&format!("{flag}=")))
            .unwrap_or_else(|| panic!("{} has no {flag}", c.name))
    }

    #[test]
    fn three_members_each_run_every_component_behind_one_load_balancer() {
        let plan = ha_fixture();
        let names: Vec<&str> = plan.containers.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "dev-etcd",
                "dev-etcd-2",
                "dev-etcd-3",
                "dev-apiserver",
                "dev-apiserver-2",
                "dev-apiserver-3",
                "dev-apiserver-lb",
                "dev-controller-manager",
                "dev-controller-manager-2",
                "dev-controller-manager-3",
                "dev-scheduler",
                "dev-scheduler-2",
                "dev-scheduler-3",
                "dev",
                "dev-lb-controller"
            ]
        );
        let volumes: Vec<&str> = plan.volumes.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(
            volumes,
            [
                "dev-etcd-data",
                "dev-etcd-2-data",
                "dev-etcd-3-data",
                "dev-var"
            ]
        );
        let ips: std::collections::BTreeSet<_> = plan.containers.iter().map(|c| c.ip).collect();
        assert_eq!(ips.len(), plan.containers.len(), "addresses are distinct");
        // Only the load balancer is published, on loopback, and it forwards to every apiserver,
        // checking /readyz against the cluster CA it is given.
        let lb = container(&plan, "dev-apiserver-lb");
        for c in &plan.containers {
            assert_eq!(c.ports.is_empty(), c.name != lb.name, "{}", c.name);
        }
        assert_eq!(lb.ports[0].host_ip, Ipv4Addr::LOCALHOST);
        assert_eq!(lb.ports[0].host_port, 40123);
        assert_eq!(lb.ip.to_string(), "172.30.7.8");
        assert_eq!(lb.entrypoint, ["/usr/local/bin/localkube", "lb-proxy"]);
        let backends: Vec<&str> = lb
            .args
            .iter()
            .filter_map(|a| a.strip_prefix("--backend="))
            .collect();
        assert_eq!(backends, ["172.30.7.3", "172.30.7.21", "172.30.7.25"]);
        assert_eq!(arg(lb, "--ready-check-ca"), "/etc/kubernetes/pki/ca.crt");
        assert_eq!(lb.staged_files.len(), 1);
        assert_eq!(lb.staged_files[0].from, "pki/ca.crt");
        assert_eq!(lb.security.cap_add, ["DAC_READ_SEARCH"]);
        assert_eq!(lb.restart_policy, "unless-stopped");
    }

    #[test]
    fn etcd_members_form_one_cluster_each_with_its_own_certificates_and_volume() {
        let plan = ha_fixture();
        let cluster = "dev-etcd=https://172.30.7.2:2380,dev-etcd-2=https://172.30.7.20:2380,\
                       dev-etcd-3=https://172.30.7.24:2380";
        for (m, name, ip) in [
            (1, "dev-etcd", "172.30.7.2"),
            (2, "dev-etcd-2", "172.30.7.20"),
            (3, "dev-etcd-3", "172.30.7.24"),
        ] {
            let etcd = container(&plan, name);
            assert_eq!(arg(etcd, "--name"), name);
            assert_eq!(arg(etcd, "--initial-cluster"), cluster);
            assert_eq!(arg(etcd, "--initial-cluster-token"), "dev");
            assert_eq!(
                arg(etcd, "--initial-advertise-peer-urls"),
                format!("https://{ip}:2380")
            );
            assert_eq!(
                arg(etcd, "--advertise-client-urls"),
                format!("https://{ip}:2379")
            );
            assert_eq!(etcd.labels.get(LABEL_MEMBER), Some(&m.to_string()));
            let suffix = if m == 1 {
                String::new()
            } else {
                format!("-{m}")
            };
            let from: Vec<&str> = etcd.staged_files.iter().map(|f| f.from.as_str()).collect();
            assert!(from.contains(&format!("pki/etcd/server{suffix}.crt").as_str()));
            assert!(from.contains(&format!("pki/etcd/peer{suffix}.key").as_str()));
            let to: Vec<&str> = etcd.staged_files.iter().map(|f| f.to.as_str()).collect();
            assert!(to.contains(&"pki/etcd/server.crt") && to.contains(&"pki/etcd/peer.key"));
            assert!(etcd.mounts.contains(&MountSpec::Volume {
                name: format!("{name}-data"),
                target: "/var/lib/etcd".into()
            }));
        }
        // Each apiserver advertises itself and uses every etcd member, its own first.
        let api2 = container(&plan, "dev-apiserver-2");
        assert_eq!(arg(api2, "--advertise-address"), "172.30.7.21");
        assert_eq!(
            arg(api2, "--etcd-servers"),
            "https://172.30.7.20:2379,https://172.30.7.2:2379,https://172.30.7.24:2379"
        );
    }

    #[test]
    fn controller_managers_and_schedulers_elect_a_leader_only_with_several_members() {
        let ha = ha_fixture();
        let single = fixture();
        for role in ["controller-manager", "scheduler"] {
            for m in ["", "-2", "-3"] {
                let c = container(&ha, &format!("dev-{role}{m}"));
                assert_eq!(arg(c, "--leader-elect"), "true", "{}", c.name);
            }
            let c = container(&single, &format!("dev-{role}"));
            assert_eq!(arg(c, "--leader-elect"), "false");
            assert!(!c.labels.contains_key(LABEL_MEMBER));
        }
        assert!(!arg(container(&single, "dev-etcd"), "--initial-cluster").contains(','));
        assert!(
            !container(&single, "dev-etcd")
                .args
                .iter()
                .any(|a| a.starts_with("--initial-cluster-token"))
        );
    }
}
