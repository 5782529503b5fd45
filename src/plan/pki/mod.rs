//! The cluster's certificates: which exist, what each one says, how one is generated, and when a
//! stored one must be replaced. Pure: no file I/O (the files are `effects::pki_store`'s job), so
//! every decision here is checked exactly by unit tests.
//!
//! The set is kubeadm's plus the client certificates kubeadm only embeds in
//! kubeconfigs, which are kept as files here so they are renewed by the same rules. Every key is
//! ECDSA P-256 (PKCS#8 `PRIVATE KEY` PEM): rcgen generates it natively, and every component accepts
//! it, the service-account signing key included.
//!
//! Layout under the profile's `pki/` folder, each certificate as `<stem>.crt` with its key
//! `<stem>.key` (the stem is what [`PkiOutcome`](crate::effects::pki_store::PkiOutcome) reports):
//!
//! | stem | subject | usage | signed by |
//! |---|---|---|---|
//! | `ca` | CN kubernetes | CA | itself |
//! | `apiserver` | CN kube-apiserver | server | `ca` |
//! | `apiserver-kubelet-client` | CN kube-apiserver-kubelet-client, O system:masters | client | `ca` |
//! | `front-proxy-ca` | CN front-proxy-ca | CA | itself |
//! | `front-proxy-client` | CN front-proxy-client | client | `front-proxy-ca` |
//! | `etcd/ca` | CN etcd-ca | CA | itself |
//! | `etcd/server`, `etcd/peer` | CN `<profile>-etcd` | server + client | `etcd/ca` |
//! | `etcd/healthcheck-client` | CN kube-etcd-healthcheck-client | client | `etcd/ca` |
//! | `apiserver-etcd-client` | CN kube-apiserver-etcd-client | client | `etcd/ca` |
//! | `admin` | CN kubernetes-admin, O kubeadm:cluster-admins | client | `ca` |
//! | `super-admin` | CN kubernetes-super-admin, O system:masters | client | `ca` |
//! | `controller-manager` | CN system:kube-controller-manager | client | `ca` |
//! | `scheduler` | CN system:kube-scheduler | client | `ca` |
//! | `kube-proxy` | CN system:kube-proxy | client | `ca` |
//! | `kubelet-client-<node>` | CN system:node:`<node>`, O system:nodes | client | `ca` |
//! | `kubelet-serving-<node>` | CN `<node>` | server | `ca` |
//!
//! plus the service-account key pair `sa.key` (private) and `sa.pub` (PKIX `PUBLIC KEY` PEM).
//!
//! Validity: CAs ten years, leaves `cert_validity_days`; NotBefore is backdated five minutes so a
//! container whose clock lags slightly still accepts a fresh certificate. A stored certificate is
//! replaced when [`needs_renewal`] gives a reason; a replaced CA takes every leaf it signed with it.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rcgen::{ExtendedKeyUsagePurpose, KeyUsagePurpose};
use time::Duration;

use crate::plan::config::ProfileConfig;
use crate::plan::names::{self, Role};
use crate::plan::profile_name::ProfileName;

mod generate;
mod renewal;
#[cfg(test)]
mod tests;

pub use generate::*;
pub use renewal::*;

/// CAs live ten years, as kubeadm's: replacing a CA means replacing everything it signed.
pub const CA_VALIDITY_DAYS: u32 = 3650;
/// NotBefore lies this far in the past, as kubeadm's, to tolerate small clock differences.
pub const BACKDATE: Duration = Duration::minutes(5);
/// A certificate expiring within this window is replaced on the next ensure.
pub const RENEW_BEFORE: Duration = Duration::days(30);

pub const CLUSTER_CA: &str = "ca";
pub const FRONT_PROXY_CA: &str = "front-proxy-ca";
pub const ETCD_CA: &str = "etcd/ca";
pub const APISERVER: &str = "apiserver";
pub const APISERVER_KUBELET_CLIENT: &str = "apiserver-kubelet-client";
pub const FRONT_PROXY_CLIENT: &str = "front-proxy-client";
pub const ETCD_SERVER: &str = "etcd/server";
pub const ETCD_PEER: &str = "etcd/peer";
pub const ETCD_HEALTHCHECK_CLIENT: &str = "etcd/healthcheck-client";
pub const APISERVER_ETCD_CLIENT: &str = "apiserver-etcd-client";
pub const ADMIN: &str = "admin";
/// The admin's group, bound to `cluster-admin` by [`ADMIN_BINDING`] (kubeadm's since 1.29), so
/// the admin's rights live in RBAC and can be revoked, unlike `system:masters`'.
pub const ADMIN_GROUP: &str = "kubeadm:cluster-admins";
/// The break-glass identity in `system:masters`: used by `start` only to create
/// [`ADMIN_BINDING`]; its kubeconfig stays in the profile folder, never in the user's.
pub const SUPER_ADMIN: &str = "super-admin";
/// Binds [`ADMIN_GROUP`] to `cluster-admin`.
pub const ADMIN_BINDING: &str = "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: kubeadm:cluster-admins
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: cluster-admin
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: Group
  name: kubeadm:cluster-admins
