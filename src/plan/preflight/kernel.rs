//! The kernel: modules and settings the nodes need, and the inotify budget they share.

use super::{DaemonFacts, Finding, KernelFacts};

/// inotify: kubelet, containerd and every pod that watches files take instances and watches from
/// one per-user budget (all nodes run as the same user): kind's "too many open files" on
/// multi-node clusters. Measured need grows with nodes; these are per node, plus one for the host.
pub const INOTIFY_INSTANCES_PER_NODE: u64 = 128;
pub const INOTIFY_WATCHES_PER_NODE: u64 = 65_536;

pub(super) fn kernel(daemon: &DaemonFacts, kernel: Option<&KernelFacts>) -> Vec<Finding> {
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

/// The inotify limits a cluster of `nodes` nodes needs.
pub fn inotify_needed(nodes: u32) -> (u64, u64) {
    let nodes = u64::from(nodes.max(1));
    (
        INOTIFY_INSTANCES_PER_NODE * nodes,
        INOTIFY_WATCHES_PER_NODE * nodes,
    )
}

pub(super) fn inotify(kernel: Option<&KernelFacts>, nodes: u32) -> Vec<Finding> {
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
