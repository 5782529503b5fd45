//! The checks, each against made-up facts of a host.

use super::*;

fn daemon() -> DaemonFacts {
    DaemonFacts {
        address: "unix:///var/run/docker.sock".into(),
        version: "28.5.2".into(),
        api_version: "1.51".into(),
        components: vec!["Engine".into(), "containerd".into(), "runc".into()],
        operating_system: "Debian GNU/Linux 13 (trixie)".into(),
        security_options: vec![
            "name=seccomp,profile=builtin".into(),
            "name=cgroupns".into(),
        ],
        cgroup_version: 2,
        cgroup_driver: "systemd".into(),
        memory_limit: true,
        cpu_cfs_quota: true,
        cpu_set: true,
        pids_limit: true,
        root_dir: "/var/lib/docker".into(),
        kernel_version: "6.12.0".into(),
        storage_driver: "overlayfs".into(),
        local: true,
        ..Default::default()
    }
}

fn kernel() -> KernelFacts {
    KernelFacts {
        cgroup_version: 2,
        cgroup_controllers: ["cpuset", "cpu", "io", "memory", "hugetlb", "pids"]
            .map(String::from)
            .to_vec(),
        overlay: true,
        bridge_netfilter: true,
        iptables_legacy: false,
        nf_tables: true,
        modules_dir: true,
        inotify_max_user_instances: Some(8192),
        inotify_max_user_watches: Some(1_048_576),
        ipv6: Some(true),
        ip6tables: true,
    }
}

/// A healthy cgroup v2 laptop.
fn facts() -> Facts {
    Facts {
        daemon: Ok(daemon()),
        kernel: Some(kernel()),
        routes: parse_routes(
            "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n\
                 wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n\
                 wlan0\t0001A8C0\t00000000\t0001\t0\t0\t600\t00FFFFFF\t0\t0\t0\n\
                 docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n",
        ),
        networks: vec![Network {
            name: "bridge".into(),
            subnets: vec!["172.17.0.0/16".parse().unwrap()],
            bridge: "docker0".into(),
        }],
        disks: vec![Disk {
            what: "Docker's images and volumes".into(),
            path: "/var/lib/docker".into(),
            free_bytes: 100 << 30,
        }],
        port_free: Some(true),
        apiserver_running: false,
        own_bridge: Some("br-0123456789ab".into()),
    }
}

fn existing(nodes: u32) -> Intent {
    Intent {
        nodes,
        subnet: Some("172.30.7.0/24".parse().unwrap()),
        candidates: Vec::new(),
        apiserver_port: Some(40123),
        ip_family: IpFamily::Ipv4,
    }
}

fn new_profile() -> Intent {
    Intent {
        nodes: 1,
        subnet: None,
        candidates: crate::plan::config::candidate_subnets("p").collect(),
        apiserver_port: None,
        ip_family: IpFamily::Ipv4,
    }
}

fn problems(findings: &[Finding]) -> Vec<String> {
    findings
        .iter()
        .filter(|f| f.severity != Severity::Ok)
        .map(Finding::line)
        .collect()
}

#[test]
fn a_healthy_cgroup_v2_host_has_nothing_to_say() {
    let findings = check(&facts(), &existing(1));
    assert!(problems(&findings).is_empty(), "{:#?}", problems(&findings));
    for check in [
        "docker", "cgroup", "kernel", "inotify", "disk", "network", "port",
    ] {
        assert!(
            findings.iter().any(|f| f.check == check),
            "no verdict for {check}"
        );
    }
}

