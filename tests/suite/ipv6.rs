//! IPv6 and dual-stack profiles (`--ip-family`, the cluster file's `networking:`). The plan's
//! checks run in the default suite (a dry run, no container); a dual-stack and an IPv6-only
//! cluster of two nodes are `#[ignore]`d and run by scripts/check-ipv6.sh: pods of each family,
//! pod to pod across nodes over IPv6, a Service over each of its families, DNS AAAA, a
//! LoadBalancer answering on the host's ::1, and no cluster-range packet leaving (`ip -6 route
//! get`, which sends nothing).

use std::time::Duration;

use super::support::{
    Cluster, Sandbox, agnhost_image, assert_success, docker_inspect, in_netns_of, stderr, stdout,
    wait_until,
};

/// The default IPv6 ranges (plan::networking) and the profile network's /64 of a profile whose
/// IPv4 network is 172.30.N.0/24: fd6c:6b00:30:N::/64.
const POD_RANGE_V6: &str = "fd6c:6b00:244::/56";
const SERVICE_RANGE_V6: &str = "fd6c:6b00:96::/112";
/// Addresses of the IPv6 pod and service ranges no pod or Service holds.
const UNASSIGNED_POD_V6: &str = "fd6c:6b00:244:fe::1";
const UNASSIGNED_SERVICE_V6: &str = "fd6c:6b00:96::fff0";

