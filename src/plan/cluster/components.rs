//! The control plane's containers: etcd, the apiserver, the controller-manager and the
//! scheduler, every flag with the reason it is there, grouped by purpose.

use std::net::Ipv4Addr;

use super::{
    APISERVER_PORT, COMPONENT_CONFIG_DIR, ContainerSpec, ETCD_CLIENT_PORT, ETCD_PEER_PORT,
    HostFacts, Member, MountSpec, PortSpec, SecuritySpec, control_plane_container, staged,
};
use crate::plan::config::ProfileConfig;
use crate::plan::names::{self, Role};
use crate::plan::networking;
use crate::plan::pki;
use crate::plan::profile_name::ProfileName;

pub(super) fn etcd(
    profile: &ProfileName,
    config: &ProfileConfig,
    paths: &HostFacts,
    member: u32,
) -> ContainerSpec {
    let name = names::member_container(profile, Role::Etcd, member);
    let ip = config.member_ip(Role::Etcd, member);
    let pki = format!("{COMPONENT_CONFIG_DIR}/pki/etcd");
    let mut args = vec![
        // A member named after its container, so its logs and errors say which profile's.
        format!("--name={name}"),
        // The data lives on a named volume: the whole cluster state, kept across stop/start.
        "--data-dir=/var/lib/etcd".into(),
        // Where clients reach it: the apiserver on the profile's network; loopback for checks run
        // inside the container.
        format!(
            "--listen-client-urls=https://127.0.0.1:{ETCD_CLIENT_PORT},https://{ip}:{ETCD_CLIENT_PORT}"
        ),
        format!("--advertise-client-urls=https://{ip}:{ETCD_CLIENT_PORT}"),
        // The peer port is on the profile's network only. One member: the initial cluster
        // names nobody else, so it never waits for a quorum; several: it names every member,
        // all started at once, which elect a leader among themselves (read only when the data
        // directory is new: a member that has data knows its cluster).
        format!("--listen-peer-urls=https://{ip}:{ETCD_PEER_PORT}"),
        format!("--initial-advertise-peer-urls=https://{ip}:{ETCD_PEER_PORT}"),
        format!("--initial-cluster={}", initial_cluster(profile, config)),
        // Plain HTTP metrics and /health on loopback only, for the status check via docker exec.
        "--listen-metrics-urls=http://127.0.0.1:2381".into(),
        // Clients: TLS with etcd's own CA, and a client certificate of that CA required, so only
        // the apiserver (apiserver-etcd-client) reads or writes the cluster's state (CIS 2.1, 2.2).
        format!("--cert-file={pki}/server.crt"),
        format!("--key-file={pki}/server.key"),
        format!("--trusted-ca-file={pki}/ca.crt"),
        "--client-cert-auth=true".into(),
        // Peers: the same, for the peer port (CIS 2.4, 2.5).
        format!("--peer-cert-file={pki}/peer.crt"),
        format!("--peer-key-file={pki}/peer.key"),
        format!("--peer-trusted-ca-file={pki}/ca.crt"),
        "--peer-client-cert-auth=true".into(),
        // A snapshot every 10,000 writes, as kubeadm sets it: the log kept in memory and replayed
        // after a restart stays short, so a start after `stop` or a crash is quick.
        "--snapshot-count=10000".into(),
    ];
    if config.is_ha() {
        // The cluster's own token: members of another profile's etcd, should one ever be
        // misaddressed, refuse to join this one.
        args.push(format!("--initial-cluster-token={profile}"));
    }
    // Each member has a server and a peer certificate of its own, naming its address; inside
    // the container they have the single member's file names.
    let (server, peer) = (pki::etcd_server(member), pki::etcd_peer(member));
    let pki_file = |stem: &str, ext: &str| format!("pki/{stem}.{ext}");
    let files = [
        (pki_file(pki::ETCD_CA, "crt"), pki_file(pki::ETCD_CA, "crt")),
        (pki_file(&server, "crt"), pki_file(pki::ETCD_SERVER, "crt")),
        (pki_file(&server, "key"), pki_file(pki::ETCD_SERVER, "key")),
        (pki_file(&peer, "crt"), pki_file(pki::ETCD_PEER, "crt")),
        (pki_file(&peer, "key"), pki_file(pki::ETCD_PEER, "key")),
    ];
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(from, to)| (from.as_str(), to.as_str()))
        .collect();
    let mut spec = control_plane_container(
        profile,
        config,
        paths,
        Role::Etcd,
        Member::of(config, member),
        "etcd",
        args,
        staged(&files),
    );
    spec.mounts.push(MountSpec::Volume {
        name: names::etcd_member_volume(profile, member),
        target: "/var/lib/etcd".into(),
    });
    spec
}

