//! An in-place upgrade of a profile to another Kubernetes release: whether the version skew policy
//! allows it, and its phases in the order kubeadm upgrades a cluster (etcd, each apiserver, the
//! controller-managers and schedulers, then each node in turn). Pure: `lifecycle::upgrade` runs
//! the phases.
//!
//! The skew policy (kubernetes.io/releases/version-skew-policy): the apiservers move one minor at
//! a time, the other components may lag them by one minor (kubelets more), so a cluster goes
//! 1.36 → 1.37 with every phase valid at each step, and 1.35 → 1.37 in two upgrades. Kubernetes
//! does not support going back a minor (objects may be stored in a form the older apiserver cannot
//! read): the way back is the snapshot the upgrade takes first. Patch releases of one minor share
//! their storage and APIs, so they go either way.

use serde::Serialize;

use crate::plan::config::ProfileConfig;
use crate::plan::names::{self, Role};
use crate::plan::profile_name::ProfileName;
use crate::plan::version::RELEASES;

/// `LOCALKUBE_TEST_UPGRADE_FAIL_AT=<phase>` fails an upgrade right after that phase (its name as
/// [`Phase::name`] gives it), for the tests of the restore. A hook of its own: `start`'s
/// `LOCALKUBE_TEST_FAIL_AT` names steps of `start`, which checks it against its table.
pub const TEST_FAIL_AT_ENV: &str = "LOCALKUBE_TEST_UPGRADE_FAIL_AT";

/// What a change of release is, when the skew policy allows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Change {
    /// Another patch release of the same minor, either way.
    Patch,
    /// The next minor.
    Minor,
}

/// A release as `vMAJOR.MINOR.PATCH` reads (major is 1 for every supported release).
fn parts(version: &str) -> Option<(u32, u32, u32)> {
    let mut it = version.trim_start_matches('v').split('.');
    let major = it.next()?.parse().ok()?;
    let minor = it.next()?.parse().ok()?;
    let patch = it.next()?.parse().ok()?;
    it.next().is_none().then_some((major, minor, patch))
}

/// Whether a profile of release `from` may become `to` in place: `Ok(None)` for the same release
/// (no upgrade), `Ok(Some(change))` when the skew policy allows it, else the refusal with its fix.
pub fn check(
    profile: &ProfileName,
    from: &str,
    to: &str,
    snapshot_of_to_kept: bool,
) -> Result<Option<Change>, String> {
    if from == to {
        return Ok(None);
    }
    let (Some((from_major, from_minor, _)), Some((to_major, to_minor, _))) =
        (parts(from), parts(to))
    else {
        return Err(format!(
            "'{from}' → '{to}': both must be releases of the form vMAJOR.MINOR.PATCH"
        ));
    };
    let p = profile_flag(profile);
    if from_major != to_major || to_minor < from_minor {
        // A snapshot restores one minor back at most (`plan::snapshot::is_way_back`).
        // Named only when the profile keeps one: a profile never upgraded has none.
        let way_back = if to_minor + 1 == from_minor && snapshot_of_to_kept {
            format!(
                "restore the snapshot its upgrade took (`localkube snapshot restore \
                 pre-upgrade-{to}{p}`; `localkube snapshot list{p}` lists them), or "
            )
        } else {
            String::new()
        };
        return Err(format!(
            "profile '{profile}' runs Kubernetes {from}: going back to {to} is a downgrade, which \
             Kubernetes does not support (objects may be stored in a form the older apiserver \
             cannot read), so nothing was changed; to go back, {way_back}delete the profile and \
             start it again at {to}"
        ));
    }
    match to_minor - from_minor {
        0 => Ok(Some(Change::Patch)),
        1 => Ok(Some(Change::Minor)),
        _ => {
            let next = from_minor + 1;
            let step = RELEASES
                .iter()
                .find(|r| r.minor == next)
                .map_or_else(|| format!("v1.{next}"), |r| r.pinned.to_string());
            Err(format!(
                "profile '{profile}' runs Kubernetes {from}: {to} is {} minors ahead, and a \
                 cluster moves one minor at a time (the skew policy lets the other components lag \
                 the apiserver by one minor only), so nothing was changed; upgrade in two steps: \
                 `localkube start{p} --kubernetes-version {step}`, then `localkube start{p} \
                 --kubernetes-version {to}`",
                to_minor - from_minor
            ))
        }
    }
}

/// ` -p NAME` for commands of a profile other than the default one.
fn profile_flag(profile: &ProfileName) -> String {
    if profile.as_str() == "localkube" {
        String::new()
    } else {
        format!(" -p {profile}")
    }
}

