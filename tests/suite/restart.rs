//! The cluster comes back by itself: after `docker restart` of any one component or node, and
//! after a restart of dockerd itself, with both nodes Ready and no object lost. Restarting
//! dockerd disturbs every other Docker user, so this test is ignored in the parallel run and
//! `scripts/test.sh` runs it alone afterwards.

use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use super::cluster_network::assert_control_plane_routes;
use super::support::{
    Sandbox, assert_success, build_sample_image, docker_ok, restart_dockerd, stdout,
};

const PROFILE: &str = "restart";

fn kubectl(sb: &Sandbox, args: &[&str]) -> std::process::Output {
    let mut all = vec!["-p", PROFILE, "kubectl", "--"];
    all.extend_from_slice(args);
    sb.run(&all)
}

/// Waits until the cluster serves again: node Ready, both replicas ready, and the service
/// answering by name from inside a pod.
fn wait_serving(sb: &Sandbox, after: &str) {
    let started = Instant::now();
    loop {
        let nodes = stdout(&kubectl(sb, &["get", "nodes", "--no-headers"]));
        let ready = stdout(&kubectl(
            sb,
            &[
                "get",
                "deployment",
                "kubia",
                "-o",
                "jsonpath={.status.readyReplicas}",
            ],
        ));
        let pod = stdout(&kubectl(
            sb,
            &[
                "get",
                "pods",
                "-l",
                "app=kubia",
                "-o",
                "jsonpath={.items[0].metadata.name}",
            ],
        ));
        let answer = if pod.is_empty() {
            String::new()
        } else {
            stdout(&kubectl(
                sb,
                &[
                    "exec",
                    &pod,
                    "--",
                    "/kubia",
                    "get",
                    "http://kubia.default.svc.cluster.local:8080/",
                ],
            ))
        };
        // Both nodes Ready (" Ready " with spaces: a NotReady line does not hold it).
        if nodes.lines().filter(|l| l.contains(" Ready ")).count() == 2
            && ready.trim() == "2"
            && answer.starts_with("You've hit kubia-")
        {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "cluster not serving again after {after}: nodes {nodes:?}, ready {ready:?}, answer {answer:?}"
        );
        sleep(Duration::from_secs(1));
    }
}

/// Waits until the LoadBalancer's URL answers from the host; returns it, and checks it is the
/// same as before when one is given.
fn wait_lb_answers(sb: &Sandbox, before: Option<&str>, after: &str) -> String {
    let started = Instant::now();
    loop {
        let out = sb.run(&["-p", PROFILE, "service", "kubia-lb", "--url"]);
        let url = stdout(&out).trim().to_string();
        let answered = out.status.success()
            && Command::new("curl")
                .args(["-sf", "--max-time", "3", &url])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).starts_with("You've hit kubia-"));
        if answered {
            if let Some(before) = before {
                assert_eq!(
                    url, before,
                    "the LoadBalancer address changed after {after}"
                );
            }
            return url;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the LoadBalancer does not answer after {after}: {url:?} {}",
            super::support::stderr(&out)
        );
        sleep(Duration::from_secs(1));
    }
}

#[test]
#[ignore = "restarts dockerd; scripts/test.sh runs it alone after the rest"]
fn cluster_comes_back_after_component_and_dockerd_restarts() {
    build_sample_image();
    let sb = Sandbox::new();
    struct Cleanup<'a>(&'a Sandbox);
    impl Drop for Cleanup<'_> {
        fn drop(&mut self) {
            let _ = self.0.run(&["-p", PROFILE, "delete"]);
        }
    }
    let _cleanup = Cleanup(&sb);

    // Two nodes: a dockerd restart must keep every node, at its address, with its pods.
    assert_success(&sb.run(&["-p", PROFILE, "start", "--nodes", "2"]), "start");
    assert_success(
        &sb.run(&["-p", PROFILE, "image", "load", "kubia:1.0"]),
        "image load",
    );
    assert_success(
        &kubectl(
            &sb,
            &[
                "create",
                "deployment",
                "kubia",
                "--image=kubia:1.0",
                "--replicas=2",
            ],
        ),
        "create deployment",
    );
    assert_success(
        &kubectl(&sb, &["expose", "deployment", "kubia", "--port=8080"]),
        "expose",
    );
    assert_success(
        &kubectl(
            &sb,
            &[
                "expose",
                "deployment",
                "kubia",
                "--name=kubia-lb",
                "--type=LoadBalancer",
                "--port=8080",
            ],
        ),
        "expose as LoadBalancer",
    );
    assert_success(
        &kubectl(
            &sb,
            &["create", "configmap", "kept", "--from-literal=chapter=2"],
        ),
        "create configmap",
    );
    wait_serving(&sb, "start");

    for container in [
        "restart-etcd",
        "restart-apiserver",
        "restart-controller-manager",
        "restart-scheduler",
        "restart",
        "restart-m02",
    ] {
        docker_ok(&["restart", container]);
        wait_serving(&sb, &format!("docker restart {container}"));
    }
    assert_control_plane_routes(PROFILE, "the component restarts");

    let lb_url = wait_lb_answers(&sb, None, "the component restarts");
    restart_dockerd();
    wait_serving(&sb, "a dockerd restart");
    assert_control_plane_routes(PROFILE, "a dockerd restart");
    wait_lb_answers(&sb, Some(&lb_url), "a dockerd restart");
    let kept = stdout(&kubectl(
        &sb,
        &["get", "configmap", "kept", "-o", "jsonpath={.data.chapter}"],
    ));
    assert_eq!(kept, "2", "a ConfigMap was lost across the dockerd restart");
    let status = sb.run(&["-p", PROFILE, "status"]);
    assert_eq!(status.status.code(), Some(0), "{}", stdout(&status));
}
