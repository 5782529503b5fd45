use super::*;
use serde_json::json;

fn config() -> ProfileConfig {
    ProfileConfig::new(40123, "172.30.7.0/24".parse().unwrap())
}

fn profile() -> ProfileName {
    ProfileName::parse("dev").unwrap()
}

#[test]
fn pool_is_the_profiles_own_loopback_block_without_dot_one() {
    let pool = address_pool(&config());
    assert_eq!(pool.first().unwrap().to_string(), "127.30.7.2");
    assert_eq!(pool.last().unwrap().to_string(), "127.30.7.99");
    assert!(pool.iter().all(|a| a.is_loopback() && a.octets()[3] != 1));
}

#[test]
fn allocation_keeps_a_previous_address_and_fills_gaps() {
    let pool = address_pool(&config());
    let a = |s: &str| s.parse::<Ipv4Addr>().unwrap();
    let taken = BTreeSet::from([a("127.30.7.2"), a("127.30.7.4")]);
    assert_eq!(allocate(&pool, &taken, None), Some(a("127.30.7.3")));
    assert_eq!(
        allocate(&pool, &taken, Some(a("127.30.7.50"))),
        Some(a("127.30.7.50"))
    );
    // Taken by another service, or outside the pool: a fresh one.
    assert_eq!(
        allocate(&pool, &taken, Some(a("127.30.7.4"))),
        Some(a("127.30.7.3"))
    );
    assert_eq!(
        allocate(&pool, &taken, Some(a("127.0.0.1"))),
        Some(a("127.30.7.3"))
    );
    let all: BTreeSet<_> = pool.iter().copied().collect();
    assert_eq!(allocate(&pool, &all, None), None);
}

#[test]
fn tcp_ports_are_served_and_others_reported() {
    let svc: Service = serde_json::from_value(json!({
        "metadata": {"name": "kubia"},
        "spec": {"type": "LoadBalancer", "ports": [
            {"port": 8080, "nodePort": 31001},
            {"port": 80, "protocol": "TCP", "nodePort": 31000},
            {"port": 53, "protocol": "UDP", "nodePort": 31053}
        ]}
    }))
    .unwrap();
    let (tcp, other) = service_ports(&svc);
    assert_eq!(
        tcp,
        vec![
            LbPort {
                port: 80,
                node_port: 31000
            },
            LbPort {
                port: 8080,
                node_port: 31001
            }
        ]
    );
    assert_eq!(other, vec!["53/UDP"]);
}

fn lb() -> LoadBalancer {
    LoadBalancer {
        namespace: "default".into(),
        name: "kubia".into(),
        address: "127.30.7.3".parse().unwrap(),
        ports: vec![LbPort {
            port: 80,
            node_port: 31000,
        }],
        localhost: Vec::new(),
        backends: vec!["172.30.7.10".parse().unwrap()],
    }
}

/// A NodePort Service's proxy: no port on its own address, its NodePort on localhost.
fn node_port_lb() -> LoadBalancer {
    LoadBalancer {
        ports: Vec::new(),
        localhost: vec![LbPort {
            port: 30080,
            node_port: 30080,
        }],
        ..lb()
    }
}

