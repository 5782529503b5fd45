//! What a node's entrypoint reads from its config folder (`/etc/localkube`, see
//! `spec::NODE_CONFIG_DIR`): kubelet's and kube-proxy's configuration files and flags, the
//! node's environment, its CNI configuration and routes to the other nodes' pods.
//!
//! The files follow kubeadm's and kind's choices; the reasons for the
//! settings that differ from upstream defaults are noted beside them.

use std::net::{IpAddr, Ipv4Addr};

use ipnet::{IpNet, Ipv4Net};
use serde_json::json;

use crate::plan::config::ProfileConfig;
use crate::plan::known_options::Component;
use crate::plan::networking::{self, NODE_POD_CIDR_PREFIX_V6};
use crate::plan::spec::NODE_CONFIG_DIR;

/// A file for a node's config folder: path relative to it, and content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeFile {
    pub path: String,
    pub content: String,
}

/// Files known before the node exists: everything but the CNI configuration.
/// The files whose presence starts kubelet and kube-proxy in a node (the entrypoint waits for
/// them). `start` writes them once the apiserver answers: a kubelet started earlier retries its
/// registration with a backoff that reaches 7 s, longer than the apiserver takes to come up.
pub const PROCESS_FLAG_FILES: [&str; 2] = ["kubelet/flags", "kube-proxy/flags"];

/// A node's files split into those it boots with and the flags files that start its processes.
pub fn split_process_flags(files: Vec<NodeFile>) -> (Vec<NodeFile>, Vec<NodeFile>) {
    files
        .into_iter()
        .partition(|f| !PROCESS_FLAG_FILES.contains(&f.path.as_str()))
}

pub fn node_files(config: &ProfileConfig, node: &str, node_ip: Ipv4Addr) -> Vec<NodeFile> {
    vec![
        NodeFile {
            path: "node.env".into(),
            content: node_env(config, node, node_ip),
        },
        NodeFile {
            path: "kubelet/config.yaml".into(),
            content: kubelet_config(config),
        },
        NodeFile {
            path: "kubelet/flags".into(),
            content: lines(&kubelet_flags(node, &config.addresses_of(node_ip))),
        },
        NodeFile {
            path: "kube-proxy/config.yaml".into(),
            content: kube_proxy_config(config, node),
        },
        NodeFile {
            path: "kube-proxy/flags".into(),
            content: lines(&kube_proxy_flags()),
        },
    ]
}

fn lines(args: &[String]) -> String {
    let mut out = args.join("\n");
    out.push('\n');
    out
}

/// Shell-sourceable variables the entrypoint uses for masquerading and logging.
/// With IPv6, the IPv6 ranges too: the entrypoint masquerades, fences and routes them with
/// ip6tables and `ip -6` as it does the IPv4 ones. (An IPv6-only profile's IPv4 ranges stay
/// fenced: nothing uses them, and nothing for them leaves either.)
pub fn node_env(config: &ProfileConfig, node: &str, node_ip: Ipv4Addr) -> String {
    let mut env = format!(
        "NODE_NAME={node}\nNODE_IP={node_ip}\nPOD_CIDR_ALL={}\nSERVICE_CIDR={}\n",
        config.pod_cidr, config.service_cidr
    );
    if let Some(v6) = config.ipv6 {
        env.push_str(&format!(
            "POD_CIDR_ALL_V6={}\nSERVICE_CIDR_V6={}\n",
            v6.pod_cidr, v6.service_cidr
        ));
    }
    env
}

pub fn kubelet_flags(node: &str, node_ips: &[IpAddr]) -> Vec<String> {
    let dir = NODE_CONFIG_DIR;
    let node_ips: Vec<String> = node_ips.iter().map(ToString::to_string).collect();
    vec![
        format!("--config={dir}/kubelet/config.yaml"),
        format!("--kubeconfig={dir}/kubelet/kubeconfig"),
        // The addresses other components use to reach this kubelet and its pods' host ports,
        // one per family, primary first (a dual-stack node reports both as InternalIP).
        format!("--node-ip={}", node_ips.join(",")),
        format!("--hostname-override={node}"),
    ]
}

