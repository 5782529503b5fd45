//! Docker's pause and unpause (the cgroup freezer) of a profile's containers.

use anyhow::{Context, Result};
use bollard::Docker;

use crate::effects::containers::is_not_found;
use crate::effects::docker::ProfileContainer;

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
