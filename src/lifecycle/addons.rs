//! Enabling and disabling addons in a running cluster: what `start`'s addons step, `addons enable`
//! and `addons disable` do. Enabling an addon loads its images into the nodes, creates what it
//! runs (objects from its manifest, containers of the profile), and waits until it serves;
//! disabling removes exactly those. The table of addons and their manifests is `plan::addons`.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use bollard::Docker;
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::networking::v1::Ingress;
use kube::Client;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::pinned_kind;

use crate::effects::containers::{self, container_state};
use crate::effects::home::{Home, ProfileDir};
use crate::effects::owned::{self, Kind, Owner};
use crate::effects::{docker as docker_fx, image_build, kube_api, staging};
use crate::plan::addons::{self, Addon};
use crate::plan::cluster::{
    self, ClusterPlan, ContainerSpec, HostFacts, MountSpec, PortSpec, VolumeSpec,
};
use crate::plan::config::ProfileConfig;
use crate::plan::names::{self, LABEL_PROFILE, LABEL_ROLE, Role};
use crate::plan::node_config::NodeFile;
use crate::plan::profile_name::ProfileName;
use crate::plan::{images::Image, load_balancer};
use crate::ui::Ui;

/// How long an addon gets to serve after it is enabled.
pub const ADDON_READY_TIMEOUT: Duration = Duration::from_secs(180);
/// The registry container's role label.
pub const REGISTRY_ROLE: &str = "registry";

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
    fn specs(&self, role: &str) -> Vec<&ContainerSpec> {
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
    match addon.name {
        addons::LOAD_BALANCER_ADDON => {
            kube_api::apply_manifest(cluster.client, addons::lb_controller()).await?;
            for spec in cluster.specs(load_balancer::CONTROLLER_ROLE) {
                staging::stage_container(cluster.facts, spec)?;
                if run_container(cluster.docker, spec).await? {
                    created.push(spec.name.clone());
                }
            }
            return Ok(created);
        }
        addons::REGISTRY_ADDON => {
            let spec = registry_spec(cluster)?;
            let volume = VolumeSpec {
                name: addons::registry_volume(cluster.profile),
                labels: BTreeMap::from([(LABEL_PROFILE.to_string(), cluster.profile.to_string())]),
            };
            containers::ensure_volume(cluster.docker, &volume).await?;
            if run_container(cluster.docker, &spec).await? {
                created.push(spec.name.clone());
            }
            write_registry_hosts(cluster)?;
        }
        _ => {}
    }
    if let Some(manifest) = addons::manifest(addon, cluster.config) {
        kube_api::apply_manifest(cluster.client, &manifest)
            .await
            .with_context(|| format!("applying the {} addon's objects", addon.name))?;
    }
    Ok(created)
}

