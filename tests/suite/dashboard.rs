//! `localkube dashboard` against real clusters: its HTTP API and event stream (one cluster), and
//! the page in a real headless Chromium driven over WebDriver (another cluster).
//!
//! The dashboard runs as the user would run it, `localkube -p P dashboard --url --port N`, in a
//! child process whose first line of output is the URL. Requests go to 127.0.0.1 only, through
//! `support::http` (the test needs to set any header, including a foreign `Host` or `Origin`,
//! which a browser-like client would not let it); the browser is driven by `support::webdriver`.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::thread::sleep;
use std::time::Duration;

use serde_json::{Value, json};

use super::support::http::{EventStream, Response, request};
use super::support::webdriver::Browser;
use super::support::{
    Cluster, Sandbox, assert_success, build_sample_image, free_port, stderr, stdout,
};

// --- the cluster and the dashboard process -----------------------------------------------------

/// What the dashboard's stories ask of their cluster beyond `support::Cluster`.
trait DashboardCluster: Sized {
    fn with_sample_app(profile: &str) -> Self;
    fn replicas(&self, kind: &str, name: &str) -> String;
    fn dashboard(&self) -> Dashboard;
}

impl DashboardCluster for Cluster {
    /// A started cluster with the sample app: `kubia` (one replica) behind a NodePort service.
    fn with_sample_app(profile: &str) -> Self {
        build_sample_image();
        let cluster = Cluster::start(profile, &[]);
        assert_success(
            &cluster.localkube(&["image", "load", "kubia:1.0"]),
            "image load",
        );
        cluster.kubectl_ok(&["create", "deployment", "kubia", "--image=kubia:1.0"]);
        cluster.kubectl_ok(&[
            "expose",
            "deployment",
            "kubia",
            "--type=NodePort",
            "--port=8080",
        ]);
        cluster.kubectl_ok(&["rollout", "status", "deployment/kubia", "--timeout=120s"]);
        cluster
    }

    fn replicas(&self, kind: &str, name: &str) -> String {
        self.kubectl_ok(&["get", kind, name, "-o", "jsonpath={.spec.replicas}"])
    }

    /// `localkube dashboard --url --port N` in the background, once it printed its URL.
    fn dashboard(&self) -> Dashboard {
        let port = free_port();
        let log = self.sb.path(format!("dashboard-{port}.log"));
        let mut child = self
            .sb
            .localkube()
            .args(["-p", &self.profile, "dashboard", "--url", "--port"])
            .arg(port.to_string())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start localkube dashboard");
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(out).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_default();
        let dashboard = Dashboard {
            child,
            port,
            url: line.trim().to_string(),
            log,
        };
        assert!(
            dashboard
                .url
                .starts_with(&format!("http://127.0.0.1:{port}/?token=")),
            "the first line is the URL; got {:?}; stderr:\n{}",
            dashboard.url,
            std::fs::read_to_string(&dashboard.log).unwrap_or_default()
        );
        dashboard
    }
}

struct Dashboard {
    child: Child,
    port: u16,
    url: String,
    log: PathBuf,
}

impl Dashboard {
    fn token(&self) -> &str {
        self.url.split_once("token=").map(|(_, t)| t).unwrap_or("")
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `POST /api/apply` of one manifest.
fn apply(port: u16, headers: &[(&str, &str)], manifest: &str) -> Response {
    let body = json!({ "manifest": manifest }).to_string();
    request(port, "POST", "/api/apply", headers, Some(&body))
}

fn find<'a>(rows: &'a Value, name: &str) -> &'a Value {
    rows.as_array()
        .and_then(|rows| rows.iter().find(|r| r["name"] == name))
        .unwrap_or_else(|| panic!("no row named {name} in {rows:#}"))
}

