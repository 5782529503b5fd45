//! The cluster file `start --config FILE` reads and `config view` prints: one versioned YAML
//! document (`apiVersion: localkube.dev/v1alpha1`, `kind: Cluster`) holding what `start`'s flags
//! hold and the profile's own settings ([`ClusterSettings`]). Every field maps onto the same
//! start request the flags fill; an unknown field is refused with its path and the fields
//! accepted there.
//!
//! A new field is one member of [`ClusterFile`], one line in [`ClusterFile::into_parts`] and one
//! in [`ClusterFile::from_profile`] (a control-plane count, say: `controlPlanes: 3`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::plan::addon_choices::AddonChoices;
use crate::plan::config::ProfileConfig;
use crate::plan::localhost::Localhost;
use crate::plan::networking::Networking;
use crate::plan::settings::{Audit, ClusterSettings, HostMount, NodeSettings};

pub const API_VERSION: &str = "localkube.dev/v1alpha1";
pub const KIND: &str = "Cluster";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterFile {
    pub api_version: String,
    pub kind: String,
    /// `--kubernetes-version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_version: Option<String>,
    /// A count (`--nodes`), or one entry per node with its labels and taints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<NodesField>,
    /// `--control-planes`: 1, or 3 for a highly available control plane (a new profile only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_planes: Option<u32>,
    /// `--addons`: enabled besides the defaults.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addons: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub feature_gates: BTreeMap<String, bool>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub runtime_config: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_server: Option<ApiServer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller_manager: Option<ExtraArgs>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<ExtraArgs>,
    /// KubeletConfiguration fields.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub kubelet: Map<String, Value>,
    /// KubeProxyConfiguration fields.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub kube_proxy: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<HostMount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit: Option<AuditField>,
    /// `--localhost`: which kinds of Service also answer on localhost, e.g. `{nodePort: false}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub localhost: Option<Localhost>,
    /// `--ip-family` and the pod and service ranges of each family (a new profile only), e.g.
    /// `{ipFamily: dual, podSubnet: [10.244.0.0/16, fd6c:6b00:244::/56]}`.
    #[serde(default, skip_serializing_if = "Networking::is_empty")]
    pub networking: Networking,
    /// `--insecure`: settings that switch a safeguard off, and host folders of the denylist,
    /// are meant (README, "The cluster file").
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiServer {
    /// `--apiserver-port`: the host port on 127.0.0.1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "crate::plan::settings::string_values"
    )]
    pub extra_args: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExtraArgs {
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "crate::plan::settings::string_values"
    )]
    pub extra_args: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditField {
    /// `default`, or a policy file (relative to the cluster file's folder).
    pub policy: String,
}

/// `nodes: 3` or `nodes: [{labels: ..., taints: ...}, ...]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum NodesField {
    Count(u32),
    List(Vec<NodeSettings>),
}

impl NodesField {
    pub fn count(&self) -> u32 {
        match self {
            NodesField::Count(n) => *n,
            NodesField::List(list) => list.len() as u32,
        }
    }
}

impl<'de> Deserialize<'de> for NodesField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match Value::deserialize(d)? {
            Value::Number(n) => n
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .map(NodesField::Count)
                .ok_or_else(|| D::Error::custom("a node count is a whole number, 1 to 9")),
            Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| {
                    let item = if item.is_null() {
                        Value::Object(Map::new())
                    } else {
                        item
                    };
                    serde_path_to_error::deserialize(item).map_err(|e| {
                        D::Error::custom(format!("node {} ({}): {}", i + 1, e.path(), e.inner()))
                    })
                })
                .collect::<Result<_, _>>()
                .map(NodesField::List),
            _ => Err(D::Error::custom(
                "write a count (nodes: 2) or a list with each node's labels and taints (nodes: [{labels: {tier: front}}, {taints: [\"dedicated=db:NoSchedule\"]}])",
            )),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FileError {
    #[error("{0}")]
    Yaml(String),
    #[error("{path}: {message}")]
    Field { path: String, message: String },
}

