//! localhost as the tutorials written for Docker Desktop use it: LoadBalancer ports and
//! NodePorts answer on 127.0.0.1 (and ::1) beside each Service's own address; a port already
//! held stays with its holder (another Service, another profile, a host program), the Service
//! says who holds it, and takes the port when the holder lets go; stop and pause give the ports
//! back.

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use super::load_balancer::{LoadBalancerCluster, get_as_nobody, wait_until_silent};
use super::support::{Cluster, build_sample_image, stderr, stdout, wait_until};

const PROFILE: &str = "lhtest";
const OTHER: &str = "lhtest2";
/// Ports no other story of the suite asks for on localhost.
const FIRST_PORT: &str = "18081";
const SECOND_PORT: &str = "18082";
/// The book's NodePort.
const NODE_PORT: &str = "30080";

fn deploy(c: &Cluster, names: &[&str]) {
    for name in names {
        c.kubectl_ok(&["create", "deployment", name, "--image=kubia:1.0"]);
    }
    for name in names {
        c.wait_ready(name, "1");
    }
}

fn expose(c: &Cluster, deployment: &str, name: &str, port: &str) {
    c.kubectl_ok(&[
        "expose",
        "deployment",
        deployment,
        &format!("--name={name}"),
        "--type=LoadBalancer",
        &format!("--port={port}"),
        "--target-port=8080",
    ]);
}

/// Waits until `url` answers with a page of `deployment`'s pods (kubia prints its pod's name).
fn answered_by(url: &str, deployment: &str) {
    let prefix = format!("You've hit {deployment}-");
    wait_until(
        &format!("{url} answered by {deployment}"),
        Duration::from_secs(60),
        || match get_as_nobody(url) {
            Some(body) if body.starts_with(&prefix) => Ok(()),
            other => Err(format!("{other:?}")),
        },
    );
}

/// Waits until the Service has a warning event of `reason` whose note holds `words`.
fn event_says(c: &Cluster, service: &str, reason: &str, words: &str) {
    c.kubectl_until(
        &[
            "get",
            "events",
            &format!("--field-selector=involvedObject.name={service},reason={reason}"),
            "-o",
            "jsonpath={.items[*].message}",
        ],
        Duration::from_secs(40),
        |notes| notes.contains(words),
    );
}

