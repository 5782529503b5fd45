//! Docker's pause and unpause (the cgroup freezer) of a profile's containers.

use anyhow::{Context, Result};
use bollard::Docker;

use crate::effects::containers;
use crate::effects::docker::ProfileContainer;
use crate::effects::docker_error::is_not_found;

/// Freezes every container given, all at once; returns the names frozen (one removed meanwhile
/// is skipped).
pub async fn pause(docker: &Docker, containers: &[ProfileContainer]) -> Result<Vec<String>> {
    let results = futures_util::future::join_all(containers.iter().map(|c| async move {
        match docker.pause_container(&c.id).await {
            Ok(()) => Ok(Some(c.name.clone())),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e).with_context(|| format!("pausing container {}", c.name)),
        }
    }))
    .await;
    collect(results)
}

/// Thaws every container given, all at once; returns the names thawed.
pub async fn unpause(docker: &Docker, containers: &[ProfileContainer]) -> Result<Vec<String>> {
    let results = futures_util::future::join_all(containers.iter().map(|c| async move {
        match docker.unpause_container(&c.id).await {
            Ok(()) => Ok(Some(c.name.clone())),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e).with_context(|| format!("unpausing container {}", c.name)),
        }
    }))
    .await;
    collect(results)
}

/// Asks each load balancer proxy given to give its localhost ports back (SIGUSR1), and waits
/// until each that serves any says so, at most `deadline`: a frozen proxy would keep them bound,
/// and a paused profile gives its localhost ports to whoever wants them. Best effort: a proxy
/// that does not answer in time is frozen holding its ports, as before.
pub async fn release_localhost(
    docker: &Docker,
    proxies: &[ProfileContainer],
    deadline: std::time::Duration,
) {
    use crate::plan::localhost::LocalhostState;
    let serving = |log: &str| LocalhostState::newest_in(log).is_some_and(|s| !s.released);
    let mut waiting = Vec::new();
    for p in proxies {
        if !serving(&containers::logs_tail(docker, &p.name, 200).await) {
            continue;
        }
        if signal(docker, &p.name, "SIGUSR1").await.is_ok() {
            waiting.push(p.name.clone());
        }
    }
    let started = std::time::Instant::now();
    while !waiting.is_empty() && started.elapsed() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let mut still = Vec::new();
        for name in waiting {
            if serving(&containers::logs_tail(docker, &name, 200).await) {
                still.push(name);
            }
        }
        waiting = still;
    }
}

/// Asks each load balancer proxy named to take its localhost ports again (SIGUSR2), where free.
pub async fn retake_localhost(docker: &Docker, proxies: &[String]) {
    for name in proxies {
        let _ = signal(docker, name, "SIGUSR2").await;
    }
}

async fn signal(docker: &Docker, name: &str, signal: &str) -> Result<()> {
    let options = bollard::query_parameters::KillContainerOptionsBuilder::new()
        .signal(signal)
        .build();
    docker
        .kill_container(name, Some(options))
        .await
        .with_context(|| format!("sending {signal} to {name}"))
}

fn collect(results: Vec<Result<Option<String>>>) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for result in results {
        names.extend(result?);
    }
    Ok(names)
}

/// Freezes one container by name.
pub async fn pause_one(docker: &Docker, name: &str) -> Result<()> {
    docker
        .pause_container(name)
        .await
        .with_context(|| format!("pausing container {name}"))
}

/// Thaws one container by name.
pub async fn unpause_one(docker: &Docker, name: &str) -> Result<()> {
    docker
        .unpause_container(name)
        .await
        .with_context(|| format!("unpausing container {name}"))
}
