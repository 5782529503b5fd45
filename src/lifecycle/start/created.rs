//! The bookkeeping of a start: every Docker object this run made or started, recorded before it
//! is made, so a failure removes exactly that and nothing older. What a roll-back cannot remove
//! (a daemon too slow or failing) is said with the commands that remove it, and kept on file so
//! the next `start` removes it first.

use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bollard::Docker;
use serde::{Deserialize, Serialize};

use crate::effects::containers;
use crate::effects::owned::{self, Kind, Owner};
use crate::effects::{files, pace};
use crate::plan::container_state::ContainerState;
use crate::plan::profile_name::ProfileName;

/// The patience a container this run started gets when a roll-back stops it again.
const ROLL_BACK_STOP_SECS: i32 = 10;
/// How long a roll-back keeps trying one object, on a usual machine (stretched by the pace): a
/// slow or failing call is tried again within it.
pub(super) const ROLL_BACK_TIMEOUT: Duration = Duration::from_secs(120);
/// The first pause between two tries of one object (doubling, stretched by the pace).
const RETRY_PAUSE: Duration = Duration::from_millis(500);

fn add_once(names: &mut Vec<String>, name: &str) {
    if !names.iter().any(|n| n == name) {
        names.push(name.to_string());
    }
}

/// What this run created, so a failure removes exactly that and nothing older.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

    /// Puts Docker back as it was: stops what this run started, removes what it created,
    /// containers first (a network with a container on it cannot go), then volumes, then the
    /// network. Each object is tried again, with pauses, for up to `within` of its own, so a slow
    /// or failing call does not end the roll-back, and one stuck object neither leaves the others
    /// behind nor takes their time. Only what carries the profile's label is removed: a name
    /// recorded before a create that then failed may be someone else's object.
    pub async fn roll_back(
        &self,
        docker: &Docker,
        profile: &ProfileName,
        within: Duration,
    ) -> Result<(), Leftovers> {
        let deadline = || Instant::now() + within;
        let owner = Owner::profile(profile);
        let mut left = Leftovers {
            remaining: Created {
                profile: self.profile,
                ..Created::default()
            },
            problems: Vec::new(),
        };
        for name in self.started.iter().rev() {
            let stop = || containers::stop_container(docker, name, Some(ROLL_BACK_STOP_SECS));
            let what = format!("stopping container {name}");
            if let Err(e) = retrying(&what, deadline(), stop).await {
                left.remaining.add_started(name);
                left.problems.push(format!("{e:#}"));
            }
        }
        let owner = &owner;
        let remove = |kind: Kind, name: String| async move {
            let what = format!("removing {} {name}", kind.as_str());
            retrying(&what, deadline(), || {
                owned::remove_if_owned(docker, kind, &name, owner)
            })
            .await
        };
        for name in self.containers.iter().rev() {
            if let Err(e) = remove(Kind::Container, name.clone()).await {
                left.remaining.add_container(name);
                left.problems.push(format!("{e:#}"));
            }
        }
        for name in &self.volumes {
            if let Err(e) = remove(Kind::Volume, name.clone()).await {
                left.remaining.volumes.push(name.clone());
                left.problems.push(format!("{e:#}"));
            }
        }
        if let Some(network) = &self.network
            && let Err(e) = remove(Kind::Network, network.clone()).await
        {
            left.remaining.network = Some(network.clone());
            left.problems.push(format!("{e:#}"));
        }
        if left.problems.is_empty() {
            Ok(())
        } else {
            Err(left)
        }
    }

    pub(super) fn has_docker_objects(&self) -> bool {
        self.network.is_some()
            || !self.volumes.is_empty()
            || !self.containers.is_empty()
            || !self.started.is_empty()
    }
}

/// Tries `call` (`what` it does, for the error) until it succeeds or `deadline` passes: each try
/// bounded by what is left of the deadline, pauses doubling from [`RETRY_PAUSE`]. The last error
/// when it never succeeded.
pub(super) async fn retrying<T, F, Fut>(what: &str, deadline: Instant, mut call: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut pause = pace::scaled(RETRY_PAUSE);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let error = match tokio::time::timeout(left, call()).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(e)) => e,
            Err(_) => anyhow::anyhow!("{what}: Docker did not answer in time"),
        };
        if Instant::now() + pause >= deadline {
            return Err(error);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(10));
    }
}

/// What a roll-back could not undo: the objects still there (or still running), and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leftovers {
    pub remaining: Created,
    pub problems: Vec<String>,
}

impl Leftovers {
    /// The error to show: what is still there, why, and how to remove it.
    pub fn describe(&self, profile: &ProfileName) -> String {
        let r = &self.remaining;
        let mut what: Vec<String> = Vec::new();
        what.extend(r.started.iter().map(|n| format!("container {n} (running)")));
        what.extend(r.containers.iter().map(|n| format!("container {n}")));
        what.extend(r.volumes.iter().map(|n| format!("volume {n}")));
        what.extend(r.network.iter().map(|n| format!("network {n}")));
        let (what, commands) = if what.is_empty() {
            // Only the sweep by label failed: what it missed has no name recorded.
            (
                format!("what carries the label io.localkube.profile={profile}"),
                format!("localkube delete -p {profile}"),
            )
        } else {
            (what.join(", "), self.commands().join(" && "))
        };
        format!(
            "{what} of this start is still there ({}); remove it with `{commands}`, or run \
             `localkube start -p {profile}` again, which removes it first",
            self.problems.join("; "),
        )
    }

