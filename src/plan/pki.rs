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
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use anyhow::{Context, Result, bail};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use crate::plan::config::ProfileConfig;
use crate::plan::names::{self, Role};
use crate::plan::profile_name::ProfileName;

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
    fn ca(stem: &str, common_name: &str) -> Self {
        Self {
            stem: stem.to_string(),
            common_name: common_name.to_string(),
            organization: None,
            dns_names: Vec::new(),
            ip_addresses: Vec::new(),
            usage: Usage::Ca,
            issuer: None,
            validity_days: CA_VALIDITY_DAYS,
        }
    }

    fn leaf(stem: &str, common_name: &str, usage: Usage, issuer: &str, days: u32) -> Self {
        Self {
            stem: stem.to_string(),
            common_name: common_name.to_string(),
            organization: None,
            dns_names: Vec::new(),
            ip_addresses: Vec::new(),
            usage,
            issuer: Some(issuer.to_string()),
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

/// The certificates a profile needs, from its settings alone.
pub fn plan(profile: &ProfileName, config: &ProfileConfig) -> PkiPlan {
    let days = config.cert_validity_days;
    let nodes = names::node_names(profile, &config.nodes);
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
    let apiserver_ips = [
        IpAddr::V4(config.kubernetes_service_ip()),
        IpAddr::V4(config.apiserver_ip()),
        localhost_v4,
    ];

    let etcd_name = names::control_plane_container(profile, Role::Etcd);
    let etcd_dns = [etcd_name.as_str(), "localhost"];
    let etcd_ips = [
        IpAddr::V4(config.etcd_ip()),
        localhost_v4,
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ];

    let cas = vec![
        CertSpec::ca(CLUSTER_CA, "kubernetes"),
        CertSpec::ca(FRONT_PROXY_CA, "front-proxy-ca"),
        CertSpec::ca(ETCD_CA, "etcd-ca"),
    ];

    let mut leaves = vec![
        CertSpec::leaf(APISERVER, "kube-apiserver", Usage::Server, CLUSTER_CA, days)
            .sans(&apiserver_dns, &apiserver_ips),
        CertSpec::leaf(
            APISERVER_KUBELET_CLIENT,
            "kube-apiserver-kubelet-client",
            Usage::Client,
            CLUSTER_CA,
            days,
        )
        .organization("system:masters"),
        CertSpec::leaf(
            FRONT_PROXY_CLIENT,
            "front-proxy-client",
            Usage::Client,
            FRONT_PROXY_CA,
            days,
        ),
        CertSpec::leaf(
            ETCD_SERVER,
            &etcd_name,
            Usage::ServerAndClient,
            ETCD_CA,
            days,
        )
        .sans(&etcd_dns, &etcd_ips),
        CertSpec::leaf(ETCD_PEER, &etcd_name, Usage::ServerAndClient, ETCD_CA, days)
            .sans(&etcd_dns, &etcd_ips),
        CertSpec::leaf(
            ETCD_HEALTHCHECK_CLIENT,
            "kube-etcd-healthcheck-client",
            Usage::Client,
            ETCD_CA,
            days,
        ),
        CertSpec::leaf(
            APISERVER_ETCD_CLIENT,
            "kube-apiserver-etcd-client",
            Usage::Client,
            ETCD_CA,
            days,
        ),
        CertSpec::leaf(ADMIN, "kubernetes-admin", Usage::Client, CLUSTER_CA, days)
            .organization(ADMIN_GROUP),
        CertSpec::leaf(
            SUPER_ADMIN,
            "kubernetes-super-admin",
            Usage::Client,
            CLUSTER_CA,
            days,
        )
        .organization("system:masters"),
        CertSpec::leaf(
            CONTROLLER_MANAGER,
            "system:kube-controller-manager",
            Usage::Client,
            CLUSTER_CA,
            days,
        ),
        CertSpec::leaf(
            SCHEDULER,
            "system:kube-scheduler",
            Usage::Client,
            CLUSTER_CA,
            days,
        ),
        CertSpec::leaf(
            KUBE_PROXY,
            "system:kube-proxy",
            Usage::Client,
            CLUSTER_CA,
            days,
        ),
        CertSpec::leaf(
            LB_CONTROLLER,
            "localkube:lb-controller",
            Usage::Client,
            CLUSTER_CA,
            days,
        ),
    ];
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
                &[IpAddr::V4(config.node_ip(number)), localhost_v4],
            ),
        );
    }

    PkiPlan {
        leaf_validity_days: days,
        cas,
        leaves,
    }
}

