//! When a stored certificate must be replaced: what it says read back ([`ParsedCert`]) and
//! compared with what the plan wants, with the reason ([`RenewalReason`]).

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;

use anyhow::Result;
use rcgen::KeyPair;
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use super::*;

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