#[test]
fn a_dual_stack_plan_carries_both_families_and_a_profile_keeps_its_family() {
    let sb = Sandbox::new();
    let profile = "ipv6-plan";
    let out = sb.run(&["-p", profile, "start", "--dry-run", "--ip-family", "dual"]);
    assert_success(&out, "start --dry-run --ip-family dual");
    let plan = stdout(&out);
    for expected in [
        "IPv6 subnet fd6c:6b00:30:",
        &format!("--service-cluster-ip-range=10.96.0.0/12,{SERVICE_RANGE_V6}"),
        &format!("--cluster-cidr=10.244.0.0/16,{POD_RANGE_V6}"),
        "--node-cidr-mask-size-ipv6=64",
    ] {
        assert!(plan.contains(expected), "no {expected} in\n{plan}");
    }
    let config = std::fs::read_to_string(sb.home().join(format!("profiles/{profile}/config.yaml")))
        .expect("the profile's config.yaml");
    assert!(config.contains("ipFamily: dual"), "{config}");

    // The family is the profile's for its life.
    let out = sb.run(&["-p", profile, "start", "--dry-run", "--ip-family", "ipv4"]);
    assert!(!out.status.success(), "another family was accepted");
    assert!(
        stderr(&out).contains("IP family is dual, not ipv4"),
        "{}",
        stderr(&out)
    );

    // A range of a family the cluster does not run, and a family that is none.
    let file = sb.path("cluster.yaml");
    std::fs::write(
        &file,
        "apiVersion: localkube.dev/v1alpha1\nkind: Cluster\nnetworking:\n  podSubnet: [\"fd6c:1::/56\"]\n",
    )
    .unwrap();
    let out = sb.run(&[
        "-p",
        "ipv6-plan-file",
        "start",
        "--dry-run",
        "--config",
        file.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("networking.podSubnet: fd6c:1::/56 is an IPv6 range"),
        "{}",
        stderr(&out)
    );
    let out = sb.run(&["-p", "ipv6-plan-bad", "start", "--ip-family", "both"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("use ipv4, ipv6 or dual"),
        "{}",
        stderr(&out)
    );
}

const DUAL: &str = "dual6";

/// Two agnhost pods, one on each node of `profile`, serving HTTP on 8080, and in front of the
/// second a ClusterIP Service and a LoadBalancer of every family the cluster runs.
fn workload(image: &str, profile: &str) -> String {
    let pod = |name: &str, node: &str| {
        format!(
            r#"apiVersion: v1
kind: Pod
metadata: {{name: {name}, labels: {{app: {name}}}}}
spec:
  nodeName: {node}
  containers:
  - name: agnhost
    image: {image}
    args: ["netexec", "--http-port=8080"]
---
"#
        )
    };
    format!(
        r#"{}{}apiVersion: v1
kind: Service
metadata: {{name: both}}
spec:
  ipFamilyPolicy: PreferDualStack
  selector: {{app: b}}
  ports: [{{port: 80, targetPort: 8080}}]
---
apiVersion: v1
kind: Service
metadata: {{name: lb6}}
spec:
  type: LoadBalancer
  ipFamilyPolicy: PreferDualStack
  selector: {{app: b}}
  ports: [{{port: 8086, targetPort: 8080}}]
"#,
        pod("a", profile),
        pod("b", &format!("{profile}-m02")),
    )
}

/// `kubectl exec a -- CMD`, its output when it succeeds.
fn exec_in_a(cluster: &Cluster, cmd: &[&str]) -> Result<String, String> {
    let mut args = vec!["exec", "a", "--"];
    args.extend_from_slice(cmd);
    let out = cluster.kubectl(&args);
    if out.status.success() {
        Ok(stdout(&out))
    } else {
        Err(format!("{}{}", stdout(&out), stderr(&out)))
    }
}

/// The one address of `family` (`:` for IPv6) in a space-separated list.
fn of_family(list: &str, v6: bool) -> String {
    list.split_whitespace()
        .find(|a| a.contains(':') == v6)
        .unwrap_or_else(|| panic!("no IPv{} address in {list:?}", if v6 { 6 } else { 4 }))
        .to_string()
}

/// Every control-plane container routes each IPv6 cluster range via a node's IPv6 address,
/// and a node makes unassigned IPv6 pod addresses unreachable and rejects the IPv6 service
/// range: no IPv6 packet for the cluster follows a default route out.
fn assert_ipv6_fenced(cluster: &Cluster) {
    let profile = cluster.profile.as_str();
    let first_node_v6 = docker_inspect(
        profile,
        "{{range .NetworkSettings.Networks}}{{.GlobalIPv6Address}}{{end}}",
    );
    assert!(
        first_node_v6.starts_with("fd6c:6b00:30:"),
        "{first_node_v6}"
    );
    for role in ["etcd", "apiserver", "controller-manager", "scheduler"] {
        let container = cluster.container(role);
        for probe in [UNASSIGNED_POD_V6, UNASSIGNED_SERVICE_V6] {
            let out = in_netns_of(&container, &["ip", "-6", "route", "get", probe]);
            assert_success(&out, &format!("ip -6 route get {probe} in {container}"));
            assert!(
                stdout(&out).contains(&format!(" via {first_node_v6} ")),
                "{container} routes {probe} elsewhere than the first node {first_node_v6}: {}",
                stdout(&out)
            );
        }
    }
    for node in [profile.to_string(), format!("{profile}-m02")] {
        let out = in_netns_of(&node, &["ip", "-6", "route", "get", UNASSIGNED_POD_V6]);
        assert!(
            !out.status.success() && !stdout(&out).contains(" via "),
            "{node} routes an unassigned IPv6 pod address: {}{}",
            stdout(&out),
            stderr(&out)
        );
        let fence = cluster.localkube_ok(&[
            "ssh",
            "--node",
            &node,
            "--",
            "ip6tables",
            "-S",
            "LOCALKUBE-FENCE",
        ]);
        assert!(
            fence.contains(&format!("-d {SERVICE_RANGE_V6}")) && fence.contains("REJECT"),
            "no IPv6 fence for the service range in {node}: {fence}"
        );
        // Nor for anything beyond the unique local ranges (Docker 20.10 would forward it out).
        assert!(
            fence.contains("-A LOCALKUBE-FENCE -d fc00::/7 -j RETURN")
                && fence.contains("-A LOCALKUBE-FENCE -j REJECT"),
            "{node} lets IPv6 beyond the unique local ranges through: {fence}"
        );
    }
}

#[test]
#[ignore = "a dual-stack cluster of two nodes: scripts/check-ipv6.sh"]
fn a_dual_stack_cluster_serves_both_families_and_keeps_ipv6_inside() {
    serves_and_keeps_ipv6_inside(DUAL, "dual");
}

#[test]
#[ignore = "an IPv6-only cluster of two nodes: scripts/check-ipv6.sh"]
fn an_ipv6_only_cluster_serves_ipv6_and_keeps_it_inside() {
    serves_and_keeps_ipv6_inside(IPV6_ONLY, "ipv6");
}

const IPV6_ONLY: &str = "only6";

/// A cluster of `family` (dual or ipv6) and two nodes: each node and pod has an address of
/// each family the cluster runs; pod to pod across the nodes over IPv6; the Service over each
/// of its ClusterIPs; DNS AAAA; the LoadBalancer on the host's ::1; the IPv6 fences.
fn serves_and_keeps_ipv6_inside(profile: &str, family: &str) {
    let dual = family == "dual";
    let families = if dual { 2 } else { 1 };
    let image = agnhost_image();
    let started = std::time::Instant::now();
    let cluster = Cluster::start(profile, &["--ip-family", family, "--nodes", "2"]);
    eprintln!("{family} start of 2 nodes: {:?}", started.elapsed());
    cluster.localkube_ok(&["image", "load", &image]);

    // Each node has an address and a pod range of each family.
    let nodes = cluster.kubectl_ok(&[
        "get",
        "nodes",
        "-o",
        "jsonpath={range .items[*]}{.spec.podCIDRs} {.status.addresses[?(@.type==\"InternalIP\")].address}{\"\\n\"}{end}",
    ]);
    assert_eq!(nodes.lines().count(), 2, "{nodes}");
    for line in nodes.lines() {
        assert!(
            line.contains("fd6c:6b00:244:") && line.contains("fd6c:6b00:30:"),
            "a node without IPv6: {line}"
        );
        assert_eq!(
            line.contains("10.244.") && line.contains("172.30."),
            dual,
            "IPv4 on a node of a {family} cluster: {line}"
        );
    }

    cluster.apply(&workload(&image, profile));
    for pod in ["a", "b"] {
        cluster.wait_pod_phase(pod, "Running", Duration::from_secs(180));
    }
    let ips = |pod: &str| {
        cluster.kubectl_ok(&["get", "pod", pod, "-o", "jsonpath={.status.podIPs[*].ip}"])
    };
    let b_ips = ips("b");
    assert_eq!(b_ips.split_whitespace().count(), families, "pod b: {b_ips}");
    let b_v6 = of_family(&b_ips, true);
    assert!(b_v6.starts_with("fd6c:6b00:244:"), "{b_v6}");
    assert_eq!(ips("a").split_whitespace().count(), families, "pod a");

    // Pod to pod across the nodes over IPv6.
    let url = format!("http://[{b_v6}]:8080/hostname");
    let answer = wait_until(
        "pod a reaching pod b over IPv6",
        Duration::from_secs(60),
        || exec_in_a(&cluster, &["curl", "-sS", "--max-time", "5", &url]),
    );
    assert_eq!(answer.trim(), "b");

    // The Service over each of its ClusterIPs.
    let cluster_ips =
        cluster.kubectl_ok(&["get", "svc", "both", "-o", "jsonpath={.spec.clusterIPs[*]}"]);
    assert_eq!(
        cluster_ips.split_whitespace().count(),
        families,
        "{cluster_ips}"
    );
    for ip in cluster_ips.split_whitespace() {
        let url = if ip.contains(':') {
            format!("http://[{ip}]:80/hostname")
        } else {
            format!("http://{ip}:80/hostname")
        };
        let answer = wait_until(
            &format!("the Service at {ip}"),
            Duration::from_secs(60),
            || exec_in_a(&cluster, &["curl", "-sS", "--max-time", "5", &url]),
        );
        assert_eq!(answer.trim(), "b", "through {url}");
    }

    // DNS answers AAAA for the Service with its IPv6 ClusterIP.
    let name = "both.default.svc.cluster.local";
    let aaaa = wait_until(
        "an AAAA answer for the Service",
        Duration::from_secs(60),
        || {
            let text = exec_in_a(&cluster, &["dig", "+short", "AAAA", name])?;
            if text.trim().is_empty() {
                Err("empty answer".into())
            } else {
                Ok(text)
            }
        },
    );
    assert_eq!(aaaa.trim(), of_family(&cluster_ips, true));

    // The LoadBalancer answers from the host on ::1 (the localhost ports).
    let answer = wait_until(
        "the LoadBalancer on [::1]:8086",
        Duration::from_secs(120),
        || {
            let out = std::process::Command::new("curl")
                .args(["-sS", "--max-time", "5", "http://[::1]:8086/hostname"])
                .output()
                .map_err(|e| e.to_string())?;
            if out.status.success() {
                Ok(stdout(&out))
            } else {
                Err(stderr(&out))
            }
        },
    );
    assert_eq!(answer.trim(), "b");
    let url = cluster.localkube_ok(&["service", "lb6", "--url"]);
    assert!(url.contains("http://"), "{url}");

    assert_ipv6_fenced(&cluster);
}
