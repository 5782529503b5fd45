//! Preflight: whether this host can run a profile, judged from facts `effects::host_facts`
//! gathered (the Docker daemon's answers, /proc and /sys, routes, free disk). Pure, so every
//! condition a user's machine can be in is a unit test with made-up facts. `start` runs these
//! checks before it creates anything; `localkube doctor` prints them.
//!
//! Each finding is one line: what is wrong, why it matters, and the command that fixes it. A
//! blocking finding stops `start`; a warning lets it go on.

use ipnet::Ipv4Net;
use serde::Serialize;

use super::engines::{self, Engine};
use super::networking::IpFamily;

/// The oldest Docker API localkube works with: Docker Engine 20.10 (API 1.41) brought private
/// cgroup namespaces (`--cgroupns=private`), which every node needs.
pub const MIN_API: (u32, u32) = (1, 41);
pub const MIN_ENGINE: &str = "20.10";
/// Below this much free space where Docker keeps images and volumes a start cannot finish (the
/// images of one Kubernetes version take about 1 GB, a node's /var a few hundred MB).
pub const DISK_BLOCK_BYTES: u64 = 2 << 30;
/// Below this, a start works but a few image loads or a second version fill the disk.
pub const DISK_WARN_BYTES: u64 = 10 << 30;
/// inotify: kubelet, containerd and every pod that watches files take instances and watches from
/// one per-user budget (all nodes run as the same user): kind's "too many open files" on
/// multi-node clusters. Measured need grows with nodes; these are per node, plus one for the host.
pub const INOTIFY_INSTANCES_PER_NODE: u64 = 128;
pub const INOTIFY_WATCHES_PER_NODE: u64 = 65_536;

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
            Engine::Docker(engine_major(&self.version))
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

/// Every check, in the order `doctor` prints them.
pub fn check(facts: &Facts, intent: &Intent) -> Vec<Finding> {
    let mut findings = docker(facts);
    if let Ok(daemon) = &facts.daemon {
        findings.extend(cgroup(daemon, facts.kernel.as_ref()));
        findings.extend(kernel(daemon, facts.kernel.as_ref()));
        findings.extend(ipv6(daemon, facts.kernel.as_ref(), intent.ip_family));
        findings.extend(inotify(facts.kernel.as_ref(), intent.nodes));
        findings.extend(disk(daemon, &facts.disks));
        findings.extend(network(facts, intent));
    }
    findings.extend(port(facts, intent));
    findings
}

/// The findings that stop a start.
pub fn blocking(findings: &[Finding]) -> Vec<&Finding> {
    findings
        .iter()
        .filter(|f| f.severity == Severity::Blocking)
        .collect()
}

