//! What a cluster file and the settings flags need of the host: the file read, an audit policy
//! file read and checked, and host folders checked (they exist, are folders, and are not what
//! localkube or Docker owns) and made absolute. The rules are `plan::settings`'.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::effects::home::Home;
use crate::plan::cluster_file::{ClusterFile, FileRequest};
use crate::plan::insecure;
use crate::plan::settings::{ClusterSettings, check_host_path, machine_denylist};

/// A cluster file, read and parsed; its audit policy read too.
pub fn load(path: &Path) -> Result<FileRequest> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the cluster file {}", path.display()))?;
    let file = ClusterFile::parse(&text)
        .with_context(|| format!("the cluster file {} is not valid", path.display()))?;
    let dir = std::path::absolute(path)
        .with_context(|| format!("resolving {}", path.display()))?
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"));
    let mut request = file
        .into_parts(&dir)
        .with_context(|| format!("the cluster file {} is not valid", path.display()))?;
    if let Some(policy) = &request.audit_policy_file {
        let document = read_policy(policy)?;
        if let Some(audit) = &mut request.settings.audit {
            audit.document = Some(document);
        }
    }
    Ok(request)
}

/// An audit policy file: YAML of `kind: Policy` in `audit.k8s.io/v1`, as the apiserver takes it.
fn read_policy(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "audit.policy: reading {} (write `default` for localkube's policy)",
            path.display()
        )
    })?;
    let value: serde_json::Value = crate::yaml::from_str(&text)
        .with_context(|| format!("audit.policy: {} is not YAML", path.display()))?;
    if value["kind"] != "Policy" || value["apiVersion"] != "audit.k8s.io/v1" {
        bail!(
            "audit.policy: {} is not an audit policy: it needs `apiVersion: audit.k8s.io/v1` and `kind: Policy` (https://kubernetes.io/docs/tasks/debug/debug-cluster/audit/)",
            path.display()
        );
    }
    Ok(text)
}

/// Each host folder of `settings`: made absolute and canonical (links resolved, so a link to
/// `/proc` is `/proc`), and refused unless it is an existing folder that neither localkube, nor
/// Docker, nor the host's system owns; with `insecure` (the user's word) only localkube's own
/// folders are refused.
pub fn check_mounts(home: &Home, settings: &mut ClusterSettings, insecure: bool) -> Result<()> {
    if settings.mounts.is_empty() {
        return Ok(());
    }
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let owned = [canonical(home.root()), canonical(home.cache())];
    let socket = crate::plan::load_balancer::docker_socket_path(
        std::env::var("DOCKER_HOST").ok().as_deref(),
    )
    .map_err(anyhow::Error::msg)?;
    let user_home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .filter(|h| h.is_absolute() && h != Path::new("/"));
    // Each entry as written and as resolved here (`/var/run` is a link to `/run` on most
    // systems; Docker's data root may be a link to another disk). A daemon configured with
    // another data root is not asked: no Docker call before anything is checked.
    let mut denied = Vec::new();
    let listed = insecure::system_denylist()
        .into_iter()
        .chain(machine_denylist(&socket, user_home.as_deref()));
    for entry in listed {
        let resolved = canonical(&entry.path);
        if resolved != entry.path {
            denied.push(insecure::DeniedPath {
                path: resolved,
                ..entry.clone()
            });
        }
        denied.push(entry);
    }
    for mount in &mut settings.mounts {
        let host = std::path::absolute(&mount.host_path)
            .with_context(|| format!("resolving {}", mount.host_path.display()))?;
        let meta = std::fs::metadata(&host).map_err(|e| {
            anyhow::anyhow!(
                "mounts: hostPath {} cannot be used ({e}): give an existing folder of this machine",
                host.display()
            )
        })?;
        if !meta.is_dir() {
            bail!(
                "mounts: hostPath {} is a file, not a folder: mount the folder that holds it",
                host.display()
            );
        }
        let host = canonical(&host);
        check_host_path(&host, &owned, &denied, insecure)?;
        mount.host_path = host;
    }
    Ok(())
}
