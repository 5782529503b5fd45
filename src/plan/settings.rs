//! A profile's own settings beyond the defaults, as a cluster file, `--extra-config`,
//! `--feature-gates` and `--mount` give them: feature gates, the apiserver's runtime config, extra
//! flags of the control plane, KubeletConfiguration and KubeProxyConfiguration fields, labels and
//! taints per node, host folders bound into the nodes, and the audit log. Stored in the profile's
//! config.yaml; checked here against what the release's components accept
//! ([`KnownOptions`]); applied by the plan of each component.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::plan::insecure::{self, Weakening};
use crate::plan::known_options::{Component, KnownOptions, closest};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterSettings {
    /// Gates for every component that knows them (`--feature-gates`, `featureGates`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub feature_gates: BTreeMap<String, bool>,
    /// The apiserver's `--runtime-config` (API groups and versions on or off).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub runtime_config: BTreeMap<String, String>,
    /// Extra flags, without the leading `--`, of the apiserver, controller-manager and scheduler.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub apiserver_args: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub controller_manager_args: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub scheduler_args: BTreeMap<String, String>,
    /// KubeletConfiguration fields merged over localkube's.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub kubelet: Map<String, Value>,
    /// KubeProxyConfiguration fields merged over localkube's.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub kube_proxy: Map<String, Value>,
    /// Labels and taints by node number (1 is the first node).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_settings: BTreeMap<u32, NodeSettings>,
    /// Host folders bound into every node.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<HostMount>,
    /// The apiserver's audit log, when on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit: Option<Audit>,
    /// The user's word that settings which switch a safeguard off ([`Weakening`]) or host
    /// folders of the denylist ([`DENIED_HOST_PATHS`]) are meant (`insecure: true`,
    /// `start --insecure`); without it they are refused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeSettings {
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "string_values"
    )]
    pub labels: BTreeMap<String, String>,
    /// `key[=value]:Effect`, as `kubectl taint` writes them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub taints: Vec<String>,
}

impl NodeSettings {
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.taints.is_empty()
    }
}