    /// The docker commands that undo what is left, in the order the roll-back goes.
    pub fn commands(&self) -> Vec<String> {
        let r = &self.remaining;
        let mut commands = Vec::new();
        if !r.started.is_empty() {
            commands.push(format!("docker stop {}", r.started.join(" ")));
        }
        if !r.containers.is_empty() {
            commands.push(format!("docker rm -f {}", r.containers.join(" ")));
        }
        if !r.volumes.is_empty() {
            commands.push(format!("docker volume rm {}", r.volumes.join(" ")));
        }
        if let Some(network) = &r.network {
            commands.push(format!("docker network rm {network}"));
        }
        commands
    }

    /// Keeps the record at `path` (`Home::leftovers_path`) for the next `start`.
    pub fn save(&self, path: &Path) -> Result<()> {
        let dir = path
            .parent()
            .context("the leftovers record has no folder")?;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let text = serde_json::to_vec_pretty(self)?;
        files::write_atomic(path, &text, files::PUBLIC_FILE_MODE)
    }

    /// The record a failed start left at `path`, if any.
    pub fn load(path: &Path) -> Result<Option<Self>> {
        match std::fs::read(path) {
            Ok(text) => serde_json::from_slice(&text)
                .map(Some)
                .with_context(|| format!("reading {}: remove it if it is damaged", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
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

    fn leftovers() -> Leftovers {
        Leftovers {
            remaining: Created {
                profile: true,
                network: Some("localkube-a".into()),
                volumes: vec!["a-etcd".into()],
                containers: vec!["a-scheduler".into(), "a".into()],
                started: vec!["a-m02".into()],
            },
            problems: vec!["removing container a-scheduler: Timeout error".into()],
        }
    }

    #[test]
    fn leftovers_are_named_with_the_commands_that_remove_them_in_order() {
        let profile = ProfileName::parse("a").unwrap();
        let left = leftovers();
        assert_eq!(
            left.commands(),
            [
                "docker stop a-m02",
                "docker rm -f a-scheduler a",
                "docker volume rm a-etcd",
                "docker network rm localkube-a",
            ]
        );
        let text = left.describe(&profile);
        assert!(
            text.starts_with(
                "container a-m02 (running), container a-scheduler, container a, volume a-etcd, \
                 network localkube-a of this start is still there (removing container \
                 a-scheduler: Timeout error)"
            ) && text.contains("`docker stop a-m02 && docker rm -f a-scheduler a && ")
                && text.ends_with("or run `localkube start -p a` again, which removes it first"),
            "{text}"
        );
    }

    #[test]
    fn a_failed_sweep_by_label_names_the_delete_that_finishes_it() {
        let left = Leftovers {
            remaining: Created {
                profile: true,
                ..Created::default()
            },
            problems: vec!["listing networks: Timeout error".into()],
        };
        let text = left.describe(&ProfileName::parse("a").unwrap());
        assert!(
            text.starts_with("what carries the label io.localkube.profile=a of this start")
                && text.contains("remove it with `localkube delete -p a`"),
            "{text}"
        );
    }

    #[test]
    fn leftovers_are_kept_on_file_until_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("leftovers").join("a.json");
        assert_eq!(Leftovers::load(&path).unwrap(), None);
        leftovers().save(&path).unwrap();
        assert_eq!(Leftovers::load(&path).unwrap(), Some(leftovers()));
        std::fs::write(&path, "{").unwrap();
        let err = format!("{:#}", Leftovers::load(&path).unwrap_err());
        assert!(err.contains("remove it if it is damaged"), "{err}");
    }

    #[tokio::test]
    async fn a_failing_call_is_tried_again_until_the_deadline() {
        let tries = std::cell::Cell::new(0);
        let deadline = Instant::now() + Duration::from_secs(30);
        let result = retrying("removing container a", deadline, || {
            tries.set(tries.get() + 1);
            let now = tries.get();
            async move {
                if now < 3 {
                    anyhow::bail!("busy")
                }
                Ok(now)
            }
        })
        .await;
        assert_eq!(result.unwrap(), 3);
        // A call that never answers ends at the deadline with the reason, not a hang.
        let deadline = Instant::now() + Duration::from_millis(300);
        let err = retrying(
            "removing container a",
            deadline,
            std::future::pending::<Result<()>>,
        )
        .await
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "removing container a: Docker did not answer in time"
        );
        let err =
            retrying::<(), _, _>("a", Instant::now() + Duration::from_millis(300), || async {
                anyhow::bail!("still busy")
            })
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "still busy");
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