#[test]
fn docker_before_28_is_named_with_what_it_exposes_and_the_rule_that_closes_it() {
    let mut facts = facts();
    facts.daemon.as_mut().unwrap().version = "20.10.24+dfsg1".into();
    let findings = check(&facts, &existing(1));
    let warning = findings
        .iter()
        .find(|f| f.check == "docker" && f.severity == Severity::Warning)
        .expect("a warning for Docker 20.10");
    assert!(warning.message.contains("127.0.0.1"), "{}", warning.line());
    assert!(warning.fix.as_deref().unwrap().contains("Docker Engine 28"));
    // 28 and newer, and an engine that says no version, get none.
    for version in ["28.0.0", "29.1.2", ""] {
        facts.daemon.as_mut().unwrap().version = version.into();
        let findings = check(&facts, &existing(1));
        assert!(
            !findings.iter().any(|f| f.severity == Severity::Warning),
            "{version}: {findings:#?}"
        );
    }
}

#[test]
fn routes_parse_from_proc_net_route() {
    let routes = facts().routes;
    assert_eq!(
        routes[0].destination,
        "0.0.0.0/0".parse::<Ipv4Net>().unwrap()
    );
    assert_eq!(
        routes[1].destination,
        "192.168.1.0/24".parse::<Ipv4Net>().unwrap()
    );
    assert_eq!(routes[1].interface, "wlan0");
    assert_eq!(
        routes[2].destination,
        "172.17.0.0/16".parse::<Ipv4Net>().unwrap()
    );
}

#[test]
fn an_old_engine_is_refused_naming_the_version_needed() {
    let mut f = facts();
    f.daemon = Ok(DaemonFacts {
        version: "19.03.15".into(),
        api_version: "1.40".into(),
        ..daemon()
    });
    let findings = check(&f, &existing(1));
    let blocking = blocking(&findings);
    assert_eq!(blocking.len(), 1, "{findings:#?}");
    let line = blocking[0].line();
    assert!(
        line.contains("19.03.15") && line.contains("API 1.40"),
        "{line}"
    );
    assert!(
        line.contains("Docker Engine 20.10 or newer (API 1.41)"),
        "{line}"
    );
    // Newer than localkube knows is fine: the API is negotiated down.
    f.daemon = Ok(DaemonFacts {
        api_version: "1.52".into(),
        ..daemon()
    });
    assert!(blocking_of(&f, &existing(1)).is_empty());
}

fn blocking_of(f: &Facts, i: &Intent) -> Vec<String> {
    blocking(&check(f, i)).iter().map(|f| f.line()).collect()
}

#[test]
fn podman_is_refused_with_what_to_use_instead() {
    let mut f = facts();
    f.daemon = Ok(DaemonFacts {
        version: "5.4.2".into(),
        api_version: "1.41".into(),
        components: vec!["Podman Engine".into(), "Conmon".into()],
        ..daemon()
    });
    let lines = blocking_of(&f, &existing(1));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("Podman 5.4.2"), "{}", lines[0]);
    assert!(
        lines[0].contains("fix: install Docker Engine"),
        "{}",
        lines[0]
    );
}

#[test]
fn no_daemon_blocks_with_how_to_start_one() {
    let mut f = facts();
    f.daemon = Err("connection refused".into());
    let lines = blocking_of(&f, &existing(1));
    assert_eq!(lines.len(), 1);
    assert!(lines[0].contains("systemctl start docker"), "{}", lines[0]);
}

#[test]
fn a_missing_memory_controller_blocks_and_the_fix_fits_the_host() {
    let mut f = facts();
    f.daemon = Ok(DaemonFacts {
        memory_limit: false,
        ..daemon()
    });
    let lines = blocking_of(&f, &existing(1));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("memory cgroup controller"),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("echo '+memory'"), "{}", lines[0]);
    // Rootless: systemd must delegate it.
    f.daemon = Ok(DaemonFacts {
        cpu_set: false,
        security_options: vec!["name=rootless".into(), "name=cgroupns".into()],
        ..daemon()
    });
    let lines = blocking_of(&f, &existing(1));
    assert!(
        lines[0].contains("cpuset") && lines[0].contains("Delegate="),
        "{lines:?}"
    );
    // The kernel's list counts too (a controller missing from cgroup.controllers).
    let mut f = facts();
    f.kernel
        .as_mut()
        .unwrap()
        .cgroup_controllers
        .retain(|c| c != "cpu");
    let lines = blocking_of(&f, &existing(1));
    assert!(lines[0].contains("the cpu cgroup controller"), "{lines:?}");
}