/// What a cluster file asks of `start`: the flags' values and the profile's settings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileRequest {
    pub kubernetes_version: Option<String>,
    pub nodes: Option<u32>,
    pub control_planes: Option<u32>,
    pub addons: Vec<String>,
    pub apiserver_port: Option<u16>,
    pub settings: ClusterSettings,
    /// The audit policy file to read (absolute), when one is named.
    pub audit_policy_file: Option<std::path::PathBuf>,
    pub localhost: Option<Localhost>,
    pub networking: Networking,
}

impl ClusterFile {
    /// Reads one cluster file. Every problem names the field's path.
    pub fn parse(text: &str) -> Result<ClusterFile, FileError> {
        let value: Value =
            crate::yaml::from_str(text).map_err(|e| FileError::Yaml(e.to_string()))?;
        if !value.is_object() {
            return Err(FileError::Yaml(format!(
                "a cluster file is one YAML map starting `apiVersion: {API_VERSION}` and `kind: {KIND}`"
            )));
        }
        let file: ClusterFile = serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            FileError::Field {
                path: if path == "." { "the file".into() } else { path },
                message: e.inner().to_string(),
            }
        })?;
        if file.api_version != API_VERSION {
            return Err(FileError::Field {
                path: "apiVersion".into(),
                message: format!("'{}' is not known: use {API_VERSION}", file.api_version),
            });
        }
        if file.kind != KIND {
            return Err(FileError::Field {
                path: "kind".into(),
                message: format!("'{}' is not known: use {KIND}", file.kind),
            });
        }
        Ok(file)
    }

    /// The request the file makes; relative paths are taken from `dir`, the file's folder.
    pub fn into_parts(self, dir: &Path) -> Result<FileRequest, FileError> {
        let mut settings = ClusterSettings {
            feature_gates: self.feature_gates,
            runtime_config: self.runtime_config,
            kubelet: self.kubelet,
            kube_proxy: self.kube_proxy,
            insecure: self.insecure,
            ..Default::default()
        };
        let mut apiserver_port = None;
        if let Some(api) = self.api_server {
            apiserver_port = api.port;
            settings.apiserver_args = api.extra_args;
        }
        settings.controller_manager_args = self
            .controller_manager
            .map(|c| c.extra_args)
            .unwrap_or_default();
        settings.scheduler_args = self.scheduler.map(|c| c.extra_args).unwrap_or_default();
        if let Some(NodesField::List(list)) = &self.nodes {
            for (i, node) in list.iter().enumerate() {
                if !node.is_empty() {
                    settings.node_settings.insert(i as u32 + 1, node.clone());
                }
            }
        }
        settings.mounts = self
            .mounts
            .into_iter()
            .map(|m| HostMount {
                host_path: dir.join(&m.host_path),
                ..m
            })
            .collect();
        let mut audit_policy_file = None;
        if let Some(audit) = self.audit {
            if audit.policy.is_empty() {
                return Err(FileError::Field {
                    path: "audit.policy".into(),
                    message: "write `default` or the path of an audit Policy file".into(),
                });
            }
            let policy = if audit.policy == "default" {
                audit.policy
            } else {
                let path = dir.join(&audit.policy);
                audit_policy_file = Some(path.clone());
                path.display().to_string()
            };
            settings.audit = Some(Audit {
                policy,
                document: None,
            });
        }
        Ok(FileRequest {
            kubernetes_version: self.kubernetes_version,
            nodes: self.nodes.as_ref().map(NodesField::count),
            control_planes: self.control_planes,
            addons: self.addons,
            apiserver_port,
            settings,
            audit_policy_file,
            localhost: self.localhost,
            networking: self.networking,
        })
    }

    /// A profile's effective file: what `start --config` with it would ask for again.
    pub fn from_profile(config: &ProfileConfig) -> ClusterFile {
        let s = &config.settings;
        let nodes = if s.node_settings.is_empty() {
            NodesField::Count(config.nodes.count())
        } else {
            NodesField::List(config.nodes.numbers().iter().map(|n| s.node(*n)).collect())
        };
        let extra = |args: &BTreeMap<String, String>| {
            (!args.is_empty()).then(|| ExtraArgs {
                extra_args: args.clone(),
            })
        };
        ClusterFile {
            api_version: API_VERSION.into(),
            kind: KIND.into(),
            kubernetes_version: Some(config.kubernetes_version.clone()),
            nodes: Some(nodes),
            // A single control plane is the default, not written.
            control_planes: config.is_ha().then_some(config.control_planes),
            addons: enabled_addons(&config.addons),
            feature_gates: s.feature_gates.clone(),
            runtime_config: s.runtime_config.clone(),
            api_server: Some(ApiServer {
                port: Some(config.apiserver_port),
                extra_args: s.apiserver_args.clone(),
            }),
            controller_manager: extra(&s.controller_manager_args),
            scheduler: extra(&s.scheduler_args),
            kubelet: s.kubelet.clone(),
            kube_proxy: s.kube_proxy.clone(),
            mounts: s.mounts.clone(),
            audit: s.audit.as_ref().map(|a| AuditField {
                policy: a.policy.clone(),
            }),
            // Every kind on is the default, not written.
            localhost: (!config.localhost.is_default()).then_some(config.localhost),
            // The default family with the default ranges is not written.
            networking: Networking::of(
                config.ranges(),
                (
                    crate::plan::config::DEFAULT_POD_CIDR
                        .parse()
                        .expect("default"),
                    crate::plan::config::DEFAULT_SERVICE_CIDR
                        .parse()
                        .expect("default"),
                ),
            ),
            insecure: s.insecure,
        }
    }
}

