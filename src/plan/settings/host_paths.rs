//! Host folders bound into the nodes: where they may appear in a node, and which host folders
//! may never be bound.

use std::path::{Path, PathBuf};

use super::{SettingsError, err};
use crate::plan::insecure;

/// Folders of a node localkube or the node's own system uses: a host folder bound over one would
/// hide what the node needs (its config, containerd's and kubelet's state on the /var volume, the
/// tmpfs /run and /tmp, its programs).
pub const RESERVED_NODE_PATHS: [&str; 14] = [
    "/bin", "/boot", "/dev", "/etc", "/lib", "/lib64", "/proc", "/run", "/sbin", "/sys", "/tmp",
    "/usr", "/var", "/root",
];

pub(super) fn check_node_path(path: &str) -> Result<(), SettingsError> {
    if !path.starts_with('/') || path.split('/').any(|p| p == "..") {
        return err(format!(
            "mounts: nodePath '{path}' must be an absolute path without '..', e.g. /src"
        ));
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return err(
            "mounts: nodePath / would hide the whole node: choose a folder such as /src or /mnt/data",
        );
    }
    for reserved in RESERVED_NODE_PATHS {
        if trimmed == reserved || trimmed.starts_with(&format!("{reserved}/")) {
            return err(format!(
                "mounts: nodePath {path} is inside {reserved}, which the node itself uses (its programs, its config under /etc/localkube, containerd's and kubelet's state on the /var volume, the tmpfs /run and /tmp): choose a folder such as /src or /mnt/data"
            ));
        }
    }
    Ok(())
}

/// A host folder that must not go into a node. localkube's own folders (its profiles' keys, its
/// cache) and those holding them are always refused; a folder of `denied` (the host's own, the
/// Docker socket's, the user's home: [`insecure::denied_host_path`]) unless the user said
/// `insecure`. `host` and every path given are canonical.
pub fn check_host_path(
    host: &Path,
    localkube_owned: &[PathBuf],
    denied: &[insecure::DeniedPath],
    insecure: bool,
) -> Result<(), SettingsError> {
    for owned in localkube_owned {
        // A folder that holds localkube's (a home folder) would expose the profiles' keys too.
        if host.starts_with(owned) || owned.starts_with(host) {
            return err(format!(
                "mounts: hostPath {} {} {}, which localkube owns (profiles' keys, its cache): mount a folder of your own",
                host.display(),
                if host.starts_with(owned) {
                    "is inside"
                } else {
                    "holds"
                },
                owned.display()
            ));
        }
    }
    match insecure::denied_host_path(host, denied) {
        Some(problem) if !insecure => err(problem),
        _ => Ok(()),
    }
}

/// The machine's own entries of the denylist besides [`insecure::DENIED_HOST_PATHS`]: the
/// Docker socket (a folder holding it), the user's home (itself or a folder holding it; its
/// project folders are what mounts are for) and its folders of credentials.
pub fn machine_denylist(
    docker_socket: &Path,
    user_home: Option<&Path>,
) -> Vec<insecure::DeniedPath> {
    let mut out = vec![insecure::DeniedPath {
        path: docker_socket.to_path_buf(),
        why: "the Docker socket: a pod that reaches it runs anything as root on this machine"
            .into(),
        inside_too: false,
    }];
    if let Some(home) = user_home {
        out.push(insecure::DeniedPath {
            path: home.to_path_buf(),
            why: "your home folder (your keys, credentials and shell startup files)".into(),
            inside_too: false,
        });
        for secret in [".ssh", ".gnupg", ".kube", ".docker", ".aws", ".config"] {
            out.push(insecure::DeniedPath {
                path: home.join(secret),
                why: format!("your credentials (~/{secret})"),
                inside_too: true,
            });
        }
    }
    out
}