/// KubeletConfiguration as kubeadm and kind write it, for a node inside a container, with the
/// profile's own fields and the gates kubelet knows merged over it.
pub fn kubelet_config(config: &ProfileConfig) -> String {
    crate::plan::settings::merge_config(
        &base_kubelet_config(config),
        &config.settings.kubelet,
        &config
            .settings
            .gates_for(Component::Kubelet, &config.kubernetes_version),
    )
}

fn base_kubelet_config(config: &ProfileConfig) -> String {
    let dir = NODE_CONFIG_DIR;
    format!(
        "apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: {dir}/pki/ca.crt
authorization:
  mode: Webhook
# Serving certificate issued by localkube for the node's name and address (no CSR dance).
tlsCertFile: {dir}/pki/kubelet.crt
tlsPrivateKeyFile: {dir}/pki/kubelet.key
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
clusterDNS:
  - {dns}
clusterDomain: {domain}
containerRuntimeEndpoint: unix:///run/containerd/containerd.sock
# Must equal containerd's runc setting (SystemdCgroup = false): there is no systemd in the node.
cgroupDriver: cgroupfs
# Pods' cgroups go under the node's own writable tree.
cgroupRoot: /kubelet
# Hosts with cgroup v1 (such as this project's CI) are refused by default since 1.35.
failCgroupV1: false
failSwapOn: false
# A small laptop disk must not make kubelet evict the learner's pods or delete loaded images
# (kind does the same).
imageGCHighThresholdPercent: 100
evictionHard:
  nodefs.available: \"0%\"
  nodefs.inodesFree: \"0%\"
  imagefs.available: \"0%\"
",
        dns = config.dns_service_ip(),
        domain = config.dns_domain,
    )
}

pub fn kube_proxy_flags() -> Vec<String> {
    vec![format!("--config={NODE_CONFIG_DIR}/kube-proxy/config.yaml")]
}

/// KubeProxyConfiguration, with the profile's own fields and the gates kube-proxy knows merged
/// over it.
pub fn kube_proxy_config(config: &ProfileConfig, node: &str) -> String {
    crate::plan::settings::merge_config(
        &base_kube_proxy_config(config, node),
        &config.settings.kube_proxy,
        &config
            .settings
            .gates_for(Component::KubeProxy, &config.kubernetes_version),
    )
}

fn base_kube_proxy_config(config: &ProfileConfig, node: &str) -> String {
    format!(
        "apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
hostnameOverride: {node}
clusterCIDR: {pod_cidr}
clientConnection:
  kubeconfig: {dir}/kube-proxy/kubeconfig
# Zero means: leave the kernel's conntrack settings alone. Otherwise kube-proxy writes host-wide
# values (nf_conntrack_max, hashsize) from inside the node.
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
# A change of Service or endpoints reaches the rules within 0.1 s instead of up to 1 s: after a
# start every pod has a new address, and the default's batching (made for thousands of Services)
# was a second on the way to a Service answering. A sync here rewrites a few dozen rules.
iptables:
  minSyncPeriod: 100ms
",
        // Every family's range: kube-proxy tells the cluster's own traffic by it in each.
        pod_cidr = networking::comma_list(&config.pod_cidrs()),
        dir = NODE_CONFIG_DIR,
    )
}

/// The prefix of each node's pod CIDR: the controller-manager's `--node-cidr-mask-size` default,
/// which allocates the nodes localkube has not registered itself.
pub const NODE_POD_CIDR_PREFIX: u8 = 24;

/// The pod CIDRs `start` registers a node with, one per family of the profile, primary first:
/// node N's the Nth of each range (a /24 of IPv4, a /64 of IPv6), or, when another node holds
/// that one, the first that no node holds. `None`: a range is full.
pub fn planned_pod_cidrs(
    config: &ProfileConfig,
    number: u32,
    taken: &[IpNet],
) -> Option<Vec<IpNet>> {
    config
        .pod_cidrs()
        .into_iter()
        .map(|range| {
            let prefix = match range {
                IpNet::V4(_) => NODE_POD_CIDR_PREFIX,
                IpNet::V6(_) => NODE_POD_CIDR_PREFIX_V6,
            };
            let mut subnets = range.subnets(prefix).ok()?;
            let own = subnets
                .clone()
                .nth(number.saturating_sub(1) as usize)
                .filter(|c| !taken.contains(c));
            own.or_else(|| subnets.find(|c| !taken.contains(c)))
        })
        .collect()
}

