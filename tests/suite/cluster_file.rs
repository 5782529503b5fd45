//! A cluster from a cluster file (`start --config`): a feature gate visibly on, an extra
//! apiserver flag and a kubelet field applied, labels and taints honoured by the scheduler, a host
//! folder read and written from a pod, the audit log recording the user's create and delete; then
//! a changed file applied to the running profile with its objects kept, and a shrink refused.

use std::time::Duration;

use super::support::{Cluster, Sandbox, docker_inspect, stderr, storage_helper_image};

const PROFILE: &str = "cfile";

/// The file of the story; `back` is node 2's labels, `taint` its taints, `max_pods` kubelet's.
fn cluster_file(host: &std::path::Path, back: &str, taints: &str, max_pods: u32) -> String {
    format!(
        r#"apiVersion: localkube.dev/v1alpha1
kind: Cluster
nodes:
  - labels: {{tier: front}}
  - labels: {back}
    taints: {taints}
featureGates: {{ContainerStopSignals: true}}
apiServer: {{extraArgs: {{max-requests-inflight: 500}}}}
kubelet: {{maxPods: {max_pods}}}
mounts: [{{hostPath: {host}, nodePath: /src}}]
audit: {{policy: default}}
"#,
        host = host.display()
    )
}

/// A pod on a `tier: back` node that reads /src/hello.txt from the host and writes a reply.
fn pod_on_back(name: &str, tolerates: bool) -> String {
    let toleration = if tolerates {
        r#"  tolerations:
    - {key: dedicated, operator: Equal, value: db, effect: NoSchedule}
"#
    } else {
        ""
    };
    format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  restartPolicy: Never
  nodeSelector: {{tier: back}}
{toleration}  containers:
    - name: main
      image: {image}
      imagePullPolicy: IfNotPresent
      command: ["/bin/sh", "-c", "cat /src/hello.txt && echo from-the-pod > /src/reply.txt"]
      volumeMounts:
        - {{name: src, mountPath: /src}}
  volumes:
    - name: src
      hostPath: {{path: /src, type: Directory}}
"#,
        image = storage_helper_image()
    )
}

fn node_field(cluster: &Cluster, node: &str, path: &str) -> String {
    cluster.kubectl_ok(&["get", "node", node, "-o", &format!("jsonpath={path}")])
}