";
pub const CONTROLLER_MANAGER: &str = "controller-manager";
pub const SCHEDULER: &str = "scheduler";
pub const KUBE_PROXY: &str = "kube-proxy";
/// localkube's LoadBalancer controller (a container of the profile), with its own narrow RBAC.
pub const LB_CONTROLLER: &str = "lb-controller";
/// The service-account key pair: `sa.key` and `sa.pub`.
pub const SERVICE_ACCOUNT: &str = "sa";

/// A control-plane member's etcd serving certificate: member 1's is the single member's
/// (`etcd/server`), member m's `etcd/server-<m>`.
pub fn etcd_server(member: u32) -> String {
    member_stem(ETCD_SERVER, member)
}

/// A member's etcd peer certificate (`etcd/peer`, `etcd/peer-<m>`).
pub fn etcd_peer(member: u32) -> String {
    member_stem(ETCD_PEER, member)
}

fn member_stem(stem: &str, member: u32) -> String {
    if member == 1 {
        stem.to_string()
    } else {
        format!("{stem}-{member}")
    }
}

/// The kubelet's client certificate for a node (it authenticates as `system:node:<node>`).
pub fn kubelet_client(node: &str) -> String {
    format!("kubelet-client-{node}")
}

/// The kubelet's serving certificate for a node (the apiserver connects to it for logs and exec).
pub fn kubelet_serving(node: &str) -> String {
    format!("kubelet-serving-{node}")
}

/// `<stem>.crt`, relative to the pki folder.
pub fn cert_file(stem: &str) -> String {
    format!("{stem}.crt")
}

/// `<stem>.key`, relative to the pki folder.
pub fn key_file(stem: &str) -> String {
    format!("{stem}.key")
}

/// What a certificate may be used for; decides basicConstraints, keyUsage and extendedKeyUsage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    Ca,
    Server,
    Client,
    ServerAndClient,
}

impl Usage {
    fn key_usages(self) -> Vec<KeyUsagePurpose> {
        match self {
            Usage::Ca => vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::KeyCertSign,
                KeyUsagePurpose::CrlSign,
            ],
            _ => vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::KeyEncipherment,
            ],
        }
    }

    /// The keyUsage bits, by their RFC 5280 names (as [`ParsedCert::key_usages`] reads them).
    fn key_usage_names(self) -> BTreeSet<&'static str> {
        match self {
            Usage::Ca => ["digitalSignature", "keyCertSign", "cRLSign"].into(),
            _ => ["digitalSignature", "keyEncipherment"].into(),
        }
    }

    /// (serverAuth, clientAuth) in extendedKeyUsage.
    fn auth_flags(self) -> (bool, bool) {
        match self {
            Usage::Ca => (false, false),
            Usage::Server => (true, false),
            Usage::Client => (false, true),
            Usage::ServerAndClient => (true, true),
        }
    }

    fn extended_key_usages(self) -> Vec<ExtendedKeyUsagePurpose> {
        match self {
            Usage::Ca => vec![],
            Usage::Server => vec![ExtendedKeyUsagePurpose::ServerAuth],
            Usage::Client => vec![ExtendedKeyUsagePurpose::ClientAuth],
            Usage::ServerAndClient => vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ],
        }
    }
}

/// One certificate to have on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertSpec {
    /// Path below the pki folder without extension, e.g. `etcd/server`.
    pub stem: String,
    pub common_name: String,
    pub organization: Option<String>,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<IpAddr>,
    pub usage: Usage,
    /// Stem of the CA that signs it; `None` for a self-signed CA.
    pub issuer: Option<String>,
    pub validity_days: u32,
}

impl CertSpec {
    /// A self-signed CA.
    fn ca(stem: &str, common_name: &str) -> Self {
        Self::new(stem, common_name, Usage::Ca, None, CA_VALIDITY_DAYS)
    }

