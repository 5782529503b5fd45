//! `start --kubernetes-version` on a profile of another release: the upgrade in place.
//!
//! Default CI (default release only): a downgrade and a two-minor jump are refused with nothing
//! changed (containers, objects, files, no snapshot), and `--dry-run` prints the phases.
//! `#[ignore]` (they need v1.36.3's images; scripts/check-upgrade.sh runs them): 1.36.3 → 1.37.2
//! on two nodes with a Deployment behind a PodDisruptionBudget and a LoadBalancer Service, a
//! StatefulSet with a claim, every object's uid and the claim's data kept, and a client polling
//! the Service every 100 ms counting failed requests; and a failure injected after a node's
//! replacement, which restores the pre-upgrade snapshot onto the old release.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::load_balancer::LoadBalancerCluster;
use super::support::{
    Cluster, Sandbox, assert_success, build_sample_image, docker_ok, stderr, stdout, wait_until,
};

const FROM: &str = "v1.36.3";
const TO: &str = "v1.37.2";

/// Removes the profile's pre-upgrade snapshot when dropped, whatever the test did: snapshots live
/// in the shared cache and outlive `localkube delete`. Declared after the cluster, so it goes
/// first.
struct SnapshotGone<'a>(&'a Cluster);

impl Drop for SnapshotGone<'_> {
    fn drop(&mut self) {
        let _ = self
            .0
            .localkube(&["snapshot", "delete", &format!("pre-upgrade-{FROM}")]);
    }
}

/// The IDs of the profile's containers, sorted: equal before and after means none was replaced.
fn container_ids(profile: &str) -> Vec<String> {
    let mut ids: Vec<String> = docker_ok(&[
        "ps",
        "-aq",
        "--no-trunc",
        "--filter",
        &format!("label=io.localkube.profile={profile}"),
    ])
    .lines()
    .map(str::to_string)
    .collect();
    ids.sort();
    ids
}

fn uid(c: &Cluster, kind: &str, name: &str) -> String {
    c.kubectl_ok(&["get", kind, name, "-o", "jsonpath={.metadata.uid}"])
}

fn resource_version(c: &Cluster, kind: &str, name: &str) -> u64 {
    c.kubectl_ok(&[
        "get",
        kind,
        name,
        "-o",
        "jsonpath={.metadata.resourceVersion}",
    ])
    .parse()
    .expect("a number")
}