/// A certificate and its private key, both PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct CertAndKey {
    pub cert_pem: String,
    pub key_pem: String,
}

impl fmt::Debug for CertAndKey {
    // Keeps private keys out of logs and test failure messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertAndKey")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"[elided]")
            .finish()
    }
}

/// Generates `spec`'s certificate with a fresh key, valid from `now - BACKDATE` to
/// `now + validity_days`. A CA signs itself (`issuer` is `None`); a leaf needs its CA.
pub fn generate(
    spec: &CertSpec,
    issuer: Option<&CertAndKey>,
    now: OffsetDateTime,
) -> Result<CertAndKey> {
    // X.509 times have whole seconds: truncating keeps the stored validity exactly as planned.
    let now = now.replace_nanosecond(0).expect("0 is a valid nanosecond");
    let mut params = CertificateParams::default();
    params.not_before = now - BACKDATE;
    params.not_after = now + Duration::days(i64::from(spec.validity_days));
    params.distinguished_name = rcgen::DistinguishedName::new();
    if let Some(organization) = &spec.organization {
        params
            .distinguished_name
            .push(DnType::OrganizationName, organization.as_str());
    }
    params
        .distinguished_name
        .push(DnType::CommonName, spec.common_name.as_str());
    for name in &spec.dns_names {
        let name = name
            .as_str()
            .try_into()
            .with_context(|| format!("{name} is not a valid DNS name for {}", spec.stem))?;
        params.subject_alt_names.push(SanType::DnsName(name));
    }
    params
        .subject_alt_names
        .extend(spec.ip_addresses.iter().copied().map(SanType::IpAddress));
    params.key_usages = spec.usage.key_usages();
    params.extended_key_usages = spec.usage.extended_key_usages();
    params.is_ca = match spec.usage {
        Usage::Ca => IsCa::Ca(BasicConstraints::Unconstrained),
        _ => IsCa::ExplicitNoCa,
    };
    // Lets verifiers pick the right CA key when a CA has been replaced.
    params.use_authority_key_identifier_extension = spec.issuer.is_some();

    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .with_context(|| format!("generating a key for {}", spec.stem))?;
    let cert = match (&spec.issuer, issuer) {
        (None, _) => params.self_signed(&key),
        (Some(_), Some(ca)) => {
            let ca_key = KeyPair::from_pem(&ca.key_pem)
                .with_context(|| format!("reading the CA key that signs {}", spec.stem))?;
            let issuer = Issuer::from_ca_cert_pem(&ca.cert_pem, ca_key)
                .with_context(|| format!("reading the CA certificate that signs {}", spec.stem))?;
            params.signed_by(&key, &issuer)
        }
        (Some(ca), None) => bail!("{} needs its CA {ca} to be generated", spec.stem),
    }
    .with_context(|| format!("signing the certificate {}", spec.stem))?;
    Ok(CertAndKey {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// The service-account key pair: the apiserver signs tokens with the private key and checks them
/// with the public one.
#[derive(Clone, PartialEq, Eq)]
pub struct ServiceAccountKey {
    pub private_pem: String,
    /// PKIX `PUBLIC KEY` PEM.
    pub public_pem: String,
}

impl fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("private_pem", &"[elided]")
            .field("public_pem", &self.public_pem)
            .finish()
    }
}

pub fn generate_service_account_key() -> Result<ServiceAccountKey> {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .context("generating the service-account key")?;
    Ok(ServiceAccountKey {
        private_pem: key.serialize_pem(),
        public_pem: key.public_key_pem(),
    })
}

/// Why a stored certificate or key is replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenewalReason {
    /// The certificate or its key is not on disk.
    Missing,
    /// The certificate or key does not parse.
    Unreadable(String),
    /// The key is not the certificate's.
    KeyMismatch,
    /// Its CA was replaced in this run, so it no longer chains to a trusted CA.
    IssuerRenewed,
    /// Its signature does not verify against its CA's key.
    NotSignedByIssuer,
    /// Subject, SANs or usages differ from the plan (e.g. the profile's names changed).
    DiffersFromPlan(String),
    /// It expires within [`RENEW_BEFORE`] (or already has).
    Expiring { not_after: OffsetDateTime },
    /// Its validity starts in the future (the clock was wrong when it was made).
    NotYetValid { not_before: OffsetDateTime },
}

