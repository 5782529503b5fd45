//! Addons against a real cluster: what a user relies on. One cluster tells the story: the default
//! addons are on, a PVC's data outlives its pod and a stop/start and goes with the PVC; the
//! registry takes a `docker push` that `kubectl run` then runs, and an unchanged book manifest
//! with `luksa/kubia:latest` (always pulled) runs offline; `kubectl top` prints figures once
//! metrics-server is enabled. The dockerd restart is `#[ignore]`d
//! (scripts/test.sh runs it alone, after the rest).

use std::process::Command;
use std::time::Duration;

use super::support::{
    Cluster, assert_success, build_sample_image, restart_dockerd, stdout, wait_until,
};

const HELPER: &str = "localkube/storage-helper";

fn helper_image() -> String {
    format!(
        "{HELPER}:{}",
        localkube::plan::version::DEFAULT_KUBERNETES_VERSION
    )
}

/// A PVC of the default class and a pod that runs `script` with it at /data (the storage
/// helper's image: it has a shell and is in every node with the addon).
fn pod_with_claim(name: &str, script: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  restartPolicy: Never
  containers:
    - name: main
      image: {image}
      imagePullPolicy: IfNotPresent
      command: ["/bin/sh", "-c", "{script}"]
      volumeMounts:
        - name: data
          mountPath: /data
  volumes:
    - name: data
      persistentVolumeClaim:
        claimName: notes
"#,
        image = helper_image()
    )
}

const CLAIM: &str = r#"apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: notes
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: 10Mi
"#;

/// Runs a pod that reads the claim and returns what it printed.
fn read_claim(cluster: &Cluster, name: &str) -> String {
    cluster.apply(&pod_with_claim(name, "cat /data/note"));
    cluster.kubectl_until(
        &["get", "pod", name, "-o", "jsonpath={.status.phase}"],
        Duration::from_secs(120),
        |phase| phase == "Succeeded" || phase == "Failed",
    );
    let logs = cluster.kubectl_ok(&["logs", name]);
    cluster.kubectl_ok(&["delete", "pod", name, "--wait=true"]);
    logs
}

fn write_claim(cluster: &Cluster) {
    cluster.apply(CLAIM);
    cluster.apply(&pod_with_claim("writer", "echo kept > /data/note"));
    cluster.kubectl_until(
        &["get", "pod", "writer", "-o", "jsonpath={.status.phase}"],
        Duration::from_secs(120),
        |phase| phase == "Succeeded",
    );
    cluster.kubectl_until(
        &["get", "pvc", "notes", "-o", "jsonpath={.status.phase}"],
        Duration::from_secs(30),
        |phase| phase == "Bound",
    );
    cluster.kubectl_ok(&["delete", "pod", "writer", "--wait=true"]);
}

fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker")
        .args(args)
        .output()
        .expect("run docker")
}

