//! Faults against real clusters: `start` failing after each step or interrupted (nothing of it
//! is left); `kill -9` of every component and of the node; ten stop/start cycles with hundreds
//! of objects (none lost or changed); concurrent verbs on one profile and on two; a user's
//! kubeconfig with its own `dev` and `minikube` entries that survives every verb byte for byte.
//! The dockerd restart mid-workload is ignored here and run alone by scripts/test.sh.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use localkube::lifecycle::start::STEPS;
use localkube::plan::kubeconfig::remove_entries;

use super::support::{
    Cluster, ClusterSlot, Sandbox, USER_KUBECONFIG, assert_success, docker_inspect,
    labelled_objects, restart_dockerd, signal, stderr, stdout, wait_until,
};

/// The label of every object this suite creates in a cluster.
const SUITE_LABEL: &str = "localkube-suite=faults";

/// The steps of `start`, as its table names them, that fail fast: those before any container
/// (a network and volumes at most).
fn early_steps() -> Vec<&'static str> {
    STEPS
        .iter()
        .map(|step| step.name)
        .take_while(|name| *name != "Containers")
        .collect()
}

/// `start` failing after `step` (the test hook) fails naming it, and leaves nothing of itself.
fn assert_fail_at_leaves_nothing(sb: &Sandbox, profile: &str, step: &str, kubeconfig: &[u8]) {
    let out = sb
        .localkube()
        .args(["-p", profile, "start"])
        .env("LOCALKUBE_TEST_FAIL_AT", step)
        .output()
        .unwrap();
    assert!(!out.status.success(), "{step}: start succeeded");
    assert!(
        stderr(&out).contains(&format!("LOCALKUBE_TEST_FAIL_AT={step}")),
        "{step}: {}",
        stderr(&out)
    );
    assert_nothing_left(sb, profile, kubeconfig, &format!("a failure after {step}"));
}

/// `n` ConfigMaps, `n` Deployments (no replicas: objects, not load) and `n` Services, as one
/// List for one `kubectl apply`.
fn objects_manifest(n: usize) -> String {
    let mut items = Vec::new();
    for i in 0..n {
        let labels = serde_json::json!({"localkube-suite": "faults", "app": format!("f{i}")});
        items.push(serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": format!("cm-{i}"), "labels": labels},
            "data": {"index": i.to_string(), "text": format!("chapter {i}")},
        }));
        items.push(serde_json::json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": format!("deploy-{i}"), "labels": labels},
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": {"app": format!("f{i}")}},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "app", "image": format!("example.invalid/app:{i}")}]},
                },
            },
        }));
        items.push(serde_json::json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": format!("svc-{i}"), "labels": labels},
            "spec": {"selector": {"app": format!("f{i}")}, "ports": [{"port": 80 + (i as u16 % 100)}]},
        }));
    }
    serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items}).to_string()
}