/// etcd's `--initial-cluster`: every member's name and peer URL.
pub fn initial_cluster(profile: &ProfileName, config: &ProfileConfig) -> String {
    config
        .members()
        .map(|m| {
            format!(
                "{}=https://{}:{ETCD_PEER_PORT}",
                names::member_container(profile, Role::Etcd, m),
                config.member_ip(Role::Etcd, m)
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The apiserver's `--etcd-servers`: its own member's etcd first, then the others, which its
/// client fails over to when that one is down.
fn etcd_servers(config: &ProfileConfig, member: u32) -> String {
    std::iter::once(member)
        .chain(config.members().filter(|m| *m != member))
        .map(|m| {
            format!(
                "https://{}:{ETCD_CLIENT_PORT}",
                config.member_ip(Role::Etcd, m)
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

pub(super) fn apiserver(
    profile: &ProfileName,
    config: &ProfileConfig,
    paths: &HostFacts,
    member: u32,
) -> ContainerSpec {
    let pki = format!("{COMPONENT_CONFIG_DIR}/pki");
    let ip = config.member_ip(Role::Apiserver, member);
    let args = vec![
        // Where it serves. The address the `kubernetes` Service's endpoints carry: its own on
        // the profile's network, which pods reach through their node (with several members,
        // each apiserver adds its own, and removes it when it stops).
        // An IPv6 profile's is its IPv6 address: the Service's endpoints take the family of
        // its primary range.
        format!("--advertise-address={}", config.primary_ip(ip)),
        // kubeadm's port inside the container; the host publishes it on the profile's own port.
        format!("--secure-port={APISERVER_PORT}"),
        // What workloads may ask for: privileged containers, as on a kubeadm cluster, so what
        // runs there (CSI drivers, CNI daemons, debugging pods) runs here too.
        "--allow-privileged=true".into(),
        // Who may do what: a kubelet only what its own node needs (the Node authorizer, and
        // NodeRestriction so it changes only its own Node and pods; CIS 1.2.7-1.2.9, 1.2.15),
        // everyone else what RBAC grants.
        "--authorization-mode=Node,RBAC".into(),
        "--enable-admission-plugins=NodeRestriction".into(),
        // Who its callers are: client certificates signed by the cluster CA (the admin, the
        // components, the kubelets). Its own serving certificate names every address it is
        // reached at (127.0.0.1, its address, kubernetes.default.svc...).
        format!("--client-ca-file={pki}/ca.crt"),
        format!("--tls-cert-file={pki}/apiserver.crt"),
        format!("--tls-private-key-file={pki}/apiserver.key"),
        // Its identity toward the kubelets (logs, exec, port-forward), which authorize it through
        // the apiserver like any caller.
        format!("--kubelet-client-certificate={pki}/apiserver-kubelet-client.crt"),
        format!("--kubelet-client-key={pki}/apiserver-kubelet-client.key"),
        // Each kubelet's serving certificate is signed by the cluster CA for its name and
        // address, so the apiserver verifies the kubelet it talks to (CIS 1.2.5).
        format!("--kubelet-certificate-authority={pki}/ca.crt"),
        // A node's InternalIP is its address on the profile's network; its hostname resolves
        // nowhere the apiserver looks.
        "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname".into(),
        // No /debug/pprof: nothing here profiles it, and it would only widen what answers
        // (CIS 1.2.18).
        "--profiling=false".into(),
        // Its store: etcd on the profile's network (every member, its own first), over TLS with
        // etcd's own CA and the one client certificate etcd accepts.
        format!("--etcd-servers={}", etcd_servers(config, member)),
        format!("--etcd-cafile={pki}/etcd/ca.crt"),
        format!("--etcd-certfile={pki}/apiserver-etcd-client.crt"),
        format!("--etcd-keyfile={pki}/apiserver-etcd-client.key"),
        // ClusterIPs come from the profile's service ranges, primary family first (the
        // controller-manager is given the same, so no node's pod range overlaps them).
        format!(
            "--service-cluster-ip-range={}",
            networking::comma_list(&config.service_cidrs())
        ),
        // ServiceAccount tokens: signed with sa.key, checked with sa.pub, issued under the
        // in-cluster URL as kubeadm names it, so bound tokens (TokenRequest) work.
        format!(
            "--service-account-issuer=https://kubernetes.default.svc.{}",
            config.dns_domain
        ),
        format!("--service-account-key-file={pki}/sa.pub"),
        format!("--service-account-signing-key-file={pki}/sa.key"),
        // Aggregated APIs (metrics-server): the apiserver calls them as front-proxy-client, and
        // they trust the user it names in these headers only from that certificate of the
        // front-proxy CA; the header names are the ones every extension server reads.
        format!("--proxy-client-cert-file={pki}/front-proxy-client.crt"),
        format!("--proxy-client-key-file={pki}/front-proxy-client.key"),
        format!("--requestheader-client-ca-file={pki}/front-proxy-ca.crt"),
        "--requestheader-allowed-names=front-proxy-client".into(),
        "--requestheader-extra-headers-prefix=X-Remote-Extra-".into(),
        "--requestheader-group-headers=X-Remote-Group".into(),
        "--requestheader-username-headers=X-Remote-User".into(),
    ];
    let mut spec = control_plane_container(
        profile,
        config,
        paths,
        Role::Apiserver,
        Member::of(config, member),
        "kube-apiserver",
        args,
        staged(&[
            ("pki/ca.crt", "pki/ca.crt"),
            ("pki/apiserver.crt", "pki/apiserver.crt"),
            ("pki/apiserver.key", "pki/apiserver.key"),
            (
                "pki/apiserver-kubelet-client.crt",
                "pki/apiserver-kubelet-client.crt",
            ),
            (
                "pki/apiserver-kubelet-client.key",
                "pki/apiserver-kubelet-client.key",
            ),
            ("pki/front-proxy-ca.crt", "pki/front-proxy-ca.crt"),
            ("pki/front-proxy-client.crt", "pki/front-proxy-client.crt"),
            ("pki/front-proxy-client.key", "pki/front-proxy-client.key"),
            ("pki/etcd/ca.crt", "pki/etcd/ca.crt"),
            (
                "pki/apiserver-etcd-client.crt",
                "pki/apiserver-etcd-client.crt",
            ),
            (
                "pki/apiserver-etcd-client.key",
                "pki/apiserver-etcd-client.key",
            ),
            ("pki/sa.pub", "pki/sa.pub"),
            ("pki/sa.key", "pki/sa.key"),
        ]),
    );
    if config.is_ha() {
        // Several members are published once, by their load balancer.
        return spec;
    }
    // Published on 127.0.0.1 only, on the port chosen once for the profile: kubectl on the host
    // reaches it, nothing beyond this machine does.
    spec.ports.push(PortSpec {
        host_ip: Ipv4Addr::LOCALHOST,
        host_port: config.apiserver_port,
        container_port: APISERVER_PORT,
        protocol: "tcp".into(),
    });
    spec
}

pub(super) fn controller_manager(
    profile: &ProfileName,
    config: &ProfileConfig,
    paths: &HostFacts,
    member: u32,
) -> ContainerSpec {
    let dir = COMPONENT_CONFIG_DIR;
    let kubeconfig = format!("{dir}/controller-manager.conf");
    let mut args = own_port_and_identity(&kubeconfig);
    // Callers of its port are checked against the cluster and front-proxy CAs.
    args.extend([
        format!("--client-ca-file={dir}/pki/ca.crt"),
        format!("--requestheader-client-ca-file={dir}/pki/front-proxy-ca.crt"),
        // The CA it publishes to every namespace (kube-root-ca.crt), by which pods trust the
        // apiserver.
        format!("--root-ca-file={dir}/pki/ca.crt"),
        // Signs the tokens of ServiceAccount token Secrets; the apiserver checks them with sa.pub.
        format!("--service-account-private-key-file={dir}/pki/sa.key"),
        // Approved CertificateSigningRequests are signed by the cluster CA, so what they grant is
        // trusted where the CA's other certificates are.
        format!("--cluster-signing-cert-file={dir}/pki/ca.crt"),
        format!("--cluster-signing-key-file={dir}/pki/ca.key"),
        // Each controller acts as its own ServiceAccount, so RBAC gives each only its own rights.
        "--use-service-account-credentials=true".into(),
        // Getting those identities costs four requests per controller (the ServiceAccount, its
        // namespace, its creation, a token), made one controller after another through the
        // client's rate limiter before any controller runs. At the default 20 requests/s with a
        // burst of 30 that alone took 5-6 s of every first start; one user's cluster has no
        // need to shield its apiserver from its own controller-manager, which the apiserver's
        // priority and fairness does anyway.
        "--kube-api-qps=200".into(),
        "--kube-api-burst=400".into(),
        // Every default controller, and the two bootstrap-token ones kubeadm turns on too (off by
        // default): the cluster-info ConfigMap stays signed, and expired tokens are removed.
        "--controllers=*,bootstrapsigner,tokencleaner".into(),
        // Each node gets a /24 of the pod CIDR in node.spec.podCIDR; the node's CNI config and
        // the other nodes' routes are made from it.
        "--allocate-node-cidrs=true".into(),
        format!(
            "--cluster-cidr={}",
            networking::comma_list(&config.pod_cidrs())
        ),
        // The apiserver's service ranges: node pod ranges are never carved out of them.
        format!(
            "--service-cluster-ip-range={}",
            networking::comma_list(&config.service_cidrs())
        ),
        // The profile's name, where the controllers name the cluster.
        format!("--cluster-name={profile}"),
        leader_election(config),
        // No /debug/pprof (CIS 1.3.2).
        "--profiling=false".into(),
    ]);
    // With IPv6, each family's node range size by its own flag (the single
    // --node-cidr-mask-size is refused for dual-stack, and a family the cluster does not run
    // may not be named): a /24 and a /64 per node, the sizes `plan::node_config` registers the
    // nodes with.
    if config.ip_family.has_ipv6() {
        use crate::plan::networking::NODE_POD_CIDR_PREFIX_V6;
        use crate::plan::node_config::NODE_POD_CIDR_PREFIX;
        if config.ip_family.has_ipv4() {
            args.push(format!("--node-cidr-mask-size-ipv4={NODE_POD_CIDR_PREFIX}"));
        }
        args.push(format!(
            "--node-cidr-mask-size-ipv6={NODE_POD_CIDR_PREFIX_V6}"
        ));
    }
    control_plane_container(
        profile,
        config,
        paths,
        Role::ControllerManager,
        Member::of(config, member),
        "kube-controller-manager",
        args,
        staged(&[
            (
                "kubeconfigs/controller-manager.conf",
                "controller-manager.conf",
            ),
            ("pki/ca.crt", "pki/ca.crt"),
            ("pki/ca.key", "pki/ca.key"),
            ("pki/front-proxy-ca.crt", "pki/front-proxy-ca.crt"),
            ("pki/sa.key", "pki/sa.key"),
        ]),
    )
}

pub(super) fn scheduler(
    profile: &ProfileName,
    config: &ProfileConfig,
    paths: &HostFacts,
    member: u32,
) -> ContainerSpec {
    let kubeconfig = format!("{COMPONENT_CONFIG_DIR}/scheduler.conf");
    let mut args = own_port_and_identity(&kubeconfig);
    args.extend([
        leader_election(config),
        // No /debug/pprof (CIS 1.4.1).
        "--profiling=false".into(),
    ]);
    control_plane_container(
        profile,
        config,
        paths,
        Role::Scheduler,
        Member::of(config, member),
        "kube-scheduler",
        args,
        staged(&[("kubeconfigs/scheduler.conf", "scheduler.conf")]),
    )
}

/// Leader election of the controller-manager and the scheduler. One replica: no one to elect
/// against, and no lease traffic. Several: one member acts and holds the component's Lease in
/// kube-system, the others wait; when the holder stops renewing it (kubeadm's defaults: a lease
/// of 15 s, renewed every 2 s), another takes it over.
fn leader_election(config: &ProfileConfig) -> String {
    format!("--leader-elect={}", config.is_ha())
}

/// The flags the controller-manager and the scheduler share: their identity (the kubeconfig of
/// system:kube-controller-manager or system:kube-scheduler) for their own calls and for checking,
/// through the apiserver, who calls their /healthz and /metrics; and their secure port on
/// loopback inside their container only, as nothing outside needs it (CIS 1.3.7, 1.4.2).
fn own_port_and_identity(kubeconfig: &str) -> Vec<String> {
    vec![
        format!("--kubeconfig={kubeconfig}"),
        format!("--authentication-kubeconfig={kubeconfig}"),
        format!("--authorization-kubeconfig={kubeconfig}"),
        "--bind-address=127.0.0.1".into(),
    ]
}

/// netinit's NET_ADMIN and SETPCAP (it drops both), and the right to read the staged files (see
/// [`CAPABILITY_REASONS`]); the component itself keeps only DAC_READ_SEARCH.
///
/// [`CAPABILITY_REASONS`]: crate::plan::spec::CAPABILITY_REASONS
pub fn control_plane_security() -> SecuritySpec {
    crate::plan::spec::least_privilege(&["NET_ADMIN", "SETPCAP", "DAC_READ_SEARCH"])
}
