//! The LoadBalancer stand-in and service URLs against a real cluster: addresses that answer
//! from the host with no root, spread over the pods, follow service changes, report host port
//! conflicts, and survive stop/start.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, TcpListener};
use std::process::Command;
use std::time::Duration;

use super::support::{
    Cluster, Sandbox, assert_success, build_sample_image, docker_inspect, stderr, stdout,
    wait_until,
};

const PROFILE: &str = "lbtest";

/// What this story asks of its cluster beyond `support::Cluster`.
trait LoadBalancerCluster {
    fn external_ip(&self, service: &str) -> Ipv4Addr;
    fn wait_ready(&self, deployment: &str, replicas: &str);
}

impl LoadBalancerCluster for Cluster {
    /// The EXTERNAL-IP `kubectl get svc` shows, once there is one.
    fn external_ip(&self, service: &str) -> Ipv4Addr {
        let args = [
            "get",
            "svc",
            service,
            "-o",
            "jsonpath={.status.loadBalancer.ingress[0].ip}",
        ];
        self.kubectl_until(&args, Duration::from_secs(30), |ip| {
            ip.trim().parse::<Ipv4Addr>().is_ok()
        })
        .trim()
        .parse()
        .unwrap()
    }

    fn wait_ready(&self, deployment: &str, replicas: &str) {
        let args = [
            "get",
            "deployment",
            deployment,
            "-o",
            "jsonpath={.status.readyReplicas}",
        ];
        self.kubectl_until(&args, Duration::from_secs(90), |ready| {
            ready.trim() == replicas
        });
    }
}

/// GET as an unprivileged user (nobody), so the test proves no root is needed to reach it.
fn get_as_nobody(url: &str) -> Option<String> {
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "curl",
            "-sS",
            "--max-time",
            "3",
            url,
        ])
        .output()
        .expect("setpriv (util-linux) and curl");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn get_until(url: &str, timeout: Duration) -> String {
    wait_until(&format!("{url} answering"), timeout, || {
        get_as_nobody(url).ok_or_else(|| "no answer".to_string())
    })
}

fn wait_until_silent(url: &str) {
    wait_until(
        &format!("{url} silent after its load balancer is gone"),
        Duration::from_secs(30),
        || match get_as_nobody(url) {
            Some(body) => Err(body),
            None => Ok(()),
        },
    );
}

