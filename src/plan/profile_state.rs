//! A profile's state, from the containers it should have and the states Docker gives them: what
//! `profile list`, `status` and the dashboard say. Pure.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::plan::config::ProfileConfig;
use crate::plan::container_state::ContainerState;
use crate::plan::names::{self, Role};
use crate::plan::profile_name::ProfileName;

/// A profile's state from its containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum State {
    /// Every component and node runs.
    Running,
    /// Its containers exist, none runs (`localkube stop`).
    Stopped,
    /// Frozen by `localkube pause`; `localkube unpause` resumes it.
    Paused,
    /// Some run, some do not (a node stopped by hand, say): `localkube start` repairs it.
    Degraded,
    /// No container (a `--dry-run` profile, or its containers were removed).
    NotCreated,
    /// Docker did not answer.
    Unknown,
}

/// The containers a running profile has: each control-plane member's, the apiservers' load
/// balancer with several members, and one per node.
pub fn expected_containers(profile: &ProfileName, config: &ProfileConfig) -> Vec<String> {
    config
        .members()
        .flat_map(|m| {
            Role::CONTROL_PLANE
                .iter()
                .map(move |r| names::member_container(profile, *r, m))
        })
        .chain(
            config
                .is_ha()
                .then(|| names::apiserver_lb_container(profile)),
        )
        .chain(
            names::node_names(profile, &config.nodes)
                .iter()
                .map(|n| names::node_container(n)),
        )
        .collect()
}

/// The state, from the expected containers and the states Docker gives (name → state).
pub fn state(expected: &[String], found: &BTreeMap<String, ContainerState>) -> State {
    let running = expected
        .iter()
        .filter(|n| found.get(*n).is_some_and(|s| s.is_running()))
        .count();
    let present = expected.iter().filter(|n| found.contains_key(*n)).count();
    if crate::plan::pause::is_paused(expected.iter().filter_map(|n| found.get(n).copied())) {
        return State::Paused;
    }
    match (running, present) {
        (0, 0) => State::NotCreated,
        (r, _) if r == expected.len() => State::Running,
        (0, _) => State::Stopped,
        _ => State::Degraded,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(pairs: &[(&str, &str)]) -> BTreeMap<String, ContainerState> {
        pairs
            .iter()
            .map(|(n, s)| (n.to_string(), ContainerState::parse(s)))
            .collect()
    }

    #[test]
    fn the_state_follows_the_containers() {
        let profile = ProfileName::parse("dev").unwrap();
        let config = ProfileConfig::new(40000, "172.30.7.0/24".parse().unwrap());
        let expected = expected_containers(&profile, &config);
        assert_eq!(
            expected,
            [
                "dev-etcd",
                "dev-apiserver",
                "dev-controller-manager",
                "dev-scheduler",
                "dev"
            ]
        );
        let all = |state: &str| {
            found(
                &expected
                    .iter()
                    .map(|n| (n.as_str(), state))
                    .collect::<Vec<_>>(),
            )
        };
        assert_eq!(state(&expected, &all("running")), State::Running);
        assert_eq!(state(&expected, &all("exited")), State::Stopped);
        assert_eq!(state(&expected, &found(&[])), State::NotCreated);
        let mut some = all("running");
        some.insert("dev".into(), ContainerState::Exited);
        assert_eq!(state(&expected, &some), State::Degraded);
        // A missing node of a running control plane is not a running cluster.
        some.remove("dev");
        assert_eq!(state(&expected, &some), State::Degraded);
        // `pause` froze it: Paused, whatever else the containers say.
        assert_eq!(state(&expected, &all("paused")), State::Paused);
        let mut partly = all("running");
        partly.insert("dev-etcd".into(), ContainerState::Paused);
        assert_eq!(state(&expected, &partly), State::Paused);
    }

    #[test]
    fn three_members_and_their_load_balancer_are_expected() {
        let profile = ProfileName::parse("dev").unwrap();
        let mut config = ProfileConfig::new(40000, "172.30.7.0/24".parse().unwrap());
        config.control_planes = 3;
        let expected = expected_containers(&profile, &config);
        for name in [
            "dev-etcd",
            "dev-etcd-3",
            "dev-scheduler-2",
            "dev-apiserver-lb",
            "dev",
        ] {
            assert!(expected.contains(&name.to_string()), "{name}: {expected:?}");
        }
        assert_eq!(expected.len(), 3 * 4 + 1 + 1);
        // The load balancer down: the cluster is not Running, whatever the members say.
        let mut found: BTreeMap<String, ContainerState> = expected
            .iter()
            .map(|n| (n.clone(), ContainerState::Running))
            .collect();
        found.insert("dev-apiserver-lb".into(), ContainerState::Exited);
        assert_eq!(state(&expected, &found), State::Degraded);
    }
}
