//! Addons: what each one is (the table `ADDONS`), which are on in a profile (`AddonChoices`, stored
//! in its config.yaml), and their manifests (from `addons/`), rendered for a profile. Pure: the
//! effects of enabling and disabling are in `lifecycle::addons`.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use anyhow::{Result, bail};

pub use crate::plan::addon_choices::AddonChoices;
use crate::plan::config::ProfileConfig;
use crate::plan::images::Image;
use crate::plan::names::{self, LABEL_PROFILE, LABEL_ROLE, Role};
use crate::plan::profile_name::ProfileName;
use crate::plan::spec::{ContainerSpec, HostFacts, MountSpec, PortSpec, StagedFile, VolumeSpec};

const COREDNS: &str = include_str!("../../addons/coredns.yaml");
const LB_CONTROLLER: &str = include_str!("../../addons/lb-controller.yaml");
const STORAGE_PROVISIONER: &str = include_str!("../../addons/storage-provisioner.yaml");
const DEFAULT_STORAGECLASS: &str = include_str!("../../addons/default-storageclass.yaml");
const REGISTRY: &str = include_str!("../../addons/registry.yaml");
const METRICS_SERVER: &str = include_str!("../../addons/metrics-server.yaml");
const INGRESS: &str = include_str!("../../addons/ingress.yaml");

/// Where the storage-provisioner keeps volumes on a node: on its /var volume, so they outlive the
/// node's container.
pub const STORAGE_DIR: &str = "/var/lib/localkube/storage";
/// The registry's port inside its container; the host publishes it on `localhost:<port>`.
pub const REGISTRY_CONTAINER_PORT: u16 = 5000;

pub const COREDNS_ADDON: &str = "coredns";
pub const LOAD_BALANCER_ADDON: &str = "load-balancer";
pub const STORAGE_PROVISIONER_ADDON: &str = "storage-provisioner";
pub const DEFAULT_STORAGECLASS_ADDON: &str = "default-storageclass";
pub const REGISTRY_ADDON: &str = "registry";
pub const METRICS_SERVER_ADDON: &str = "metrics-server";
pub const INGRESS_ADDON: &str = "ingress";

/// The ingress addon's Deployment and its LoadBalancer Service (one name, Traefik): every
/// Ingress's status carries the Service's address.
pub const INGRESS_SERVICE: (&str, &str) = ("kube-system", "traefik");

/// One addon: everything localkube does with it is read from its row.
#[derive(Debug, Clone, Copy)]
pub struct Addon {
    pub name: &'static str,
    pub description: &'static str,
    /// On in a profile that made no choice about it.
    pub default_on: bool,
    /// The images localkube builds for it (built when it is first enabled) and loads into nodes.
    pub images: &'static [Image],
    /// Addons it needs: enabling it enables them.
    pub needs: &'static [&'static str],
    /// Its Kubernetes objects, rendered for the profile (`None`: it has none, or none yet).
    pub objects: fn(&ProfileConfig) -> Option<String>,
    /// What it runs as a container of the profile, beside the cluster's.
    pub container: Option<AddonContainer>,
    /// What holds once it serves, checked in this order.
    pub serving: &'static [Serving],
    /// What a user does with it once it serves; the address is that of the Service it publishes
    /// (`Serving::LoadBalancerHttp`), once it has one.
    pub usage: fn(&ProfileConfig, Option<Ipv4Addr>) -> String,
}

impl PartialEq for Addon {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Addon {}

/// A container of the profile that an addon runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddonContainer {
    /// localkube's LoadBalancer controller: the cluster plan's container of role
    /// `load_balancer::CONTROLLER_ROLE`; the proxies it makes go with it.
    LoadBalancerController,
    /// The registry ([`registry_spec`]): its data on a volume, and containerd's hosts.toml files in
    /// the nodes (`registry_hosts_files`).
    Registry,
}

/// One sign that an addon serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serving {
    /// The Deployment (namespace, name) has its replicas ready.
    Deployment(&'static str, &'static str),
    /// The aggregated API's APIService of this name is Available.
    ApiService(&'static str),
    /// The LoadBalancer Service (namespace, name) has an address, and HTTP answers there. The
    /// address is the addon's: shown in its usage, printed by `addons enable`, and taken out of
    /// the Ingresses' status when the addon goes.
    LoadBalancerHttp(&'static str, &'static str),
    /// The registry answers `GET /v2/` on localhost:PORT.
    Registry,
}

impl Addon {
    /// The Service (namespace, name) whose load-balancer address is the addon's, if it has one.
    pub fn published_service(&self) -> Option<(&'static str, &'static str)> {
        self.serving.iter().find_map(|s| match *s {
            Serving::LoadBalancerHttp(namespace, name) => Some((namespace, name)),
            _ => None,
        })
    }

