//! `pause`/`unpause` and `snapshot` against real clusters: a paused cluster uses no CPU (its
//! containers' cgroup CPU counters stand still) and resumes with every pod, address and Service as
//! it was; a snapshot brings objects (by uid and resourceVersion) and a PVC's contents (by
//! checksum) back after they changed; a damaged snapshot or one of another version is refused
//! with nothing touched; an export starts as another profile.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::support::http::curl;
use super::support::{
    Cluster, assert_success, build_sample_image, docker_inspect, pod_with_claim, stderr, stdout,
    storage_helper_image, wait_until,
};

/// The cgroup CPU time (ns) of a container: cgroup v1's cpuacct.usage, or v2's cpu.stat
/// usage_usec, of the cgroup its first process is in (which holds every process of it, the pods
/// of a node included).
fn cpu_ns(container: &str) -> u64 {
    let pid = docker_inspect(container, "{{.State.Pid}}");
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("its cgroups");
    for line in cgroups.lines() {
        let mut fields = line.splitn(3, ':');
        let (_, controllers, path) = (fields.next(), fields.next(), fields.next());
        let (controllers, path) = (controllers.unwrap_or(""), path.unwrap_or(""));
        if controllers.split(',').any(|c| c == "cpuacct") {
            let file = format!("/sys/fs/cgroup/cpuacct{path}/cpuacct.usage");
            let file = if std::path::Path::new(&file).exists() {
                file
            } else {
                format!("/sys/fs/cgroup/cpu,cpuacct{path}/cpuacct.usage")
            };
            let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
            return text.trim().parse().expect("a number");
        }
        if controllers.is_empty() {
            let file = format!("/sys/fs/cgroup{path}/cpu.stat");
            if let Ok(text) = std::fs::read_to_string(&file) {
                let usec = text
                    .lines()
                    .find_map(|l| l.strip_prefix("usage_usec "))
                    .expect("usage_usec");
                return usec.trim().parse::<u64>().expect("a number") * 1000;
            }
        }
    }
    panic!("no CPU accounting cgroup for {container}:\n{cgroups}")
}

/// Every container of the profile, by name.
fn profile_containers(profile: &str) -> Vec<String> {
    let out = std::process::Command::new("docker")
        .args([
            "ps",
            "-a",
            "--filter",
            &format!("label=io.localkube.profile={profile}"),
            "--format",
            "{{.Names}}",
        ])
        .output()
        .expect("docker ps");
    assert_success(&out, "docker ps");
    stdout(&out).lines().map(str::to_string).collect()
}

