//! `pause` and `unpause` of a profile: every container frozen or thawed in `plan::pause`'s waves,
//! and what other verbs do with a paused profile (`stop` and `start` thaw it first; verbs that
//! need the cluster to answer refuse, naming `unpause`).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use bollard::Docker;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::Api;

use crate::effects::docker::{self, ProfileContainer};
use crate::effects::home::Home;
use crate::effects::{kube_api, pause};
use crate::lifecycle::interrupt;
use crate::plan::container_state::ContainerState;
use crate::plan::names::{self, Role};
use crate::plan::pause::{LAST_WAVE, NODES_WAVE, WAVES, is_paused, pause_wave, unpause_wave};
use crate::plan::profile_name::ProfileName;
use crate::ui::Ui;

/// How long `unpause` waits for the kubelets to renew their leases before it thaws the
/// controller-manager anyway: a kubelet whose renewal timer was overdue renews within a second.
const LEASE_WAIT: Duration = Duration::from_secs(15);

/// Each node's lease renewal time, as last read.
type Renewals = Vec<(String, Option<MicroTime>)>;

/// How long `pause` waits for the load balancer's proxies to give their localhost ports back.
const RELEASE_WAIT: Duration = Duration::from_secs(3);

/// What a pause or unpause did.
#[derive(Debug, Default)]
pub struct Outcome {
    pub containers: Vec<String>,
    pub took: Duration,
    /// For unpause: whether every node's lease was renewed before the controllers were thawed.
    pub leases_renewed: Option<bool>,
}

/// The profile's containers, with those of `skip_roles` left out.
async fn containers(
    docker: &Docker,
    profile: &ProfileName,
    skip_roles: &[Role],
) -> Result<Vec<ProfileContainer>> {
    Ok(docker::profile_containers(docker, profile)
        .await?
        .into_iter()
        .filter(|c| c.role.is_none_or(|r| !skip_roles.contains(&r)))
        .collect())
}

/// Freezes every running container of the profile but those of `skip_roles`, wave by wave (each
/// wave listed afresh, so a proxy the controller made meanwhile is found).
pub async fn pause_profile(
    docker: &Docker,
    profile: &ProfileName,
    skip_roles: &[Role],
    ui: &Ui,
) -> Result<Outcome> {
    let started = Instant::now();
    let mut frozen = Vec::new();
    for wave in 0..WAVES {
        if wave > 0 {
            interrupt::phase(ui, &format!("pause-wave-{wave}")).await;
        }
        let this_wave: Vec<ProfileContainer> = containers(docker, profile, skip_roles)
            .await?
            .into_iter()
            .filter(|c| {
                c.state == ContainerState::Running
                    && c.role.map_or(WAVES - 1 - LAST_WAVE, pause_wave) == wave
            })
            .collect();
        let proxies: Vec<ProfileContainer> = this_wave
            .iter()
            .filter(|c| c.role == Some(Role::LbProxy))
            .cloned()
            .collect();
        pause::release_localhost(docker, &proxies, crate::effects::pace::scaled(RELEASE_WAIT))
            .await;
        match pause::pause(docker, &this_wave).await {
            Ok(names) => frozen.extend(names),
            Err(e) => {
                // Nothing half-made: what this call froze is thawed again.
                let _ = unpause_profile(docker, profile, None).await;
                return Err(e);
            }
        }
    }
    Ok(Outcome {
        containers: frozen,
        took: started.elapsed(),
        leases_renewed: None,
    })
}

/// Thaws every paused container of the profile, etcd first (see `plan::pause`). With the admin
/// kubeconfig, waits after the nodes' wave until each node's kubelet has renewed its lease.
pub async fn unpause_profile(
    docker: &Docker,
    profile: &ProfileName,
    admin_kubeconfig: Option<&Path>,
) -> Result<Outcome> {
    unpause_containers(docker, profile, admin_kubeconfig, None).await
}

