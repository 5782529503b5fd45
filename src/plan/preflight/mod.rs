//! Preflight: whether this host can run a profile, judged from facts `effects::host_facts`
//! gathered (the Docker daemon's answers, /proc and /sys, routes, free disk). Pure, so every
//! condition a user's machine can be in is a unit test with made-up facts. `start` runs these
//! checks before it creates anything; `localkube doctor` prints them.
//!
//! Each finding is one line: what is wrong, why it matters, and the command that fixes it. A
//! blocking finding stops `start`; a warning lets it go on.

use ipnet::Ipv4Net;
use serde::Serialize;

use super::engines::Engine;
use super::networking::IpFamily;

mod cgroup;
mod disk;
mod docker;
mod ipv6;
mod kernel;
mod network;
#[cfg(test)]
mod tests;

pub use disk::{DISK_BLOCK_BYTES, DISK_WARN_BYTES};
pub use docker::{MIN_API, MIN_ENGINE, daemon_refusal, parse_api};
pub use kernel::{INOTIFY_INSTANCES_PER_NODE, INOTIFY_WATCHES_PER_NODE, inotify_needed};
pub use network::{foreign_routes, free_subnet, parse_routes};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Ok,
    Warning,
    Blocking,
}

/// One check's verdict, one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// Short name of the check: docker, cgroup, kernel, ipv6, inotify, disk, network, port, host.
    pub check: &'static str,
    pub severity: Severity,
    /// What was found; for a problem, what is wrong and why it matters.
    pub message: String,
    /// The command (or action) that fixes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Finding {
    fn ok(check: &'static str, message: impl Into<String>) -> Self {
        Self {
            check,
            severity: Severity::Ok,
            message: message.into(),
            fix: None,
        }
    }
    fn warn(check: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            check,
            severity: Severity::Warning,
            message: message.into(),
            fix: Some(fix.into()),
        }
    }
    fn block(check: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            check,
            severity: Severity::Blocking,
            message: message.into(),
            fix: Some(fix.into()),
        }
    }

    /// The one line a user reads.
    pub fn line(&self) -> String {
        let tag = match self.severity {
            Severity::Ok => "ok",
            Severity::Warning => "warning",
            Severity::Blocking => "problem",
        };
        match &self.fix {
            Some(fix) => format!("{tag} [{}]: {}; fix: {fix}", self.check, self.message),
            None => format!("{tag} [{}]: {}", self.check, self.message),
        }
    }
}

/// What the Docker daemon says of itself (`/version` and `/info`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DaemonFacts {
    /// Where it was reached (DOCKER_HOST or the default socket).
    pub address: String,
    /// The engine's version (`Version`), e.g. 28.5.2.
    pub version: String,
    /// The newest API it speaks (`ApiVersion`), e.g. 1.51.
    pub api_version: String,
    /// `Platform.Name` and the component names: Podman says so there.
    pub platform: String,
    pub components: Vec<String>,
    /// `OperatingSystem` of `/info`: "Docker Desktop" there.
    pub operating_system: String,
    /// `SecurityOptions`: `name=rootless` for rootless Docker.
    pub security_options: Vec<String>,
    /// 1 or 2; 0 when the daemon does not say (before API 1.40).
    pub cgroup_version: u8,
    /// cgroupfs or systemd.
    pub cgroup_driver: String,
    /// What the daemon can limit, hence which cgroup controllers its containers get.
    pub memory_limit: bool,
    pub cpu_cfs_quota: bool,
    pub cpu_set: bool,
    pub pids_limit: bool,
    /// Where images and volumes go (`DockerRootDir`).
    pub root_dir: String,
    pub kernel_version: String,
    /// `Driver`: overlay2, or the containerd image store's snapshotter name.
    pub storage_driver: String,
    /// Whether the daemon runs on this machine's kernel (a local socket and not Docker Desktop's
    /// VM): only then do /proc, /sys, routes and free disk here say anything about it.
    pub local: bool,
}

impl DaemonFacts {
    pub fn is_podman(&self) -> bool {
        self.platform.to_lowercase().contains("podman")
            || self
                .components
                .iter()
                .any(|c| c.to_lowercase().contains("podman"))
    }
    pub fn is_desktop(&self) -> bool {
        self.operating_system.contains("Docker Desktop")
    }
    pub fn is_rootless(&self) -> bool {
        self.security_options
            .iter()
            .any(|o| o.split(',').any(|kv| kv == "name=rootless"))
    }
    /// Which engine this is, for what `doctor` says was verified on it.
    pub fn engine(&self) -> Engine {
        if self.is_podman() {
            Engine::Podman
        } else if self.is_desktop() {
            Engine::Desktop
        } else if self.is_rootless() {
            Engine::Rootless
        } else {
            Engine::Docker(docker::engine_major(&self.version))
        }
    }
}