    /// Where the user reaches it from the host, known from the profile alone: the registry's
    /// `localhost:PORT`.
    pub fn host_address(&self, config: &ProfileConfig) -> Option<String> {
        match self.container {
            Some(AddonContainer::Registry) => registry_host(config),
            _ => None,
        }
    }
}

/// Every addon, in the order `start` enables them.
pub const ADDONS: &[Addon] = &[
    Addon {
        name: COREDNS_ADDON,
        description: "cluster DNS (CoreDNS as the kube-dns Service)",
        default_on: true,
        images: &[Image::Coredns],
        needs: &[],
        objects: |config| Some(coredns(config)),
        container: None,
        serving: &[Serving::Deployment("kube-system", "coredns")],
        usage: |config, _| {
            format!(
                "Services resolve as NAME.NAMESPACE.svc.{} (kube-dns at {})",
                config.dns_domain,
                config.dns_service_ip()
            )
        },
    },
    Addon {
        name: LOAD_BALANCER_ADDON,
        description: "LoadBalancer Services on loopback addresses of the profile",
        default_on: true,
        images: &[],
        needs: &[],
        // The controller's RBAC.
        objects: |_| Some(LB_CONTROLLER.to_string()),
        container: Some(AddonContainer::LoadBalancerController),
        serving: &[],
        usage: |_, _| {
            "LoadBalancer Services get an address on 127.x.y.2-99: `localkube service list`".into()
        },
    },
    Addon {
        name: STORAGE_PROVISIONER_ADDON,
        description: "PersistentVolumes on the nodes (local-path-provisioner)",
        default_on: true,
        images: &[Image::LocalPathProvisioner, Image::StorageHelper],
        needs: &[],
        objects: |config| {
            let version = &config.kubernetes_version;
            Some(
                STORAGE_PROVISIONER
                    .replace(
                        "{{IMAGE}}",
                        &names::image(Image::LocalPathProvisioner.name(), version),
                    )
                    .replace(
                        "{{HELPER_IMAGE}}",
                        &names::image(Image::StorageHelper.name(), version),
                    )
                    .replace("{{STORAGE_DIR}}", STORAGE_DIR),
            )
        },
        container: None,
        serving: &[Serving::Deployment(
            "local-path-storage",
            "local-path-provisioner",
        )],
        usage: |_, _| {
            format!(
                "PVCs of storageClassName `standard` get a volume under {STORAGE_DIR} on their \
                 pod's node"
            )
        },
    },
    Addon {
        name: DEFAULT_STORAGECLASS_ADDON,
        description: "the default StorageClass `standard`",
        default_on: true,
        images: &[],
        needs: &[STORAGE_PROVISIONER_ADDON],
        objects: |_| Some(DEFAULT_STORAGECLASS.to_string()),
        container: None,
        serving: &[],
        usage: |_, _| {
            "PVCs without a storageClassName use `standard` (`kubectl get storageclass`)".into()
        },
    },
    Addon {
        name: REGISTRY_ADDON,
        description: "an image registry on localhost:PORT, docker.io's and registry.k8s.io's mirror in the nodes",
        default_on: false,
        images: &[Image::Registry],
        needs: &[],
        objects: |config| Some(REGISTRY.replace("{{HOST}}", &registry_host(config)?)),
        container: Some(AddonContainer::Registry),
        serving: &[Serving::Registry],
        usage: |config, _| {
            let host = registry_host(config).unwrap_or_else(|| "localhost:PORT".into());
            format!(
                "log Docker in once with `localkube image login`, then push with `docker tag \
                 IMAGE {host}/IMAGE && docker push {host}/IMAGE`, run with `kubectl run NAME \
                 --image={host}/IMAGE`; images pushed as {host}/USER/NAME (or loaded with \
                 `localkube image load USER/NAME`) also serve docker.io/USER/NAME in the nodes, \
                 which can pull but never push"
            )
        },
    },
    Addon {
        name: METRICS_SERVER_ADDON,
        description: "resource metrics for `kubectl top` (metrics-server)",
        default_on: false,
        images: &[Image::MetricsServer],
        needs: &[],
        objects: |config| {
            Some(METRICS_SERVER.replace(
                "{{IMAGE}}",
                &names::image(Image::MetricsServer.name(), &config.kubernetes_version),
            ))
        },
        container: None,
        serving: &[
            Serving::Deployment("kube-system", "metrics-server"),
            Serving::ApiService("v1beta1.metrics.k8s.io"),
        ],
        usage: |_, _| {
            "`kubectl top nodes` and `kubectl top pods -A` (first figures within about 30 s)".into()
        },
    },
    Addon {
        name: INGRESS_ADDON,
        description: "Ingresses on a loopback address of the profile and on localhost, ports 80 and 443 (Traefik)",
        default_on: false,
        images: &[Image::Traefik],
        // Its Service is a LoadBalancer: the load balancer gives it its address.
        needs: &[LOAD_BALANCER_ADDON],
        objects: |config| {
            Some(INGRESS.replace(
                "{{IMAGE}}",
                &names::image(Image::Traefik.name(), &config.kubernetes_version),
            ))
        },
        container: None,
        serving: &[
            Serving::Deployment(INGRESS_SERVICE.0, INGRESS_SERVICE.1),
            Serving::LoadBalancerHttp(INGRESS_SERVICE.0, INGRESS_SERVICE.1),
        ],
        usage: |_, address| {
            let address = address.map_or_else(|| "ADDRESS".to_string(), |a| a.to_string());
            format!(
                "Ingresses (class `traefik`, the default) answer on http://{address}/ and \
                 https://{address}/ and show {address} in `kubectl get ingress`; try \
                 `curl -H 'Host: HOST' http://{address}/`, or \
                 `curl --resolve HOST:443:{address} --cacert CERT https://HOST/` for one with a \
                 `tls` Secret. While ports 80 and 443 of localhost are free on this machine \
                 they answer there too: a rule for host `app.localhost` answers \
                 `curl http://app.localhost/`, and a hosts-file line `127.0.0.1 NAME` makes \
                 NAME one (`localkube tunnel` says whether localhost is theirs)"
            )
        },
    },
];

