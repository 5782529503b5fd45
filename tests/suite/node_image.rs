//! Integration tests of the node and pause images (images/node, images/pause) on the real Docker engine.
//!
//! They assume the images of the default Kubernetes version exist (the test script builds them first) and fail
//! with a hint to run `localkube images build` when they do not. Every container, volume and network they make
//! has a unique name and is removed by a guard, whether the test passes or panics.

use std::process::Output;
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use localkube::effects::containers;
use localkube::plan::cluster::{ContainerSpec, MountSpec, NO_NETWORK};
use localkube::plan::names;
use localkube::plan::version::DEFAULT_KUBERNETES_VERSION;

use super::support::{docker, docker_ok};

/// The image of a component at the default version, or a clear failure when it has not been built.
fn require_image(component: &str) -> String {
    let image = names::image(component, DEFAULT_KUBERNETES_VERSION);
    let out = docker(&["image", "inspect", "--format", "{{.Id}}", &image]);
    assert!(
        out.status.success(),
        "image {image} is missing: run `localkube images build` first ({})",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    image
}

/// A name no other test run uses at the same time.
fn unique(what: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .subsec_nanos();
    format!("lk-test-{what}-{}-{nanos}", std::process::id())
}

/// Removes what a test created, in reverse order of creation, also when it panics.
#[derive(Default)]
struct Cleanup {
    containers: Vec<String>,
    volumes: Vec<String>,
    networks: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for c in self.containers.iter().rev() {
            let _ = docker(&["rm", "-f", "-v", c]);
        }
        for v in &self.volumes {
            let _ = docker(&["volume", "rm", "-f", v]);
        }
        for n in &self.networks {
            let _ = docker(&["network", "rm", n]);
        }
    }
}

/// Polls `check` until it returns Some, or panics after `limit` with the last failure it saw.
fn wait_for<T>(limit: Duration, what: &str, mut check: impl FnMut() -> Result<T, String>) -> T {
    let start = Instant::now();
    loop {
        match check() {
            Ok(value) => return value,
            Err(last) if start.elapsed() >= limit => {
                panic!("{what}: not within {limit:?}; last attempt: {last}")
            }
            Err(_) => sleep(Duration::from_millis(200)),
        }
    }
}

