//! The profile's own settings ([`ClusterSettings`]) applied to the planned containers: extra
//! flags, gates and runtime config of the control plane, the audit log of the apiserver, host
//! folders of the nodes. Each option says why it is there.

use sha2::Digest as _;

use super::{COMPONENT_CONFIG_DIR, ContainerSpec, HostFacts, MountSpec, StagedFile};
use crate::plan::config::ProfileConfig;
use crate::plan::known_options::Component;
use crate::plan::names::Role;
use crate::plan::settings::{AUDIT_LOG_BACKUPS, AUDIT_LOG_DIR, AUDIT_LOG_MAX_MB, merge_flags};

/// Where the profile keeps the audit policy it stages (relative to its folder) and the audit log
/// folder the apiserver writes into (on the host, under the profile's folder).
pub const AUDIT_POLICY_FILE: &str = "audit-policy.yaml";
pub const AUDIT_HOST_DIR: &str = "audit";
/// The label that carries the policy's digest, so a changed policy makes a new apiserver.
pub const LABEL_AUDIT_POLICY: &str = "io.localkube.audit-policy";

/// A control-plane container with the profile's settings applied.
pub(super) fn control_plane(
    mut spec: ContainerSpec,
    config: &ProfileConfig,
    paths: &HostFacts,
) -> ContainerSpec {
    let settings = &config.settings;
    let component = match spec.role.as_str() {
        r if r == Role::Apiserver.as_str() => Component::Apiserver,
        r if r == Role::ControllerManager.as_str() => Component::ControllerManager,
        r if r == Role::Scheduler.as_str() => Component::Scheduler,
        _ => return spec,
    };
    // The user's flags after localkube's: one they give again replaces localkube's value
    // (kubeadm's extraArgs), gates and runtime config are merged key by key.
    spec.args = merge_flags(
        spec.args,
        settings.extra_flags(component, &config.kubernetes_version),
    );
    if component == Component::Apiserver
        && let Some(audit) = &settings.audit
    {
        audit_log(&mut spec, paths, audit.policy_text());
    }
    spec
}

/// The apiserver's audit log: written to a host folder of the profile (`localkube logs --audit`
/// reads it there), rotated by size so it never grows past a few tens of MB.
fn audit_log(spec: &mut ContainerSpec, paths: &HostFacts, policy: &str) {
    let policy_in = format!("{COMPONENT_CONFIG_DIR}/{AUDIT_POLICY_FILE}");
    spec.args.extend([
        // What is recorded, and at which level (the profile's policy, staged with the rest).
        format!("--audit-policy-file={policy_in}"),
        // One JSON event a line, the format `logs --audit` reads.
        format!("--audit-log-path={AUDIT_LOG_DIR}/audit.log"),
        "--audit-log-format=json".into(),
        // Rotation: a new file past this many MB, this many old ones kept, compressed none (so
        // `logs --audit` reads them as they are).
        format!("--audit-log-maxsize={AUDIT_LOG_MAX_MB}"),
        format!("--audit-log-maxbackup={AUDIT_LOG_BACKUPS}"),
    ]);
    spec.staged_files.push(StagedFile {
        from: AUDIT_POLICY_FILE.into(),
        to: AUDIT_POLICY_FILE.into(),
    });
    // Writable: the apiserver writes the log; the folder is the profile's, so the log is on the
    // host beside the profile's other files and survives the container.
    spec.mounts.push(MountSpec::Bind {
        source: paths.profile_dir.join(AUDIT_HOST_DIR),
        target: AUDIT_LOG_DIR.into(),
        read_only: false,
    });
    spec.labels.insert(
        LABEL_AUDIT_POLICY.into(),
        hex::encode(sha2::Sha256::digest(policy.as_bytes())),
    );
}

/// A node's container with the profile's host folders bound into it.
pub(super) fn node(mut spec: ContainerSpec, config: &ProfileConfig) -> ContainerSpec {
    for mount in &config.settings.mounts {
        // The user's folder, live: a pod's hostPath volume of `node_path` sees the host's files
        // as they change. Read-only when asked: then neither the node nor any pod can write it.
        spec.mounts.push(MountSpec::Bind {
            source: mount.host_path.clone(),
            target: mount.node_path.clone(),
            read_only: mount.read_only,
        });
    }
    spec
}
