//! Copies of a profile's volumes for `localkube snapshot`, through a short-lived helper container
//! that mounts them: GNU tar streamed out of it into a snapshot's part (hashed on the way), or
//! from a part into a volume's restore folder, and the swap scripts of `plan::snapshot`.
//!
//! Helpers carry [`LABEL_SNAPSHOT_HELPER`] with their profile's name, not the profile label:
//! `stop` and `pause` of the profile must not stop or freeze the helper that is restoring it.
//! A helper left by an interrupted command is removed by the next one ([`remove_leftovers`]).

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use bollard::Docker;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType};
use bollard::query_parameters::{
    CreateContainerOptions, ListContainersOptions, StartContainerOptions,
};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::effects::containers::{self, ExecOutput};
use crate::plan::profile_name::ProfileName;

/// Marks a snapshot helper container, with the profile it works for as the value.
pub const LABEL_SNAPSHOT_HELPER: &str = "io.localkube.snapshot-helper";

/// A part's size and sha256, as written or read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub bytes: u64,
    pub sha256: String,
}

fn helper_labels(profile: &ProfileName) -> HashMap<String, String> {
    HashMap::from([(LABEL_SNAPSHOT_HELPER.to_string(), profile.to_string())])
}

/// Removes helpers an interrupted snapshot command of this profile left; only containers that
/// carry the helper label with this profile's name.
pub async fn remove_leftovers(docker: &Docker, profile: &ProfileName) -> Result<()> {
    let found = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(HashMap::from([(
                "label".to_string(),
                vec![format!("{LABEL_SNAPSHOT_HELPER}={profile}")],
            )])),
            ..Default::default()
        }))
        .await
        .context("listing snapshot helper containers")?;
    for c in found {
        remove(docker, c.id.as_deref().unwrap_or_default()).await?;
    }
    Ok(())
}

/// Removes a helper container: `id` came back from this process's create call or from a list
/// filtered by the profile's helper label, so its ownership is established.
pub(crate) async fn remove(docker: &Docker, id: &str) -> Result<()> {
    crate::effects::owned::remove_listed(docker, crate::effects::owned::Kind::Container, id, id)
        .await
        .with_context(|| format!("removing snapshot helper container {id}"))?;
    Ok(())
}

/// What a helper container runs, and with what.
pub struct HelperSpec<'a> {
    pub image: &'a str,
    pub entrypoint: Vec<String>,
    pub args: Vec<String>,
    pub mounts: Vec<Mount>,
    pub network_mode: &'a str,
    pub cap_add: Vec<String>,
}

/// Creates (not starts) a helper container; returns its id.
pub async fn create_helper(
    docker: &Docker,
    profile: &ProfileName,
    spec: HelperSpec<'_>,
) -> Result<String> {
    let HelperSpec {
        image,
        entrypoint,
        args,
        mounts,
        network_mode,
        cap_add,
    } = spec;
    let body = ContainerCreateBody {
        image: Some(image.to_string()),
        entrypoint: Some(entrypoint),
        cmd: Some(args),
        labels: Some(helper_labels(profile)),
        host_config: Some(HostConfig {
            mounts: Some(mounts),
            // "none" for a volume copy (it needs no network); "container:<etcd>" for etcdctl,
            // which reaches etcd on its loopback, where etcd's certificate is valid.
            network_mode: Some(network_mode.to_string()),
            cap_add: (!cap_add.is_empty()).then_some(cap_add),
            // Removed by the command that made it; never restarted.
            auto_remove: Some(false),
            ..Default::default()
        }),
        ..Default::default()
    };
    let created = docker
        .create_container(None::<CreateContainerOptions>, body)
        .await
        .with_context(|| format!("creating a snapshot helper container from {image}"))?;
    Ok(created.id)
}

pub fn volume_mount(volume: &str, target: &str, read_only: bool) -> Mount {
    Mount {
        typ: Some(MountType::VOLUME),
        source: Some(volume.to_string()),
        target: Some(target.to_string()),
        read_only: Some(read_only),
        ..Default::default()
    }
}

pub fn bind_mount(source: &Path, target: &str) -> Mount {
    Mount {
        typ: Some(MountType::BIND),
        source: Some(source.display().to_string()),
        target: Some(target.to_string()),
        read_only: Some(true),
        ..Default::default()
    }
}

/// Runs a created helper to its end; its last log lines in the error when it fails. The helper
/// is removed either way.
pub async fn run_to_end(docker: &Docker, id: &str, what: &str) -> Result<()> {
    let result = async {
        docker
            .start_container(id, None::<StartContainerOptions>)
            .await
            .with_context(|| format!("starting the helper that {what}"))?;
        let mut wait =
            docker.wait_container(id, None::<bollard::query_parameters::WaitContainerOptions>);
        let mut code = 0;
        while let Some(status) = wait.next().await {
            match status {
                Ok(s) => code = s.status_code,
                Err(bollard::errors::Error::DockerContainerWaitError { code: c, .. }) => code = c,
                Err(e) => {
                    return Err(e).with_context(|| format!("waiting for the helper that {what}"));
                }
            }
        }
        if code != 0 {
            let logs = containers::logs_tail(docker, id, 20).await;
            bail!(
                "the helper that {what} exited with {code}:\n{}",
                logs.trim()
            );
        }
        Ok(())
    }
    .await;
    if result.is_err() {
        let _ = remove(docker, id).await;
    }
    result
}