/// Parses an API version such as "1.41".
pub fn parse_api(version: &str) -> Option<(u32, u32)> {
    let (major, minor) = version.trim().split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// Why localkube cannot work with this daemon, if it cannot: too old an API, or Podman's
/// Docker-compatible API. Every verb that connects asks this, not only `start`.
pub fn daemon_refusal(daemon: &DaemonFacts) -> Option<String> {
    if daemon.is_podman() {
        return Some(engines::podman_refusal(
            &daemon.address,
            &daemon.version,
            &format!(
                "Docker Engine {MIN_ENGINE} or newer (API {}.{})",
                MIN_API.0, MIN_API.1
            ),
        ));
    }
    match parse_api(&daemon.api_version) {
        Some(api) if api >= MIN_API => None,
        _ => Some(format!(
            "Docker Engine {} at {} speaks API {}, too old: localkube needs Docker Engine \
             {MIN_ENGINE} or newer (API {}.{}) for private cgroup namespaces; upgrade Docker \
             (`sudo apt-get install docker.io` on Debian 12 or Ubuntu 22.04+, or Docker's own \
             packages)",
            daemon.version, daemon.address, daemon.api_version, MIN_API.0, MIN_API.1
        )),
    }
}

fn docker(facts: &Facts) -> Vec<Finding> {
    let daemon = match &facts.daemon {
        Ok(daemon) => daemon,
        Err(e) => {
            return vec![Finding::block(
                "docker",
                format!("no Docker daemon answers ({e}): every node and component is a container"),
                "start Docker (`sudo systemctl start docker`), or set DOCKER_HOST to where it listens",
            )];
        }
    };
    if let Some(refusal) = daemon_refusal(daemon) {
        let (message, fix) = refusal
            .rsplit_once(": ")
            .map(|(m, f)| (m.to_string(), f.to_string()))
            .unwrap_or((refusal.clone(), String::new()));
        return vec![Finding::block("docker", message, fix)];
    }
    let mut kind = Vec::new();
    if daemon.is_rootless() {
        kind.push("rootless");
    }
    if daemon.is_desktop() {
        kind.push("Docker Desktop");
    }
    let mut findings = vec![Finding::ok(
        "docker",
        format!(
            "Docker Engine {} (API {}) at {}{}, storage driver {}",
            daemon.version,
            daemon.api_version,
            daemon.address,
            if kind.is_empty() {
                String::new()
            } else {
                format!(" ({})", kind.join(", "))
            },
            if daemon.storage_driver.is_empty() {
                "unknown"
            } else {
                &daemon.storage_driver
            },
        ),
    )];
    findings.push(Finding::ok("engine", engines::verified(daemon.engine())));
    if daemon.is_desktop() {
        findings.push(Finding::warn(
            "docker",
            "Docker Desktop runs the cluster inside its VM: the apiserver's published port \
             answers here, but node IPs and loopback addresses of the profile's block live in the \
             VM's network, so a new profile publishes its LoadBalancer ports on 127.0.0.1 instead",
            "reach a LoadBalancer Service on 127.0.0.1:PORT (two services cannot share a port), \
             or any Service with `localkube kubectl -- port-forward svc/NAME LOCAL:PORT`",
        ));
    }
    if daemon.is_rootless() {
        findings.push(Finding::warn(
            "docker",
            "rootless Docker: containers' networks and the \"host\" network live in rootlesskit's \
             namespace, so the apiserver's published port answers here but node IPs and loopback \
             addresses of the profile's block do not; a new profile publishes its LoadBalancer \
             ports on 127.0.0.1 instead",
            "reach a LoadBalancer Service on 127.0.0.1:PORT (below 1024 only where \
             net.ipv4.ip_unprivileged_port_start allows), or run rootful Docker",
        ));
    }
    if !daemon.is_desktop()
        && !daemon.is_rootless()
        && engine_major(&daemon.version).is_some_and(|major| major < 28)
    {
        findings.push(Finding::warn(
            "docker",
            format!(
                "Docker Engine {} lets a host on the same link reach ports published on \
                 127.0.0.1, and a host that routes to Docker's networks reach published container \
                 ports (Docker 28 drops both): the apiserver and the registry addon would answer \
                 it, though only to a client certificate or the registry's password, and so would \
                 LoadBalancer Services published on 127.0.0.1 (Docker Desktop, rootless, \
                 LOCALKUBE_LOAD_BALANCER=published), which ask for nothing",
                daemon.version
            ),
            "upgrade to Docker Engine 28 or newer, or drop such packets yourself (`sudo iptables \
             -t raw -I PREROUTING -d 127.0.0.0/8 ! -i lo -j DROP`)",
        ));
    }
    findings
}

/// The engine's major version (`20` of `20.10.24+dfsg1`); `None` when it says none.
fn engine_major(version: &str) -> Option<u32> {
    version.split('.').next()?.trim().parse().ok()
}

/// The controllers a node needs, with whether the daemon can use each: kubelet refuses to start
/// without cpu, cpuset and memory; pids only limits pods' processes.
fn cgroup(daemon: &DaemonFacts, kernel: Option<&KernelFacts>) -> Vec<Finding> {
    let version = match (daemon.cgroup_version, kernel.map(|k| k.cgroup_version)) {
        (0, Some(v)) => v,
        (v, _) => v,
    };
    let in_kernel = |c: &str| kernel.is_none_or(|k| k.cgroup_controllers.iter().any(|x| x == c));
    let needed = [
        ("cpu", daemon.cpu_cfs_quota, true),
        ("cpuset", daemon.cpu_set, true),
        ("memory", daemon.memory_limit, true),
        ("pids", daemon.pids_limit, false),
    ];
    let missing: Vec<(&str, bool)> = needed
        .iter()
        .filter(|(c, by_docker, _)| !by_docker || !in_kernel(c))
        .map(|(c, _, required)| (*c, *required))
        .collect();
    let mut findings = Vec::new();
    let required: Vec<&str> = missing.iter().filter(|m| m.1).map(|m| m.0).collect();
    let optional: Vec<&str> = missing.iter().filter(|m| !m.1).map(|m| m.0).collect();
    let rootless_v1 = daemon.is_rootless() && version == 1 && !missing.is_empty();
    let fix = |controllers: &[&str]| {
        if daemon.is_rootless() {
            "let systemd delegate the controllers to users: `sudo mkdir -p \
             /etc/systemd/system/user@.service.d && printf '[Service]\\nDelegate=cpu cpuset io \
             memory pids\\n' | sudo tee /etc/systemd/system/user@.service.d/delegate.conf && sudo \
             systemctl daemon-reload`, then log in again and `systemctl --user restart docker`"
                .to_string()
        } else if version == 2 {
            let plus: Vec<String> = controllers.iter().map(|c| format!("+{c}")).collect();
            format!(
                "enable them for containers: `echo '{}' | sudo tee \
                 /sys/fs/cgroup/cgroup.subtree_control`, then `sudo systemctl restart docker`",
                plus.join(" ")
            )
        } else {
            let on: Vec<String> = controllers
                .iter()
                .map(|c| format!("cgroup_enable={c}"))
                .collect();
            format!(
                "enable them on the kernel command line (`{}` in GRUB_CMDLINE_LINUX of \
                 /etc/default/grub, `sudo update-grub`, reboot)",
                on.join(" ")
            )
        }
    };
    let named = |controllers: &[&str]| {
        format!(
            "the {} cgroup controller{} {} not available to Docker's containers",
            controllers.join(", "),
            if controllers.len() == 1 { "" } else { "s" },
            if controllers.len() == 1 { "is" } else { "are" },
        )
    };
    if rootless_v1 {
        // No delegation on v1: a user's containers get no controller at all.
        findings.push(Finding::block(
            "cgroup",
            format!(
                "rootless Docker on cgroup v1: {}, and kubelet refuses to start without cpu, \
                 cpuset and memory",
                named(&missing.iter().map(|m| m.0).collect::<Vec<_>>())
            ),
            "boot the unified hierarchy (`systemd.unified_cgroup_hierarchy=1` in \
             GRUB_CMDLINE_LINUX, `sudo update-grub`, reboot) so systemd can delegate controllers \
             to your user, or use rootful Docker",
        ));
        return findings;
    }
    if !required.is_empty() {
        findings.push(Finding::block(
            "cgroup",
            format!("{}: kubelet refuses to start without it", named(&required)),
            fix(&required),
        ));
    }
    if !optional.is_empty() {
        findings.push(Finding::warn(
            "cgroup",
            format!(
                "{}: pods' process limits are not enforced",
                named(&optional)
            ),
            fix(&optional),
        ));
    }
    let controllers = kernel
        .map(|k| format!(", controllers {}", k.cgroup_controllers.join(" ")))
        .unwrap_or_default();
    match version {
        1 => findings.push(Finding::warn(
            "cgroup",
            format!(
                "cgroup v1 ({} driver{controllers}): Kubernetes 1.35+ runs on it only because \
                 localkube sets kubelet's failCgroupV1: false, and upstream is removing v1 support",
                daemon.cgroup_driver
            ),
            "boot the unified hierarchy: add `systemd.unified_cgroup_hierarchy=1` to \
             GRUB_CMDLINE_LINUX in /etc/default/grub, `sudo update-grub`, reboot",
        )),
        _ if missing.is_empty() => findings.push(Finding::ok(
            "cgroup",
            format!(
                "cgroup v{version} ({} driver{controllers})",
                daemon.cgroup_driver
            ),
        )),
        _ => {}
    }
    findings
}

fn kernel(daemon: &DaemonFacts, kernel: Option<&KernelFacts>) -> Vec<Finding> {
    let Some(k) = kernel else {
        return vec![Finding::ok(
            "kernel",
            format!(
                "kernel {} of the daemon's machine; its modules and sysctls are not checked from \
                 here (the daemon does not run on this machine's kernel)",
                daemon.kernel_version
            ),
        )];
    };
    let mut findings = Vec::new();
    if !k.overlay {
        findings.push(Finding::block(
            "kernel",
            "the kernel has no overlay filesystem: containerd in each node unpacks images onto \
             overlayfs",
            if k.modules_dir {
                "`sudo modprobe overlay` (and `echo overlay | sudo tee /etc/modules-load.d/overlay.conf` to keep it)"
            } else {
                "use a kernel built with CONFIG_OVERLAY_FS"
            },
        ));
    }
    if !k.iptables_legacy && !k.nf_tables {
        findings.push(Finding::warn(
            "kernel",
            "neither iptables backend (ip_tables, nf_tables) is loaded: kube-proxy's Service \
             rules and each node's masquerade need one",
            "`sudo modprobe nf_tables` (or `sudo modprobe ip_tables`)",
        ));
    }
    if findings.is_empty() {
        let backends: Vec<&str> = [("legacy", k.iptables_legacy), ("nft", k.nf_tables)]
            .iter()
            .filter(|(_, on)| *on)
            .map(|(n, _)| *n)
            .collect();
        findings.push(Finding::ok(
            "kernel",
            format!(
                "kernel {}: overlay; iptables {}; br_netfilter {} (pods are routed, not bridged, \
                 so nodes do not need it)",
                daemon.kernel_version,
                backends.join(" and "),
                if k.bridge_netfilter {
                    "loaded"
                } else {
                    "not loaded"
                },
            ),
        ));
    }
    findings
}

/// What an `ipv6` or `dual` profile needs: IPv6 on in the kernel, ip6tables (kube-proxy's
/// IPv6 rules and each node's IPv6 fence) and a Docker that makes IPv6 user networks (`--ipv6
/// --subnet`, Docker 20.10 and later here). Blocking only for such a profile; otherwise said.
fn ipv6(daemon: &DaemonFacts, kernel: Option<&KernelFacts>, family: IpFamily) -> Vec<Finding> {
    let needed = family.has_ipv6();
    let problem = |message: String, fix: &str| {
        if needed {
            Finding::block("ipv6", message, fix)
        } else {
            Finding::ok(
                "ipv6",
                format!("{message} (only `--ip-family ipv6|dual` profiles need it)"),
            )
        }
    };
    let mut findings = Vec::new();
    if engine_major(&daemon.version).is_some_and(|major| major < 20) {
        findings.push(problem(
            format!(
                "Docker {} predates the IPv6 user networks localkube makes (20.10 and later)",
                daemon.version
            ),
            "upgrade Docker to 20.10 or later",
        ));
    }
    let Some(k) = kernel else {
        findings.push(Finding::ok(
            "ipv6",
            "IPv6 of the daemon's machine is not checked from here",
        ));
        return findings;
    };
    match k.ipv6 {
        None => findings.push(problem(
            "the kernel has no IPv6 (no /proc/sys/net/ipv6)".into(),
            "use a kernel with IPv6 (CONFIG_IPV6), or `--ip-family ipv4`",
        )),
        Some(false) => findings.push(problem(
            "IPv6 is disabled in the kernel (net.ipv6.conf.all.disable_ipv6 = 1)".into(),
            "`sudo sysctl -w net.ipv6.conf.all.disable_ipv6=0`, or `--ip-family ipv4`",
        )),
        Some(true) => {}
    }
    if !k.ip6tables {
        findings.push(problem(
            "neither ip6_tables nor nf_tables is loaded: kube-proxy's IPv6 rules and each              node's IPv6 fence need one"
                .into(),
            "`sudo modprobe nf_tables` (or `sudo modprobe ip6_tables`)",
        ));
    }
    if findings.is_empty() {
        findings.push(Finding::ok(
            "ipv6",
            format!(
                "IPv6 on, ip6tables available, Docker {} makes IPv6 networks: `--ip-family                  ipv6|dual` profiles can run",
                daemon.version
            ),
        ));
    }
    findings
}

/// The inotify limits a cluster of `nodes` nodes needs.
pub fn inotify_needed(nodes: u32) -> (u64, u64) {
    let nodes = u64::from(nodes.max(1));
    (
        INOTIFY_INSTANCES_PER_NODE * nodes,
        INOTIFY_WATCHES_PER_NODE * nodes,
    )
}

fn inotify(kernel: Option<&KernelFacts>, nodes: u32) -> Vec<Finding> {
    let Some(k) = kernel else {
        return Vec::new();
    };
    let (need_instances, need_watches) = inotify_needed(nodes);
    let instances = k.inotify_max_user_instances.unwrap_or(u64::MAX);
    let watches = k.inotify_max_user_watches.unwrap_or(u64::MAX);
    if instances >= need_instances && watches >= need_watches {
        return vec![Finding::ok(
            "inotify",
            format!(
                "max_user_instances {instances}, max_user_watches {watches} (enough for {nodes} \
                 node{})",
                if nodes == 1 { "" } else { "s" }
            ),
        )];
    }
    let mut low = Vec::new();
    if instances < need_instances {
        low.push(format!("max_user_instances is {instances}"));
    }
    if watches < need_watches {
        low.push(format!("max_user_watches is {watches}"));
    }
    let instances = instances.max(need_instances);
    let watches = watches.max(need_watches);
    vec![Finding::warn(
        "inotify",
        format!(
            "fs.inotify.{}, below {need_instances} instances and {need_watches} watches for \
             {nodes} node{}: kubelet, containerd and pods that watch files fail with \"too many \
             open files\"",
            low.join(" and fs.inotify."),
            if nodes == 1 { "" } else { "s" }
        ),
        format!(
            "`sudo sysctl -w fs.inotify.max_user_instances={instances} \
             fs.inotify.max_user_watches={watches}` (put both in /etc/sysctl.d/99-localkube.conf \
             to keep them)"
        ),
    )]
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / f64::from(1u32 << 30))
}