fn server_version(c: &Cluster) -> String {
    let json = c.kubectl_ok(&["version", "-o", "json"]);
    let value: serde_json::Value = serde_json::from_str(&json).expect("kubectl version's JSON");
    value["serverVersion"]["gitVersion"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Each node's kubelet version, as `node list -o json` reports it.
fn node_versions(c: &Cluster) -> Vec<String> {
    let json = c.localkube_ok(&["node", "list", "-o", "json"]);
    let nodes: serde_json::Value = serde_json::from_str(&json).expect("node list's JSON");
    nodes
        .as_array()
        .expect("a list")
        .iter()
        .map(|n| n["version"].as_str().unwrap_or("?").to_string())
        .collect()
}

#[test]
fn downgrades_and_two_minor_jumps_are_refused_with_nothing_changed() {
    // A profile of v1.35 written by a dry run (no images needed): asked for v1.37, refused with
    // the two commands that do it, its file untouched.
    let sb = Sandbox::new();
    let jump = ["-p", "upg-jump"];
    let out = sb.run(&[
        jump[0],
        jump[1],
        "start",
        "--dry-run",
        "--kubernetes-version",
        "v1.35.4",
    ]);
    assert_success(&out, "a dry run of a v1.35 profile");
    let config = sb.home().join("profiles/upg-jump/config.yaml");
    let before = std::fs::read(&config).expect("the profile's config.yaml");
    let out = sb.run(&[jump[0], jump[1], "start", "--kubernetes-version", TO]);
    let err = stderr(&out);
    assert!(
        !out.status.success(),
        "a two-minor jump was accepted:\n{err}"
    );
    assert!(
        err.contains("one minor at a time")
            && err.contains("`localkube start -p upg-jump --kubernetes-version v1.36.3`, then `localkube start -p upg-jump --kubernetes-version v1.37.2`"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&config).unwrap(),
        before,
        "the profile changed"
    );

    // A running v1.37.2 cluster asked for v1.36 and v1.35: refused, no container replaced, no
    // object touched, no snapshot taken.
    let c = Cluster::start("upg-down", &[]);
    c.kubectl_ok(&["create", "configmap", "kept", "--from-literal=a=1"]);
    let kept = uid(&c, "configmap", "kept");
    let containers = container_ids(&c.profile);
    for older in [FROM, "v1.35"] {
        let out = c.localkube(&["start", "--kubernetes-version", older]);
        let err = stderr(&out);
        assert!(
            !out.status.success(),
            "{older}: a downgrade was accepted:\n{err}"
        );
        assert!(
            err.contains("downgrade") && err.contains("nothing was changed"),
            "{err}"
        );
        // This profile was never upgraded, so it keeps no pre-upgrade snapshot to point to.
        assert!(!err.contains("snapshot restore"), "{err}");
    }
    assert_eq!(
        container_ids(&c.profile),
        containers,
        "a container was replaced"
    );
    assert_eq!(uid(&c, "configmap", "kept"), kept);
    let snapshots = c.localkube_ok(&["snapshot", "list"]);
    assert!(!snapshots.contains("pre-upgrade"), "{snapshots}");
    assert_eq!(server_version(&c), TO);

    // A patch release of the same minor goes either way: the dry run prints every phase, in
    // kubeadm's order, and changes nothing.
    let plan = c.localkube_ok(&["start", "--dry-run", "--kubernetes-version", "v1.37.1"]);
    let order = [
        "0. snapshot 'pre-upgrade-v1.37.2'",
        "[etcd]",
        "[apiserver]",
        "[controller-manager]",
        "[scheduler]",
        "[node-upg-down]",
        "[addons]",
    ];
    let mut at = 0;
    for phase in order {
        let found = plan[at..]
            .find(phase)
            .unwrap_or_else(|| panic!("{phase} in order in\n{plan}"));
        at += found;
    }
    assert_eq!(
        container_ids(&c.profile),
        containers,
        "the dry run replaced a container"
    );
}

/// A client of the Service every 100 ms: each request's outcome, for the failures and the
/// longest time without an answer.
struct Poller {
    stop: Arc<AtomicBool>,
    outcomes: Arc<Mutex<Vec<(Instant, bool)>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// One plain HTTP GET with a 1 s deadline; whether it got a 200 from the app.
fn get_ok(at: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&at, Duration::from_secs(1)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    if stream.write_all(b"GET / HTTP/1.0\r\n\r\n").is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.") && answer.contains(" 200 ") && answer.contains("You've hit")
}

impl Poller {
    fn start(at: SocketAddr) -> Self {
        Self::probing(Duration::from_millis(100), move || get_ok(at))
    }

    /// `probe` every `every` (or as fast as it answers, when it takes longer).
    fn probing(every: Duration, probe: impl Fn() -> bool + Send + 'static) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let outcomes = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (stop, outcomes) = (stop.clone(), outcomes.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let sent = Instant::now();
                    let ok = probe();
                    outcomes.lock().unwrap().push((sent, ok));
                    let next = sent + every;
                    std::thread::sleep(next.saturating_duration_since(Instant::now()));
                }
            })
        };
        Poller {
            stop,
            outcomes,
            thread: Some(thread),
        }
    }

    /// Requests sent, requests failed, the longest time between two answered ones, and every
    /// time without an answer over a second (`at +12.3 s for 7.3 s`, from the first request).
    fn finish(mut self) -> (usize, usize, Duration, String) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
        let outcomes = self.outcomes.lock().unwrap();
        let failed = outcomes.iter().filter(|(_, ok)| !ok).count();
        let first = outcomes.first().map(|(at, _)| *at);
        let mut longest = Duration::ZERO;
        let mut gaps = Vec::new();
        let mut last_ok: Option<Instant> = None;
        for (at, ok) in outcomes.iter() {
            if *ok {
                if let (Some(before), Some(first)) = (last_ok, first) {
                    let gap = at.duration_since(before);
                    longest = longest.max(gap);
                    if gap > Duration::from_secs(1) {
                        gaps.push(format!(
                            "at +{:.1} s for {:.1} s",
                            before.duration_since(first).as_secs_f64(),
                            gap.as_secs_f64()
                        ));
                    }
                }
                last_ok = Some(*at);
            }
        }
        (outcomes.len(), failed, longest, gaps.join(", "))
    }
}

