//! The product, end to end: a real cluster from `localkube start`, driven with the real,
//! version-matched kubectl through the book's chapter 1–2 workflow, then stopped, started again
//! and deleted. One cluster for the whole story, since each start costs real time.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use localkube::plan::version::DEFAULT_KUBERNETES_VERSION;

use super::support::http::curl;
use super::support::{
    Cluster, Sandbox, assert_success, build_sample_image, free_port, stderr, stdout, wait_until,
};

const PROFILE: &str = "e2e";

/// What this story asks of its cluster beyond `support::Cluster`.
trait BookCluster {
    fn running_pods(&self, selector: &str) -> Vec<String>;
    fn wait_ready(&self, selector: &str, count: usize);
    fn get_from_pod(&self, pod: &str, url: &str) -> String;
}

impl BookCluster for Cluster {
    fn running_pods(&self, selector: &str) -> Vec<String> {
        let text = self.kubectl_ok(&[
            "get", "pods", "-l", selector, "--field-selector=status.phase=Running",
            "-o", "jsonpath={range .items[?(@.metadata.deletionTimestamp)]}{end}{range .items[*]}{.metadata.name}{\"\\n\"}{end}",
        ]);
        text.lines()
            .map(str::to_string)
            .filter(|l| !l.is_empty())
            .collect()
    }

    fn wait_ready(&self, selector: &str, count: usize) {
        wait_until(
            &format!("{count} ready pods with {selector}"),
            Duration::from_secs(120),
            || {
                let out = self.kubectl(&[
                    "get", "pods", "-l", selector, "-o",
                    "jsonpath={range .items[*]}{.metadata.deletionTimestamp}|{.status.containerStatuses[0].ready}{\"\\n\"}{end}",
                ]);
                let text = stdout(&out);
                let ready = text.lines().filter(|l| *l == "|true").count();
                let terminating = text.lines().filter(|l| !l.starts_with('|')).count();
                if ready == count && terminating == 0 {
                    Ok(())
                } else {
                    Err(text)
                }
            },
        );
    }

    /// An HTTP GET from inside a pod (the kubia image is its own client).
    fn get_from_pod(&self, pod: &str, url: &str) -> String {
        self.kubectl_until(
            &["exec", pod, "--", "/kubia", "get", url],
            Duration::from_secs(60),
            |t| t.starts_with("You've hit "),
        )
    }
}

struct Background(Child);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn docker_names(kind: &str) -> Vec<String> {
    let label = format!("label=io.localkube.profile={PROFILE}");
    let args: Vec<&str> = match kind {
        "container" => vec!["ps", "-a", "--filter", &label, "--format", "{{.Names}}"],
        "network" => vec!["network", "ls", "--filter", &label, "--format", "{{.Name}}"],
        _ => vec!["volume", "ls", "--filter", &label, "--format", "{{.Name}}"],
    };
    let out = Command::new("docker").args(&args).output().unwrap();
    stdout(&out).lines().map(str::to_string).collect()
}

