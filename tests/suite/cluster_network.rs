//! The control plane reaches the cluster network, and nothing of the cluster's ranges leaves the
//! machine: the API server's packets to pods and Services go to a node (routes checked with
//! `ip route get`, which sends nothing), so the API server proxy, an admission webhook and an
//! aggregated API served by pods work, and keep working after a stop and a start. The dockerd
//! restart case is in `restart.rs`, which runs alone.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::support::{
    Cluster, agnhost_image, assert_success, build_sample_image, container_ip, docker_inspect,
    in_netns_of, stderr, stdout, wait_until,
};

const PROFILE: &str = "net";

/// Addresses of the pod range and the service range that no pod, node or Service holds, plus
/// kube-dns' address: routing must send each of them to the first node.
const PROBES_VIA_FIRST_NODE: [&str; 3] = ["10.244.250.1", "10.96.0.10", "10.111.222.5"];
/// An address in the first /24 the controller-manager hands out: whichever node registered first
/// holds it, so routing must send it to that node (to some node of the profile).
const PROBE_OF_A_NODE: &str = "10.244.0.7";

/// The addresses of the profile's node containers.
fn node_ips(profile: &str) -> Vec<String> {
    let out = std::process::Command::new("docker")
        .args(["ps", "-q", "--filter"])
        .arg(format!("label=io.localkube.profile={profile}"))
        .args(["--filter", "label=io.localkube.role=node"])
        .output()
        .expect("docker ps");
    stdout(&out).lines().map(container_ip).collect()
}

/// Every control-plane container routes the pod and service ranges via the first node, and an
/// assigned pod CIDR via its node: nothing to the Docker gateway.
pub fn assert_control_plane_routes(profile: &str, after: &str) {
    let first = container_ip(profile);
    let nodes = node_ips(profile);
    for role in ["etcd", "apiserver", "controller-manager", "scheduler"] {
        let container = format!("{profile}-{role}");
        let route_of = |address: &str| {
            let out = in_netns_of(&container, &["ip", "route", "get", address]);
            assert_success(&out, &format!("ip route get {address} in {container}"));
            stdout(&out)
        };
        for address in PROBES_VIA_FIRST_NODE {
            let route = route_of(address);
            assert!(
                route.contains(&format!(" via {first} ")),
                "after {after}, {container} routes {address} elsewhere than the first node {first}: {route}"
            );
        }
        let route = route_of(PROBE_OF_A_NODE);
        assert!(
            nodes
                .iter()
                .any(|ip| route.contains(&format!(" via {ip} "))),
            "after {after}, {container} routes {PROBE_OF_A_NODE} to no node of {nodes:?}: {route}"
        );
    }
}

/// CAP_NET_ADMIN is bit 12 of the capability sets in /proc/PID/status.
/// A process's five capability sets (`CapInh`, `CapPrm`, `CapEff`, `CapBnd`, `CapAmb` of
/// /proc/PID/status) and its `NoNewPrivs`.
fn capability_sets(pid: &str) -> (Vec<(&'static str, u64)>, bool) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
            .trim()
            .to_string()
    };
    let sets = ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"]
        .into_iter()
        .map(|set| (set, u64::from_str_radix(&field(set), 16).expect("hex set")))
        .collect();
    (sets, field("NoNewPrivs") == "1")
}

// Capability numbers (linux/capability.h).
pub(super) const CAP_DAC_READ_SEARCH: u64 = 1 << 2;
const CAP_SETGID: u64 = 1 << 6;
const CAP_SETUID: u64 = 1 << 7;

/// Every capability set of `pid` holds exactly `allowed` (the bounding, permitted and effective
/// sets) or nothing (inheritable, ambient), and it cannot gain more through exec.
pub(super) fn assert_capabilities(what: &str, pid: &str, allowed: u64) {
    let (sets, no_new_privs) = capability_sets(pid);
    for (set, bits) in sets {
        let expected = match set {
            "CapInh" | "CapAmb" => 0,
            _ => allowed,
        };
        assert_eq!(
            bits, expected,
            "{what} (pid {pid}): {set} is {bits:#x}, expected {expected:#x}"
        );
    }
    assert!(
        no_new_privs,
        "{what} (pid {pid}) may gain rights through exec"
    );
}