#[test]
fn cgroup_v1_is_a_warning_not_a_refusal() {
    let mut f = facts();
    f.daemon = Ok(DaemonFacts {
        cgroup_version: 1,
        cgroup_driver: "cgroupfs".into(),
        ..daemon()
    });
    let findings = check(&f, &existing(1));
    assert!(blocking(&findings).is_empty());
    let lines = problems(&findings);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("warning [cgroup]: cgroup v1"),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("systemd.unified_cgroup_hierarchy=1"));
}

#[test]
fn inotify_limits_scale_with_the_nodes_and_name_the_sysctl() {
    let mut f = facts();
    let k = f.kernel.as_mut().unwrap();
    k.inotify_max_user_instances = Some(128);
    k.inotify_max_user_watches = Some(8192);
    // One node: 128 instances are enough, 8192 watches are not.
    let lines = problems(&check(&f, &existing(1)));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("warning [inotify]"), "{}", lines[0]);
    assert!(
        lines[0].contains(
            "`sudo sysctl -w fs.inotify.max_user_instances=128 fs.inotify.max_user_watches=65536`"
        ),
        "{}",
        lines[0]
    );
    // Three nodes need three times as much of both.
    let lines = problems(&check(&f, &existing(3)));
    assert!(
        lines[0].contains(
            "`sudo sysctl -w fs.inotify.max_user_instances=384 fs.inotify.max_user_watches=196608`"
        ),
        "{}",
        lines[0]
    );
    // A warning: start goes on.
    assert!(blocking(&check(&f, &existing(3))).is_empty());
}

#[test]
fn missing_overlay_blocks_and_missing_iptables_warns() {
    let mut f = facts();
    let k = f.kernel.as_mut().unwrap();
    k.overlay = false;
    k.nf_tables = false;
    let findings = check(&f, &existing(1));
    let lines = problems(&findings);
    assert!(
        lines.iter().any(
            |l| l.starts_with("problem [kernel]: the kernel has no overlay")
                && l.contains("sudo modprobe overlay")
        ),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("warning [kernel]: neither iptables backend")),
        "{lines:?}"
    );
    assert_eq!(blocking(&findings).len(), 1);
}

#[test]
fn low_disk_blocks_under_2_gib_and_warns_under_10() {
    let mut f = facts();
    f.disks[0].free_bytes = 1 << 30;
    let lines = blocking_of(&f, &existing(1));
    assert!(
        lines[0].contains("1.0 GiB free under /var/lib/docker"),
        "{lines:?}"
    );
    assert!(lines[0].contains("docker system prune"), "{lines:?}");
    f.disks[0].free_bytes = 5 << 30;
    let findings = check(&f, &existing(1));
    assert!(blocking(&findings).is_empty());
    assert!(problems(&findings)[0].starts_with("warning [disk]: 5.0 GiB"));
}

#[test]
fn an_occupied_range_blocks_an_existing_profile_and_is_skipped_by_a_new_one() {
    let mut f = facts();
    f.networks.push(Network {
        name: "other-tool".into(),
        subnets: vec!["172.30.0.0/16".parse().unwrap()],
        bridge: "br-111111111111".into(),
    });
    let lines = blocking_of(&f, &existing(1));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("overlaps Docker network 'other-tool' (172.30.0.0/16)"));
    assert!(lines[0].contains("`docker network rm other-tool`"));
    // A new profile has no range left in 172.30.0.0/16.
    let lines = blocking_of(&f, &new_profile());
    assert!(lines[0].contains("every candidate range"), "{lines:?}");
    // A VPN's route over part of it: the new profile takes another range.
    let mut f = facts();
    let first = new_profile().candidates[0];
    f.routes.push(Route {
        destination: first,
        interface: "tun0".into(),
    });
    let free = free_subnet(&new_profile().candidates, &f).unwrap();
    assert_ne!(free, first);
    assert!(blocking_of(&f, &new_profile()).is_empty());
    let mut existing = existing(1);
    existing.subnet = Some(first);
    let lines = blocking_of(&f, &existing);
    assert!(
        lines[0].contains("route to") && lines[0].contains("via tun0"),
        "{lines:?}"
    );
}

