//! Addons: what each one is (the table `ADDONS`), which are on in a profile (`AddonChoices`, stored
//! in its config.yaml), and their manifests (from `addons/`), rendered for a profile. Pure: the
//! effects of enabling and disabling are in `lifecycle::addons`.

use anyhow::{Result, bail};

pub use crate::plan::addon_choices::AddonChoices;
use crate::plan::config::ProfileConfig;
use crate::plan::images::Image;
use crate::plan::names;

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

/// One addon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Addon {
    pub name: &'static str,
    pub description: &'static str,
    /// On in a profile that made no choice about it.
    pub default_on: bool,
    /// The images localkube builds for it (built when it is first enabled) and loads into nodes.
    pub images: &'static [Image],
    /// Addons it needs: enabling it enables them.
    pub needs: &'static [&'static str],
}

/// Every addon, in the order `start` enables them.
pub const ADDONS: &[Addon] = &[
    Addon {
        name: COREDNS_ADDON,
        description: "cluster DNS (CoreDNS as the kube-dns Service)",
        default_on: true,
        images: &[Image::Coredns],
        needs: &[],
    },
    Addon {
        name: LOAD_BALANCER_ADDON,
        description: "LoadBalancer Services on loopback addresses of the profile",
        default_on: true,
        images: &[],
        needs: &[],
    },
    Addon {
        name: STORAGE_PROVISIONER_ADDON,
        description: "PersistentVolumes on the nodes (local-path-provisioner)",
        default_on: true,
        images: &[Image::LocalPathProvisioner, Image::StorageHelper],
        needs: &[],
    },
    Addon {
        name: DEFAULT_STORAGECLASS_ADDON,
        description: "the default StorageClass `standard`",
        default_on: true,
        images: &[],
        needs: &[STORAGE_PROVISIONER_ADDON],
    },
    Addon {
        name: REGISTRY_ADDON,
        description: "an image registry on localhost:PORT, docker.io's mirror in the nodes",
        default_on: false,
        images: &[Image::Registry],
        needs: &[],
    },
    Addon {
        name: METRICS_SERVER_ADDON,
        description: "resource metrics for `kubectl top` (metrics-server)",
        default_on: false,
        images: &[Image::MetricsServer],
        needs: &[],
    },
    Addon {
        name: INGRESS_ADDON,
        description: "Ingresses on a loopback address of the profile, ports 80 and 443 (Traefik)",
        default_on: false,
        images: &[Image::Traefik],
        // Its Service is a LoadBalancer: the load balancer gives it its address.
        needs: &[LOAD_BALANCER_ADDON],
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
    let mut images = vec![Image::Pause, Image::Coredns];
    for image in enabled.iter().flat_map(|a| a.images.iter().copied()) {
        if image != Image::Registry && !images.contains(&image) {
            images.push(image);
        }
    }
    images
}

/// Whether a pod that `start` waits for runs this image. The storage provisioner's helper pods
/// (mkdir, rm) run only when a volume is made or removed: their image is loaded into the nodes
/// while `start` waits for the addons, not before the nodes may run pods.
pub fn needed_by_start(image: Image) -> bool {
    image != Image::StorageHelper
}

/// The Kubernetes objects of an addon, rendered for the profile (`None`: it has none).
pub fn manifest(addon: &Addon, config: &ProfileConfig) -> Option<String> {
    let version = &config.kubernetes_version;
    match addon.name {
        COREDNS_ADDON => Some(coredns(config)),
        LOAD_BALANCER_ADDON => Some(LB_CONTROLLER.to_string()),
        STORAGE_PROVISIONER_ADDON => Some(
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
        ),
        DEFAULT_STORAGECLASS_ADDON => Some(DEFAULT_STORAGECLASS.to_string()),
        REGISTRY_ADDON => Some(REGISTRY.replace("{{HOST}}", &registry_host(config)?)),
        METRICS_SERVER_ADDON => Some(METRICS_SERVER.replace(
            "{{IMAGE}}",
            &names::image(Image::MetricsServer.name(), version),
        )),
        INGRESS_ADDON => {
            Some(INGRESS.replace("{{IMAGE}}", &names::image(Image::Traefik.name(), version)))
        }
        _ => None,
    }
}

/// `localhost:PORT`, the registry's name on the host and in the nodes, once it has a port.
pub fn registry_host(config: &ProfileConfig) -> Option<String> {
    config
        .addons
        .registry_port
        .map(|port| format!("localhost:{port}"))
}

/// The registry's container: `<profile>-registry`.
pub fn registry_container(profile: &crate::plan::profile_name::ProfileName) -> String {
    format!("{profile}-registry")
}

/// The registry's data volume.
pub fn registry_volume(profile: &crate::plan::profile_name::ProfileName) -> String {
    format!("{profile}-registry-data")
}

/// The registry's fixed address on the profile's network (the LB controller has .6).
pub fn registry_ip(config: &ProfileConfig) -> std::net::Ipv4Addr {
    let [a, b, c, _] = config.network_subnet.network().octets();
    std::net::Ipv4Addr::new(a, b, c, 7)
}

/// containerd's hosts.toml files of a node (path under its certs.d folder, contents): the registry
/// serves `localhost:PORT` and mirrors docker.io; anything docker.io it lacks still goes upstream.
pub fn registry_hosts_files(config: &ProfileConfig) -> Vec<(String, String)> {
    let Some(host) = registry_host(config) else {
        return Vec::new();
    };
    let endpoint = format!("http://{}:{REGISTRY_CONTAINER_PORT}", registry_ip(config));
    let own = format!(
        "# The registry addon: {host} is the profile's registry container (plain HTTP).\n\
         server = \"{endpoint}\"\n\n\
         [host.\"{endpoint}\"]\n  capabilities = [\"pull\", \"resolve\", \"push\"]\n  skip_verify = true\n"
    );
    let docker_io = format!(
        "# The registry addon: images pushed to {host} (or loaded with `localkube image load`) are\n\
         # found there first; docker.io itself is tried after, when reachable.\n\
         server = \"https://registry-1.docker.io\"\n\n\
         [host.\"{endpoint}\"]\n  capabilities = [\"pull\", \"resolve\"]\n  skip_verify = true\n"
    );
    vec![
        (format!("{host}/hosts.toml"), own),
        ("docker.io/hosts.toml".to_string(), docker_io),
    ]
}

/// Where a Docker Hub image goes in the registry so the docker.io mirror finds it:
/// `luksa/kubia:latest` → `luksa/kubia:latest`, `nginx` → `library/nginx:latest`. `None` for an
/// image of another registry.
pub fn docker_hub_path(image: &str) -> Option<String> {
    let image = image.strip_prefix("docker.io/").unwrap_or(image);
    let first = image.split('/').next()?;
    if image.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost") {
        return None;
    }
    let with_tag = if image.rsplit('/').next()?.contains(':') || image.contains('@') {
        image.to_string()
    } else {
        format!("{image}:latest")
    };
    Some(if with_tag.contains('/') {
        with_tag
    } else {
        format!("library/{with_tag}")
    })
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
    fn registry_serves_its_name_and_mirrors_docker_hub() {
        let mut config = config();
        assert!(registry_hosts_files(&config).is_empty());
        config.addons.registry_port = Some(5123);
        let files = registry_hosts_files(&config);
        assert_eq!(files[0].0, "localhost:5123/hosts.toml");
        assert!(files[0].1.contains("server = \"http://172.30.1.7:5000\""));
        assert_eq!(files[1].0, "docker.io/hosts.toml");
        assert!(files[1].1.contains("[host.\"http://172.30.1.7:5000\"]"));
        assert_eq!(
            docker_hub_path("luksa/kubia:latest").as_deref(),
            Some("luksa/kubia:latest")
        );
        assert_eq!(
            docker_hub_path("nginx").as_deref(),
            Some("library/nginx:latest")
        );
        assert_eq!(
            docker_hub_path("docker.io/luksa/kubia").as_deref(),
            Some("luksa/kubia:latest")
        );
        assert_eq!(docker_hub_path("quay.io/x/y:1"), None);
        assert_eq!(docker_hub_path("localhost:5000/x"), None);
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