/// The addon of this name, or an error that lists them.
pub fn find(name: &str) -> Result<&'static Addon> {
    match ADDONS.iter().find(|a| a.name == name) {
        Some(addon) => Ok(addon),
        None => bail!(
            "there is no addon '{name}': the addons are {}",
            ADDONS.iter().map(|a| a.name).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// The addon whose row lists this image (`None`: every cluster runs it). An addon's image is
/// built only when the addon is on by default or enabled.
pub fn addon_of(image: Image) -> Option<&'static Addon> {
    ADDONS.iter().find(|a| a.images.contains(&image))
}

/// Whether the addon is on in a profile that made no choice about it.
pub fn on_by_default(name: &str) -> bool {
    ADDONS.iter().any(|a| a.name == name && a.default_on)
}

/// What the choices mean depends on the table: its defaults and what each addon needs.
impl AddonChoices {
    pub fn is_enabled(&self, name: &str) -> bool {
        self.enabled.contains(name) || (on_by_default(name) && !self.disabled.contains(name))
    }

    /// Records a choice; enabling also enables what the addon needs. Returns the addons it turned
    /// on, the asked one last.
    pub fn set(&mut self, name: &str, on: bool) -> Result<Vec<&'static str>> {
        let addon = find(name)?;
        let mut turned_on = Vec::new();
        if on {
            for need in addon.needs {
                if !self.is_enabled(need) {
                    turned_on.extend(self.set(need, true)?);
                }
            }
            self.disabled.remove(name);
            if !addon.default_on {
                self.enabled.insert(name.to_string());
            }
            turned_on.push(addon.name);
        } else {
            self.enabled.remove(name);
            if addon.default_on {
                self.disabled.insert(name.to_string());
            }
        }
        Ok(turned_on)
    }

    /// The enabled addons, in `ADDONS` order.
    pub fn enabled_addons(&self) -> Vec<&'static Addon> {
        ADDONS.iter().filter(|a| self.is_enabled(a.name)).collect()
    }
}

/// The images a node holds before its kubelet starts: pause (every pod's sandbox), CoreDNS, and
/// the node images of the enabled addons (the registry's runs as a container of the profile, not
/// in the nodes). Loaded while the control plane boots, so that no pod waits for an import.
pub fn node_images(enabled: &[&Addon]) -> Vec<Image> {
    let mut images: Vec<Image> = Image::ALL
        .into_iter()
        .filter(|i| i.row().every_node)
        .collect();
    for image in enabled.iter().flat_map(|a| a.images.iter().copied()) {
        if image.row().in_nodes && !images.contains(&image) {
            images.push(image);
        }
    }
    images
}

/// The Kubernetes objects of an addon, rendered for the profile (`None`: it has none).
pub fn manifest(addon: &Addon, config: &ProfileConfig) -> Option<String> {
    (addon.objects)(config)
}

