//! The profile's PKI on disk: generated once, then reused; whatever is missing, invalid or about
//! to expire is regenerated on each [`ensure_pki`], and a regenerated CA takes every leaf it signed
//! with it. The decisions are [`crate::plan::pki::needs_renewal`]'s; this module only reads and
//! writes the files.
//!
//! Layout (see [`crate::plan::pki`] for what each certificate is): `<stem>.crt` and `<stem>.key`
//! below the pki folder, e.g. `ca.crt`, `apiserver.key`, `etcd/server.crt`,
//! `kubelet-client-<node>.crt`, plus `sa.key` / `sa.pub`. Private keys are 0600 and their folders
//! 0700; certificates and `sa.pub` are 0644. Every write is atomic, and a key is written before its
//! certificate, so an interrupted run leaves a pair that the next run sees as mismatched and
//! regenerates.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Context, Result};
use time::OffsetDateTime;

use crate::effects::files::{
    PUBLIC_FILE_MODE, SECRET_DIR_MODE, SECRET_FILE_MODE, create_dir_with_mode, write_atomic,
};
use crate::plan::pki::{
    self, CertAndKey, CertSpec, IssuerState, PkiPlan, RenewalReason, ServiceAccountKey,
};

/// What one [`ensure_pki`] did, by file stem (`apiserver`, `etcd/server`, `sa`, ...).
#[derive(Debug, Default, Clone)]
pub struct PkiOutcome {
    /// Stems written by this run, in generation order.
    pub generated: Vec<String>,
    /// Stems found valid and left alone.
    pub kept: Vec<String>,
    /// Why each generated stem was (re)generated.
    pub reasons: BTreeMap<String, RenewalReason>,
}

/// Ensures the PKI under `dir` matches `plan` now.
pub fn ensure_pki(dir: &Path, plan: &PkiPlan) -> Result<PkiOutcome> {
    ensure_pki_at(dir, plan, OffsetDateTime::now_utc())
}

/// Ensures the PKI under `dir` matches `plan` at `now` (tests pass a clock of their own).
pub fn ensure_pki_at(dir: &Path, plan: &PkiPlan, now: OffsetDateTime) -> Result<PkiOutcome> {
    create_dir_with_mode(dir, SECRET_DIR_MODE)?;
    let mut outcome = PkiOutcome::default();
    // Every CA's current pair, for signing and verifying its leaves.
    let mut cas: BTreeMap<&str, CertAndKey> = BTreeMap::new();
    let mut renewed_cas: BTreeSet<&str> = BTreeSet::new();

    for spec in &plan.cas {
        let stored = read_pair(dir, &spec.stem)?;
        let pair = match pki::needs_renewal(stored.as_ref(), spec, IssuerState::SelfSigned, now) {
            None => keep(dir, spec, stored, &mut outcome)?,
            Some(reason) => {
                renewed_cas.insert(&spec.stem);
                regenerate(dir, spec, None, now, reason, &mut outcome)?
            }
        };
        cas.insert(&spec.stem, pair);
    }

    for spec in &plan.leaves {
        let issuer_stem = spec
            .issuer
            .as_deref()
            .with_context(|| format!("{} is planned as a leaf but names no CA", spec.stem))?;
        let ca = cas.get(issuer_stem).with_context(|| {
            format!(
                "{} names the CA {issuer_stem}, which is not planned",
                spec.stem
            )
        })?;
        let issuer = if renewed_cas.contains(issuer_stem) {
            IssuerState::Renewed
        } else {
            IssuerState::Kept(&ca.cert_pem)
        };
        let stored = read_pair(dir, &spec.stem)?;
        match pki::needs_renewal(stored.as_ref(), spec, issuer, now) {
            None => {
                keep(dir, spec, stored, &mut outcome)?;
            }
            Some(reason) => {
                regenerate(dir, spec, Some(ca), now, reason, &mut outcome)?;
            }
        }
    }

    ensure_service_account_key(dir, &mut outcome)?;
    Ok(outcome)
}

