//! A node's container: the node image running containerd and kubelet, with the rights and
//! mounts that needs, every option with its reason.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use super::{
    ContainerSpec, HostFacts, MountSpec, NODE_CONFIG_DIR, SecuritySpec, config_mount, labels,
    staged,
};
use crate::plan::config::ProfileConfig;
use crate::plan::names::{self, Role};
use crate::plan::profile_name::ProfileName;

pub(super) fn node_container(
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
        role: Role::Node,
        // kubelet registers the node under its hostname.
        hostname: node.to_string(),
        image: names::image("node", &config.kubernetes_version),
        entrypoint: vec![NODE_ENTRYPOINT.into()],
        args: Vec::new(),
        network: names::network(profile),
        ip: config.node_ip(number),
        ip6: config.ipv6_twin(config.node_ip(number)),
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
        // The fallback's device cgroup as --privileged would make it: every device. A pod that
        // asks for `privileged: true` gets `a *:* rwm` written into its device cgroup by runc,
        // and cgroup v1 refuses a child more than its parent holds (measured: the Job
        // DisruptionTarget spec's privileged pods failed with "devices.allow: operation not
        // permitted" under Docker's default device list).
        device_cgroup_rules: vec!["a *:* rwm".into()],
    }
}

/// The node image's entrypoint (images/node/entrypoint): PID 1 of every node.
pub const NODE_ENTRYPOINT: &str = "/usr/local/bin/entrypoint";

/// The network of a container that needs none.
pub const NO_NETWORK: &str = "none";

/// Log rotation on every container (Docker's json-file driver, `--log-opt max-size/max-file`):
/// Docker keeps a container's output forever by default, and nodes and proxies run for weeks
/// (a node's kubelet and containerd log a few MB a day, more while pods crash-loop). Three files
/// of 10 MB keep the last hours to days for `docker logs` and `localkube logs`, at most 30 MB a
/// container. json-file, because it is what `docker logs` reads on every engine version.
pub const LOG_DRIVER: &str = "json-file";
pub const LOG_OPTIONS: [(&str, &str); 2] = [("max-size", "10m"), ("max-file", "3")];

/// The container that fills a new node image's containerd store (`Image::preloaded`) before it
/// is committed as the image: containerd alone, run from the image as a node runs it, but with
/// no network (it only reads the images it is given on stdin) and no /var volume, so what it
/// writes under /var/lib/containerd is the container's own layer.
pub fn node_preload_container(image: &str, name: &str) -> ContainerSpec {
    ContainerSpec {
        name: name.to_string(),
        role: Role::NodePreload,
        hostname: "preload".into(),
        image: image.to_string(),
        // containerd's defaults are the node's root, state and socket; the node's entrypoint
        // would also set up pod networking, which needs a network.
        entrypoint: vec!["containerd".into()],
        args: Vec::new(),
        network: NO_NETWORK.into(),
        ip: Ipv4Addr::UNSPECIFIED,
        ip6: None,
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
