//! What the components of a Kubernetes release accept, recorded as data: each component's flags
//! and feature gates from its own `--help`, and the fields of KubeletConfiguration and
//! KubeProxyConfiguration from their Go types. `scripts/component-flags.sh VERSION` writes a
//! release's file under `known_options/`; a cluster file's extra arguments, gates and config
//! fields are checked against it before anything is made.

use std::collections::BTreeSet;

/// The recorded releases: (release, the script's output). Patch releases add no flags or gates
/// (Kubernetes ships features in minors only), so a release's record serves its whole minor.
const RECORDS: &[(&str, &str)] = &[
    ("v1.35.4", include_str!("known_options/v1.35.4.txt")),
    ("v1.36.3", include_str!("known_options/v1.36.3.txt")),
    ("v1.37.2", include_str!("known_options/v1.37.2.txt")),
];

/// A component whose options a cluster file sets, by the name its binary and flags use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Component {
    Apiserver,
    ControllerManager,
    Scheduler,
    Kubelet,
    KubeProxy,
}

impl Component {
    pub const ALL: [Component; 5] = [
        Component::Apiserver,
        Component::ControllerManager,
        Component::Scheduler,
        Component::Kubelet,
        Component::KubeProxy,
    ];

    /// The binary's name, as the record names it.
    pub fn binary(self) -> &'static str {
        match self {
            Component::Apiserver => "kube-apiserver",
            Component::ControllerManager => "kube-controller-manager",
            Component::Scheduler => "kube-scheduler",
            Component::Kubelet => "kubelet",
            Component::KubeProxy => "kube-proxy",
        }
    }

    /// The name `--extra-config NAME.flag=value` uses (minikube's).
    pub fn extra_config_name(self) -> &'static str {
        match self {
            Component::Apiserver => "apiserver",
            Component::ControllerManager => "controller-manager",
            Component::Scheduler => "scheduler",
            Component::Kubelet => "kubelet",
            Component::KubeProxy => "kube-proxy",
        }
    }

    pub fn from_extra_config_name(name: &str) -> Option<Component> {
        Component::ALL
            .into_iter()
            .find(|c| c.extra_config_name() == name)
    }
}

/// One release's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownOptions {
    pub release: &'static str,
    entries: BTreeSet<(&'static str, &'static str, &'static str)>,
}

impl KnownOptions {
    /// The record of `version`'s minor, if one is kept.
    pub fn for_version(version: &str) -> Option<KnownOptions> {
        let minor = |v: &str| v.split('.').take(2).collect::<Vec<_>>().join(".");
        RECORDS
            .iter()
            .find(|(release, _)| minor(release) == minor(version))
            .map(|(release, text)| KnownOptions {
                release,
                entries: parse(text),
            })
    }

    /// The releases with a record, for the error that names them.
    pub fn recorded() -> Vec<&'static str> {
        RECORDS.iter().map(|(r, _)| *r).collect()
    }

    fn names(&self, component: Component, kind: &str) -> Vec<&'static str> {
        self.entries
            .iter()
            .filter(|(c, k, _)| *c == component.binary() && *k == kind)
            .map(|(_, _, n)| *n)
            .collect()
    }

    fn has(&self, component: Component, kind: &str, name: &str) -> bool {
        self.entries
            .iter()
            .any(|(c, k, n)| *c == component.binary() && *k == kind && *n == name)
    }

    pub fn has_flag(&self, component: Component, flag: &str) -> bool {
        self.has(component, "flag", flag)
    }

    pub fn has_gate(&self, component: Component, gate: &str) -> bool {
        self.has(component, "gate", gate)
    }

    /// A KubeletConfiguration or KubeProxyConfiguration field.
    pub fn has_field(&self, component: Component, field: &str) -> bool {
        self.has(component, "field", field)
    }

    pub fn flags(&self, component: Component) -> Vec<&'static str> {
        self.names(component, "flag")
    }

    pub fn gates(&self, component: Component) -> Vec<&'static str> {
        self.names(component, "gate")
    }

    pub fn fields(&self, component: Component) -> Vec<&'static str> {
        self.names(component, "field")
    }

    /// Every gate any component knows.
    pub fn all_gates(&self) -> BTreeSet<&'static str> {
        Component::ALL
            .into_iter()
            .flat_map(|c| self.gates(c))
            .collect()
    }
}

fn parse(text: &'static str) -> BTreeSet<(&'static str, &'static str, &'static str)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            Some((parts.next()?, parts.next()?, parts.next()?))
        })
        .collect()
}

/// Up to `n` of `candidates` closest to `wanted` (a typo's likely meaning), closest first.
pub fn closest<'a>(wanted: &str, candidates: &[&'a str], n: usize) -> Vec<&'a str> {
    let mut scored: Vec<(usize, &str)> = candidates
        .iter()
        .map(|c| (edit_distance(&wanted.to_lowercase(), &c.to_lowercase()), *c))
        .collect();
    scored.sort();
    let limit = (wanted.len() / 2).max(3);
    scored
        .into_iter()
        .filter(|(d, _)| *d <= limit)
        .take(n)
        .map(|(_, c)| c)
        .collect()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let here = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            prev = here;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_release_is_recorded_from_its_binaries() {
        let known =
            KnownOptions::for_version(crate::plan::version::DEFAULT_KUBERNETES_VERSION).unwrap();
        assert!(known.has_flag(Component::Apiserver, "max-requests-inflight"));
        assert!(known.has_flag(Component::Apiserver, "audit-log-path"));
        assert!(!known.has_flag(Component::Scheduler, "max-requests-inflight"));
        assert!(known.has_field(Component::Kubelet, "maxPods"));
        assert!(known.has_field(Component::KubeProxy, "mode"));
        assert!(known.has_gate(Component::Kubelet, "APIServerIdentity"));
        assert!(known.all_gates().len() > 100);
    }

    #[test]
    fn a_minor_without_a_record_has_none() {
        assert!(KnownOptions::for_version("v1.38.0").is_none());
        assert!(KnownOptions::for_version("v1.37.9").is_some());
    }

    #[test]
    fn each_minor_is_checked_against_its_own_record() {
        // A gate new in 1.37 is unknown to 1.36, and one 1.37 removed is still known there.
        let old = KnownOptions::for_version("v1.36.3").unwrap();
        let new = KnownOptions::for_version("v1.37.2").unwrap();
        assert!(!old.has_gate(Component::Apiserver, "APIServerWebhookAuthenticationToken"));
        assert!(new.has_gate(Component::Apiserver, "APIServerWebhookAuthenticationToken"));
        assert!(old.has_gate(Component::Apiserver, "ClusterTrustBundle"));
        assert!(!new.has_gate(Component::Apiserver, "ClusterTrustBundle"));
        assert!(old.has_flag(Component::Apiserver, "max-requests-inflight"));
        assert!(old.has_field(Component::Kubelet, "maxPods"));
    }

    #[test]
    fn closest_names_a_typos_meaning() {
        assert_eq!(
            closest(
                "max-request-inflight",
                &["max-requests-inflight", "v", "secure-port"],
                3
            ),
            ["max-requests-inflight"]
        );
        assert!(closest("zzzzzzzzzzzz", &["secure-port"], 3).is_empty());
    }
}