/// A running helper with the volumes mounted, for copies and scripts; removed by [`Self::remove`].
pub struct VolumeHelper {
    docker: Docker,
    id: String,
}

impl VolumeHelper {
    /// Starts a helper from `image` (the node's: Debian, GNU tar) with `volumes` as (volume,
    /// mount point).
    pub async fn start(
        docker: &Docker,
        profile: &ProfileName,
        image: &str,
        volumes: &[(String, String)],
        writable: bool,
    ) -> Result<Self> {
        let mounts = volumes
            .iter()
            .map(|(volume, target)| volume_mount(volume, target, !writable))
            .collect();
        let id = create_helper(
            docker,
            profile,
            HelperSpec {
                image,
                entrypoint: vec!["sleep".into()],
                args: vec!["infinity".into()],
                mounts,
                network_mode: "none",
                // Reading and writing `trusted.*` attributes (overlay's opaque-folder marks in
                // containerd's snapshots) takes CAP_SYS_ADMIN; nothing else beyond Docker's
                // default.
                cap_add: vec!["SYS_ADMIN".into()],
            },
        )
        .await?;
        let helper = Self {
            docker: docker.clone(),
            id,
        };
        if let Err(e) = docker
            .start_container(&helper.id, None::<StartContainerOptions>)
            .await
        {
            helper.remove().await;
            return Err(e).context("starting the snapshot helper container");
        }
        Ok(helper)
    }

    pub async fn remove(self) {
        let _ = remove(&self.docker, &self.id).await;
    }

    /// Runs a shell script; its exit code and output.
    pub async fn script(&self, script: &str) -> Result<ExecOutput> {
        containers::exec(&self.docker, &self.id, &["sh", "-c", script], None).await
    }

    pub async fn script_ok(&self, script: &str, what: &str) -> Result<()> {
        let out = self.script(script).await?;
        if out.exit_code != 0 {
            bail!(
                "{what} failed (exit {}): {}",
                out.exit_code,
                out.output.trim()
            );
        }
        Ok(())
    }

    /// Streams `command`'s stdout into `out` (0600), hashing it; `progress` gets the bytes so far.
    pub async fn save(
        &self,
        command: &[String],
        out: &Path,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Written> {
        let created = self
            .docker
            .create_exec(
                &self.id,
                CreateExecOptions {
                    cmd: Some(command.to_vec()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .with_context(|| format!("running `{}` in the snapshot helper", command.join(" ")))?;
        let started = self
            .docker
            .start_exec(&created.id, None::<StartExecOptions>)
            .await
            .context("starting the copy in the snapshot helper")?;
        let mut file = open_secret(out).await?;
        let mut hasher = Sha256::new();
        let mut bytes = 0u64;
        let mut errors = String::new();
        if let StartExecResults::Attached { mut output, .. } = started {
            while let Some(chunk) = output.next().await {
                match chunk? {
                    bollard::container::LogOutput::StdOut { message } => {
                        hasher.update(&message);
                        file.write_all(&message)
                            .await
                            .with_context(|| format!("writing {}", out.display()))?;
                        bytes += message.len() as u64;
                        progress(bytes);
                    }
                    other => {
                        if errors.len() < 4096 {
                            errors.push_str(&other.to_string());
                        }
                    }
                }
            }
        }
        file.flush().await?;
        file.sync_all().await?;
        let code = self
            .docker
            .inspect_exec(&created.id)
            .await
            .context("reading the copy's exit code")?
            .exit_code
            .unwrap_or(-1);
        if code != 0 {
            bail!(
                "`{}` exited with {code}: {}",
                command.join(" "),
                errors.trim()
            );
        }
        Ok(Written {
            bytes,
            sha256: hex::encode(hasher.finalize()),
        })
    }

    /// Streams the file at `from` into `command`'s stdin.
    pub async fn load(&self, command: &[String], from: &Path) -> Result<()> {
        let file = tokio::fs::File::open(from)
            .await
            .with_context(|| format!("opening {}", from.display()))?;
        let stream = futures_util::stream::unfold(file, |mut f| async move {
            let mut buf = vec![0u8; 1 << 20];
            match f.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok(bytes::Bytes::from(buf)), f))
                }
                Err(err) => Some((Err(bollard::errors::Error::IOError { err }), f)),
            }
        });
        let cmd: Vec<&str> = command.iter().map(String::as_str).collect();
        let out = containers::exec(&self.docker, &self.id, &cmd, Some(Box::pin(stream))).await?;
        if out.exit_code != 0 {
            bail!(
                "`{}` exited with {}: {}",
                command.join(" "),
                out.exit_code,
                out.output.trim()
            );
        }
        Ok(())
    }
}

/// A new file, private from its first byte (a snapshot holds the cluster's secrets).
pub async fn open_secret(path: &Path) -> Result<tokio::fs::File> {
    tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(crate::effects::files::SECRET_FILE_MODE)
        .open(path)
        .await
        .with_context(|| format!("creating {}", path.display()))
}