/// Names of the kubia pods that are not being deleted.
fn live_kubia_pods(pods: &Value) -> BTreeSet<String> {
    pods.as_array()
        .unwrap()
        .iter()
        .filter(|p| p["name"].as_str().unwrap().starts_with("kubia-"))
        .filter(|p| p["terminating"] == false)
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect()
}

fn running_ready_kubia_pods(pods: &Value) -> BTreeSet<String> {
    pods.as_array()
        .unwrap()
        .iter()
        .filter(|p| p["name"].as_str().unwrap().starts_with("kubia-"))
        .filter(|p| p["terminating"] == false && p["phase"] == "Running" && p["ready"] == 1)
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect()
}

// --- tests -------------------------------------------------------------------------------------

#[test]
fn dashboard_refuses_a_missing_or_stopped_profile() {
    let sb = Sandbox::new();
    let out = sb.run(&["-p", "nosuch", "dashboard", "--url"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("profile 'nosuch' does not exist"),
        "{}",
        stderr(&out)
    );
    // A profile that exists but has no running containers: written by a dry run.
    assert_success(
        &sb.run(&["-p", "dashdry", "start", "--dry-run"]),
        "start --dry-run",
    );
    let out = sb.run(&["-p", "dashdry", "dashboard", "--url"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("profile 'dashdry' is not running")
            && err.contains("localkube start -p dashdry"),
        "{err}"
    );
    assert!(
        stdout(&out).is_empty(),
        "no URL for a cluster that is not there"
    );
}

#[test]
fn dashboard_api_against_a_real_cluster() {
    let cluster = Cluster::with_sample_app("dashapi");
    let dash = cluster.dashboard();
    let session = the_launch_secret_buys_one_session(&dash);
    let pod = lists_come_from_the_watches(&cluster, &session);
    let mut events = the_stream_reports_changes(&cluster, &session);
    refused_writes_change_nothing(&cluster, &session, &pod);
    writes_scale_and_delete(&cluster, &session, &mut events);
    apply_creates_configures_and_refuses(&cluster, &session, &mut events);
    a_second_dashboard_on_a_taken_port_fails(&cluster);
    drop(events);
    drop(dash);
}

/// What a browser holds after its first visit: the session cookie and the page's CSRF token.
struct Session {
    port: u16,
    cookie: String,
    csrf: String,
}

impl Session {
    fn with_cookie(&self) -> [(&str, &str); 1] {
        [("Cookie", self.cookie.as_str())]
    }

    /// The page's own origin.
    fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What the page sends with a write: the cookie, the CSRF token, its origin, same-site.
    fn write_headers<'a>(&'a self, origin: &'a str) -> [(&'a str, &'a str); 5] {
        [
            ("Cookie", self.cookie.as_str()),
            ("Content-Type", "application/json"),
            ("X-Localkube-Csrf", self.csrf.as_str()),
            ("Origin", origin),
            ("Sec-Fetch-Site", "same-origin"),
        ]
    }
}

/// Nothing without the launch secret; the secret works once, on `/`, for a cookie.
fn the_launch_secret_buys_one_session(dash: &Dashboard) -> Session {
    let port = dash.port;
    let token = dash.token().to_string();
    assert_eq!(token.len(), 64, "a 256-bit secret, as hex");

    // Only 127.0.0.1 listens.
    assert!(
        TcpStream::connect(("127.0.0.2", port)).is_err(),
        "the dashboard must not listen beyond 127.0.0.1"
    );

    // Access control: nothing without the secret.
    for path in [
        "/",
        "/assets/app.js",
        "/assets/style.css",
        "/api/state",
        "/api/stream",
        "/api/logs?namespace=default&pod=x",
        "/?token=0000",
    ] {
        let r = request(port, "GET", path, &[], None);
        assert_eq!(r.status, 401, "{path} without the secret: {}", r.body);
    }
    let r = request(
        port,
        "POST",
        "/api/scale",
        &[("X-Localkube-Csrf", &token)],
        Some("{}"),
    );
    assert_eq!(r.status, 401, "a write without the cookie");

    // The secret works on `/` only, never in a header.
    let r = request(port, "GET", &format!("/api/state?token={token}"), &[], None);
    assert_eq!(r.status, 401, "the secret on another route: {}", r.body);
    let r = request(
        port,
        "GET",
        "/api/state",
        &[("X-Localkube-Token", &token)],
        None,
    );
    assert_eq!(r.status, 401, "the secret in a header: {}", r.body);

    // The first visit trades the token for a cookie and drops it from the address bar.
    let r = request(port, "GET", &format!("/?token={token}"), &[], None);
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/"));
    let set_cookie = r.header("set-cookie").expect("a cookie").to_string();
    let prefix = format!("localkube_dashboard_{port}=");
    assert!(
        set_cookie.starts_with(&prefix)
            && set_cookie.contains("HttpOnly")
            && set_cookie.contains("SameSite=Strict"),
        "{set_cookie}"
    );
    let cookie = set_cookie.split(';').next().unwrap().to_string();
    let session = cookie.strip_prefix(&prefix).unwrap();
    assert_eq!(session.len(), 64, "a session of its own: {cookie}");
    assert_ne!(session, token, "the cookie is not the launch secret");
    // The secret worked once: a second visit with it is refused.
    let r = request(port, "GET", &format!("/?token={token}"), &[], None);
    assert_eq!(r.status, 401, "a second visit with the secret: {}", r.body);
    let stolen = format!("{prefix}{token}");
    let r = request(
        port,
        "GET",
        "/api/state",
        &[("Cookie", stolen.as_str())],
        None,
    );
    assert_eq!(r.status, 401, "the secret as a cookie");
    let with_cookie = [("Cookie", cookie.as_str())];
    let page = request(port, "GET", "/", &with_cookie, None);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("localkube dashboard"), "{}", page.body);
    assert!(page.header("content-security-policy").is_some_and(|csp| {
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'")
    }));
    let csrf = page
        .body
        .split(r#"<meta name="localkube-csrf" content=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page carries its CSRF token")
        .to_string();
    assert_eq!(csrf.len(), 64);
    assert_ne!(csrf, token);
    let js = request(port, "GET", "/assets/app.js", &with_cookie, None);
    assert_eq!(js.status, 200);
    assert!(
        js.header("content-type")
            .unwrap()
            .starts_with("text/javascript")
    );
    // Another Host (DNS rebinding) is refused even with the cookie.
    let evil_host = format!("evil.example:{port}");
    let r = request(
        port,
        "GET",
        "/api/state",
        &[("Cookie", cookie.as_str()), ("Host", evil_host.as_str())],
        None,
    );
    assert_eq!(r.status, 403);
    Session { port, cookie, csrf }
}

/// The lists, the namespace filter and the logs, from the watches. Returns the kubia pod's name.
fn lists_come_from_the_watches(cluster: &Cluster, session: &Session) -> String {
    let port = session.port;
    let with_cookie = session.with_cookie();
    // Lists, from the watches.
    let state = request(port, "GET", "/api/state", &with_cookie, None).json();
    assert_eq!(state["cluster"]["profile"], "dashapi");
    assert!(
        state["cluster"]["kubernetesVersion"]
            .as_str()
            .unwrap()
            .starts_with("v1."),
        "{}",
        state["cluster"]
    );
    let node = find(&state["nodes"], "dashapi");
    assert_eq!(node["status"], "Ready");
    assert!(node["version"].as_str().unwrap().starts_with("v1."));
    assert!(!node["cpu"].as_str().unwrap().is_empty());
    let namespaces: Vec<&str> = state["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert!(namespaces.contains(&"default") && namespaces.contains(&"kube-system"));
    let kubia = find(&state["deployments"], "kubia");
    assert_eq!(
        (&kubia["desired"], &kubia["current"], &kubia["ready"]),
        (&json!(1), &json!(1), &json!(1))
    );
    assert!(
        state["replicaSets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|rs| rs["owner"] == "Deployment/kubia"),
        "{}",
        state["replicaSets"]
    );
    assert_eq!(
        running_ready_kubia_pods(&state["pods"]).len(),
        1,
        "{}",
        state["pods"]
    );
    let pod = state["pods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"].as_str().unwrap().starts_with("kubia-"))
        .unwrap();
    assert_eq!(pod["node"], "dashapi");
    assert!(!pod["ip"].as_str().unwrap().is_empty());
    assert_eq!(pod["restarts"], 0);
    let svc = find(&state["services"], "kubia");
    assert_eq!(svc["type"], "NodePort");
    let expected_url = format!(
        "http://{}:{}",
        node["internalIp"].as_str().unwrap(),
        cluster.kubectl_ok(&[
            "get",
            "svc",
            "kubia",
            "-o",
            "jsonpath={.spec.ports[0].nodePort}"
        ])
    );
    assert_eq!(svc["urls"][0]["url"], expected_url.as_str(), "{svc}");
    assert!(
        state["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["reason"] == "ScalingReplicaSet"),
        "{}",
        state["events"]
    );
    // The namespace filter.
    let system = request(
        port,
        "GET",
        "/api/state?namespace=kube-system",
        &with_cookie,
        None,
    )
    .json();
    assert!(
        system["pods"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["namespace"] == "kube-system")
    );
    assert!(
        system["deployments"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["name"] == "coredns")
    );

    // Logs.
    let logs = request(
        port,
        "GET",
        &format!(
            "/api/logs?namespace=default&pod={}",
            pod["name"].as_str().unwrap()
        ),
        &with_cookie,
        None,
    );
    assert_eq!(logs.status, 200);
    assert!(logs.body.contains("kubia server starting"), "{}", logs.body);
    pod["name"].as_str().unwrap().to_string()
}

/// kubectl scales; the event stream reports it.
fn the_stream_reports_changes(cluster: &Cluster, session: &Session) -> EventStream {
    let port = session.port;
    let with_cookie = session.with_cookie();
    let mut events = EventStream::open(port, "/api/stream?namespace=default", &with_cookie);
    let (first, cluster_info) = events.next();
    assert_eq!(first, "cluster");
    assert_eq!(cluster_info["profile"], "dashapi");
    events.until("deployments", Duration::from_secs(10), |d| {
        find(d, "kubia")["desired"] == 1
    });
    cluster.kubectl_ok(&["scale", "deployment", "kubia", "--replicas=3"]);
    events.until("deployments", Duration::from_secs(120), |d| {
        let k = find(d, "kubia");
        k["desired"] == 3 && k["current"] == 3 && k["ready"] == 3
    });
    // The pods' own event may have come before the deployment's; the state has them now.
    let state = request(
        port,
        "GET",
        "/api/state?namespace=default",
        &with_cookie,
        None,
    )
    .json();
    let pods = &state["pods"];
    assert_eq!(running_ready_kubia_pods(pods).len(), 3, "{pods:#}");
    assert!(
        pods.as_array()
            .unwrap()
            .iter()
            .all(|p| p["namespace"] == "default")
    );
    events
}

/// Writes without the CSRF token, from another origin or site, are refused.
fn refused_writes_change_nothing(cluster: &Cluster, session: &Session, pod: &str) {
    let port = session.port;
    let cookie = session.cookie.as_str();
    let csrf = &session.csrf;
    let scale_to_1 = r#"{"kind":"Deployment","namespace":"default","name":"kubia","replicas":1}"#;
    let refused: [(&str, Vec<(&str, &str)>); 5] = [
        (
            "no CSRF header",
            vec![("Cookie", cookie), ("Content-Type", "application/json")],
        ),
        (
            "a wrong CSRF token",
            vec![
                ("Cookie", cookie),
                ("Content-Type", "application/json"),
                ("X-Localkube-Csrf", "00"),
            ],
        ),
        (
            "a foreign Origin",
            vec![
                ("Cookie", cookie),
                ("Content-Type", "application/json"),
                ("X-Localkube-Csrf", csrf.as_str()),
                ("Origin", "http://evil.example"),
            ],
        ),
        (
            "a cross-site fetch",
            vec![
                ("Cookie", cookie),
                ("Content-Type", "application/json"),
                ("X-Localkube-Csrf", csrf.as_str()),
                ("Sec-Fetch-Site", "cross-site"),
            ],
        ),
        (
            "a null Origin",
            vec![
                ("Cookie", cookie),
                ("Content-Type", "application/json"),
                ("X-Localkube-Csrf", csrf.as_str()),
                ("Origin", "null"),
            ],
        ),
    ];
    for (what, headers) in &refused {
        let r = request(port, "POST", "/api/scale", headers, Some(scale_to_1));
        assert_eq!(r.status, 403, "a write with {what}: {}", r.body);
    }
    let r = request(
        port,
        "DELETE",
        &format!("/api/pods/default/{pod}"),
        &[("Cookie", cookie)],
        None,
    );
    assert_eq!(r.status, 403, "a delete without the CSRF header");
    assert_eq!(cluster.replicas("deployment", "kubia"), "3");
}

/// Scale and delete a pod through the dashboard, as its page does; the stream shows the result.
fn writes_scale_and_delete(cluster: &Cluster, session: &Session, events: &mut EventStream) {
    let port = session.port;
    let origin = session.origin();
    let write_headers = session.write_headers(&origin);

    // Scale through the dashboard (the scale subresource).
    let scale_to_2 = r#"{"kind":"Deployment","namespace":"default","name":"kubia","replicas":2}"#;
    let r = request(port, "POST", "/api/scale", &write_headers, Some(scale_to_2));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["replicas"], 2);
    assert_eq!(cluster.replicas("deployment", "kubia"), "2");
    let pods = events.until("pods", Duration::from_secs(60), |p| {
        live_kubia_pods(p).len() == 2 && running_ready_kubia_pods(p).len() == 2
    });
    let before = live_kubia_pods(&pods);
    let r = request(
        port,
        "POST",
        "/api/scale",
        &write_headers,
        Some(r#"{"kind":"Pod","namespace":"default","name":"x","replicas":2}"#),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    let r = request(
        port,
        "POST",
        "/api/scale",
        &write_headers,
        Some(r#"{"kind":"Deployment","namespace":"default","name":"nosuch","replicas":2}"#),
    );
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(r.json()["error"], r#"deployments.apps "nosuch" not found"#);

    // Delete a pod: its ReplicaSet replaces it, and the stream shows it.
    let victim = before.iter().next().unwrap().clone();
    let r = request(
        port,
        "DELETE",
        &format!("/api/pods/default/{victim}"),
        &write_headers,
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let pods = events.until("pods", Duration::from_secs(90), |p| {
        let live = running_ready_kubia_pods(p);
        !live.contains(&victim) && live.len() == 2
    });
    let after = running_ready_kubia_pods(&pods);
    let replacement: Vec<&String> = after.difference(&before).collect();
    assert_eq!(
        replacement.len(),
        1,
        "one new pod: before {before:?}, after {after:?}"
    );
}

/// Apply through the dashboard: a good manifest creates, then configures; a bad one is refused
/// with the API server's own message and status.
fn apply_creates_configures_and_refuses(
    cluster: &Cluster,
    session: &Session,
    events: &mut EventStream,
) {
    let port = session.port;
    let origin = session.origin();
    let write_headers = session.write_headers(&origin);

    // Apply: a good multi-document manifest creates, then configures.
    let good = r#"
apiVersion: v1
kind: ReplicationController
metadata:
  name: kubia-rc
spec:
  replicas: 1
  selector:
    app: kubia-rc
  template:
    metadata:
      labels:
        app: kubia-rc
    spec:
      containers:
        - name: kubia
          image: kubia:1.0
          imagePullPolicy: Never
---
apiVersion: v1
kind: Service
metadata:
  name: kubia-rc
spec:
  type: NodePort
  selector:
    app: kubia-rc
  ports:
    - port: 80
      targetPort: 8080
"#;
    let body = json!({"manifest": good, "namespace": "default"}).to_string();
    let r = request(port, "POST", "/api/apply", &write_headers, Some(&body));
    assert_eq!(r.status, 200, "{}", r.body);
    let results = r.json()["results"].clone();
    assert_eq!(results[0]["kind"], "ReplicationController");
    assert_eq!(results[0]["action"], "created");
    assert_eq!(results[1]["kind"], "Service");
    assert_eq!(results[1]["namespace"], "default");
    assert_eq!(cluster.replicas("rc", "kubia-rc"), "1");
    let r = request(port, "POST", "/api/apply", &write_headers, Some(&body));
    assert_eq!(r.json()["results"][0]["action"], "configured", "{}", r.body);
    events.until("replicationControllers", Duration::from_secs(60), |rcs| {
        find(rcs, "kubia-rc")["ready"] == 1
    });
    events.until("services", Duration::from_secs(30), |svcs| {
        find(svcs, "kubia-rc")["urls"][0]["url"]
            .as_str()
            .is_some_and(|u| u.starts_with("http://"))
    });

    // Scale the ReplicationController and the Deployment's ReplicaSet.
    let r = request(
        port,
        "POST",
        "/api/scale",
        &write_headers,
        Some(
            r#"{"kind":"ReplicationController","namespace":"default","name":"kubia-rc","replicas":2}"#,
        ),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(cluster.replicas("rc", "kubia-rc"), "2");
    events.until("replicationControllers", Duration::from_secs(60), |rcs| {
        let rc = find(rcs, "kubia-rc");
        rc["desired"] == 2 && rc["ready"] == 2
    });
    let rs_name = cluster
        .kubectl_ok(&[
            "get",
            "rs",
            "-l",
            "app=kubia",
            "-o",
            "jsonpath={.items[0].metadata.name}",
        ])
        .trim()
        .to_string();
    let body =
        json!({"kind": "ReplicaSet", "namespace": "default", "name": rs_name, "replicas": 2})
            .to_string();
    let r = request(port, "POST", "/api/scale", &write_headers, Some(&body));
    assert_eq!(r.status, 200, "{}", r.body);

    // A manifest the API server refuses: its message, verbatim, with its status.
    let bad = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: Bad_Name\nspec:\n  selector:\n    matchLabels: {app: x}\n  template:\n    metadata:\n      labels: {app: x}\n    spec:\n      containers: [{name: x, image: kubia:1.0}]\n";
    let r = apply(port, &write_headers, bad);
    assert_eq!(r.status, 422, "{}", r.body);
    let answer = r.json();
    let error = answer["error"].as_str().unwrap();
    assert!(
        error.starts_with(r#"Deployment.apps "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain"#),
        "{error}"
    );
    assert_eq!(answer["reason"], "Invalid");
    assert_eq!(answer["results"][0]["error"], error);
    // A misspelt field is refused, not dropped (server-side apply checks the schema).
    let typo =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: typo\ndata:\n  a: b\nspecc: {}\n";
    let r = apply(port, &write_headers, typo);
    assert!(r.status >= 400, "{}", r.body);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .ends_with(".specc: field not declared in schema"),
        "{}",
        r.body
    );
    // YAML that does not parse never reaches the API server.
    let r = apply(port, &write_headers, "kind: [");
    assert_eq!(r.status, 400);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .starts_with("invalid YAML"),
        "{}",
        r.body
    );
    // An unknown kind.
    let r = apply(
        port,
        &write_headers,
        "apiVersion: v1\nkind: Nonsense\nmetadata:\n  name: x\n",
    );
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(
        r.json()["error"],
        r#"no matches for kind "Nonsense" in version "v1""#
    );
}

fn a_second_dashboard_on_a_taken_port_fails(cluster: &Cluster) {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_port = taken.local_addr().unwrap().port().to_string();
    let out = cluster.localkube(&["dashboard", "--url", "--port", &taken_port]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(&format!("cannot listen on 127.0.0.1:{taken_port}")),
        "{}",
        stderr(&out)
    );
    drop(taken);
}

/// The live kubia pods the page shows, by name; JavaScript run in the page.
const LIVE_KUBIA_ROWS: &str = "return [...document.querySelectorAll('#pods tbody tr[data-pod^=\"kubia-\"]')]\
    .filter(r => r.dataset.gone === 'false' && !r.classList.contains('terminating'))\
    .map(r => ({name: r.dataset.pod, status: r.dataset.status, isNew: r.dataset.new === 'true',\
                ready: r.children[3].textContent}));";

#[test]
fn dashboard_in_a_real_browser() {
    let cluster = Cluster::with_sample_app("dashui");
    let dash = cluster.dashboard();
    let browser = Browser::start();
    browser.goto(&dash.url);

    // The token left the address bar for a cookie.
    let href = browser.run("return location.href");
    assert_eq!(href, format!("http://127.0.0.1:{}/", dash.port));
    browser.wait_for(
        "the live indicator",
        Duration::from_secs(20),
        "return document.querySelector('#conn').dataset.state === 'live'",
    );
    browser.wait_for(
        "the node, Ready",
        Duration::from_secs(20),
        "const n = document.querySelector('#nodes [data-node=\"dashui\"]'); return n && n.innerText.includes('Ready')",
    );
    let version = browser.run("return document.querySelector('#version').textContent");
    assert!(version.as_str().unwrap().starts_with("v1."), "{version}");
    let first = browser.wait_for(
        "one running kubia pod",
        Duration::from_secs(30),
        &format!("const rows = (() => {{ {LIVE_KUBIA_ROWS} }})(); \
                  return rows.length === 1 && rows[0].status === 'Running' && rows[0].ready === '1/1' ? rows : null"),
    );
    let first_pod = first[0]["name"].as_str().unwrap().to_string();
    browser.wait_for(
        "the kubia service's URL",
        Duration::from_secs(20),
        "const a = document.querySelector('#services tr[data-service=\"kubia\"] a.service-url'); return a && a.href",
    );

    // Scale 1 → 2 with the + button: a second pod appears.
    let card = "#workloads article[data-kind=\"Deployment\"][data-name=\"kubia\"]";
    browser.click(&format!("{card} button.scale-up"));
    let two = browser.wait_for(
        "two running kubia pods after scaling to 2",
        Duration::from_secs(90),
        &format!("const rows = (() => {{ {LIVE_KUBIA_ROWS} }})(); \
                  return rows.length === 2 && rows.every(r => r.status === 'Running' && r.ready === '1/1') ? rows : null"),
    );
    assert!(
        two.as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] != first_pod.as_str() && r["isNew"] == true),
        "the second pod is marked new: {two}"
    );
    browser.wait_for(
        "the Deployment's counts at 2/2/2",
        Duration::from_secs(60),
        &format!("const c = document.querySelector('{}'); \
                  return c && [...c.querySelectorAll('.count-box .value')].map(v => v.textContent).join('/') === '2/2/2'",
                 card.replace('\'', "\\'")),
    );
    assert_eq!(cluster.replicas("deployment", "kubia"), "2");

    // Delete the first pod (two clicks: Delete, then "Really delete?"): a replacement appears.
    let delete = format!("#pods tr[data-pod=\"{first_pod}\"] button.delete");
    browser.click(&delete);
    browser.wait_for(
        "the delete button to ask for confirmation",
        Duration::from_secs(5),
        &format!(
            "const b = document.querySelector('{}'); return b && b.classList.contains('confirm')",
            delete.replace('\'', "\\'")
        ),
    );
    browser.click(&delete);
    let replaced = browser.wait_for(
        "a replacement pod",
        Duration::from_secs(90),
        &format!(
            "const rows = (() => {{ {LIVE_KUBIA_ROWS} }})(); \
                  return rows.length === 2 && !rows.some(r => r.name === '{first_pod}') \
                  && rows.every(r => r.status === 'Running' && r.ready === '1/1') ? rows : null"
        ),
    );
    let names: Vec<&str> = replaced
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    let replacement = replaced
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            !two.as_array()
                .unwrap()
                .iter()
                .any(|t| t["name"] == r["name"])
        })
        .unwrap_or_else(|| panic!("a pod not seen before: {names:?}, before {two}"));
    assert_eq!(
        replacement["isNew"], true,
        "the replacement is marked new: {replaced}"
    );
    // The deleted pod stays a moment, struck through, so the swap is visible.
    let struck = browser.run(&format!(
        "const r = document.querySelector('#pods tr[data-pod=\"{first_pod}\"]'); \
         return r ? (r.dataset.gone === 'true' || r.classList.contains('terminating')) : 'gone already'"
    ));
    assert_ne!(struck, false, "the deleted pod is not shown as live");

    // A screenshot of the whole page, to look at.
    browser.session_call(
        "POST",
        "/window/rect",
        Some(json!({"width": 1400, "height": 2300})),
    );
    browser.run("window.scrollTo(0, 0)");
    sleep(Duration::from_millis(500));
    let shot = browser.screenshot("dashboard-screenshot.png");
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 10_000,
        "{}",
        shot.display()
    );

    // A click on the replacement's name opens its logs.
    let new_name = replacement["name"].as_str().unwrap();
    browser.click(&format!(
        "#pods tr[data-pod=\"{new_name}\"] button.logs-link"
    ));
    browser.wait_for(
        "the pod's logs",
        Duration::from_secs(30),
        "return document.querySelector('#logs-body').textContent.includes('kubia server starting')",
    );
    browser.session_call(
        "POST",
        "/window/rect",
        Some(json!({"width": 1400, "height": 1000})),
    );
    sleep(Duration::from_millis(300));
    browser.screenshot("dashboard-logs-screenshot.png");
    browser.click("#logs-close");

    // Apply a manifest from the form; a refused one shows the API server's message.
    let form =
        r#"const t = document.querySelector('#manifest'); t.value = arguments[0]; return true"#;
    let bad = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Not_Valid\n";
    browser.session_call(
        "POST",
        "/execute/sync",
        Some(json!({"script": form, "args": [bad]})),
    );
    browser.click("#apply-button");
    let shown = browser.wait_for(
        "the API server's refusal",
        Duration::from_secs(30),
        "const e = document.querySelector('#apply-result pre.api-error'); return e && e.textContent",
    );
    assert!(
        shown.as_str().unwrap().starts_with(
            r#"ConfigMap "Not_Valid" is invalid: metadata.name: Invalid value: "Not_Valid""#
        ),
        "{shown}"
    );
    let good = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-the-page\ndata:\n  a: b\n";
    browser.session_call(
        "POST",
        "/execute/sync",
        Some(json!({"script": form, "args": [good]})),
    );
    browser.click("#apply-button");
    browser.wait_for(
        "the applied object",
        Duration::from_secs(30),
        "const r = document.querySelector('#apply-result'); return r.dataset.ok === 'true' && r.textContent.includes('ConfigMap default/from-the-page created')",
    );
    cluster.kubectl_ok(&["get", "configmap", "from-the-page"]);
    drop(browser);
    drop(dash);
}
