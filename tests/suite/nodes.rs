//! Several nodes: `start --nodes 3` gives three Ready nodes; pods on each reach the pods on the
//! others and a Service spreads over all of them; the control plane routes each node's pods to
//! that node; `node delete` and `node add` change the cluster while it runs; stop/start keeps
//! every node and object.

use std::collections::BTreeSet;
use std::time::Duration;

use super::cluster_network::assert_control_plane_routes;
use super::support::{Cluster, build_sample_image, container_ip, in_netns_of, stdout, wait_until};

const PROFILE: &str = "multi";

/// kubia on every node (a DaemonSet) behind a ClusterIP Service.
const KUBIA_EVERYWHERE: &str = r#"apiVersion: apps/v1
kind: DaemonSet
metadata: {name: kubia}
spec:
  selector: {matchLabels: {app: kubia}}
  template:
    metadata: {labels: {app: kubia}}
    spec:
      containers:
      - name: kubia
        image: kubia:1.0
        imagePullPolicy: Never
        ports: [{containerPort: 8080}]
        readinessProbe:
          httpGet: {path: /, port: 8080}
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata: {name: kubia}
spec:
  selector: {app: kubia}
  ports: [{port: 8080}]
"#;

/// (pod name, pod IP, node name) of every ready kubia pod.
fn kubia_pods(cluster: &Cluster) -> Vec<(String, String, String)> {
    let text = cluster.kubectl_ok(&[
        "get", "pods", "-l", "app=kubia", "-o",
        "jsonpath={range .items[?(@.status.containerStatuses[0].ready==true)]}{.metadata.name} {.status.podIP} {.spec.nodeName}{\"\\n\"}{end}",
    ]);
    text.lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace().map(str::to_string);
            Some((parts.next()?, parts.next()?, parts.next()?))
        })
        .collect()
}

fn wait_kubia_on(cluster: &Cluster, nodes: usize) -> Vec<(String, String, String)> {
    wait_until(
        &format!("a ready kubia pod on each of {nodes} nodes"),
        Duration::from_secs(180),
        || {
            let pods = kubia_pods(cluster);
            let on: BTreeSet<&str> = pods.iter().map(|p| p.2.as_str()).collect();
            if pods.len() == nodes && on.len() == nodes {
                Ok(pods)
            } else {
                Err(format!("{pods:?}"))
            }
        },
    )
}

fn ready_nodes(cluster: &Cluster) -> Vec<String> {
    let text = stdout(&cluster.kubectl(&[
        "get", "nodes", "-o",
        "jsonpath={range .items[*]}{.metadata.name} {.status.conditions[?(@.type==\"Ready\")].status}{\"\\n\"}{end}",
    ]));
    text.lines()
        .filter(|l| l.ends_with(" True"))
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect()
}

/// Every kubia pod reaches every other one by its IP, across nodes.
fn pods_reach_each_other(cluster: &Cluster, pods: &[(String, String, String)]) {
    for (from, _, from_node) in pods {
        for (to, ip, to_node) in pods {
            let answer = cluster.kubectl_until(
                &[
                    "exec",
                    from,
                    "--",
                    "/kubia",
                    "get",
                    &format!("http://{ip}:8080/"),
                ],
                Duration::from_secs(30),
                |t| t.starts_with("You've hit "),
            );
            assert_eq!(
                answer.trim(),
                format!("You've hit {to}"),
                "{from} on {from_node} asked {ip} on {to_node}"
            );
        }
    }
}

/// The Service answers from the pods of every node.
fn service_spreads(cluster: &Cluster, pods: &[(String, String, String)]) {
    let client = &pods[0].0;
    let want: BTreeSet<String> = pods.iter().map(|p| p.0.clone()).collect();
    let mut seen = BTreeSet::new();
    wait_until(
        "the Service answering from every pod",
        Duration::from_secs(60),
        || {
            let out = cluster.kubectl(&[
                "exec",
                client,
                "--",
                "/kubia",
                "get",
                "http://kubia.default.svc.cluster.local:8080/",
            ]);
            if let Some(pod) = stdout(&out).trim().strip_prefix("You've hit ") {
                seen.insert(pod.to_string());
            }
            if seen == want {
                Ok(())
            } else {
                Err(format!("answered by {seen:?}, want {want:?}"))
            }
        },
    );
}

#[test]
fn three_nodes_share_one_pod_network_and_change_while_running() {
    build_sample_image();
    let cluster = Cluster::start(PROFILE, &["--nodes", "3"]);
    assert_eq!(ready_nodes(&cluster), ["multi", "multi-m02", "multi-m03"]);
    cluster.localkube_ok(&["image", "load", "kubia:1.0"]);
    cluster.apply(KUBIA_EVERYWHERE);
    let pods = wait_kubia_on(&cluster, 3);
    pods_reach_each_other(&cluster, &pods);
    service_spreads(&cluster, &pods);

    // The control plane sends each node's pods to that node, directly.
    assert_control_plane_routes(PROFILE, "start");
    for (pod, ip, node) in &pods {
        let node_ip = container_ip(node);
        let route = stdout(&in_netns_of(
            &cluster.container("apiserver"),
            &["ip", "route", "get", ip],
        ));
        assert!(
            route.contains(&format!(" via {node_ip} ")),
            "{pod} on {node}: {route}"
        );
        let proxied = cluster.kubectl_ok(&[
            "get",
            "--raw",
            &format!("/api/v1/namespaces/default/pods/{pod}:8080/proxy/"),
        ]);
        assert_eq!(proxied.trim(), format!("You've hit {pod}"));
    }

    cluster.localkube_ok(&["node", "delete", "multi-m02"]);
    assert_eq!(ready_nodes(&cluster), ["multi", "multi-m03"]);
    let out = std::process::Command::new("docker")
        .args(["ps", "-a", "--filter", "name=^multi-m02$", "-q"])
        .output()
        .unwrap();
    assert!(
        stdout(&out).trim().is_empty(),
        "the node's container is still there"
    );
    let pods = wait_kubia_on(&cluster, 2);
    service_spreads(&cluster, &pods);
    let refused = cluster.localkube(&["node", "delete", "multi"]);
    assert!(!refused.status.success(), "the first node was deleted");

    cluster.localkube_ok(&["node", "add"]);
    let listed = cluster.localkube_ok(&["node", "list"]);
    assert!(listed.contains("multi-m02"), "{listed}");
    // A new node gets the images with `image load`, as on a real cluster.
    cluster.localkube_ok(&["image", "load", "kubia:1.0"]);
    let pods = wait_kubia_on(&cluster, 3);
    pods_reach_each_other(&cluster, &pods);

    cluster.localkube_ok(&["stop"]);
    cluster.localkube_ok(&["start"]);
    assert_eq!(ready_nodes(&cluster), ["multi", "multi-m02", "multi-m03"]);
    let pods = wait_kubia_on(&cluster, 3);
    service_spreads(&cluster, &pods);
}
