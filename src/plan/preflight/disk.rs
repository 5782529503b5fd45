//! Free space where Docker keeps images and volumes.

use super::{DaemonFacts, Disk, Finding};

/// Below this much free space where Docker keeps images and volumes a start cannot finish (the
/// images of one Kubernetes version take about 1 GB, a node's /var a few hundred MB).
pub const DISK_BLOCK_BYTES: u64 = 2 << 30;
/// Below this, a start works but a few image loads or a second version fill the disk.
pub const DISK_WARN_BYTES: u64 = 10 << 30;

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / f64::from(1u32 << 30))
}

pub(super) fn disk(daemon: &DaemonFacts, disks: &[Disk]) -> Vec<Finding> {
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