/// The snapshot an upgrade takes before it changes anything, and restores when it fails.
pub fn snapshot_name(from: &str) -> String {
    format!("pre-upgrade-{from}")
}

/// What one phase replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum PhaseKind {
    Etcd,
    Apiserver,
    ControllerManager,
    Scheduler,
    /// Its container replaced (its volume kept), Ready on the new release; with other nodes to
    /// take its pods, cordoned and drained first and uncordoned after.
    Node {
        drain: bool,
    },
    /// The enabled addons applied with the release's images, each serving.
    Addons,
}

/// One phase of an upgrade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Phase {
    pub kind: PhaseKind,
    /// What the test hook and the progress name it by: `etcd`, `apiserver-2`, `node-dev-m02`.
    pub name: String,
    /// The container it replaces (none for the addons).
    pub container: Option<String>,
    /// For the user: what happens, and what it costs.
    pub what: String,
}

/// The whole upgrade, as `start --dry-run` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpgradePlan {
    pub profile: String,
    pub from: String,
    pub to: String,
    pub change: Change,
    /// Taken before anything changes; restored if a phase fails.
    pub snapshot: String,
    pub phases: Vec<Phase>,
}

/// The versions of etcd the two releases pair (from their images), when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdVersions {
    pub from: String,
    pub to: String,
}

/// The phases of upgrading `config`'s cluster to `to`, in kubeadm's order: every etcd member,
/// then each apiserver (the API stays on the newest, so the older controllers and kubelets talk
/// to an apiserver at most one minor ahead, as the skew policy allows), then the
/// controller-managers and schedulers, then each node in turn, then the addons.
pub fn plan(
    profile: &ProfileName,
    config: &ProfileConfig,
    to: &str,
    change: Change,
    etcd: Option<&EtcdVersions>,
) -> UpgradePlan {
    let single = !config.is_ha();
    let member_phase = |role: Role, member: u32, what: String| {
        let base = role.as_str().to_string();
        Phase {
            kind: match role {
                Role::Etcd => PhaseKind::Etcd,
                Role::Apiserver => PhaseKind::Apiserver,
                Role::ControllerManager => PhaseKind::ControllerManager,
                _ => PhaseKind::Scheduler,
            },
            name: if member == 1 {
                base
            } else {
                format!("{base}-{member}")
            },
            container: Some(names::member_container(profile, role, member)),
            what,
        }
    };
    let etcd_what = match etcd {
        Some(v) if v.from != v.to => format!("etcd {} → {}", v.from, v.to),
        Some(v) => format!(
            "etcd {} (unchanged: its container moves to the release's image)",
            v.from
        ),
        None => "etcd as the release pairs it".to_string(),
    };
    let pause = |what: &str| {
        if single {
            format!("; the API does not answer while {what} restarts (seconds)")
        } else {
            "; the other members serve meanwhile".to_string()
        }
    };
    let mut phases = Vec::new();
    for member in config.members() {
        phases.push(member_phase(
            Role::Etcd,
            member,
            format!("{etcd_what}, data kept{}", pause("etcd")),
        ));
    }
    for member in config.members() {
        phases.push(member_phase(
            Role::Apiserver,
            member,
            format!("kube-apiserver {to}{}", pause("it")),
        ));
    }
    for role in [Role::ControllerManager, Role::Scheduler] {
        for member in config.members() {
            phases.push(member_phase(
                role,
                member,
                format!("{} {to}", role.as_str()),
            ));
        }
    }
    let node_count = config.nodes.count();
    for &number in config.nodes.numbers() {
        let node = names::node_name(profile, number);
        // With no other node to take them, evicted pods would only wait (Pending) for this one,
        // and a budget that needs one of them running would hold the drain forever: the pods
        // stay bound and start again in the new container, from its kept volume.
        let drain = node_count > 1;
        let (before, after) = if drain {
            (
                "cordoned, drained (its pods move to the other nodes as their \
                 PodDisruptionBudgets allow), ",
                ", uncordoned",
            )
        } else {
            (
                "",
                "; the only node: its pods stop with it and start again in the new container",
            )
        };
        phases.push(Phase {
            kind: PhaseKind::Node { drain },
            name: format!("node-{node}"),
            container: Some(names::node_container(&node)),
            what: format!(
                "node {node}: {before}its container replaced with kubelet and kube-proxy {to} \
                 and its volume kept, Ready{after}"
            ),
        });
    }
    phases.push(Phase {
        kind: PhaseKind::Addons,
        name: "addons".into(),
        container: None,
        what: format!("the enabled addons with the images of {to}, each serving"),
    });
    UpgradePlan {
        profile: profile.to_string(),
        from: config.kubernetes_version.clone(),
        to: to.to_string(),
        change,
        snapshot: snapshot_name(&config.kubernetes_version),
        phases,
    }
}

