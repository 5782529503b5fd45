//! Making a certificate and its key from a [`CertSpec`](super::CertSpec), and the
//! service-account key pair.

use std::fmt;

use anyhow::{Context, Result, bail};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};
use time::{Duration, OffsetDateTime};

use super::*;

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
