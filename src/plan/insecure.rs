//! Settings that switch one of the cluster's safeguards off, and host folders that must not go
//! into a node: each with the reason, so a refusal can say what it would open and how to get
//! what the user wants another way. Both are refused unless the profile's settings say
//! `insecure: true` (`start --insecure`); `start` and `status` then list what is on.
//!
//! Pure: the caller gives the values (a flag's text, a KubeletConfiguration as JSON, a canonical
//! host path). etcd takes no user flags at all (`--extra-config` knows no `etcd`), so nothing
//! of etcd's is listed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::plan::known_options::Component;

/// One setting that switches a safeguard off: where it is set, and what it opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Weakening {
    /// As the cluster file writes it (`apiServer.extraArgs.authorization-mode=AlwaysAllow`).
    pub setting: String,
    pub why: String,
}

/// The paths the apiserver and the controllers answer without authorization by default.
const DEFAULT_ALWAYS_ALLOW_PATHS: [&str; 3] = ["/healthz", "/readyz", "/livez"];

/// Why a control-plane flag with this value switches a safeguard off, or None.
pub fn flag_weakening(component: Component, flag: &str, value: &str) -> Option<&'static str> {
    let truthy = |v: &str| matches!(v.trim(), "" | "true" | "1" | "t" | "T" | "TRUE" | "True");
    let words = |v: &str| {
        v.split(',')
            .map(|w| w.trim().to_string())
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
    };
    match (component, flag) {
        (Component::Apiserver, "authorization-mode")
            if words(value).iter().any(|m| m == "AlwaysAllow") =>
        {
            Some(
                "AlwaysAllow lets every request through without RBAC: any client that reaches \
                 the apiserver (with anonymous-auth, anyone) reads every Secret and runs anything",
            )
        }
        (Component::Apiserver, "authorization-mode")
            if !words(value).iter().any(|m| m == "RBAC") =>
        {
            Some("without RBAC, the cluster's roles and bindings are not enforced")
        }
        (Component::Apiserver, "anonymous-auth") if truthy(value) => Some(
            "anonymous requests are authenticated as system:anonymous and get whatever is bound \
             to it or to system:unauthenticated",
        ),
        (Component::Apiserver, "disable-admission-plugins") if !words(value).is_empty() => Some(
            "admission plugins off (NodeRestriction keeps a node's kubelet to its own node; \
             PodSecurity enforces namespaces' pod security levels)",
        ),
        (Component::Apiserver, "kubelet-certificate-authority") if value.trim().is_empty() => {
            Some("the apiserver stops verifying kubelets' serving certificates")
        }
        (Component::Apiserver, "etcd-cafile") if value.trim().is_empty() => {
            Some("the apiserver stops verifying etcd's certificate")
        }
        (Component::Apiserver, "client-ca-file") if value.trim().is_empty() => {
            Some("client certificates are no longer checked: kubeconfigs stop proving who calls")
        }
        (Component::Apiserver, "service-account-lookup") if !truthy(value) => {
            Some("deleted service accounts' tokens keep working until they expire")
        }
        (
            Component::ControllerManager | Component::Scheduler,
            "authorization-always-allow-paths",
        ) if words(value)
            .iter()
            .any(|p| !DEFAULT_ALWAYS_ALLOW_PATHS.contains(&p.as_str())) =>
        {
            Some("paths beyond the health checks are answered without authorization")
        }
        (
            Component::ControllerManager | Component::Scheduler,
            "authentication-tolerate-lookup-failure",
        ) if truthy(value) => Some(
            "when the apiserver cannot be asked, every request is treated as anonymous instead \
             of refused",
        ),
        _ => None,
    }
}