#[test]
fn the_daemon_s_own_bridges_are_not_held_against_the_range_another_daemon_s_are() {
    let mut f = facts();
    // The profile's own network's bridge, and docker0.
    f.routes.push(Route {
        destination: "172.30.7.0/24".parse().unwrap(),
        interface: "br-0123456789ab".into(),
    });
    assert!(blocking_of(&f, &existing(1)).is_empty());
    // A second daemon's bridge on the same range.
    let mut existing = existing(1);
    existing.subnet = Some("172.30.8.0/24".parse().unwrap());
    f.routes.push(Route {
        destination: "172.30.8.0/24".parse().unwrap(),
        interface: "br-ba9876543210".into(),
    });
    let lines = blocking_of(&f, &existing);
    assert!(lines[0].contains("via br-ba9876543210"), "{lines:?}");
}

#[test]
fn a_taken_port_blocks_unless_the_profile_s_apiserver_holds_it() {
    let mut f = facts();
    f.port_free = Some(false);
    let lines = blocking_of(&f, &existing(1));
    assert!(lines[0].contains("port 40123 on 127.0.0.1"), "{lines:?}");
    assert!(lines[0].contains("ss -ltnp"), "{lines:?}");
    f.apiserver_running = true;
    assert!(blocking_of(&f, &existing(1)).is_empty());
}

#[test]
fn desktop_and_rootless_are_detected_and_warned_about() {
    let mut f = facts();
    f.daemon = Ok(DaemonFacts {
        operating_system: "Docker Desktop".into(),
        local: false,
        ..daemon()
    });
    f.kernel = None;
    let findings = check(&f, &existing(1));
    assert!(blocking(&findings).is_empty(), "{findings:#?}");
    let lines = problems(&findings);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("Docker Desktop runs the cluster inside its VM"));
    assert!(lines[0].contains("port-forward"));
    let mut f = facts();
    f.daemon = Ok(DaemonFacts {
        security_options: vec![
            "name=seccomp,profile=builtin".into(),
            "name=rootless".into(),
        ],
        ..daemon()
    });
    let lines = problems(&check(&f, &existing(1)));
    assert!(
        lines[0].starts_with("warning [docker]: rootless Docker"),
        "{lines:?}"
    );
}

#[test]
fn ipv6_needs_block_only_a_profile_that_runs_it() {
    let mut f = facts();
    let k = f.kernel.as_mut().unwrap();
    k.ipv6 = Some(false);
    k.ip6tables = false;
    let mut intent = new_profile();
    assert!(problems(&check(&f, &intent)).is_empty());
    let said: Vec<String> = check(&f, &intent)
        .iter()
        .filter(|f| f.check == "ipv6")
        .map(Finding::line)
        .collect();
    assert!(said[0].contains("disable_ipv6 = 1"), "{said:?}");
    intent.ip_family = IpFamily::Dual;
    let findings = check(&f, &intent);
    let stops: Vec<String> = blocking(&findings).iter().map(|f| f.line()).collect();
    assert_eq!(stops.len(), 2, "{stops:?}");
    assert!(
        stops[0].contains("sysctl -w net.ipv6.conf.all.disable_ipv6=0"),
        "{stops:?}"
    );
    assert!(stops[1].contains("modprobe nf_tables"), "{stops:?}");
    let healthy = check(&facts(), &intent);
    assert!(blocking(&healthy).is_empty());
    assert!(
        healthy
            .iter()
            .any(|f| f.check == "ipv6" && f.message.contains("can run")),
        "{healthy:?}"
    );
}