fn workloads(helper_image: &str) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      # One replica a node, so one always serves while the other's node is replaced.
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: kubernetes.io/hostname
          whenUnsatisfiable: DoNotSchedule
          labelSelector:
            matchLabels: {{app: web}}
      containers:
        - name: kubia
          image: kubia:1.0
          imagePullPolicy: Never
          ports: [{{containerPort: 8080}}]
          readinessProbe:
            httpGet: {{path: /, port: 8080}}
            periodSeconds: 1
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: web
spec:
  minAvailable: 1
  selector:
    matchLabels: {{app: web}}
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  type: LoadBalancer
  selector: {{app: web}}
  ports: [{{port: 8080, targetPort: 8080}}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  serviceName: db
  replicas: 1
  selector:
    matchLabels: {{app: db}}
  template:
    metadata:
      labels: {{app: db}}
    spec:
      containers:
        - name: main
          image: {helper_image}
          imagePullPolicy: IfNotPresent
          command: ["/bin/sh", "-c", "[ -f /data/token ] || head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \\n' > /data/token; exec sleep 1000000"]
          volumeMounts: [{{name: data, mountPath: /data}}]
  volumeClaimTemplates:
    - metadata: {{name: data}}
      spec:
        accessModes: [ReadWriteOnce]
        resources: {{requests: {{storage: 16Mi}}}}
"#
    )
}

/// What must survive the upgrade: each object's uid.
const KEPT: [(&str, &str); 6] = [
    ("deployment", "web"),
    ("poddisruptionbudget", "web"),
    ("service", "web"),
    ("statefulset", "db"),
    ("persistentvolumeclaim", "data-db-0"),
    ("configmap", "kept"),
];

fn token(c: &Cluster) -> String {
    c.kubectl_until(
        &["exec", "db-0", "--", "cat", "/data/token"],
        Duration::from_secs(120),
        |t| t.trim().len() == 32,
    )
    .trim()
    .to_string()
}

/// The upgrade's whole output, kept in target/ for a look at each step's time.
fn keep_output(name: &str, output: &str) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/target");
    let _ = std::fs::write(format!("{path}/{name}.log"), output);
}

/// The figures the upgrade printed last (`Upgraded profile ... in N s (snapshot .., etcd ..)`).
fn phase_times(output: &str) -> String {
    output
        .lines()
        .find(|l| l.contains("Upgraded profile"))
        .unwrap_or("no summary line")
        .to_string()
}

