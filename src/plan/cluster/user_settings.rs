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

/// The audit log folder of a control-plane member, relative to the profile's folder: `audit`
/// for member 1 (the single control plane's), `audit-2` and `audit-3` for the others (named
/// as their containers are). A log of its own for each apiserver: one file written by three
/// processes would be corrupted at its first rotation; `logs audit` merges them by time.
pub fn audit_host_dir(member: u32) -> String {
    if member == 1 {
        AUDIT_HOST_DIR.to_string()
    } else {
        format!("{AUDIT_HOST_DIR}-{member}")
    }
}

/// The label that carries the policy's digest, so a changed policy makes a new apiserver.
pub const LABEL_AUDIT_POLICY: &str = "io.localkube.audit-policy";

/// A control-plane container with the profile's settings applied.
pub(super) fn control_plane(
    mut spec: ContainerSpec,
    config: &ProfileConfig,
    paths: &HostFacts,
) -> ContainerSpec {
    let settings = &config.settings;
    let component = match spec.role {
        Role::Apiserver => Component::Apiserver,
        Role::ControllerManager => Component::ControllerManager,
        Role::Scheduler => Component::Scheduler,
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
        // Which member this apiserver is, by its address (each member has its own).
        let member = config
            .members()
            .find(|m| config.member_ip(Role::Apiserver, *m) == spec.ip)
            .unwrap_or(1);
        audit_log(&mut spec, paths, member, audit.policy_text());
    }
    spec
}

/// The apiserver's audit log: written to a host folder of the profile (`localkube logs --audit`
/// reads it there), rotated by size so it never grows past a few tens of MB.
fn audit_log(spec: &mut ContainerSpec, paths: &HostFacts, member: u32, policy: &str) {
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
        source: paths.profile_dir.join(audit_host_dir(member)),
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

#[cfg(test)]
mod tests {
    use crate::plan::cluster::{ClusterPlan, ContainerSpec, HostFacts, MountSpec, plan};
    use crate::plan::config::ProfileConfig;
    use crate::plan::names::LABEL_SPEC_DIGEST;
    use crate::plan::profile_name::ProfileName;
    use crate::plan::settings::{Audit, NodeSettings};

    fn planned(edit: impl FnOnce(&mut ProfileConfig)) -> ClusterPlan {
        let mut config = ProfileConfig::new(40123, "172.30.7.0/24".parse().unwrap());
        edit(&mut config);
        plan(
            &ProfileName::parse("dev").unwrap(),
            &config,
            &HostFacts::example("/p/dev"),
        )
    }

    fn spec<'a>(plan: &'a ClusterPlan, name: &str) -> &'a ContainerSpec {
        plan.containers.iter().find(|c| c.name == name).unwrap()
    }

    fn digest(plan: &ClusterPlan, name: &str) -> String {
        spec(plan, name).labels[LABEL_SPEC_DIGEST].clone()
    }

    #[test]
    fn a_change_makes_anew_exactly_the_containers_it_concerns() {
        let base = planned(|_| {});
        let kubelet = planned(|c| {
            c.settings.kubelet.insert("maxPods".into(), 50.into());
        });
        assert_ne!(digest(&base, "dev"), digest(&kubelet, "dev"));
        assert_eq!(
            digest(&base, "dev-apiserver"),
            digest(&kubelet, "dev-apiserver")
        );
        let labels = planned(|c| {
            c.settings.node_settings.insert(
                1,
                NodeSettings {
                    labels: [("tier".to_string(), "a".to_string())].into(),
                    taints: vec![],
                },
            );
        });
        for name in ["dev", "dev-apiserver", "dev-scheduler"] {
            assert_eq!(digest(&base, name), digest(&labels, name), "{name}");
        }
        let flag = planned(|c| {
            c.settings.scheduler_args.insert("v".into(), "2".into());
        });
        assert_ne!(
            digest(&base, "dev-scheduler"),
            digest(&flag, "dev-scheduler")
        );
        assert_eq!(
            digest(&base, "dev-apiserver"),
            digest(&flag, "dev-apiserver")
        );
        assert_eq!(digest(&base, "dev"), digest(&flag, "dev"));
    }

    #[test]
    fn the_audit_log_goes_to_the_profiles_folder_and_its_policy_into_the_digest() {
        let audited = |document: Option<&str>| {
            planned(|c| {
                c.settings.audit = Some(Audit {
                    policy: "p".into(),
                    document: document.map(str::to_string),
                })
            })
        };
        let plan = audited(None);
        let api = spec(&plan, "dev-apiserver");
        assert!(api.args.contains(&"--audit-log-maxsize=10".to_string()));
        assert!(api.mounts.contains(&MountSpec::Bind {
            source: "/p/dev/audit".into(),
            target: "/var/log/kubernetes/audit".into(),
            read_only: false,
        }));
        assert_ne!(
            digest(&plan, "dev-apiserver"),
            digest(
                &audited(Some(
                    "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: []\n"
                )),
                "dev-apiserver"
            )
        );
    }

    #[test]
    fn each_member_s_apiserver_writes_an_audit_log_of_its_own() {
        let plan = planned(|c| {
            c.control_planes = 3;
            c.settings.audit = Some(Audit {
                policy: "p".into(),
                document: None,
            })
        });
        for (apiserver, folder) in [
            ("dev-apiserver", "/p/dev/audit"),
            ("dev-apiserver-2", "/p/dev/audit-2"),
            ("dev-apiserver-3", "/p/dev/audit-3"),
        ] {
            let audit_mounts: Vec<&MountSpec> = spec(&plan, apiserver)
                .mounts
                .iter()
                .filter(|m| matches!(m, MountSpec::Bind { target, .. } if target == "/var/log/kubernetes/audit"))
                .collect();
            assert_eq!(
                audit_mounts,
                [&MountSpec::Bind {
                    source: folder.into(),
                    target: "/var/log/kubernetes/audit".into(),
                    read_only: false,
                }],
                "{apiserver}"
            );
        }
    }
}
