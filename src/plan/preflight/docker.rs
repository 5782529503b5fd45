//! The Docker daemon: whether one answers, and whether localkube can work with it.

use super::{DaemonFacts, Facts, Finding};
use crate::plan::engines;

/// The oldest Docker API localkube works with: Docker Engine 20.10 (API 1.41) brought private
/// cgroup namespaces (`--cgroupns=private`), which every node needs.
pub const MIN_API: (u32, u32) = (1, 41);
pub const MIN_ENGINE: &str = "20.10";

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

pub(super) fn docker(facts: &Facts) -> Vec<Finding> {
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
pub(super) fn engine_major(version: &str) -> Option<u32> {
    version.split('.').next()?.trim().parse().ok()
}