/// Every object of the suite: kind/name → uid and the fields that must never change.
fn fingerprint(c: &Cluster) -> BTreeMap<String, String> {
    let template = "{range .items[*]}{.kind}/{.metadata.name} {.metadata.uid} {.data} \
                    {.spec.replicas} {.spec.template.spec.containers[0].image} {.spec.clusterIP} \
                    {.spec.ports[0].port}{\"\\n\"}{end}";
    let text = c.kubectl_ok(&[
        "get",
        "configmaps,deployments,services",
        "-l",
        SUITE_LABEL,
        "-o",
        &format!("jsonpath={template}"),
    ]);
    text.lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn assert_same_objects(c: &Cluster, before: &BTreeMap<String, String>, after: &str) {
    let now = fingerprint(c);
    let lost: Vec<&String> = before.keys().filter(|k| !now.contains_key(*k)).collect();
    let changed: Vec<&String> = before
        .iter()
        .filter(|(k, v)| now.get(*k).is_some_and(|n| n != *v))
        .map(|(k, _)| k)
        .collect();
    assert!(
        lost.is_empty() && changed.is_empty() && now.len() == before.len(),
        "after {after}: {} lost {lost:?}, {} changed {changed:?}, {} now",
        lost.len(),
        changed.len(),
        now.len()
    );
}

/// The API server answers and writes, and every node is Ready.
fn wait_serving(c: &Cluster, after: &str) {
    c.kubectl_until(
        &["get", "--raw", "/readyz"],
        Duration::from_secs(180),
        |t| t.trim() == "ok",
    );
    c.kubectl_until(
        &["get", "nodes", "--no-headers"],
        Duration::from_secs(180),
        |t| {
            !t.is_empty()
                && t.lines()
                    .all(|l| l.split_whitespace().nth(1) == Some("Ready"))
        },
    );
    // Each kubelet answers through the apiserver, which verifies its serving certificate
    // against the cluster CA (--kubelet-certificate-authority).
    let nodes = c.kubectl_ok(&["get", "nodes", "-o", "name"]);
    for node in nodes.lines().filter_map(|l| l.strip_prefix("node/")) {
        c.kubectl_until(
            &[
                "get",
                "--raw",
                &format!("/api/v1/nodes/{node}/proxy/healthz"),
            ],
            Duration::from_secs(120),
            |t| t.trim() == "ok",
        );
    }
    let probe = format!("probe-{}", after.len());
    c.kubectl_until(
        &[
            "create",
            "configmap",
            &probe,
            "--dry-run=server",
            "-o",
            "name",
        ],
        Duration::from_secs(60),
        |t| t.contains(&probe),
    );
}

/// The user's kubeconfig with the profile's own entries taken out: always exactly what the
/// user wrote, whatever verb ran.
fn assert_user_entries_untouched(sb: &Sandbox, profile: &str, after: &str) {
    let text = String::from_utf8(sb.kubeconfig_bytes()).unwrap();
    let name = format!("localkube-{profile}");
    let users_own = remove_entries(&text, &name, &name, &name, profile)
        .unwrap()
        .unwrap_or(text);
    assert_eq!(
        users_own, USER_KUBECONFIG,
        "after {after}: the user's own kubeconfig entries changed"
    );
}

fn spawn(sb: &Sandbox, args: &[&str], env: &[(&str, &str)]) -> Child {
    let mut cmd = sb.localkube();
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().expect("spawn localkube")
}

fn finish(child: Child) -> Output {
    child.wait_with_output().expect("wait for localkube")
}

fn assert_nothing_left(sb: &Sandbox, profile: &str, kubeconfig: &[u8], after: &str) {
    assert_eq!(
        labelled_objects(profile),
        Vec::<String>::new(),
        "after {after}: Docker objects left"
    );
    assert!(
        !sb.home().join("profiles").join(profile).exists(),
        "after {after}: the profile folder was left"
    );
    assert_eq!(
        sb.kubeconfig_bytes(),
        kubeconfig,
        "after {after}: the user's kubeconfig changed"
    );
}

#[test]
fn a_start_failing_after_any_step_or_interrupted_leaves_nothing() {
    let sb = Sandbox::new();
    sb.write_user_kubeconfig();
    let before = sb.kubeconfig_bytes();
    let profile = "intr";
    let started = Instant::now();
    // The fast steps: nothing in Docker yet, or a network and volumes at most.
    let early = early_steps();
    assert!(early.contains(&"NetworkAndVolumes"), "{early:?}");
    for step in early {
        assert_fail_at_leaves_nothing(&sb, profile, step, &before);
    }
    eprintln!("early steps: {:?}", started.elapsed());

    // With real containers: after they start, and after everything including the kubeconfig merge.
    let _slot = ClusterSlot::acquire();
    for step in ["Containers", "KubeconfigMerge"] {
        let t = Instant::now();
        assert_fail_at_leaves_nothing(&sb, profile, step, &before);
        eprintln!("failure after {step}: {:?}", t.elapsed());
    }

    // Ctrl-C while the apiserver comes up: rolled back like a failure.
    let t = Instant::now();
    let child = spawn(&sb, &["-p", profile, "start"], &[]);
    let apiserver = format!("{profile}-apiserver");
    wait_until(
        "the apiserver container exists",
        Duration::from_secs(120),
        || {
            let out = Command::new("docker")
                .args(["inspect", &apiserver])
                .output()
                .unwrap();
            if out.status.success() {
                Ok(())
            } else {
                Err(stderr(&out))
            }
        },
    );
    signal(child.id(), "-INT");
    let out = finish(child);
    assert!(!out.status.success(), "an interrupted start succeeded");
    assert!(
        stderr(&out).contains("interrupted (Ctrl-C)"),
        "{}",
        stderr(&out)
    );
    assert_nothing_left(&sb, profile, &before, "Ctrl-C during start");
    eprintln!(
        "Ctrl-C: {:?}; whole test {:?}",
        t.elapsed(),
        started.elapsed()
    );
}

#[test]
fn objects_survive_kill_9_of_every_component_and_ten_stop_start_cycles() {
    let started = Instant::now();
    // The user's own kubeconfig is there before localkube ever runs.
    let sb = Sandbox::new();
    sb.write_user_kubeconfig();
    let cluster = Cluster::start_in(sb, "faults", &["--keep-context"]);
    let sb = &cluster.sb;
    let profile = cluster.profile.clone();
    assert_user_entries_untouched(sb, &profile, "start");
    // The load balancer controller runs as nobody; only its broker (root) reaches Docker.
    let lb = cluster.container("lb-controller");
    let top = stdout(
        &Command::new("docker")
            .args(["top", &lb, "-eo", "uid,pid,args"])
            .output()
            .unwrap(),
    );
    assert!(
        top.lines()
            .any(|l| l.trim_start().starts_with("65534 ") && l.contains("--worker")),
        "{top}"
    );
    // The same probe as root finds the socket, so its failure as nobody is the permission and
    // not a missing program or path.
    let probe = |user: &str| {
        Command::new("docker")
            .args([
                "exec",
                "-u",
                user,
                &lb,
                "ls",
                "-l",
                "/run/localkube-docker/docker.sock",
            ])
            .output()
            .unwrap()
    };
    let root = probe("0");
    assert!(
        root.status.success() && stdout(&root).starts_with('s'),
        "the broker's socket is not there: {}{}",
        stdout(&root),
        stderr(&root)
    );
    let nobody = probe("65534");
    assert!(
        !nobody.status.success() && stderr(&nobody).contains("Permission denied"),
        "nobody reaches the Docker socket, or fails for another reason: {}{}",
        stdout(&nobody),
        stderr(&nobody)
    );
    let t = Instant::now();
    cluster.apply(&objects_manifest(100));
    let before = fingerprint(&cluster);
    assert_eq!(before.len(), 300, "{before:?}");
    eprintln!(
        "start and 300 objects: {:?} (apply {:?})",
        started.elapsed(),
        t.elapsed()
    );

    // kill -9 of each component's process and of the node: the restart policy brings each back.
    let mut killed = 0;
    for role in [
        "etcd",
        "apiserver",
        "controller-manager",
        "scheduler",
        "lb-controller",
        "node",
    ] {
        let t = Instant::now();
        let name = if role == "node" {
            profile.clone()
        } else {
            cluster.container(role)
        };
        let exists = Command::new("docker")
            .args(["inspect", &name])
            .output()
            .unwrap()
            .status
            .success();
        if !exists {
            continue;
        }
        let restarts: u32 = docker_inspect(&name, "{{.RestartCount}}").parse().unwrap();
        let pid: u32 = docker_inspect(&name, "{{.State.Pid}}").parse().unwrap();
        signal(pid, "-KILL");
        wait_until(
            &format!("{name} restarted after kill -9"),
            Duration::from_secs(120),
            || {
                let now: u32 = docker_inspect(&name, "{{.RestartCount}}").parse().unwrap();
                let running = docker_inspect(&name, "{{.State.Running}}");
                if now > restarts && running == "true" {
                    Ok(())
                } else {
                    Err(format!("restarts {now}, running {running}"))
                }
            },
        );
        wait_serving(&cluster, &format!("kill -9 {name}"));
        assert_same_objects(&cluster, &before, &format!("kill -9 of {name}"));
        killed += 1;
        eprintln!("kill -9 {name}: back in {:?}", t.elapsed());
    }
    assert!(killed >= 5, "only {killed} components were killed");

    // Ten stop/start cycles; once, a resumed start fails on purpose and must put everything back
    // as it was: stopped containers, the same files, the same kubeconfig.
    for cycle in 1..=10 {
        let t = Instant::now();
        assert_success(&cluster.localkube(&["stop"]), "stop");
        assert_user_entries_untouched(sb, &profile, "stop");
        if cycle == 5 {
            let files = profile_files(sb, &profile);
            let kubeconfig = sb.kubeconfig_bytes();
            let out = sb
                .localkube()
                .args(["-p", &profile, "start", "--keep-context"])
                .env("LOCALKUBE_TEST_FAIL_AT", "Nodes")
                .output()
                .unwrap();
            assert!(!out.status.success(), "the failing start succeeded");
            let running = Command::new("docker")
                .args([
                    "ps",
                    "-q",
                    "--filter",
                    &format!("label=io.localkube.profile={profile}"),
                ])
                .output()
                .unwrap();
            assert_eq!(
                stdout(&running).trim(),
                "",
                "a failed resumed start left containers running"
            );
            assert_eq!(profile_files(sb, &profile), files, "profile files changed");
            assert_eq!(sb.kubeconfig_bytes(), kubeconfig, "kubeconfig changed");
        }
        assert_success(&cluster.localkube(&["start", "--keep-context"]), "start");
        wait_serving(&cluster, &format!("cycle {cycle}"));
        assert_same_objects(&cluster, &before, &format!("stop/start cycle {cycle}"));
        assert_user_entries_untouched(sb, &profile, "start");
        eprintln!("cycle {cycle}: {:?}", t.elapsed());
    }

    // Concurrent verbs. One profile: stop and start at once serialize on its lock, and the
    // cluster ends consistent. Two profiles: a second one failing its start (after creating its
    // network and volumes) while the first restarts, and a start and delete of it racing.
    let t = Instant::now();
    let wait = [("LOCALKUBE_LOCK_TIMEOUT", "600")];
    let stop = spawn(sb, &["-p", &profile, "stop"], &wait);
    let start = spawn(sb, &["-p", &profile, "start", "--keep-context"], &wait);
    let other = spawn(
        sb,
        &["-p", "faults2", "start"],
        &[
            ("LOCALKUBE_LOCK_TIMEOUT", "600"),
            ("LOCALKUBE_TEST_FAIL_AT", "NetworkAndVolumes"),
        ],
    );
    assert_success(&finish(stop), "concurrent stop");
    assert_success(&finish(start), "concurrent start");
    let other = finish(other);
    assert!(!other.status.success(), "faults2 was meant to fail");
    let racing_start = spawn(
        sb,
        &["-p", "faults2", "start"],
        &[
            ("LOCALKUBE_LOCK_TIMEOUT", "600"),
            ("LOCALKUBE_TEST_FAIL_AT", "Containers"),
        ],
    );
    let racing_delete = spawn(sb, &["-p", "faults2", "delete"], &wait);
    assert!(!finish(racing_start).status.success());
    assert_success(&finish(racing_delete), "concurrent delete");
    assert_eq!(labelled_objects("faults2"), Vec::<String>::new());
    assert!(!sb.home().join("profiles/faults2").exists());
    // Whichever of stop and start won, one more start leaves it running with every object.
    assert_success(&cluster.localkube(&["start", "--keep-context"]), "start");
    wait_serving(&cluster, "the concurrent verbs");
    assert_same_objects(&cluster, &before, "concurrent verbs");
    assert_user_entries_untouched(sb, &profile, "concurrent verbs");
    eprintln!("concurrent verbs: {:?}", t.elapsed());

    // New CAs on request: every certificate reissued, the components restarted with them, the
    // objects kept, and kubectl (with the re-merged credentials) trusts the cluster again.
    let t = Instant::now();
    let ca = sb.home().join("profiles").join(&profile).join("pki/ca.crt");
    let old_ca = std::fs::read(&ca).unwrap();
    let out = cluster.localkube(&["start", "--keep-context", "--renew-ca"]);
    assert_success(&out, "start --renew-ca");
    assert!(
        stderr(&out).contains("--renew-ca: new cluster"),
        "{}",
        stderr(&out)
    );
    assert_ne!(
        std::fs::read(&ca).unwrap(),
        old_ca,
        "the CA was not renewed"
    );
    wait_serving(&cluster, "start --renew-ca");
    assert_same_objects(&cluster, &before, "start --renew-ca");
    assert_user_entries_untouched(sb, &profile, "start --renew-ca");
    eprintln!("renew-ca: {:?}", t.elapsed());

    // delete takes out exactly what start added: the file is the user's again, byte for byte.
    assert_success(&cluster.localkube(&["delete"]), "delete");
    assert_eq!(
        String::from_utf8(sb.kubeconfig_bytes()).unwrap(),
        USER_KUBECONFIG
    );
    assert_eq!(labelled_objects(&profile), Vec::<String>::new());
    eprintln!(
        "faults: {killed} components killed, 10 cycles, 300 objects kept; {:?} in all",
        started.elapsed()
    );
}

/// Every file below the profile's pki and kubeconfigs folders and its config.yaml, with bytes.
fn profile_files(sb: &Sandbox, profile: &str) -> BTreeMap<String, Vec<u8>> {
    let dir = sb.home().join("profiles").join(profile);
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.join("pki"), dir.join("kubeconfigs")];
    files.insert(
        "config.yaml".to_string(),
        std::fs::read(dir.join("config.yaml")).unwrap(),
    );
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.insert(
                    path.strip_prefix(&dir).unwrap().display().to_string(),
                    std::fs::read(&path).unwrap(),
                );
            }
        }
    }
    files
}