/// [`unpause_profile`] of the containers named in `only` (those a snapshot froze), or of all.
pub async fn unpause_containers(
    docker: &Docker,
    profile: &ProfileName,
    admin_kubeconfig: Option<&Path>,
    only: Option<&[String]>,
) -> Result<Outcome> {
    let started = Instant::now();
    let mut thawed = Vec::new();
    let mut leases_before: Option<(kube::Client, Renewals)> = None;
    let mut leases_renewed = None;
    for wave in 0..WAVES {
        let this_wave: Vec<ProfileContainer> = containers(docker, profile, &[])
            .await?
            .into_iter()
            .filter(|c| {
                c.state == ContainerState::Paused && c.role.map_or(LAST_WAVE, unpause_wave) == wave
            })
            .filter(|c| only.is_none_or(|only| only.contains(&c.name)))
            .collect();
        // The leases as the frozen kubelets left them, read once the apiserver answers.
        if wave == NODES_WAVE
            && let Some(kubeconfig) = admin_kubeconfig
        {
            let nodes: Vec<String> = this_wave
                .iter()
                .filter(|c| c.role == Some(Role::Node))
                .map(|c| {
                    c.labels
                        .get(names::LABEL_NODE)
                        .cloned()
                        .unwrap_or(c.name.clone())
                })
                .collect();
            if !nodes.is_empty() {
                leases_before = read_leases(kubeconfig, &nodes).await.ok();
            }
        }
        thawed.extend(pause::unpause(docker, &this_wave).await?);
        // A lease renewed within the last STALE_AFTER is not stale to the controller-manager
        // either: no wait (a short pause would otherwise wait out the kubelet's 10 s interval).
        if wave == NODES_WAVE
            && let Some((client, before)) = leases_before.take()
            && before.iter().any(|(_, renewed)| is_stale(renewed.as_ref()))
        {
            leases_renewed = Some(wait_leases_renewed(&client, &before).await);
        }
    }
    let proxies: Vec<String> = containers(docker, profile, &[])
        .await?
        .into_iter()
        .filter(|c| c.role == Some(Role::LbProxy) && thawed.contains(&c.name))
        .map(|c| c.name)
        .collect();
    pause::retake_localhost(docker, &proxies).await;
    Ok(Outcome {
        containers: thawed,
        took: started.elapsed(),
        leases_renewed,
    })
}

async fn read_leases(kubeconfig: &Path, nodes: &[String]) -> Result<(kube::Client, Renewals)> {
    let client = kube_api::admin_client(kubeconfig).await?;
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let mut found = Vec::new();
    for node in nodes {
        let renewed = leases
            .get_opt(node)
            .await?
            .and_then(|l| l.spec)
            .and_then(|s| s.renew_time);
        found.push((node.clone(), renewed));
    }
    Ok((client, found))
}

/// Leases older than this could look stale to the node lifecycle controller once it thaws
/// (its grace period is 40 s; a kubelet renews every 10 s).
const STALE_AFTER: Duration = Duration::from_secs(20);

fn is_stale(renewed: Option<&MicroTime>) -> bool {
    renewed.is_none_or(|t| {
        let age = k8s_openapi::jiff::Timestamp::now().duration_since(t.0);
        age.as_secs() >= STALE_AFTER.as_secs() as i64
    })
}

/// Whether every lease moved on from `before` within [`LEASE_WAIT`].
async fn wait_leases_renewed(client: &kube::Client, before: &Renewals) -> bool {
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    kube_api::wait_for("the kubelets' lease renewals", LEASE_WAIT, || {
        let leases = leases.clone();
        async move {
            for (node, old) in before {
                let now = leases
                    .get_opt(node)
                    .await?
                    .and_then(|l| l.spec)
                    .and_then(|s| s.renew_time);
                if now == *old {
                    return Ok(None);
                }
            }
            Ok(Some(()))
        }
    })
    .await
    .is_ok()
}