/// `localhost:PORT`, the registry's name on the host and in the nodes, once it has a port.
pub fn registry_host(config: &ProfileConfig) -> Option<String> {
    config
        .addons
        .registry_port
        .map(|port| format!("localhost:{port}"))
}

/// The registry container's role label.
pub const REGISTRY_ROLE: &str = Role::Registry.as_str();
/// The pull-only mirror's role label.
pub const REGISTRY_MIRROR_ROLE: &str = Role::RegistryMirror.as_str();

/// The user name of the registry's one account (`docker login localhost:PORT`); its password is
/// made when the addon is first enabled and kept in the profile (`REGISTRY_PASSWORD_FILE`).
pub const REGISTRY_USER: &str = "localkube";
/// The account's password, in the profile folder, 0600.
pub const REGISTRY_PASSWORD_FILE: &str = "registry/password";
/// Its htpasswd line (bcrypt), in the profile folder, staged for the registry.
pub const REGISTRY_HTPASSWD_FILE: &str = "registry/htpasswd";
/// Where the registry containers find their staged configuration.
const REGISTRY_CONFIG_DIR: &str = "/etc/localkube-registry";

/// The registry's container: `<profile>-registry`.
pub fn registry_container(profile: &ProfileName) -> String {
    format!("{profile}-registry")
}

/// The pull-only mirror the nodes read: `<profile>-registry-mirror`.
pub fn registry_mirror_container(profile: &ProfileName) -> String {
    format!("{profile}-registry-mirror")
}

/// The registry's data volume.
pub fn registry_volume(profile: &ProfileName) -> String {
    format!("{profile}-registry-data")
}

/// The registry's data volume, carrying the profile's label so `delete` removes it.
pub fn registry_volume_spec(profile: &ProfileName) -> VolumeSpec {
    VolumeSpec {
        name: registry_volume(profile),
        labels: BTreeMap::from([(LABEL_PROFILE.to_string(), profile.to_string())]),
    }
}

/// The registry's configuration (distribution v3), staged as `config.yml`: the one the host
/// pushes to asks every request for the account's password (htpasswd); the nodes' mirror serves
/// pulls only (read-only mode: no upload, no delete, no purge of the other's uploads).
pub fn registry_config(pull_only: bool) -> String {
    let head = "# Written by localkube for the registry addon (see plan::addons).\n\
                version: 0.1\n\
                log:\n  level: info\n  accesslog:\n    disabled: true\n\
                http:\n  addr: :5000\n\
                storage:\n  filesystem:\n    rootdirectory: /var/lib/registry\n";
    if pull_only {
        format!(
            "{head}  maintenance:\n    readonly:\n      enabled: true\n    uploadpurging:\n      enabled: false\n"
        )
    } else {
        format!(
            "{head}  delete:\n    enabled: true\n\
             auth:\n  htpasswd:\n    realm: localkube\n    path: {REGISTRY_CONFIG_DIR}/htpasswd\n"
        )
    }
}

/// The generated files of a registry container's config folder (name, contents); the htpasswd
/// file is copied from the profile (`REGISTRY_HTPASSWD_FILE`) beside them.
pub fn registry_staged(pull_only: bool) -> Vec<(String, String)> {
    vec![("config.yml".into(), registry_config(pull_only))]
}

/// The registry the host pushes to (`None` until it has a port): published on 127.0.0.1 only,
/// every request authenticated. It is on the profile's network too (a published port needs
/// one), where pods reach it but have no password.
pub fn registry_spec(
    profile: &ProfileName,
    config: &ProfileConfig,
    facts: &HostFacts,
) -> Option<ContainerSpec> {
    let port = config.addons.registry_port?;
    let mut spec = registry_base(profile, config, facts, &registry_container(profile), false);
    // Loopback only: nothing listens beyond 127.0.0.1.
    spec.ports = vec![PortSpec {
        host_ip: Ipv4Addr::LOCALHOST,
        host_port: port,
        container_port: REGISTRY_CONTAINER_PORT,
        protocol: "tcp".into(),
    }];
    // A registry made from an older plan (one without a password) is made anew.
    Some(crate::plan::spec::with_spec_digest(spec))
}

/// The nodes' registry: the same volume, mounted read-only, served in read-only mode with no
/// account, on the profile's network only (no published port). Pods reach it through their
/// node and can pull what the user pushed, never push.
pub fn registry_mirror_spec(
    profile: &ProfileName,
    config: &ProfileConfig,
    facts: &HostFacts,
) -> ContainerSpec {
    crate::plan::spec::with_spec_digest(registry_base(
        profile,
        config,
        facts,
        &registry_mirror_container(profile),
        true,
    ))
}

