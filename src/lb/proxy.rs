//! A TCP forwarder: each listening port forwards to the matching NodePort on the cluster's nodes,
//! trying them in turn; kube-proxy on the node then spreads connections over ready endpoints.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::net::{TcpListener, TcpStream};

use crate::plan::localhost::LocalhostState;

/// A port the proxy listens on and the NodePort it forwards to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forward {
    pub port: u16,
    pub node_port: u16,
}

/// Parses `PORT:NODEPORT`.
pub fn parse_forward(text: &str) -> Result<Forward, String> {
    let (port, node_port) = text
        .split_once(':')
        .ok_or_else(|| format!("'{text}' is not PORT:NODEPORT"))?;
    let parse = |s: &str| {
        s.parse::<u16>()
            .map_err(|_| format!("'{s}' in '{text}' is not a port number"))
    };
    Ok(Forward {
        port: parse(port)?,
        node_port: parse(node_port)?,
    })
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// How the proxy tells its state: the newest line of its output that starts with one of these
/// is the current one (`proxy_problem` in the runtime reads it back through Docker's log).
pub const SERVING: &str = "serving:";
pub const NOT_SERVING: &str = "not serving:";

/// Which ports are bound and which another program holds. The state line is printed whenever it
/// changes and again on every retry while a port is held, so it stays near the end of the log.
struct Status {
    address: Ipv4Addr,
    ports: Vec<u16>,
    inner: std::sync::Mutex<StatusInner>,
}

#[derive(Default)]
struct StatusInner {
    bound: std::collections::BTreeSet<u16>,
    /// Port -> the error binding it gave.
    held: std::collections::BTreeMap<u16, String>,
    last: Option<String>,
}

impl Status {
    fn new(address: Ipv4Addr, ports: Vec<u16>) -> Self {
        Status {
            address,
            ports,
            inner: Default::default(),
        }
    }

    /// Records the outcome of binding `port` and returns the state line, if it is to be printed.
    fn set(&self, port: u16, held_because: Option<String>) -> Option<String> {
        let mut inner = self.inner.lock().expect("status lock");
        match held_because {
            Some(e) => {
                inner.bound.remove(&port);
                inner.held.insert(port, e);
            }
            None => {
                inner.held.remove(&port);
                inner.bound.insert(port);
            }
        }
        let line = if !inner.held.is_empty() {
            format!(
                "{NOT_SERVING} another program on this machine holds {}; retrying until it lets go",
                inner
                    .held
                    .iter()
                    .map(|(port, e)| format!("{}:{port} ({e})", self.address))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else if inner.bound.len() == self.ports.len() {
            format!(
                "{SERVING} {} port {}",
                self.address,
                self.ports
                    .iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            )
        } else {
            // Some ports not tried yet: nothing to say.
            return None;
        };
        if inner.last.as_deref() == Some(line.as_str()) && inner.held.is_empty() {
            return None;
        }
        inner.last = Some(line.clone());
        Some(line)
    }

    fn report(&self, port: u16, held_because: Option<String>) {
        if let Some(line) = self.set(port, held_because) {
            println!("{line}");
        }
    }
}

/// Binds `address:port`, retrying while another program holds it (0.2 s doubling up to 2 s);
/// any other failure (no right to the port, an address that is not local) ends the proxy.
async fn bind(status: &Status, port: u16) -> Result<TcpListener> {
    let mut pause = Duration::from_millis(200);
    loop {
        match TcpListener::bind((status.address, port)).await {
            Ok(listener) => {
                status.report(port, None);
                return Ok(listener);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                status.report(port, Some(e.to_string()));
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(2));
            }
            Err(e) => {
                return Err(e).with_context(|| format!("listening on {}:{port}", status.address));
            }
        }
    }
}

/// Which backends a connection tries, in order: round robin over them, the ready ones first
/// where readiness is checked.
struct Picker {
    backends: Vec<IpAddr>,
    next: AtomicUsize,
    readiness: Option<Arc<crate::lb::ready::Readiness>>,
}

impl Picker {
    fn order(&self) -> Vec<IpAddr> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        match &self.readiness {
            Some(r) => crate::lb::ready::preference(&r.snapshot(), start)
                .into_iter()
                .map(|i| self.backends[i])
                .collect(),
            None => (0..self.backends.len())
                .map(|i| self.backends[(start + i) % self.backends.len()])
                .collect(),
        }
    }
}

/// Accepts on `listener` for ever, relaying each connection to `node_port` on the backends.
async fn serve_listener(listener: TcpListener, node_port: u16, picker: Arc<Picker>) {
    let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    // Accept errors (out of file descriptors, say) back off, doubling up to a second, instead of
    // spinning on a listener that fails at once.
    let mut pause = Duration::from_millis(10);
    loop {
        let (client, peer) = match listener.accept().await {
            Ok(accepted) => {
                pause = Duration::from_millis(10);
                accepted
            }
            Err(e) => {
                eprintln!("accepting on port {port}: {e}; retrying in {pause:?}");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        let order = picker.order();
        let picker = picker.clone();
        // Its own task: releasing localhost ports (a pause) drops the listener, never a
        // connection already relayed.
        tokio::spawn(async move {
            let unreachable = |ip| {
                if let Some(r) = &picker.readiness {
                    r.unreachable(ip, node_port)
                }
            };
            if let Err(e) = relay(client, &order, node_port, unreachable).await {
                eprintln!("connection from {peer}: {e:#}");
            }
        });
    }
}

/// Serves every forward on `address`, and each of `localhost` on 127.0.0.1 and ::1 where free,
/// until SIGTERM or Ctrl-C; exits 0 then, as PID 1 of its container should. SIGUSR1 gives the
/// localhost ports back (a profile being paused), SIGUSR2 takes them again. With
/// `ready_check_ca`, the backends are asked for /readyz over TLS checked against that CA (the
/// apiservers' load balancer), and ready ones are preferred.
pub async fn run(
    address: Ipv4Addr,
    forwards: Vec<Forward>,
    localhost: Vec<Forward>,
    backends: Vec<IpAddr>,
    ready_check_ca: Option<std::path::PathBuf>,
) -> Result<()> {
    if (forwards.is_empty() && localhost.is_empty()) || backends.is_empty() {
        bail!("lb-proxy needs at least one --listen or --localhost and one --backend");
    }
    let readiness = match (&ready_check_ca, forwards.first()) {
        (Some(ca), Some(first)) => {
            let config = crate::lb::ready::tls_config(ca)?;
            // The checks ask the port the first forward reaches (the apiservers' one).
            Some(crate::lb::ready::spawn_checks(
                config,
                &backends,
                first.node_port,
            ))
        }
        _ => None,
    };
    let ports = |list: &[Forward], of: fn(&Forward) -> u16| {
        list.iter()
            .map(|f| of(f).to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    println!(
        "forwarding {address} port {} and localhost port {} to NodePort {} on {:?}",
        ports(&forwards, |f| f.port),
        ports(&localhost, |f| f.port),
        ports(
            &forwards
                .iter()
                .chain(&localhost)
                .copied()
                .collect::<Vec<_>>(),
            |f| f.node_port
        ),
        backends
    );
    let status = Arc::new(Status::new(
        address,
        forwards.iter().map(|f| f.port).collect(),
    ));
    let picker = Arc::new(Picker {
        backends,
        next: AtomicUsize::new(0),
        readiness,
    });
    let (failed_tx, mut failed) = tokio::sync::mpsc::channel::<anyhow::Error>(1);
    for forward in forwards {
        let picker = picker.clone();
        let status = status.clone();
        let failed_tx = failed_tx.clone();
        tokio::spawn(async move {
            match bind(&status, forward.port).await {
                Ok(listener) => serve_listener(listener, forward.node_port, picker).await,
                Err(e) => {
                    let _ = failed_tx.send(e).await;
                }
            }
        });
    }
    if !localhost.is_empty() {
        let (on_tx, on) = tokio::sync::watch::channel(true);
        tokio::spawn(localhost_signals(on_tx));
        tokio::spawn(serve_localhost(localhost, picker, on));
    }
    tokio::select! {
        Some(e) = failed.recv() => Err(e),
        _ = shutdown_signal() => Ok(()),
    }
}

/// SIGUSR1: give the localhost ports back; SIGUSR2: take them again.
async fn localhost_signals(on: tokio::sync::watch::Sender<bool>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut release), Ok(mut retake)) = (
        signal(SignalKind::user_defined1()),
        signal(SignalKind::user_defined2()),
    ) else {
        eprintln!("localhost: no signal handlers; the ports stay bound while paused");
        return;
    };
    loop {
        tokio::select! {
            _ = release.recv() => { let _ = on.send(false); }
            _ = retake.recv() => { let _ = on.send(true); }
        }
    }
}

/// The localhost ports' state, printed as one line (`plan::localhost::LocalhostState`) whenever
/// it changes once every port has been tried, and every 30 s while another program holds one,
/// so the newest line stays near the end of the log the controller reads.
struct LocalhostReport {
    wanted: usize,
    state: std::sync::Mutex<(LocalhostState, Option<String>)>,
}

impl LocalhostReport {
    fn set(&self, port: u16, serving: bool) {
        let mut guard = self.state.lock().expect("localhost state");
        let (state, last) = &mut *guard;
        state.released = false;
        if serving {
            state.held.remove(&port);
            state.serving.insert(port);
        } else {
            state.serving.remove(&port);
            state.held.insert(port);
        }
        if state.serving.len() + state.held.len() < self.wanted {
            return;
        }
        let line = state.line();
        if last.as_deref() != Some(line.as_str()) {
            println!("{line}");
            *last = Some(line);
        }
    }

    fn release(&self) {
        let mut guard = self.state.lock().expect("localhost state");
        *guard = (
            LocalhostState {
                released: true,
                ..Default::default()
            },
            None,
        );
        println!("{}", guard.0.line());
    }

    fn repeat_if_held(&self) {
        let guard = self.state.lock().expect("localhost state");
        if !guard.0.held.is_empty() {
            println!("{}", guard.0.line());
        }
    }
}

/// Serves the localhost ports while `on` says so: each port bound where free and retried
/// where held; off drops every localhost listener (connections relayed go on) and says so.
async fn serve_localhost(
    forwards: Vec<Forward>,
    picker: Arc<Picker>,
    mut on: tokio::sync::watch::Receiver<bool>,
) {
    let report = Arc::new(LocalhostReport {
        wanted: forwards.len(),
        state: Default::default(),
    });
    tokio::spawn({
        let report = report.clone();
        async move {
            loop {
                tokio::time::sleep(Duration::from_secs(30)).await;
                report.repeat_if_held();
            }
        }
    });
    loop {
        if *on.borrow_and_update() {
            let mut ports = tokio::task::JoinSet::new();
            for forward in &forwards {
                ports.spawn(serve_localhost_port(
                    *forward,
                    picker.clone(),
                    report.clone(),
                ));
            }
            while *on.borrow_and_update() {
                if on.changed().await.is_err() {
                    return;
                }
            }
            ports.abort_all();
            while ports.join_next().await.is_some() {}
            report.release();
        } else if on.changed().await.is_err() {
            return;
        }
    }
}

/// One localhost port: 127.0.0.1 bound as soon as it is free (0.2 s doubling to 2 s between
/// tries), then ::1 where the host has IPv6 loopback. ::1 only once 127.0.0.1 is this proxy's,
/// so `localhost:PORT` never reaches two Services, one per family.
async fn serve_localhost_port(forward: Forward, picker: Arc<Picker>, report: Arc<LocalhostReport>) {
    let mut pause = Duration::from_millis(200);
    let v4 = loop {
        match TcpListener::bind((Ipv4Addr::LOCALHOST, forward.port)).await {
            Ok(listener) => break listener,
            Err(e) => {
                if e.kind() != std::io::ErrorKind::AddrInUse {
                    eprintln!("localhost:{}: {e}; retrying", forward.port);
                }
                report.set(forward.port, false);
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(2));
            }
        }
    };
    report.set(forward.port, true);
    let v6 = async {
        loop {
            match TcpListener::bind((std::net::Ipv6Addr::LOCALHOST, forward.port)).await {
                Ok(listener) => return Some(listener),
                // Another program on [::1] alone: 127.0.0.1 still answers; tried again later.
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
                // No IPv6 loopback on this host.
                Err(_) => return None,
            }
        }
    };
    tokio::join!(
        serve_listener(v4, forward.node_port, picker.clone()),
        async {
            if let Some(listener) = v6.await {
                serve_listener(listener, forward.node_port, picker.clone()).await;
            }
        }
    );
}

/// Connects to the first backend that answers, in the order given, and copies bytes both ways
/// until either side closes; tells `unreachable` of each backend it could not connect to.
async fn relay(
    mut client: TcpStream,
    backends: &[IpAddr],
    port: u16,
    unreachable: impl Fn(IpAddr),
) -> Result<()> {
    let _ = client.set_nodelay(true);
    let mut last_error = None;
    for backend in backends {
        let addr = SocketAddr::from((*backend, port));
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(mut upstream)) => {
                let _ = upstream.set_nodelay(true);
                tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
                return Ok(());
            }
            Ok(Err(e)) => last_error = Some(format!("{addr}: {e}")),
            Err(_) => last_error = Some(format!("{addr}: no answer within 2s")),
        }
        unreachable(*backend);
    }
    bail!("no node answered: {}", last_error.unwrap_or_default())
}

