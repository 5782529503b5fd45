//! A Docker daemon made slow on purpose: a unix socket that forwards every connection to the real
//! daemon's, waiting before each request it carries, and can make chosen requests slower still
//! or answer them with an error a number of times. `DOCKER_HOST=unix://<socket>` points localkube
//! at it.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

const DAEMON: &str = "/var/run/docker.sock";

/// What happens to requests `method` whose path matches `path` ([`matches`]).
#[derive(Debug, Clone)]
struct Rule {
    method: &'static str,
    path: &'static str,
    delay: Duration,
    /// This many matching requests are answered `500` instead of being forwarded.
    failures: usize,
}

#[derive(Debug, Default)]
struct State {
    delay: Duration,
    rules: Vec<Rule>,
    /// The first line of every request carried, in order.
    seen: Vec<String>,
    /// The first line of every request answered with an error.
    failed: Vec<String>,
}

pub struct SlowDocker {
    dir: tempfile::TempDir,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl SlowDocker {
    /// Listens at once; every request waits `delay` before it goes to the daemon.
    pub fn start(delay: Duration) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let socket = dir.path().join("docker.sock");
        let listener = UnixListener::bind(&socket).expect("bind the slow Docker socket");
        let state = Arc::new(Mutex::new(State {
            delay,
            ..State::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (accept_state, accept_stop) = (state.clone(), stop.clone());
        thread::spawn(move || {
            for client in listener.incoming() {
                if accept_stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let state = accept_state.clone();
                thread::spawn(move || carry(client, &state));
            }
        });
        SlowDocker { dir, state, stop }
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("docker.sock")
    }

    /// The `DOCKER_HOST` that points at this proxy.
    pub fn docker_host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// Requests `method` whose path matches `path` ([`matches`]) wait `delay` more.
    pub fn slow(&self, method: &'static str, path: &'static str, delay: Duration) {
        self.rule(Rule {
            method,
            path,
            delay,
            failures: 0,
        });
    }

    /// The next `times` requests `method` whose path matches `path` get a 500 answer.
    pub fn fail(&self, method: &'static str, path: &'static str, times: usize) {
        self.rule(Rule {
            method,
            path,
            delay: Duration::ZERO,
            failures: times,
        });
    }

    fn rule(&self, rule: Rule) {
        self.state.lock().unwrap().rules.push(rule);
    }

    /// Back to the plain delay: no rule any more.
    pub fn clear_rules(&self) {
        self.state.lock().unwrap().rules.clear();
    }

    /// The first lines of the requests answered with an error so far.
    pub fn failed(&self) -> Vec<String> {
        self.state.lock().unwrap().failed.clone()
    }

    /// How many requests were carried (or failed) so far.
    pub fn requests(&self) -> usize {
        self.state.lock().unwrap().seen.len()
    }
}

impl Drop for SlowDocker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accepting thread so it sees the stop.
        let _ = UnixStream::connect(self.socket());
    }
}

const METHODS: [&str; 5] = ["GET ", "POST ", "PUT ", "DELETE ", "HEAD "];

/// Carries one client connection to the daemon: the daemon's answers straight back, the
/// client's bytes after the delay when they begin a request. A request begins a read: clients
/// send one request at a time on a connection and wait for the answer.
fn carry(mut client: UnixStream, state: &Mutex<State>) {
    let Ok(mut daemon) = UnixStream::connect(DAEMON) else {
        return;
    };
    let (Ok(mut answers), Ok(mut back)) = (daemon.try_clone(), client.try_clone()) else {
        return;
    };
    let backward = thread::spawn(move || {
        let _ = std::io::copy(&mut answers, &mut back);
        let _ = back.shutdown(std::net::Shutdown::Write);
    });
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match client.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let chunk = &buf[..n];
        if METHODS.iter().any(|m| chunk.starts_with(m.as_bytes())) {
            let line = String::from_utf8_lossy(chunk)
                .lines()
                .next()
                .unwrap_or_default()
                .to_string();
            let (wait, fail) = judge(state, &line);
            thread::sleep(wait);
            if fail {
                let body = r#"{"message":"failed on purpose by the test's slow Docker"}"#;
                let answer = format!(
                    "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                if client.write_all(answer.as_bytes()).is_err() {
                    break;
                }
                continue;
            }
        }
        if daemon.write_all(chunk).is_err() {
            break;
        }
    }
    let _ = daemon.shutdown(std::net::Shutdown::Write);
    let _ = backward.join();
}

/// How long the request of `line` waits, and whether it is answered with an error.
fn judge(state: &Mutex<State>, line: &str) -> (Duration, bool) {
    let mut state = state.lock().unwrap();
    state.seen.push(line.to_string());
    let mut wait = state.delay;
    let mut fail = false;
    let mut path_part = line.split_whitespace();
    let method = path_part.next().unwrap_or_default();
    let path = path_part.next().unwrap_or_default();
    for rule in state.rules.iter_mut() {
        if rule.method == method && matches(rule.path, path) {
            wait += rule.delay;
            if rule.failures > 0 {
                rule.failures -= 1;
                fail = true;
            }
        }
    }
    if fail {
        state.failed.push(line.to_string());
    }
    (wait, fail)
}

/// Whether a request's path, without its API version and query, matches `pattern`: begins with
/// it, or with a `*` in it, begins with what is before and ends with what is after
/// (`/containers/*/start` is a container's start and not an exec's).
fn matches(pattern: &str, path: &str) -> bool {
    let path = path.split('?').next().unwrap_or_default();
    let path = match path.strip_prefix("/v1.") {
        Some(rest) => rest.find('/').map_or(path, |slash| &rest[slash..]),
        None => path,
    };
    match pattern.split_once('*') {
        Some((start, end)) => {
            path.starts_with(start) && path.ends_with(end) && path.len() >= start.len() + end.len()
        }
        None => path.starts_with(pattern),
    }
}

#[test]
fn a_pattern_matches_the_path_without_version_and_query() {
    assert!(matches("/containers/", "/v1.41/containers/a-b?force=true"));
    assert!(matches("/containers/*/start", "/v1.41/containers/a/start"));
    assert!(!matches("/containers/*/start", "/v1.41/exec/123/start"));
    assert!(matches("/networks/", "/networks/localkube-x"));
    assert!(!matches("/networks/", "/v1.41/containers/x"));
}