    fn leaf(stem: &str, common_name: &str, usage: Usage, issuer: &str, days: u32) -> Self {
        Self::new(stem, common_name, usage, Some(issuer), days)
    }

    /// `issuer`: the stem of the CA that signs it, `None` for a self-signed one.
    fn new(stem: &str, common_name: &str, usage: Usage, issuer: Option<&str>, days: u32) -> Self {
        Self {
            stem: stem.to_string(),
            common_name: common_name.to_string(),
            organization: None,
            dns_names: Vec::new(),
            ip_addresses: Vec::new(),
            usage,
            issuer: issuer.map(str::to_string),
            validity_days: days,
        }
    }

    fn organization(mut self, organization: &str) -> Self {
        self.organization = Some(organization.to_string());
        self
    }

    fn sans(mut self, dns_names: &[&str], ip_addresses: &[IpAddr]) -> Self {
        self.dns_names = dns_names.iter().map(|n| n.to_string()).collect();
        self.ip_addresses = ip_addresses.to_vec();
        self
    }
}

/// Every certificate and key of one profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PkiPlan {
    pub leaf_validity_days: u32,
    /// Self-signed CAs, generated before the leaves.
    pub cas: Vec<CertSpec>,
    /// Certificates signed by one of `cas`.
    pub leaves: Vec<CertSpec>,
}

impl PkiPlan {
    /// The specification with this stem, CA or leaf.
    pub fn spec(&self, stem: &str) -> Option<&CertSpec> {
        self.cas.iter().chain(&self.leaves).find(|s| s.stem == stem)
    }
}

/// The client certificates every profile has, one row each: stem, common name (the user the
/// apiserver sees), issuer, organization (the group). In kubeadm's order.
const CLIENT_LEAVES: &[(&str, &str, &str, Option<&str>)] = &[
    (
        APISERVER_KUBELET_CLIENT,
        "kube-apiserver-kubelet-client",
        CLUSTER_CA,
        Some("system:masters"),
    ),
    (
        FRONT_PROXY_CLIENT,
        "front-proxy-client",
        FRONT_PROXY_CA,
        None,
    ),
    (
        ETCD_HEALTHCHECK_CLIENT,
        "kube-etcd-healthcheck-client",
        ETCD_CA,
        None,
    ),
    (
        APISERVER_ETCD_CLIENT,
        "kube-apiserver-etcd-client",
        ETCD_CA,
        None,
    ),
    (ADMIN, "kubernetes-admin", CLUSTER_CA, Some(ADMIN_GROUP)),
    (
        SUPER_ADMIN,
        "kubernetes-super-admin",
        CLUSTER_CA,
        Some("system:masters"),
    ),
    (
        CONTROLLER_MANAGER,
        "system:kube-controller-manager",
        CLUSTER_CA,
        None,
    ),
    (SCHEDULER, "system:kube-scheduler", CLUSTER_CA, None),
    (KUBE_PROXY, "system:kube-proxy", CLUSTER_CA, None),
    (LB_CONTROLLER, "localkube:lb-controller", CLUSTER_CA, None),
];

/// The certificates a profile needs, from its settings alone.
pub fn plan(profile: &ProfileName, config: &ProfileConfig) -> PkiPlan {
    let days = config.cert_validity_days;
    let cas = vec![
        CertSpec::ca(CLUSTER_CA, "kubernetes"),
        CertSpec::ca(FRONT_PROXY_CA, "front-proxy-ca"),
        CertSpec::ca(ETCD_CA, "etcd-ca"),
    ];
    let mut leaves = vec![apiserver_leaf(profile, config)];
    leaves.extend(
        CLIENT_LEAVES
            .iter()
            .map(|&(stem, common_name, issuer, organization)| {
                let leaf = CertSpec::leaf(stem, common_name, Usage::Client, issuer, days);
                match organization {
                    Some(organization) => leaf.organization(organization),
                    None => leaf,
                }
            }),
    );
    // Each etcd member's certificates go before the healthcheck client, where a single
    // member's always were, so its plan reads as before.
    let etcd_at = leaves
        .iter()
        .position(|l| l.stem == ETCD_HEALTHCHECK_CLIENT)
        .expect("the healthcheck client is planned");
    leaves.splice(etcd_at..etcd_at, etcd_member_leaves(profile, config));
    leaves.extend(node_leaves(profile, config));
    PkiPlan {
        leaf_validity_days: days,
        cas,
        leaves,
    }
}

