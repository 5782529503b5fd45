//! The container spec types: a network, volumes and containers as plain data, and the host facts a
//! plan needs. Their own module, so that the cluster plan, the load balancer's and the addons'
//! all describe containers the same way without importing each other.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use ipnet::Ipv4Net;
use serde::Serialize;

/// Where a component finds the files staged for it (certificates, kubeconfigs, configs).
pub const COMPONENT_CONFIG_DIR: &str = "/etc/kubernetes";
/// Where a node finds its staged files; the node image's entrypoint reads them from here.
pub const NODE_CONFIG_DIR: &str = "/etc/localkube";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetworkSpec {
    pub name: String,
    pub subnet: Ipv4Net,
    pub gateway: Ipv4Addr,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VolumeSpec {
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerSpec {
    pub name: String,
    pub role: String,
    pub hostname: String,
    pub image: String,
    pub entrypoint: Vec<String>,
    pub args: Vec<String>,
    pub network: String,
    pub ip: Ipv4Addr,
    pub mounts: Vec<MountSpec>,
    pub ports: Vec<PortSpec>,
    pub labels: BTreeMap<String, String>,
    pub restart_policy: String,
    pub security: SecuritySpec,
    /// Files copied from the profile's PKI and kubeconfigs into the folder bound at
    /// `COMPONENT_CONFIG_DIR` (or `NODE_CONFIG_DIR`): each container sees only what it needs.
    pub staged_files: Vec<StagedFile>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum MountSpec {
    Volume {
        name: String,
        target: String,
    },
    Bind {
        source: PathBuf,
        target: String,
        read_only: bool,
    },
    Tmpfs {
        target: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PortSpec {
    pub host_ip: Ipv4Addr,
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: String,
}

/// Rights a container gets beyond Docker's defaults. Only nodes get any.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecuritySpec {
    /// Asked for where the engine allows it; the capability set below is the fallback that
    /// works where `--privileged` is refused (measured in this project's CI sandbox: CAP_SYS_RESOURCE is outside its bounding set).
    pub privileged: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub security_opt: Vec<String>,
    /// /proc and /sys without Docker's masked and read-only paths (the CLI's
    /// `--security-opt systempaths=unconfined`), so containerd can set namespaced sysctls for pods.
    pub unmask_system_paths: bool,
    pub cgroupns_private: bool,
}

/// One file copied into a container's config folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StagedFile {
    /// Relative to the profile folder.
    pub from: String,
    /// Relative to the container's config folder.
    pub to: String,
}

/// What the plan needs to know of the host, gathered by `effects::home` so the plan stays pure.
#[derive(Debug, Clone)]
pub struct HostFacts {
    /// Where the profile's files live.
    pub profile_dir: PathBuf,
    /// Bind-mounting a missing /lib/modules would make Docker create it on the host.
    pub host_has_lib_modules: bool,
    /// The image of localkube's load balancer controller and proxies (tagged per binary).
    pub lb_image: String,
    /// The Docker daemon's socket on the host, for the load balancer controller.
    pub docker_socket: PathBuf,
}

impl HostFacts {
    /// Facts for tests and examples: no kernel modules, the default socket.
    pub fn example(profile_dir: impl Into<PathBuf>) -> Self {
        Self {
            profile_dir: profile_dir.into(),
            host_has_lib_modules: false,
            lb_image: "localkube/lb:example".into(),
            docker_socket: PathBuf::from("/var/run/docker.sock"),
        }
    }
}

impl HostFacts {
    /// The host folder bound into a container as its config folder.
    pub fn staging_dir(&self, container: &str) -> PathBuf {
        self.profile_dir.join("staging").join(container)
    }
}
