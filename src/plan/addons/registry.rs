//! The registry addon: the push side the host reaches on `localhost:PORT` with a password, the
//! pull-only mirror the nodes read, their configuration and the nodes' containerd hosts files.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use crate::plan::config::ProfileConfig;
use crate::plan::images::Image;
use crate::plan::names::{self, LABEL_PROFILE, LABEL_ROLE, Role};
use crate::plan::profile_name::ProfileName;
use crate::plan::spec::{ContainerSpec, HostFacts, MountSpec, PortSpec, StagedFile, VolumeSpec};

/// The registry's port inside its container; the host publishes it on `localhost:<port>`.
pub const REGISTRY_CONTAINER_PORT: u16 = 5000;

/// `localhost:PORT`, the registry's name on the host and in the nodes, once it has a port.
pub fn registry_host(config: &ProfileConfig) -> Option<String> {
    config
        .addons
        .registry_port
        .map(|port| format!("localhost:{port}"))
}

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
        Role::RegistryMirror
    } else {
        Role::Registry
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
        role,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::addons::tests::config;

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
}
