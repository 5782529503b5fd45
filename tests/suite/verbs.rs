//! minikube's verbs against a running cluster: `ip`, `cp`, `update-context`, `service --https`
//! and `profile list -o json`. A story step of a cluster test (see `image_repository`), so they
//! cost no cluster start of their own.

use std::process::Command;
use std::time::Duration;

use super::support::{Cluster, assert_success, docker_inspect, stderr, stdout};

/// Runs every check on `cluster` (one node, running); `kubectl` is a kubectl binary for it.
pub fn check_minikube_verbs(cluster: &Cluster, kubectl: &std::path::Path) {
    let node = cluster.profile.clone();
    let network = format!("localkube-{}", cluster.profile);

    // ip: the node's address on the profile's network, as Docker has it.
    let ip = cluster.localkube_ok(&["ip"]).trim().to_string();
    let docker_ip = docker_inspect(
        &node,
        &format!("{{{{(index .NetworkSettings.Networks \"{network}\").IPAddress}}}}"),
    );
    assert_eq!(ip, docker_ip, "localkube ip");
    assert_eq!(cluster.localkube_ok(&["ip", "-n", &node]).trim(), ip);
    let out = cluster.localkube(&["ip", "-n", "no-such-node"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no node 'no-such-node'"),
        "{}",
        stderr(&out)
    );

    // cp: to the node and back.
    let local = cluster.sb.path("cp-source.txt");
    std::fs::write(&local, "copied by localkube cp\n").unwrap();
    cluster.localkube_ok(&[
        "cp",
        local.to_str().unwrap(),
        &format!("{node}:/tmp/cp-target.txt"),
    ]);
    let inside = cluster.localkube_ok(&["ssh", "--", "cat", "/tmp/cp-target.txt"]);
    assert_eq!(inside, "copied by localkube cp\n");
    let back = cluster.sb.path("hostname-from-node");
    cluster.localkube_ok(&[
        "cp",
        &format!("{node}:/etc/hostname"),
        back.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read_to_string(&back).unwrap().trim(), node);
    let out = cluster.localkube(&["cp", "a", "b"]);
    assert!(
        !out.status.success() && stderr(&out).contains("NODE:/PATH"),
        "{}",
        stderr(&out)
    );

    // update-context: a kubeconfig whose server was changed by hand points at the cluster again.
    let kubeconfig = cluster.sb.kubeconfig();
    let original = std::fs::read_to_string(&kubeconfig).unwrap();
    let server = original
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: "))
        .expect("a server line")
        .to_string();
    std::fs::write(
        &kubeconfig,
        original.replace(&server, "https://127.0.0.1:1"),
    )
    .unwrap();
    let said = cluster.localkube_ok(&["update-context"]);
    assert!(said.contains(&format!("now points at {server}")), "{said}");
    assert_eq!(std::fs::read_to_string(&kubeconfig).unwrap(), original);
    let nodes = Command::new(kubectl)
        .args([
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "get",
            "nodes",
            "-o",
            "name",
        ])
        .output()
        .unwrap();
    assert_success(&nodes, "kubectl with the updated kubeconfig");
    assert!(
        cluster
            .localkube_ok(&["update-context"])
            .contains("already points at")
    );

    // service --https: a NodePort service in front of a TLS server (the apiserver itself,
    // through an EndpointSlice of its address); its port is neither 443 nor named https.
    let apiserver_ip = docker_inspect(
        &cluster.container("apiserver"),
        &format!("{{{{(index .NetworkSettings.Networks \"{network}\").IPAddress}}}}"),
    );
    cluster.apply(&format!(
        "apiVersion: v1
kind: Service
metadata:
  name: tls-backend
spec:
  type: NodePort
  ports:
  - name: api
    port: 6443
    protocol: TCP
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: tls-backend-1
  labels:
    kubernetes.io/service-name: tls-backend
addressType: IPv4
ports:
- name: api
  port: 6443
  protocol: TCP
endpoints:
- addresses: [\"{apiserver_ip}\"]
  conditions:
    ready: true
"
    ));
    let plain = cluster.localkube_ok(&["service", "tls-backend", "--url"]);
    assert!(
        plain.trim().starts_with(&format!("http://{ip}:")),
        "{plain}"
    );
    let https = cluster
        .localkube_ok(&["service", "tls-backend", "--url", "--https"])
        .trim()
        .to_string();
    assert_eq!(https, plain.trim().replacen("http://", "https://", 1));
    // The URL answers over TLS (any HTTP status: the handshake is what --https promises).
    super::support::wait_until("the https URL answering", Duration::from_secs(60), || {
        let out = Command::new("curl")
            .args([
                "-sk",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--max-time",
                "5",
            ])
            .arg(format!("{https}/livez"))
            .output()
            .map_err(|e| e.to_string())?;
        let code = stdout(&out);
        if code != "000" && !code.is_empty() {
            Ok(())
        } else {
            Err(format!("http code {code}"))
        }
    });
    cluster.kubectl_ok(&["delete", "service", "tls-backend"]);
    cluster.kubectl_ok(&["delete", "endpointslice", "tls-backend-1"]);

    // profile list -o json: the state, version, nodes and addresses.
    let row = profile_row(cluster);
    assert_eq!(row["status"], "Running", "{row}");
    assert_eq!(row["nodes"], 1);
    assert_eq!(row["addresses"][0]["node"], node.as_str());
    assert_eq!(row["addresses"][0]["ip"], ip.as_str());
    assert_eq!(row["apiserver"], server.as_str());
}

/// This cluster's entry of `profile list -o json`.
pub fn profile_row(cluster: &Cluster) -> serde_json::Value {
    let list: serde_json::Value =
        serde_json::from_str(&cluster.localkube_ok(&["profile", "list", "-o", "json"])).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == cluster.profile.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("{} is not listed: {list}", cluster.profile))
}

/// Without a running cluster: `ip` answers from the profile, the others refuse with the fix.
#[test]
fn verbs_of_a_profile_without_containers() {
    let sb = super::support::Sandbox::new();
    assert_success(
        &sb.run(&["start", "--dry-run", "-p", "verbs-dry"]),
        "dry run",
    );
    let out = sb.run(&["-p", "verbs-dry", "ip"]);
    assert_success(&out, "ip");
    let ip: std::net::Ipv4Addr = stdout(&out).trim().parse().expect("an IPv4 address");
    assert!(ip.to_string().starts_with("172.30."), "{ip}");

    let out = sb.run(&["-p", "verbs-dry", "update-context"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no kubeconfig at")
            && stderr(&out).contains("localkube -p verbs-dry start"),
        "{}",
        stderr(&out)
    );

    let out = sb.run(&["-p", "verbs-dry", "profile", "list", "-o", "json"]);
    assert_success(&out, "profile list");
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["status"], "NotCreated", "{list}");
    assert_eq!(list[0]["addresses"][0]["ip"], ip.to_string());

    let out = sb.run(&["-p", "nothing-here", "cp", "a", "nothing-here:/tmp/a"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("nothing-here"), "{}", stderr(&out));
}