/// The KubeletConfiguration fields that switch a safeguard off, as `kubelet.<path>=<value>`.
pub fn kubelet_weakenings(kubelet: &Map<String, Value>) -> Vec<Weakening> {
    let mut out = Vec::new();
    let at = |path: &[&str]| {
        let mut v = kubelet.get(path[0])?;
        for key in &path[1..] {
            v = v.get(key)?;
        }
        Some(v.clone())
    };
    if let Some(port) = at(&["readOnlyPort"])
        && port != 0
    {
        out.push(Weakening {
            setting: format!("kubelet.readOnlyPort={port}"),
            why: "an unauthenticated port that lists every pod of the node, with its environment"
                .into(),
        });
    }
    if let Some(on) = at(&["authentication", "anonymous", "enabled"])
        && on != Value::Bool(false)
    {
        out.push(Weakening {
            setting: format!("kubelet.authentication.anonymous.enabled={on}"),
            why: "anonymous requests to the kubelet's API (exec, logs, pods) are let in".into(),
        });
    }
    if let Some(on) = at(&["authentication", "webhook", "enabled"])
        && on == Value::Bool(false)
    {
        out.push(Weakening {
            setting: "kubelet.authentication.webhook.enabled=false".into(),
            why: "the kubelet stops checking bearer tokens with the apiserver".into(),
        });
    }
    if let Some(mode) = at(&["authorization", "mode"])
        && mode != "Webhook"
    {
        out.push(Weakening {
            setting: format!("kubelet.authorization.mode={mode}"),
            why: "the kubelet stops asking the apiserver who may exec into, read or stop its pods"
                .into(),
        });
    }
    if let Some(file) = at(&["authentication", "x509", "clientCAFile"])
        && file == ""
    {
        out.push(Weakening {
            setting: "kubelet.authentication.x509.clientCAFile=\"\"".into(),
            why: "the kubelet stops checking client certificates".into(),
        });
    }
    out
}

/// Every control-plane flag of `args` that switches a safeguard off.
pub fn flag_weakenings(
    component: Component,
    field: &str,
    args: &BTreeMap<String, String>,
) -> Vec<Weakening> {
    args.iter()
        .filter_map(|(flag, value)| {
            flag_weakening(component, flag, value).map(|why| Weakening {
                setting: format!("{field}.{flag}={value}"),
                why: why.into(),
            })
        })
        .collect()
}

/// A host folder of the denylist, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeniedPath {
    pub path: PathBuf,
    pub why: String,
    /// Whether folders inside it are refused too (`/`: no, every folder is inside it).
    pub inside_too: bool,
}

/// The host's own folders no node gets: each holds something that makes a pod root on this
/// machine or reads what is not the cluster's. The user's home and localkube's folders are added
/// by the caller (they depend on the machine).
pub const DENIED_HOST_PATHS: [(&str, &str); 11] = [
    ("/", "the whole host's file system"),
    (
        "/proc",
        "the host's processes (/proc/1/root is the host's root folder, /proc/*/environ their secrets)",
    ),
    ("/sys", "the host's kernel settings and devices"),
    ("/dev", "the host's disks and devices"),
    ("/boot", "the host's kernel and boot loader"),
    (
        "/etc",
        "the host's accounts, sudoers and services' settings",
    ),
    (
        "/run",
        "the sockets of Docker, containerd and systemd (a pod that reaches one runs anything as root on this machine)",
    ),
    (
        "/var/run",
        "the sockets of Docker, containerd and systemd (a pod that reaches one runs anything as root on this machine)",
    ),
    (
        "/var/lib/docker",
        "Docker's data root (every container's files)",
    ),
    (
        "/var/lib/containerd",
        "containerd's data (every container's files)",
    ),
    (
        "/root",
        "root's home folder (its keys and shell startup files)",
    ),
];

/// The fixed denylist as [`DeniedPath`]s.
pub fn system_denylist() -> Vec<DeniedPath> {
    DENIED_HOST_PATHS
        .iter()
        .map(|(path, why)| DeniedPath {
            path: PathBuf::from(path),
            why: why.to_string(),
            inside_too: *path != "/",
        })
        .collect()
}

/// What host folder `host` (canonical) holds of the denylist (`/var` holds `/var/run`, which
/// holds the sockets...), or None.
pub fn denial(host: &Path, denied: &[DeniedPath]) -> Option<String> {
    denied.iter().find_map(|d| {
        let relation = if host == d.path {
            String::new()
        } else if d.inside_too && host.starts_with(&d.path) {
            format!("is inside {}, which ", d.path.display())
        } else if d.path.starts_with(host) {
            format!("holds {}, which ", d.path.display())
        } else {
            return None;
        };
        Some(format!("{relation}holds {}", d.why))
    })
}