/// SIGTERM (docker stop) or Ctrl-C.
pub async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn forwards_parse() {
        assert_eq!(
            parse_forward("80:31000").unwrap(),
            Forward {
                port: 80,
                node_port: 31000
            }
        );
        assert!(parse_forward("80").is_err());
        assert!(parse_forward("http:31000").is_err());
    }

    #[tokio::test]
    async fn a_held_port_is_reported_and_taken_once_freed() {
        let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = holder.local_addr().unwrap().port();
        let status = Arc::new(Status::new(Ipv4Addr::LOCALHOST, vec![port]));
        let binding = tokio::spawn({
            let status = status.clone();
            async move { bind(&status, port).await }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        let held = status.inner.lock().unwrap().last.clone().unwrap();
        assert!(
            held.starts_with(NOT_SERVING)
                && held.contains(&format!(
                    "another program on this machine holds 127.0.0.1:{port}"
                )),
            "{held}"
        );
        drop(holder);
        let listener = tokio::time::timeout(Duration::from_secs(5), binding)
            .await
            .expect("bound once the holder let go")
            .unwrap()
            .unwrap();
        assert_eq!(listener.local_addr().unwrap().port(), port);
        let serving = status.inner.lock().unwrap().last.clone().unwrap();
        assert_eq!(serving, format!("{SERVING} 127.0.0.1 port {port}"));
    }

    #[test]
    fn the_state_line_waits_for_every_port() {
        let status = Status::new(Ipv4Addr::LOCALHOST, vec![80, 8080]);
        assert_eq!(status.set(80, None), None, "8080 not tried yet");
        assert!(
            status
                .set(8080, Some("Address in use".into()))
                .unwrap()
                .starts_with("not serving: another program on this machine holds 127.0.0.1:8080")
        );
        assert_eq!(
            status.set(8080, None).unwrap(),
            "serving: 127.0.0.1 port 80,8080"
        );
        assert_eq!(status.set(8080, None), None, "printed once");
    }

    #[tokio::test]
    async fn relays_to_the_first_backend_that_answers_and_names_those_it_could_not_reach() {
        // A backend on 127.0.0.1; 127.0.0.2 refuses the same port, and the relay moves on to it.
        let backend = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = backend.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut s, _) = backend.accept().await.unwrap();
            let mut buf = [0u8; 4];
            s.read_exact(&mut buf).await.unwrap();
            s.write_all(b"pong").await.unwrap();
        });
        let front = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let front_addr = front.local_addr().unwrap();
        let relayed = tokio::spawn(async move {
            let (client, _) = front.accept().await.unwrap();
            let backends: [IpAddr; 2] = ["127.0.0.2".parse().unwrap(), Ipv4Addr::LOCALHOST.into()];
            let unreachable = std::sync::Mutex::new(Vec::new());
            relay(client, &backends, port, |ip| {
                unreachable.lock().unwrap().push(ip)
            })
            .await
            .unwrap();
            unreachable.into_inner().unwrap()
        });
        let mut conn = TcpStream::connect(front_addr).await.unwrap();
        conn.write_all(b"ping").await.unwrap();
        let mut answer = [0u8; 4];
        conn.read_exact(&mut answer).await.unwrap();
        assert_eq!(&answer, b"pong");
        drop(conn);
        let unreachable: Vec<IpAddr> = relayed.await.unwrap();
        assert_eq!(unreachable, [IpAddr::from(Ipv4Addr::new(127, 0, 0, 2))]);
    }
}