#[test]
#[ignore = "restarts dockerd; scripts/test.sh runs it alone after the rest"]
fn objects_written_while_dockerd_restarts_are_kept_or_refused_never_half_made() {
    let started = Instant::now();
    let cluster = Cluster::start("dockerd-mid", &["--keep-context"]);
    // A workload: ConfigMaps created one after another while dockerd goes down and comes back.
    // Each create either succeeds (and must then exist afterwards) or fails; none is changed.
    let sb_home = cluster.sb.home();
    let kubeconfig = cluster.sb.kubeconfig();
    let profile = cluster.profile.clone();
    let writer = std::thread::spawn(move || {
        let mut created = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut i = 0;
        while Instant::now() < deadline {
            let name = format!("during-{i}");
            let mut child = Command::new(super::support::localkube_bin())
                .env("LOCALKUBE_HOME", &sb_home)
                .env("KUBECONFIG", &kubeconfig)
                .env("LOCALKUBE_PROGRESS", "quiet")
                .args(["-p", &profile, "kubectl", "--", "create", "-f", "-"])
                .args(["--request-timeout=5s"])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let manifest = serde_json::json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "labels": {"localkube-suite": "faults"}},
                "data": {"i": i.to_string()},
            });
            let _ = child
                .stdin
                .take()
                .unwrap()
                .write_all(manifest.to_string().as_bytes());
            if child.wait().unwrap().success() {
                created.push(name);
            }
            i += 1;
            std::thread::sleep(Duration::from_millis(200));
        }
        (created, i)
    });
    std::thread::sleep(Duration::from_secs(5));
    restart_dockerd();
    let (created, tried) = writer.join().unwrap();
    wait_serving(&cluster, "a dockerd restart mid-workload");
    let now = fingerprint(&cluster);
    let missing: Vec<&String> = created
        .iter()
        .filter(|n| !now.contains_key(&format!("ConfigMap/{n}")))
        .collect();
    assert!(
        missing.is_empty(),
        "created before the dockerd restart, lost after it: {missing:?}"
    );
    assert!(
        created.len() > 5,
        "too few writes got through: {}",
        created.len()
    );
    eprintln!(
        "dockerd restart mid-workload: {} of {tried} creates succeeded, all kept; {:?}",
        created.len(),
        started.elapsed()
    );
}