/// Removes what `ensure` made: the manifest's objects, the addon's containers and volumes.
pub async fn remove(cluster: &Cluster<'_>, addon: &Addon) -> Result<()> {
    match addon.name {
        addons::LOAD_BALANCER_ADDON => {
            // The controller first, so it does not make proxies anew, then the proxies it made.
            for spec in cluster.specs(load_balancer::CONTROLLER_ROLE) {
                containers::remove_to_replace(cluster.docker, spec).await?;
            }
            for c in docker_fx::profile_containers(cluster.docker, cluster.profile).await? {
                if c.role == load_balancer::PROXY_ROLE {
                    owned::remove_listed(cluster.docker, Kind::Container, &c.name, &c.id).await?;
                }
            }
        }
        addons::REGISTRY_ADDON => {
            // By name, so only what carries the profile's label (profile `dev-registry`'s node
            // is not `dev`'s registry).
            let owner = Owner::profile(cluster.profile);
            let container = addons::registry_container(cluster.profile);
            owned::remove(cluster.docker, Kind::Container, &container, &owner).await?;
            let volume = addons::registry_volume(cluster.profile);
            owned::remove(cluster.docker, Kind::Volume, &volume, &owner).await?;
            for node in cluster.specs(Role::Node.as_str()) {
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
        _ => {}
    }
    // Read before its Service goes: the address Traefik wrote into the Ingresses' status.
    let ingress = match addon.name {
        addons::INGRESS_ADDON => ingress_address(cluster.client).await?,
        _ => None,
    };
    if let Some(manifest) = addons::manifest(addon, cluster.config) {
        kube_api::delete_manifest(cluster.client, &manifest).await?;
    }
    if let Some(address) = ingress {
        clear_ingress_status(cluster.client, address).await?;
    }
    Ok(())
}

/// Once Traefik has stopped, takes its address out of the Ingresses' status, where it stayed
/// behind: nothing answers there any more, so `kubectl get ingress` must not show it.
async fn clear_ingress_status(client: &Client, address: Ipv4Addr) -> Result<()> {
    let (namespace, name) = addons::INGRESS_SERVICE;
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let selector = ListParams::default().labels(&format!("app.kubernetes.io/name={name}"));
    kube_api::wait_for("Traefik's pods gone", ADDON_READY_TIMEOUT, || {
        let (pods, selector) = (pods.clone(), selector.clone());
        async move { Ok(pods.list(&selector).await?.items.is_empty().then_some(())) }
    })
    .await?;
    let address = address.to_string();
    let all: Api<Ingress> = Api::all(client.clone());
    for ingress in all.list(&ListParams::default()).await? {
        let shows_it = ingress
            .status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|lb| lb.ingress.as_ref())
            .is_some_and(|i| i.iter().any(|i| i.ip.as_deref() == Some(address.as_str())));
        let (Some(namespace), Some(name)) = (&ingress.metadata.namespace, &ingress.metadata.name)
        else {
            continue;
        };
        if shows_it {
            let api: Api<Ingress> = Api::namespaced(client.clone(), namespace);
            let patch = serde_json::json!({"status": {"loadBalancer": {"ingress": null}}});
            match api
                .patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!("clearing the address of Ingress {namespace}/{name}")
                    });
                }
            }
        }
    }
    Ok(())
}

/// What a user does with an addon once it serves; `ingress` is the ingress addon's address
/// (`ingress_address`), when it has one.
pub fn usage(addon: &Addon, config: &ProfileConfig, ingress: Option<Ipv4Addr>) -> String {
    match addon.name {
        addons::COREDNS_ADDON => format!(
            "Services resolve as NAME.NAMESPACE.svc.{} (kube-dns at {})",
            config.dns_domain,
            config.dns_service_ip()
        ),
        addons::LOAD_BALANCER_ADDON => {
            "LoadBalancer Services get an address on 127.x.y.2-99: `localkube service list`".into()
        }
        addons::STORAGE_PROVISIONER_ADDON => format!(
            "PVCs of storageClassName `standard` get a volume under {} on their pod's node",
            addons::STORAGE_DIR
        ),
        addons::METRICS_SERVER_ADDON => {
            "`kubectl top nodes` and `kubectl top pods -A` (first figures within about 30 s)".into()
        }
        addons::DEFAULT_STORAGECLASS_ADDON => {
            "PVCs without a storageClassName use `standard` (`kubectl get storageclass`)".into()
        }
        addons::INGRESS_ADDON => {
            let address = ingress.map_or_else(|| "ADDRESS".to_string(), |a| a.to_string());
            format!(
                "Ingresses (class `traefik`, the default) answer on http://{address}/ and \
                 https://{address}/ and show {address} in `kubectl get ingress`; try \
                 `curl -H 'Host: HOST' http://{address}/`, or \
                 `curl --resolve HOST:443:{address} --cacert CERT https://HOST/` for one with a \
                 `tls` Secret"
            )
        }
        addons::REGISTRY_ADDON => {
            let host = addons::registry_host(config).unwrap_or_else(|| "localhost:PORT".into());
            format!(
                "push with `docker tag IMAGE {host}/IMAGE && docker push {host}/IMAGE`, run with \
                 `kubectl run NAME --image={host}/IMAGE`; images pushed as {host}/USER/NAME (or \
                 loaded with `localkube image load USER/NAME`) also serve docker.io/USER/NAME in \
                 the nodes"
            )
        }
        _ => String::new(),
    }
}

