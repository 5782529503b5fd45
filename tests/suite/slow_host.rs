//! A slow host, made on purpose: Docker behind a proxy that delays every request
//! (`support::slow_docker`), with the Docker deadlines shrunk to seconds
//! (`LOCALKUBE_TEST_DOCKER_TIMEOUT`) so a call slower than one unstretched deadline would fail.
//! The pace localkube measures from the daemon's round trips stretches them: the start succeeds,
//! a failed start's roll-back outlasts slow and failing removals, and what it cannot remove is
//! named, kept on file and removed by the next start.

use std::path::Path;
use std::time::{Duration, Instant};

use super::support::slow_docker::SlowDocker;
use super::support::{Cluster, Sandbox, assert_success, docker_inspect, labelled_objects, stderr};

/// Seconds every Docker deadline gets before the pace stretches it.
const SHRUNK_DEADLINE: &str = "2";

fn slow_sandbox(proxy: &SlowDocker) -> Sandbox {
    let sb = Sandbox::new()
        .with_env("DOCKER_HOST", proxy.docker_host())
        .with_env("LOCALKUBE_TEST_DOCKER_TIMEOUT", SHRUNK_DEADLINE);
    sb.write_user_kubeconfig();
    sb
}

fn leftovers_record(sb: &Sandbox, profile: &str) -> std::path::PathBuf {
    sb.home().join("leftovers").join(format!("{profile}.json"))
}

/// Nothing of `profile` in Docker or in the home, and the user's kubeconfig as it was.
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
    assert!(
        !Path::new(&leftovers_record(sb, profile)).exists(),
        "after {after}: a leftovers record was kept"
    );
    assert_eq!(
        sb.kubeconfig_bytes(),
        kubeconfig,
        "after {after}: the user's kubeconfig changed"
    );
}

#[test]
fn on_a_slow_docker_the_start_follows_the_pace_and_a_failed_one_leaves_nothing() {
    // Declared first, dropped last: the cluster is deleted through it.
    let proxy = SlowDocker::start(Duration::from_millis(20));
    let cluster = Cluster::unstarted(slow_sandbox(&proxy), "slowpace");
    let (sb, profile) = (&cluster.sb, cluster.profile.as_str());
    let kubeconfig = sb.kubeconfig_bytes();

    // A start failing once its containers run, on a daemon whose removals take longer than one
    // unstretched deadline and fail the first two times.
    proxy.slow("DELETE", "/containers/", Duration::from_secs(3));
    proxy.fail("DELETE", "/containers/", 2);
    let t = Instant::now();
    let out = sb
        .localkube()
        .args(["-p", profile, "start"])
        .env("LOCALKUBE_TEST_FAIL_AT", "Containers")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(!out.status.success(), "the failing start succeeded");
    assert!(
        err.contains("LOCALKUBE_TEST_FAIL_AT=Containers") && !err.contains("cleaning up failed"),
        "{err}"
    );
    // The pace comes from the daemon's round trips, and is said once.
    assert_eq!(
        err.matches("pace: this machine runs about").count(),
        1,
        "{err}"
    );
    assert!(err.contains("Docker round trip"), "{err}");
    for line in err.lines().filter(|l| l.starts_with("pace: ")) {
        eprintln!("{line}");
    }
    assert_eq!(proxy.failed().len(), 2, "{:?}", proxy.failed());
    assert_nothing_left(sb, profile, &kubeconfig, "a failed start on a slow Docker");
    eprintln!("failed start, slow and failing removals: {:?}", t.elapsed());

    // Every container's start takes longer than one unstretched deadline. Held to the timeouts
    // as written, the start fails on it as the VM's did, and still leaves nothing behind.
    proxy.clear_rules();
    proxy.slow("POST", "/containers/*/start", Duration::from_secs(3));
    let t = Instant::now();
    let out = sb
        .localkube()
        .args(["-p", profile, "start"])
        .env("LOCALKUBE_TIME_FACTOR", "1")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(
        !out.status.success() && err.contains("starting container") && err.contains("Timeout"),
        "{err}"
    );
    assert!(!err.contains("cleaning up failed"), "{err}");
    assert_nothing_left(sb, profile, &kubeconfig, "a start call that timed out");
    eprintln!("start at 1x, timed out and rolled back: {:?}", t.elapsed());

    // With the pace measured, the same slow starts are within their deadline.
    let before = proxy.requests();
    let t = Instant::now();
    let out = cluster.localkube(&["start"]);
    assert_success(&out, "start on a slow Docker");
    let starts = proxy.requests() - before;
    eprintln!(
        "start on a slow Docker: {:?}, {starts} requests carried",
        t.elapsed()
    );
    let nodes = cluster.kubectl_ok(&["get", "nodes", "--no-headers"]);
    assert!(
        nodes
            .lines()
            .all(|l| l.split_whitespace().nth(1) == Some("Ready")),
        "{nodes}"
    );
    // The load balancer controller reaches Docker through the socket DOCKER_HOST names.
    let mounts = docker_inspect(
        &cluster.container("lb-controller"),
        "{{range .Mounts}}{{.Source}} {{end}}",
    );
    assert!(
        mounts.contains(&proxy.socket().display().to_string()),
        "{mounts}"
    );
    proxy.clear_rules();
}

#[test]
fn what_a_roll_back_cannot_remove_is_named_and_the_next_start_removes_it_first() {
    let proxy = SlowDocker::start(Duration::ZERO);
    let sb = slow_sandbox(&proxy);
    let profile = "stuckrb";
    let kubeconfig = sb.kubeconfig_bytes();

    // The daemon refuses every network removal: the roll-back tries until its deadline, then
    // says what is left and how to remove it.
    proxy.fail("DELETE", "/networks/", usize::MAX);
    let out = sb
        .localkube()
        .args(["-p", profile, "start"])
        .env("LOCALKUBE_TEST_FAIL_AT", "NetworkAndVolumes")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(!out.status.success(), "the failing start succeeded");
    let network = labelled_objects(profile);
    assert!(
        network.len() == 1 && network[0].starts_with("network "),
        "only the network should be left: {network:?}"
    );
    let name = network[0].trim_start_matches("network ");
    assert!(
        err.contains(&format!(
            "and cleaning up failed too: network {name} of this start is still there"
        )) && err.contains(&format!("remove it with `docker network rm {name}`"))
            && err.contains(&format!(
                "or run `localkube start -p {profile}` again, which removes it first"
            )),
        "{err}"
    );
    assert!(
        proxy.failed().len() > 1,
        "the removal was not tried again: {:?}",
        proxy.failed()
    );
    assert!(leftovers_record(&sb, profile).exists());
    assert!(
        !sb.home().join("profiles").join(profile).exists(),
        "the new profile's folder was kept"
    );

    // The daemon works again: the next start removes the network before anything else (this
    // one then fails on purpose after its first step, and takes that back too).
    proxy.clear_rules();
    let out = sb
        .localkube()
        .args(["-p", profile, "start"])
        .env("LOCALKUBE_TEST_FAIL_AT", "ProfileConfig")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(
        err.contains("Removing what an earlier failed start left")
            && err.contains("LOCALKUBE_TEST_FAIL_AT=ProfileConfig"),
        "{err}"
    );
    assert_nothing_left(&sb, profile, &kubeconfig, "the next start");
}