/// Spawns `localkube ARGS` with the test hook holding it at `phase`, waits until it says it is
/// there, interrupts it with `sig` and returns what it printed.
fn interrupt_at(c: &Cluster, args: &[&str], phase: &str, sig: &str) -> Output {
    use std::io::BufRead;
    let mut all = vec!["-p", c.profile.as_str()];
    all.extend_from_slice(args);
    let mut child = spawn(&c.sb, &all, &[("LOCALKUBE_TEST_HANG_AT", phase)]);
    let err = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut seen = String::new();
        for line in std::io::BufReader::new(err).lines() {
            let line = line.unwrap_or_default();
            seen.push_str(&line);
            seen.push('\n');
            if line.contains("LOCALKUBE_TEST_HANG_AT=") {
                let _ = tx.send(());
            }
        }
        seen
    });
    let reached = rx.recv_timeout(Duration::from_secs(300));
    signal(child.id(), sig);
    let status = child.wait().expect("wait for localkube");
    let stderr_text = reader.join().unwrap();
    assert!(
        reached.is_ok(),
        "{args:?} never reached {phase}:\n{stderr_text}"
    );
    Output {
        status,
        stdout: Vec::new(),
        stderr: stderr_text.into_bytes(),
    }
}

/// The profile's containers in a state, by name.
fn containers_in(profile: &str, status: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args([
            "ps",
            "-a",
            "--filter",
            &format!("label=io.localkube.profile={profile}"),
            "--filter",
            &format!("status={status}"),
            "--format",
            "{{.Names}}",
        ])
        .output()
        .unwrap();
    stdout(&out).lines().map(str::to_string).collect()
}

