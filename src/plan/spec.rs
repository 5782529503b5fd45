//! The container spec types: a network, volumes and containers as plain data, and the host facts a
//! plan needs. Their own module, so that the cluster plan, the load balancer's and the addons'
//! all describe containers the same way without importing each other.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use ipnet::{Ipv4Net, Ipv6Net};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::plan::names::{LABEL_SPEC_DIGEST, Role};

/// Where a component finds the files staged for it (certificates, kubeconfigs, configs).
pub const COMPONENT_CONFIG_DIR: &str = "/etc/kubernetes";
/// Where a node finds its staged files; the node image's entrypoint reads them from here.
pub const NODE_CONFIG_DIR: &str = "/etc/localkube";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetworkSpec {
    pub name: String,
    pub subnet: Ipv4Net,
    pub gateway: Ipv4Addr,
    /// The IPv6 /64 of an `ipv6` or `dual` profile (Docker's `--ipv6 --subnet`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet_v6: Option<Ipv6Net>,
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
    pub role: Role,
    pub hostname: String,
    pub image: String,
    pub entrypoint: Vec<String>,
    pub args: Vec<String>,
    pub network: String,
    pub ip: Ipv4Addr,
    /// Its fixed IPv6 address on an `ipv6` or `dual` profile's network (the twin of `ip`);
    /// not written otherwise, so the IPv4 profiles' spec digests stay as they were.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip6: Option<Ipv6Addr>,
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
    /// A volume the container may only read (the registry's pull-only mirror): a variant of its
    /// own, so the serialized specs of the other containers, and their spec digests, stay as
    /// they were.
    VolumeReadOnly {
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
    /// Device cgroup rules of the capability fallback (`--device-cgroup-rule`); a privileged
    /// container has `a *:* rwm` already.
    pub device_cgroup_rules: Vec<String>,
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

/// Every capability a container other than a node may hold, with the reason it needs it. All
/// others are dropped (`cap_drop ALL`): Docker's default set (CHOWN, DAC_OVERRIDE, FOWNER,
/// KILL, NET_RAW, SETUID, SYS_CHROOT, MKNOD, ...) is for general-purpose images, and none of
/// these programs changes owners, sniffs packets or makes devices. A test checks every
/// container's list against this table, and a cluster test every capability set of every process.
pub const CAPABILITY_REASONS: [(&str, &str); 6] = [
    (
        "NET_ADMIN",
        "netinit sets the control-plane container's routes in its own network namespace, then \
         drops it from every set before the component starts",
    ),
    (
        "SETPCAP",
        "netinit takes NET_ADMIN out of the bounding set (PR_CAPBSET_DROP needs it), then drops \
         SETPCAP itself, last, before the component starts",
    ),
    (
        "DAC_READ_SEARCH",
        "root in the container reads the staged configuration, certificates and keys (the \
         registry its htpasswd), which belong to the user who runs localkube and are 0600; read \
         only: no DAC_OVERRIDE",
    ),
    (
        "SETUID",
        "the load balancer broker starts the controller proper as nobody",
    ),
    (
        "SETGID",
        "... with nobody's group and no supplementary groups",
    ),
    (
        "NET_BIND_SERVICE",
        "a load balancer proxy listens on the Service's own port, 80 and 443 included",
    ),
];

impl SecuritySpec {
    /// `cap_drop` without the capabilities an engine refused to drop because they are outside
    /// its own bounding set (Docker 23 and later: "invalid CapDrop: ... not available in the
    /// current environment", naming them); its `ALL` then leaves them out already. Every other
    /// drop stays. `None` when the refusal names none of the spec's drops: then nothing is
    /// guessed.
    pub fn drops_left_after_refusal(&self, refusal: &str) -> Option<Vec<String>> {
        let text = refusal.to_ascii_uppercase();
        let named = |cap: &str| {
            let bare = cap.to_ascii_uppercase();
            let bare = bare.strip_prefix("CAP_").unwrap_or(&bare).to_string();
            contains_word(&text, &format!("CAP_{bare}")) || contains_word(&text, &bare)
        };
        let refused: Vec<&String> = self.cap_drop.iter().filter(|c| named(c)).collect();
        if refused.is_empty() {
            return None;
        }
        Some(
            self.cap_drop
                .iter()
                .filter(|c| !refused.contains(c))
                .cloned()
                .collect(),
        )
    }
}

/// Whether `word` stands in `text` on its own: no letter, digit or `_` on either side.
fn contains_word(text: &str, word: &str) -> bool {
    let is_part = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(word).any(|(at, _)| {
        !text[..at].chars().next_back().is_some_and(is_part)
            && !text[at + word.len()..].chars().next().is_some_and(is_part)
    })
}

/// What a container that is not a node starts with: only `cap_add` (each in
/// [`CAPABILITY_REASONS`]), and no way to gain more through exec of a setuid file.
pub fn least_privilege(cap_add: &[&str]) -> SecuritySpec {
    SecuritySpec {
        cap_add: cap_add.iter().map(|c| c.to_string()).collect(),
        cap_drop: vec!["ALL".into()],
        security_opt: vec!["no-new-privileges".into()],
        ..SecuritySpec::default()
    }
}

/// Labels a container with a digest of its spec, so `start` can tell a container made from an
/// older plan (another image, other flags or entrypoint) and recreate it. For the stateless
/// containers (their state is in etcd's volume); nodes get [`with_node_digest`].
pub fn with_spec_digest(mut spec: ContainerSpec) -> ContainerSpec {
    let json = serde_json::to_vec(&spec).expect("a container spec serialises");
    let digest = hex::encode(Sha256::digest(&json));
    spec.labels.insert(LABEL_SPEC_DIGEST.to_string(), digest);
    spec
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dropping(caps: &[&str]) -> SecuritySpec {
        SecuritySpec {
            cap_add: vec!["ALL".into()],
            cap_drop: caps.iter().map(|c| c.to_string()).collect(),
            ..SecuritySpec::default()
        }
    }

    #[test]
    fn only_the_drop_the_engine_refused_is_left_out() {
        let spec = dropping(&["SYS_RESOURCE", "SYS_MODULE", "CAP_SYS_RAWIO"]);
        let refusal = "creating container dev: Error response from daemon: invalid CapDrop: \
                       capability not available in the current environment: \"CAP_SYS_RESOURCE\"";
        assert_eq!(
            spec.drops_left_after_refusal(refusal).unwrap(),
            ["SYS_MODULE", "CAP_SYS_RAWIO"]
        );
        // Named without the prefix, or in lower case, it is found too; a prefixed drop as well.
        assert_eq!(
            spec.drops_left_after_refusal("not available: sys_rawio")
                .unwrap(),
            ["SYS_RESOURCE", "SYS_MODULE"]
        );
        // A name that only contains a drop's name is not that drop.
        assert_eq!(
            dropping(&["SYS_ADMIN"]).drops_left_after_refusal("CAP_SYS_ADMINX is not available"),
            None
        );
    }

    #[test]
    fn a_refusal_that_names_no_drop_changes_nothing() {
        let spec = dropping(&["SYS_RESOURCE"]);
        assert_eq!(
            spec.drops_left_after_refusal(
                "invalid CapDrop: not available in the current environment"
            ),
            None
        );
    }
}