/// Each pod: name → uid and IP.
fn pods(c: &Cluster) -> BTreeMap<String, String> {
    c.kubectl_ok(&[
        "get",
        "pods",
        "-A",
        "-o",
        "jsonpath={range .items[*]}{.metadata.name} {.metadata.uid} {.status.podIP}{\"\\n\"}{end}",
    ])
    .lines()
    .filter_map(|l| l.split_once(' '))
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

#[test]
fn pause_freezes_every_container_and_unpause_keeps_pods_addresses_and_services() {
    build_sample_image();
    let c = Cluster::start("snappause", &[]);
    assert_success(&c.localkube(&["image", "load", "kubia:1.0"]), "image load");
    c.kubectl_ok(&[
        "create",
        "deployment",
        "kubia",
        "--image=kubia:1.0",
        "--port=8080",
    ]);
    c.kubectl_ok(&[
        "expose",
        "deployment",
        "kubia",
        "--type=LoadBalancer",
        "--port=8080",
    ]);
    c.wait_deployment("default", "kubia");
    let url = c
        .localkube_ok(&["service", "kubia", "--url", "--wait", "60"])
        .trim()
        .to_string();
    wait_until("the Service answers", Duration::from_secs(60), || {
        curl(&[&url])
    });
    let pods_before = pods(&c);

    c.localkube_ok(&["pause"]);
    let containers = profile_containers(&c.profile);
    // The load balancer's controller and proxy are frozen with the rest.
    assert!(containers.len() >= 7, "{containers:?}");
    for name in &containers {
        assert_eq!(
            docker_inspect(name, "{{.State.Status}}"),
            "paused",
            "{name}"
        );
    }
    let before: Vec<u64> = containers.iter().map(|n| cpu_ns(n)).collect();
    std::thread::sleep(Duration::from_secs(3));
    let after: Vec<u64> = containers.iter().map(|n| cpu_ns(n)).collect();
    for ((name, b), a) in containers.iter().zip(&before).zip(&after) {
        assert_eq!(b, a, "{name} used CPU while paused");
    }
    // Status, its exit code and profile list say so; a verb that needs the API refuses.
    let status = c.localkube(&["status", "-o", "json"]);
    assert_eq!(status.status.code(), Some(3), "{}", stdout(&status));
    let json: serde_json::Value = serde_json::from_str(&stdout(&status)).unwrap();
    assert_eq!(json["paused"], true, "{json}");
    let list = c.localkube_ok(&["profile", "list", "-o", "json"]);
    assert!(list.contains("\"Paused\""), "{list}");
    let refused = c.kubectl(&["get", "pods"]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("localkube unpause -p snappause"),
        "{}",
        stderr(&refused)
    );

    c.localkube_ok(&["unpause"]);
    for name in &containers {
        assert_eq!(
            docker_inspect(name, "{{.State.Status}}"),
            "running",
            "{name}"
        );
    }
    wait_until(
        "the Service answers after unpause",
        Duration::from_secs(30),
        || curl(&[&url]),
    );
    assert_eq!(pods(&c), pods_before, "pods' uids or addresses changed");
    assert_eq!(
        c.localkube(&["status"]).status.code(),
        Some(0),
        "status after unpause"
    );

    // stop of a paused profile thaws it first, so every component exits by itself.
    c.localkube_ok(&["pause"]);
    let stop = c.localkube(&["stop"]);
    assert_success(&stop, "stop of a paused profile");
    assert!(
        stderr(&stop).contains("is paused: unpausing it first"),
        "{}",
        stderr(&stop)
    );
    for name in [c.container("etcd"), c.container("apiserver")] {
        assert_eq!(
            docker_inspect(&name, "{{.State.Status}} {{.State.ExitCode}}"),
            "exited 0"
        );
    }
}

const LABEL: &str = "localkube-suite=snapshot";

/// The suite's ConfigMaps: name → uid and resourceVersion.
fn configmaps(c: &Cluster, profile_args: &[&str]) -> BTreeMap<String, String> {
    let mut args: Vec<&str> = profile_args.to_vec();
    args.extend([
        "kubectl",
        "--",
        "get",
        "configmaps",
        "-l",
        LABEL,
        "-o",
        "jsonpath={range .items[*]}{.metadata.name} {.metadata.uid} {.metadata.resourceVersion}{\"\\n\"}{end}",
    ]);
    let out = c.sb.run(&args);
    assert_success(&out, "kubectl get configmaps");
    stdout(&out)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Runs `script` in a pod with the claim `data` at /data, to its end; returns its log.
fn with_claim(c: &Cluster, name: &str, script: &str) -> String {
    c.apply(&pod_with_claim(name, "data", script));
    c.kubectl_until(
        &["get", "pod", name, "-o", "jsonpath={.status.phase}"],
        Duration::from_secs(180),
        |phase| phase == "Succeeded",
    );
    let logs = c.kubectl_ok(&["logs", name]);
    c.kubectl_ok(&["delete", "pod", name, "--wait=true"]);
    logs.trim().to_string()
}

fn snapshot_dir(profile: &str, name: &str) -> PathBuf {
    localkube::effects::home::Home::from_env()
        .unwrap()
        .cache()
        .join("snapshots")
        .join(profile)
        .join(name)
}

/// Removes the suite's snapshots from the shared cache, before and after.
struct Snapshots(&'static [&'static str]);

impl Drop for Snapshots {
    fn drop(&mut self) {
        for profile in self.0 {
            let dir = snapshot_dir(profile, "x");
            let _ = std::fs::remove_dir_all(dir.parent().unwrap());
        }
    }
}

/// Deletes the imported profile whatever happens.
struct Imported<'a>(&'a Cluster, &'static str);

impl Drop for Imported<'_> {
    fn drop(&mut self) {
        let _ = self.0.sb.run(&["-p", self.1, "delete"]);
    }
}

