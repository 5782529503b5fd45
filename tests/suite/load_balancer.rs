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
pub trait LoadBalancerCluster {
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
pub fn get_as_nobody(url: &str) -> Option<String> {
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

pub fn get_until(url: &str, timeout: Duration) -> String {
    wait_until(&format!("{url} answering"), timeout, || {
        get_as_nobody(url).ok_or_else(|| "no answer".to_string())
    })
}

pub fn wait_until_silent(url: &str) {
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
    // localhost off: each Service on its own address alone (`localhost.rs` has the rest), so
    // this story's port 80 and 8080 leave localhost to the stories that run beside it.
    assert_success(&c.localkube(&["start", "--localhost", "none"]), "start");
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
    // A pod that never gets ready: a local image whose command fails (an image that does not
    // exist would send containerd to Docker Hub, off this machine).
    c.kubectl_ok(&[
        "create",
        "deployment",
        "broken",
        "--image=kubia:1.0",
        "--",
        "false",
    ]);
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

/// Where the host cannot reach the daemon's network namespace (Docker Desktop, rootless Docker),
/// LoadBalancer ports are published on 127.0.0.1. Forced here with the variable: the service
/// shows 127.0.0.1 and answers there on its own port, through a proxy on the profile's network,
/// back after stop/start.
#[test]
fn published_load_balancers_answer_on_localhost() {
    build_sample_image();
    let c = Cluster::unstarted(
        Sandbox::new().with_env("LOCALKUBE_LOAD_BALANCER", "published"),
        "lbpub",
    );
    assert_success(&c.localkube(&["start"]), "start");
    assert_success(&c.localkube(&["image", "load", "kubia:1.0"]), "image load");
    // Loaded again: the node holds that very image, and nothing is copied.
    let again = c.localkube(&["image", "load", "kubia:1.0"]);
    assert_success(&again, "image load again");
    let said = format!("{}{}", stdout(&again), stderr(&again));
    assert!(said.contains("lbpub already holds kubia:1.0"), "{said}");
    c.kubectl_ok(&["create", "deployment", "kubia", "--image=kubia:1.0"]);
    c.wait_ready("kubia", "1");
    // A port nothing on this machine holds now.
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
        .to_string();
    c.kubectl_ok(&[
        "expose",
        "deployment",
        "kubia",
        "--type=LoadBalancer",
        &format!("--port={port}"),
        "--target-port=8080",
    ]);
    assert_eq!(c.external_ip("kubia"), Ipv4Addr::LOCALHOST);
    let url = format!("http://127.0.0.1:{port}/");
    let body = get_until(&url, Duration::from_secs(60));
    assert!(body.starts_with("You've hit kubia-"), "{body}");
    // Docker publishes it, on 127.0.0.1 alone, from a proxy on the profile's network.
    assert_eq!(
        docker_inspect(
            "lbpub-lb-default-kubia",
            &format!(
                "{{{{range $name, $_ := .NetworkSettings.Networks}}}}{{{{$name}}}}{{{{end}}}} {{{{(index (index .HostConfig.PortBindings \"{port}/tcp\") 0).HostIp}}}}"
            )
        ),
        "localkube-lbpub 127.0.0.1"
    );
    let out = c.localkube(&["service", "kubia", "--url"]);
    assert_success(&out, "service kubia --url");
    assert_eq!(stdout(&out).trim(), format!("http://127.0.0.1:{port}"));
    // A NodePort on localhost too: Docker publishes it on 127.0.0.1.
    c.kubectl_ok(&[
        "expose",
        "deployment",
        "kubia",
        "--name=kubia-np",
        "--type=NodePort",
        "--port=8080",
    ]);
    let node_port = c.kubectl_ok(&[
        "get",
        "svc",
        "kubia-np",
        "-o",
        "jsonpath={.spec.ports[0].nodePort}",
    ]);
    let body = get_until(
        &format!("http://127.0.0.1:{}/", node_port.trim()),
        Duration::from_secs(60),
    );
    assert!(body.starts_with("You've hit kubia-"), "{body}");

    assert_success(&c.localkube(&["stop"]), "stop");
    assert!(get_as_nobody(&url).is_none(), "answers while stopped");
    assert_success(&c.localkube(&["start"]), "start again");
    let body = get_until(&url, Duration::from_secs(60));
    assert!(body.starts_with("You've hit kubia-"), "{body}");

    // Deleted with the rest: the port is free again.
    assert_success(&c.localkube(&["delete"]), "delete");
    assert!(get_as_nobody(&url).is_none());
}