fn output_text(out: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `docker exec C ctr version` until the containerd server answers; returns the time it took.
fn wait_for_containerd(container: &str) -> Duration {
    let start = Instant::now();
    wait_for(
        Duration::from_secs(30),
        "containerd answering ctr version",
        || {
            let out = docker(&["exec", container, "ctr", "version"]);
            let text = String::from_utf8_lossy(&out.stdout).to_string();
            let server = text.split("Server:").nth(1).unwrap_or("");
            if out.status.success() && server.contains("Version:") {
                return Ok(());
            }
            // An entrypoint that gave up will not come back: say why at once.
            let state = docker_ok(&["inspect", "--format", "{{json .State}}", container]);
            assert!(
                state.contains("\"Running\":true"),
                "the node container stopped: {state}\nits last log lines:\n{}",
                logs(container)
            );
            Err(output_text(&out))
        },
    );
    start.elapsed()
}

fn logs(container: &str) -> String {
    let out = docker(&["logs", "--tail", "60", container]);
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn node_image_holds_the_runtime_the_cni_plugins_and_the_node_binaries() {
    let node = require_image("node");
    let script = r#"
        set -e
        containerd --version
        runc --version | head -n1
        ctr --version
        for p in ptp host-local portmap loopback bridge; do test -x /opt/cni/bin/$p || { echo "no CNI plugin $p"; exit 1; }; done
        for b in kubelet kube-proxy crictl entrypoint; do test -x /usr/local/bin/$b || { echo "no $b"; exit 1; }; done
        for t in iptables-legacy iptables-nft conntrack ip mount; do command -v $t >/dev/null || { echo "no $t"; exit 1; }; done
        kubelet --version
        kube-proxy --version
        crictl --version
        grep -q 'runtime-endpoint: unix:///run/containerd/containerd.sock' /etc/crictl.yaml
        echo "image-version=$LOCALKUBE_KUBERNETES_VERSION"
    "#;
    let out = docker_ok(&["run", "--rm", "--entrypoint", "bash", &node, "-c", script]);
    assert!(out.contains("containerd "), "containerd --version:\n{out}");
    assert!(out.contains("runc version"), "runc --version:\n{out}");
    let version = DEFAULT_KUBERNETES_VERSION;
    assert!(
        out.contains(&format!("image-version={version}")),
        "the image should name its Kubernetes version {version}:\n{out}"
    );
    assert_eq!(
        out.matches(&format!("Kubernetes {version}")).count(),
        2,
        "kubelet and kube-proxy should both be {version} (built with the version ldflags):\n{out}"
    );
}

#[test]
fn containerd_runs_in_a_node_with_the_capability_set_and_survives_restart() {
    let node = require_image("node");
    let mut cleanup = Cleanup::default();
    let name = unique("node");
    let network = format!("{name}-net");
    let volume = format!("{name}-var");

    // A user-defined network, as the launcher's: it brings Docker's embedded DNS, which the entrypoint rewires.
    docker_ok(&["network", "create", &network]);
    cleanup.networks.push(network.clone());
    docker_ok(&["volume", "create", &volume]);
    cleanup.volumes.push(volume.clone());

    // Exactly the launcher's flags for hosts that refuse --privileged (plan::cluster::node_security), minus the config folder.
    let var_mount = format!("{volume}:/var");
    let mut args = vec![
        "run",
        "-d",
        "--name",
        &name,
        "--hostname",
        &name,
        "--network",
        &network,
        "--cgroupns=private",
        "--cap-add",
        "ALL",
        "--cap-drop",
        "SYS_RESOURCE",
        "--security-opt",
        "seccomp=unconfined",
        "--security-opt",
        "apparmor=unconfined",
        "--security-opt",
        "systempaths=unconfined",
        "--tmpfs",
        "/tmp",
        "--tmpfs",
        "/run",
        "-v",
        &var_mount,
    ];
    // Only where the host has modules: `-v` would otherwise create /lib/modules on the host.
    if std::path::Path::new("/lib/modules").is_dir() {
        args.extend(["-v", "/lib/modules:/lib/modules:ro"]);
    }
    args.push(&node);
    cleanup.containers.push(name.clone());
    docker_ok(&args);

    let took = wait_for_containerd(&name);
    eprintln!("containerd answered {took:?} after docker run");

    // The CRI plugin answers too, through crictl and /etc/crictl.yaml.
    let info = wait_for(Duration::from_secs(15), "crictl info", || {
        let out = docker(&["exec", &name, "crictl", "info"]);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        if out.status.success() && text.contains("\"status\"") && text.contains("RuntimeReady") {
            Ok(text)
        } else {
            Err(output_text(&out))
        }
    });
    assert!(
        info.contains("/opt/cni/bin"),
        "containerd should use the CNI plugins built for the node in /opt/cni/bin:\n{info}"
    );

    // A new node's empty /var volume already holds the images every cluster runs (copied from
    // the image by Docker), the very images Docker has, and kubelet may not collect them.
    for held in [
        "pause",
        "coredns",
        "local-path-provisioner",
        "storage-helper",
    ] {
        let tag = require_image(held);
        let docker_id = docker_ok(&["image", "inspect", "--format", "{{.Id}}", &tag]);
        let out = docker_ok(&["exec", &name, "crictl", "inspecti", "-o", "json", &tag]);
        let json = &out[out.find('{').unwrap_or(0)..];
        let info: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
        assert_eq!(
            info["status"]["id"].as_str(),
            Some(docker_id.as_str()),
            "the node should hold {tag} as Docker has it:\n{out}"
        );
        assert_eq!(
            info["status"]["pinned"], true,
            "{tag} should be pinned:\n{out}"
        );
    }

    // The node owns a writable cgroup tree: kubelet will create /kubelet/kubepods/... in it.
    let v2 = docker_ok(&["exec", &name, "stat", "-fc", "%T", "/sys/fs/cgroup"]) == "cgroup2fs";
    let test_cgroup = if v2 {
        "/sys/fs/cgroup/kubelet-test"
    } else {
        "/sys/fs/cgroup/memory/kubelet-test"
    };
    docker_ok(&["exec", &name, "mkdir", test_cgroup]);
    docker_ok(&["exec", &name, "rmdir", test_cgroup]);
    let kubelet_root = if v2 {
        "/sys/fs/cgroup/kubelet"
    } else {
        "/sys/fs/cgroup/memory/kubelet"
    };
    docker_ok(&["exec", &name, "test", "-d", kubelet_root]);

    // Pods must be able to use the node's resolv.conf: Docker's 127.0.0.11 is replaced by the node's own address.
    let resolv = docker_ok(&["exec", &name, "cat", "/etc/resolv.conf"]);
    assert!(
        !resolv.contains("127.0.0.11"),
        "resolv.conf still names Docker's loopback DNS:\n{resolv}\n{}",
        logs(&name)
    );

    // `docker restart` runs the entrypoint again on the same writable layer and volume.
    docker_ok(&["restart", "-t", "10", &name]);
    let took = wait_for_containerd(&name);
    eprintln!("containerd answered {took:?} after docker restart");
    let dns_chains = docker_ok(&["exec", &name, "iptables-save", "-t", "nat"]);
    assert_eq!(
        dns_chains.matches("-j LOCALKUBE-DNS").count(),
        2,
        "one jump from PREROUTING and one from OUTPUT after a restart:\n{dns_chains}"
    );

    // SIGTERM stops everything and exits 0 well within docker stop's grace period.
    let start = Instant::now();
    docker_ok(&["stop", "-t", "10", &name]);
    let stopped_in = start.elapsed();
    let code = docker_ok(&["inspect", "--format", "{{.State.ExitCode}}", &name]);
    assert_eq!(
        code,
        "0",
        "node exit code after docker stop\n{}",
        logs(&name)
    );
    assert!(
        stopped_in < Duration::from_secs(9),
        "docker stop took {stopped_in:?}: the entrypoint did not act on SIGTERM\n{}",
        logs(&name)
    );
}

#[test]
fn pause_exits_zero_promptly_on_sigterm() {
    let pause = require_image("pause");
    let mut cleanup = Cleanup::default();
    let name = unique("pause-stop");
    cleanup.containers.push(name.clone());
    docker_ok(&["run", "-d", "--name", &name, &pause]);
    assert_eq!(
        docker_ok(&["inspect", "--format", "{{.Config.User}}", &name]),
        "65535:65535",
        "pause must not run as root"
    );
    // Running is not enough: a SIGTERM that arrives before pause has installed its handler is
    // ignored (it is PID 1) and Docker kills it. Wait until the kernel shows the handler
    // (SigCgt holds SIGTERM, signal 15, as bit 14).
    wait_for(Duration::from_secs(10), "pause handling SIGTERM", || {
        let pid = docker_ok(&["inspect", "--format", "{{.State.Pid}}", &name]);
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let caught = status
            .lines()
            .find_map(|line| line.strip_prefix("SigCgt:"))
            .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
            .unwrap_or(0);
        if caught & (1 << 14) != 0 {
            Ok(())
        } else {
            Err(format!("pid {pid}, SigCgt {caught:x}"))
        }
    });

    let start = Instant::now();
    docker_ok(&["stop", "-t", "10", &name]);
    let elapsed = start.elapsed();
    let code = docker_ok(&["inspect", "--format", "{{.State.ExitCode}}", &name]);
    assert_eq!(code, "0", "pause's exit code after SIGTERM");
    assert!(
        elapsed < Duration::from_secs(3),
        "docker stop took {elapsed:?}: pause ignored SIGTERM and was killed"
    );
}

#[test]
fn pause_reaps_orphans_in_a_shared_pid_namespace() {
    let pause = require_image("pause");
    let node = require_image("node");
    let mut cleanup = Cleanup::default();
    let sandbox = unique("pause-reap");
    cleanup.containers.push(sandbox.clone());
    docker_ok(&["run", "-d", "--name", &sandbox, &pause]);

    // A second container joins pause's PID namespace, as a pod's containers do with shareProcessNamespace.
    // Its subshells exit at once, so their `sleep`s are orphaned and re-parented to PID 1 of the namespace: pause.
    // The script first proves that re-parenting to pause happened (else a missing zombie would prove nothing),
    // then lets a batch of orphans exit and lists any process left in state Z.
    let script = r#"
        set -e
        echo "pid1=$(tr '\0' ' ' </proc/1/cmdline)"
        (sleep 1 & echo $! >/tmp/orphan.pid)
        orphan=$(cat /tmp/orphan.pid)
        sleep 0.3
        echo "orphan-ppid=$(awk '/^PPid:/ { print $2 }' /proc/$orphan/status)"
        for i in $(seq 1 20); do (sleep 0.2 &); done
        sleep 2.5
        zombies=0
        for stat in /proc/[0-9]*/stat; do
          line=$(cat "$stat" 2>/dev/null) || continue
          rest=${line##*) }
          state=${rest%% *}
          if [ "$state" = Z ]; then zombies=$((zombies + 1)); echo "zombie: $line"; fi
        done
        echo "zombies=$zombies"
    "#;
    let pid_ns = format!("container:{sandbox}");
    let out = docker_ok(&[
        "run",
        "--rm",
        "--pid",
        &pid_ns,
        "--entrypoint",
        "bash",
        &node,
        "-c",
        script,
    ]);
    assert!(
        out.contains("pid1=/pause"),
        "pause should be PID 1 of the shared namespace:\n{out}"
    );
    assert!(
        out.contains("orphan-ppid=1\n") || out.ends_with("orphan-ppid=1"),
        "orphans should be re-parented to pause (PID 1):\n{out}"
    );
    assert!(
        out.contains("zombies=0"),
        "pause left zombies behind:\n{out}"
    );

    // And pause is still there, holding the namespace.
    assert_eq!(
        docker_ok(&["inspect", "--format", "{{.State.Running}}", &sandbox]),
        "true"
    );
}

/// The race an interrupted `start` once lost: dockerd carries on with a create whose caller hung
/// up (a node's copies its image's /var into a new volume, about a second), so a roll-back that
/// looked at once found nothing yet and left the node behind. A caller that gives up early must
/// find the container made and started once `settled` returns.
#[test]
fn a_node_create_given_up_by_its_caller_is_finished_before_settled_returns() {
    let node = require_image("node");
    let mut cleanup = Cleanup::default();
    let spec = ContainerSpec {
        name: unique("given-up"),
        role: localkube::plan::names::Role::NodePreload,
        hostname: "given-up".into(),
        image: node,
        entrypoint: vec!["sleep".into(), "infinity".into()],
        args: Vec::new(),
        network: NO_NETWORK.into(),
        ip: std::net::Ipv4Addr::UNSPECIFIED,
        ip6: None,
        // A new volume at /var: Docker fills it from the image at create, as for a node.
        mounts: vec![MountSpec::Volume {
            name: unique("given-up-var"),
            target: "/var".into(),
        }],
        ports: Vec::new(),
        labels: Default::default(),
        restart_policy: "no".into(),
        security: Default::default(),
        staged_files: Vec::new(),
    };
    cleanup.containers.push(spec.name.clone());
    if let MountSpec::Volume { name, .. } = &spec.mounts[0] {
        cleanup.volumes.push(name.clone());
    }
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let state = runtime.block_on(async {
        let docker = bollard::Docker::connect_with_local_defaults().expect("the local engine");
        let given_up = tokio::time::timeout(
            Duration::from_millis(20),
            containers::create_and_start(&docker, &spec),
        )
        .await;
        assert!(
            given_up.is_err(),
            "the create ended within 20 ms; this test needs one still under way"
        );
        containers::settled().await;
        containers::container_state(&docker, &spec.name)
            .await
            .expect("inspect the container")
    });
    assert_eq!(
        state,
        Some(localkube::plan::container_state::ContainerState::Running)
    );
}
