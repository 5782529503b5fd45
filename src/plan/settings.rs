//! A profile's own settings beyond the defaults, as a cluster file, `--extra-config`,
//! `--feature-gates` and `--mount` give them: feature gates, the apiserver's runtime config, extra
//! flags of the control plane, KubeletConfiguration and KubeProxyConfiguration fields, labels and
//! taints per node, host folders bound into the nodes, and the audit log. Stored in the profile's
//! config.yaml; checked here against what the release's components accept
//! ([`KnownOptions`]); applied by the plan of each component.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::plan::insecure::{self, Weakening};
use crate::plan::known_options::{Component, KnownOptions, closest};

mod audit;
mod host_paths;
mod merge;
mod node_labels;
#[cfg(test)]
mod tests;

pub use audit::*;
use host_paths::check_node_path;
pub use host_paths::*;
pub use merge::*;
use merge::{camel_case, scalar};
use node_labels::check_label;
pub use node_labels::*;

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

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct SettingsError(pub String);

fn err<T>(text: impl Into<String>) -> Result<T, SettingsError> {
    Err(SettingsError(text.into()))
}

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

pub(super) fn join_map<V: std::fmt::Display>(map: &BTreeMap<String, V>) -> String {
    map.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}