fn registry_base(
    profile: &ProfileName,
    config: &ProfileConfig,
    facts: &HostFacts,
    name: &str,
    pull_only: bool,
) -> ContainerSpec {
    let role = if pull_only {
        REGISTRY_MIRROR_ROLE
    } else {
        REGISTRY_ROLE
    };
    let data = registry_volume(profile);
    let target = "/var/lib/registry".to_string();
    let ip = if pull_only {
        registry_mirror_ip(config)
    } else {
        registry_ip(config)
    };
    ContainerSpec {
        name: name.to_string(),
        role: role.into(),
        hostname: name.to_string(),
        image: names::image(Image::Registry.name(), &config.kubernetes_version),
        // The distribution image's own program, with the configuration localkube staged.
        entrypoint: vec!["/bin/registry".into()],
        args: vec!["serve".into(), format!("{REGISTRY_CONFIG_DIR}/config.yml")],
        // On the profile's network at a fixed address: the nodes' hosts.toml files name the
        // mirror's.
        network: names::network(profile),
        ip,
        ip6: config.ipv6_twin(ip),
        mounts: vec![
            // Pushed images outlive the containers: disable removes the volume, stop does not.
            // The mirror cannot write it even if its read-only mode failed.
            if pull_only {
                MountSpec::VolumeReadOnly { name: data, target }
            } else {
                MountSpec::Volume { name: data, target }
            },
            // Its config.yml (and the push side's htpasswd), never written by the registry.
            MountSpec::Bind {
                source: facts.staging_dir(name),
                target: REGISTRY_CONFIG_DIR.into(),
                read_only: true,
            },
        ],
        ports: Vec::new(),
        // Found, stopped and deleted with the profile by its labels.
        labels: BTreeMap::from([
            (LABEL_PROFILE.to_string(), profile.to_string()),
            (LABEL_ROLE.to_string(), role.to_string()),
        ]),
        // Back after a dockerd restart, as the cluster's containers; not after `stop`.
        restart_policy: "unless-stopped".into(),
        // It serves on 5000 and writes its own volume as root; DAC_READ_SEARCH only to read its
        // staged folder (0700, the user's) and the 0600 htpasswd.
        security: crate::plan::spec::least_privilege(&["DAC_READ_SEARCH"]),
        staged_files: if pull_only {
            Vec::new()
        } else {
            vec![StagedFile {
                from: REGISTRY_HTPASSWD_FILE.into(),
                to: "htpasswd".into(),
            }]
        },
    }
}

/// The push side's fixed address on the profile's network (the LB controller has .6).
pub fn registry_ip(config: &ProfileConfig) -> Ipv4Addr {
    let [a, b, c, _] = config.network_subnet.network().octets();
    Ipv4Addr::new(a, b, c, 7)
}

/// The pull-only mirror's fixed address: what the nodes' hosts.toml files name (.8 is the
/// apiservers' load balancer of a control plane of several members).
pub fn registry_mirror_ip(config: &ProfileConfig) -> Ipv4Addr {
    let [a, b, c, _] = config.network_subnet.network().octets();
    Ipv4Addr::new(a, b, c, 9)
}

/// An htpasswd line for the registry's account: bcrypt, the only scheme distribution reads.
pub fn htpasswd_line(bcrypt_hash: &str) -> String {
    format!("{REGISTRY_USER}:{bcrypt_hash}\n")
}

/// The registries the registry addon also stands in for in the nodes (name in image references,
/// the registry itself): containerd asks the addon first and the registry after, so an image
/// stored in the addon under the same path runs even when pulled with `imagePullPolicy: Always`
/// and no internet. Docker Hub for users' images (`luksa/kubia:latest`); registry.k8s.io for
/// Kubernetes' own images, which the conformance specs that pull Always name (the ImageVolume
/// spec's kitten, the PodCertificate spec's agnhost).
pub const MIRRORED_REGISTRIES: &[(&str, &str)] = &[
    ("docker.io", "https://registry-1.docker.io"),
    ("registry.k8s.io", "https://registry.k8s.io"),
];