/// For a profile that holds cluster data: refuses, before anything is written, a run that would
/// make a new CA (one missing, damaged, expiring or not yet valid), keep a CA that does not sign
/// its leaves, or replace the service-account key. Any of those cuts the cluster off from the
/// clients it knows (kubeconfigs, pods' tokens) — the fix is the user's choice: restore the files,
/// or ask for new CAs (`start --renew-ca`).
pub fn check_keeps_cas(dir: &Path, plan: &PkiPlan, now: OffsetDateTime) -> Result<()> {
    let fix = "restore the profile's original files from a backup, or run `localkube start \
               --renew-ca` to make new CAs and reissue every certificate and kubeconfig (the \
               cluster's objects are kept; kubeconfigs copied elsewhere stop working)";
    let mut cas: BTreeMap<&str, CertAndKey> = BTreeMap::new();
    for spec in &plan.cas {
        let stored = read_pair(dir, &spec.stem)?;
        if let Some(reason) =
            pki::needs_renewal(stored.as_ref(), spec, IssuerState::SelfSigned, now)
        {
            anyhow::bail!(
                "the CA {} ({}) is {reason}, and this profile holds cluster data: a new CA would \
                 cut the cluster off from its own kubeconfigs; {fix}",
                spec.stem,
                dir.join(pki::cert_file(&spec.stem)).display()
            );
        }
        if let Some(pair) = stored {
            cas.insert(&spec.stem, pair);
        }
    }
    for spec in &plan.leaves {
        let (Some(issuer), Some(stored)) = (
            spec.issuer.as_deref().and_then(|i| cas.get(i)),
            read_pair(dir, &spec.stem)?,
        ) else {
            continue;
        };
        let reason = pki::needs_renewal(
            Some(&stored),
            spec,
            IssuerState::Kept(&issuer.cert_pem),
            now,
        );
        if reason == Some(RenewalReason::NotSignedByIssuer) {
            anyhow::bail!(
                "{} ({}) is not signed by the profile's CA {}: the CA or the certificate was \
                 replaced (copied from another profile?); {fix}",
                spec.stem,
                dir.join(pki::cert_file(&spec.stem)).display(),
                spec.issuer.as_deref().unwrap_or_default()
            );
        }
    }
    let stem = pki::SERVICE_ACCOUNT;
    let stored = match (
        read_optional(&dir.join(format!("{stem}.key")))?,
        read_optional(&dir.join(format!("{stem}.pub")))?,
    ) {
        (Some(private_pem), Some(public_pem)) => Some(ServiceAccountKey {
            private_pem,
            public_pem,
        }),
        _ => None,
    };
    if let Some(reason) = pki::service_account_key_needs_renewal(stored.as_ref()) {
        anyhow::bail!(
            "the service-account key ({}) is {reason}, and this profile holds cluster data: a new \
             key would invalidate every pod's token; restore sa.key and sa.pub from a backup",
            dir.join(format!("{stem}.key")).display()
        );
    }
    Ok(())
}

/// Removes the CAs' files (`start --renew-ca`), so the next [`ensure_pki`] makes new ones and
/// reissues every leaf. The service-account key stays: pods' tokens remain valid.
pub fn drop_cas(dir: &Path, plan: &PkiPlan) -> Result<()> {
    for spec in &plan.cas {
        for file in [pki::cert_file(&spec.stem), pki::key_file(&spec.stem)] {
            match fs::remove_file(dir.join(&file)) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("removing {file}")),
            }
        }
    }
    Ok(())
}

fn keep(
    dir: &Path,
    spec: &CertSpec,
    stored: Option<CertAndKey>,
    outcome: &mut PkiOutcome,
) -> Result<CertAndKey> {
    // A kept key (or its folder) may have been loosened by hand or by a copy: put the secret
    // modes back.
    let key_path = dir.join(pki::key_file(&spec.stem));
    ensure_parent(&key_path)?;
    tighten(&key_path)?;
    outcome.kept.push(spec.stem.clone());
    stored.with_context(|| format!("{} was judged valid but is not stored", spec.stem))
}