impl fmt::Display for RenewalReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RenewalReason::Missing => write!(f, "missing"),
            RenewalReason::Unreadable(why) => write!(f, "unreadable ({why})"),
            RenewalReason::KeyMismatch => write!(f, "the key does not match the certificate"),
            RenewalReason::IssuerRenewed => write!(f, "its CA was replaced"),
            RenewalReason::NotSignedByIssuer => write!(f, "not signed by its CA"),
            RenewalReason::DiffersFromPlan(what) => write!(f, "{what}"),
            RenewalReason::Expiring { not_after } => write!(f, "expires {not_after}"),
            RenewalReason::NotYetValid { not_before } => write!(f, "not valid before {not_before}"),
        }
    }
}

/// The state of the CA that signs the certificate being checked.
#[derive(Debug, Clone, Copy)]
pub enum IssuerState<'a> {
    /// The certificate is a CA and signs itself.
    SelfSigned,
    /// The CA was just replaced: everything it signed goes too.
    Renewed,
    /// The CA is kept; this is its certificate PEM.
    Kept(&'a str),
}

/// What a certificate says, read back from PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedCert {
    pub common_name: Option<String>,
    pub organizations: Vec<String>,
    pub dns_names: BTreeSet<String>,
    pub ip_addresses: BTreeSet<IpAddr>,
    pub is_ca: bool,
    /// keyUsage bits in RFC 5280 names, e.g. `digitalSignature`.
    pub key_usages: BTreeSet<&'static str>,
    pub server_auth: bool,
    pub client_auth: bool,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// The raw public key (the BIT STRING of SubjectPublicKeyInfo).
    pub public_key: Vec<u8>,
    der: Vec<u8>,
}

impl ParsedCert {
    pub fn from_pem(pem: &str) -> Result<Self> {
        let (_, pem) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
            .map_err(|e| anyhow::anyhow!("not a PEM certificate: {e}"))?;
        Self::from_der(&pem.contents)
    }