/// The phase `LOCALKUBE_TEST_UPGRADE_FAIL_AT` names, or why it names none.
pub fn test_fail_at(plan: &UpgradePlan, wanted: Option<&str>) -> Result<Option<String>, String> {
    let Some(wanted) = wanted else {
        return Ok(None);
    };
    if plan.phases.iter().any(|p| p.name == wanted) {
        return Ok(Some(wanted.to_string()));
    }
    Err(format!(
        "{TEST_FAIL_AT_ENV}='{wanted}' names no phase of this upgrade: use one of {} or unset it",
        plan.phases
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// The plan as `start --dry-run` prints it.
pub fn render_text(plan: &UpgradePlan) -> String {
    let mut out = format!(
        "Upgrade of profile '{}' from Kubernetes {} to {} ({} release):\n",
        plan.profile,
        plan.from,
        plan.to,
        match plan.change {
            Change::Patch => "a patch",
            Change::Minor => "the next minor",
        }
    );
    out.push_str(&format!(
        "  0. snapshot '{}' taken first, restored if a phase fails\n",
        plan.snapshot
    ));
    for (i, phase) in plan.phases.iter().enumerate() {
        out.push_str(&format!("  {}. [{}] {}\n", i + 1, phase.name, phase.what));
    }
    out
}

/// Several versions at once, for `node list` and `status` while an upgrade is under way or was
/// left half-done: the distinct versions seen, oldest first.
pub fn versions_differ<'a>(versions: impl IntoIterator<Item = &'a str>) -> Option<Vec<String>> {
    let mut seen: Vec<String> = Vec::new();
    for v in versions {
        if !seen.iter().any(|s| s == v) {
            seen.push(v.to_string());
        }
    }
    seen.sort_by_key(|v| parts(v));
    (seen.len() > 1).then_some(seen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::config::Nodes;

    fn profile(name: &str) -> ProfileName {
        ProfileName::parse(name).unwrap()
    }

    fn config(version: &str, nodes: u32, members: u32) -> ProfileConfig {
        let mut config = ProfileConfig::new(40000, "172.30.7.0/24".parse().unwrap());
        config.kubernetes_version = version.into();
        config.nodes = Nodes::first(nodes);
        config.control_planes = members;
        config
    }

    #[test]
    fn the_same_release_is_no_upgrade() {
        assert_eq!(check(&profile("dev"), "v1.37.2", "v1.37.2", true), Ok(None));
    }

    #[test]
    fn patches_go_either_way_within_a_minor() {
        let p = profile("dev");
        assert_eq!(
            check(&p, "v1.36.1", "v1.36.3", true),
            Ok(Some(Change::Patch))
        );
        assert_eq!(
            check(&p, "v1.36.3", "v1.36.1", true),
            Ok(Some(Change::Patch))
        );
    }

    #[test]
    fn the_next_minor_is_an_upgrade() {
        assert_eq!(
            check(&profile("dev"), "v1.36.3", "v1.37.2", true),
            Ok(Some(Change::Minor))
        );
        // Any patch of the next minor, from any patch.
        assert_eq!(
            check(&profile("dev"), "v1.36.0", "v1.37.0", true),
            Ok(Some(Change::Minor))
        );
    }

    #[test]
    fn a_downgrade_is_refused_with_the_snapshot_to_restore() {
        let err = check(&profile("dev"), "v1.37.2", "v1.36.3", true).unwrap_err();
        assert!(err.contains("downgrade"), "{err}");
        assert!(err.contains("nothing was changed"), "{err}");
        assert!(
            err.contains("localkube snapshot restore pre-upgrade-v1.36.3 -p dev"),
            "{err}"
        );
        // The default profile's commands carry no -p.
        let err = check(&profile("localkube"), "v1.37.2", "v1.36.3", true).unwrap_err();
        assert!(
            err.contains("`localkube snapshot restore pre-upgrade-v1.36.3`"),
            "{err}"
        );
        // A profile that keeps no such snapshot is not sent looking for one.
        let err = check(&profile("dev"), "v1.37.2", "v1.36.3", false).unwrap_err();
        assert!(
            err.contains("downgrade") && !err.contains("snapshot restore"),
            "{err}"
        );
        // Two minors back: no snapshot restores that far.
        let err = check(&profile("dev"), "v1.37.2", "v1.35.4", true).unwrap_err();
        assert!(
            err.contains("downgrade") && !err.contains("snapshot restore"),
            "{err}"
        );
    }

    #[test]
    fn two_minors_at_once_are_refused_naming_both_commands() {
        let err = check(&profile("dev"), "v1.35.4", "v1.37.2", true).unwrap_err();
        assert!(err.contains("one minor at a time"), "{err}");
        assert!(
            err.contains(
                "`localkube start -p dev --kubernetes-version v1.36.3`, then `localkube start -p \
                 dev --kubernetes-version v1.37.2`"
            ),
            "{err}"
        );
    }

    #[test]
    fn phases_follow_kubeadms_order_and_each_node_in_turn() {
        let p = profile("dev");
        let plan = plan(
            &p,
            &config("v1.36.3", 2, 1),
            "v1.37.2",
            Change::Minor,
            Some(&EtcdVersions {
                from: "v3.6.4".into(),
                to: "v3.6.5".into(),
            }),
        );
        let names: Vec<&str> = plan.phases.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "etcd",
                "apiserver",
                "controller-manager",
                "scheduler",
                "node-dev",
                "node-dev-m02",
                "addons"
            ]
        );
        assert_eq!(plan.snapshot, "pre-upgrade-v1.36.3");
        assert_eq!(plan.phases[0].container.as_deref(), Some("dev-etcd"));
        assert!(plan.phases[0].what.contains("etcd v3.6.4 → v3.6.5"));
        // One member: the plan says the API pauses.
        assert!(plan.phases[1].what.contains("does not answer"));
        assert_eq!(plan.phases[5].container.as_deref(), Some("dev-m02"));
        assert!(plan.phases[5].what.contains("PodDisruptionBudgets"));
        assert_eq!(plan.phases[5].kind, PhaseKind::Node { drain: true });
    }

    #[test]
    fn several_members_go_one_at_a_time_role_by_role() {
        let plan = plan(
            &profile("ha"),
            &config("v1.36.3", 1, 3),
            "v1.37.2",
            Change::Minor,
            None,
        );
        let names: Vec<&str> = plan.phases.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            &names[..6],
            [
                "etcd",
                "etcd-2",
                "etcd-3",
                "apiserver",
                "apiserver-2",
                "apiserver-3"
            ]
        );
        assert_eq!(&names[12..], ["node-ha", "addons"]);
        assert!(plan.phases[4].what.contains("other members serve"));
        assert_eq!(plan.phases[4].container.as_deref(), Some("ha-apiserver-2"));
        // The only node is not drained: nothing could take its pods.
        assert!(plan.phases[12].what.contains("the only node"));
        assert_eq!(plan.phases[12].kind, PhaseKind::Node { drain: false });
    }

    #[test]
    fn an_unchanged_etcd_is_said() {
        let plan = plan(
            &profile("dev"),
            &config("v1.36.1", 1, 1),
            "v1.36.3",
            Change::Patch,
            Some(&EtcdVersions {
                from: "v3.6.5".into(),
                to: "v3.6.5".into(),
            }),
        );
        assert!(
            plan.phases[0].what.contains("unchanged"),
            "{:?}",
            plan.phases[0]
        );
        let text = render_text(&plan);
        assert!(text.contains("a patch release"), "{text}");
        assert!(text.contains("0. snapshot 'pre-upgrade-v1.36.1'"), "{text}");
        assert!(text.contains("[node-dev]"), "{text}");
    }

    #[test]
    fn the_test_hook_names_a_phase() {
        let plan = plan(
            &profile("dev"),
            &config("v1.36.3", 2, 1),
            "v1.37.2",
            Change::Minor,
            None,
        );
        assert_eq!(test_fail_at(&plan, None), Ok(None));
        assert_eq!(
            test_fail_at(&plan, Some("node-dev")),
            Ok(Some("node-dev".into()))
        );
        let err = test_fail_at(&plan, Some("kubelet")).unwrap_err();
        assert!(err.contains("etcd, apiserver"), "{err}");
    }

    #[test]
    fn differing_versions_are_listed_oldest_first() {
        assert_eq!(versions_differ(["v1.37.2", "v1.37.2"]), None);
        assert_eq!(
            versions_differ(["v1.37.2", "v1.36.3", "v1.37.2"]),
            Some(vec!["v1.36.3".into(), "v1.37.2".into()])
        );
        // Numbers, not text: 1.9 is older than 1.10.
        assert_eq!(
            versions_differ(["v1.10.0", "v1.9.1"]),
            Some(vec!["v1.9.1".into(), "v1.10.0".into()])
        );
    }
}
