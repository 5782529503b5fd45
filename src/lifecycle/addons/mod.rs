//! Enabling and disabling addons in a running cluster: what `start`'s addons step, `addons enable`
//! and `addons disable` do. Enabling an addon loads its images into the nodes, creates what it
//! runs (objects from its manifest, containers of the profile), and waits until it serves;
//! disabling removes exactly those. The table of addons and their manifests is `plan::addons`.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use bollard::Docker;
use kube::Client;

use crate::effects::containers::{self, Making, container_state};
use crate::effects::home::{Home, ProfileDir};
use crate::effects::owned::{self, Kind, Owner};
use crate::effects::{
    docker as docker_fx, image_build, image_registry, kube_api, node_images, registry_auth, staging,
};
use crate::plan::addons::{self, Addon, AddonContainer};
use crate::plan::cluster::{self, ClusterPlan, ContainerSpec, HostFacts};
use crate::plan::config::ProfileConfig;
use crate::plan::container_state::ContainerState;
use crate::plan::images::Image;
use crate::plan::names::{self, Role};
use crate::plan::node_config::NodeFile;
use crate::plan::profile_name::ProfileName;
use crate::ui::Ui;

mod change;
mod serving;

pub use change::{Changed, Lock, change};
pub use serving::{registry_answers, service_address, wait_serving};

/// How long an addon gets to serve after it is enabled.
pub const ADDON_READY_TIMEOUT: Duration = Duration::from_secs(180);

/// What enabling and disabling act on: a running cluster of one profile.
pub struct Cluster<'a> {
    pub profile: &'a ProfileName,
    pub config: &'a ProfileConfig,
    pub facts: &'a HostFacts,
    pub plan: &'a ClusterPlan,
    pub docker: &'a Docker,
    pub client: &'a Client,
    pub ui: &'a Ui,
}

impl Cluster<'_> {
    fn specs(&self, role: Role) -> Vec<&ContainerSpec> {
        self.plan
            .containers
            .iter()
            .filter(|c| c.role == role)
            .collect()
    }
}

/// Builds the images of the enabled addons that are not built by default (the default ones are
/// built with the cluster's): on first enable this compiles the addon from its Go module.
pub async fn build_images(
    docker: &Docker,
    home: &Home,
    config: &ProfileConfig,
    enabled: &[&Addon],
    ui: &Ui,
) -> Result<()> {
    let extra: Vec<String> = enabled
        .iter()
        .filter(|a| !a.default_on && !a.images.is_empty())
        .map(|a| a.name.to_string())
        .collect();
    if extra.is_empty() {
        return Ok(());
    }
    // A profile whose images come from a registry gets the addon's there too.
    if let Some(repository) = &config.image_repository {
        let wanted: Vec<Image> = enabled
            .iter()
            .filter(|a| !a.default_on)
            .flat_map(|a| a.images.iter().copied())
            .collect();
        let version = &config.kubernetes_version;
        if let crate::effects::image_registry::Pulled::Missing(why) =
            crate::effects::image_registry::pull(
                docker,
                home.cache(),
                repository,
                version,
                &wanted,
                config.image_index.as_deref(),
                ui,
            )
            .await?
        {
            bail!(
                "{why}: push them with `localkube images push {repository} --kubernetes-version \
                 {version} --addons {}`",
                extra.join(",")
            );
        }
        return Ok(());
    }
    image_build::ensure_addon_images(docker, home.cache(), &config.kubernetes_version, ui, &extra)
        .await?;
    Ok(())
}

/// Makes one addon run and waits until it serves. Idempotent: `start` calls it for every enabled
/// addon, so a resumed cluster repairs what was removed by hand. Returns the containers it made.
pub async fn ensure(cluster: &Cluster<'_>, addon: &Addon) -> Result<Vec<String>> {
    let created = apply(cluster, addon, &[]).await?;
    wait_serving(cluster, addon).await?;
    Ok(created)
}

