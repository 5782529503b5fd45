//! Preflight and `doctor`: a host condition injected (a fake /proc and /sys through
//! LOCALKUBE_TEST_HOST_ROOT, a Docker network of our own on the profile's range, a taken port)
//! gives its one line with the fix, and `start` stops before anything is made.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use super::support::{Sandbox, assert_success, labelled_objects, stderr, stdout};

/// A host root as the checks read it: cgroup v2 with every controller, overlay, both iptables
/// backends, generous inotify limits; `tweak` then breaks what the test needs broken.
fn fake_host(sb: &Sandbox, tweak: impl FnOnce(&Path)) -> std::path::PathBuf {
    let root = sb.path("host");
    let files = [
        (
            "proc/filesystems",
            "nodev\tsysfs\nnodev\tcgroup2\nnodev\toverlay\n\text4\n",
        ),
        (
            "sys/fs/cgroup/cgroup.controllers",
            "cpuset cpu io memory hugetlb pids\n",
        ),
        ("proc/sys/fs/inotify/max_user_instances", "8192\n"),
        ("proc/sys/fs/inotify/max_user_watches", "1048576\n"),
        ("proc/sys/kernel/osrelease", "6.1.0-test\n"),
        ("proc/sys/net/bridge/bridge-nf-call-iptables", "1\n"),
        ("proc/net/ip_tables_names", ""),
        ("sys/module/nf_tables/refcnt", "0\n"),
        (
            "proc/net/route",
            "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n",
        ),
    ];
    for (rel, text) in files {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
    fs::create_dir_all(root.join("lib/modules/6.1.0-test")).unwrap();
    tweak(&root);
    root
}

fn assert_nothing_made(sb: &Sandbox, profile: &str, out: &Output) {
    let err = stderr(out);
    assert!(!out.status.success(), "start went on:\n{err}");
    assert!(err.contains("nothing was created"), "{err}");
    assert!(
        !sb.home().join("profiles").join(profile).exists(),
        "a profile folder was made"
    );
    assert!(
        labelled_objects(profile).is_empty(),
        "Docker objects were made: {:?}",
        labelled_objects(profile)
    );
    assert!(
        sb.kubeconfig_bytes().is_empty(),
        "the kubeconfig was written"
    );
}

#[test]
fn doctor_names_each_problem_of_a_fake_host_with_its_fix() {
    let sb = Sandbox::new();
    let root = fake_host(&sb, |r| {
        fs::write(r.join("proc/filesystems"), "nodev\tsysfs\n\text4\n").unwrap();
        fs::write(
            r.join("sys/fs/cgroup/cgroup.controllers"),
            "cpuset cpu io pids\n",
        )
        .unwrap();
        fs::write(r.join("proc/sys/fs/inotify/max_user_instances"), "128\n").unwrap();
    });
    let sb = sb.with_env("LOCALKUBE_TEST_HOST_ROOT", &root);
    let out = sb.run(&["-p", "hosts-doctor", "doctor", "--nodes", "3"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}\n{}", stderr(&out));
    for line in [
        "problem [kernel]: the kernel has no overlay filesystem",
        "fix: `sudo modprobe overlay`",
        "problem [cgroup]: the memory cgroup controller is not available",
        "warning [inotify]: fs.inotify.max_user_instances is 128, below 384 instances",
        "`sudo sysctl -w fs.inotify.max_user_instances=384 fs.inotify.max_user_watches=1048576`",
        "`localkube start` would refuse",
    ] {
        assert!(text.contains(line), "doctor does not say {line:?}:\n{text}");
    }
    // The same as JSON, for scripts.
    let out = sb.run(&["-p", "hosts-doctor", "-o", "json", "doctor", "--nodes", "3"]);
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("doctor's JSON");
    assert_eq!(json["ready"], false);
    assert_eq!(json["nodes"], 3);
    let findings = json["findings"].as_array().unwrap();
    assert!(
        findings
            .iter()
            .any(|f| f["check"] == "kernel" && f["severity"] == "blocking"),
        "{json:#}"
    );
    assert!(
        findings
            .iter()
            .any(|f| f["check"] == "inotify" && f["severity"] == "warning"),
        "{json:#}"
    );
    // A sound host: ready, exit 0.
    let sb = Sandbox::new();
    let root = fake_host(&sb, |_| {});
    let sb = sb.with_env("LOCALKUBE_TEST_HOST_ROOT", &root);
    let out = sb.run(&["-p", "hosts-doctor", "doctor"]);
    assert_success(&out, "doctor on a sound host");
    assert!(stdout(&out).contains("`localkube start` can run here"));
}

#[test]
fn start_stops_before_anything_is_made_on_a_host_that_cannot_run_a_node() {
    let sb = Sandbox::new();
    let root = fake_host(&sb, |r| {
        fs::write(r.join("proc/filesystems"), "nodev\tsysfs\n\text4\n").unwrap();
    });
    let sb = sb.with_env("LOCALKUBE_TEST_HOST_ROOT", &root);
    let out = sb.run(&["-p", "hosts-pf-kernel", "start", "--nodes", "2"]);
    assert_nothing_made(&sb, "hosts-pf-kernel", &out);
    let err = stderr(&out);
    assert!(
        err.contains("problem [kernel]: the kernel has no overlay filesystem"),
        "{err}"
    );
    assert!(err.contains("`localkube doctor`"), "{err}");
}

#[test]
fn start_stops_when_the_apiserver_port_is_taken() {
    let sb = Sandbox::new();
    let root = fake_host(&sb, |_| {});
    let sb = sb.with_env("LOCALKUBE_TEST_HOST_ROOT", &root);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = sb.run(&["-p", "hosts-pf-port", "start", "--apiserver-port", &port]);
    assert_nothing_made(&sb, "hosts-pf-port", &out);
    let err = stderr(&out);
    assert!(
        err.contains(&format!("problem [port]: port {port} on 127.0.0.1")),
        "{err}"
    );
}

/// Removes the test's own network however the test ends.
struct OwnNetwork(&'static str);

impl Drop for OwnNetwork {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["network", "rm", self.0])
            .output();
    }
}

#[test]
fn an_occupied_network_range_stops_start_naming_the_network() {
    let sb = Sandbox::new();
    let root = fake_host(&sb, |_| {});
    let sb = sb.with_env("LOCALKUBE_TEST_HOST_ROOT", &root);
    let profile = "hosts-pf-net";
    // A dry run writes the profile with its range and touches no Docker.
    assert_success(
        &sb.run(&["-p", profile, "start", "--dry-run"]),
        "start --dry-run",
    );
    let config =
        fs::read_to_string(sb.home().join("profiles").join(profile).join("config.yaml")).unwrap();
    let subnet = config
        .lines()
        .find_map(|l| l.strip_prefix("networkSubnet: "))
        .expect("networkSubnet in config.yaml")
        .trim()
        .to_string();
    // Another tool's network on that range (ours, unlabelled, removed by the guard).
    let name = "hosts-preflight-occupied";
    let _guard = OwnNetwork(name);
    let out = Command::new("docker")
        .args(["network", "create", "--subnet", &subnet, name])
        .output()
        .unwrap();
    assert_success(&out, "docker network create");
    let out = sb.run(&["-p", profile, "start"]);
    let err = stderr(&out);
    assert!(!out.status.success(), "start went on:\n{err}");
    assert!(
        err.contains(&format!(
            "problem [network]: the profile's network {subnet} overlaps Docker network '{name}'"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("`docker network rm {name}`")),
        "{err}"
    );
    assert!(
        labelled_objects(profile).is_empty(),
        "{:?}",
        labelled_objects(profile)
    );
    // doctor says the same for the profile.
    let out = sb.run(&["-p", profile, "doctor"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains(&format!("overlaps Docker network '{name}'")));
}