/// Why host folder `host` (canonical) must not go into a node, or None: it is a folder of the
/// denylist, inside one, or holds one (a mount of `/var` holds `/var/lib/docker`).
pub fn denied_host_path(host: &Path, denied: &[DeniedPath]) -> Option<String> {
    denial(host, denied).map(|what| {
        format!(
            "mounts: hostPath {} {what}: a pod with a hostPath volume of it would reach that. \
             Mount a folder of your own instead (a project folder, e.g. ~/src); if you mean it, \
             `insecure: true` in the cluster file (or `start --insecure`) lets it through and \
             `status` lists it",
            host.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn flags_that_switch_a_safeguard_off_are_named() {
        let weak = flag_weakenings(
            Component::Apiserver,
            "apiServer.extraArgs",
            &args(&[
                ("authorization-mode", "Node,AlwaysAllow"),
                ("anonymous-auth", "true"),
                ("max-requests-inflight", "500"),
                ("disable-admission-plugins", "NodeRestriction"),
                ("kubelet-certificate-authority", ""),
                ("service-account-lookup", "false"),
            ]),
        );
        let settings: Vec<&str> = weak.iter().map(|w| w.setting.as_str()).collect();
        assert_eq!(
            settings,
            [
                "apiServer.extraArgs.anonymous-auth=true",
                "apiServer.extraArgs.authorization-mode=Node,AlwaysAllow",
                "apiServer.extraArgs.disable-admission-plugins=NodeRestriction",
                "apiServer.extraArgs.kubelet-certificate-authority=",
                "apiServer.extraArgs.service-account-lookup=false",
            ]
        );
        assert!(weak[1].why.contains("without RBAC"));
        // What hardens, or changes nothing of the kind, passes.
        for (flag, value) in [
            ("authorization-mode", "Node,RBAC"),
            ("anonymous-auth", "false"),
            ("service-account-lookup", "true"),
            ("enable-admission-plugins", "AlwaysPullImages"),
        ] {
            assert_eq!(flag_weakening(Component::Apiserver, flag, value), None);
        }
        assert!(
            flag_weakening(Component::Apiserver, "authorization-mode", "Node,Webhook").is_some()
        );
        assert!(
            flag_weakening(
                Component::ControllerManager,
                "authorization-always-allow-paths",
                "/healthz,/metrics"
            )
            .is_some()
        );
        assert_eq!(
            flag_weakening(
                Component::Scheduler,
                "authorization-always-allow-paths",
                "/healthz,/readyz"
            ),
            None
        );
    }

    #[test]
    fn kubelet_fields_that_switch_a_safeguard_off_are_named() {
        let kubelet: Map<String, Value> = serde_json::from_str(
            r#"{"readOnlyPort": 10255, "maxPods": 50,
                "authentication": {"anonymous": {"enabled": true}, "webhook": {"enabled": false}},
                "authorization": {"mode": "AlwaysAllow"}}"#,
        )
        .unwrap();
        let weak: Vec<String> = kubelet_weakenings(&kubelet)
            .into_iter()
            .map(|w| w.setting)
            .collect();
        assert_eq!(
            weak,
            [
                "kubelet.readOnlyPort=10255",
                "kubelet.authentication.anonymous.enabled=true",
                "kubelet.authentication.webhook.enabled=false",
                "kubelet.authorization.mode=\"AlwaysAllow\"",
            ]
        );
        let safe: Map<String, Value> = serde_json::from_str(
            r#"{"readOnlyPort": 0, "authentication": {"anonymous": {"enabled": false}},
                "authorization": {"mode": "Webhook"}, "maxPods": 50}"#,
        )
        .unwrap();
        assert!(kubelet_weakenings(&safe).is_empty());
    }

    #[test]
    fn host_folders_of_the_denylist_are_refused_with_reason_and_fix() {
        let denied = system_denylist();
        for (host, words) in [
            ("/proc", "/proc/1/root"),
            ("/proc/1/root", "is inside /proc"),
            ("/", "whole host"),
            ("/var", "holds /var/run, which holds the sockets"),
            ("/run/containerd", "is inside /run"),
            ("/etc/ssh", "is inside /etc"),
            ("/sys", "kernel"),
            ("/dev", "disks"),
        ] {
            let why = denied_host_path(Path::new(host), &denied)
                .unwrap_or_else(|| panic!("{host} was let through"));
            assert!(why.contains(words), "{host}: {why}");
            assert!(why.contains("insecure: true"), "{why}");
            assert!(why.contains("folder of your own"), "{why}");
        }
        for ok in [
            "/home/me/src",
            "/srv/data",
            "/tmp/x",
            "/mnt/share",
            "/opt/x",
        ] {
            assert_eq!(denied_host_path(Path::new(ok), &denied), None, "{ok}");
        }
    }
}