#[test]
fn localhost_ports_are_the_proxys_to_bind_or_dockers_to_publish() {
    let mut with_localhost = lb();
    with_localhost.localhost = vec![LbPort {
        port: 80,
        node_port: 31000,
    }];
    let spec = proxy_spec(&profile(), &config(), &with_localhost, "localkube/lb:abc");
    assert_eq!(
        spec.args,
        [
            "--address=127.30.7.3",
            "--listen=80:31000",
            "--localhost=80:31000",
            "--backend=172.30.7.10"
        ]
    );
    assert!(spec.ports.is_empty(), "bound by the proxy itself");
    // Turning localhost on or off recreates the proxy.
    let without = proxy_spec(&profile(), &config(), &lb(), "localkube/lb:abc");
    assert_ne!(spec.labels[LABEL_SPEC], without.labels[LABEL_SPEC]);
    // Published, a LoadBalancer's ports are on 127.0.0.1 already: nothing more.
    let published_lb = proxy_spec(&profile(), &published(), &with_localhost, "i");
    assert_eq!(published_lb.ports.len(), 1);
    assert!(
        !published_lb
            .args
            .iter()
            .any(|a| a.starts_with("--localhost"))
    );
    // A NodePort Service's proxy: its NodePort on localhost, bound or published.
    let np = proxy_spec(&profile(), &config(), &node_port_lb(), "i");
    assert!(np.args.contains(&"--localhost=30080:30080".to_string()));
    assert!(!np.args.iter().any(|a| a.starts_with("--listen")));
    let np = proxy_spec(&profile(), &published(), &node_port_lb(), "i");
    assert_eq!(np.args[1], "--listen=30080:30080");
    assert_eq!(np.ports[0].host_port, 30080);
    assert_eq!(np.ports[0].host_ip, Ipv4Addr::LOCALHOST);
    assert_eq!(check_request(&config(), &node_port_lb()), Ok(()));
    let mut twice = node_port_lb();
    twice.localhost.push(twice.localhost[0].clone());
    assert!(
        check_request(&config(), &twice)
            .unwrap_err()
            .contains("distinct localhost ports")
    );
}

#[test]
fn the_broker_creates_only_proxies_within_the_profile() {
    let config = config();
    assert_eq!(check_request(&config, &lb()), Ok(()));
    let refused = |change: fn(&mut LoadBalancer)| {
        let mut lb = lb();
        change(&mut lb);
        check_request(&config, &lb).unwrap_err()
    };
    assert!(refused(|lb| lb.address = "127.0.0.1".parse().unwrap()).contains("pool"));
    assert!(refused(|lb| lb.address = "127.30.8.3".parse().unwrap()).contains("pool"));
    assert!(refused(|lb| lb.backends = vec!["10.0.0.1".parse().unwrap()]).contains("node"));
    // The host's bridge address, the apiserver's and the controller's are on the network,
    // but no node's.
    for other in [
        "172.30.7.1",
        "172.30.7.3",
        "172.30.7.6",
        "172.30.7.7",
        "172.30.7.19",
    ] {
        let mut lb = lb();
        lb.backends = vec![other.parse().unwrap()];
        assert!(
            check_request(&config, &lb)
                .unwrap_err()
                .contains("node address"),
            "{other}"
        );
    }
    assert!(refused(|lb| lb.backends.clear()).contains("1 to 9 backends"));
    assert!(refused(|lb| lb.ports.clear()).contains("ports"));
    assert!(refused(|lb| lb.ports = vec![lb.ports[0].clone(); 2]).contains("distinct"));
    assert!(
        refused(|lb| lb.ports = (1..=33)
            .map(|port| LbPort {
                port,
                node_port: 30000
            })
            .collect())
        .contains("0 to 32")
    );
    assert!(refused(|lb| lb.name = "x --privileged".into()).contains("service name"));
    assert!(refused(|lb| lb.namespace = String::new()).contains("service name"));
}

#[test]
fn a_stale_status_never_frees_an_address_another_service_holds() {
    let pool = address_pool(&config());
    let a: Ipv4Addr = "127.30.7.2".parse().unwrap();
    let b: Ipv4Addr = "127.30.7.3".parse().unwrap();
    // Service x's proxy holds .2; service y's status still shows .2 from before its proxy
    // went away: y gets another address.
    let mut taken = BTreeSet::from([a]);
    assert_eq!(assign(&pool, &mut taken, None, Some(a)), Some(b));
    assert_eq!(taken, BTreeSet::from([a, b]));
    // Its own proxy's address it keeps; a free address its status shows it gets back.
    let mut taken = BTreeSet::from([a, b]);
    assert_eq!(assign(&pool, &mut taken, Some(b), Some(a)), Some(b));
    let mut taken = BTreeSet::new();
    assert_eq!(assign(&pool, &mut taken, None, Some(b)), Some(b));
}