/// `snapshot save` and `pause` interrupted (Ctrl-C, SIGTERM) at each of their phases leave the
/// cluster running, thawed, serving, with no half-written snapshot (its parts hold the keys) and
/// no helper container.
#[test]
fn snapshot_save_and_pause_interrupted_at_each_phase_leave_the_cluster_running() {
    let c = Cluster::start("intrsave", &[]);
    let snapshots = localkube::effects::home::Home::from_env()
        .unwrap()
        .cache()
        .join("snapshots")
        .join("intrsave");
    let _ = std::fs::remove_dir_all(&snapshots);
    let check = |after: &str| {
        assert_eq!(
            containers_in("intrsave", "paused"),
            Vec::<String>::new(),
            "after {after}: containers left frozen"
        );
        for role in ["etcd", "apiserver", "controller-manager", "scheduler"] {
            assert_eq!(
                docker_inspect(&format!("intrsave-{role}"), "{{.State.Status}}"),
                "running",
                "after {after}: {role}"
            );
        }
        let helpers = Command::new("docker")
            .args([
                "ps",
                "-aq",
                "--filter",
                "label=io.localkube.snapshot-helper=intrsave",
            ])
            .output()
            .unwrap();
        assert_eq!(stdout(&helpers).trim(), "", "after {after}: helpers left");
        let left: Vec<_> = std::fs::read_dir(&snapshots)
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "after {after}: {left:?} left in the cache");
        c.kubectl_ok(&["get", "--raw", "/readyz"]);
    };
    let phases = [
        "save-frozen",
        "save-etcd-saved",
        "save-volumes-copied",
        "save-thawed",
        "save-written",
    ];
    for (i, phase) in phases.iter().enumerate() {
        let (sig, name) = if i % 2 == 0 {
            ("-TERM", "SIGTERM")
        } else {
            ("-INT", "Ctrl-C")
        };
        let t = Instant::now();
        let out = interrupt_at(&c, &["snapshot", "save", "s"], phase, sig);
        let err = stderr(&out);
        assert!(!out.status.success(), "{phase}: the save succeeded:\n{err}");
        assert!(
            err.contains(&format!("interrupted ({name}) while saving snapshot 's'"))
                && err.contains("runs as before"),
            "{phase}:\n{err}"
        );
        check(&format!("snapshot save interrupted at {phase}"));
        eprintln!("snapshot save interrupted at {phase}: {:?}", t.elapsed());
    }
    for wave in 1..5 {
        let phase = format!("pause-wave-{wave}");
        let out = interrupt_at(&c, &["pause"], &phase, "-INT");
        let err = stderr(&out);
        assert!(
            !out.status.success(),
            "{phase}: the pause succeeded:\n{err}"
        );
        assert!(
            err.contains("interrupted (Ctrl-C) while pausing") && err.contains("thawed"),
            "{phase}:\n{err}"
        );
        check(&format!("pause interrupted at {phase}"));
    }
}

