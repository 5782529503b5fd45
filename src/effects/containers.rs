//! Docker objects of a cluster plan: the network, volumes and containers, created from the plain
//! data of `plan::cluster` (the mapping is here, the decisions are there), plus exec and logs.

use std::collections::HashMap;
use std::sync::LazyLock;

use anyhow::{Context, Result, bail};
use bollard::Docker;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::models::{
    ContainerCreateBody, EndpointIpamConfig, EndpointSettings, HostConfig,
    HostConfigCgroupnsModeEnum, Ipam, IpamConfig, Mount, MountType, NetworkCreateRequest,
    NetworkingConfig, PortBinding, RestartPolicy, RestartPolicyNameEnum, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptions, InspectContainerOptions, LogsOptions, RemoveContainerOptions,
    RemoveVolumeOptions, RestartContainerOptions, StartContainerOptions, StopContainerOptions,
};
use futures_util::{Stream, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio_util::task::TaskTracker;

use crate::plan::cluster::{ContainerSpec, MountSpec, NO_NETWORK, NetworkSpec, VolumeSpec};
use crate::plan::names::LABEL_PROFILE;

pub use crate::effects::container_state::ContainerState;

fn to_hash_map(labels: &std::collections::BTreeMap<String, String>) -> HashMap<String, String> {
    labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

pub(crate) fn is_not_found(err: &bollard::errors::Error) -> bool {
    matches!(
        err,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
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

/// Refuses an object of `kind` named `name` whose profile label differs from `wanted`'s: it is
/// not this profile's, so it is neither adopted, changed nor removed.
fn refuse_foreign(
    kind: &str,
    name: &str,
    found: Option<&HashMap<String, String>>,
    wanted: &std::collections::BTreeMap<String, String>,
) -> Result<()> {
    let want = wanted.get(LABEL_PROFILE);
    let have = found.and_then(|labels| labels.get(LABEL_PROFILE));
    if want.is_some() && have != want {
        bail!(
            "a Docker {kind} named '{name}' exists that localkube did not create for profile '{}' \
             ({}): localkube never adopts, changes or removes it; remove or rename it \
             (`docker {kind} rm {name}` if it is unused), or use another profile (`-p NAME`)",
            want.map_or("", String::as_str),
            match have {
                Some(other) => format!("its label {LABEL_PROFILE} says '{other}'"),
                None => format!("it has no {LABEL_PROFILE} label"),
            }
        );
    }
    Ok(())
}

/// Refuses when a container named `name` exists without the profile label of `labels`.
pub async fn check_owned(
    docker: &Docker,
    name: &str,
    labels: &std::collections::BTreeMap<String, String>,
) -> Result<()> {
    match docker
        .inspect_container(name, None::<InspectContainerOptions>)
        .await
    {
        Ok(info) => refuse_foreign(
            "container",
            name,
            info.config.as_ref().and_then(|c| c.labels.as_ref()),
            labels,
        ),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(e).with_context(|| format!("inspecting container {name}")),
    }
}

/// Creates the network unless it exists; true when this call created it. An existing network
/// must carry the profile's label.
pub async fn ensure_network(docker: &Docker, spec: &NetworkSpec) -> Result<bool> {
    match docker
        .inspect_network(
            &spec.name,
            None::<bollard::query_parameters::InspectNetworkOptions>,
        )
        .await
    {
        Ok(found) => {
            refuse_foreign("network", &spec.name, found.labels.as_ref(), &spec.labels)?;
            return Ok(false);
        }
        Err(e) if is_not_found(&e) => {}
        Err(e) => return Err(e).with_context(|| format!("inspecting network {}", spec.name)),
    }
    let request = NetworkCreateRequest {
        name: spec.name.clone(),
        driver: Some("bridge".into()),
        // A subnet of its own, so every container keeps its address across restarts.
        ipam: Some(Ipam {
            config: Some(vec![IpamConfig {
                subnet: Some(spec.subnet.to_string()),
                gateway: Some(spec.gateway.to_string()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
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
    match docker.inspect_volume(&spec.name).await {
        Ok(found) => {
            refuse_foreign("volume", &spec.name, Some(&found.labels), &spec.labels)?;
            return Ok(false);
        }
        Err(e) if is_not_found(&e) => {}
        Err(e) => return Err(e).with_context(|| format!("inspecting volume {}", spec.name)),
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

/// The image a container was created from, or None when it does not exist.
pub async fn container_image(docker: &Docker, name: &str) -> Result<Option<String>> {
    match docker
        .inspect_container(name, None::<InspectContainerOptions>)
        .await
    {
        Ok(info) => Ok(info.config.and_then(|c| c.image)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(e).with_context(|| format!("inspecting container {name}")),
    }
}

/// A label of an existing container (`None` when the container or the label is missing).
pub async fn container_label(docker: &Docker, name: &str, label: &str) -> Result<Option<String>> {
    match docker
        .inspect_container(name, None::<InspectContainerOptions>)
        .await
    {
        Ok(info) => Ok(info
            .config
            .and_then(|c| c.labels)
            .and_then(|mut labels| labels.remove(label))),
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
    let elevated = security.privileged || !security.cap_add.is_empty();
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
        privileged: Some(elevated && privileged),
        cap_add: (elevated && !privileged).then(|| security.cap_add.clone()),
        cap_drop: (elevated && !privileged).then(|| security.cap_drop.clone()),
        security_opt: (!security.security_opt.is_empty()).then(|| security.security_opt.clone()),
        // What the docker CLI's `systempaths=unconfined` means in the API: no masked or read-only
        // paths under /proc and /sys.
        masked_paths: security.unmask_system_paths.then(Vec::new),
        readonly_paths: security.unmask_system_paths.then(Vec::new),
        cgroupns_mode: security
            .cgroupns_private
            .then_some(HostConfigCgroupnsModeEnum::PRIVATE),
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
                remove_container(&docker, &spec.name).await?;
                create_and_start_once(&docker, &spec, false)
                    .await
                    .with_context(|| format!("starting {} without --privileged", spec.name))?;
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

fn is_privilege_refusal(err: &anyhow::Error) -> bool {
    let text = format!("{err:#}");
    text.contains("unable to apply caps") || text.contains("operation not permitted")
}

async fn create_and_start_once(
    docker: &Docker,
    spec: &ContainerSpec,
    privileged: bool,
) -> Result<()> {
    docker
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

pub async fn remove_container(docker: &Docker, name: &str) -> Result<()> {
    match docker
        .remove_container(
            name,
            Some(RemoveContainerOptions {
                force: true,
                ..Default::default()
            }),
        )
        .await
    {
        Ok(()) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing container {name}")),
    }
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

/// Removes a volume with what it holds; one that is gone already counts as removed.
pub async fn remove_volume(docker: &Docker, name: &str) -> Result<()> {
    match docker
        .remove_volume(name, Some(RemoveVolumeOptions { force: true }))
        .await
    {
        Ok(()) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing volume {name}")),
    }
}

/// Removes a network; one that is gone already counts as removed.
pub async fn remove_network(docker: &Docker, name: &str) -> Result<()> {
    match docker.remove_network(name).await {
        Ok(()) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing network {name}")),
    }
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

/// The last `lines` lines of a container's output, for error messages.
pub async fn logs_tail(docker: &Docker, name: &str, lines: usize) -> String {
    let mut stream = docker.logs(
        name,
        Some(LogsOptions {
            stdout: true,
            stderr: true,
            tail: lines.to_string(),
            ..Default::default()
        }),
    );
    let mut out = String::new();
    while let Some(Ok(chunk)) = stream.next().await {
        out.push_str(&chunk.to_string());
    }
    out
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

/// Copies images from the host's Docker into a node's containerd (docker save → ctr import), as
/// `kind load docker-image` does. The k8s.io namespace is the one kubelet's CRI uses.
pub async fn load_images_into_node(docker: &Docker, node: &str, images: &[&str]) -> Result<()> {
    import_images(docker, node, images, &[]).await
}

/// `docker save` of `images` streamed into `ctr images import` in the container, with `flags`.
pub async fn import_images(
    docker: &Docker,
    node: &str,
    images: &[&str],
    flags: &[&str],
) -> Result<()> {
    let tar = docker.export_images(images);
    let mut command = vec![
        "ctr",
        "--namespace=k8s.io",
        "images",
        "import",
        "--all-platforms",
    ];
    command.extend(flags);
    command.push("-");
    let out = exec(docker, node, &command, Some(Box::pin(tar))).await?;
    if out.exit_code != 0 {
        bail!(
            "importing {} into node {node} failed: {}",
            images.join(", "),
            out.output.trim()
        );
    }
    Ok(())
}

/// The ID (config digest) of an image in a node's containerd, as the CRI reports it, or `None`
/// when the node does not hold it. Docker's image ID is the same digest, so equal IDs mean the
/// node already has exactly this image.
pub async fn node_image_id(docker: &Docker, node: &str, image: &str) -> Result<Option<String>> {
    let out = exec(
        docker,
        node,
        &["crictl", "inspecti", "-o", "json", image],
        None,
    )
    .await?;
    if out.exit_code != 0 {
        return Ok(None);
    }
    let start = out.output.find('{').unwrap_or(0);
    let info: serde_json::Value = serde_json::from_str(&out.output[start..])
        .with_context(|| format!("reading crictl inspecti of {image} in {node}"))?;
    Ok(info["status"]["id"].as_str().map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::lacks_a_capability;

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