/// containerd's hosts.toml files of a node (path under its certs.d folder, contents): the registry's
/// pull-only mirror serves `localhost:PORT` and mirrors [`MIRRORED_REGISTRIES`]; anything it
/// lacks still goes to the registry itself. Pull and resolve only: nothing in a node pushes.
pub fn registry_hosts_files(config: &ProfileConfig) -> Vec<(String, String)> {
    let Some(host) = registry_host(config) else {
        return Vec::new();
    };
    let endpoint = format!(
        "http://{}:{REGISTRY_CONTAINER_PORT}",
        registry_mirror_ip(config)
    );
    let own = format!(
        "# The registry addon: {host} is the profile's registry; the nodes read its pull-only\n\
         # mirror (plain HTTP).\n\
         server = \"{endpoint}\"\n\n\
         [host.\"{endpoint}\"]\n  capabilities = [\"pull\", \"resolve\"]\n  skip_verify = true\n"
    );
    let mut files = vec![(format!("{host}/hosts.toml"), own)];
    for (registry, upstream) in MIRRORED_REGISTRIES {
        let mirror = format!(
            "# The registry addon: images pushed to {host} (or loaded with `localkube image load`) are\n\
             # found there first; {registry} itself is tried after, when reachable.\n\
             server = \"{upstream}\"\n\n\
             [host.\"{endpoint}\"]\n  capabilities = [\"pull\", \"resolve\"]\n  skip_verify = true\n"
        );
        files.push((format!("{registry}/hosts.toml"), mirror));
    }
    files
}

/// Where an image of a mirrored registry ([`MIRRORED_REGISTRIES`]) goes in the registry addon so
/// the nodes' mirror finds it: the path containerd asks the mirror for. `luksa/kubia:latest` →
/// `luksa/kubia:latest`, `nginx` → `library/nginx:latest`,
/// `registry.k8s.io/e2e-test-images/kitten:1.8` → `e2e-test-images/kitten:1.8`. `None` for an
/// image of another registry.
pub fn mirror_path(image: &str) -> Option<String> {
    if let Some(path) = image.strip_prefix("registry.k8s.io/") {
        return Some(with_tag(path));
    }
    let image = image.strip_prefix("docker.io/").unwrap_or(image);
    let first = image.split('/').next()?;
    if image.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost") {
        return None;
    }
    let with_tag = with_tag(image);
    Some(if with_tag.contains('/') {
        with_tag
    } else {
        format!("library/{with_tag}")
    })
}

/// A reference with its tag (`:latest` when it names none, as Docker and containerd read it).
fn with_tag(image: &str) -> String {
    if image
        .rsplit('/')
        .next()
        .is_some_and(|last| last.contains(':'))
        || image.contains('@')
    {
        image.to_string()
    } else {
        format!("{image}:latest")
    }
}

/// RBAC of localkube's LoadBalancer controller.
pub fn lb_controller() -> &'static str {
    LB_CONTROLLER
}