/// `node delete` interrupted while it drains keeps the node, uncordoned; `addons enable`
/// interrupted while it applies removes what it applied and keeps the addon disabled; `addons
/// disable` interrupted finishes the removal (never half removed); `node add` failing after its
/// container was made leaves the nodes as they were.
#[test]
fn node_delete_and_addons_enable_interrupted_leave_the_cluster_as_it_was() {
    let c = Cluster::start("intrnode", &["--nodes", "2"]);
    let out = interrupt_at(
        &c,
        &["node", "delete", "intrnode-m02"],
        "node-delete-drain",
        "-TERM",
    );
    let err = stderr(&out);
    assert!(!out.status.success(), "the node delete succeeded:\n{err}");
    assert!(
        err.contains("interrupted (SIGTERM) while draining intrnode-m02")
            && err.contains("uncordoned"),
        "{err}"
    );
    let unschedulable = c.kubectl_ok(&[
        "get",
        "node",
        "intrnode-m02",
        "-o",
        "jsonpath={.spec.unschedulable}",
    ]);
    assert_eq!(unschedulable.trim(), "", "the node was left cordoned");
    assert_eq!(
        docker_inspect("intrnode-m02", "{{.State.Status}}"),
        "running"
    );
    let nodes = c.localkube_ok(&["node", "list"]);
    assert!(nodes.contains("intrnode-m02"), "{nodes}");

    let out = interrupt_at(&c, &["addons", "enable", "ingress"], "addon-enable", "-INT");
    let err = stderr(&out);
    assert!(!out.status.success(), "the addon enable succeeded:\n{err}");
    assert!(
        err.contains("interrupted (Ctrl-C) while enabling the ingress addon")
            && err.contains("stays disabled"),
        "{err}"
    );
    assert!(
        !addon_enabled(&c, "ingress"),
        "the ingress addon is still chosen"
    );

    let out = interrupt_at(
        &c,
        &["addons", "disable", "storage-provisioner"],
        "addon-disable",
        "-INT",
    );
    let err = stderr(&out);
    assert!(
        !out.status.success(),
        "the interrupted disable said nothing:\n{err}"
    );
    assert!(
        err.contains("interrupted (Ctrl-C) while disabling the storage-provisioner addon")
            && err.contains("the addon is disabled"),
        "{err}"
    );
    assert!(
        !addon_enabled(&c, "storage-provisioner"),
        "the storage-provisioner addon is still chosen"
    );
    let deployment = c.kubectl(&[
        "get",
        "deployment",
        "-n",
        "local-path-storage",
        "local-path-provisioner",
        "-o",
        "name",
    ]);
    assert!(
        stderr(&deployment).contains("NotFound") || stderr(&deployment).contains("not found"),
        "the provisioner's Deployment was left: {}",
        stdout(&deployment)
    );

    // `node add` failing once its container is made: rolled back, the nodes as they were.
    let nodes_before = c.kubectl_ok(&["get", "nodes", "-o", "name"]);
    let out =
        c.sb.localkube()
            .args(["-p", "intrnode", "node", "add"])
            .env("LOCALKUBE_TEST_FAIL_AT", "Containers")
            .output()
            .unwrap();
    assert!(
        !out.status.success(),
        "node add succeeded:\n{}",
        stderr(&out)
    );
    assert_eq!(
        containers_in("intrnode", "created")
            .into_iter()
            .chain(containers_in("intrnode", "running"))
            .chain(containers_in("intrnode", "exited"))
            .filter(|name| name == "intrnode-m03")
            .count(),
        0,
        "the failed node add left its node container"
    );
    assert_eq!(c.kubectl_ok(&["get", "nodes", "-o", "name"]), nodes_before);
    let nodes = c.localkube_ok(&["node", "list"]);
    assert!(!nodes.contains("intrnode-m03"), "{nodes}");
}