#[test]
#[ignore = "needs v1.36.3's images (scripts/check-upgrade.sh)"]
fn upgrade_keeps_objects_and_data_and_serves() {
    build_sample_image();
    let c = Cluster::start(
        "upg-live",
        &[
            "--kubernetes-version",
            FROM,
            "--nodes",
            "2",
            "--localhost",
            "none",
        ],
    );
    let _snapshot = SnapshotGone(&c);
    c.localkube_ok(&["image", "load", "kubia:1.0"]);
    c.apply(&workloads(&format!("localkube/storage-helper:{FROM}")));
    c.kubectl_ok(&["create", "configmap", "kept", "--from-literal=a=1"]);
    c.wait_ready("web", "2");
    let data = token(&c);
    let uids: Vec<String> = KEPT.iter().map(|(k, n)| uid(&c, k, n)).collect();
    let rv_before: u64 = resource_version(&c, "configmap", "kept");
    let ip = c.external_ip("web");
    let at = SocketAddr::from((ip, 8080));
    wait_until("the Service answering", Duration::from_secs(60), || {
        get_ok(at)
            .then_some(())
            .ok_or_else(|| "no answer".to_string())
    });

    let poller = Poller::start(at);
    let began = Instant::now();
    let out = c.localkube(&["start", "--kubernetes-version", TO]);
    let took = began.elapsed();
    // A few more requests after the upgrade ends: the Service must answer on the new release.
    std::thread::sleep(Duration::from_secs(2));
    let (sent, failed, longest, gaps) = poller.finish();
    assert_success(&out, "the upgrade");
    let printed = format!("{}{}", stdout(&out), stderr(&out));
    keep_output("upgrade-two-nodes", &printed);
    println!(
        "upgrade {FROM} → {TO}, 2 nodes, 1 control-plane member: {:.1} s; {failed} of {sent} \
         requests failed, longest gap {:.1} s (gaps over 1 s: {gaps})\n{}",
        took.as_secs_f64(),
        longest.as_secs_f64(),
        phase_times(&printed)
    );

    assert_eq!(server_version(&c), TO);
    assert_eq!(node_versions(&c), [TO, TO]);
    let after: Vec<String> = KEPT.iter().map(|(k, n)| uid(&c, k, n)).collect();
    assert_eq!(after, uids, "an object was made anew");
    assert_eq!(token(&c), data, "the claim's data changed");
    c.wait_ready("web", "2");
    assert!(get_ok(at), "the Service does not answer after the upgrade");
    // resourceVersions go on from etcd's revision: the same store, not a new one.
    c.kubectl_ok(&["label", "configmap", "kept", "after=upgrade"]);
    let rv_after: u64 = resource_version(&c, "configmap", "kept");
    assert!(rv_after > rv_before, "{rv_after} <= {rv_before}");
    // The way back stays.
    let snapshots = c.localkube_ok(&["snapshot", "list"]);
    assert!(
        snapshots.contains(&format!("pre-upgrade-{FROM}")),
        "{snapshots}"
    );
    // Back by hand: the pre-upgrade snapshot takes the profile back to the old release, with
    // the objects as they were before the upgrade (the label set after it is gone).
    c.localkube_ok(&["snapshot", "restore", &format!("pre-upgrade-{FROM}")]);
    assert_eq!(server_version(&c), FROM);
    assert_eq!(node_versions(&c), [FROM, FROM]);
    let back: Vec<String> = KEPT.iter().map(|(k, n)| uid(&c, k, n)).collect();
    assert_eq!(back, uids);
    let labels = c.kubectl_ok(&[
        "get",
        "configmap",
        "kept",
        "-o",
        "jsonpath={.metadata.labels}",
    ]);
    assert!(!labels.contains("upgrade"), "{labels}");
    assert_eq!(token(&c), data, "the claim's data after the restore");
    // A two-node Deployment behind a budget keeps serving: at most a few requests fail while a
    // node's kube-proxy and the load balancer catch up (the figure is printed above).
    assert!(
        longest < Duration::from_secs(30),
        "the Service was silent for {longest:?}"
    );
}

#[test]
#[ignore = "needs v1.36.3's images (scripts/check-upgrade.sh)"]
fn a_failed_upgrade_restores_the_snapshot() {
    let c = Cluster::start(
        "upg-fail",
        &["--kubernetes-version", FROM, "--localhost", "none"],
    );
    let _snapshot = SnapshotGone(&c);
    c.kubectl_ok(&["create", "configmap", "kept", "--from-literal=a=1"]);
    let kept = uid(&c, "configmap", "kept");

    let began = Instant::now();
    let out =
        c.sb.localkube()
            .args(["-p", "upg-fail", "start", "--kubernetes-version", TO])
            .env("LOCALKUBE_TEST_UPGRADE_FAIL_AT", "node-upg-fail")
            .output()
            .expect("run localkube");
    let err = stderr(&out);
    println!(
        "failed upgrade and restore: {:.1} s",
        began.elapsed().as_secs_f64()
    );
    assert!(!out.status.success(), "the upgrade succeeded:\n{err}");
    assert!(
        err.contains("LOCALKUBE_TEST_UPGRADE_FAIL_AT=node-upg-fail")
            && err.contains(&format!("the snapshot 'pre-upgrade-{FROM}' was restored"))
            && err.contains(&format!("runs Kubernetes {FROM} again")),
        "{err}"
    );
    // Serving again on the old release, every object there, writes accepted.
    assert_eq!(server_version(&c), FROM);
    assert_eq!(node_versions(&c), [FROM]);
    assert_eq!(uid(&c, "configmap", "kept"), kept);
    c.kubectl_ok(&["create", "configmap", "after-restore"]);
    let config = std::fs::read_to_string(c.sb.home().join("profiles/upg-fail/config.yaml"))
        .expect("config.yaml");
    assert!(config.contains(FROM), "{config}");
}