#[test]
fn load_balancers_and_service_urls() {
    build_sample_image();
    let c = Cluster::unstarted(Sandbox::new(), PROFILE);
    assert_success(&c.localkube(&["start"]), "start");
    assert_success(&c.localkube(&["image", "load", "kubia:1.0"]), "image load");
    c.kubectl_ok(&["create", "deployment", "kubia", "--image=kubia:1.0"]);
    c.wait_ready("kubia", "1");

    // The book's LoadBalancer: an EXTERNAL-IP of its own on loopback, answering on its port.
    c.kubectl_ok(&[
        "expose",
        "deployment",
        "kubia",
        "--type=LoadBalancer",
        "--port=8080",
        "--target-port=8080",
    ]);
    let kubia = c.external_ip("kubia");
    assert!(
        kubia.is_loopback() && kubia != Ipv4Addr::LOCALHOST,
        "{kubia}"
    );
    let body = get_until(&format!("http://{kubia}:8080/"), Duration::from_secs(20));
    assert!(body.starts_with("You've hit kubia-"), "{body}");

    // One hop: the proxy itself listens on that address, in the host's network namespace, with
    // no capability but binding low ports, and on nothing else.
    let proxy = format!("{PROFILE}-lb-default-kubia");
    assert_eq!(
        docker_inspect(
            &proxy,
            "{{.HostConfig.NetworkMode}} {{.HostConfig.CapDrop}} {{.HostConfig.CapAdd}}"
        ),
        "host [ALL] [NET_BIND_SERVICE]"
    );
    let pid = docker_inspect(&proxy, "{{.State.Pid}}");
    let listening = Command::new("ss")
        .args(["-Hltnp"])
        .output()
        .expect("ss (iproute2)");
    let mine: Vec<String> = String::from_utf8_lossy(&listening.stdout)
        .lines()
        .filter(|l| l.contains(&format!("pid={pid},")))
        .map(|l| l.split_whitespace().nth(3).unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        mine,
        [format!("{kubia}:8080")],
        "the proxy listens on {mine:?}"
    );

    // Spread over the ready pods.
    c.kubectl_ok(&["scale", "deployment", "kubia", "--replicas=3"]);
    c.wait_ready("kubia", "3");
    let hosts: BTreeSet<String> = (0..30)
        .filter_map(|_| get_as_nobody(&format!("http://{kubia}:8080/")))
        .collect();
    assert!(hosts.len() >= 2, "30 requests reached only {hosts:?}");

    // A second one on privileged port 80: another address, answering to an unprivileged client.
    c.kubectl_ok(&["create", "deployment", "web", "--image=kubia:1.0"]);
    c.kubectl_ok(&[
        "expose",
        "deployment",
        "web",
        "--type=LoadBalancer",
        "--port=80",
        "--target-port=8080",
    ]);
    let web = c.external_ip("web");
    assert_ne!(web, kubia);
    let body = get_until(&format!("http://{web}/"), Duration::from_secs(60));
    assert!(body.starts_with("You've hit web-"), "{body}");

    // `service --url` prints URLs that answer; a NodePort's too.
    let out = c.localkube(&["service", "kubia", "--url"]);
    assert_success(&out, "service kubia --url");
    assert_eq!(stdout(&out).trim(), format!("http://{kubia}:8080"));
    c.kubectl_ok(&[
        "expose",
        "deployment",
        "kubia",
        "--name=kubia-np",
        "--type=NodePort",
        "--port=8080",
    ]);
    let out = c.localkube(&["service", "kubia-np", "--url", "--wait", "30"]);
    assert_success(&out, "service kubia-np --url");
    let url = stdout(&out).trim().to_string();
    let body = get_until(&url, Duration::from_secs(20));
    assert!(body.starts_with("You've hit kubia-"), "{url}: {body}");
    let list = stdout(&c.localkube(&["service", "list", "-o", "json"]));
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|r| r["url"] == format!("http://{web}:80"))
    );

    // ClusterIP services and services without ready pods get a clear refusal.
    let out = c.localkube(&["service", "kubernetes", "--url"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("reachable only inside the cluster"),
        "{}",
        stderr(&out)
    );
    c.kubectl_ok(&["create", "deployment", "broken", "--image=nosuch:1.0"]);
    c.kubectl_ok(&[
        "expose",
        "deployment",
        "broken",
        "--type=LoadBalancer",
        "--port=8081",
    ]);
    let out = c.localkube(&["service", "broken", "--url", "--wait", "3"]);
    assert!(
        !out.status.success(),
        "a service with no ready pod gave a URL"
    );
    assert!(
        stderr(&out).contains("has no ready pod"),
        "{}",
        stderr(&out)
    );

    // Ports added to a service are served too.
    c.kubectl_ok(&[
        "patch", "svc", "kubia", "--type=json",
        "-p", r#"[{"op":"add","path":"/spec/ports/0/name","value":"http"},
            {"op":"add","path":"/spec/ports/-","value":{"name":"alt","port":9090,"targetPort":8080}}]"#,
    ]);
    let body = get_until(&format!("http://{kubia}:9090/"), Duration::from_secs(30));
    assert!(body.starts_with("You've hit kubia-"), "{body}");

    // Another program holding the address and port: reported on the service and in `tunnel`, and
    // served once it lets go.
    c.kubectl_ok(&["delete", "svc", "web"]);
    wait_until_silent(&format!("http://{web}/"));
    let holder = TcpListener::bind((web, 8082)).expect("hold the freed address");
    c.kubectl_ok(&["create", "deployment", "clash", "--image=kubia:1.0"]);
    c.kubectl_ok(&[
        "expose",
        "deployment",
        "clash",
        "--type=LoadBalancer",
        "--port=8082",
        "--target-port=8080",
    ]);
    assert_eq!(
        c.external_ip("clash"),
        web,
        "the freed address is handed out again"
    );
    wait_until("the conflict reported", Duration::from_secs(40), || {
        let events = c.kubectl_ok(&[
            "get",
            "events",
            "--field-selector=involvedObject.name=clash",
            "-o",
            "jsonpath={.items[*].reason}",
        ]);
        let tunnel = stdout(&c.localkube(&["tunnel"]));
        if events.contains("HostPortInUse") && tunnel.contains("not serving: another program") {
            Ok(())
        } else {
            Err(format!("{events} / {tunnel}"))
        }
    });
    drop(holder);
    let body = get_until(&format!("http://{web}:8082/"), Duration::from_secs(40));
    assert!(body.starts_with("You've hit clash-"), "{body}");

    // Type changed away from LoadBalancer: the load balancer goes, and so does the address.
    c.kubectl_ok(&[
        "patch",
        "svc",
        "clash",
        "-p",
        r#"{"spec":{"type":"ClusterIP"}}"#,
    ]);
    wait_until_silent(&format!("http://{web}:8082/"));

    // stop / start: the address answers again.
    assert_success(&c.localkube(&["stop"]), "stop");
    assert!(
        get_as_nobody(&format!("http://{kubia}:8080/")).is_none(),
        "answers while stopped"
    );
    assert_success(&c.localkube(&["start"]), "start again");
    assert_eq!(
        c.external_ip("kubia"),
        kubia,
        "the address changed across stop/start"
    );
    let body = get_until(&format!("http://{kubia}:8080/"), Duration::from_secs(60));
    assert!(body.starts_with("You've hit kubia-"), "{body}");

    // delete removes the load balancers with everything else.
    assert_success(&c.localkube(&["delete"]), "delete");
    assert!(get_as_nobody(&format!("http://{kubia}:8080/")).is_none());
}