/// A map of strings where YAML may have read a word as a number or boolean (`yes`, `on`, `500`):
/// each is taken as the text it was, as a label value or a flag's value is.
pub fn string_values<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    use serde::de::Error;
    BTreeMap::<String, Value>::deserialize(d)?
        .into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            Value::Number(n) => Ok((k, n.to_string())),
            Value::Bool(b) => Ok((k, b.to_string())),
            other => Err(D::Error::custom(format!(
                "{k}: a value is one word or number, not {other}"
            ))),
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HostMount {
    /// An existing folder on the host (absolute once checked).
    pub host_path: PathBuf,
    /// Where it appears in every node (absolute).
    pub node_path: String,
    /// The nodes, and so pods, can read but not write it.
    #[serde(default)]
    pub read_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Audit {
    /// `default`, or the policy file as given.
    pub policy: String,
    /// The policy file's text, read when the file was given; `None` for the default policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
}

impl Audit {
    /// The policy the apiserver is given.
    pub fn policy_text(&self) -> &str {
        self.document.as_deref().unwrap_or(DEFAULT_AUDIT_POLICY)
    }
}

/// The audit policy `audit: {policy: default}` gives: the request body for writes to workloads
/// (what changed, and how); no record of reads of Secrets; only who did what (no bodies) to
/// Secrets, ConfigMaps, tokens and TokenReviews, whose bodies hold credentials; no records of
/// the components' own leases and health checks (several a second, they would bury the user's
/// actions); and who did what to which object for everything else.
pub const DEFAULT_AUDIT_POLICY: &str = "\
apiVersion: audit.k8s.io/v1
kind: Policy
# One record per request, written when the response is sent.
omitStages: [RequestReceived]
rules:
  # Reads of Secrets: not recorded at all (controllers read them all the time, and a record
  # of each read says nothing the RBAC rules do not).
  - level: None
    verbs: [get, list, watch]
    resources:
      - group: \"\"
        resources: [secrets]
  # Credentials: who changed a Secret, never what it holds.
  - level: Metadata
    resources:
      - group: \"\"
        resources: [secrets, configmaps, serviceaccounts/token]
      - group: authentication.k8s.io
        resources: [tokenreviews]
  # The control plane's own heartbeat traffic.
  - level: None
    users: [system:kube-scheduler, system:kube-controller-manager, system:kube-proxy, system:apiserver]
    verbs: [get, list, watch]
  - level: None
    resources:
      - group: coordination.k8s.io
        resources: [leases]
  - level: None
    userGroups: [system:nodes]
    verbs: [get, list, watch, update, patch]
  - level: None
    nonResourceURLs: [/healthz*, /readyz*, /livez*, /version, /metrics]
  # Writes to workloads: what was sent.
  - level: Request
    verbs: [create, update, patch, delete, deletecollection]
    resources:
      - group: \"\"
        resources: [pods, services, persistentvolumeclaims, replicationcontrollers]
      - group: apps
      - group: batch
      - group: networking.k8s.io
  - level: Metadata
";

/// Where the apiserver writes its audit log, a host folder of the profile bound there.
pub const AUDIT_LOG_DIR: &str = "/var/log/kubernetes/audit";
/// The log's size before it is rotated (MB) and the rotated files kept: at most 40 MB.
pub const AUDIT_LOG_MAX_MB: u32 = 10;
pub const AUDIT_LOG_BACKUPS: u32 = 3;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct SettingsError(pub String);

fn err<T>(text: impl Into<String>) -> Result<T, SettingsError> {
    Err(SettingsError(text.into()))
}

/// Folders of a node localkube or the node's own system uses: a host folder bound over one would
/// hide what the node needs (its config, containerd's and kubelet's state on the /var volume, the
/// tmpfs /run and /tmp, its programs).
pub const RESERVED_NODE_PATHS: [&str; 14] = [
    "/bin", "/boot", "/dev", "/etc", "/lib", "/lib64", "/proc", "/run", "/sbin", "/sys", "/tmp",
    "/usr", "/var", "/root",
];

impl ClusterSettings {
    pub fn is_empty(&self) -> bool {
        self == &ClusterSettings::default()
    }

    pub fn args(&self, component: Component) -> Option<&BTreeMap<String, String>> {
        match component {
            Component::Apiserver => Some(&self.apiserver_args),
            Component::ControllerManager => Some(&self.controller_manager_args),
            Component::Scheduler => Some(&self.scheduler_args),
            Component::Kubelet | Component::KubeProxy => None,
        }
    }

    fn args_mut(&mut self, component: Component) -> Option<&mut BTreeMap<String, String>> {
        match component {
            Component::Apiserver => Some(&mut self.apiserver_args),
            Component::ControllerManager => Some(&mut self.controller_manager_args),
            Component::Scheduler => Some(&mut self.scheduler_args),
            Component::Kubelet | Component::KubeProxy => None,
        }
    }

    /// `--extra-config COMPONENT.KEY=VALUE` (minikube's): a flag of the apiserver,
    /// controller-manager or scheduler, or a KubeletConfiguration / KubeProxyConfiguration field
    /// (camelCase, or the kebab-case of its flag: `kubelet.max-pods=50` is `maxPods: 50`).
    pub fn add_extra_config(&mut self, text: &str) -> Result<(), SettingsError> {
        let accepted = Component::ALL
            .iter()
            .map(|c| c.extra_config_name())
            .collect::<Vec<_>>()
            .join(", ");
        let Some((target, value)) = text.split_once('=') else {
            return err(format!(
                "--extra-config '{text}': write COMPONENT.KEY=VALUE, e.g. apiserver.max-requests-inflight=500 (components: {accepted})"
            ));
        };
        let Some((component, key)) = target.split_once('.') else {
            return err(format!(
                "--extra-config '{text}': write COMPONENT.KEY=VALUE, e.g. apiserver.max-requests-inflight=500 (components: {accepted})"
            ));
        };
        let Some(component) = Component::from_extra_config_name(component) else {
            return err(format!(
                "--extra-config '{text}': '{component}' is not a component localkube configures; use one of {accepted}"
            ));
        };
        let key = key.trim_start_matches("--");
        if key.is_empty() {
            return err(format!("--extra-config '{text}': the KEY is empty"));
        }
        match component {
            Component::Kubelet => {
                self.kubelet.insert(camel_case(key), scalar(value));
            }
            Component::KubeProxy => {
                self.kube_proxy.insert(camel_case(key), scalar(value));
            }
            _ => {
                self.args_mut(component)
                    .expect("a control-plane component")
                    .insert(key.to_string(), value.to_string());
            }
        }
        Ok(())
    }

    /// `--feature-gates A=true,B=false`, over the gates already set.
    pub fn add_feature_gates(&mut self, text: &str) -> Result<(), SettingsError> {
        for pair in text.split(',').filter(|p| !p.trim().is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = match value.trim() {
                "true" => true,
                "false" => false,
                _ => {
                    return err(format!(
                        "--feature-gates '{pair}': write NAME=true or NAME=false, comma-separated"
                    ));
                }
            };
            self.feature_gates.insert(name.trim().to_string(), value);
        }
        Ok(())
    }

    /// `--mount HOST:NODE[:ro]`.
    pub fn add_mount(&mut self, text: &str) -> Result<(), SettingsError> {
        let parts: Vec<&str> = text.split(':').collect();
        let (host, node, read_only) = match parts.as_slice() {
            [host, node] => (host, node, false),
            [host, node, "ro"] => (host, node, true),
            [host, node, "rw"] => (host, node, false),
            _ => {
                return err(format!(
                    "--mount '{text}': write HOST_FOLDER:NODE_PATH or HOST_FOLDER:NODE_PATH:ro"
                ));
            }
        };
        self.mounts.push(HostMount {
            host_path: PathBuf::from(host),
            node_path: node.to_string(),
            read_only,
        });
        Ok(())
    }

    /// `over`'s settings replace these, field by field where `over` sets one (flags over a file).
    pub fn overlay(&mut self, over: ClusterSettings) {
        self.feature_gates.extend(over.feature_gates);
        self.runtime_config.extend(over.runtime_config);
        self.apiserver_args.extend(over.apiserver_args);
        self.controller_manager_args
            .extend(over.controller_manager_args);
        self.scheduler_args.extend(over.scheduler_args);
        self.kubelet.extend(over.kubelet);
        self.kube_proxy.extend(over.kube_proxy);
        for (number, node) in over.node_settings {
            self.node_settings.insert(number, node);
        }
        for mount in over.mounts {
            self.mounts.retain(|m| m.node_path != mount.node_path);
            self.mounts.push(mount);
        }
        if over.audit.is_some() {
            self.audit = over.audit;
        }
        self.insecure |= over.insecure;
    }

    /// Everything checked that needs no I/O, against what `version`'s components accept. Each
    /// error names the field and what is accepted.
    pub fn validate(&self, version: &str, node_numbers: &[u32]) -> Result<(), SettingsError> {
        let needs_record = !self.feature_gates.is_empty()
            || !self.apiserver_args.is_empty()
            || !self.controller_manager_args.is_empty()
            || !self.scheduler_args.is_empty()
            || !self.kubelet.is_empty()
            || !self.kube_proxy.is_empty();
        if needs_record {
            let Some(known) = KnownOptions::for_version(version) else {
                return err(format!(
                    "featureGates, extraArgs, kubelet and kubeProxy are checked against what each component of the release accepts, and localkube has no record for Kubernetes {version} (recorded: {}): use a recorded release, or record this one with `scripts/component-flags.sh {version}` after `localkube images build --kubernetes-version {version}`",
                    KnownOptions::recorded().join(", ")
                ));
            };
            self.validate_against(&known)?;
        }
        for (key, value) in &self.runtime_config {
            if key.is_empty() || key.contains([',', '=']) || value.contains([',', '=']) {
                return err(format!(
                    "runtimeConfig '{key}: {value}': write GROUP/VERSION: \"true\" or \"false\" (or api/all, api/beta, api/ga), as kube-apiserver --runtime-config takes them"
                ));
            }
        }
        for (number, node) in &self.node_settings {
            if !node_numbers.contains(number) {
                return err(format!(
                    "nodes: labels or taints for node {number}, but the cluster has nodes {node_numbers:?}"
                ));
            }
            for (key, value) in &node.labels {
                check_label(key, value)?;
            }
            for taint in &node.taints {
                parse_taint(taint)?;
            }
        }
        let weak = self.weakenings();
        if !weak.is_empty() && !self.insecure {
            return err(format!(
                "{} switch{} off a safeguard of the cluster: {}. Leave {} out; if you mean a \
                 cluster that whoever reaches it can take over, add `insecure: true` to the \
                 cluster file (or `start --insecure`), and `start` and `status` will list {}",
                weak.iter()
                    .map(|w| w.setting.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                if weak.len() == 1 { "es" } else { "" },
                weak.iter()
                    .map(|w| format!("{} ({})", w.setting, w.why))
                    .collect::<Vec<_>>()
                    .join("; "),
                if weak.len() == 1 { "it" } else { "them" },
                if weak.len() == 1 { "it" } else { "them" },
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for mount in &self.mounts {
            check_node_path(&mount.node_path)?;
            if !mount.host_path.is_absolute() {
                return err(format!(
                    "mounts: hostPath '{}' is not absolute: give the folder's full path (a cluster file's relative paths are taken from its own folder)",
                    mount.host_path.display()
                ));
            }
            if !seen.insert(mount.node_path.trim_end_matches('/')) {
                return err(format!(
                    "mounts: nodePath {} is given twice: each mount needs its own",
                    mount.node_path
                ));
            }
        }
        Ok(())
    }

    /// Every setting that switches one of the cluster's safeguards off, with what it opens:
    /// control-plane flags, kubelet fields, and host folders of the fixed denylist (the user's
    /// home and localkube's folders are checked where the paths are known).
    pub fn weakenings(&self) -> Vec<Weakening> {
        let mut out = Vec::new();
        for component in [
            Component::Apiserver,
            Component::ControllerManager,
            Component::Scheduler,
        ] {
            out.extend(insecure::flag_weakenings(
                component,
                file_field(component),
                self.args(component).expect("control plane"),
            ));
        }
        out.extend(insecure::kubelet_weakenings(&self.kubelet));
        let denied = insecure::system_denylist();
        for mount in &self.mounts {
            if let Some(what) = insecure::denial(&mount.host_path, &denied) {
                out.push(Weakening {
                    setting: format!("mounts: {}:{}", mount.host_path.display(), mount.node_path),
                    why: format!("hostPath {} {what}", mount.host_path.display()),
                });
            }
        }
        out
    }

    /// What `start` and `status` say of a profile that accepted weakening settings: one line
    /// per setting with what it opens; nothing when it did not say `insecure`.
    pub fn insecure_report(&self) -> Vec<String> {
        if !self.insecure {
            return Vec::new();
        }
        self.weakenings()
            .into_iter()
            .map(|w| format!("{} ({})", w.setting, w.why))
            .collect()
    }

    fn validate_against(&self, known: &KnownOptions) -> Result<(), SettingsError> {
        let gates: Vec<&str> = known.all_gates().into_iter().collect();
        for gate in self.feature_gates.keys() {
            if !gates.contains(&gate.as_str()) {
                return err(format!(
                    "featureGates: '{gate}' is not a feature gate of Kubernetes {}{}; `localkube config known gates` lists all {}",
                    known.release,
                    suggestion(gate, &gates),
                    gates.len()
                ));
            }
        }
        for component in [
            Component::Apiserver,
            Component::ControllerManager,
            Component::Scheduler,
        ] {
            let field = file_field(component);
            let flags = known.flags(component);
            for flag in self.args(component).expect("control plane").keys() {
                if flag == "feature-gates" || flag == "runtime-config" {
                    return err(format!(
                        "{field}: set --{flag} with the file's {} field (or the --{flag} flag), which merges it over localkube's own",
                        if flag == "feature-gates" {
                            "featureGates"
                        } else {
                            "runtimeConfig"
                        }
                    ));
                }
                if !known.has_flag(component, flag) {
                    return err(format!(
                        "{field}: {} of Kubernetes {} has no flag --{flag}{}; `localkube config known {}` lists its {} flags",
                        component.binary(),
                        known.release,
                        suggestion(flag, &flags),
                        component.extra_config_name(),
                        flags.len()
                    ));
                }
            }
        }
        for (component, map, field) in [
            (Component::Kubelet, &self.kubelet, "kubelet"),
            (Component::KubeProxy, &self.kube_proxy, "kubeProxy"),
        ] {
            let fields = known.fields(component);
            for key in map.keys() {
                if key == "featureGates" {
                    return err(format!(
                        "{field}.featureGates: set gates with the file's featureGates field (or --feature-gates): they apply to every component that knows them"
                    ));
                }
                if matches!(key.as_str(), "apiVersion" | "kind") || !known.has_field(component, key)
                {
                    let kind = if component == Component::Kubelet {
                        "KubeletConfiguration"
                    } else {
                        "KubeProxyConfiguration"
                    };
                    return err(format!(
                        "{field}: '{key}' is not a field of {kind} in Kubernetes {}{}; `localkube config known {}` lists its {} fields",
                        known.release,
                        suggestion(key, &fields),
                        component.extra_config_name(),
                        fields.len()
                    ));
                }
            }
        }
        Ok(())
    }

    /// The flags a control-plane component gets from these settings, each `--name=value`:
    /// its extra flags, the gates it knows, and (the apiserver) the runtime config.
    pub fn extra_flags(&self, component: Component, version: &str) -> Vec<String> {
        let mut flags: Vec<String> = self
            .args(component)
            .into_iter()
            .flatten()
            .map(|(k, v)| format!("--{k}={v}"))
            .collect();
        let gates = self.gates_for(component, version);
        if !gates.is_empty() {
            flags.push(format!("--feature-gates={}", join_map(&gates)));
        }
        if component == Component::Apiserver && !self.runtime_config.is_empty() {
            flags.push(format!(
                "--runtime-config={}",
                join_map(&self.runtime_config)
            ));
        }
        flags
    }

    /// The gates `component` of `version` knows (each gate goes only where it is known: a
    /// component refuses a gate it does not have).
    pub fn gates_for(&self, component: Component, version: &str) -> BTreeMap<String, bool> {
        let Some(known) = KnownOptions::for_version(version) else {
            return BTreeMap::new();
        };
        self.feature_gates
            .iter()
            .filter(|(g, _)| known.has_gate(component, g))
            .map(|(g, v)| (g.clone(), *v))
            .collect()
    }

    /// The taints of a node, parsed.
    pub fn node(&self, number: u32) -> NodeSettings {
        self.node_settings.get(&number).cloned().unwrap_or_default()
    }
}

/// What the settings flags change of a cluster file's values, one line each (a flag wins, and
/// says so).
pub fn overlay_conflicts(file: &ClusterSettings, flags: &ClusterSettings) -> Vec<String> {
    fn differ<V: PartialEq + std::fmt::Display>(
        out: &mut Vec<String>,
        flag: &str,
        field: &str,
        file: &BTreeMap<String, V>,
        flags: &BTreeMap<String, V>,
    ) {
        for (key, value) in flags {
            if let Some(theirs) = file.get(key).filter(|t| *t != value) {
                out.push(format!(
                    "{flag}{key}={value} wins over the file's {field} {key}: {theirs}"
                ));
            }
        }
    }
    let mut out = Vec::new();
    differ(
        &mut out,
        "--feature-gates ",
        "featureGates",
        &file.feature_gates,
        &flags.feature_gates,
    );
    for (component, field) in [
        (Component::Apiserver, "apiServer.extraArgs"),
        (Component::ControllerManager, "controllerManager.extraArgs"),
        (Component::Scheduler, "scheduler.extraArgs"),
    ] {
        differ(
            &mut out,
            &format!("--extra-config {}.", component.extra_config_name()),
            field,
            file.args(component).expect("control plane"),
            flags.args(component).expect("control plane"),
        );
    }
    for (name, field, theirs, ours) in [
        ("kubelet", "kubelet", &file.kubelet, &flags.kubelet),
        (
            "kube-proxy",
            "kubeProxy",
            &file.kube_proxy,
            &flags.kube_proxy,
        ),
    ] {
        let to_map = |m: &Map<String, Value>| -> BTreeMap<String, Value> {
            m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
        };
        differ(
            &mut out,
            &format!("--extra-config {name}."),
            field,
            &to_map(theirs),
            &to_map(ours),
        );
    }
    for mount in &flags.mounts {
        if let Some(theirs) = file
            .mounts
            .iter()
            .find(|m| m.node_path == mount.node_path && *m != mount)
        {
            out.push(format!(
                "--mount {}:{} wins over the file's mount of {} at {}",
                mount.host_path.display(),
                mount.node_path,
                theirs.host_path.display(),
                theirs.node_path
            ));
        }
    }
    // "--extra-config apiserver. max-requests-inflight=5": no space after the component's dot.
    out.iter().map(|l| l.replacen(". ", ".", 1)).collect()
}

/// What a change of settings does to a running cluster, one line per kind of change.
pub fn describe_changes(before: &ClusterSettings, after: &ClusterSettings) -> Vec<String> {
    let mut lines = Vec::new();
    let mut say = |changed: bool, what: &str, effect: &str| {
        if changed {
            lines.push(format!("Changed {what}: {effect}."));
        }
    };
    say(
        before.feature_gates != after.feature_gates,
        "featureGates",
        "each component that knows a changed gate is made anew",
    );
    say(
        before.runtime_config != after.runtime_config
            || before.apiserver_args != after.apiserver_args
            || before.audit != after.audit,
        "the apiserver's settings",
        "its container is made anew (etcd keeps every object)",
    );
    say(
        before.controller_manager_args != after.controller_manager_args,
        "controllerManager.extraArgs",
        "its container is made anew",
    );
    say(
        before.scheduler_args != after.scheduler_args,
        "scheduler.extraArgs",
        "its container is made anew",
    );
    say(
        before.kubelet != after.kubelet
            || before.kube_proxy != after.kube_proxy
            || before.mounts != after.mounts,
        "kubelet, kubeProxy or mounts",
        "each node's container is made anew; its /var volume keeps its images and pods' data, and its pods start again",
    );
    say(
        before.node_settings != after.node_settings,
        "the nodes' labels or taints",
        "set on the nodes in place",
    );
    lines
}

/// The cluster file's name of a component's extra flags.
fn file_field(component: Component) -> &'static str {
    match component {
        Component::Apiserver => "apiServer.extraArgs",
        Component::ControllerManager => "controllerManager.extraArgs",
        Component::Scheduler => "scheduler.extraArgs",
        Component::Kubelet => "kubelet",
        Component::KubeProxy => "kubeProxy",
    }
}

fn suggestion(wanted: &str, candidates: &[&str]) -> String {
    let near = closest(wanted, candidates, 3);
    if near.is_empty() {
        String::new()
    } else {
        format!(" (did you mean {}?)", near.join(", "))
    }
}

fn join_map<V: std::fmt::Display>(map: &BTreeMap<String, V>) -> String {
    map.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Merges extra flags over a component's own: a flag given again replaces localkube's value
/// (kubeadm's extraArgs do the same); `--feature-gates` and `--runtime-config` are merged key by
/// key, the user's keys winning, so localkube's own gates stay unless the user sets them.
pub fn merge_flags(ours: Vec<String>, extra: Vec<String>) -> Vec<String> {
    let mut out = ours;
    for flag in extra {
        let name = flag.split_once('=').map_or(flag.as_str(), |(n, _)| n);
        let prefix = format!("{name}=");
        match out
            .iter()
            .position(|f| f.starts_with(&prefix) || *f == name)
        {
            Some(i) if name == "--feature-gates" || name == "--runtime-config" => {
                let mut map: BTreeMap<String, String> = BTreeMap::new();
                for part in [&out[i], &flag] {
                    let value = part.split_once('=').map_or("", |(_, v)| v);
                    for pair in value.split(',').filter(|p| !p.is_empty()) {
                        let (k, v) = pair.split_once('=').unwrap_or((pair, "true"));
                        map.insert(k.to_string(), v.to_string());
                    }
                }
                out[i] = format!("{name}={}", join_map(&map));
            }
            Some(i) => out[i] = flag,
            None => out.push(flag),
        }
    }
    out
}

/// A component config's YAML with user fields merged over it: maps merged key by key, anything
/// else replaced. `gates` are merged into its `featureGates`.
pub fn merge_config(
    ours: &str,
    fields: &Map<String, Value>,
    gates: &BTreeMap<String, bool>,
) -> String {
    if fields.is_empty() && gates.is_empty() {
        return ours.to_string();
    }
    let mut value: Value = crate::yaml::from_str(ours).expect("localkube's own config parses");
    merge_value(&mut value, &Value::Object(fields.clone()));
    if !gates.is_empty() {
        let all = value
            .as_object_mut()
            .expect("a config is a map")
            .entry("featureGates")
            .or_insert_with(|| Value::Object(Map::new()));
        for (gate, on) in gates {
            all[gate] = Value::Bool(*on);
        }
    }
    format!(
        "# localkube's settings with the profile's own merged over them (its cluster file, --extra-config, --feature-gates).\n{}",
        crate::yaml::to_string(&value).expect("a config serialises")
    )
}

fn merge_value(into: &mut Value, over: &Value) {
    match (into, over) {
        (Value::Object(into), Value::Object(over)) => {
            for (k, v) in over {
                merge_value(into.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (into, over) => *into = over.clone(),
    }
}

/// `max-pods` → `maxPods`; a camelCase name is kept.
fn camel_case(key: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in key.chars() {
        if c == '-' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A command-line value as YAML would read it: `50` a number, `true` a boolean, else a string.
fn scalar(text: &str) -> Value {
    match crate::yaml::from_str::<Value>(text) {
        Ok(v @ (Value::Number(_) | Value::Bool(_))) => v,
        _ => Value::String(text.to_string()),
    }
}

fn check_label(key: &str, value: &str) -> Result<(), SettingsError> {
    let name_ok = |s: &str| {
        !s.is_empty()
            && s.len() <= 63
            && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
            && s.chars().last().is_some_and(|c| c.is_ascii_alphanumeric())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let prefix_ok = prefix.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 253
            && p.split('.').all(|l| {
                !l.is_empty()
                    && l.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            })
    });
    if !prefix_ok || !name_ok(name) {
        return err(format!(
            "nodes: label key '{key}' is not valid: a name of up to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit, with an optional DNS prefix (example.com/tier)"
        ));
    }
    if !value.is_empty() && !name_ok(value) {
        return err(format!(
            "nodes: label {key}='{value}': a value is empty or up to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
        ));
    }
    Ok(())
}

/// A taint as `kubectl taint` writes it: `key[=value]:Effect`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taint {
    pub key: String,
    pub value: Option<String>,
    pub effect: String,
}

pub const TAINT_EFFECTS: [&str; 3] = ["NoSchedule", "PreferNoSchedule", "NoExecute"];

pub fn parse_taint(text: &str) -> Result<Taint, SettingsError> {
    let bad = || {
        err(format!(
            "nodes: taint '{text}': write key[=value]:Effect, e.g. dedicated=db:NoSchedule (effects: {})",
            TAINT_EFFECTS.join(", ")
        ))
    };
    let Some((kv, effect)) = text.rsplit_once(':') else {
        return bad();
    };
    if !TAINT_EFFECTS.contains(&effect) {
        return bad();
    }
    let (key, value) = match kv.split_once('=') {
        Some((k, v)) => (k, Some(v.to_string())),
        None => (kv, None),
    };
    if check_label(key, value.as_deref().unwrap_or("")).is_err() {
        return bad();
    }
    Ok(Taint {
        key: key.to_string(),
        value,
        effect: effect.to_string(),
    })
}

fn check_node_path(path: &str) -> Result<(), SettingsError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::version::DEFAULT_KUBERNETES_VERSION as V;

    #[test]
    fn extra_config_reads_minikubes_form() {
        let mut s = ClusterSettings::default();
        s.add_extra_config("apiserver.max-requests-inflight=500")
            .unwrap();
        s.add_extra_config("kubelet.max-pods=50").unwrap();
        s.add_extra_config("kube-proxy.mode=nftables").unwrap();
        assert_eq!(s.apiserver_args["max-requests-inflight"], "500");
        assert_eq!(s.kubelet["maxPods"], 50);
        assert_eq!(s.kube_proxy["mode"], "nftables");
        s.validate(V, &[1]).unwrap();
        let e = s.add_extra_config("etcd.quota=1").unwrap_err();
        assert!(e.0.contains("apiserver, controller-manager"), "{e}");
        assert!(s.add_extra_config("apiserver").is_err());
    }

    #[test]
    fn unknown_flags_fields_and_gates_are_refused_by_name() {
        let mut s = ClusterSettings::default();
        s.add_extra_config("apiserver.max-request-inflight=5")
            .unwrap();
        let e = s.validate(V, &[1]).unwrap_err().0;
        assert!(e.contains("apiServer.extraArgs"), "{e}");
        assert!(e.contains("--max-request-inflight"), "{e}");
        assert!(e.contains("did you mean max-requests-inflight"), "{e}");

        let mut s = ClusterSettings::default();
        s.kubelet.insert("maxPod".into(), 3.into());
        let e = s.validate(V, &[1]).unwrap_err().0;
        assert!(
            e.contains("KubeletConfiguration") && e.contains("maxPods"),
            "{e}"
        );

        let mut s = ClusterSettings::default();
        s.add_feature_gates("NoSuchGate=true").unwrap();
        let e = s.validate(V, &[1]).unwrap_err().0;
        assert!(e.contains("featureGates: 'NoSuchGate'"), "{e}");

        // A release localkube has no record of (none supported today) refuses gates.
        let mut s = ClusterSettings::default();
        s.add_feature_gates("APIServerIdentity=true").unwrap();
        assert!(
            s.validate("v1.38.0", &[1])
                .unwrap_err()
                .0
                .contains("no record")
        );

        // Each release is held to its own record: a gate new in 1.37 is refused on 1.35.
        let mut s = ClusterSettings::default();
        s.add_feature_gates("APIServerWebhookAuthenticationToken=true")
            .unwrap();
        assert!(s.validate(V, &[1]).is_ok());
        let e = s.validate("v1.35.4", &[1]).unwrap_err().0;
        assert!(
            e.contains("is not a feature gate of Kubernetes v1.35.4"),
            "{e}"
        );
    }

    #[test]
    fn gates_go_to_the_components_that_know_them_merged_over_localkubes() {
        let mut s = ClusterSettings::default();
        s.add_feature_gates("APIServerIdentity=false").unwrap();
        s.runtime_config.insert("api/beta".into(), "true".into());
        let flags = s.extra_flags(Component::Apiserver, V);
        assert_eq!(
            flags,
            [
                "--feature-gates=APIServerIdentity=false",
                "--runtime-config=api/beta=true"
            ]
        );
        let merged = merge_flags(
            vec!["--a=1".into(), "--feature-gates=Ours=true".into()],
            flags,
        );
        assert_eq!(
            merged,
            [
                "--a=1",
                "--feature-gates=APIServerIdentity=false,Ours=true",
                "--runtime-config=api/beta=true"
            ]
        );
        assert_eq!(
            merge_flags(vec!["--a=1".into()], vec!["--a=2".into()]),
            ["--a=2"]
        );
    }

    #[test]
    fn kubelet_fields_merge_over_localkubes_config() {
        let ours = "kind: KubeletConfiguration\nevictionHard:\n  a: \"0%\"\nmaxPods: 110\n";
        let mut fields = Map::new();
        fields.insert("maxPods".into(), 50.into());
        fields.insert("evictionHard".into(), serde_json::json!({"b": "1%"}));
        let gates = BTreeMap::from([("G".to_string(), true)]);
        let text = merge_config(ours, &fields, &gates);
        let v: Value = crate::yaml::from_str(&text).unwrap();
        assert_eq!(v["maxPods"], 50);
        assert_eq!(v["evictionHard"]["a"], "0%");
        assert_eq!(v["evictionHard"]["b"], "1%");
        assert_eq!(v["featureGates"]["G"], true);
        assert_eq!(merge_config(ours, &Map::new(), &BTreeMap::new()), ours);
    }

    #[test]
    fn labels_taints_and_node_paths_are_checked() {
        let mut s = ClusterSettings::default();
        s.node_settings.insert(
            2,
            NodeSettings {
                labels: BTreeMap::from([("tier".into(), "back".into())]),
                taints: vec!["dedicated=db:NoSchedule".into()],
            },
        );
        s.validate(V, &[1, 2]).unwrap();
        assert!(s.validate(V, &[1]).unwrap_err().0.contains("node 2"));
        assert_eq!(
            parse_taint("dedicated=db:NoSchedule").unwrap(),
            Taint {
                key: "dedicated".into(),
                value: Some("db".into()),
                effect: "NoSchedule".into()
            }
        );
        assert!(parse_taint("dedicated=db:Never").is_err());
        assert!(check_label("-bad", "x").is_err());
        for bad in ["/var/lib/x", "/", "src", "/etc/localkube", "/a/../var"] {
            assert!(check_node_path(bad).is_err(), "{bad}");
        }
        check_node_path("/src").unwrap();
        check_node_path("/mnt/data").unwrap();
    }

    #[test]
    fn host_paths_localkube_or_docker_own_are_refused() {
        let owned = [PathBuf::from("/home/u/.local/share/localkube")];
        let mut denied = insecure::system_denylist();
        denied.extend(machine_denylist(
            Path::new("/srv/sock/docker.sock"),
            Some(Path::new("/home/u")),
        ));
        check_host_path(Path::new("/home/u/src"), &owned, &denied, false).unwrap();
        for bad in [
            "/home/u/.local/share/localkube/profiles/dev",
            "/home/u",
            "/home",
            "/home/u/.ssh",
            "/run",
            "/",
            "/var/lib/docker/volumes",
            "/var/lib",
            "/srv/sock",
            "/proc",
        ] {
            assert!(
                check_host_path(Path::new(bad), &owned, &denied, false).is_err(),
                "{bad}"
            );
        }
        // The opt-in lets the denylist through, never localkube's own folders.
        check_host_path(Path::new("/proc"), &owned, &denied, true).unwrap();
        check_host_path(Path::new("/home/u"), &owned, &denied, true).unwrap_err();
    }

    #[test]
    fn weakening_settings_are_refused_without_insecure_with_reason_and_fix() {
        let mut s = ClusterSettings::default();
        s.add_extra_config("apiserver.authorization-mode=AlwaysAllow")
            .unwrap();
        s.add_extra_config("kubelet.read-only-port=10255").unwrap();
        let e = s.validate(V, &[1]).unwrap_err().0;
        assert!(
            e.contains("apiServer.extraArgs.authorization-mode=AlwaysAllow")
                && e.contains("kubelet.readOnlyPort=10255"),
            "{e}"
        );
        assert!(
            e.contains("every Secret") && e.contains("unauthenticated port"),
            "{e}"
        );
        assert!(
            e.contains("insecure: true") && e.contains("--insecure"),
            "{e}"
        );
        s.insecure = true;
        s.validate(V, &[1]).unwrap();
        assert_eq!(s.weakenings().len(), 2);
        let mut proc = ClusterSettings::default();
        proc.add_mount("/proc:/hostproc:ro").unwrap();
        assert!(proc.validate(V, &[1]).unwrap_err().0.contains("/proc"));
    }

    #[test]
    fn a_flag_over_the_files_value_says_so() {
        let mut file = ClusterSettings::default();
        file.add_feature_gates("A=true").unwrap();
        file.add_extra_config("apiserver.v=1").unwrap();
        file.add_extra_config("kubelet.maxPods=50").unwrap();
        let mut flags = ClusterSettings::default();
        flags.add_feature_gates("A=false,B=true").unwrap();
        flags.add_extra_config("apiserver.v=2").unwrap();
        flags.add_extra_config("kubelet.max-pods=60").unwrap();
        assert_eq!(
            overlay_conflicts(&file, &flags),
            [
                "--feature-gates A=false wins over the file's featureGates A: true",
                "--extra-config apiserver.v=2 wins over the file's apiServer.extraArgs v: 1",
                "--extra-config kubelet.maxPods=60 wins over the file's kubelet maxPods: 50",
            ]
        );
    }

    #[test]
    fn mounts_parse_and_stay_distinct() {
        let mut s = ClusterSettings::default();
        s.add_mount("/home/u/src:/src:ro").unwrap();
        assert!(s.mounts[0].read_only);
        assert!(s.add_mount("/a").is_err());
        s.add_mount("/home/u/other:/src").unwrap();
        assert!(s.validate(V, &[1]).unwrap_err().0.contains("twice"));
    }
}

/// The annotation on a Node that records which labels and taints localkube put there from the
/// profile's settings, so a label or taint later removed from the file is removed from the node
/// (and those others put there, `kubectl label` or the node controller's, are left alone).
pub const NODE_SETTINGS_ANNOTATION: &str = "localkube.dev/settings";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedNodeSettings {
    #[serde(default)]
    pub labels: Vec<String>,
    /// `key:Effect` of each taint.
    #[serde(default)]
    pub taints: Vec<String>,
}

/// A node's labels and taints as they are to be, and the record of what localkube set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeChanges {
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
    pub record: AppliedNodeSettings,
}

/// A node's labels and taints after the profile's settings: those localkube applied before and
/// no longer wants removed, the wanted ones set.
pub fn node_changes(
    labels: &BTreeMap<String, String>,
    taints: &[Taint],
    before: &AppliedNodeSettings,
    wanted: &NodeSettings,
) -> Result<NodeChanges, SettingsError> {
    let wanted_taints: Vec<Taint> = wanted
        .taints
        .iter()
        .map(|t| parse_taint(t))
        .collect::<Result<_, _>>()?;
    let id = |t: &Taint| format!("{}:{}", t.key, t.effect);
    let mut new_labels = labels.clone();
    for key in &before.labels {
        if !wanted.labels.contains_key(key) {
            new_labels.remove(key);
        }
    }
    new_labels.extend(wanted.labels.clone());
    let mut new_taints: Vec<Taint> = taints
        .iter()
        .filter(|t| {
            !before.taints.contains(&id(t)) && !wanted_taints.iter().any(|w| id(w) == id(t))
        })
        .cloned()
        .collect();
    new_taints.extend(wanted_taints.iter().cloned());
    let record = AppliedNodeSettings {
        labels: wanted.labels.keys().cloned().collect(),
        taints: wanted_taints.iter().map(id).collect(),
    };
    Ok(NodeChanges {
        labels: new_labels,
        taints: new_taints,
        record,
    })
}

#[cfg(test)]
mod node_change_tests {
    use super::*;

    fn taint(key: &str, effect: &str) -> Taint {
        Taint {
            key: key.into(),
            value: None,
            effect: effect.into(),
        }
    }

    #[test]
    fn only_what_localkube_applied_is_taken_back() {
        let labels = BTreeMap::from([
            ("kubernetes.io/hostname".to_string(), "dev".to_string()),
            ("tier".to_string(), "back".to_string()),
            ("old".to_string(), "x".to_string()),
        ]);
        let taints = vec![
            taint("node.kubernetes.io/not-ready", "NoSchedule"),
            taint("gone", "NoSchedule"),
        ];
        let before = AppliedNodeSettings {
            labels: vec!["old".into(), "tier".into()],
            taints: vec!["gone:NoSchedule".into()],
        };
        let wanted = NodeSettings {
            labels: BTreeMap::from([("tier".to_string(), "front".to_string())]),
            taints: vec!["dedicated=db:NoExecute".into()],
        };
        let NodeChanges {
            labels: l,
            taints: t,
            record,
        } = node_changes(&labels, &taints, &before, &wanted).unwrap();
        assert_eq!(l.get("old"), None);
        assert_eq!(l["tier"], "front");
        assert_eq!(l["kubernetes.io/hostname"], "dev");
        let ids: Vec<String> = t
            .iter()
            .map(|t| format!("{}:{}", t.key, t.effect))
            .collect();
        assert_eq!(
            ids,
            [
                "node.kubernetes.io/not-ready:NoSchedule",
                "dedicated:NoExecute"
            ]
        );
        assert_eq!(record.labels, ["tier"]);
        assert_eq!(record.taints, ["dedicated:NoExecute"]);
    }
}

#[cfg(test)]
mod audit_policy_tests {
    #[test]
    fn the_default_policy_is_an_audit_policy_that_skips_reads_of_secrets() {
        let policy: serde_json::Value = crate::yaml::from_str(super::DEFAULT_AUDIT_POLICY).unwrap();
        assert_eq!(policy["apiVersion"], "audit.k8s.io/v1");
        assert_eq!(policy["kind"], "Policy");
        let first = &policy["rules"][0];
        assert_eq!(first["level"], "None");
        assert_eq!(first["resources"][0]["resources"][0], "secrets");
        assert_eq!(first["verbs"][0], "get");
    }
}
