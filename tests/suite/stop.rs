//! `stop` ends every component by itself (etcd last, after the apiserver, never killed), and the
//! `start` after it finds every write the apiserver acknowledged before the stop, unchanged.

use std::collections::BTreeMap;

use super::support::{Cluster, docker_inspect};

const LABEL: &str = "localkube-suite=stop";

/// Every ConfigMap of this suite: name → uid, resourceVersion and data.
fn configmaps(c: &Cluster) -> BTreeMap<String, String> {
    let template = "{range .items[*]}{.metadata.name} {.metadata.uid} \
                    {.metadata.resourceVersion} {.data}{\"\\n\"}{end}";
    c.kubectl_ok(&[
        "get",
        "configmaps",
        "-l",
        LABEL,
        "-o",
        &format!("jsonpath={template}"),
    ])
    .lines()
    .filter_map(|l| l.split_once(' '))
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

#[test]
fn writes_acknowledged_before_stop_survive_it_and_etcd_exits_cleanly() {
    let cluster = Cluster::start("stopdata", &[]);
    let items: Vec<serde_json::Value> = (0..60)
        .map(|i| {
            serde_json::json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": format!("cm-{i}"), "labels": {"localkube-suite": "stop"}},
                "data": {"index": i.to_string()},
            })
        })
        .collect();
    cluster.apply(
        &serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items}).to_string(),
    );
    // The last write comes right before the stop, with no pause in between.
    cluster.kubectl_ok(&[
        "create",
        "configmap",
        "last-write",
        "--from-literal=n=final",
    ]);
    cluster.kubectl_ok(&["label", "configmap", "last-write", LABEL]);
    let before = configmaps(&cluster);
    assert_eq!(before.len(), 61, "{before:?}");

    cluster.localkube_ok(&["stop"]);
    // Each component exited by itself on SIGTERM (a kill at the timeout is 137), etcd too.
    for name in [
        cluster.container("etcd"),
        cluster.container("apiserver"),
        cluster.profile.clone(),
    ] {
        let state = docker_inspect(
            &name,
            "{{.State.Status}} {{.State.ExitCode}} {{.State.OOMKilled}}",
        );
        assert_eq!(state, "exited 0 false", "{name} did not exit cleanly");
    }
    let etcd_log = std::process::Command::new("docker")
        .args(["logs", "--tail", "40", &cluster.container("etcd")])
        .output()
        .expect("docker logs");
    let etcd_log = String::from_utf8_lossy(&etcd_log.stderr).to_string()
        + &String::from_utf8_lossy(&etcd_log.stdout);
    assert!(
        etcd_log.contains("closed etcd server"),
        "etcd did not close its server:\n{etcd_log}"
    );
    // Stopped after the apiserver: no client of etcd was left when it closed.
    // RFC 3339 with the fraction's trailing zeros dropped: padded to 9 digits, they compare.
    let finished = |name: &str| {
        let at = docker_inspect(name, "{{.State.FinishedAt}}");
        let (secs, frac) = at
            .trim_end_matches('Z')
            .split_once('.')
            .unwrap_or((&at, ""));
        format!("{secs}.{frac:0<9}")
    };
    assert!(
        finished(&cluster.container("etcd")) >= finished(&cluster.container("apiserver")),
        "etcd stopped before the apiserver"
    );

    cluster.localkube_ok(&["start"]);
    assert_eq!(
        configmaps(&cluster),
        before,
        "objects lost or changed by stop/start"
    );
}