#[test]
fn a_cluster_file_sets_gates_flags_labels_taints_mounts_and_audit_and_changes_in_place() {
    let sb = Sandbox::new();
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("hello.txt"), "hello from the host\n").unwrap();
    let file = sb.path("cluster.yaml");
    std::fs::write(
        &file,
        cluster_file(
            host.path(),
            "{tier: back}",
            "[\"dedicated=db:NoSchedule\"]",
            50,
        ),
    )
    .unwrap();
    let file = file.to_str().unwrap().to_string();
    let started = std::time::Instant::now();
    let cluster = Cluster::start_in(sb, PROFILE, &["--config", &file]);
    eprintln!("start --config: {:?}", started.elapsed());

    // The gate: on in the apiserver's own report of its gates.
    let metrics = cluster.kubectl_ok(&["get", "--raw", "/metrics"]);
    assert!(
        metrics
            .contains(r#"kubernetes_feature_enabled{name="ContainerStopSignals",stage="ALPHA"} 1"#),
        "the gate is not on in the apiserver's metrics"
    );
    // The extra flag on the apiserver's command line, and kubelet's field in each node's capacity.
    let args = docker_inspect(&cluster.container("apiserver"), "{{json .Args}}");
    assert!(args.contains("--max-requests-inflight=500"), "{args}");
    for node in ["cfile", "cfile-m02"] {
        assert_eq!(node_field(&cluster, node, "{.status.capacity.pods}"), "50");
    }
    // Labels and taints: a pod for `tier: back` that tolerates the taint runs on node 2 and
    // reads the host's file through a hostPath volume; one that does not stays Pending.
    assert_eq!(
        node_field(&cluster, "cfile-m02", "{.metadata.labels.tier}"),
        "back"
    );
    cluster.apply(&pod_on_back("reader", true));
    cluster.apply(&pod_on_back("untolerated", false));
    cluster.wait_pod_phase("reader", "Succeeded", Duration::from_secs(120));
    assert_eq!(
        cluster.kubectl_ok(&["get", "pod", "reader", "-o", "jsonpath={.spec.nodeName}"]),
        "cfile-m02"
    );
    assert_eq!(
        cluster.kubectl_ok(&["logs", "reader"]).trim(),
        "hello from the host"
    );
    assert_eq!(
        std::fs::read_to_string(host.path().join("reply.txt")).unwrap(),
        "from-the-pod\n"
    );
    cluster.kubectl_until(
        &[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=untolerated",
        ],
        Duration::from_secs(60),
        |events| events.contains("FailedScheduling") && events.contains("untolerated taint"),
    );

    // The audit log: the user's create and delete, by name.
    cluster.kubectl_ok(&["create", "configmap", "cfile-kept", "--from-literal=a=1"]);
    cluster.kubectl_ok(&["create", "configmap", "cfile-audit"]);
    cluster.kubectl_ok(&["delete", "configmap", "cfile-audit"]);
    super::support::wait_until("the audit log", Duration::from_secs(30), || {
        let log = cluster.localkube_ok(&["logs", "audit"]);
        let has = |verb: &str| {
            log.lines().any(|l| {
                l.contains("kubernetes-admin")
                    && l.contains(&format!("  {verb}  configmaps default/cfile-audit"))
            })
        };
        if has("create") && has("delete") {
            Ok(())
        } else {
            Err(log)
        }
    });

    // A changed file on the running profile: node 2's label and taint and kubelet's field
    // change in place; the apiserver, whose settings did not change, is not made anew.
    let uid = cluster.kubectl_ok(&[
        "get",
        "configmap",
        "cfile-kept",
        "-o",
        "jsonpath={.metadata.uid}",
    ]);
    let apiserver_id = docker_inspect(&cluster.container("apiserver"), "{{.Id}}");
    let changed = cluster.sb.path("changed.yaml");
    std::fs::write(&changed, cluster_file(host.path(), "{tier: db}", "[]", 60)).unwrap();
    let changed = changed.to_str().unwrap().to_string();
    let out = cluster.localkube(&["start", "--config", &changed]);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = stderr(&out);
    assert!(
        said.contains("Changed the nodes' labels or taints"),
        "{said}"
    );
    assert!(said.contains("Changed kubelet"), "{said}");
    assert_eq!(
        node_field(&cluster, "cfile-m02", "{.metadata.labels.tier}"),
        "db"
    );
    assert!(
        !node_field(&cluster, "cfile-m02", "{.spec.taints}").contains("dedicated"),
        "the taint removed from the file is still on the node"
    );
    cluster.kubectl_until(
        &[
            "get",
            "node",
            "cfile-m02",
            "-o",
            "jsonpath={.status.capacity.pods}",
        ],
        Duration::from_secs(60),
        |pods| pods == "60",
    );
    assert_eq!(
        cluster.kubectl_ok(&[
            "get",
            "configmap",
            "cfile-kept",
            "-o",
            "jsonpath={.metadata.uid}"
        ]),
        uid
    );
    assert_eq!(
        docker_inspect(&cluster.container("apiserver"), "{{.Id}}"),
        apiserver_id,
        "the apiserver was made anew though its settings did not change"
    );
    let view = cluster.localkube_ok(&["config", "view"]);
    assert!(
        view.contains("tier: db") && view.contains("maxPods: 60"),
        "{view}"
    );

    // Fewer nodes than run: refused, with what it would take, and nothing changed.
    let one = cluster.sb.path("one.yaml");
    std::fs::write(
        &one,
        "apiVersion: localkube.dev/v1alpha1\nkind: Cluster\nnodes: 1\n",
    )
    .unwrap();
    let out = cluster.localkube(&["start", "--config", one.to_str().unwrap()]);
    assert!(!out.status.success(), "a shrink was accepted");
    assert!(stderr(&out).contains("node delete"), "{}", stderr(&out));
    assert_eq!(
        cluster.localkube_ok(&["config", "view"]),
        view,
        "a refused start changed the profile"
    );
}