/// What each component process holds, in every set: the control plane only reads its staged
/// files (NET_ADMIN and SETPCAP were netinit's, gone before the component started); the load balancer's
/// broker also starts the controller as nobody, which holds nothing at all.
fn assert_least_privilege(cluster: &Cluster) {
    for role in ["etcd", "apiserver", "controller-manager", "scheduler"] {
        let pid = docker_inspect(&cluster.container(role), "{{.State.Pid}}");
        assert_capabilities(role, &pid, CAP_DAC_READ_SEARCH);
    }
    let lb = cluster.container("lb-controller");
    let broker = docker_inspect(&lb, "{{.State.Pid}}");
    assert_capabilities(
        "the load balancer broker",
        &broker,
        CAP_SETUID | CAP_SETGID | CAP_DAC_READ_SEARCH,
    );
    let top = stdout(
        &Command::new("docker")
            .args(["top", &lb, "-eo", "pid,uid,args"])
            .output()
            .unwrap(),
    );
    let worker = top
        .lines()
        .find(|l| l.contains("--worker"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no controller worker in\n{top}"));
    let (sets, _) = capability_sets(worker);
    for (set, bits) in sets {
        let expected = if set == "CapBnd" {
            CAP_SETUID | CAP_SETGID | CAP_DAC_READ_SEARCH
        } else {
            0
        };
        assert_eq!(
            bits, expected,
            "the controller as nobody: {set} is {bits:#x}"
        );
    }
}

/// A self-signed certificate for a Service's in-cluster name, as a TLS Secret in `namespace`;
/// returns the certificate (PEM), which is its own CA bundle.
fn tls_secret(cluster: &Cluster, dir: &Path, namespace: &str, service: &str) -> String {
    let (crt, key) = (
        dir.join(format!("{service}.crt")),
        dir.join(format!("{service}.key")),
    );
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"])
        .args(["-days", "2", "-subj", &format!("/CN={service}.{namespace}.svc")])
        .arg("-addext")
        .arg(format!(
            "subjectAltName=DNS:{service}.{namespace}.svc,DNS:{service}.{namespace}.svc.cluster.local"
        ))
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&crt)
        .output()
        .expect("run openssl");
    assert_success(&out, "openssl req");
    cluster.kubectl_ok(&[
        "-n",
        namespace,
        "create",
        "secret",
        "tls",
        &format!("{service}-tls"),
        &format!("--cert={}", crt.display()),
        &format!("--key={}", key.display()),
    ]);
    std::fs::read_to_string(crt).expect("read the certificate")
}

/// A Deployment of agnhost running `args`, with the Service's TLS Secret at /tls, and a
/// Service in front of it on port 443.
fn agnhost_service(image: &str, namespace: &str, name: &str, args: &str, env: &str) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
      - name: {name}
        image: {image}
        imagePullPolicy: Never
        args: {args}
        env: {env}
        ports: [{{containerPort: 8443}}]
        readinessProbe:
          tcpSocket: {{port: 8443}}
          periodSeconds: 1
        volumeMounts: [{{name: tls, mountPath: /tls, readOnly: true}}]
      volumes: [{{name: tls, secret: {{secretName: {name}-tls}}}}]
---
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  selector: {{app: {name}}}
  ports: [{{port: 443, targetPort: 8443}}]
"#
    )
}

fn base64(text: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("base64")
        .arg("-w0")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run base64");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    stdout(&child.wait_with_output().unwrap())
}

/// The API server proxies to a Service and to a pod (`kubectl get --raw .../proxy/`).
fn apiserver_proxy_reaches_pods(cluster: &Cluster) {
    cluster.localkube_ok(&["image", "load", "kubia:1.0"]);
    cluster.kubectl_ok(&["create", "deployment", "kubia", "--image=kubia:1.0"]);
    cluster.kubectl_ok(&["expose", "deployment", "kubia", "--port=8080"]);
    cluster.wait_deployment("default", "kubia");
    let answer = cluster.kubectl_until(
        &[
            "get",
            "--raw",
            "/api/v1/namespaces/default/services/kubia:8080/proxy/",
        ],
        Duration::from_secs(60),
        |t| t.starts_with("You've hit kubia-"),
    );
    let pod = answer
        .trim()
        .strip_prefix("You've hit ")
        .unwrap()
        .to_string();
    let through_pod = cluster.kubectl_ok(&[
        "get",
        "--raw",
        &format!("/api/v1/namespaces/default/pods/{pod}:8080/proxy/"),
    ]);
    assert_eq!(through_pod.trim(), format!("You've hit {pod}"));
}