/// [`ensure`] without the wait: images loaded, objects applied, containers running. `start`
/// applies every addon first and then waits for them all at once; `loading` are the image tags
/// it loads into the nodes itself.
pub async fn apply(
    cluster: &Cluster<'_>,
    addon: &Addon,
    loading: &[String],
) -> Result<Vec<String>> {
    let mut created = Vec::new();
    let version = &cluster.config.kubernetes_version;
    let node_images: Vec<Image> = addon
        .images
        .iter()
        .copied()
        .filter(|i| *i != Image::Registry && !loading.contains(&names::image(i.name(), version)))
        .collect();
    if !node_images.is_empty() {
        load_into_nodes(cluster, &node_images).await?;
    }
    if let Some(manifest) = addons::manifest(addon, cluster.config) {
        kube_api::apply_manifest(cluster.client, &manifest)
            .await
            .with_context(|| format!("applying the {} addon's objects", addon.name))?;
    }
    match addon.container {
        Some(AddonContainer::LoadBalancerController) => {
            for spec in cluster.specs(Role::LbController) {
                staging::stage_container(cluster.facts, spec)?;
                run_addon_container(cluster.docker, spec, &mut created).await?;
            }
        }
        Some(AddonContainer::Registry) => {
            let Some(push_side) =
                addons::registry_spec(cluster.profile, cluster.config, cluster.facts)
            else {
                bail!(
                    "the registry has no port yet: enable it with `localkube addons enable registry`"
                );
            };
            registry_auth::ensure(&cluster.facts.profile_dir)?;
            containers::ensure_volume(
                cluster.docker,
                &addons::registry_volume_spec(cluster.profile),
            )
            .await?;
            let mirror =
                addons::registry_mirror_spec(cluster.profile, cluster.config, cluster.facts);
            for (spec, pull_only) in [(&mirror, true), (&push_side, false)] {
                staging::stage_container(cluster.facts, spec)?;
                for (file, contents) in addons::registry_staged(pull_only) {
                    staging::write_generated(cluster.facts, &spec.name, &file, &contents)?;
                }
                run_addon_container(cluster.docker, spec, &mut created).await?;
            }
            write_registry_hosts(cluster)?;
        }
        None => {}
    }
    Ok(created)
}

/// Removes what `ensure` made: the manifest's objects, the addon's containers and volumes.
pub async fn remove(cluster: &Cluster<'_>, addon: &Addon) -> Result<()> {
    match addon.container {
        Some(AddonContainer::LoadBalancerController) => {
            // The controller first, so it does not make proxies anew, then the proxies it made.
            for spec in cluster.specs(Role::LbController) {
                containers::remove_to_replace(cluster.docker, spec).await?;
            }
            for c in docker_fx::profile_containers(cluster.docker, cluster.profile).await? {
                if c.role == Some(Role::LbProxy) {
                    owned::remove_listed(cluster.docker, Kind::Container, &c.name, &c.id).await?;
                }
            }
        }
        Some(AddonContainer::Registry) => {
            // By name, so only what carries the profile's label (profile `dev-registry`'s node
            // is not `dev`'s registry).
            let owner = Owner::profile(cluster.profile);
            for container in [
                addons::registry_container(cluster.profile),
                addons::registry_mirror_container(cluster.profile),
            ] {
                containers::remove_container(cluster.docker, &container, &owner).await?;
            }
            let volume = addons::registry_volume(cluster.profile);
            containers::remove_volume(cluster.docker, &volume, &owner).await?;
            for node in cluster.specs(Role::Node) {
                for (path, _) in addons::registry_hosts_files(cluster.config) {
                    let file = cluster
                        .facts
                        .staging_dir(&node.name)
                        .join(REGISTRY_HOSTS_DIR)
                        .join(&path);
                    match std::fs::remove_file(&file) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => {
                            return Err(e).with_context(|| format!("removing {}", file.display()));
                        }
                    }
                }
            }
        }
        None => {}
    }
    // Read before its Service goes: the address its pods wrote into the Ingresses' status.
    let published = match addon.published_service() {
        Some(service) => serving::service_address(cluster.client, service)
            .await?
            .map(|address| (service, address)),
        None => None,
    };
    if let Some(manifest) = addons::manifest(addon, cluster.config) {
        kube_api::delete_manifest(cluster.client, &manifest).await?;
    }
    if let Some((service, address)) = published {
        serving::clear_ingress_status(cluster.client, service, address).await?;
    }
    Ok(())
}

/// Where the nodes' containerd looks for hosts.toml files: a folder of the node's read-only
/// config mount, which /etc/containerd/certs.d points at (images/node/entrypoint).
pub const REGISTRY_HOSTS_DIR: &str = "certs.d";