// ---------------------------------------------------------------------------------------------

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
    for node in cluster.specs(Role::Node.as_str()) {
        staging::write_node_files(cluster.facts, &node.name, &files)?;
    }
    Ok(())
}

/// The registry's container: the image's own command, its data on a volume, published on
/// 127.0.0.1 at the profile's registry port.
fn registry_spec(cluster: &Cluster<'_>) -> Result<ContainerSpec> {
    let Some(port) = cluster.config.addons.registry_port else {
        bail!("the registry has no port yet: enable it with `localkube addons enable registry`");
    };
    let name = addons::registry_container(cluster.profile);
    Ok(ContainerSpec {
        name: name.clone(),
        role: REGISTRY_ROLE.into(),
        hostname: name,
        image: names::image(Image::Registry.name(), &cluster.config.kubernetes_version),
        entrypoint: vec!["/bin/registry".into()],
        args: vec!["serve".into(), "/etc/distribution/config.yml".into()],
        network: names::network(cluster.profile),
        ip: addons::registry_ip(cluster.config),
        mounts: vec![MountSpec::Volume {
            name: addons::registry_volume(cluster.profile),
            target: "/var/lib/registry".into(),
        }],
        ports: vec![PortSpec {
            host_ip: std::net::Ipv4Addr::LOCALHOST,
            host_port: port,
            container_port: addons::REGISTRY_CONTAINER_PORT,
            protocol: "tcp".into(),
        }],
        labels: BTreeMap::from([
            (LABEL_PROFILE.to_string(), cluster.profile.to_string()),
            (LABEL_ROLE.to_string(), REGISTRY_ROLE.to_string()),
        ]),
        restart_policy: "unless-stopped".into(),
        // It serves on 5000 and writes its own volume as root: no capability at all.
        security: cluster::least_privilege(&[]),
        staged_files: Vec::new(),
    })
}

/// Creates the container if missing, starts it if stopped; true when it made it.
async fn run_container(docker: &Docker, spec: &ContainerSpec) -> Result<bool> {
    // Only the profile's own container is adopted, replaced or started.
    containers::check_owned(docker, &spec.name, &spec.labels).await?;
    // The controller runs the localkube binary: one of another localkube build is replaced.
    if let Some(image) = containers::container_image(docker, &spec.name).await?
        && image != spec.image
    {
        containers::remove_to_replace(docker, spec).await?;
    }
    match container_state(docker, &spec.name).await? {
        None => {
            containers::create_and_start(docker, spec).await?;
            Ok(true)
        }
        Some(state) if state == "running" => Ok(false),
        Some(_) => {
            containers::start_existing(docker, &spec.name).await?;
            Ok(false)
        }
    }
}

/// Loads the images into every node that lacks them (or holds another build under the tag).
async fn load_into_nodes(cluster: &Cluster<'_>, images: &[Image]) -> Result<()> {
    let tags: Vec<String> = images
        .iter()
        .map(|i| names::image(i.name(), &cluster.config.kubernetes_version))
        .collect();
    futures_util::future::try_join_all(
        cluster
            .specs(Role::Node.as_str())
            .into_iter()
            .map(|node| load_missing_into_node(cluster.docker, &node.name, &tags)),
    )
    .await?;
    Ok(())
}

/// Copies into one node, in one import, the images (tags) it lacks or holds another build of:
/// the node's image IDs are compared with Docker's, all at once.
pub async fn load_missing_into_node(docker: &Docker, node: &str, tags: &[String]) -> Result<()> {
    let mut ids = Vec::new();
    for tag in tags {
        let info = docker.inspect_image(tag).await.with_context(|| {
            format!("the image {tag} is not built: run `localkube images build`")
        })?;
        ids.push(info.id.unwrap_or_default());
    }
    let held = futures_util::future::try_join_all(
        tags.iter()
            .map(|tag| containers::node_image_id(docker, node, tag)),
    )
    .await?;
    let missing: Vec<&str> = tags
        .iter()
        .zip(&ids)
        .zip(&held)
        .filter(|((_, id), held)| held.as_deref() != Some(id.as_str()))
        .map(|((tag, _), _)| tag.as_str())
        .collect();
    if !missing.is_empty() {
        containers::load_images_into_node(docker, node, &missing).await?;
    }
    Ok(())
}

