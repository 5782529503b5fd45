//! Asks the cluster what its control-plane members are doing (see `plan::members`): etcd through
//! etcdctl in a member's container, the rest through the API.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use bollard::Docker;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Client;
use kube::api::{Api, ListParams};

use crate::effects::containers;
use crate::plan::cluster::{COMPONENT_CONFIG_DIR, ETCD_CLIENT_PORT};
use crate::plan::config::ProfileConfig;
use crate::plan::container_state::ContainerState;
use crate::plan::members::{self, LEASES, MemberHealth, Observed};
use crate::plan::names::{self, Role};
use crate::plan::profile_name::ProfileName;

/// Each member's components with their health; every word "unknown" that could not be asked.
pub async fn health(
    docker: &Docker,
    client: Option<&Client>,
    profile: &ProfileName,
    config: &ProfileConfig,
) -> Vec<MemberHealth> {
    let mut seen = Observed {
        etcd: etcd(docker, profile, config).await,
        ..Observed::default()
    };
    if let Some(client) = client {
        seen.serving_apiservers = serving_apiservers(client).await;
        let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-system");
        for (_, name) in LEASES {
            let holder = leases
                .get_opt(name)
                .await
                .ok()
                .flatten()
                .and_then(|l| l.spec?.holder_identity)
                .map(|id| members::lease_holder(&id).to_string());
            seen.lease_holders.push(holder);
        }
    }
    members::health(profile, config, &seen)
}

/// `etcdctl endpoint status` of every member, asked from the first member that runs, with its
/// own certificate (a client certificate of etcd's CA too).
async fn etcd(
    docker: &Docker,
    profile: &ProfileName,
    config: &ProfileConfig,
) -> Option<Vec<(Ipv4Addr, bool)>> {
    let endpoints: Vec<String> = config
        .members()
        .map(|m| {
            format!(
                "https://{}:{ETCD_CLIENT_PORT}",
                config.member_ip(Role::Etcd, m)
            )
        })
        .collect();
    let pki = format!("{COMPONENT_CONFIG_DIR}/pki/etcd");
    let args = [
        "etcdctl".to_string(),
        // Stretched on a slow host, where a healthy member takes longer to answer.
        format!(
            "--command-timeout={}ms",
            crate::effects::pace::scaled(std::time::Duration::from_secs(2)).as_millis()
        ),
        format!("--endpoints={}", endpoints.join(",")),
        format!("--cacert={pki}/ca.crt"),
        format!("--cert={pki}/server.crt"),
        format!("--key={pki}/server.key"),
        "endpoint".into(),
        "status".into(),
        "-w".into(),
        "json".into(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    for member in config.members() {
        let name = names::member_container(profile, Role::Etcd, member);
        let running = containers::container_state(docker, &name)
            .await
            .ok()
            .flatten()
            .is_some_and(ContainerState::is_running);
        if !running {
            continue;
        }
        // Exits 1 when a member does not answer, still printing those that do.
        if let Ok(out) = containers::exec(docker, &name, &args, None).await {
            return Some(members::etcd_statuses(&out.output));
        }
    }
    None
}

/// The addresses the `kubernetes` Service's endpoints hold: each apiserver adds its own while it
/// serves (and renews its lease), and one that stops is taken out.
async fn serving_apiservers(client: &Client) -> Option<BTreeSet<Ipv4Addr>> {
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "default");
    let list = slices
        .list(&ListParams::default().labels("kubernetes.io/service-name=kubernetes"))
        .await
        .ok()?;
    Some(
        list.items
            .iter()
            .flat_map(|s| &s.endpoints)
            .filter(|e| e.conditions.as_ref().and_then(|c| c.ready) != Some(false))
            .flat_map(|e| &e.addresses)
            .filter_map(|a| a.parse().ok())
            .collect(),
    )
}