/// The apiserver's serving certificate, naming every way a client reaches it.
fn apiserver_leaf(profile: &ProfileName, config: &ProfileConfig) -> CertSpec {
    let first_node = names::node_name(profile, 1);
    let localhost_v4 = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let apiserver_container = names::control_plane_container(profile, Role::Apiserver);
    let kubernetes_svc_fqdn = format!("kubernetes.default.svc.{}", config.dns_domain);
    // Clients reach the apiserver by the service name (pods), the container name and address (the
    // other components), and 127.0.0.1 (kubectl on the host, through the published port).
    // kubeadm names the control-plane node; here that is the first node, which is always there,
    // so adding or deleting nodes leaves the apiserver's certificate as it is.
    let mut apiserver_dns: Vec<&str> = vec![first_node.as_str()];
    apiserver_dns.extend([
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        kubernetes_svc_fqdn.as_str(),
        "localhost",
        apiserver_container.as_str(),
    ]);
    // The `kubernetes` Service's address in each family (the first one's, before families, in
    // the same place), and the apiserver's IPv6 twin where the network has IPv6.
    let mut apiserver_ips = config.kubernetes_service_ips();
    apiserver_ips.push(IpAddr::V4(config.apiserver_ip()));
    apiserver_ips.push(localhost_v4);
    apiserver_ips.extend(config.ipv6_twin(config.apiserver_ip()).map(IpAddr::V6));
    // Several members share one serving certificate that names each of them and their load
    // balancer, through which the nodes and components reach whichever member answers.
    let members: Vec<String> = config
        .members()
        .skip(1)
        .map(|m| names::member_container(profile, Role::Apiserver, m))
        .collect();
    let lb = names::apiserver_lb_container(profile);
    if config.is_ha() {
        apiserver_dns.extend(members.iter().map(String::as_str));
        apiserver_dns.push(lb.as_str());
        apiserver_ips.extend(
            config
                .members()
                .skip(1)
                .map(|m| IpAddr::V4(config.member_ip(Role::Apiserver, m))),
        );
        apiserver_ips.push(IpAddr::V4(config.apiserver_lb_ip()));
    }

    CertSpec::leaf(
        APISERVER,
        "kube-apiserver",
        Usage::Server,
        CLUSTER_CA,
        config.cert_validity_days,
    )
    .sans(&apiserver_dns, &apiserver_ips)
}

/// Each etcd member serves and meets its peers with certificates of its own, naming its own
/// container and address (kubeadm's per-node etcd certificates).
fn etcd_member_leaves(profile: &ProfileName, config: &ProfileConfig) -> Vec<CertSpec> {
    let mut leaves = Vec::new();
    for member in config.members() {
        let name = names::member_container(profile, Role::Etcd, member);
        let dns = [name.as_str(), "localhost"];
        let ips = [
            IpAddr::V4(config.member_ip(Role::Etcd, member)),
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ];
        for stem in [etcd_server(member), etcd_peer(member)] {
            leaves.push(
                CertSpec::leaf(
                    &stem,
                    &name,
                    Usage::ServerAndClient,
                    ETCD_CA,
                    config.cert_validity_days,
                )
                .sans(&dns, &ips),
            );
        }
    }
    leaves
}

/// Each node's kubelet: a client certificate for the apiserver and a serving one for it.
fn node_leaves(profile: &ProfileName, config: &ProfileConfig) -> Vec<CertSpec> {
    let days = config.cert_validity_days;
    let nodes = names::node_names(profile, &config.nodes);
    let mut leaves = Vec::new();
    for (&number, node) in config.nodes.numbers().iter().zip(&nodes) {
        // The Node authorizer and NodeRestriction match this subject exactly.
        leaves.push(
            CertSpec::leaf(
                &kubelet_client(node),
                &format!("system:node:{node}"),
                Usage::Client,
                CLUSTER_CA,
                days,
            )
            .organization("system:nodes"),
        );
        leaves.push(
            CertSpec::leaf(
                &kubelet_serving(node),
                node,
                Usage::Server,
                CLUSTER_CA,
                days,
            )
            .sans(
                &[node.as_str(), "localhost"],
                &[
                    IpAddr::V4(config.node_ip(number)),
                    IpAddr::V4(Ipv4Addr::LOCALHOST),
                ]
                .into_iter()
                // Its IPv6 address too, where the network has one: the apiserver reaches an
                // IPv6-only node's kubelet there.
                .chain(config.ipv6_twin(config.node_ip(number)).map(IpAddr::V6))
                .collect::<Vec<_>>(),
            ),
        );
    }
    leaves
}