/// The CoreDNS addon: ServiceAccount, RBAC, Corefile, Deployment and the kube-dns Service.
pub fn coredns(config: &ProfileConfig) -> String {
    COREDNS
        .replace("{{DNS_DOMAIN}}", &config.dns_domain)
        .replace("{{DNS_IP}}", &config.dns_service_ip().to_string())
        .replace(
            "{{IMAGE}}",
            &names::image("coredns", &config.kubernetes_version),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ProfileConfig {
        ProfileConfig::new(40000, "172.30.1.0/24".parse().unwrap())
    }

    #[test]
    fn coredns_is_filled_in_completely() {
        let config = config();
        let text = coredns(&config);
        assert!(!text.contains("{{"), "placeholder left");
        let docs = crate::yaml::documents(&text).unwrap();
        let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            [
                "ServiceAccount",
                "ClusterRole",
                "ClusterRoleBinding",
                "ConfigMap",
                "Deployment",
                "Service"
            ]
        );
        assert_eq!(docs[5]["spec"]["clusterIP"], "10.96.0.10");
        assert_eq!(
            docs[4]["spec"]["template"]["spec"]["containers"][0]["image"],
            format!(
                "localkube/coredns:{}",
                crate::plan::version::DEFAULT_KUBERNETES_VERSION
            )
        );
        assert!(
            docs[3]["data"]["Corefile"]
                .as_str()
                .unwrap()
                .contains("kubernetes cluster.local in-addr.arpa")
        );
    }

    #[test]
    fn every_manifest_is_filled_in_and_parses() {
        let mut config = config();
        config.addons.registry_port = Some(5123);
        for addon in ADDONS {
            let Some(text) = manifest(addon, &config) else {
                continue;
            };
            assert!(!text.contains("{{"), "{}: placeholder left", addon.name);
            let docs = crate::yaml::documents(&text).unwrap();
            assert!(!docs.is_empty(), "{}", addon.name);
            for doc in docs {
                assert!(doc["metadata"]["name"].is_string(), "{}", addon.name);
            }
        }
        let storage = manifest(find(STORAGE_PROVISIONER_ADDON).unwrap(), &config).unwrap();
        assert!(storage.contains(&format!(
            "localkube/storage-helper:{}",
            crate::plan::version::DEFAULT_KUBERNETES_VERSION
        )));
        assert!(storage.contains(STORAGE_DIR));
    }

    #[test]
    fn choices_follow_defaults_and_are_kept() {
        let mut choices = AddonChoices::default();
        assert!(choices.is_enabled(COREDNS_ADDON));
        assert!(choices.is_enabled(STORAGE_PROVISIONER_ADDON));
        assert!(!choices.is_enabled(REGISTRY_ADDON));
        choices.set(STORAGE_PROVISIONER_ADDON, false).unwrap();
        assert!(!choices.is_enabled(STORAGE_PROVISIONER_ADDON));
        // The default class needs the provisioner: enabling it turns both on.
        assert_eq!(
            choices.set(DEFAULT_STORAGECLASS_ADDON, true).unwrap(),
            [STORAGE_PROVISIONER_ADDON, DEFAULT_STORAGECLASS_ADDON]
        );
        assert!(choices.is_empty(), "back to the defaults: nothing stored");
        choices.set(REGISTRY_ADDON, true).unwrap();
        let text = crate::yaml::to_string(&choices).unwrap();
        let back: AddonChoices = crate::yaml::from_str(&text).unwrap();
        assert_eq!(back, choices);
        assert!(find("ingres").unwrap_err().to_string().contains("registry"));
    }

    #[test]
    fn ingress_is_the_default_class_published_by_the_load_balancer() {
        let config = config();
        let text = manifest(find(INGRESS_ADDON).unwrap(), &config).unwrap();
        let docs = crate::yaml::documents(&text).unwrap();
        let of_kind = |kind: &str| docs.iter().find(|d| d["kind"] == kind).unwrap();
        let class = of_kind("IngressClass");
        assert_eq!(
            class["metadata"]["annotations"]["ingressclass.kubernetes.io/is-default-class"],
            "true"
        );
        let (namespace, name) = INGRESS_SERVICE;
        let service = of_kind("Service");
        assert_eq!(service["spec"]["type"], "LoadBalancer");
        assert_eq!(
            (
                &service["metadata"]["namespace"],
                &service["metadata"]["name"]
            ),
            (&namespace.into(), &name.into())
        );
        let ports: Vec<i64> = service["spec"]["ports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["port"].as_i64().unwrap())
            .collect();
        assert_eq!(ports, [80, 443]);
        let container = &of_kind("Deployment")["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(
            container["image"],
            format!(
                "localkube/traefik:{}",
                crate::plan::version::DEFAULT_KUBERNETES_VERSION
            )
        );
        // The Ingress status carries the address of this very Service.
        let published = format!(
            "--providers.kubernetesIngress.ingressEndpoint.publishedService={namespace}/{name}"
        );
        assert!(
            container["args"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a == published.as_str()),
            "{published} missing"
        );

        // It needs the load balancer: enabling it turns a disabled one back on.
        let mut choices = AddonChoices::default();
        choices.set(LOAD_BALANCER_ADDON, false).unwrap();
        assert_eq!(
            choices.set(INGRESS_ADDON, true).unwrap(),
            [LOAD_BALANCER_ADDON, INGRESS_ADDON]
        );
    }

    #[test]
    fn registry_serves_its_name_and_mirrors_docker_hub_and_registry_k8s_io() {
        let mut config = config();
        assert!(registry_hosts_files(&config).is_empty());
        config.addons.registry_port = Some(5123);
        let files = registry_hosts_files(&config);
        assert_eq!(files[0].0, "localhost:5123/hosts.toml");
        assert!(files[0].1.contains("server = \"http://172.30.1.9:5000\""));
        assert_eq!(files[1].0, "docker.io/hosts.toml");
        assert!(files[1].1.contains("[host.\"http://172.30.1.9:5000\"]"));
        assert!(
            files[1]
                .1
                .contains("server = \"https://registry-1.docker.io\"")
        );
        assert_eq!(files[2].0, "registry.k8s.io/hosts.toml");
        assert!(files[2].1.contains("[host.\"http://172.30.1.9:5000\"]"));
        assert!(files[2].1.contains("server = \"https://registry.k8s.io\""));
        // The nodes never push, and what they read is the pull-only mirror.
        assert!(files.iter().all(|(_, f)| !f.contains("\"push\"")));
        assert_eq!(
            mirror_path("luksa/kubia:latest").as_deref(),
            Some("luksa/kubia:latest")
        );
        assert_eq!(
            mirror_path("nginx").as_deref(),
            Some("library/nginx:latest")
        );
        assert_eq!(
            mirror_path("docker.io/luksa/kubia").as_deref(),
            Some("luksa/kubia:latest")
        );
        assert_eq!(
            mirror_path("registry.k8s.io/e2e-test-images/kitten:1.8").as_deref(),
            Some("e2e-test-images/kitten:1.8")
        );
        assert_eq!(
            mirror_path("registry.k8s.io/pause").as_deref(),
            Some("pause:latest")
        );
        assert_eq!(mirror_path("quay.io/x/y:1"), None);
        assert_eq!(mirror_path("localhost:5000/x"), None);
        assert_eq!(mirror_path("gcr.io/x/y:1"), None);
    }

    #[test]
    fn the_host_pushes_with_a_password_and_the_nodes_read_a_pull_only_mirror() {
        let mut config = config();
        let profile = ProfileName::parse("dev").unwrap();
        let facts = HostFacts::example("/p");
        assert!(registry_spec(&profile, &config, &facts).is_none());
        config.addons.registry_port = Some(5123);
        let push = registry_spec(&profile, &config, &facts).unwrap();
        let mirror = registry_mirror_spec(&profile, &config, &facts);
        assert_eq!(
            (push.name.as_str(), mirror.name.as_str()),
            ("dev-registry", "dev-registry-mirror")
        );
        // Only the push side is published, on loopback; the mirror is where the nodes go.
        assert_eq!(push.ports.len(), 1);
        assert_eq!(push.ports[0].host_ip, Ipv4Addr::LOCALHOST);
        assert!(mirror.ports.is_empty());
        assert_eq!(mirror.ip, "172.30.1.9".parse::<Ipv4Addr>().unwrap());
        // Both clear of the other fixed addresses, a control plane of several members included.
        config.control_planes = 3;
        let others = [
            config.apiserver_lb_ip(),
            config.node_ip(1),
            config.gateway_ip(),
        ];
        assert!(!others.contains(&push.ip) && !others.contains(&mirror.ip));
        assert!(config.members().all(|m| {
            use crate::plan::names::Role;
            let ips = [Role::Etcd, Role::Apiserver].map(|r| config.member_ip(r, m));
            !ips.contains(&push.ip) && !ips.contains(&mirror.ip)
        }));
        // One volume: written by the push side, mounted read-only in the mirror.
        assert!(push.mounts.contains(&MountSpec::Volume {
            name: "dev-registry-data".into(),
            target: "/var/lib/registry".into()
        }));
        assert!(mirror.mounts.contains(&MountSpec::VolumeReadOnly {
            name: "dev-registry-data".into(),
            target: "/var/lib/registry".into()
        }));
        // The push side asks every request for the password; the mirror takes no upload.
        let push_config = registry_config(false);
        assert!(
            push_config.contains("htpasswd:")
                && push_config.contains("/etc/localkube-registry/htpasswd")
        );
        assert!(!push_config.contains("readonly"));
        let mirror_config = registry_config(true);
        assert!(mirror_config.contains("readonly:\n      enabled: true"));
        assert!(!mirror_config.contains("htpasswd") && !mirror_config.contains("delete:"));
        for text in [&push_config, &mirror_config] {
            let value: serde_json::Value = crate::yaml::from_str(text).unwrap();
            assert_eq!(
                value["storage"]["filesystem"]["rootdirectory"],
                "/var/lib/registry"
            );
        }
        assert_eq!(
            push.staged_files.len(),
            1,
            "the htpasswd line, not the password"
        );
        assert!(mirror.staged_files.is_empty());
        // No secret in argv, env or labels: the password never appears in a spec.
        let json = serde_json::to_string(&push).unwrap();
        assert!(!json.contains("password"), "{json}");
        for spec in [&push, &mirror] {
            assert_eq!(spec.security.cap_drop, ["ALL"]);
            assert_eq!(spec.security.cap_add, ["DAC_READ_SEARCH"]);
            assert!(spec.labels.contains_key(names::LABEL_SPEC_DIGEST));
        }
    }

    #[test]
    fn nodes_get_pause_coredns_and_the_enabled_addons_images_but_not_the_registry() {
        let mut choices = AddonChoices::default();
        choices.set(REGISTRY_ADDON, true).unwrap();
        let images = node_images(&choices.enabled_addons());
        assert_eq!(images[..2], [Image::Pause, Image::Coredns]);
        assert!(images.contains(&Image::LocalPathProvisioner));
        assert!(images.contains(&Image::StorageHelper));
        assert!(!images.contains(&Image::Registry));
        assert_eq!(
            images.len(),
            images
                .iter()
                .collect::<std::collections::BTreeSet<_>>()
                .len(),
            "no image twice"
        );
        choices.set(STORAGE_PROVISIONER_ADDON, false).unwrap();
        assert!(!node_images(&choices.enabled_addons()).contains(&Image::StorageHelper));
    }
}