/// Waits until the addon does its job.
pub async fn wait_serving(cluster: &Cluster<'_>, addon: &Addon) -> Result<()> {
    let deployment = match addon.name {
        addons::COREDNS_ADDON => Some(("kube-system", "coredns")),
        addons::STORAGE_PROVISIONER_ADDON => Some(("local-path-storage", "local-path-provisioner")),
        addons::METRICS_SERVER_ADDON => Some(("kube-system", "metrics-server")),
        addons::INGRESS_ADDON => Some(addons::INGRESS_SERVICE),
        _ => None,
    };
    if let Some((namespace, name)) = deployment {
        let client = cluster.client.clone();
        let first_node = names::node_container(&names::node_name(cluster.profile, 1));
        let waited = kube_api::wait_for(
            &format!("the {} addon ready", addon.name),
            ADDON_READY_TIMEOUT,
            || {
                let client = client.clone();
                async move {
                    Ok(kube_api::deployment_ready(&client, namespace, name)
                        .await?
                        .then_some(()))
                }
            },
        )
        .await;
        if let Err(e) = waited {
            let logs = containers::logs_tail(cluster.docker, &first_node, 20).await;
            return Err(e.context(format!(
                "{first_node}'s last log lines:\n{}",
                logs.trim_end()
            )));
        }
    }
    if addon.name == addons::METRICS_SERVER_ADDON {
        let client = cluster.client.clone();
        kube_api::wait_for(
            "the APIService v1beta1.metrics.k8s.io Available",
            ADDON_READY_TIMEOUT,
            || {
                let client = client.clone();
                async move {
                    Ok(api_service_available(&client, "v1beta1.metrics.k8s.io")
                        .await?
                        .then_some(()))
                }
            },
        )
        .await?;
    }
    if addon.name == addons::INGRESS_ADDON {
        let client = cluster.client.clone();
        let address = kube_api::wait_for(
            "the ingress Service's load-balancer address",
            ADDON_READY_TIMEOUT,
            || {
                let client = client.clone();
                async move { ingress_address(&client).await }
            },
        )
        .await?;
        kube_api::wait_for(
            &format!("Traefik answering on http://{address}/"),
            ADDON_READY_TIMEOUT,
            || async move { Ok(http_answers(address, 80).await.then_some(())) },
        )
        .await?;
    }
    if addon.name == addons::REGISTRY_ADDON {
        let port = cluster.config.addons.registry_port.unwrap_or_default();
        let container = addons::registry_container(cluster.profile);
        let waited = kube_api::wait_for(
            "the registry answering /v2/",
            ADDON_READY_TIMEOUT,
            || async move { Ok(registry_answers(port).await.then_some(())) },
        )
        .await;
        if let Err(e) = waited {
            let logs = containers::logs_tail(cluster.docker, &container, 20).await;
            return Err(e.context(format!(
                "{container}'s last log lines:\n{}",
                logs.trim_end()
            )));
        }
    }
    Ok(())
}

/// Whether the aggregated API's APIService has the condition Available=True.
async fn api_service_available(client: &Client, name: &str) -> Result<bool> {
    let gvk = GroupVersionKind::gvk("apiregistration.k8s.io", "v1", "APIService");
    let (resource, _) = pinned_kind(client, &gvk).await?;
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
    let Some(object) = api.get_opt(name).await? else {
        return Ok(false);
    };
    Ok(object.data["status"]["conditions"]
        .as_array()
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| c["type"] == "Available" && c["status"] == "True")
        }))
}

/// The ingress addon's address: its LoadBalancer Service's, once the load balancer gave it one.
pub async fn ingress_address(client: &Client) -> Result<Option<Ipv4Addr>> {
    let (namespace, name) = addons::INGRESS_SERVICE;
    let api: Api<Service> = Api::namespaced(client.clone(), namespace);
    let Some(service) = api.get_opt(name).await? else {
        return Ok(None);
    };
    Ok(service
        .status
        .and_then(|s| s.load_balancer)
        .and_then(|lb| lb.ingress)
        .into_iter()
        .flatten()
        .find_map(|i| i.ip.and_then(|ip| ip.parse().ok())))
}