/// A ValidatingWebhookConfiguration served by agnhost's webhook in a pod rejects a ConfigMap
/// holding the data agnhost refuses, and admits others.
fn webhook_served_by_a_pod_rejects(cluster: &Cluster, image: &str, dir: &Path) {
    let ns = "webhook-test";
    cluster.kubectl_ok(&["create", "namespace", ns]);
    let ca = tls_secret(cluster, dir, ns, "webhook");
    cluster.apply(&agnhost_service(
        image,
        ns,
        "webhook",
        r#"["webhook", "--tls-cert-file=/tls/tls.crt", "--tls-private-key-file=/tls/tls.key", "--port=8443"]"#,
        "[]",
    ));
    cluster.wait_deployment(ns, "webhook");
    cluster.apply(&format!(
        r#"apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {{name: localkube-test-configmaps}}
webhooks:
- name: configmaps.webhook-test.localkube.io
  clientConfig:
    service: {{namespace: {ns}, name: webhook, path: /configmaps, port: 443}}
    caBundle: {}
  rules:
  - {{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}}
  namespaceSelector: {{matchLabels: {{kubernetes.io/metadata.name: {ns}}}}}
  sideEffects: None
  admissionReviewVersions: [v1]
  failurePolicy: Fail
  timeoutSeconds: 5
"#,
        base64(&ca)
    ));
    // Fail policy: until the webhook answers, every create is refused. The allowed one passing
    // proves the API server reached the pod; then the disallowed one must be refused by it.
    cluster.kubectl_until(
        &[
            "-n",
            ns,
            "create",
            "configmap",
            "allowed",
            "--from-literal=chapter=4",
        ],
        Duration::from_secs(60),
        |_| true,
    );
    let refused = cluster.kubectl(&[
        "-n",
        ns,
        "create",
        "configmap",
        "refused",
        "--from-literal=webhook-e2e-test=webhook-disallow",
    ]);
    assert!(
        !refused.status.success(),
        "the webhook admitted what it refuses"
    );
    assert!(
        stderr(&refused).contains("denied the request"),
        "not refused by the webhook: {}",
        stderr(&refused)
    );
    cluster.kubectl_ok(&[
        "delete",
        "validatingwebhookconfiguration",
        "localkube-test-configmaps",
    ]);
}

/// An APIService backed by a pod (agnhost's porter answering over TLS) becomes Available, and
/// the API server serves its group through the aggregator.
fn aggregated_api_served_by_a_pod(cluster: &Cluster, image: &str, dir: &Path) {
    let ns = "aggregated-test";
    cluster.kubectl_ok(&["create", "namespace", ns]);
    let ca = tls_secret(cluster, dir, ns, "example-api");
    let discovery = r#"{"kind":"APIResourceList","apiVersion":"v1","groupVersion":"example.localkube.io/v1","resources":[]}"#;
    cluster.apply(&agnhost_service(
        image,
        ns,
        "example-api",
        r#"["porter"]"#,
        &format!(
            r#"[{{name: SERVE_TLS_PORT_8443, value: '{discovery}'}}, {{name: CERT_FILE, value: /tls/tls.crt}}, {{name: KEY_FILE, value: /tls/tls.key}}]"#
        ),
    ));
    cluster.wait_deployment(ns, "example-api");
    cluster.apply(&format!(
        r#"apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {{name: v1.example.localkube.io}}
spec:
  group: example.localkube.io
  version: v1
  service: {{namespace: {ns}, name: example-api, port: 443}}
  caBundle: {}
  groupPriorityMinimum: 1000
  versionPriority: 15
"#,
        base64(&ca)
    ));
    cluster.kubectl_until(
        &[
            "get",
            "apiservice",
            "v1.example.localkube.io",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Available\")].status}",
        ],
        Duration::from_secs(90),
        |t| t == "True",
    );
    let served = cluster.kubectl_ok(&["get", "--raw", "/apis/example.localkube.io/v1"]);
    assert_eq!(served.trim(), discovery);
    // Gone before the cluster is: an unavailable aggregated API slows every discovery.
    cluster.kubectl_ok(&["delete", "apiservice", "v1.example.localkube.io"]);
}

#[test]
fn control_plane_reaches_pods_and_services_through_the_nodes() {
    build_sample_image();
    let image = agnhost_image();
    let cluster = Cluster::start(PROFILE, &[]);
    cluster.localkube_ok(&["image", "load", &image]);
    let dir = tempfile::tempdir().unwrap();

    assert_control_plane_routes(PROFILE, "start");
    assert_least_privilege(&cluster);

    // The node: unassigned pod addresses are unreachable (never the default route), and the
    // service range is fenced after kube-proxy's rules.
    let out = in_netns_of(PROFILE, &["ip", "route", "get", "10.244.250.1"]);
    assert!(
        !out.status.success() && !stdout(&out).contains(" via "),
        "the node routes an unassigned pod address: {}{}",
        stdout(&out),
        stderr(&out)
    );
    let fence = cluster.localkube_ok(&["ssh", "--", "iptables", "-S", "LOCALKUBE-FENCE"]);
    assert!(
        fence.contains("-d 10.96.0.0/12") && fence.contains("REJECT"),
        "no fence for the service range in the node: {fence}"
    );

    apiserver_proxy_reaches_pods(&cluster);
    webhook_served_by_a_pod_rejects(&cluster, &image, dir.path());
    aggregated_api_served_by_a_pod(&cluster, &image, dir.path());

    cluster.localkube_ok(&["stop"]);
    cluster.localkube_ok(&["start"]);
    assert_control_plane_routes(PROFILE, "stop and start");
    wait_until(
        "the service proxy after a restart",
        Duration::from_secs(90),
        || {
            let out = cluster.kubectl(&[
                "get",
                "--raw",
                "/api/v1/namespaces/default/services/kubia:8080/proxy/",
            ]);
            let text = stdout(&out);
            if text.starts_with("You've hit kubia-") {
                Ok(())
            } else {
                Err(format!("{text}{}", stderr(&out)))
            }
        },
    );
}
