//! The load balancer in front of the apiservers of a control plane of several members: the
//! profile's one apiserver address, on the host (`127.0.0.1:<port>`, what kubectl uses) and on
//! the profile's network (what the kubelets, kube-proxy, the controller-managers, the schedulers
//! and the addons use). It is localkube's own TCP forwarder (`localkube lb-proxy`, the image the
//! LoadBalancer proxies run), which sends each connection to an apiserver that answers /readyz.
//! docs/DECISIONS.md says why this and not haproxy, Envoy or a virtual IP.

use std::net::Ipv4Addr;

use super::{
    APISERVER_PORT, COMPONENT_CONFIG_DIR, ContainerSpec, HostFacts, PortSpec, config_mount, labels,
    staged,
};
use crate::plan::config::ProfileConfig;
use crate::plan::names::{self, Role};
use crate::plan::profile_name::ProfileName;

/// Where the forwarder finds the cluster CA it checks the apiservers' certificates with.
pub const READY_CHECK_CA: &str = "pki/ca.crt";

pub(super) fn apiserver_lb(
    profile: &ProfileName,
    config: &ProfileConfig,
    paths: &HostFacts,
) -> ContainerSpec {
    let name = names::apiserver_lb_container(profile);
    let ip = config.apiserver_lb_ip();
    let mut args = vec![
        // Its own address on the profile's network: the published port reaches it there, and
        // the nodes and components connect to it directly.
        format!("--address={ip}"),
        // The apiservers' port, on the same port: clients see one apiserver.
        format!("--listen={APISERVER_PORT}:{APISERVER_PORT}"),
        // Every apiserver is asked for /readyz every 250 ms over TLS, checked against the
        // cluster CA: new connections go to those that are ready (one restarting, or cut off
        // from etcd, gets none), and to all in turn when none is.
        format!("--ready-check-ca={COMPONENT_CONFIG_DIR}/{READY_CHECK_CA}"),
    ];
    // Every member's apiserver.
    args.extend(
        config
            .members()
            .map(|m| format!("--backend={}", config.member_ip(Role::Apiserver, m))),
    );
    ContainerSpec {
        mounts: vec![config_mount(paths, &name, COMPONENT_CONFIG_DIR)],
        hostname: name.clone(),
        // This build's localkube binary, which the LoadBalancer controller runs too.
        image: paths.lb_image.clone(),
        entrypoint: vec!["/usr/local/bin/localkube".into(), "lb-proxy".into()],
        args,
        network: names::network(profile),
        // Fixed: the apiserver certificate and every kubeconfig in the cluster name it.
        ip,
        ip6: config.ipv6_twin(ip),
        // Published on 127.0.0.1 only, on the port chosen once for the profile, as a single
        // apiserver is: kubectl on the host reaches it, nothing beyond this machine does.
        ports: vec![PortSpec {
            host_ip: Ipv4Addr::LOCALHOST,
            host_port: config.apiserver_port,
            container_port: APISERVER_PORT,
            protocol: "tcp".into(),
        }],
        labels: labels(profile, Role::ApiserverLb.as_str(), None),
        // Back after a crash or a dockerd restart, but a `localkube stop` stays stopped.
        restart_policy: "unless-stopped".into(),
        // A forwarder on an unprivileged port: only the right to read its staged CA, which
        // belongs to the user who runs localkube.
        security: crate::plan::spec::least_privilege(&["DAC_READ_SEARCH"]),
        staged_files: staged(&[("pki/ca.crt", READY_CHECK_CA)]),
        role: Role::ApiserverLb,
        name,
    }
}