/// The apiserver's /readyz through the profile's kubectl: whether it answered ok.
fn api_ready(sb_home: std::path::PathBuf, kubeconfig: std::path::PathBuf, profile: String) -> bool {
    std::process::Command::new(super::support::localkube_bin())
        .env("LOCALKUBE_HOME", sb_home)
        .env("KUBECONFIG", kubeconfig)
        .args([
            "-p",
            &profile,
            "kubectl",
            "--",
            "get",
            "--raw",
            "/readyz",
            "--request-timeout=1s",
        ])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
#[ignore = "needs v1.36.3's images (scripts/check-upgrade.sh)"]
fn what_a_one_node_one_member_profile_loses() {
    build_sample_image();
    let c = Cluster::start(
        "upg-one",
        &["--kubernetes-version", FROM, "--localhost", "none"],
    );
    let _snapshot = SnapshotGone(&c);
    c.localkube_ok(&["image", "load", "kubia:1.0"]);
    c.kubectl_ok(&["create", "deployment", "web", "--image=kubia:1.0"]);
    c.kubectl_ok(&[
        "expose",
        "deployment",
        "web",
        "--type=LoadBalancer",
        "--port=8080",
    ]);
    c.wait_ready("web", "1");
    let at = SocketAddr::from((c.external_ip("web"), 8080));
    wait_until("the Service answering", Duration::from_secs(60), || {
        get_ok(at)
            .then_some(())
            .ok_or_else(|| "no answer".to_string())
    });
    let web_uid = uid(&c, "deployment", "web");

    let service = Poller::start(at);
    let (home, kubeconfig, profile) = (c.sb.home(), c.sb.kubeconfig(), c.profile.clone());
    let api = Poller::probing(Duration::from_millis(250), move || {
        api_ready(home.clone(), kubeconfig.clone(), profile.clone())
    });
    let began = Instant::now();
    let out = c.localkube(&["start", "--kubernetes-version", TO]);
    let took = began.elapsed();
    assert_success(&out, "the upgrade");
    // The workload back on the new release before the pollers stop: the gap is over.
    c.wait_ready("web", "1");
    wait_until(
        "the Service answering again",
        Duration::from_secs(120),
        || {
            get_ok(at)
                .then_some(())
                .ok_or_else(|| "no answer".to_string())
        },
    );
    let (sent, failed, longest, gaps) = service.finish();
    let (api_sent, api_failed, api_longest, api_gaps) = api.finish();
    let printed = format!("{}{}", stdout(&out), stderr(&out));
    keep_output("upgrade-one-node", &printed);
    println!(
        "upgrade {FROM} → {TO}, 1 node, 1 control-plane member: {:.1} s; Service: {failed} of \
         {sent} requests failed, longest gap {:.1} s ({gaps}); API (/readyz every 250 ms): \
         {api_failed} of {api_sent} failed, longest gap {:.1} s ({api_gaps})\n{}",
        took.as_secs_f64(),
        longest.as_secs_f64(),
        api_longest.as_secs_f64(),
        phase_times(&printed)
    );
    assert_eq!(server_version(&c), TO);
    assert_eq!(node_versions(&c), [TO]);
    assert_eq!(uid(&c, "deployment", "web"), web_uid);
}