fn disk(daemon: &DaemonFacts, disks: &[Disk]) -> Vec<Finding> {
    if !daemon.local {
        return vec![Finding::ok(
            "disk",
            "free space of the daemon's machine is not checked from here",
        )];
    }
    disks
        .iter()
        .map(|d| {
            let fix = format!(
                "free space under {}: `docker system prune` removes stopped containers and unused \
                 images, `localkube images prune` localkube's unused images and build cache",
                d.path
            );
            if d.free_bytes < DISK_BLOCK_BYTES {
                Finding::block(
                    "disk",
                    format!(
                        "{} free under {} ({}): a cluster's images and node volumes need {}",
                        gib(d.free_bytes),
                        d.path,
                        d.what,
                        gib(DISK_BLOCK_BYTES)
                    ),
                    fix,
                )
            } else if d.free_bytes < DISK_WARN_BYTES {
                Finding::warn(
                    "disk",
                    format!(
                        "{} free under {} ({}): enough to start, but image loads and another \
                         Kubernetes version may fill it (kubelet does not evict here)",
                        gib(d.free_bytes),
                        d.path,
                        d.what
                    ),
                    fix,
                )
            } else {
                Finding::ok(
                    "disk",
                    format!("{} free under {} ({})", gib(d.free_bytes), d.path, d.what),
                )
            }
        })
        .collect()
}

fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// Routes that say something about other tools' ranges: not the default route, and not the
/// bridges of this daemon's networks (`bridges`: checked by name, with better words, or the
/// profile's own). Another daemon's bridges on this host do count.
pub fn foreign_routes<'a>(
    routes: &'a [Route],
    bridges: &'a [&'a str],
) -> impl Iterator<Item = &'a Route> {
    routes
        .iter()
        .filter(move |r| r.destination.prefix_len() > 0 && !bridges.contains(&r.interface.as_str()))
}

fn bridges(facts: &Facts) -> Vec<&str> {
    facts
        .networks
        .iter()
        .map(|n| n.bridge.as_str())
        .chain(facts.own_bridge.as_deref())
        .collect()
}

/// The first candidate clear of every other network and foreign route: the range a new profile
/// takes.
pub fn free_subnet(candidates: &[Ipv4Net], facts: &Facts) -> Option<Ipv4Net> {
    candidates.iter().copied().find(|c| {
        !facts
            .networks
            .iter()
            .flat_map(|n| &n.subnets)
            .any(|s| overlaps(s, c))
            && !foreign_routes(&facts.routes, &bridges(facts)).any(|r| overlaps(&r.destination, c))
    })
}

fn network(facts: &Facts, intent: &Intent) -> Vec<Finding> {
    let Some(subnet) = intent.subnet else {
        return match free_subnet(&intent.candidates, facts) {
            Some(free) => vec![Finding::ok(
                "network",
                format!(
                    "the new profile's network will be {free}, clear of {} other Docker \
                     network(s) and the host's routes",
                    facts.networks.len()
                ),
            )],
            None => vec![Finding::block(
                "network",
                "every candidate range for the profile's network (a /24 of 172.30.0.0/16) \
                 overlaps a Docker network or a host route",
                "remove unused Docker networks (`docker network prune`)",
            )],
        };
    };
    let mut findings = Vec::new();
    for n in &facts.networks {
        if let Some(s) = n.subnets.iter().find(|s| overlaps(s, &subnet)) {
            findings.push(Finding::block(
                "network",
                format!(
                    "the profile's network {subnet} overlaps Docker network '{}' ({s}): Docker \
                     refuses to create the profile's network while it exists",
                    n.name
                ),
                format!(
                    "`docker network rm {}` if nothing uses it, or `localkube delete` and start \
                     again (a new profile picks a free range)",
                    n.name
                ),
            ));
        }
    }
    if !facts.daemon.as_ref().is_ok_and(|d| d.local) {
        // The host's routes are not the daemon's.
    } else {
        for r in foreign_routes(&facts.routes, &bridges(facts)) {
            if overlaps(&r.destination, &subnet) {
                findings.push(Finding::block(
                    "network",
                    format!(
                        "the profile's network {subnet} overlaps the host's route to {} via {} \
                         (a VPN or another tool's network): the cluster's addresses or that \
                         network's would be unreachable from this host",
                        r.destination, r.interface
                    ),
                    "`localkube delete` and start again: a new profile picks a range clear of \
                     the host's routes",
                ));
            }
        }
    }
    if findings.is_empty() {
        findings.push(Finding::ok(
            "network",
            format!(
                "the profile's network {subnet} overlaps no other Docker network or host route"
            ),
        ));
    }
    findings
}