/// Whether `addons list` says the addon is on.
fn addon_enabled(c: &Cluster, name: &str) -> bool {
    let list = c.localkube_ok(&["addons", "list", "-o", "json"]);
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    let addon = list.as_array().unwrap().iter().find(|a| a["name"] == name);
    addon.unwrap_or_else(|| panic!("{name} not in {list}"))["enabled"] == true
}

/// `snapshot restore` interrupted while it unpacks (its long part, with the cluster running)
/// leaves the cluster as it was: running, its objects those of now, nothing left beside the
/// volumes' data.
#[test]
fn snapshot_restore_interrupted_while_unpacking_leaves_the_cluster_as_it_was() {
    let c = Cluster::start("intrrest", &[]);
    let snapshots = localkube::effects::home::Home::from_env()
        .unwrap()
        .cache()
        .join("snapshots")
        .join("intrrest");
    let _ = std::fs::remove_dir_all(&snapshots);
    c.kubectl_ok(&["create", "configmap", "then", "--from-literal=k=1"]);
    c.localkube_ok(&["snapshot", "save", "s"]);
    c.kubectl_ok(&["create", "configmap", "now", "--from-literal=k=2"]);
    let out = interrupt_at(&c, &["snapshot", "restore", "s"], "restore-unpack", "-TERM");
    let err = stderr(&out);
    assert!(!out.status.success(), "the restore succeeded:\n{err}");
    assert!(
        err.contains("interrupted (SIGTERM) while unpacking the snapshot")
            && err.contains("it is as it was"),
        "{err}"
    );
    assert_eq!(
        containers_in("intrrest", "paused"),
        Vec::<String>::new(),
        "containers left frozen"
    );
    c.kubectl_ok(&["get", "configmap", "now"]);
    let helpers = Command::new("docker")
        .args([
            "ps",
            "-aq",
            "--filter",
            "label=io.localkube.snapshot-helper=intrrest",
        ])
        .output()
        .unwrap();
    assert_eq!(stdout(&helpers).trim(), "", "helpers left");
    let _ = std::fs::remove_dir_all(&snapshots);
}
