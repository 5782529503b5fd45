//! The PKI plan, generation and renewal, checked exactly.

use rcgen::KeyPair;
use time::OffsetDateTime;

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
        ParsedCert::from_pem(&all.iter().find(|(s, _)| s.stem == stem).unwrap().1.cert_pem).unwrap()
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
    let cert = ParsedCert::from_pem(&generate(spec, Some(&ca), now()).unwrap().cert_pem).unwrap();
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

#[test]
fn three_members_name_every_apiserver_and_their_load_balancer_and_each_etcd_its_own() {
    let mut config = config();
    config.control_planes = 3;
    let plan = plan(&profile(), &config);
    let api = plan.spec("apiserver").unwrap();
    for name in [
        "dev-apiserver",
        "dev-apiserver-2",
        "dev-apiserver-3",
        "dev-apiserver-lb",
    ] {
        assert!(api.dns_names.iter().any(|n| n == name), "{name}");
    }
    for address in ["172.30.5.3", "172.30.5.21", "172.30.5.25", "172.30.5.8"] {
        assert!(api.ip_addresses.contains(&ip(address)), "{address}");
    }
    for (member, name, address) in [
        (1, "dev-etcd", "172.30.5.2"),
        (2, "dev-etcd-2", "172.30.5.20"),
        (3, "dev-etcd-3", "172.30.5.24"),
    ] {
        for stem in [etcd_server(member), etcd_peer(member)] {
            let spec = plan.spec(&stem).unwrap();
            assert_eq!(spec.common_name, name, "{stem}");
            assert_eq!(spec.issuer.as_deref(), Some(ETCD_CA), "{stem}");
            assert_eq!(spec.usage, Usage::ServerAndClient, "{stem}");
            assert_eq!(
                spec.ip_addresses,
                [ip(address), ip("127.0.0.1"), ip("::1")],
                "{stem}"
            );
            assert_eq!(spec.dns_names, [name, "localhost"], "{stem}");
        }
    }
    // One member's set is exactly what it was: no member certificates, no load balancer.
    let single = super::plan(&profile(), &super::tests::config());
    assert!(single.spec("etcd/server-2").is_none());
    assert!(
        !single
            .spec("apiserver")
            .unwrap()
            .dns_names
            .iter()
            .any(|n| n.ends_with("-lb"))
    );
    assert_eq!(plan.leaves.len(), single.leaves.len() + 4);
}