/// The CNI configuration for a node once its pod CIDRs are known: ptp links with host-local
/// addresses from the node's range of each family (one address of each per pod), a default
/// route per family, and portmap for hostPort (kindnet's recipe).
pub fn cni_conflist(node_pod_cidrs: &[IpNet]) -> String {
    let ranges: Vec<_> = node_pod_cidrs
        .iter()
        .map(|cidr| json!([{ "subnet": cidr.to_string() }]))
        .collect();
    let routes: Vec<_> = node_pod_cidrs
        .iter()
        .map(|cidr| match cidr {
            IpNet::V4(_) => json!({ "dst": "0.0.0.0/0" }),
            IpNet::V6(_) => json!({ "dst": "::/0" }),
        })
        .collect();
    let conf = json!({
        "cniVersion": "0.4.0",
        "name": "localkube",
        "plugins": [
            {
                "type": "ptp",
                "ipMasq": false,
                "ipam": {
                    "type": "host-local",
                    "ranges": ranges,
                    "routes": routes
                }
            },
            {
                "type": "portmap",
                "capabilities": { "portMappings": true }
            }
        ]
    });
    serde_json::to_string_pretty(&conf).expect("JSON") + "\n"
}

/// Routes a node needs to the other nodes' pods: `CIDR via NODE_IP`, one per line.
pub fn routes(this_node: &str, nodes: &[(String, Ipv4Addr, Option<Ipv4Net>)]) -> String {
    nodes
        .iter()
        .filter(|(name, _, _)| name != this_node)
        .filter_map(|(_, ip, cidr)| cidr.map(|c| format!("{c} via {ip}\n")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_n_gets_the_nth_slash_24_unless_another_node_holds_it() {
        let config = ProfileConfig::new(6443, "172.30.1.0/24".parse().unwrap());
        let net = |s: &str| s.parse::<IpNet>().unwrap();
        assert_eq!(
            planned_pod_cidrs(&config, 1, &[]),
            Some(vec![net("10.244.0.0/24")])
        );
        assert_eq!(
            planned_pod_cidrs(&config, 3, &[]),
            Some(vec![net("10.244.2.0/24")])
        );
        assert_eq!(
            planned_pod_cidrs(&config, 3, &[net("10.244.0.0/24"), net("10.244.2.0/24")]),
            Some(vec![net("10.244.1.0/24")])
        );
    }

    fn dual() -> ProfileConfig {
        let mut config = ProfileConfig::new(6443, "172.30.1.0/24".parse().unwrap());
        config.ip_family = networking::IpFamily::Dual;
        config.ipv6 = Some(Default::default());
        config
    }

    #[test]
    fn a_dual_stack_node_gets_a_range_of_each_family_and_says_so_everywhere() {
        let config = dual();
        let net = |s: &str| s.parse::<IpNet>().unwrap();
        let cidrs = planned_pod_cidrs(&config, 2, &[]).unwrap();
        assert_eq!(cidrs, [net("10.244.1.0/24"), net("fd6c:6b00:244:1::/64")]);
        let taken = [net("fd6c:6b00:244:1::/64")];
        assert_eq!(
            planned_pod_cidrs(&config, 2, &taken).unwrap()[1],
            net("fd6c:6b00:244::/64")
        );
        let cni: serde_json::Value = serde_json::from_str(&cni_conflist(&cidrs)).unwrap();
        let ipam = &cni["plugins"][0]["ipam"];
        assert_eq!(ipam["ranges"][1][0]["subnet"], "fd6c:6b00:244:1::/64");
        assert_eq!(ipam["routes"][1]["dst"], "::/0");
        let files = node_files(&config, "dev-m02", "172.30.1.11".parse().unwrap());
        assert!(
            files[0]
                .content
                .contains("POD_CIDR_ALL_V6=fd6c:6b00:244::/56\n")
        );
        assert!(
            files[0]
                .content
                .contains("SERVICE_CIDR_V6=fd6c:6b00:96::/112\n")
        );
        assert!(
            files[2]
                .content
                .contains("--node-ip=172.30.1.11,fd6c:6b00:30:1::b\n")
        );
        let proxy: serde_json::Value =
            crate::yaml::from_str(&kube_proxy_config(&config, "dev")).unwrap();
        assert_eq!(proxy["clusterCIDR"], "10.244.0.0/16,fd6c:6b00:244::/56");
    }

    #[test]
    fn the_process_flags_are_split_from_the_boot_files() {
        let config = ProfileConfig::new(6443, "172.30.1.0/24".parse().unwrap());
        let files = node_files(&config, "n", Ipv4Addr::new(172, 30, 1, 10));
        let all = files.len();
        let (boot, flags) = split_process_flags(files);
        let paths: Vec<&str> = flags.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, PROCESS_FLAG_FILES);
        assert_eq!(boot.len() + flags.len(), all);
        assert!(boot.iter().any(|f| f.path == "node.env"));
    }

    fn config() -> ProfileConfig {
        ProfileConfig::new(40123, "172.30.7.0/24".parse().unwrap())
    }

    #[test]
    fn kubelet_config_matches_the_cluster() {
        let text = kubelet_config(&config());
        let value: serde_json::Value = crate::yaml::from_str(&text).unwrap();
        assert_eq!(value["clusterDNS"][0], "10.96.0.10");
        assert_eq!(value["clusterDomain"], "cluster.local");
        assert_eq!(value["cgroupDriver"], "cgroupfs");
        assert_eq!(value["failCgroupV1"], false);
        assert_eq!(value["authentication"]["anonymous"]["enabled"], false);
        assert_eq!(value["readOnlyPort"], 0);
        assert_eq!(value["evictionHard"]["nodefs.available"], "0%");
    }

    #[test]
    fn kube_proxy_leaves_host_conntrack_alone() {
        let text = kube_proxy_config(&config(), "dev");
        let value: serde_json::Value = crate::yaml::from_str(&text).unwrap();
        assert_eq!(value["conntrack"]["maxPerCore"], 0);
        assert_eq!(value["clusterCIDR"], "10.244.0.0/16");
        assert_eq!(value["mode"], "iptables");
        assert_eq!(value["hostnameOverride"], "dev");
    }

    #[test]
    fn kubelet_flags_name_the_node_and_its_address() {
        let flags = kubelet_flags("dev", &["172.30.7.10".parse().unwrap()]);
        assert!(flags.contains(&"--node-ip=172.30.7.10".to_string()));
        assert!(flags.contains(&"--hostname-override=dev".to_string()));
    }

    #[test]
    fn cni_uses_the_node_range() {
        let text = cni_conflist(&["10.244.1.0/24".parse().unwrap()]);
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            value["plugins"][0]["ipam"]["ranges"][0][0]["subnet"],
            "10.244.1.0/24"
        );
        assert_eq!(
            value["plugins"][0]["ipam"]["routes"],
            json!([{"dst": "0.0.0.0/0"}])
        );
        assert_eq!(value["plugins"][1]["type"], "portmap");
    }

    #[test]
    fn routes_go_to_the_other_nodes_only() {
        let nodes = vec![
            (
                "dev".to_string(),
                "172.30.7.10".parse().unwrap(),
                Some("10.244.0.0/24".parse().unwrap()),
            ),
            (
                "dev-m02".to_string(),
                "172.30.7.11".parse().unwrap(),
                Some("10.244.1.0/24".parse().unwrap()),
            ),
            ("dev-m03".to_string(), "172.30.7.12".parse().unwrap(), None),
        ];
        assert_eq!(routes("dev", &nodes), "10.244.1.0/24 via 172.30.7.11\n");
    }

    #[test]
    fn node_files_cover_the_entrypoint_contract() {
        let files = node_files(&config(), "dev", "172.30.7.10".parse().unwrap());
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "node.env",
                "kubelet/config.yaml",
                "kubelet/flags",
                "kube-proxy/config.yaml",
                "kube-proxy/flags"
            ]
        );
        assert!(files[0].content.contains("POD_CIDR_ALL=10.244.0.0/16"));
    }
}