#[test]
fn the_broker_caps_proxies_and_never_shares_an_address() {
    let config = config();
    let held = |n: usize| -> Vec<(String, String)> {
        (0..n)
            .map(|i| (format!("default/s{i}"), format!("127.30.7.{}", i + 2)))
            .collect()
    };
    assert_eq!(check_capacity(&config, &held(0), &lb()), Ok(()));
    // Its own proxy again (a restart) is fine; another Service's address is not.
    let own = vec![("default/kubia".to_string(), "127.30.7.3".to_string())];
    assert_eq!(check_capacity(&config, &own, &lb()), Ok(()));
    let why = check_capacity(&config, &held(5), &lb()).unwrap_err();
    assert!(why.contains("held by the proxy of default/s1"), "{why}");
    let full = held(address_pool(&config).len());
    assert!(
        check_capacity(&config, &full, &lb())
            .unwrap_err()
            .contains("pool of 98")
    );
}

#[test]
fn requests_travel_as_one_json_line() {
    let request = crate::lb::runtime::Request::Create { lb: lb() };
    let text = serde_json::to_string(&request).unwrap();
    assert!(
        !text.contains('\n') && text.contains("\"op\":\"create\""),
        "{text}"
    );
    let back: crate::lb::runtime::Request = serde_json::from_str(&text).unwrap();
    let crate::lb::runtime::Request::Create { lb: got } = back else {
        panic!("{text}");
    };
    assert_eq!(got, lb());
}

#[test]
fn proxy_listens_on_its_address_only_with_one_capability() {
    let spec = proxy_spec(&profile(), &config(), &lb(), "localkube/lb:abc");
    assert_eq!(spec.name, "dev-lb-default-kubia");
    // Its own listener in the host's namespace, no port published by Docker.
    assert_eq!(spec.network, HOST_NETWORK);
    assert!(spec.ports.is_empty());
    assert_eq!(
        spec.args,
        [
            "--address=127.30.7.3",
            "--listen=80:31000",
            "--backend=172.30.7.10"
        ]
    );
    assert_eq!(spec.labels[LABEL_SERVICE], "default/kubia");
    assert_eq!(spec.labels[LABEL_PROFILE], "dev");
    assert!(!spec.security.privileged);
    assert_eq!(spec.security.cap_drop, ["ALL"]);
    assert_eq!(spec.security.cap_add, ["NET_BIND_SERVICE"]);
    assert_eq!(spec.security.security_opt, ["no-new-privileges"]);
    assert!(spec.mounts.is_empty());
}

fn published() -> ProfileConfig {
    ProfileConfig {
        load_balancer: Exposure::Published,
        ..config()
    }
}

#[test]
fn a_published_proxy_is_on_the_profiles_network_with_its_ports_on_localhost() {
    let spec = proxy_spec(&profile(), &published(), &lb(), "localkube/lb:abc");
    assert_eq!(spec.network, "localkube-dev");
    // 127.30.7.3's slot: .103, clear of the control plane and the nodes.
    assert_eq!(spec.ip.to_string(), "172.30.7.103");
    assert_eq!(
        spec.ports,
        [PortSpec {
            host_ip: Ipv4Addr::LOCALHOST,
            host_port: 80,
            container_port: 80,
            protocol: "tcp".into(),
        }]
    );
    assert_eq!(spec.args[0], "--address=0.0.0.0");
    assert_eq!(spec.security.cap_add, ["NET_BIND_SERVICE"]);
    // Its EXTERNAL-IP is 127.0.0.1; a loopback profile's is the service's own address.
    assert_eq!(
        ingress_address(&published(), lb().address),
        Ipv4Addr::LOCALHOST
    );
    assert_eq!(ingress_address(&config(), lb().address), lb().address);
    // Every slot's address is on the network, above the nodes and below its broadcast.
    let nodes = node_addresses(&config());
    for address in address_pool(&config()) {
        let ip = published_proxy_ip(&config(), address);
        assert!(config().network_subnet.contains(&ip) && ip.octets()[3] < 255);
        assert!(ip > *nodes.last().unwrap(), "{ip}");
    }
    // Switching the exposure recreates the proxy.
    let loopback = proxy_spec(&profile(), &config(), &lb(), "localkube/lb:abc");
    assert_ne!(spec.labels[LABEL_SPEC], loopback.labels[LABEL_SPEC]);
}