    pub fn from_der(der: &[u8]) -> Result<Self> {
        let (_, x509) = X509Certificate::from_der(der)
            .map_err(|e| anyhow::anyhow!("not an X.509 certificate: {e}"))?;
        let subject = x509.subject();
        let text = |attr: &x509_parser::x509::AttributeTypeAndValue<'_>| {
            attr.as_str().map(str::to_string).ok()
        };
        let mut dns_names = BTreeSet::new();
        let mut ip_addresses = BTreeSet::new();
        if let Some(san) = x509
            .subject_alternative_name()
            .map_err(|e| anyhow::anyhow!("bad subjectAltName: {e}"))?
        {
            for name in &san.value.general_names {
                match name {
                    x509_parser::extensions::GeneralName::DNSName(dns) => {
                        dns_names.insert(dns.to_string());
                    }
                    x509_parser::extensions::GeneralName::IPAddress(bytes) => {
                        if let Some(ip) = ip_from_bytes(bytes) {
                            ip_addresses.insert(ip);
                        }
                    }
                    _ => {}
                }
            }
        }
        let mut key_usages = BTreeSet::new();
        if let Some(ku) = x509
            .key_usage()
            .map_err(|e| anyhow::anyhow!("bad keyUsage: {e}"))?
        {
            let ku = ku.value;
            for (set, name) in [
                (ku.digital_signature(), "digitalSignature"),
                (ku.non_repudiation(), "nonRepudiation"),
                (ku.key_encipherment(), "keyEncipherment"),
                (ku.data_encipherment(), "dataEncipherment"),
                (ku.key_agreement(), "keyAgreement"),
                (ku.key_cert_sign(), "keyCertSign"),
                (ku.crl_sign(), "cRLSign"),
                (ku.encipher_only(), "encipherOnly"),
                (ku.decipher_only(), "decipherOnly"),
            ] {
                if set {
                    key_usages.insert(name);
                }
            }
        }
        let (server_auth, client_auth) = match x509
            .extended_key_usage()
            .map_err(|e| anyhow::anyhow!("bad extendedKeyUsage: {e}"))?
        {
            Some(eku) => (eku.value.server_auth, eku.value.client_auth),
            None => (false, false),
        };
        let is_ca = x509
            .basic_constraints()
            .map_err(|e| anyhow::anyhow!("bad basicConstraints: {e}"))?
            .is_some_and(|bc| bc.value.ca);
        Ok(Self {
            common_name: subject.iter_common_name().next().and_then(text),
            organizations: subject.iter_organization().filter_map(text).collect(),
            dns_names,
            ip_addresses,
            is_ca,
            key_usages,
            server_auth,
            client_auth,
            not_before: x509.validity().not_before.to_datetime(),
            not_after: x509.validity().not_after.to_datetime(),
            public_key: x509.public_key().subject_public_key.data.to_vec(),
            der: der.to_vec(),
        })
    }

    /// Whether `issuer` signed this certificate.
    pub fn is_signed_by(&self, issuer: &ParsedCert) -> bool {
        let (Ok((_, cert)), Ok((_, ca))) = (
            X509Certificate::from_der(&self.der),
            X509Certificate::from_der(&issuer.der),
        ) else {
            return false;
        };
        cert.verify_signature(Some(ca.public_key())).is_ok()
    }

    /// The first way this certificate differs from `spec`, if any.
    fn difference_from(&self, spec: &CertSpec) -> Option<String> {
        if self.common_name.as_deref() != Some(spec.common_name.as_str()) {
            return Some(format!(
                "its common name is {:?}, not {:?}",
                self.common_name.as_deref().unwrap_or(""),
                spec.common_name
            ));
        }
        let planned_orgs: Vec<String> = spec.organization.iter().cloned().collect();
        if self.organizations != planned_orgs {
            return Some(format!(
                "its organizations are {:?}, not {:?}",
                self.organizations, planned_orgs
            ));
        }
        let planned_dns: BTreeSet<String> = spec.dns_names.iter().cloned().collect();
        let planned_ips: BTreeSet<IpAddr> = spec.ip_addresses.iter().copied().collect();
        if self.dns_names != planned_dns || self.ip_addresses != planned_ips {
            return Some("its subject alternative names differ from the plan".to_string());
        }
        if self.is_ca != (spec.usage == Usage::Ca)
            || self.key_usages != spec.usage.key_usage_names()
            || (self.server_auth, self.client_auth) != spec.usage.auth_flags()
        {
            return Some("its usages differ from the plan".to_string());
        }
        None
    }
}

fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => Some(IpAddr::from(<[u8; 4]>::try_from(bytes).ok()?)),
        16 => Some(IpAddr::from(<[u8; 16]>::try_from(bytes).ok()?)),
        _ => None,
    }
}

/// Whether the stored certificate and key (`None` when either file is missing) must be replaced
/// to satisfy `spec` at `now`, and why. Checks, in order: presence, parsing, key match, the
/// issuer's state and signature, subject/SANs/usages, and expiry within [`RENEW_BEFORE`].
pub fn needs_renewal(
    stored: Option<&CertAndKey>,
    spec: &CertSpec,
    issuer: IssuerState<'_>,
    now: OffsetDateTime,
) -> Option<RenewalReason> {
    let Some(stored) = stored else {
        return Some(RenewalReason::Missing);
    };
    let cert = match ParsedCert::from_pem(&stored.cert_pem) {
        Ok(cert) => cert,
        Err(e) => return Some(RenewalReason::Unreadable(format!("certificate: {e:#}"))),
    };
    let key = match KeyPair::from_pem(&stored.key_pem) {
        Ok(key) => key,
        Err(e) => return Some(RenewalReason::Unreadable(format!("key: {e}"))),
    };
    if key.public_key_raw() != cert.public_key.as_slice() {
        return Some(RenewalReason::KeyMismatch);
    }
    let signed = match issuer {
        IssuerState::Renewed => return Some(RenewalReason::IssuerRenewed),
        IssuerState::SelfSigned => cert.is_signed_by(&cert),
        IssuerState::Kept(ca_pem) => {
            ParsedCert::from_pem(ca_pem).is_ok_and(|ca| cert.is_signed_by(&ca))
        }
    };
    if !signed {
        return Some(RenewalReason::NotSignedByIssuer);
    }
    if let Some(difference) = cert.difference_from(spec) {
        return Some(RenewalReason::DiffersFromPlan(difference));
    }
    if cert.not_after - now < RENEW_BEFORE {
        return Some(RenewalReason::Expiring {
            not_after: cert.not_after,
        });
    }
    if cert.not_before > now {
        return Some(RenewalReason::NotYetValid {
            not_before: cert.not_before,
        });
    }
    None
}

