//! `localkube profile list`: the profiles on this machine, with their state (from Docker), version,
//! nodes and addresses, as `minikube profile list`.

use std::collections::BTreeMap;

use anyhow::Result;
use serde::Serialize;

use super::Ctx;
use crate::effects::containers::ContainerState;
use crate::effects::docker;
use crate::plan::config::ProfileConfig;
use crate::plan::kubeconfig;
use crate::plan::names::{self, Role};
use crate::plan::profile_name::ProfileName;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: ProfileCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum ProfileCommand {
    /// List the profiles on this machine.
    List,
}

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

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    name: String,
    status: State,
    kubernetes_version: String,
    nodes: u32,
    apiserver: String,
    addresses: Vec<NodeAddress>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image_repository: Option<String>,
}

#[derive(Debug, Serialize)]
struct NodeAddress {
    node: String,
    ip: String,
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
    if crate::plan::pause::is_paused(
        expected
            .iter()
            .filter_map(|n| found.get(n).map(|s| s.as_str())),
    ) {
        return State::Paused;
    }
    match (running, present) {
        (0, 0) => State::NotCreated,
        (r, _) if r == expected.len() => State::Running,
        (0, _) => State::Stopped,
        _ => State::Degraded,
    }
}

pub fn run(ctx: &Ctx, args: Args) -> Result<u8> {
    match args.command {
        ProfileCommand::List => list(ctx),
    }
}

fn list(ctx: &Ctx) -> Result<u8> {
    let mut profiles = Vec::new();
    for name in ctx.home.list_profiles()? {
        let config = ctx.home.profile(&name).load_config()?;
        profiles.push((name, config));
    }
    // One Docker connection for all; no Docker is a state, not a failure of the listing.
    let found: Vec<Option<BTreeMap<String, ContainerState>>> = super::block_on(async {
        let Ok(docker) = docker::connect().await else {
            return profiles.iter().map(|_| None).collect();
        };
        let mut all = Vec::new();
        for (name, _) in &profiles {
            all.push(
                docker::profile_containers(&docker, name)
                    .await
                    .ok()
                    .map(|cs| cs.into_iter().map(|c| (c.name, c.state)).collect()),
            );
        }
        all
    })?;
    let rows: Vec<Row> = profiles
        .iter()
        .zip(found)
        .map(|((name, config), found)| Row {
            name: name.to_string(),
            status: match found {
                Some(found) => state(&expected_containers(name, config), &found),
                None => State::Unknown,
            },
            kubernetes_version: config.kubernetes_version.clone(),
            nodes: config.nodes.count(),
            apiserver: kubeconfig::host_server(config),
            addresses: config
                .nodes
                .numbers()
                .iter()
                .map(|n| NodeAddress {
                    node: names::node_name(name, *n),
                    ip: config.node_ip(*n).to_string(),
                })
                .collect(),
            image_repository: config.image_repository.clone(),
        })
        .collect();
    if ctx.json() {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(0);
    }
    if rows.is_empty() {
        ctx.ui
            .info("No profiles yet: `localkube start` creates the default one.");
        return Ok(0);
    }
    println!(
        "{:<24} {:<11} {:<10} {:<6} {:<24} NODE ADDRESSES",
        "PROFILE", "STATUS", "VERSION", "NODES", "APISERVER"
    );
    for r in rows {
        let addresses: Vec<String> = r.addresses.iter().map(|a| a.ip.clone()).collect();
        println!(
            "{:<24} {:<11} {:<10} {:<6} {:<24} {}",
            r.name,
            format!("{:?}", r.status),
            r.kubernetes_version,
            r.nodes,
            r.apiserver,
            addresses.join(", ")
        );
    }
    Ok(0)
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