fn port(facts: &Facts, intent: &Intent) -> Vec<Finding> {
    let Some(port) = intent.apiserver_port else {
        return vec![Finding::ok(
            "port",
            "the apiserver gets a free port on 127.0.0.1 when the profile is created",
        )];
    };
    if facts.apiserver_running {
        return vec![Finding::ok(
            "port",
            format!("127.0.0.1:{port} serves this profile's apiserver"),
        )];
    }
    match facts.port_free {
        Some(false) => vec![Finding::block(
            "port",
            format!(
                "port {port} on 127.0.0.1, where this profile's apiserver is published, is taken \
                 by another program"
            ),
            format!(
                "stop that program (`sudo ss -ltnp 'sport = :{port}'` names it), or `localkube \
                 delete` and start again with another --apiserver-port"
            ),
        )],
        _ => vec![Finding::ok("port", format!("127.0.0.1:{port} is free"))],
    }
}

/// Parses /proc/net/route: destination and mask are little-endian hex.
pub fn parse_routes(text: &str) -> Vec<Route> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let interface = fields.first()?;
            let destination = u32::from_str_radix(fields.get(1)?, 16).ok()?;
            let mask = u32::from_str_radix(fields.get(7)?, 16).ok()?;
            // The kernel prints the address as it lies in memory, read as a native integer.
            let destination = std::net::Ipv4Addr::from(destination.to_le_bytes());
            let prefix = mask.count_ones();
            Some(Route {
                destination: Ipv4Net::new(destination, prefix as u8).ok()?.trunc(),
                interface: interface.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn daemon() -> DaemonFacts {
        DaemonFacts {
            address: "unix:///var/run/docker.sock".into(),
            version: "28.5.2".into(),
            api_version: "1.51".into(),
            components: vec!["Engine".into(), "containerd".into(), "runc".into()],
            operating_system: "Debian GNU/Linux 13 (trixie)".into(),
            security_options: vec![
                "name=seccomp,profile=builtin".into(),
                "name=cgroupns".into(),
            ],
            cgroup_version: 2,
            cgroup_driver: "systemd".into(),
            memory_limit: true,
            cpu_cfs_quota: true,
            cpu_set: true,
            pids_limit: true,
            root_dir: "/var/lib/docker".into(),
            kernel_version: "6.12.0".into(),
            storage_driver: "overlayfs".into(),
            local: true,
            ..Default::default()
        }
    }

    fn kernel() -> KernelFacts {
        KernelFacts {
            cgroup_version: 2,
            cgroup_controllers: ["cpuset", "cpu", "io", "memory", "hugetlb", "pids"]
                .map(String::from)
                .to_vec(),
            overlay: true,
            bridge_netfilter: true,
            iptables_legacy: false,
            nf_tables: true,
            modules_dir: true,
            inotify_max_user_instances: Some(8192),
            inotify_max_user_watches: Some(1_048_576),
            ipv6: Some(true),
            ip6tables: true,
        }
    }

    /// A healthy cgroup v2 laptop.
    fn facts() -> Facts {
        Facts {
            daemon: Ok(daemon()),
            kernel: Some(kernel()),
            routes: parse_routes(
                "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n\
                 wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n\
                 wlan0\t0001A8C0\t00000000\t0001\t0\t0\t600\t00FFFFFF\t0\t0\t0\n\
                 docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n",
            ),
            networks: vec![Network {
                name: "bridge".into(),
                subnets: vec!["172.17.0.0/16".parse().unwrap()],
                bridge: "docker0".into(),
            }],
            disks: vec![Disk {
                what: "Docker's images and volumes".into(),
                path: "/var/lib/docker".into(),
                free_bytes: 100 << 30,
            }],
            port_free: Some(true),
            apiserver_running: false,
            own_bridge: Some("br-0123456789ab".into()),
        }
    }

    fn existing(nodes: u32) -> Intent {
        Intent {
            nodes,
            subnet: Some("172.30.7.0/24".parse().unwrap()),
            candidates: Vec::new(),
            apiserver_port: Some(40123),
            ip_family: IpFamily::Ipv4,
        }
    }

    fn new_profile() -> Intent {
        Intent {
            nodes: 1,
            subnet: None,
            candidates: crate::plan::config::candidate_subnets("p").collect(),
            apiserver_port: None,
            ip_family: IpFamily::Ipv4,
        }
    }

    #[test]
    fn ipv6_needs_block_only_a_profile_that_runs_it() {
        let mut f = facts();
        let k = f.kernel.as_mut().unwrap();
        k.ipv6 = Some(false);
        k.ip6tables = false;
        let mut intent = new_profile();
        assert!(problems(&check(&f, &intent)).is_empty());
        let said: Vec<String> = check(&f, &intent)
            .iter()
            .filter(|f| f.check == "ipv6")
            .map(Finding::line)
            .collect();
        assert!(said[0].contains("disable_ipv6 = 1"), "{said:?}");
        intent.ip_family = IpFamily::Dual;
        let findings = check(&f, &intent);
        let stops: Vec<String> = blocking(&findings).iter().map(|f| f.line()).collect();
        assert_eq!(stops.len(), 2, "{stops:?}");
        assert!(
            stops[0].contains("sysctl -w net.ipv6.conf.all.disable_ipv6=0"),
            "{stops:?}"
        );
        assert!(stops[1].contains("modprobe nf_tables"), "{stops:?}");
        let healthy = check(&facts(), &intent);
        assert!(blocking(&healthy).is_empty());
        assert!(
            healthy
                .iter()
                .any(|f| f.check == "ipv6" && f.message.contains("can run")),
            "{healthy:?}"
        );
    }

    fn problems(findings: &[Finding]) -> Vec<String> {
        findings
            .iter()
            .filter(|f| f.severity != Severity::Ok)
            .map(Finding::line)
            .collect()
    }

    #[test]
    fn a_healthy_cgroup_v2_host_has_nothing_to_say() {
        let findings = check(&facts(), &existing(1));
        assert!(problems(&findings).is_empty(), "{:#?}", problems(&findings));
        for check in [
            "docker", "cgroup", "kernel", "inotify", "disk", "network", "port",
        ] {
            assert!(
                findings.iter().any(|f| f.check == check),
                "no verdict for {check}"
            );
        }
    }

    #[test]
    fn docker_before_28_is_named_with_what_it_exposes_and_the_rule_that_closes_it() {
        let mut facts = facts();
        facts.daemon.as_mut().unwrap().version = "20.10.24+dfsg1".into();
        let findings = check(&facts, &existing(1));
        let warning = findings
            .iter()
            .find(|f| f.check == "docker" && f.severity == Severity::Warning)
            .expect("a warning for Docker 20.10");
        assert!(warning.message.contains("127.0.0.1"), "{}", warning.line());
        assert!(warning.fix.as_deref().unwrap().contains("Docker Engine 28"));
        // 28 and newer, and an engine that says no version, get none.
        for version in ["28.0.0", "29.1.2", ""] {
            facts.daemon.as_mut().unwrap().version = version.into();
            let findings = check(&facts, &existing(1));
            assert!(
                !findings.iter().any(|f| f.severity == Severity::Warning),
                "{version}: {findings:#?}"
            );
        }
    }

    #[test]
    fn routes_parse_from_proc_net_route() {
        let routes = facts().routes;
        assert_eq!(
            routes[0].destination,
            "0.0.0.0/0".parse::<Ipv4Net>().unwrap()
        );
        assert_eq!(
            routes[1].destination,
            "192.168.1.0/24".parse::<Ipv4Net>().unwrap()
        );
        assert_eq!(routes[1].interface, "wlan0");
        assert_eq!(
            routes[2].destination,
            "172.17.0.0/16".parse::<Ipv4Net>().unwrap()
        );
    }

    #[test]
    fn an_old_engine_is_refused_naming_the_version_needed() {
        let mut f = facts();
        f.daemon = Ok(DaemonFacts {
            version: "19.03.15".into(),
            api_version: "1.40".into(),
            ..daemon()
        });
        let findings = check(&f, &existing(1));
        let blocking = blocking(&findings);
        assert_eq!(blocking.len(), 1, "{findings:#?}");
        let line = blocking[0].line();
        assert!(
            line.contains("19.03.15") && line.contains("API 1.40"),
            "{line}"
        );
        assert!(
            line.contains("Docker Engine 20.10 or newer (API 1.41)"),
            "{line}"
        );
        // Newer than localkube knows is fine: the API is negotiated down.
        f.daemon = Ok(DaemonFacts {
            api_version: "1.52".into(),
            ..daemon()
        });
        assert!(blocking_of(&f, &existing(1)).is_empty());
    }

    fn blocking_of(f: &Facts, i: &Intent) -> Vec<String> {
        blocking(&check(f, i)).iter().map(|f| f.line()).collect()
    }

    #[test]
    fn podman_is_refused_with_what_to_use_instead() {
        let mut f = facts();
        f.daemon = Ok(DaemonFacts {
            version: "5.4.2".into(),
            api_version: "1.41".into(),
            components: vec!["Podman Engine".into(), "Conmon".into()],
            ..daemon()
        });
        let lines = blocking_of(&f, &existing(1));
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains("Podman 5.4.2"), "{}", lines[0]);
        assert!(
            lines[0].contains("fix: install Docker Engine"),
            "{}",
            lines[0]
        );
    }

    #[test]
    fn no_daemon_blocks_with_how_to_start_one() {
        let mut f = facts();
        f.daemon = Err("connection refused".into());
        let lines = blocking_of(&f, &existing(1));
        assert_eq!(lines.len(), 1);
        assert!(lines[0].contains("systemctl start docker"), "{}", lines[0]);
    }

    #[test]
    fn a_missing_memory_controller_blocks_and_the_fix_fits_the_host() {
        let mut f = facts();
        f.daemon = Ok(DaemonFacts {
            memory_limit: false,
            ..daemon()
        });
        let lines = blocking_of(&f, &existing(1));
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].contains("memory cgroup controller"),
            "{}",
            lines[0]
        );
        assert!(lines[0].contains("echo '+memory'"), "{}", lines[0]);
        // Rootless: systemd must delegate it.
        f.daemon = Ok(DaemonFacts {
            cpu_set: false,
            security_options: vec!["name=rootless".into(), "name=cgroupns".into()],
            ..daemon()
        });
        let lines = blocking_of(&f, &existing(1));
        assert!(
            lines[0].contains("cpuset") && lines[0].contains("Delegate="),
            "{lines:?}"
        );
        // The kernel's list counts too (a controller missing from cgroup.controllers).
        let mut f = facts();
        f.kernel
            .as_mut()
            .unwrap()
            .cgroup_controllers
            .retain(|c| c != "cpu");
        let lines = blocking_of(&f, &existing(1));
        assert!(lines[0].contains("the cpu cgroup controller"), "{lines:?}");
    }

    #[test]
    fn cgroup_v1_is_a_warning_not_a_refusal() {
        let mut f = facts();
        f.daemon = Ok(DaemonFacts {
            cgroup_version: 1,
            cgroup_driver: "cgroupfs".into(),
            ..daemon()
        });
        let findings = check(&f, &existing(1));
        assert!(blocking(&findings).is_empty());
        let lines = problems(&findings);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with("warning [cgroup]: cgroup v1"),
            "{}",
            lines[0]
        );
        assert!(lines[0].contains("systemd.unified_cgroup_hierarchy=1"));
    }

    #[test]
    fn inotify_limits_scale_with_the_nodes_and_name_the_sysctl() {
        let mut f = facts();
        let k = f.kernel.as_mut().unwrap();
        k.inotify_max_user_instances = Some(128);
        k.inotify_max_user_watches = Some(8192);
        // One node: 128 instances are enough, 8192 watches are not.
        let lines = problems(&check(&f, &existing(1)));
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].starts_with("warning [inotify]"), "{}", lines[0]);
        assert!(
            lines[0].contains(
                "`sudo sysctl -w fs.inotify.max_user_instances=128 fs.inotify.max_user_watches=65536`"
            ),
            "{}",
            lines[0]
        );
        // Three nodes need three times as much of both.
        let lines = problems(&check(&f, &existing(3)));
        assert!(
            lines[0].contains(
                "`sudo sysctl -w fs.inotify.max_user_instances=384 fs.inotify.max_user_watches=196608`"
            ),
            "{}",
            lines[0]
        );
        // A warning: start goes on.
        assert!(blocking(&check(&f, &existing(3))).is_empty());
    }

    #[test]
    fn missing_overlay_blocks_and_missing_iptables_warns() {
        let mut f = facts();
        let k = f.kernel.as_mut().unwrap();
        k.overlay = false;
        k.nf_tables = false;
        let findings = check(&f, &existing(1));
        let lines = problems(&findings);
        assert!(
            lines.iter().any(
                |l| l.starts_with("problem [kernel]: the kernel has no overlay")
                    && l.contains("sudo modprobe overlay")
            ),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("warning [kernel]: neither iptables backend")),
            "{lines:?}"
        );
        assert_eq!(blocking(&findings).len(), 1);
    }

    #[test]
    fn low_disk_blocks_under_2_gib_and_warns_under_10() {
        let mut f = facts();
        f.disks[0].free_bytes = 1 << 30;
        let lines = blocking_of(&f, &existing(1));
        assert!(
            lines[0].contains("1.0 GiB free under /var/lib/docker"),
            "{lines:?}"
        );
        assert!(lines[0].contains("docker system prune"), "{lines:?}");
        f.disks[0].free_bytes = 5 << 30;
        let findings = check(&f, &existing(1));
        assert!(blocking(&findings).is_empty());
        assert!(problems(&findings)[0].starts_with("warning [disk]: 5.0 GiB"));
    }

    #[test]
    fn an_occupied_range_blocks_an_existing_profile_and_is_skipped_by_a_new_one() {
        let mut f = facts();
        f.networks.push(Network {
            name: "other-tool".into(),
            subnets: vec!["172.30.0.0/16".parse().unwrap()],
            bridge: "br-111111111111".into(),
        });
        let lines = blocking_of(&f, &existing(1));
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains("overlaps Docker network 'other-tool' (172.30.0.0/16)"));
        assert!(lines[0].contains("`docker network rm other-tool`"));
        // A new profile has no range left in 172.30.0.0/16.
        let lines = blocking_of(&f, &new_profile());
        assert!(lines[0].contains("every candidate range"), "{lines:?}");
        // A VPN's route over part of it: the new profile takes another range.
        let mut f = facts();
        let first = new_profile().candidates[0];
        f.routes.push(Route {
            destination: first,
            interface: "tun0".into(),
        });
        let free = free_subnet(&new_profile().candidates, &f).unwrap();
        assert_ne!(free, first);
        assert!(blocking_of(&f, &new_profile()).is_empty());
        let mut existing = existing(1);
        existing.subnet = Some(first);
        let lines = blocking_of(&f, &existing);
        assert!(
            lines[0].contains("route to") && lines[0].contains("via tun0"),
            "{lines:?}"
        );
    }

    #[test]
    fn the_daemon_s_own_bridges_are_not_held_against_the_range_another_daemon_s_are() {
        let mut f = facts();
        // The profile's own network's bridge, and docker0.
        f.routes.push(Route {
            destination: "172.30.7.0/24".parse().unwrap(),
            interface: "br-0123456789ab".into(),
        });
        assert!(blocking_of(&f, &existing(1)).is_empty());
        // A second daemon's bridge on the same range.
        let mut existing = existing(1);
        existing.subnet = Some("172.30.8.0/24".parse().unwrap());
        f.routes.push(Route {
            destination: "172.30.8.0/24".parse().unwrap(),
            interface: "br-ba9876543210".into(),
        });
        let lines = blocking_of(&f, &existing);
        assert!(lines[0].contains("via br-ba9876543210"), "{lines:?}");
    }

    #[test]
    fn a_taken_port_blocks_unless_the_profile_s_apiserver_holds_it() {
        let mut f = facts();
        f.port_free = Some(false);
        let lines = blocking_of(&f, &existing(1));
        assert!(lines[0].contains("port 40123 on 127.0.0.1"), "{lines:?}");
        assert!(lines[0].contains("ss -ltnp"), "{lines:?}");
        f.apiserver_running = true;
        assert!(blocking_of(&f, &existing(1)).is_empty());
    }

    #[test]
    fn desktop_and_rootless_are_detected_and_warned_about() {
        let mut f = facts();
        f.daemon = Ok(DaemonFacts {
            operating_system: "Docker Desktop".into(),
            local: false,
            ..daemon()
        });
        f.kernel = None;
        let findings = check(&f, &existing(1));
        assert!(blocking(&findings).is_empty(), "{findings:#?}");
        let lines = problems(&findings);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains("Docker Desktop runs the cluster inside its VM"));
        assert!(lines[0].contains("port-forward"));
        let mut f = facts();
        f.daemon = Ok(DaemonFacts {
            security_options: vec![
                "name=seccomp,profile=builtin".into(),
                "name=rootless".into(),
            ],
            ..daemon()
        });
        let lines = problems(&check(&f, &existing(1)));
        assert!(
            lines[0].starts_with("warning [docker]: rootless Docker"),
            "{lines:?}"
        );
    }
}