/// Whether the stored service-account key pair (`None` when either file is missing) must be
/// replaced. It never expires; it goes only when unreadable or when the halves do not match.
pub fn service_account_key_needs_renewal(
    stored: Option<&ServiceAccountKey>,
) -> Option<RenewalReason> {
    let Some(stored) = stored else {
        return Some(RenewalReason::Missing);
    };
    let key = match KeyPair::from_pem(&stored.private_pem) {
        Ok(key) => key,
        Err(e) => return Some(RenewalReason::Unreadable(format!("private key: {e}"))),
    };
    let public = match rcgen::SubjectPublicKeyInfo::from_pem(&stored.public_pem) {
        Ok(public) => public,
        Err(e) => return Some(RenewalReason::Unreadable(format!("public key: {e}"))),
    };
    if rcgen::PublicKeyData::der_bytes(&public) != key.public_key_raw() {
        return Some(RenewalReason::KeyMismatch);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> ProfileName {
        ProfileName::parse("dev").unwrap()
    }

    fn config() -> ProfileConfig {
        ProfileConfig::new(40123, "172.30.5.0/24".parse().unwrap())
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    /// Whole seconds of the test clock: what the certificates record.
    fn start() -> OffsetDateTime {
        time::Date::from_calendar_date(2026, time::Month::November, 22)
            .unwrap()
            .with_hms(10, 0, 0)
            .unwrap()
            .assume_utc()
    }

    /// The test clock, with a fraction of a second that X.509 drops.
    fn now() -> OffsetDateTime {
        start() + Duration::milliseconds(123)
    }

    /// Generates the whole plan in memory: every CA, then every leaf with its CA.
    fn generate_all(plan: &PkiPlan) -> Vec<(CertSpec, CertAndKey)> {
        let mut out: Vec<(CertSpec, CertAndKey)> = Vec::new();
        for spec in &plan.cas {
            out.push((spec.clone(), generate(spec, None, now()).unwrap()));
        }
        for spec in &plan.leaves {
            let issuer = spec.issuer.as_deref().unwrap();
            let ca = out
                .iter()
                .find(|(s, _)| s.stem == issuer)
                .unwrap()
                .1
                .clone();
            out.push((spec.clone(), generate(spec, Some(&ca), now()).unwrap()));
        }
        out
    }

    #[test]
    fn plan_has_kubeadms_set_and_one_pair_per_node() {
        let mut config = config();
        config.nodes = crate::plan::config::Nodes::first(2);
        let plan = plan(&profile(), &config);
        let stems: Vec<&str> = plan
            .cas
            .iter()
            .chain(&plan.leaves)
            .map(|s| s.stem.as_str())
            .collect();
        assert_eq!(
            stems,
            [
                "ca",
                "front-proxy-ca",
                "etcd/ca",
                "apiserver",
                "apiserver-kubelet-client",
                "front-proxy-client",
                "etcd/server",
                "etcd/peer",
                "etcd/healthcheck-client",
                "apiserver-etcd-client",
                "admin",
                "super-admin",
                "controller-manager",
                "scheduler",
                "kube-proxy",
                "lb-controller",
                "kubelet-client-dev",
                "kubelet-serving-dev",
                "kubelet-client-dev-m02",
                "kubelet-serving-dev-m02",
            ]
        );
        assert_eq!(plan.leaf_validity_days, 1095);
        assert!(plan.cas.iter().all(|s| s.validity_days == CA_VALIDITY_DAYS));
        assert!(plan.leaves.iter().all(|s| s.validity_days == 1095));
    }

    #[test]
    fn every_leaf_verifies_against_its_ca_only() {
        let plan = plan(&profile(), &config());
        let all = generate_all(&plan);
        let parsed = |stem: &str| {
            ParsedCert::from_pem(&all.iter().find(|(s, _)| s.stem == stem).unwrap().1.cert_pem)
                .unwrap()
        };
        for (spec, pair) in &all {
            let cert = ParsedCert::from_pem(&pair.cert_pem).unwrap();
            let issuer = spec.issuer.as_deref().unwrap_or(&spec.stem);
            assert!(
                cert.is_signed_by(&parsed(issuer)),
                "{} by {issuer}",
                spec.stem
            );
            for other in ["ca", "front-proxy-ca", "etcd/ca"] {
                if other != issuer {
                    assert!(
                        !cert.is_signed_by(&parsed(other)),
                        "{} by {other}",
                        spec.stem
                    );
                }
            }
            let key = KeyPair::from_pem(&pair.key_pem).unwrap();
            assert_eq!(key.public_key_raw(), cert.public_key.as_slice());
            assert!(pair.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        }
        let issuer_of = |stem: &str| plan.spec(stem).unwrap().issuer.clone().unwrap();
        for stem in [
            "etcd/server",
            "etcd/peer",
            "etcd/healthcheck-client",
            "apiserver-etcd-client",
        ] {
            assert_eq!(issuer_of(stem), "etcd/ca");
        }
        assert_eq!(issuer_of("front-proxy-client"), "front-proxy-ca");
        for stem in [
            "apiserver",
            "admin",
            "kube-proxy",
            "kubelet-client-dev",
            "kubelet-serving-dev",
        ] {
            assert_eq!(issuer_of(stem), "ca");
        }
    }

    /// Generates `stem` (and a fresh CA for it) and reads the certificate back.
    fn generated(stem: &str) -> ParsedCert {
        let plan = plan(&profile(), &config());
        let spec = plan.spec(stem).unwrap().clone();
        let ca = spec
            .issuer
            .as_ref()
            .map(|issuer| generate(plan.spec(issuer).unwrap(), None, now()).unwrap());
        ParsedCert::from_pem(&generate(&spec, ca.as_ref(), now()).unwrap().cert_pem).unwrap()
    }

    fn set<T: Ord + Clone>(items: &[T]) -> BTreeSet<T> {
        items.iter().cloned().collect()
    }

    #[test]
    fn cas_have_ca_usages_and_ten_years() {
        for (stem, cn) in [
            ("ca", "kubernetes"),
            ("front-proxy-ca", "front-proxy-ca"),
            ("etcd/ca", "etcd-ca"),
        ] {
            let ca = generated(stem);
            assert_eq!(ca.common_name.as_deref(), Some(cn));
            assert!(ca.is_ca, "{stem}");
            assert_eq!(
                ca.key_usages,
                set(&["cRLSign", "digitalSignature", "keyCertSign"])
            );
            assert!(!ca.server_auth && !ca.client_auth);
            assert!(ca.dns_names.is_empty() && ca.ip_addresses.is_empty());
            let start = start();
            assert_eq!(ca.not_before, start - Duration::minutes(5));
            assert_eq!(ca.not_after, start + Duration::days(3650));
        }
    }

    #[test]
    fn apiserver_cert_names_every_way_to_reach_it() {
        let cert = generated("apiserver");
        assert_eq!(cert.common_name.as_deref(), Some("kube-apiserver"));
        assert!(cert.organizations.is_empty());
        assert_eq!(
            cert.dns_names,
            set(&[
                "dev",
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
                "localhost",
                "dev-apiserver",
            ]
            .map(String::from))
        );
        assert_eq!(
            cert.ip_addresses,
            set(&[ip("10.96.0.1"), ip("172.30.5.3"), ip("127.0.0.1")])
        );
        assert!(!cert.is_ca);
        assert_eq!(
            cert.key_usages,
            set(&["digitalSignature", "keyEncipherment"])
        );
        assert!(cert.server_auth && !cert.client_auth);
        let start = start();
        assert_eq!(cert.not_before, start - Duration::minutes(5));
        assert_eq!(cert.not_after, start + Duration::days(1095));
    }

    #[test]
    fn leaf_validity_follows_the_config() {
        let mut config = config();
        config.cert_validity_days = 42;
        let plan = plan(&profile(), &config);
        let ca = generate(plan.spec("ca").unwrap(), None, now()).unwrap();
        let leaf = generate(plan.spec("admin").unwrap(), Some(&ca), now()).unwrap();
        let leaf = ParsedCert::from_pem(&leaf.cert_pem).unwrap();
        assert_eq!(
            leaf.not_after - leaf.not_before,
            Duration::days(42) + BACKDATE
        );
    }

    #[test]
    fn etcd_certs_serve_and_authenticate() {
        for stem in ["etcd/server", "etcd/peer"] {
            let cert = generated(stem);
            assert_eq!(cert.common_name.as_deref(), Some("dev-etcd"));
            assert_eq!(
                cert.dns_names,
                set(&["dev-etcd".to_string(), "localhost".to_string()])
            );
            assert_eq!(
                cert.ip_addresses,
                set(&[ip("172.30.5.2"), ip("127.0.0.1"), ip("::1")])
            );
            assert!(cert.server_auth && cert.client_auth, "{stem}");
        }
        for (stem, cn) in [
            ("etcd/healthcheck-client", "kube-etcd-healthcheck-client"),
            ("apiserver-etcd-client", "kube-apiserver-etcd-client"),
        ] {
            let cert = generated(stem);
            assert_eq!(cert.common_name.as_deref(), Some(cn));
            assert!(!cert.server_auth && cert.client_auth, "{stem}");
        }
    }

    #[test]
    fn client_certs_carry_the_identities_rbac_expects() {
        for (stem, cn, org) in [
            ("admin", "kubernetes-admin", Some("kubeadm:cluster-admins")),
            (
                "super-admin",
                "kubernetes-super-admin",
                Some("system:masters"),
            ),
            (
                "apiserver-kubelet-client",
                "kube-apiserver-kubelet-client",
                Some("system:masters"),
            ),
            ("front-proxy-client", "front-proxy-client", None),
            ("controller-manager", "system:kube-controller-manager", None),
            ("scheduler", "system:kube-scheduler", None),
            ("kube-proxy", "system:kube-proxy", None),
            ("lb-controller", "localkube:lb-controller", None),
            (
                "kubelet-client-dev",
                "system:node:dev",
                Some("system:nodes"),
            ),
        ] {
            let cert = generated(stem);
            assert_eq!(cert.common_name.as_deref(), Some(cn), "{stem}");
            assert_eq!(
                cert.organizations,
                org.map(String::from).into_iter().collect::<Vec<_>>()
            );
            assert!(cert.client_auth && !cert.server_auth, "{stem}");
            assert!(!cert.is_ca);
            assert_eq!(
                cert.key_usages,
                set(&["digitalSignature", "keyEncipherment"])
            );
            assert!(
                cert.dns_names.is_empty() && cert.ip_addresses.is_empty(),
                "{stem}"
            );
        }
    }

    #[test]
    fn kubelet_serving_cert_names_its_node() {
        let mut config = config();
        config.nodes = crate::plan::config::Nodes::first(2);
        let plan = plan(&profile(), &config);
        let spec = plan.spec("kubelet-serving-dev-m02").unwrap();
        let ca = generate(plan.spec("ca").unwrap(), None, now()).unwrap();
        let cert =
            ParsedCert::from_pem(&generate(spec, Some(&ca), now()).unwrap().cert_pem).unwrap();
        assert_eq!(cert.common_name.as_deref(), Some("dev-m02"));
        assert_eq!(
            cert.dns_names,
            set(&["dev-m02".to_string(), "localhost".to_string()])
        );
        assert_eq!(
            cert.ip_addresses,
            set(&[ip("172.30.5.11"), ip("127.0.0.1")])
        );
        assert!(cert.server_auth && !cert.client_auth);
    }

    #[test]
    fn service_account_key_is_a_pkix_pair() {
        let sa = generate_service_account_key().unwrap();
        assert!(sa.public_pem.starts_with("-----BEGIN PUBLIC KEY-----"));
        assert!(sa.private_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert_eq!(service_account_key_needs_renewal(Some(&sa)), None);
        assert_eq!(
            service_account_key_needs_renewal(None),
            Some(RenewalReason::Missing)
        );
        let other = generate_service_account_key().unwrap();
        let mixed = ServiceAccountKey {
            private_pem: sa.private_pem.clone(),
            public_pem: other.public_pem,
        };
        assert_eq!(
            service_account_key_needs_renewal(Some(&mixed)),
            Some(RenewalReason::KeyMismatch)
        );
        let broken = ServiceAccountKey {
            private_pem: "garbage".into(),
            public_pem: sa.public_pem,
        };
        assert!(matches!(
            service_account_key_needs_renewal(Some(&broken)),
            Some(RenewalReason::Unreadable(_))
        ));
    }

    #[test]
    fn renewal_keeps_a_good_cert_and_names_each_fault() {
        let plan = plan(&profile(), &config());
        let ca_spec = plan.spec("ca").unwrap();
        let spec = plan.spec("apiserver").unwrap();
        let ca = generate(ca_spec, None, now()).unwrap();
        let leaf = generate(spec, Some(&ca), now()).unwrap();
        let kept = IssuerState::Kept(&ca.cert_pem);

        assert_eq!(
            needs_renewal(Some(&ca), ca_spec, IssuerState::SelfSigned, now()),
            None
        );
        assert_eq!(needs_renewal(Some(&leaf), spec, kept, now()), None);
        assert_eq!(
            needs_renewal(None, spec, kept, now()),
            Some(RenewalReason::Missing)
        );
        assert_eq!(
            needs_renewal(Some(&leaf), spec, IssuerState::Renewed, now()),
            Some(RenewalReason::IssuerRenewed)
        );

        let garbled = CertAndKey {
            cert_pem: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".into(),
            key_pem: leaf.key_pem.clone(),
        };
        assert!(matches!(
            needs_renewal(Some(&garbled), spec, kept, now()),
            Some(RenewalReason::Unreadable(_))
        ));

        let other = generate(spec, Some(&ca), now()).unwrap();
        let swapped = CertAndKey {
            cert_pem: leaf.cert_pem.clone(),
            key_pem: other.key_pem,
        };
        assert_eq!(
            needs_renewal(Some(&swapped), spec, kept, now()),
            Some(RenewalReason::KeyMismatch)
        );

        let stranger_ca = generate(ca_spec, None, now()).unwrap();
        assert_eq!(
            needs_renewal(
                Some(&leaf),
                spec,
                IssuerState::Kept(&stranger_ca.cert_pem),
                now()
            ),
            Some(RenewalReason::NotSignedByIssuer)
        );

        // The profile's names changed: the stored SANs no longer match.
        let mut renamed = spec.clone();
        renamed.dns_names.push("new.example".into());
        assert!(matches!(
            needs_renewal(Some(&leaf), &renamed, kept, now()),
            Some(RenewalReason::DiffersFromPlan(_))
        ));
        let mut reused = spec.clone();
        reused.usage = Usage::ServerAndClient;
        assert!(matches!(
            needs_renewal(Some(&leaf), &reused, kept, now()),
            Some(RenewalReason::DiffersFromPlan(_))
        ));
    }

    #[test]
    fn renewal_starts_thirty_days_before_expiry() {
        let plan = plan(&profile(), &config());
        let ca = generate(plan.spec("ca").unwrap(), None, now()).unwrap();
        let spec = plan.spec("admin").unwrap();
        let leaf = generate(spec, Some(&ca), now()).unwrap();
        let kept = IssuerState::Kept(&ca.cert_pem);
        let not_after = start() + Duration::days(1095);

        let day_31_before = not_after - Duration::days(31);
        assert_eq!(needs_renewal(Some(&leaf), spec, kept, day_31_before), None);
        let day_29_before = not_after - Duration::days(29);
        assert_eq!(
            needs_renewal(Some(&leaf), spec, kept, day_29_before),
            Some(RenewalReason::Expiring { not_after })
        );
        let long_after = not_after + Duration::days(400);
        assert!(matches!(
            needs_renewal(Some(&leaf), spec, kept, long_after),
            Some(RenewalReason::Expiring { .. })
        ));
        let before_start = now() - Duration::hours(1);
        assert!(matches!(
            needs_renewal(Some(&leaf), spec, kept, before_start),
            Some(RenewalReason::NotYetValid { .. })
        ));
    }
}
