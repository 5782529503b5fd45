//! The audit log: the policy the apiserver is given, where it writes and how much it keeps.

use serde::{Deserialize, Serialize};

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