/// The profile's containers that are frozen now, by name.
pub async fn paused_containers(docker: &Docker, profile: &ProfileName) -> Result<Vec<String>> {
    Ok(docker::profile_containers(docker, profile)
        .await?
        .into_iter()
        .filter(|c| c.state == ContainerState::Paused)
        .map(|c| c.name)
        .collect())
}

/// After an interrupted command that froze containers: thaws every container of the profile
/// that is frozen now but was not in `paused_before`, as `unpause` does.
pub async fn thaw_what_was_frozen(
    docker: &Docker,
    profile: &ProfileName,
    admin_kubeconfig: Option<&Path>,
    paused_before: &[String],
) -> Result<Outcome> {
    let now: Vec<String> = paused_containers(docker, profile)
        .await?
        .into_iter()
        .filter(|name| !paused_before.contains(name))
        .collect();
    if now.is_empty() {
        return Ok(Outcome::default());
    }
    unpause_containers(docker, profile, admin_kubeconfig, Some(&now)).await
}

/// `pause`, interruptible: on Ctrl-C or SIGTERM what it froze is thawed again, so the cluster
/// is left running as it was, never half frozen.
pub async fn pause_command(home: &Home, profile: &ProfileName, ui: &Ui) -> Result<Outcome> {
    let interrupted = interrupt::interruption();
    let docker = docker::connect().await?;
    let paused_before = paused_containers(&docker, profile).await?;
    let work = pause_profile(&docker, profile, &[], ui);
    match interrupt::or_interrupted(work, interrupted, "pausing").await {
        Ok(result) => result,
        Err(interrupted) => {
            let admin = home.profile(profile).kubeconfigs_dir().join("admin.conf");
            let thawed = thaw_what_was_frozen(&docker, profile, Some(&admin), &paused_before).await;
            Err(match thawed {
                Ok(o) => interrupted.context(format!(
                    "the {} containers it had frozen were thawed: profile '{profile}' runs as before",
                    o.containers.len()
                )),
                Err(e) => interrupted.context(format!(
                    "thawing what it had frozen failed too ({e:#}): `localkube unpause -p {profile}` resumes it"
                )),
            })
        }
    }
}

/// `unpause`: every frozen container of the profile thawed in order, waiting for the kubelets'
/// leases before the controllers (see `plan::pause`).
pub async fn unpause_command(home: &Home, profile: &ProfileName) -> Result<Outcome> {
    let admin = home.profile(profile).kubeconfigs_dir().join("admin.conf");
    let docker = docker::connect().await?;
    unpause_profile(&docker, profile, Some(&admin)).await
}

/// Whether any container of the profile is frozen.
pub async fn profile_is_paused(docker: &Docker, profile: &ProfileName) -> Result<bool> {
    let found = docker::profile_containers(docker, profile).await?;
    Ok(is_paused(found.iter().map(|c| c.state)))
}

/// Thaws a paused profile before a verb that stops or starts it, saying so; false when it was
/// not paused.
pub async fn unpause_first(home: &Home, profile: &ProfileName, ui: &Ui, why: &str) -> Result<bool> {
    let docker = docker::connect().await?;
    if !profile_is_paused(&docker, profile).await? {
        return Ok(false);
    }
    let step = ui.step(format!(
        "Profile '{profile}' is paused: unpausing it first ({why})"
    ));
    let admin = home.profile(profile).kubeconfigs_dir().join("admin.conf");
    let outcome = unpause_profile(&docker, profile, Some(&admin)).await?;
    step.done_with(format!("{} containers", outcome.containers.len()));
    Ok(true)
}

/// Refuses a verb that needs the cluster to answer while the profile is paused.
pub async fn refuse_if_paused(profile: &ProfileName, verb: &str) -> Result<()> {
    // No Docker is the verb's own error to give.
    let Ok(docker) = docker::connect().await else {
        return Ok(());
    };
    if profile_is_paused(&docker, profile).await.unwrap_or(false) {
        bail!(crate::plan::pause::paused_refusal(profile.as_str(), verb));
    }
    Ok(())
}