#[test]
fn book_workflow_end_to_end() {
    build_sample_image();
    let cluster = Cluster::unstarted(Sandbox::new(), PROFILE);

    let out = cluster.localkube(&["start"]);
    assert_success(&out, "localkube start");
    assert!(
        stderr(&out).contains("kubectl now uses context 'localkube-e2e'"),
        "{}",
        stderr(&out)
    );
    assert_success(
        &cluster.localkube(&["status"]),
        "status of a running cluster",
    );
    let out = cluster.localkube(&["start"]);
    assert_success(&out, "start on a running profile");
    assert!(stderr(&out).contains("already running"), "{}", stderr(&out));

    let info = cluster.kubectl_ok(&["cluster-info"]);
    assert!(
        info.contains("Kubernetes control plane is running at https://127.0.0.1:"),
        "{info}"
    );
    let nodes = cluster.kubectl_ok(&["get", "nodes", "--no-headers"]);
    assert!(
        nodes.contains(" Ready ") && nodes.contains(DEFAULT_KUBERNETES_VERSION),
        "{nodes}"
    );
    let describe = cluster.kubectl_ok(&["describe", "node", PROFILE]);
    assert!(describe.contains("PodCIDR:"), "{describe}");
    let pod_cidr = cluster.kubectl_ok(&["get", "node", PROFILE, "-o", "jsonpath={.spec.podCIDR}"]);
    let pod_net: ipnet::Ipv4Net = pod_cidr.trim().parse().expect("node pod CIDR");

    assert_success(
        &cluster.localkube(&["image", "load", "kubia:1.0"]),
        "image load",
    );
    let images = stdout(&cluster.localkube(&["image", "ls"]));
    assert!(images.contains("docker.io/library/kubia"), "{images}");

    // The three ways the book creates the app.
    cluster.kubectl_ok(&[
        "create",
        "deployment",
        "kubia",
        "--image=kubia:1.0",
        "--port=8080",
    ]);
    let manifests = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/manifests");
    cluster.kubectl_ok(&["apply", "-f", &format!("{manifests}/kubia-manual.yaml")]);
    cluster.kubectl_ok(&["apply", "-f", &format!("{manifests}/kubia-deployment.yaml")]);
    cluster.wait_ready("app=kubia", 1);
    cluster.wait_ready("app=kubia-applied", 1);
    cluster.wait_pod_phase("kubia-manual", "Running", Duration::from_secs(60));

    let ips = cluster.kubectl_ok(&[
        "get",
        "pods",
        "-o",
        "jsonpath={range .items[*]}{.status.podIP}{\"\\n\"}{end}",
    ]);
    for ip in ips.lines().filter(|l| !l.is_empty()) {
        let ip: std::net::Ipv4Addr = ip.parse().unwrap();
        assert!(
            pod_net.contains(&ip),
            "pod IP {ip} outside the node's {pod_net}"
        );
    }
    assert!(
        cluster
            .kubectl_ok(&["get", "pods", "-o", "wide"])
            .contains(PROFILE)
    );

    let logs = cluster.kubectl_ok(&["logs", "kubia-manual"]);
    assert!(logs.contains("kubia server starting"), "{logs}");

    // port-forward, and a request through it from the host.
    let port = free_port();
    let mut pf = cluster.sb.localkube();
    pf.args([
        "-p",
        PROFILE,
        "kubectl",
        "--",
        "port-forward",
        "pod/kubia-manual",
        &format!("{port}:8080"),
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    let _pf = Background(pf.spawn().unwrap());
    let url = format!("http://127.0.0.1:{port}/");
    let body = wait_until("port-forward answering", Duration::from_secs(30), || {
        curl(&[&url])
    });
    assert_eq!(body.trim(), "You've hit kubia-manual");

    // A ClusterIP service, reached from another pod by its DNS name (CoreDNS at work).
    cluster.kubectl_ok(&[
        "expose",
        "deployment",
        "kubia",
        "--port=8080",
        "--target-port=8080",
    ]);
    let body = cluster.get_from_pod(
        "kubia-manual",
        "http://kubia.default.svc.cluster.local:8080/",
    );
    assert!(body.starts_with("You've hit kubia-"), "{body}");

    // Scale, and the control loop replacing what dies.
    cluster.kubectl_ok(&["scale", "deployment", "kubia", "--replicas=3"]);
    cluster.wait_ready("app=kubia", 3);
    let before = cluster.running_pods("app=kubia");
    cluster.kubectl_ok(&["delete", "pod", &before[0], "--wait=false"]);
    cluster.wait_ready("app=kubia", 3);
    let after = cluster.running_pods("app=kubia");
    assert!(
        !after.contains(&before[0]),
        "deleted pod still there: {after:?}"
    );

    // A container killed inside the node is restarted by kubelet.
    let victim = &after[0];
    let id = cluster.kubectl_ok(&[
        "get",
        "pod",
        victim,
        "-o",
        "jsonpath={.status.containerStatuses[0].containerID}",
    ]);
    let id = id.trim().trim_start_matches("containerd://");
    let out = cluster.localkube(&["ssh", "--", "crictl", "stop", "--timeout", "0", id]);
    assert_success(&out, "crictl stop in the node");
    cluster.kubectl_until(
        &[
            "get",
            "pod",
            victim,
            "-o",
            "jsonpath={.status.containerStatuses[0].restartCount}",
        ],
        Duration::from_secs(60),
        |t| t.trim().parse::<u32>().is_ok_and(|n| n >= 1),
    );
    cluster.wait_ready("app=kubia", 3);

    // stop and start: everything is still there and answering.
    assert_success(&cluster.localkube(&["stop"]), "stop");
    let status = cluster.localkube(&["status"]);
    assert_eq!(
        status.status.code(),
        Some(3),
        "status of a stopped cluster: {}",
        stdout(&status)
    );
    assert_success(&cluster.localkube(&["start"]), "start after stop");
    cluster.wait_ready("app=kubia", 3);
    cluster.wait_ready("app=kubia-applied", 1);
    let body = cluster.get_from_pod(
        "kubia-manual",
        "http://kubia.default.svc.cluster.local:8080/",
    );
    assert!(body.starts_with("You've hit kubia-"), "{body}");

    // delete: nothing of the profile remains.
    assert_success(&cluster.localkube(&["delete"]), "delete");
    for kind in ["container", "network", "volume"] {
        assert_eq!(
            docker_names(kind),
            Vec::<String>::new(),
            "{kind}s left behind"
        );
    }
    let kubeconfig = std::fs::read_to_string(cluster.sb.kubeconfig()).unwrap_or_default();
    assert!(
        !kubeconfig.contains("name: e2e"),
        "kubeconfig entries left:\n{kubeconfig}"
    );
}

#[test]
fn a_start_that_fails_names_the_problem_and_leaves_nothing() {
    let sb = Sandbox::new();
    // Another program holds the port the profile asks for.
    let holder = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port().to_string();
    let out = sb.run(&["-p", "portclash", "start", "--apiserver-port", &port]);
    assert!(!out.status.success(), "start succeeded on a taken port");
    let err = stderr(&out);
    assert!(
        err.contains(&format!("port {port} on 127.0.0.1"))
            && err.contains("taken by another program"),
        "{err}"
    );
    let label = "label=io.localkube.profile=portclash";
    for args in [
        vec!["ps", "-a", "-q", "--filter", label],
        vec!["network", "ls", "-q", "--filter", label],
        vec!["volume", "ls", "-q", "--filter", label],
    ] {
        let out = Command::new("docker").args(&args).output().unwrap();
        assert_eq!(stdout(&out).trim(), "", "docker {args:?} left behind");
    }
    assert!(
        !sb.home().join("profiles/portclash").exists(),
        "profile left behind"
    );
    assert!(
        !sb.kubeconfig().exists(),
        "kubeconfig written by a failed start"
    );
}