#[test]
fn a_profile_without_the_setting_is_loopback_and_loopback_is_not_written() {
    let yaml = crate::yaml::to_string(&config()).unwrap();
    assert!(!yaml.contains("load_balancer"), "{yaml}");
    let back: ProfileConfig = crate::yaml::from_str(&yaml).unwrap();
    assert_eq!(back.load_balancer, Exposure::Loopback);
    let yaml = crate::yaml::to_string(&published()).unwrap();
    let back: ProfileConfig = crate::yaml::from_str(&yaml).unwrap();
    assert_eq!(back.load_balancer, Exposure::Published);
}

#[test]
fn the_digest_changes_with_what_the_proxy_does() {
    let base = proxy_spec(&profile(), &config(), &lb(), "img");
    let same = proxy_spec(&profile(), &config(), &lb(), "img");
    assert_eq!(base.labels[LABEL_SPEC], same.labels[LABEL_SPEC]);
    let mut more_ports = lb();
    more_ports.ports.push(LbPort {
        port: 8080,
        node_port: 31001,
    });
    let mut moved = lb();
    moved.backends = vec!["172.30.7.11".parse().unwrap()];
    for changed in [
        proxy_spec(&profile(), &config(), &more_ports, "img"),
        proxy_spec(&profile(), &config(), &moved, "img"),
        proxy_spec(&profile(), &config(), &lb(), "img2"),
    ] {
        assert_ne!(base.labels[LABEL_SPEC], changed.labels[LABEL_SPEC]);
    }
}

#[test]
fn controller_gets_the_socket_and_its_own_kubeconfig() {
    let paths = HostFacts::example("/p");
    let spec = controller_spec(
        &profile(),
        &config(),
        &paths,
        "localkube/lb:abc",
        Path::new("/run/docker.sock"),
    );
    assert_eq!(spec.name, "dev-lb-controller");
    assert_eq!(spec.ip.to_string(), "172.30.7.6");
    assert!(spec.mounts.contains(&MountSpec::Bind {
        source: "/run/docker.sock".into(),
        target: "/run/localkube-docker/docker.sock".into(),
        read_only: false
    }));
    assert!(
        spec.staged_files
            .iter()
            .any(|f| f.from == "kubeconfigs/lb-controller.conf")
    );
    assert!(spec.ports.is_empty());
    assert_eq!(spec.security.cap_drop, ["ALL"]);
    assert_eq!(
        spec.security.cap_add,
        ["SETUID", "SETGID", "DAC_READ_SEARCH"]
    );
    assert_eq!(spec.security.security_opt, ["no-new-privileges"]);
}

#[test]
fn docker_socket_comes_from_docker_host() {
    assert_eq!(
        docker_socket_path(None).unwrap(),
        PathBuf::from("/var/run/docker.sock")
    );
    assert_eq!(
        docker_socket_path(Some("unix:///run/user/1000/docker.sock")).unwrap(),
        PathBuf::from("/run/user/1000/docker.sock")
    );
    assert!(docker_socket_path(Some("tcp://10.0.0.1:2375")).is_err());
}

#[test]
fn a_service_is_forwarded_to_the_node_addresses_of_its_family() {
    let nodes: Vec<std::net::IpAddr> = ["172.30.7.10", "fd6c:6b00:30:7::a", "172.30.7.11"]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
    let service = |families: serde_json::Value| -> Service {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "s"},
            "spec": {"ipFamilies": families}
        }))
        .unwrap()
    };
    let text = |v: Vec<std::net::IpAddr>| v.iter().map(ToString::to_string).collect::<Vec<_>>();
    assert_eq!(
        text(backends_for(
            &service(serde_json::json!(["IPv6", "IPv4"])),
            &nodes
        )),
        ["172.30.7.10", "172.30.7.11"]
    );
    assert_eq!(
        text(backends_for(&service(serde_json::json!(["IPv6"])), &nodes)),
        ["fd6c:6b00:30:7::a"]
    );
    assert_eq!(
        text(backends_for(
            &service(serde_json::json!(null)),
            &nodes[1..2]
        )),
        ["fd6c:6b00:30:7::a"]
    );
    let mut config = config();
    config.ip_family = crate::plan::networking::IpFamily::Dual;
    config.ipv6 = Some(Default::default());
    assert!(node_addresses(&config).contains(&"fd6c:6b00:30:7::b".parse().unwrap()));
}