fn enabled_addons(choices: &AddonChoices) -> Vec<String> {
    choices.enabled.iter().cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUE_SHAPE: &str = r#"
apiVersion: localkube.dev/v1alpha1
kind: Cluster
kubernetesVersion: v1.37.2
nodes:
  - labels: {tier: front}
  - labels: {tier: back}
    taints: ["dedicated=db:NoSchedule"]
addons: [metrics-server]
featureGates: {SomeGate: true}
runtimeConfig: {"api/beta": "true"}
apiServer: {extraArgs: {max-requests-inflight: 500}}
controllerManager: {extraArgs: {}}
scheduler: {extraArgs: {}}
kubelet: {maxPods: 50}            # KubeletConfiguration fields
kubeProxy: {}                     # KubeProxyConfiguration fields
mounts: [{hostPath: /home/me/src, nodePath: /src, readOnly: false}]
audit: {policy: default}
"#;

    #[test]
    fn reads_the_shape_the_issue_gives() {
        let file = ClusterFile::parse(ISSUE_SHAPE).unwrap();
        let parts = file.into_parts(Path::new("/x")).unwrap();
        assert_eq!(parts.kubernetes_version.as_deref(), Some("v1.37.2"));
        assert_eq!(parts.nodes, Some(2));
        assert_eq!(parts.addons, ["metrics-server"]);
        let s = &parts.settings;
        assert!(s.feature_gates["SomeGate"]);
        assert_eq!(s.runtime_config["api/beta"], "true");
        assert_eq!(s.apiserver_args["max-requests-inflight"], "500");
        assert_eq!(s.kubelet["maxPods"], 50);
        assert_eq!(s.node(2).taints, ["dedicated=db:NoSchedule"]);
        assert_eq!(s.node(1).labels["tier"], "front");
        assert_eq!(s.mounts[0].node_path, "/src");
        assert_eq!(s.audit.as_ref().unwrap().policy, "default");
    }

    #[test]
    fn unknown_fields_are_refused_with_their_path_and_whats_accepted() {
        let e = ClusterFile::parse(&ISSUE_SHAPE.replace("featureGates", "featureGate"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `featureGate`"), "{e}");
        assert!(e.contains("featureGates"), "{e}");
        let e = ClusterFile::parse(&ISSUE_SHAPE.replace("taints:", "taint:"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("nodes: node 2"), "{e}");
        assert!(e.contains("`taints`"), "{e}");
        let e = ClusterFile::parse(&ISSUE_SHAPE.replace("readOnly", "readonly"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("mounts[0]"), "{e}");
        let e = ClusterFile::parse(&ISSUE_SHAPE.replace("v1alpha1", "v1"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("use localkube.dev/v1alpha1"), "{e}");
        let e = ClusterFile::parse("kind: Cluster\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("apiVersion"), "{e}");
    }

    #[test]
    fn relative_paths_are_the_files_folders() {
        let text = "apiVersion: localkube.dev/v1alpha1\nkind: Cluster\nnodes: 1\nmounts: [{hostPath: src, nodePath: /src}]\naudit: {policy: policy.yaml}\n";
        let parts = ClusterFile::parse(text)
            .unwrap()
            .into_parts(Path::new("/home/me/k"))
            .unwrap();
        assert_eq!(
            parts.settings.mounts[0].host_path,
            Path::new("/home/me/k/src")
        );
        assert!(!parts.settings.mounts[0].read_only);
        assert_eq!(
            parts.audit_policy_file.as_deref(),
            Some(Path::new("/home/me/k/policy.yaml"))
        );
    }

    #[test]
    fn a_profile_prints_as_a_file_that_reads_back_the_same() {
        let file = ClusterFile::parse(ISSUE_SHAPE).unwrap();
        let parts = file.into_parts(Path::new("/x")).unwrap();
        let mut config = ProfileConfig::new(40123, "172.30.7.0/24".parse().unwrap());
        config.nodes = crate::plan::nodes::Nodes::first(2);
        config.settings = parts.settings.clone();
        let text = crate::yaml::to_string(&ClusterFile::from_profile(&config)).unwrap();
        let back = ClusterFile::parse(&text)
            .unwrap()
            .into_parts(Path::new("/x"))
            .unwrap();
        assert_eq!(back.settings, parts.settings);
        assert_eq!(back.nodes, Some(2));
        assert_eq!(back.apiserver_port, Some(40123));
        assert!(back.networking.is_empty(), "{text}");
    }

    #[test]
    fn networking_reads_a_family_and_ranges_per_family_and_prints_back() {
        let text = "apiVersion: localkube.dev/v1alpha1\nkind: Cluster\nnetworking:\n  ipFamily: dual\n  podSubnet: [10.244.0.0/16, \"fd6c:1::/56\"]\n  serviceSubnet: [\"fd6c:2::/112\"]\n";
        let parts = ClusterFile::parse(text)
            .unwrap()
            .into_parts(Path::new("/x"))
            .unwrap();
        let n = &parts.networking;
        assert_eq!(n.ip_family, Some(crate::plan::networking::IpFamily::Dual));
        assert_eq!(n.pod_subnet.len(), 2);
        let mut config = ProfileConfig::new(40123, "172.30.7.0/24".parse().unwrap());
        config.set_networking(n).unwrap();
        config.validate().unwrap();
        let printed = crate::yaml::to_string(&ClusterFile::from_profile(&config)).unwrap();
        assert!(printed.contains("ipFamily: dual"), "{printed}");
        let back = ClusterFile::parse(&printed)
            .unwrap()
            .into_parts(Path::new("/x"))
            .unwrap();
        assert_eq!(back.networking.refusal(config.ranges()), None);
        let e = ClusterFile::parse(&text.replace("ipFamily", "family"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("networking") && e.contains("ipFamily"), "{e}");
        let e = ClusterFile::parse(&text.replace("dual", "both"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("networking.ipFamily"), "{e}");
    }
}