/// Whether something on address:port answers HTTP (any status: Traefik says 404 for a host no
/// Ingress names, which is serving).
async fn http_answers(address: Ipv4Addr, port: u16) -> bool {
    status_line(address, port, "/", &address.to_string())
        .await
        .is_some_and(|head| head.starts_with(b"HTTP/"))
}

/// Whether the registry on 127.0.0.1:port answers `GET /v2/` with 200.
pub async fn registry_answers(port: u16) -> bool {
    status_line(
        Ipv4Addr::LOCALHOST,
        port,
        "/v2/",
        &format!("localhost:{port}"),
    )
    .await
    .is_some_and(|head| head.ends_with(b" 200"))
}

/// The first 12 bytes (`HTTP/1.1 200`) of the answer to `GET path`, if one comes within seconds.
async fn status_line(address: Ipv4Addr, port: u16, path: &str, host: &str) -> Option<[u8; 12]> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let within = Duration::from_secs(2);
    let connect = tokio::net::TcpStream::connect((address, port));
    let mut stream = tokio::time::timeout(within, connect).await.ok()?.ok()?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut head = [0u8; 12];
    tokio::time::timeout(within, stream.read_exact(&mut head))
        .await
        .ok()?
        .ok()?;
    Some(head)
}

/// A running cluster's plan and client, for `addons enable|disable` outside `start`.
pub async fn connect(
    dir: &ProfileDir,
    profile: &ProfileName,
    config: &ProfileConfig,
) -> Result<Option<(HostFacts, ClusterPlan, Docker, Client)>> {
    let docker = docker_fx::connect().await?;
    let apiserver = names::control_plane_container(profile, Role::Apiserver);
    if container_state(&docker, &apiserver).await?.as_deref() != Some("running") {
        return Ok(None);
    }
    let facts = dir.host_facts()?;
    let plan = cluster::plan(profile, config, &facts);
    let client = kube_api::admin_client(&dir.kubeconfigs_dir().join("admin.conf")).await?;
    Ok(Some((facts, plan, docker, client)))
}

/// Picks the registry's host port the first time it is enabled.
pub fn choose_registry_port(config: &mut ProfileConfig) -> Result<()> {
    if config.addons.registry_port.is_none() {
        let listener = std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
            .context("finding a free port on 127.0.0.1 for the registry")?;
        config.addons.registry_port = Some(listener.local_addr()?.port());
    }
    Ok(())
}

/// Stores a host image in the profile's registry under its Docker Hub path (`luksa/kubia:latest`
/// → `localhost:PORT/luksa/kubia:latest`), so the nodes' docker.io mirror serves it even to pods
/// that pull (`:latest`, imagePullPolicy Always). `None`: not a Docker Hub image, nothing stored.
pub async fn push_to_registry(docker: &Docker, port: u16, image: &str) -> Result<Option<String>> {
    let Some(path) = addons::docker_hub_path(image) else {
        return Ok(None);
    };
    let (repo, tag) = path.rsplit_once(':').unwrap_or((path.as_str(), "latest"));
    let target_repo = format!("localhost:{port}/{repo}");
    let options = bollard::query_parameters::TagImageOptionsBuilder::new()
        .repo(&target_repo)
        .tag(tag)
        .build();
    docker
        .tag_image(image, Some(options))
        .await
        .with_context(|| format!("tagging {image} as {target_repo}:{tag}"))?;
    let pushed = crate::effects::image_registry::push_image_tag(docker, &target_repo, tag).await;
    // The extra tag was only the way in: the host keeps the image under its own name.
    let _ = docker
        .remove_image(
            &format!("{target_repo}:{tag}"),
            None::<bollard::query_parameters::RemoveImageOptions>,
            None,
        )
        .await;
    if let Err(why) = pushed {
        bail!("pushing {image} to the registry on localhost:{port}: {why}");
    }
    Ok(Some(format!("localhost:{port}/{path}")))
}