#[test]
fn snapshot_restore_brings_objects_and_volumes_back_and_an_export_starts_as_another_profile() {
    let _ = Snapshots(&["snaprest", "snapimp"]);
    let _cleanup = Snapshots(&["snaprest", "snapimp"]);
    let c = Cluster::start("snaprest", &[]);
    let items: Vec<serde_json::Value> = (0..40)
        .map(|i| {
            serde_json::json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": format!("cm-{i}"), "labels": {"localkube-suite": "snapshot"}},
                "data": {"index": i.to_string()},
            })
        })
        .collect();
    c.apply(&serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items}).to_string());
    c.kubectl_ok(&[
        "create",
        "deployment",
        "sleeper",
        &format!("--image={}", storage_helper_image()),
        "--",
        "sleep",
        "infinity",
    ]);
    c.apply(
        r#"apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: 10Mi
"#,
    );
    let written = with_claim(
        &c,
        "writer",
        "head -c 1048576 /dev/urandom > /data/blob && sha256sum /data/blob",
    );
    let deployment_uid = c.kubectl_ok(&[
        "get",
        "deployment",
        "sleeper",
        "-o",
        "jsonpath={.metadata.uid}",
    ]);
    let cms = configmaps(&c, &["-p", "snaprest"]);
    assert_eq!(cms.len(), 40);

    c.localkube_ok(&["snapshot", "save", "s1"]);
    let list: serde_json::Value =
        serde_json::from_str(&c.localkube_ok(&["snapshot", "list", "-o", "json"])).unwrap();
    assert_eq!(list[0]["name"], "s1", "{list}");
    assert_eq!(
        list[0]["kubernetesVersion"],
        localkube::plan::version::DEFAULT_KUBERNETES_VERSION
    );
    assert!(list[0]["bytes"].as_u64().unwrap() > 1 << 20, "{list}");
    // The snapshot holds the PKI: private from the folder down.
    let dir = snapshot_dir("snaprest", "s1");
    use std::os::unix::fs::PermissionsExt;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let mode = entry.unwrap().metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );

    // Change: a Deployment deleted, ConfigMaps deleted and added, the PVC's file rewritten.
    c.kubectl_ok(&["delete", "deployment", "sleeper"]);
    for i in 0..10 {
        c.kubectl_ok(&["delete", "configmap", &format!("cm-{i}")]);
    }
    c.kubectl_ok(&["create", "configmap", "after-snapshot"]);
    c.kubectl_ok(&["label", "configmap", "after-snapshot", LABEL]);
    let rewritten = with_claim(
        &c,
        "rewriter",
        "head -c 1048576 /dev/urandom > /data/blob && sha256sum /data/blob",
    );
    assert_ne!(rewritten, written);

    let restore = c.localkube(&["snapshot", "restore", "s1"]);
    assert_success(&restore, "snapshot restore");
    assert!(
        stderr(&restore).contains("Stopping profile 'snaprest' to swap in"),
        "{}",
        stderr(&restore)
    );
    assert_eq!(
        configmaps(&c, &["-p", "snaprest"]),
        cms,
        "ConfigMaps by uid and resourceVersion"
    );
    assert_eq!(
        c.kubectl_ok(&[
            "get",
            "deployment",
            "sleeper",
            "-o",
            "jsonpath={.metadata.uid}"
        ]),
        deployment_uid
    );
    assert_eq!(with_claim(&c, "reader", "sha256sum /data/blob"), written);

    // Export, then import as another profile: it starts, with the same objects.
    let file = c.sb.path("s1.snapshot");
    c.localkube_ok(&["snapshot", "export", "s1", file.to_str().unwrap()]);
    let imported = Imported(&c, "snapimp");
    let import = c.sb.run(&[
        "-p",
        "snapimp",
        "snapshot",
        "import",
        file.to_str().unwrap(),
    ]);
    assert_success(&import, "snapshot import as another profile");
    assert_eq!(
        configmaps(&c, &["-p", "snapimp"]),
        cms,
        "the imported profile's ConfigMaps"
    );
    let nodes = stdout(&c.sb.run(&[
        "-p",
        "snapimp",
        "kubectl",
        "--",
        "get",
        "nodes",
        "-o",
        "jsonpath={.items[*].metadata.name}",
    ]));
    assert_eq!(
        nodes.trim(),
        "snapimp",
        "the old node is gone, the new one there"
    );
    drop(imported);

    // Damaged, or of another version: refused, nothing touched.
    let etcd_started = docker_inspect(&c.container("etcd"), "{{.State.StartedAt}}");
    c.kubectl_ok(&["create", "configmap", "kept"]);
    let db = dir.join("etcd.db");
    let mut bytes = std::fs::read(&db).unwrap();
    bytes[100] ^= 0xff;
    std::fs::write(&db, &bytes).unwrap();
    let refused = c.localkube(&["snapshot", "restore", "s1"]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("is damaged"),
        "{}",
        stderr(&refused)
    );
    assert!(stderr(&refused).contains("etcd.db"), "{}", stderr(&refused));
    bytes[100] ^= 0xff;
    std::fs::write(&db, &bytes).unwrap();
    let manifest = dir.join("manifest.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let other = text.replace(
        localkube::plan::version::DEFAULT_KUBERNETES_VERSION,
        "v1.30.0",
    );
    std::fs::write(&manifest, other).unwrap();
    let refused = c.localkube(&["snapshot", "restore", "s1"]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("taken of Kubernetes v1.30.0"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(
        docker_inspect(&c.container("etcd"), "{{.State.StartedAt}}"),
        etcd_started
    );
    c.kubectl_ok(&["get", "configmap", "kept"]);

    c.localkube_ok(&["snapshot", "delete", "s1"]);
    assert!(!dir.exists());
}