/// What this machine's kernel shows (read under a root that tests may replace).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KernelFacts {
    /// 1 or 2, from what is mounted at /sys/fs/cgroup.
    pub cgroup_version: u8,
    /// Controllers available: v2 `cgroup.controllers`, v1 the enabled rows of /proc/cgroups.
    pub cgroup_controllers: Vec<String>,
    /// /proc/filesystems lists overlay (built in or loaded).
    pub overlay: bool,
    /// /proc/sys/net/bridge exists: br_netfilter is loaded.
    pub bridge_netfilter: bool,
    /// The iptables backends the kernel offers: legacy (/proc/net/ip_tables_names), nft
    /// (nf_tables loaded).
    pub iptables_legacy: bool,
    pub nf_tables: bool,
    /// Kernel modules available to load (/lib/modules/<release>), for the fix to name.
    pub modules_dir: bool,
    pub inotify_max_user_instances: Option<u64>,
    pub inotify_max_user_watches: Option<u64>,
    /// IPv6 in the kernel: None without it (no /proc/sys/net/ipv6), else whether it is on
    /// (`net.ipv6.conf.all.disable_ipv6` = 0).
    pub ipv6: Option<bool>,
    /// ip6tables can work: ip6_tables loaded (/proc/net/ip6_tables_names) or nf_tables.
    pub ip6tables: bool,
}

/// A route of the host's IPv4 table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Route {
    pub destination: Ipv4Net,
    pub interface: String,
}

/// A Docker network other than the profile's own, with its subnets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Network {
    pub name: String,
    pub subnets: Vec<Ipv4Net>,
    /// The host interface of its bridge (`docker0`, `br-<id>`), whose routes are its own.
    pub bridge: String,
}

/// Free space under a folder that matters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Disk {
    /// What lives there: "Docker's images and volumes", "localkube's build cache".
    pub what: String,
    pub path: String,
    pub free_bytes: u64,
}

/// Everything the checks look at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Facts {
    /// The daemon, or why none answered.
    #[serde(serialize_with = "daemon_or_error")]
    pub daemon: Result<DaemonFacts, String>,
    /// None where the daemon does not run on this kernel (nothing local to read).
    pub kernel: Option<KernelFacts>,
    pub routes: Vec<Route>,
    pub networks: Vec<Network>,
    pub disks: Vec<Disk>,
    /// Whether 127.0.0.1:<port> could be bound now; None when not asked (no port yet).
    pub port_free: Option<bool>,
    /// Whether the profile's own apiserver is running (then its port is taken by itself).
    pub apiserver_running: bool,
    /// The bridge of the profile's own network, once it exists.
    pub own_bridge: Option<String>,
}

fn daemon_or_error<S: serde::Serializer>(
    daemon: &Result<DaemonFacts, String>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match daemon {
        Ok(d) => d.serialize(serializer),
        Err(e) => serde_json::json!({ "error": e }).serialize(serializer),
    }
}

/// What the profile is about to use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Intent {
    pub nodes: u32,
    /// The profile's network, once chosen; None for a new profile, which takes the first of
    /// `candidates` clear of every network and route.
    pub subnet: Option<Ipv4Net>,
    #[serde(skip)]
    pub candidates: Vec<Ipv4Net>,
    /// The apiserver's host port, once known (an existing profile, or `--apiserver-port`).
    pub apiserver_port: Option<u16>,
    /// The profile's IP family (a new one's as asked): IPv6's needs block only where it runs.
    pub ip_family: IpFamily,
}

/// A check of the host as the daemon describes it: one function in this folder, one row.
type DaemonCheck = fn(&Facts, &DaemonFacts, &Intent) -> Vec<Finding>;

/// The checks that read the daemon's answers, in the order `doctor` prints them (after the
/// daemon's own; skipped when no daemon answers).
const DAEMON_CHECKS: &[DaemonCheck] = &[
    |facts, daemon, _| cgroup::cgroup(daemon, facts.kernel.as_ref()),
    |facts, daemon, _| kernel::kernel(daemon, facts.kernel.as_ref()),
    |facts, daemon, intent| ipv6::ipv6(daemon, facts.kernel.as_ref(), intent.ip_family),
    |facts, _, intent| kernel::inotify(facts.kernel.as_ref(), intent.nodes),
    |facts, daemon, _| disk::disk(daemon, &facts.disks),
    |facts, _, intent| network::network(facts, intent),
];

/// Every check, in the order `doctor` prints them: the daemon, what it describes, the port.
pub fn check(facts: &Facts, intent: &Intent) -> Vec<Finding> {
    let mut findings = docker::docker(facts);
    if let Ok(daemon) = &facts.daemon {
        for check in DAEMON_CHECKS {
            findings.extend(check(facts, daemon, intent));
        }
    }
    findings.extend(network::port(facts, intent));
    findings
}

/// The findings that stop a start.
pub fn blocking(findings: &[Finding]) -> Vec<&Finding> {
    findings
        .iter()
        .filter(|f| f.severity == Severity::Blocking)
        .collect()
}