fn regenerate(
    dir: &Path,
    spec: &CertSpec,
    issuer: Option<&CertAndKey>,
    now: OffsetDateTime,
    reason: RenewalReason,
    outcome: &mut PkiOutcome,
) -> Result<CertAndKey> {
    let pair = pki::generate(spec, issuer, now)
        .with_context(|| format!("generating {} ({reason})", spec.stem))?;
    let key_path = dir.join(pki::key_file(&spec.stem));
    ensure_parent(&key_path)?;
    write_atomic(&key_path, pair.key_pem.as_bytes(), SECRET_FILE_MODE)?;
    write_atomic(
        &dir.join(pki::cert_file(&spec.stem)),
        pair.cert_pem.as_bytes(),
        PUBLIC_FILE_MODE,
    )?;
    outcome.generated.push(spec.stem.clone());
    outcome.reasons.insert(spec.stem.clone(), reason);
    Ok(pair)
}

fn ensure_service_account_key(dir: &Path, outcome: &mut PkiOutcome) -> Result<()> {
    let stem = pki::SERVICE_ACCOUNT;
    let private_path = dir.join(format!("{stem}.key"));
    let public_path = dir.join(format!("{stem}.pub"));
    let stored = match (read_optional(&private_path)?, read_optional(&public_path)?) {
        (Some(private_pem), Some(public_pem)) => Some(ServiceAccountKey {
            private_pem,
            public_pem,
        }),
        _ => None,
    };
    match pki::service_account_key_needs_renewal(stored.as_ref()) {
        None => {
            tighten(&private_path)?;
            outcome.kept.push(stem.to_string());
        }
        Some(reason) => {
            let key = pki::generate_service_account_key()?;
            write_atomic(&private_path, key.private_pem.as_bytes(), SECRET_FILE_MODE)?;
            write_atomic(&public_path, key.public_pem.as_bytes(), PUBLIC_FILE_MODE)?;
            outcome.generated.push(stem.to_string());
            outcome.reasons.insert(stem.to_string(), reason);
        }
    }
    Ok(())
}

/// The stored certificate and key of `stem`, or `None` when either file is missing.
fn read_pair(dir: &Path, stem: &str) -> Result<Option<CertAndKey>> {
    let cert = read_optional(&dir.join(pki::cert_file(stem)))?;
    let key = read_optional(&dir.join(pki::key_file(stem)))?;
    Ok(cert
        .zip(key)
        .map(|(cert_pem, key_pem)| CertAndKey { cert_pem, key_pem }))
}

/// A file's text, `None` when it does not exist. Bytes that are not UTF-8 are kept lossily: such
/// a file fails to parse and is regenerated, rather than stopping the run.
fn read_optional(path: &Path) -> Result<Option<String>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Creates the folder of a file below the pki folder (e.g. `etcd/`) as a secret folder.
fn ensure_parent(path: &Path) -> Result<()> {
    let parent = path
        .parent()
        .with_context(|| format!("{} has no parent folder", path.display()))?;
    create_dir_with_mode(parent, SECRET_DIR_MODE)
}