fn write_registry_hosts(cluster: &Cluster<'_>) -> Result<()> {
    let files: Vec<NodeFile> = addons::registry_hosts_files(cluster.config)
        .into_iter()
        .map(|(path, content)| NodeFile {
            path: format!("{REGISTRY_HOSTS_DIR}/{path}"),
            content,
        })
        .collect();
    for node in cluster.specs(Role::Node) {
        staging::write_node_files(cluster.facts, &node.name, &files)?;
    }
    Ok(())
}

/// [`containers::run_container`], adding the container's name to `created` when it made it.
async fn run_addon_container(
    docker: &Docker,
    spec: &ContainerSpec,
    created: &mut Vec<String>,
) -> Result<()> {
    let mut made = false;
    containers::run_container(docker, spec, |m| made = m == Making::Created).await?;
    if made {
        created.push(spec.name.clone());
    }
    Ok(())
}

/// Loads the images into every node that lacks them (or holds another build under the tag).
async fn load_into_nodes(cluster: &Cluster<'_>, images: &[Image]) -> Result<()> {
    let tags: Vec<String> = images
        .iter()
        .map(|i| names::image(i.name(), &cluster.config.kubernetes_version))
        .collect();
    futures_util::future::try_join_all(
        cluster
            .specs(Role::Node)
            .into_iter()
            .map(|node| node_images::load_missing_into_node(cluster.docker, &node.name, &tags)),
    )
    .await?;
    Ok(())
}

/// A running cluster's plan and client, for `addons enable|disable` outside `start`.
pub async fn connect(
    dir: &ProfileDir,
    profile: &ProfileName,
    config: &ProfileConfig,
) -> Result<Option<(HostFacts, ClusterPlan, Docker, Client)>> {
    let docker = docker_fx::connect().await?;
    let apiserver = names::control_plane_container(profile, Role::Apiserver);
    if !container_state(&docker, &apiserver)
        .await?
        .is_some_and(ContainerState::is_running)
    {
        return Ok(None);
    }
    let facts = dir.host_facts()?;
    let plan = cluster::plan(profile, config, &facts);
    let client = kube_api::admin_client(&dir.admin_kubeconfig()).await?;
    Ok(Some((facts, plan, docker, client)))
}

/// Gives the enabled addons the settings a profile keeps for them: the registry its host port on
/// 127.0.0.1, chosen the first time it is enabled.
pub fn choose_ports(config: &mut ProfileConfig) -> Result<()> {
    let registry_on = config
        .addons
        .enabled_addons()
        .iter()
        .any(|a| a.container == Some(AddonContainer::Registry));
    if registry_on && config.addons.registry_port.is_none() {
        let listener = std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
            .context("finding a free port on 127.0.0.1 for the registry")?;
        config.addons.registry_port = Some(listener.local_addr()?.port());
    }
    Ok(())
}

/// Stores a host image in the profile's registry under its mirror path (`luksa/kubia:latest` →
/// `localhost:PORT/luksa/kubia:latest`, `registry.k8s.io/pause:3.10` → `localhost:PORT/pause:3.10`),
/// so the nodes' docker.io or registry.k8s.io mirror serves it even to pods that pull (`:latest`,
/// imagePullPolicy Always), with the profile's registry password (sent to the engine in a
/// header). `None`: not an image of a mirrored registry, nothing stored.
pub async fn push_to_registry(
    docker: &Docker,
    profile_dir: &std::path::Path,
    port: u16,
    image: &str,
) -> Result<Option<String>> {
    let Some(path) = addons::mirror_path(image) else {
        return Ok(None);
    };
    let host = format!("localhost:{port}");
    let password = registry_auth::read(profile_dir).with_context(|| {
        format!("the registry on {host} has no password in this profile: run `localkube addons enable registry`")
    })?;
    let credentials = registry_auth::docker_credentials(&host, &password);
    let (repo, tag) = path.rsplit_once(':').unwrap_or((path.as_str(), "latest"));
    let target_repo = format!("{host}/{repo}");
    if let Err(why) =
        image_registry::push_host_image(docker, image, &target_repo, tag, Some(credentials)).await
    {
        bail!("pushing {image} to the registry on {host}: {why}");
    }
    Ok(Some(format!("{host}/{path}")))
}
