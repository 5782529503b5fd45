//! Docker objects of a cluster plan: the network, volumes and containers, created from the plain
//! data of `plan::cluster` (the mapping is here, the decisions are there), plus exec and logs.
//! Moving images into a node's containerd is `node_images`.

use std::collections::HashMap;
use std::sync::LazyLock;

use anyhow::{Context, Result, bail};
use bollard::Docker;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::models::{
    ContainerCreateBody, EndpointIpamConfig, EndpointSettings, HostConfig,
    HostConfigCgroupnsModeEnum, HostConfigLogConfig, Ipam, IpamConfig, Mount, MountType,
    NetworkCreateRequest, NetworkingConfig, PortBinding, RestartPolicy, RestartPolicyNameEnum,
    VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptions, InspectContainerOptions, LogsOptions, RestartContainerOptions,
    StartContainerOptions, StopContainerOptions,
};
use futures_util::{Stream, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio_util::task::TaskTracker;

use crate::effects::docker_error::is_not_found;
use crate::effects::owned::{self, Kind, Owner};
use crate::plan::cluster::{ContainerSpec, MountSpec, NO_NETWORK, NetworkSpec, VolumeSpec};
use crate::plan::names::LABEL_SPEC_DIGEST;

use crate::plan::container_state::ContainerState;

fn to_hash_map(labels: &std::collections::BTreeMap<String, String>) -> HashMap<String, String> {
    labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// The Docker calls that make or start something run in tasks of their own, carried to their end
/// even when the command that asked for them is interrupted and drops its future: dockerd finishes
/// a request whose caller hung up (a node's create copies its image's /var, about a second), so a
/// roll-back that did not wait for them ([`settled`]) would look too early and leave the object.
static UNDER_WAY: LazyLock<TaskTracker> = LazyLock::new(TaskTracker::new);

async fn to_the_end<T: Send + 'static>(
    work: impl Future<Output = Result<T>> + Send + 'static,
) -> Result<T> {
    UNDER_WAY
        .spawn(work)
        .await
        .context("a task making a Docker object failed")?
}

/// Returns once no create or start is under way: what an interrupted command made is all there,
/// for its roll-back to find.
pub async fn settled() {
    UNDER_WAY.close();
    UNDER_WAY.wait().await;
    UNDER_WAY.reopen();
}

/// Refuses when a container named `name` exists that is not the profile's of `labels`.
pub async fn check_owned(
    docker: &Docker,
    name: &str,
    labels: &std::collections::BTreeMap<String, String>,
) -> Result<()> {
    if let Some(owner) = Owner::of_labels(labels) {
        owned::claim(docker, Kind::Container, name, &owner).await?;
    }
    Ok(())
}

/// Whether an object the spec's `labels` would own exists: an error when one of that name is
/// someone else's (or when the spec names no owner, which nothing may adopt).
async fn exists_owned(
    docker: &Docker,
    kind: Kind,
    name: &str,
    labels: &std::collections::BTreeMap<String, String>,
) -> Result<bool> {
    let Some(owner) = Owner::of_labels(labels) else {
        bail!(
            "{} {name} has no profile label to check ownership by",
            kind.as_str()
        );
    };
    Ok(owned::claim(docker, kind, name, &owner).await?.is_some())
}

/// Creates the network unless it exists; true when this call created it. An existing network
/// must carry the profile's label.
pub async fn ensure_network(docker: &Docker, spec: &NetworkSpec) -> Result<bool> {
    if exists_owned(docker, Kind::Network, &spec.name, &spec.labels).await? {
        return Ok(false);
    }
    let request = NetworkCreateRequest {
        name: spec.name.clone(),
        driver: Some("bridge".into()),
        // A subnet of its own, so every container keeps its address across restarts.
        ipam: Some(Ipam {
            config: Some(
                std::iter::once(IpamConfig {
                    subnet: Some(spec.subnet.to_string()),
                    gateway: Some(spec.gateway.to_string()),
                    ..Default::default()
                })
                // An IPv6 or dual-stack profile's /64 beside it (`--ipv6 --subnet`).
                .chain(spec.subnet_v6.map(|v6| IpamConfig {
                    subnet: Some(v6.to_string()),
                    ..Default::default()
                }))
                .collect(),
            ),
            ..Default::default()
        }),
        enable_ipv6: spec.subnet_v6.is_some().then_some(true),
        // Masquerade traffic leaving the network, as kind's networks do.
        options: Some(HashMap::from([(
            "com.docker.network.bridge.enable_ip_masquerade".to_string(),
            "true".to_string(),
        )])),
        labels: Some(to_hash_map(&spec.labels)),
        ..Default::default()
    };
    let context = format!("creating network {} ({})", spec.name, spec.subnet);
    let docker = docker.clone();
    to_the_end(async move {
        docker.create_network(request).await.context(context)?;
        Ok(true)
    })
    .await
}

/// Creates the volume unless it exists; true when this call created it. An existing volume must
/// carry the profile's label.
pub async fn ensure_volume(docker: &Docker, spec: &VolumeSpec) -> Result<bool> {
    if exists_owned(docker, Kind::Volume, &spec.name, &spec.labels).await? {
        return Ok(false);
    }
    let request = VolumeCreateRequest {
        name: Some(spec.name.clone()),
        labels: Some(to_hash_map(&spec.labels)),
        ..Default::default()
    };
    let context = format!("creating volume {}", spec.name);
    let docker = docker.clone();
    to_the_end(async move {
        docker.create_volume(request).await.context(context)?;
        Ok(true)
    })
    .await
}

/// Docker's view of a container: its state, or None when it does not exist.
pub async fn container_state(docker: &Docker, name: &str) -> Result<Option<ContainerState>> {
    match docker
        .inspect_container(name, None::<InspectContainerOptions>)
        .await
    {
        Ok(info) => Ok(Some(
            info.state
                .and_then(|s| s.status)
                .map_or(ContainerState::Unknown, |s| {
                    ContainerState::parse(s.as_ref())
                }),
        )),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(e).with_context(|| format!("inspecting container {name}")),
    }
}

/// The create request for a container spec. `privileged` is false where the engine refuses it:
/// the spec's capability set is used instead.
pub fn create_body(spec: &ContainerSpec, privileged: bool) -> ContainerCreateBody {
    let mut mounts = Vec::new();
    let mut tmpfs = HashMap::new();
    for m in &spec.mounts {
        match m {
            MountSpec::Volume { name, target } => mounts.push(Mount {
                typ: Some(MountType::VOLUME),
                source: Some(name.clone()),
                target: Some(target.clone()),
                ..Default::default()
            }),
            MountSpec::VolumeReadOnly { name, target } => mounts.push(Mount {
                typ: Some(MountType::VOLUME),
                source: Some(name.clone()),
                target: Some(target.clone()),
                read_only: Some(true),
                ..Default::default()
            }),
            MountSpec::Bind {
                source,
                target,
                read_only,
            } => mounts.push(Mount {
                typ: Some(MountType::BIND),
                source: Some(source.display().to_string()),
                target: Some(target.clone()),
                read_only: Some(*read_only),
                ..Default::default()
            }),
            MountSpec::Tmpfs { target } => {
                tmpfs.insert(target.clone(), String::new());
            }
        }
    }
    let port_bindings: HashMap<String, Option<Vec<PortBinding>>> = spec
        .ports
        .iter()
        .map(|p| {
            (
                format!("{}/{}", p.container_port, p.protocol),
                Some(vec![PortBinding {
                    host_ip: Some(p.host_ip.to_string()),
                    host_port: Some(p.host_port.to_string()),
                }]),
            )
        })
        .collect();
    let security = &spec.security;
    // `privileged` is asked for only of a spec that wants it; otherwise (or where refused) the
    // spec's capability lists apply, a drop-all with no additions included.
    let run_privileged = privileged && security.privileged;
    // A container in the host's network namespace (a load balancer proxy) has no address or
    // hostname of its own to ask for; one with no network (the node image's preload) no address.
    let host_network = spec.network == crate::plan::load_balancer::HOST_NETWORK;
    let own_network = !host_network && spec.network != NO_NETWORK;
    let host_config = HostConfig {
        network_mode: (!own_network).then(|| spec.network.clone()),
        mounts: Some(mounts),
        tmpfs: (!tmpfs.is_empty()).then_some(tmpfs),
        port_bindings: (!port_bindings.is_empty()).then_some(port_bindings),
        restart_policy: Some(RestartPolicy {
            name: Some(match spec.restart_policy.as_str() {
                "always" => RestartPolicyNameEnum::ALWAYS,
                "on-failure" => RestartPolicyNameEnum::ON_FAILURE,
                "no" => RestartPolicyNameEnum::NO,
                _ => RestartPolicyNameEnum::UNLESS_STOPPED,
            }),
            ..Default::default()
        }),
        privileged: Some(run_privileged),
        cap_add: (!run_privileged && !security.cap_add.is_empty())
            .then(|| security.cap_add.clone()),
        cap_drop: (!run_privileged && !security.cap_drop.is_empty())
            .then(|| security.cap_drop.clone()),
        device_cgroup_rules: (!run_privileged && !security.device_cgroup_rules.is_empty())
            .then(|| security.device_cgroup_rules.clone()),
        security_opt: (!security.security_opt.is_empty()).then(|| security.security_opt.clone()),
        // What the docker CLI's `systempaths=unconfined` means in the API: no masked or read-only
        // paths under /proc and /sys.
        masked_paths: security.unmask_system_paths.then(Vec::new),
        readonly_paths: security.unmask_system_paths.then(Vec::new),
        cgroupns_mode: security
            .cgroupns_private
            .then_some(HostConfigCgroupnsModeEnum::PRIVATE),
        log_config: Some(HostConfigLogConfig {
            typ: Some(crate::plan::cluster::LOG_DRIVER.to_string()),
            config: Some(
                crate::plan::cluster::LOG_OPTIONS
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
        }),
        ..Default::default()
    };
    ContainerCreateBody {
        hostname: (!host_network).then(|| spec.hostname.clone()),
        image: Some(spec.image.clone()),
        entrypoint: Some(spec.entrypoint.clone()),
        cmd: Some(spec.args.clone()),
        labels: Some(to_hash_map(&spec.labels)),
        exposed_ports: (!spec.ports.is_empty()).then(|| {
            spec.ports
                .iter()
                .map(|p| format!("{}/{}", p.container_port, p.protocol))
                .collect()
        }),
        host_config: Some(host_config),
        networking_config: own_network.then(|| NetworkingConfig {
            endpoints_config: Some(HashMap::from([(
                spec.network.clone(),
                EndpointSettings {
                    ipam_config: Some(EndpointIpamConfig {
                        ipv4_address: Some(spec.ip.to_string()),
                        ipv6_address: spec.ip6.map(|ip| ip.to_string()),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            )])),
        }),
        ..Default::default()
    }
}

/// Creates and starts a container. For one that asks for elevated rights, `--privileged` is tried
/// first; where the engine refuses it (this project's CI sandbox: "unable to apply caps"), the
/// container is recreated with the spec's capability set. Returns whether it runs privileged.
/// Carried to its end even if the caller is dropped (see [`settled`]).
pub async fn create_and_start(docker: &Docker, spec: &ContainerSpec) -> Result<bool> {
    let (docker, spec) = (docker.clone(), spec.clone());
    to_the_end(async move {
        let elevated = spec.security.privileged && !privileged_refused_here();
        let first = create_and_start_once(&docker, &spec, elevated).await;
        match first {
            Ok(()) => Ok(elevated),
            Err(e) if elevated && is_privilege_refusal(&e) => {
                remove_container(&docker, &spec.name, &made_from(&spec)).await?;
                create_and_start_capabilities(&docker, &spec)
                    .await
                    .with_context(|| format!("starting {} without --privileged", spec.name))?;
                Ok(false)
            }
            Err(e) if !elevated && is_unavailable_cap_drop(&e) => {
                create_and_start_without_drop(&docker, &spec, e).await?;
                Ok(false)
            }
            Err(e) => Err(e),
        }
    })
    .await
}

/// Whether the engine is bound to refuse `--privileged`: it grants every capability the kernel
/// has, and fails ("unable to apply caps") where the bounding set lacks one, as in the sandboxes
/// this project is tested in (no CAP_SYS_RESOURCE). The local engine runs under the bounding set
/// this process has there; knowing beforehand saves a node's container being created twice
/// (0.5-1 s on every start, measured). Unknown means try: a refusal is handled anyway.
fn privileged_refused_here() -> bool {
    static REFUSED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *REFUSED.get_or_init(|| {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let last = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap").unwrap_or_default();
        lacks_a_capability(&status, &last)
    })
}

/// Whether `CapBnd` in `/proc/self/status` text lacks one of the capabilities 0..=`cap_last_cap`.
fn lacks_a_capability(status: &str, cap_last_cap: &str) -> bool {
    let bounding = status
        .lines()
        .find_map(|line| line.strip_prefix("CapBnd:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok());
    let last = cap_last_cap.trim().parse::<u32>().ok().filter(|&l| l < 64);
    match (bounding, last) {
        (Some(bounding), Some(last)) => {
            let all = u64::MAX >> (63 - last);
            bounding & all != all
        }
        _ => false,
    }
}

/// With the spec's capability set instead of --privileged.
async fn create_and_start_capabilities(docker: &Docker, spec: &ContainerSpec) -> Result<()> {
    match create_and_start_once(docker, spec, false).await {
        Err(e) if is_unavailable_cap_drop(&e) => {
            create_and_start_without_drop(docker, spec, e).await
        }
        other => other,
    }
}

/// Docker 23 and later refuse (400, "invalid CapDrop: ... not available in the current
/// environment") to drop a capability outside their own bounding set, where 20.10 accepted it;
/// their `ALL` then already leaves it out, so the drop is not needed (measured with Docker 28.5
/// in this project's sandbox, which lacks CAP_SYS_RESOURCE).
fn is_unavailable_cap_drop(err: &anyhow::Error) -> bool {
    let text = format!("{err:#}");
    text.contains("invalid CapDrop") && text.contains("not available in the current environment")
}

/// Made again without the drops the engine refused (see
/// `SecuritySpec::drops_left_after_refusal`): every other drop stays. Each try may name another.
async fn create_and_start_without_drop(
    docker: &Docker,
    spec: &ContainerSpec,
    refusal: anyhow::Error,
) -> Result<()> {
    let mut spec = spec.clone();
    let mut refusal = refusal;
    loop {
        let Some(left) = spec
            .security
            .drops_left_after_refusal(&format!("{refusal:#}"))
        else {
            return Err(refusal);
        };
        remove_container(docker, &spec.name, &made_from(&spec)).await?;
        spec.security.cap_drop = left;
        match create_and_start_once(docker, &spec, false).await {
            Err(e) if is_unavailable_cap_drop(&e) => refusal = e,
            other => return other,
        }
    }
}

/// The owner of a container made from `spec`: its profile's label, or
/// for an unlabelled one (the image build's preload container) the image it was made from.
fn made_from(spec: &ContainerSpec) -> Owner {
    Owner::of_labels(&spec.labels).unwrap_or_else(|| Owner::CreatedFrom(spec.image.clone()))
}

fn is_privilege_refusal(err: &anyhow::Error) -> bool {
    let text = format!("{err:#}");
    text.contains("unable to apply caps") || text.contains("operation not permitted")
}

async fn create_and_start_once(
    docker: &Docker,
    spec: &ContainerSpec,
    privileged: bool,
) -> Result<()> {
    // Creating a node copies its image's /var (the preloaded images, about 210 MB) into the new
    // volume: in a VM without hardware virtualisation that outlasted bollard's 120 s, the start
    // failed, and the container Docker finished making was unknown to the roll-back.
    crate::effects::docker::for_transfers(docker)
        .create_container(
            Some(CreateContainerOptions {
                name: Some(spec.name.clone()),
                ..Default::default()
            }),
            create_body(spec, privileged),
        )
        .await
        .with_context(|| format!("creating container {} from {}", spec.name, spec.image))?;
    docker
        .start_container(&spec.name, None::<StartContainerOptions>)
        .await
        .with_context(|| format!("starting container {}", spec.name))?;
    Ok(())
}

/// Carried to its end even if the caller is dropped (see [`settled`]).
pub async fn start_existing(docker: &Docker, name: &str) -> Result<()> {
    let (docker, name) = (docker.clone(), name.to_string());
    to_the_end(async move {
        docker
            .start_container(&name, None::<StartContainerOptions>)
            .await
            .with_context(|| format!("starting container {name}"))
    })
    .await
}

/// Removes the container named `name` if it is `owner`'s; someone else's is refused (see
/// `owned`). Nothing there is fine.
pub async fn remove_container(docker: &Docker, name: &str, owner: &Owner) -> Result<()> {
    owned::remove(docker, Kind::Container, name, owner).await?;
    Ok(())
}

/// Removes the container of `spec`'s name so it can be made anew from the spec: only when it is
/// the spec's profile's (see `owned`).
pub async fn remove_to_replace(docker: &Docker, spec: &ContainerSpec) -> Result<()> {
    remove_container(docker, &spec.name, &made_from(spec)).await
}

/// What [`run_container`] is about to do, told before it does it: a caller that rolls back on
/// failure records the container even when the call fails halfway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Making {
    /// The container is created: it was missing, or out of date and removed.
    Created,
    /// The stopped container is started.
    Started,
}

/// Makes the container of `spec` run: created if missing, started if stopped, made anew first
/// when it is out of date ([`is_current`]). Only a container of the spec's profile is adopted,
/// replaced or started: one that merely has the name is someone else's (see `owned`).
pub async fn run_container(
    docker: &Docker,
    spec: &ContainerSpec,
    mut making: impl FnMut(Making),
) -> Result<()> {
    check_owned(docker, &spec.name, &spec.labels).await?;
    if !is_current(docker, spec).await? {
        remove_to_replace(docker, spec).await?;
    }
    match container_state(docker, &spec.name).await? {
        None => {
            making(Making::Created);
            create_and_start(docker, spec).await?;
        }
        Some(ContainerState::Running) => {}
        Some(_) => {
            making(Making::Started);
            start_existing(docker, &spec.name).await?;
        }
    }
    Ok(())
}

/// False for a container made from another spec, which [`run_container`] makes anew. A spec with
/// a digest label (the stateless control plane, and the nodes with their kubelet and kube-proxy
/// config, see `plan::cluster`) is compared by it, so other flags after an upgrade or a changed
/// cluster file count; one without by its image: the load balancer's controller runs
/// this very binary, whose image is tagged per build (etcd's and the nodes' tags are fixed by
/// the profile's version). A missing container is current: it will be made from this spec.
pub async fn is_current(docker: &Docker, spec: &ContainerSpec) -> Result<bool> {
    let Some(found) = owned::inspect(docker, Kind::Container, &spec.name).await? else {
        return Ok(true);
    };
    Ok(match spec.labels.get(LABEL_SPEC_DIGEST) {
        Some(digest) => found.labels.get(LABEL_SPEC_DIGEST) == Some(digest),
        None => found.image.is_none_or(|image| image == spec.image),
    })
}

/// Stops a container, its process given `timeout` seconds (Docker's own default without one)
/// before it is killed. One that is gone already counts as stopped.
pub async fn stop_container(docker: &Docker, name: &str, timeout: Option<i32>) -> Result<()> {
    let options = StopContainerOptions {
        t: timeout,
        ..Default::default()
    };
    match docker.stop_container(name, Some(options)).await {
        Ok(()) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(e).with_context(|| format!("stopping container {name}")),
    }
}

pub async fn restart_container(docker: &Docker, name: &str) -> Result<()> {
    docker
        .restart_container(name, None::<RestartContainerOptions>)
        .await
        .with_context(|| format!("restarting container {name}"))
}

/// Removes a volume with what it holds, if it is `owner`'s (see `owned`); one that is gone
/// already counts as removed.
pub async fn remove_volume(docker: &Docker, name: &str, owner: &Owner) -> Result<()> {
    owned::remove(docker, Kind::Volume, name, owner).await?;
    Ok(())
}

/// Removes a network if it is `owner`'s (see `owned`); one that is gone already counts as
/// removed.
pub async fn remove_network(docker: &Docker, name: &str, owner: &Owner) -> Result<()> {
    owned::remove(docker, Kind::Network, name, owner).await?;
    Ok(())
}

/// Whether the engine holds an image of this tag.
pub async fn image_exists(docker: &Docker, tag: &str) -> bool {
    docker.inspect_image(tag).await.is_ok()
}

/// The ID of the engine's image of this tag.
pub async fn image_id(docker: &Docker, tag: &str) -> Result<String> {
    let info = docker
        .inspect_image(tag)
        .await
        .with_context(|| format!("inspecting image {tag}"))?;
    Ok(info.id.unwrap_or_default())
}

/// A label of the engine's image of this tag (`None`: no such image, or no such label).
pub async fn image_label(docker: &Docker, tag: &str, label: &str) -> Option<String> {
    let info = docker.inspect_image(tag).await.ok()?;
    info.config?.labels?.remove(label).filter(|v| !v.is_empty())
}

fn logs_options(tail: usize, follow: bool) -> LogsOptions {
    LogsOptions {
        stdout: true,
        stderr: true,
        follow,
        tail: tail.to_string(),
        ..Default::default()
    }
}

/// The last `lines` lines of a container's output, for error messages.
pub async fn logs_tail(docker: &Docker, name: &str, lines: usize) -> String {
    let mut stream = docker.logs(name, Some(logs_options(lines, false)));
    let mut out = String::new();
    while let Some(Ok(chunk)) = stream.next().await {
        out.push_str(&chunk.to_string());
    }
    out
}

/// Everything a container has printed, for reading back what one of localkube's own containers
/// reports (the apiservers' load balancer's backend states).
pub async fn logs_all(docker: &Docker, name: &str) -> Result<String> {
    let options = LogsOptions {
        tail: "all".into(),
        ..logs_options(0, false)
    };
    let mut stream = docker.logs(name, Some(options));
    let mut out = String::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.with_context(|| format!("reading the logs of container {name}"))?;
        out.push_str(&chunk.to_string());
    }
    Ok(out)
}

/// Copies a container's last `tail` lines of output to `out` as they come, and with `follow` what
/// it writes afterwards until it stops (or the caller is interrupted).
pub async fn write_logs(
    docker: &Docker,
    name: &str,
    tail: usize,
    follow: bool,
    out: &mut impl std::io::Write,
) -> Result<()> {
    let mut stream = docker.logs(name, Some(logs_options(tail, follow)));
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.with_context(|| format!("reading the logs of container {name}"))?;
        out.write_all(&chunk.into_bytes())?;
        out.flush()?;
    }
    Ok(())
}

/// Bytes fed to a command's standard input (a `docker save` stream, say).
pub type StdinStream =
    std::pin::Pin<Box<dyn Stream<Item = Result<bytes::Bytes, bollard::errors::Error>> + Send>>;

/// Output and exit code of a command run in a container.
#[derive(Debug, Clone)]
pub struct ExecOutput {
    pub exit_code: i64,
    pub output: String,
}

/// Runs a command in a running container, optionally feeding `stdin`, and waits for it.
pub async fn exec(
    docker: &Docker,
    container: &str,
    cmd: &[&str],
    stdin: Option<StdinStream>,
) -> Result<ExecOutput> {
    let created = docker
        .create_exec(
            container,
            CreateExecOptions {
                cmd: Some(cmd.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
                attach_stdin: Some(stdin.is_some()),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            },
        )
        .await
        .with_context(|| format!("running `{}` in {container}", cmd.join(" ")))?;
    let started = docker
        .start_exec(&created.id, None::<StartExecOptions>)
        .await
        .with_context(|| format!("running `{}` in {container}", cmd.join(" ")))?;
    let mut output = String::new();
    if let StartExecResults::Attached {
        output: mut out,
        mut input,
    } = started
    {
        let writer = async move {
            if let Some(mut stdin) = stdin {
                while let Some(chunk) = stdin.next().await {
                    input.write_all(&chunk?).await?;
                }
                input.shutdown().await?;
            }
            Ok::<(), anyhow::Error>(())
        };
        let reader = async {
            while let Some(chunk) = out.next().await {
                output.push_str(&chunk?.to_string());
            }
            Ok::<(), anyhow::Error>(())
        };
        let (w, r) = tokio::join!(writer, reader);
        w.with_context(|| format!("feeding `{}` in {container}", cmd.join(" ")))?;
        r?;
    }
    let inspect = docker.inspect_exec(&created.id).await?;
    Ok(ExecOutput {
        exit_code: inspect.exit_code.unwrap_or(-1),
        output,
    })
}

/// Like `exec`, but a non-zero exit is an error carrying the command's output.
pub async fn exec_ok(docker: &Docker, container: &str, cmd: &[&str]) -> Result<String> {
    let out = exec(docker, container, cmd, None).await?;
    if out.exit_code != 0 {
        bail!(
            "`{}` in {container} exited with {}: {}",
            cmd.join(" "),
            out.exit_code,
            out.output.trim()
        );
    }
    Ok(out.output)
}

#[cfg(test)]
mod tests {
    use super::lacks_a_capability;

    /// The containers of a one-node profile `dev`.
    fn example_plan() -> crate::plan::cluster::ClusterPlan {
        let profile = crate::plan::profile_name::ProfileName::parse("dev").unwrap();
        let config =
            crate::plan::config::ProfileConfig::new(40123, "172.30.7.0/24".parse().unwrap());
        crate::plan::cluster::plan(
            &profile,
            &config,
            &crate::plan::cluster::HostFacts::example(std::path::Path::new("/p")),
        )
    }

    /// Every container is created through `create_body`: each gets the rotation.
    #[test]
    fn every_container_rotates_its_log() {
        let plan = example_plan();
        let mut specs = plan.containers.clone();
        specs.push(crate::plan::cluster::node_preload_container(
            "sha256:aa",
            "p",
        ));
        for spec in specs {
            let body = super::create_body(&spec, false);
            let log = body.host_config.unwrap().log_config.unwrap();
            assert_eq!(log.typ.as_deref(), Some("json-file"), "{}", spec.name);
            let options = log.config.unwrap();
            assert_eq!(options["max-size"], "10m", "{}", spec.name);
            assert_eq!(options["max-file"], "3", "{}", spec.name);
        }
    }

    /// A node without --privileged still lets privileged pods have every device: its device cgroup
    /// is the parent of theirs. Other containers keep Docker's default device list.
    #[test]
    fn a_node_without_privileged_allows_every_device_and_nothing_else_does() {
        let plan = example_plan();
        for spec in &plan.containers {
            let fallback = super::create_body(spec, false).host_config.unwrap();
            let privileged = super::create_body(spec, true).host_config.unwrap();
            if spec.role == crate::plan::names::Role::Node {
                assert_eq!(
                    fallback.device_cgroup_rules,
                    Some(vec!["a *:* rwm".to_string()])
                );
                // --privileged has every device already.
                assert_eq!(privileged.device_cgroup_rules, None);
            } else {
                assert_eq!(fallback.device_cgroup_rules, None, "{}", spec.name);
            }
        }
    }

    #[test]
    fn a_bounding_set_without_one_capability_refuses_privileged() {
        // This project's sandbox: CAP_SYS_RESOURCE (24) withheld, kernel capabilities 0..=40.
        let sandbox = "Name:\tx\nCapBnd:\t000001fffeffffff\nCapAmb:\t0\n";
        assert!(lacks_a_capability(sandbox, "40\n"));
        let full = "CapBnd:\t000001ffffffffff\n";
        assert!(!lacks_a_capability(full, "40\n"));
        // An older kernel with fewer capabilities, all held.
        assert!(!lacks_a_capability("CapBnd:\t0000003fffffffff\n", "37"));
    }

    #[test]
    fn an_unreadable_bounding_set_means_try_privileged() {
        assert!(!lacks_a_capability("", "40"));
        assert!(!lacks_a_capability("CapBnd:\tzz\n", "40"));
        assert!(!lacks_a_capability("CapBnd:\t000001fffeffffff\n", ""));
    }
}