fn tighten(key_path: &Path) -> Result<()> {
    fs::set_permissions(key_path, fs::Permissions::from_mode(SECRET_FILE_MODE))
        .with_context(|| format!("setting permissions of {}", key_path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::config::ProfileConfig;
    use crate::plan::profile_name::ProfileName;
    use time::Duration;

    fn test_plan(nodes: u32) -> PkiPlan {
        let mut config = ProfileConfig::new(40123, "172.30.5.0/24".parse().unwrap());
        config.nodes = crate::plan::config::Nodes::first(nodes);
        pki::plan(&ProfileName::parse("dev").unwrap(), &config)
    }

    fn all_stems(plan: &PkiPlan) -> Vec<String> {
        plan.cas
            .iter()
            .chain(&plan.leaves)
            .map(|s| s.stem.clone())
            .chain(["sa".to_string()])
            .collect()
    }

    fn sorted(mut stems: Vec<String>) -> Vec<String> {
        stems.sort();
        stems
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn first_run_generates_everything_and_second_keeps_it() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("pki");
        let plan = test_plan(2);
        let first = ensure_pki(&dir, &plan).unwrap();
        assert_eq!(first.generated, all_stems(&plan));
        assert!(first.kept.is_empty());
        assert!(first.reasons.values().all(|r| *r == RenewalReason::Missing));
        let before = fs::read(dir.join("apiserver.crt")).unwrap();

        let second = ensure_pki(&dir, &plan).unwrap();
        assert!(second.generated.is_empty(), "{:?}", second.reasons);
        assert_eq!(sorted(second.kept), sorted(all_stems(&plan)));
        assert_eq!(fs::read(dir.join("apiserver.crt")).unwrap(), before);
    }

    #[test]
    fn files_follow_kubeadms_layout_with_secret_modes() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("pki");
        ensure_pki(&dir, &test_plan(2)).unwrap();
        for stem in [
            "ca",
            "apiserver",
            "apiserver-kubelet-client",
            "front-proxy-ca",
            "front-proxy-client",
            "etcd/ca",
            "etcd/server",
            "etcd/peer",
            "etcd/healthcheck-client",
            "apiserver-etcd-client",
            "admin",
            "controller-manager",
            "scheduler",
            "kube-proxy",
            "lb-controller",
            "kubelet-client-dev",
            "kubelet-serving-dev",
            "kubelet-client-dev-m02",
            "kubelet-serving-dev-m02",
        ] {
            assert_eq!(mode(&dir.join(format!("{stem}.key"))), 0o600, "{stem}.key");
            assert_eq!(mode(&dir.join(format!("{stem}.crt"))), 0o644, "{stem}.crt");
        }
        assert_eq!(mode(&dir.join("sa.key")), 0o600);
        assert_eq!(mode(&dir.join("sa.pub")), 0o644);
        let sa_pub = fs::read_to_string(dir.join("sa.pub")).unwrap();
        assert!(sa_pub.starts_with("-----BEGIN PUBLIC KEY-----"), "{sa_pub}");
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("etcd")), 0o700);
        // Nothing but the pairs: no temporary files left behind.
        let count = fs::read_dir(&dir).unwrap().count();
        assert_eq!(
            count,
            2 * 16 + 2 + 1,
            "top-level pairs, sa.key/sa.pub, etcd/"
        );
    }

    #[test]
    fn renewal_picks_exactly_the_missing_and_expiring_files() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("pki");
        let plan = test_plan(1);
        let now = OffsetDateTime::now_utc();
        ensure_pki_at(&dir, &plan, now).unwrap();

        // One leaf deleted, another replaced by a valid one that expires in 10 days.
        fs::remove_file(dir.join("scheduler.crt")).unwrap();
        let ca = read_pair(&dir, "ca").unwrap().unwrap();
        let mut short = plan.spec("kube-proxy").unwrap().clone();
        short.validity_days = 40;
        let expiring = pki::generate(&short, Some(&ca), now - Duration::days(30)).unwrap();
        fs::write(dir.join("kube-proxy.crt"), &expiring.cert_pem).unwrap();
        fs::write(dir.join("kube-proxy.key"), &expiring.key_pem).unwrap();
        // A loosened key is tightened again without being replaced.
        fs::set_permissions(dir.join("admin.key"), fs::Permissions::from_mode(0o644)).unwrap();

        let outcome = ensure_pki_at(&dir, &plan, now).unwrap();
        assert_eq!(outcome.generated, ["scheduler", "kube-proxy"]);
        assert_eq!(outcome.reasons["scheduler"], RenewalReason::Missing);
        assert!(matches!(
            outcome.reasons["kube-proxy"],
            RenewalReason::Expiring { .. }
        ));
        assert_eq!(outcome.kept.len(), all_stems(&plan).len() - 2);
        assert_eq!(mode(&dir.join("admin.key")), 0o600);
        assert_eq!(mode(&dir.join("kube-proxy.key")), 0o600);
        assert!(
            ensure_pki_at(&dir, &plan, now)
                .unwrap()
                .generated
                .is_empty()
        );
    }

    #[test]
    fn a_regenerated_ca_takes_its_leaves_and_only_those() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("pki");
        let plan = test_plan(1);
        ensure_pki(&dir, &plan).unwrap();
        fs::remove_file(dir.join("etcd/ca.key")).unwrap();

        let outcome = ensure_pki(&dir, &plan).unwrap();
        assert_eq!(
            outcome.generated,
            [
                "etcd/ca",
                "etcd/server",
                "etcd/peer",
                "etcd/healthcheck-client",
                "apiserver-etcd-client"
            ]
        );
        assert_eq!(outcome.reasons["etcd/server"], RenewalReason::IssuerRenewed);
        let ca = pki::ParsedCert::from_pem(&fs::read_to_string(dir.join("etcd/ca.crt")).unwrap())
            .unwrap();
        let server =
            pki::ParsedCert::from_pem(&fs::read_to_string(dir.join("etcd/server.crt")).unwrap())
                .unwrap();
        assert!(server.is_signed_by(&ca));
    }

    #[test]
    fn near_the_end_of_leaf_validity_every_leaf_renews_but_no_ca() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("pki");
        let plan = test_plan(1);
        let now = OffsetDateTime::now_utc();
        ensure_pki_at(&dir, &plan, now).unwrap();
        let later = now + Duration::days(i64::from(plan.leaf_validity_days) - 10);
        let outcome = ensure_pki_at(&dir, &plan, later).unwrap();
        let leaves: Vec<String> = plan.leaves.iter().map(|s| s.stem.clone()).collect();
        assert_eq!(outcome.generated, leaves);
        assert_eq!(outcome.kept, ["ca", "front-proxy-ca", "etcd/ca", "sa"]);
    }

    #[test]
    fn garbage_and_swapped_keys_are_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("pki");
        let plan = test_plan(1);
        ensure_pki(&dir, &plan).unwrap();
        fs::write(dir.join("apiserver.crt"), b"\xff not a certificate").unwrap();
        fs::copy(dir.join("scheduler.key"), dir.join("admin.key")).unwrap();
        fs::write(dir.join("sa.pub"), b"junk").unwrap();
        let outcome = ensure_pki(&dir, &plan).unwrap();
        assert_eq!(outcome.generated, ["apiserver", "admin", "sa"]);
        assert!(matches!(
            outcome.reasons["apiserver"],
            RenewalReason::Unreadable(_)
        ));
        assert_eq!(outcome.reasons["admin"], RenewalReason::KeyMismatch);
    }

    #[test]
    fn a_profile_with_data_keeps_its_cas_unless_asked() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("pki");
        let plan = test_plan(1);
        let now = OffsetDateTime::now_utc();
        ensure_pki_at(&dir, &plan, now).unwrap();
        check_keeps_cas(&dir, &plan, now).unwrap();

        // A truncated CA key: refused, naming the file and both fixes; nothing written.
        let key = dir.join("ca.key");
        let original = fs::read(&key).unwrap();
        fs::write(&key, &original[..original.len() / 2]).unwrap();
        let err = format!("{:#}", check_keeps_cas(&dir, &plan, now).unwrap_err());
        assert!(
            err.contains("the CA ca") && err.contains("unreadable") && err.contains("--renew-ca"),
            "{err}"
        );
        fs::write(&key, &original).unwrap();

        // A CA that does not sign its leaves (another profile's CA copied in).
        let other = tmp.path().join("other");
        ensure_pki_at(&other, &plan, now).unwrap();
        for file in ["ca.crt", "ca.key"] {
            fs::copy(other.join(file), dir.join(file)).unwrap();
        }
        let err = format!("{:#}", check_keeps_cas(&dir, &plan, now).unwrap_err());
        assert!(
            err.contains("is not signed by the profile's CA ca"),
            "{err}"
        );

        // A truncated service-account key.
        ensure_pki_at(&dir, &plan, now).unwrap();
        check_keeps_cas(&dir, &plan, now).unwrap();
        fs::write(dir.join("sa.key"), "-----BEGIN PRIVATE KEY-----\nAAA").unwrap();
        let err = format!("{:#}", check_keeps_cas(&dir, &plan, now).unwrap_err());
        assert!(err.contains("service-account key"), "{err}");

        // --renew-ca: new CAs, every leaf reissued, the service-account key kept.
        fs::write(dir.join("sa.key"), fs::read(other.join("sa.key")).unwrap()).unwrap();
        fs::write(dir.join("sa.pub"), fs::read(other.join("sa.pub")).unwrap()).unwrap();
        let ca_before = fs::read(dir.join("ca.crt")).unwrap();
        drop_cas(&dir, &plan).unwrap();
        let outcome = ensure_pki_at(&dir, &plan, now).unwrap();
        assert_ne!(fs::read(dir.join("ca.crt")).unwrap(), ca_before);
        assert!(outcome.generated.contains(&"apiserver".to_string()));
        assert!(!outcome.generated.contains(&"sa".to_string()));
        check_keeps_cas(&dir, &plan, now).unwrap();
    }
}
