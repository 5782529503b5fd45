//! Addons: what each one is (the table `ADDONS`), which are on in a profile (`AddonChoices`, stored
//! in its config.yaml), and their manifests (from `addons/`), rendered for a profile. Pure: the
//! effects of enabling and disabling are in `lifecycle::addons`.

use std::net::Ipv4Addr;

use anyhow::{Result, bail};

pub use crate::plan::addon_choices::AddonChoices;
pub use registry::*;
mod registry;

use crate::plan::config::ProfileConfig;
use crate::plan::images::Image;
use crate::plan::names;

const COREDNS: &str = include_str!("../../../addons/coredns.yaml");
const LB_CONTROLLER: &str = include_str!("../../../addons/lb-controller.yaml");
const STORAGE_PROVISIONER: &str = include_str!("../../../addons/storage-provisioner.yaml");
const DEFAULT_STORAGECLASS: &str = include_str!("../../../addons/default-storageclass.yaml");
const REGISTRY: &str = include_str!("../../../addons/registry.yaml");
const METRICS_SERVER: &str = include_str!("../../../addons/metrics-server.yaml");
const INGRESS: &str = include_str!("../../../addons/ingress.yaml");

/// Where the storage-provisioner keeps volumes on a node: on its /var volume, so they outlive the
/// node's container.
pub const STORAGE_DIR: &str = "/var/lib/localkube/storage";

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
    /// `Role::LbController`; the proxies it makes go with it.
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
pub(crate) mod tests {
    use super::*;

    pub(crate) fn config() -> ProfileConfig {
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