#[test]
fn localhost_answers_as_the_tutorials_say() {
    build_sample_image();
    let c = Cluster::start(PROFILE, &[]);
    c.localkube_ok(&["image", "load", "kubia:1.0"]);
    deploy(&c, &["first", "second", "late"]);

    // Two LoadBalancers on different ports: both on localhost, each on its own address too.
    let applied = Instant::now();
    expose(&c, "first", "first", FIRST_PORT);
    answered_by(&format!("http://localhost:{FIRST_PORT}/"), "first");
    eprintln!(
        "localhost: `kubectl expose` to localhost:{FIRST_PORT} answering: {:?}",
        applied.elapsed()
    );
    expose(&c, "second", "second", SECOND_PORT);
    answered_by(&format!("http://127.0.0.1:{SECOND_PORT}/"), "second");
    if TcpListener::bind("[::1]:0").is_ok() {
        answered_by(&format!("http://[::1]:{FIRST_PORT}/"), "first");
    }
    let first_ip = c.external_ip("first");
    assert!(first_ip.is_loopback() && first_ip != Ipv4Addr::LOCALHOST);
    answered_by(&format!("http://{first_ip}:{FIRST_PORT}/"), "first");
    // Its EXTERNAL-IP stays its own address, with `localhost` beside it, as Docker Desktop shows.
    c.kubectl_until(
        &[
            "get",
            "svc",
            "first",
            "-o",
            "jsonpath={.status.loadBalancer.ingress[*].hostname}",
        ],
        Duration::from_secs(30),
        |hosts| hosts.trim() == "localhost",
    );
    // `service --url`: one URL a line, the own address; localhost said on standard error.
    let out = c.localkube(&["service", "first", "--url"]);
    assert_eq!(
        stdout(&out).trim(),
        format!("http://{first_ip}:{FIRST_PORT}")
    );
    assert!(
        stderr(&out).contains(&format!("also answers on http://localhost:{FIRST_PORT}")),
        "{}",
        stderr(&out)
    );

    // A second Service on the same port: its own address only, and it says who holds the port.
    expose(&c, "late", "late", FIRST_PORT);
    let late_ip = c.external_ip("late");
    answered_by(&format!("http://{late_ip}:{FIRST_PORT}/"), "late");
    event_says(
        &c,
        "late",
        "LocalhostPortInUse",
        &format!("localhost:{FIRST_PORT} is held by Service default/first of this profile"),
    );
    answered_by(&format!("http://localhost:{FIRST_PORT}/"), "first");
    let tunnel = c.localkube_ok(&["tunnel"]);
    assert!(tunnel.contains(&format!("{FIRST_PORT}(held)")), "{tunnel}");
    // The holder goes: the port passes to the Service that waited for it.
    c.kubectl_ok(&["delete", "svc", "first"]);
    answered_by(&format!("http://localhost:{FIRST_PORT}/"), "late");

    // A NodePort, the book's: on localhost:NODEPORT.
    c.apply(&format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: second-np}}\nspec:\n  type: NodePort\n  \
         selector: {{app: second}}\n  ports: [{{port: 80, targetPort: 8080, nodePort: {NODE_PORT}}}]\n"
    ));
    answered_by(&format!("http://localhost:{NODE_PORT}/"), "second");

    // A host program holding a port: reported, never disturbed, and the port is taken once freed.
    let holder = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("hold a port");
    let held = holder.local_addr().unwrap().port().to_string();
    expose(&c, "second", "second-held", &held);
    event_says(
        &c,
        "second-held",
        "LocalhostPortInUse",
        &format!("localhost:{held} is held by another program on this machine"),
    );
    TcpStream::connect((Ipv4Addr::LOCALHOST, holder.local_addr().unwrap().port()))
        .expect("the host program still holds its port");
    let own = c.external_ip("second-held");
    answered_by(&format!("http://{own}:{held}/"), "second");
    drop(holder);
    answered_by(&format!("http://localhost:{held}/"), "second");

    // Another profile wanting a port this one holds: it waits, naming this profile.
    let o = Cluster::start(OTHER, &[]);
    o.localkube_ok(&["image", "load", "kubia:1.0"]);
    deploy(&o, &["other"]);
    expose(&o, "other", "other", SECOND_PORT);
    event_says(
        &o,
        "other",
        "LocalhostPortInUse",
        &format!("held by Service default/second of profile '{PROFILE}'"),
    );
    answered_by(&format!("http://localhost:{SECOND_PORT}/"), "second");

    // stop gives the ports back: the other profile takes the one it waited for. start takes
    // the free ones again; the taken one stays with the other profile until it lets go.
    c.localkube_ok(&["stop"]);
    wait_until_silent(&format!("http://localhost:{FIRST_PORT}/"));
    answered_by(&format!("http://localhost:{SECOND_PORT}/"), "other");
    c.localkube_ok(&["start"]);
    answered_by(&format!("http://localhost:{FIRST_PORT}/"), "late");
    event_says(
        &c,
        "second",
        "LocalhostPortInUse",
        &format!("held by Service default/other of profile '{OTHER}'"),
    );
    o.localkube_ok(&["delete"]);
    answered_by(&format!("http://localhost:{SECOND_PORT}/"), "second");

    // pause gives them back too (a program may bind them meanwhile); unpause takes them again.
    c.localkube_ok(&["pause"]);
    let free = TcpListener::bind((Ipv4Addr::LOCALHOST, FIRST_PORT.parse::<u16>().unwrap()))
        .expect("localhost's port is free while the profile is paused");
    drop(free);
    c.localkube_ok(&["unpause"]);
    answered_by(&format!("http://localhost:{FIRST_PORT}/"), "late");

    // Turned off on the running profile: localhost goes quiet, the own addresses still answer.
    c.localkube_ok(&["start", "--localhost", "none"]);
    wait_until_silent(&format!("http://localhost:{FIRST_PORT}/"));
    answered_by(&format!("http://{late_ip}:{FIRST_PORT}/"), "late");
}
