//! Gathers what `plan::preflight` judges: the Docker daemon's answers, and where the daemon runs
//! on this machine's kernel, /proc and /sys, the IPv4 routes and free disk. Reads only; nothing
//! here changes the host.
//!
//! `LOCALKUBE_TEST_HOST_ROOT` points the /proc and /sys reads at a folder laid out like `/`, so
//! tests can give the checks a kernel this machine does not have.

use std::path::{Path, PathBuf};

use anyhow::Result;
use bollard::Docker;
use bollard::query_parameters::ListNetworksOptions;

use crate::plan::preflight::{DaemonFacts, Disk, KernelFacts, Network, Route, parse_routes};

pub const TEST_ROOT_ENV: &str = "LOCALKUBE_TEST_HOST_ROOT";

/// Where /proc and /sys are read: `/`, or the test's fake root.
pub fn host_root() -> PathBuf {
    std::env::var_os(TEST_ROOT_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// Where the docker CLI would connect: DOCKER_HOST, or the default socket.
pub fn docker_address() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into())
}

/// What the daemon's `/version` says: enough to refuse an engine localkube cannot work with,
/// cheap enough for every connection.
pub async fn daemon_version(docker: &Docker) -> Result<DaemonFacts> {
    let version = docker.version().await?;
    Ok(DaemonFacts {
        address: docker_address(),
        version: version.version.unwrap_or_default(),
        api_version: version.api_version.unwrap_or_default(),
        platform: version.platform.map(|p| p.name).unwrap_or_default(),
        components: version
            .components
            .unwrap_or_default()
            .into_iter()
            .map(|c| c.name)
            .collect(),
        ..Default::default()
    })
}

/// What the daemon says of itself: `/version` and `/info`.
pub async fn daemon(docker: &Docker) -> Result<DaemonFacts> {
    let facts = daemon_version(docker).await?;
    let info = docker.info().await?;
    let operating_system = info.operating_system.unwrap_or_default();
    // Docker Desktop runs its engine in a VM even on Linux; a TCP or ssh DOCKER_HOST is
    // another machine as far as we can tell.
    let local =
        facts.address.starts_with("unix://") && !operating_system.contains("Docker Desktop");
    Ok(DaemonFacts {
        operating_system,
        security_options: info.security_options.unwrap_or_default(),
        cgroup_version: info
            .cgroup_version
            .map(|v| v.to_string().parse().unwrap_or(0))
            .unwrap_or(0),
        cgroup_driver: info
            .cgroup_driver
            .map(|d| d.to_string())
            .unwrap_or_default(),
        memory_limit: info.memory_limit.unwrap_or(false),
        cpu_cfs_quota: info.cpu_cfs_quota.unwrap_or(false),
        cpu_set: info.cpu_set.unwrap_or(false),
        pids_limit: info.pids_limit.unwrap_or(false),
        root_dir: info.docker_root_dir.unwrap_or_default(),
        kernel_version: info.kernel_version.unwrap_or_default(),
        storage_driver: info.driver.unwrap_or_default(),
        local,
        ..facts
    })
}

/// Docker's networks with their IPv4 subnets and bridge interfaces.
pub async fn networks(docker: &Docker) -> Result<Vec<Network>> {
    let found = docker.list_networks(None::<ListNetworksOptions>).await?;
    Ok(found
        .into_iter()
        .map(|n| {
            let id = n.id.unwrap_or_default();
            // Docker names a bridge br-<12 characters of the network's ID> unless told a name.
            let bridge = n
                .options
                .as_ref()
                .and_then(|o| o.get("com.docker.network.bridge.name").cloned())
                .unwrap_or_else(|| format!("br-{}", id.get(..12).unwrap_or(&id)));
            Network {
                name: n.name.unwrap_or_default(),
                subnets: n
                    .ipam
                    .and_then(|i| i.config)
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|c| c.subnet.and_then(|s| s.parse().ok()))
                    .collect(),
                bridge,
            }
        })
        .filter(|n| !n.subnets.is_empty())
        .collect())
}

fn read(root: &Path, rel: &str) -> Option<String> {
    std::fs::read_to_string(root.join(rel)).ok()
}

fn read_number(root: &Path, rel: &str) -> Option<u64> {
    read(root, rel)?.trim().parse().ok()
}

/// The kernel's side, read under `root`.
pub fn kernel(root: &Path) -> KernelFacts {
    let v2 = root.join("sys/fs/cgroup/cgroup.controllers").exists();
    let cgroup_controllers: Vec<String> = if v2 {
        read(root, "sys/fs/cgroup/cgroup.controllers")
            .unwrap_or_default()
            .split_whitespace()
            .map(String::from)
            .collect()
    } else {
        // `#subsys_name hierarchy num_cgroups enabled`
        read(root, "proc/cgroups")
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.get(3) == Some(&"1")).then(|| f[0].to_string())
            })
            .collect()
    };
    let modules = read(root, "proc/modules").unwrap_or_default();
    let module_loaded = |name: &str| {
        root.join("sys/module").join(name).exists()
            || modules.lines().any(|l| l.starts_with(&format!("{name} ")))
    };
    let release = read(root, "proc/sys/kernel/osrelease").unwrap_or_default();
    KernelFacts {
        cgroup_version: if v2 { 2 } else { 1 },
        cgroup_controllers,
        overlay: read(root, "proc/filesystems")
            .unwrap_or_default()
            .lines()
            .any(|l| l.split_whitespace().last() == Some("overlay")),
        bridge_netfilter: root.join("proc/sys/net/bridge").exists(),
        iptables_legacy: root.join("proc/net/ip_tables_names").exists(),
        nf_tables: module_loaded("nf_tables"),
        modules_dir: !release.trim().is_empty()
            && root.join("lib/modules").join(release.trim()).exists(),
        inotify_max_user_instances: read_number(root, "proc/sys/fs/inotify/max_user_instances"),
        inotify_max_user_watches: read_number(root, "proc/sys/fs/inotify/max_user_watches"),
        ipv6: read_number(root, "proc/sys/net/ipv6/conf/all/disable_ipv6").map(|d| d == 0),
        ip6tables: root.join("proc/net/ip6_tables_names").exists() || module_loaded("nf_tables"),
    }
}

/// The host's IPv4 routes.
pub fn routes(root: &Path) -> Vec<Route> {
    parse_routes(&read(root, "proc/net/route").unwrap_or_default())
}

/// The host's IPv6 routes (none where the kernel has no IPv6).
pub fn ipv6_routes(root: &Path) -> Vec<(ipnet::Ipv6Net, String)> {
    crate::plan::networking::parse_ipv6_routes(
        &read(root, "proc/net/ipv6_route").unwrap_or_default(),
    )
}

/// Free bytes on the filesystem holding `path` (or its nearest existing parent: the folder may
/// not exist yet).
pub fn free_disk(what: &str, path: &Path) -> Option<Disk> {
    let mut existing = path;
    while !existing.exists() {
        existing = existing.parent()?;
    }
    let stat = rustix::fs::statvfs(existing).ok()?;
    Some(Disk {
        what: what.to_string(),
        path: path.display().to_string(),
        free_bytes: stat.f_bavail.saturating_mul(stat.f_frsize),
    })
}

/// Whether 127.0.0.1:port can be bound now.
pub fn port_free(port: u16) -> bool {
    std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, port)).is_ok()
}