#[test]
fn addons_storage_registry_and_metrics() {
    let cluster = Cluster::start("addons", &[]);

    // The default addons are on, and listed so.
    let listed: serde_json::Value =
        serde_json::from_str(&cluster.localkube_ok(&["addons", "list", "-o", "json"]))
            .expect("addons list -o json");
    let enabled = |name: &str| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .unwrap_or_else(|| panic!("{name} is not listed: {listed}"))["enabled"]
            .as_bool()
            .unwrap()
    };
    for name in [
        "coredns",
        "load-balancer",
        "storage-provisioner",
        "default-storageclass",
    ] {
        assert!(enabled(name), "{name} is on by default");
    }
    assert!(!enabled("registry"), "the registry is off by default");
    let classes = cluster.kubectl_ok(&["get", "storageclass"]);
    assert!(classes.contains("standard (default)"), "{classes}");

    // A PVC binds, a pod writes; the data outlives the pod and a stop/start.
    write_claim(&cluster);
    assert_eq!(read_claim(&cluster, "reader-1").trim(), "kept");
    cluster.localkube_ok(&["stop"]);
    cluster.localkube_ok(&["start"]);
    assert_eq!(read_claim(&cluster, "reader-2").trim(), "kept");

    // Deleting the PVC deletes the volume and its folder on the node (reclaim policy Delete).
    let pv = cluster.kubectl_ok(&["get", "pvc", "notes", "-o", "jsonpath={.spec.volumeName}"]);
    cluster.kubectl_ok(&["delete", "pvc", "notes", "--wait=true"]);
    cluster.kubectl_until(
        &["get", "pv", "-o", "name"],
        Duration::from_secs(90),
        |out| !out.contains(&pv),
    );
    wait_until(
        "the volume's folder removed from the node",
        Duration::from_secs(60),
        || {
            let out = docker(&["exec", "addons", "ls", localkube::plan::addons::STORAGE_DIR]);
            let listing = stdout(&out);
            if listing.contains(&pv) {
                Err(listing)
            } else {
                Ok(())
            }
        },
    );

    // The registry: enable prints localhost:PORT; docker push, then kubectl run from it.
    build_sample_image();
    let started = std::time::Instant::now();
    let host = cluster
        .localkube_ok(&["addons", "enable", "registry"])
        .trim()
        .lines()
        .last()
        .unwrap()
        .to_string();
    eprintln!("registry enabled in {:?} at {host}", started.elapsed());
    assert!(host.starts_with("localhost:"), "{host}");
    let pushed = format!("{host}/kubia:1.0");
    assert_success(&docker(&["tag", "kubia:1.0", &pushed]), "docker tag");
    assert_success(&docker(&["push", &pushed]), "docker push");
    let _ = docker(&["rmi", &pushed]);
    cluster.kubectl_ok(&["run", "pushed", &format!("--image={pushed}"), "--port=8080"]);
    cluster.kubectl_until(
        &["get", "pod", "pushed", "-o", "jsonpath={.status.phase}"],
        Duration::from_secs(120),
        |phase| phase == "Running",
    );

    // An unchanged book manifest (luksa/kubia:latest, pulled Always) runs with no internet: the
    // image loaded with `image load` is stored in the registry, the nodes' docker.io mirror.
    assert_success(
        &docker(&["tag", "kubia:1.0", "luksa/kubia:latest"]),
        "docker tag",
    );
    cluster.localkube_ok(&["image", "load", "luksa/kubia:latest"]);
    cluster.apply(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: kubia-manual
spec:
  containers:
  - image: luksa/kubia:latest
    name: kubia
    ports:
    - containerPort: 8080
      protocol: TCP
"#,
    );
    cluster.kubectl_until(
        &[
            "get",
            "pod",
            "kubia-manual",
            "-o",
            "jsonpath={.status.phase}",
        ],
        Duration::from_secs(120),
        |phase| phase == "Running",
    );
    let events = cluster.kubectl_ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=kubia-manual",
    ]);
    assert!(
        events.contains("Pulled") || events.contains("Successfully pulled"),
        "{events}"
    );

    // The choice is kept in the profile, with the registry's address.
    let listed = cluster.localkube_ok(&["addons", "list"]);
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("registry") && l.contains("enabled") && l.contains(&host)),
        "{listed}"
    );

    // Disabling removes what enabling made: its container and volume.
    cluster.localkube_ok(&["addons", "disable", "registry"]);
    let ps = stdout(&docker(&["ps", "-a", "--format", "{{.Names}}"]));
    assert!(!ps.lines().any(|n| n == "addons-registry"), "{ps}");
    let volumes = stdout(&docker(&["volume", "ls", "--format", "{{.Name}}"]));
    assert!(
        !volumes.lines().any(|n| n == "addons-registry-data"),
        "{volumes}"
    );
    let _ = docker(&["rmi", "luksa/kubia:latest"]);

    // metrics-server: `kubectl top` prints figures within a minute of enabling (the first enable
    // compiles its image).
    let started = std::time::Instant::now();
    cluster.localkube_ok(&["addons", "enable", "metrics-server"]);
    let enabled_in = started.elapsed();
    let is_figure = |s: &str| s.chars().next().is_some_and(|c| c.is_ascii_digit());
    let nodes = cluster.kubectl_until(
        &["top", "nodes", "--no-headers"],
        Duration::from_secs(60),
        |out| {
            out.lines()
                .any(|l| l.split_whitespace().skip(1).any(is_figure))
        },
    );
    assert!(nodes.starts_with("addons "), "{nodes}");
    let pods = cluster.kubectl_until(
        &["top", "pods", "-A", "--no-headers"],
        Duration::from_secs(60),
        |out| out.lines().any(|l| l.contains("coredns")),
    );
    eprintln!(
        "metrics-server: enable returned in {enabled_in:?}, kubectl top answered after {:?}:\n{nodes}{pods}",
        started.elapsed()
    );
    cluster.localkube_ok(&["addons", "disable", "metrics-server"]);
    cluster.kubectl_until(
        &["get", "apiservices", "-o", "name"],
        Duration::from_secs(30),
        |out| !out.contains("v1beta1.metrics.k8s.io"),
    );
}

/// A PVC's data outlives a restart of dockerd itself. Restarts dockerd: run alone
/// (scripts/test.sh runs it after the rest).
#[test]
#[ignore]
fn storage_survives_dockerd_restart() {
    let cluster = Cluster::start("addons-restart", &[]);
    write_claim(&cluster);
    restart_dockerd();
    cluster.localkube_ok(&["start"]);
    assert_eq!(read_claim(&cluster, "after-restart").trim(), "kept");
}
