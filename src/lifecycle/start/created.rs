//! The bookkeeping of a start: every Docker object this run made or started, recorded before it
//! is made, so a failure removes exactly that and nothing older.

use anyhow::{Result, bail};
use bollard::Docker;

use crate::effects::containers::{self, ContainerState};

/// The patience a container this run started gets when a roll-back stops it again.
const ROLL_BACK_STOP_SECS: i32 = 10;

fn add_once(names: &mut Vec<String>, name: &str) {
    if !names.iter().any(|n| n == name) {
        names.push(name.to_string());
    }
}

/// What this run created, so a failure removes exactly that and nothing older.
#[derive(Debug, Default)]
pub struct Created {
    /// The profile folder, when this run made it.
    pub profile: bool,
    pub network: Option<String>,
    pub volumes: Vec<String>,
    pub containers: Vec<String>,
    /// Containers that were stopped before this run and that it started.
    pub started: Vec<String>,
}

impl Created {
    /// Records container `name` before it is made or started, by its state now (`None`: it does
    /// not exist): an interruption drops the futures that would report it, and the roll-back must
    /// still find it.
    pub(super) fn expect(&mut self, name: &str, state: Option<ContainerState>) {
        match state {
            None => self.add_container(name),
            Some(ContainerState::Running) => {}
            Some(_) => self.add_started(name),
        }
    }

    pub(super) fn add_container(&mut self, name: &str) {
        add_once(&mut self.containers, name);
    }

    pub(super) fn add_started(&mut self, name: &str) {
        add_once(&mut self.started, name);
    }

    /// Takes in what another record of this run holds (one container's, made apart).
    pub(super) fn merge(&mut self, other: &Created) {
        for name in &other.containers {
            self.add_container(name);
        }
        for name in &other.started {
            self.add_started(name);
        }
    }

    /// Puts Docker back as it was: stops what this run started, removes what it created
    /// (containers first, then volumes and the network). Goes on past a failure, so one stuck
    /// object does not leave the others behind; the failures come back together.
    pub async fn roll_back(&self, docker: &Docker) -> Result<()> {
        let mut failures = Vec::new();
        for name in self.started.iter().rev() {
            if let Err(e) =
                containers::stop_container(docker, name, Some(ROLL_BACK_STOP_SECS)).await
            {
                failures.push(format!("{e:#}"));
            }
        }
        for name in self.containers.iter().rev() {
            if let Err(e) = containers::remove_container(docker, name).await {
                failures.push(format!("{e:#}"));
            }
        }
        for name in &self.volumes {
            if let Err(e) = containers::remove_volume(docker, name).await {
                failures.push(format!("{e:#}"));
            }
        }
        if let Some(network) = &self.network
            && let Err(e) = containers::remove_network(docker, network).await
        {
            failures.push(format!("{e:#}"));
        }
        if failures.is_empty() {
            Ok(())
        } else {
            bail!("{}", failures.join("; "))
        }
    }

    pub(super) fn has_docker_objects(&self) -> bool {
        self.network.is_some()
            || !self.volumes.is_empty()
            || !self.containers.is_empty()
            || !self.started.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_container_is_recorded_by_its_state_before_it_is_made() {
        let mut created = Created::default();
        created.expect("new", None);
        created.expect("stopped", Some(ContainerState::Exited));
        created.expect("running", Some(ContainerState::Running));
        // Recorded again when the create reports it: still once.
        created.expect("new", None);
        assert_eq!(created.containers, ["new"]);
        assert_eq!(created.started, ["stopped"]);
        assert!(created.has_docker_objects());
    }

    #[test]
    fn merging_keeps_each_name_once() {
        let mut created = Created::default();
        created.add_container("a");
        let mut apart = Created::default();
        apart.add_container("a");
        apart.add_container("b");
        apart.add_started("c");
        created.merge(&apart);
        assert_eq!(created.containers, ["a", "b"]);
        assert_eq!(created.started, ["c"]);
    }

    #[test]
    fn nothing_recorded_is_nothing_to_remove() {
        let mut created = Created::default();
        assert!(!created.has_docker_objects());
        created.profile = true;
        assert!(
            !created.has_docker_objects(),
            "a folder is not a Docker object"
        );
        created.network = Some("n".into());
        assert!(created.has_docker_objects());
    }
}
