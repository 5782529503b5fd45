//! The cgroup controllers a node needs.

use super::{DaemonFacts, Finding, KernelFacts};

/// The controllers a node needs, with whether the daemon can use each: kubelet refuses to start
/// without cpu, cpuset and memory; pids only limits pods' processes.
pub(super) fn cgroup(daemon: &DaemonFacts, kernel: Option<&KernelFacts>) -> Vec<Finding> {
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
