//! A TCP forwarder: each listening port forwards to the matching NodePort on the cluster's nodes,
//! trying them in turn; kube-proxy on the node then spreads connections over ready endpoints.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::net::{TcpListener, TcpStream};

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

/// Serves every forward on `address` until SIGTERM or Ctrl-C; exits 0 then, as PID 1 of its
/// container should. With `ready_check_ca`, the backends are asked for /readyz over TLS checked
/// against that CA (the apiservers' load balancer), and ready ones are preferred.
pub async fn run(
    address: Ipv4Addr,
    forwards: Vec<Forward>,
    backends: Vec<Ipv4Addr>,
    ready_check_ca: Option<std::path::PathBuf>,
) -> Result<()> {
    if forwards.is_empty() || backends.is_empty() {
        bail!("lb-proxy needs at least one --listen and one --backend");
    }
    let readiness = match &ready_check_ca {
        Some(ca) => {
            let config = crate::lb::ready::tls_config(ca)?;
            // The checks ask the port the first forward reaches (the apiservers' one).
            Some(crate::lb::ready::spawn_checks(
                config,
                &backends,
                forwards[0].node_port,
            ))
        }
        None => None,
    };
    println!(
        "forwarding {address} port {} to NodePort {} on {:?}",
        forwards
            .iter()
            .map(|f| f.port.to_string())
            .collect::<Vec<_>>()
            .join(","),
        forwards
            .iter()
            .map(|f| f.node_port.to_string())
            .collect::<Vec<_>>()
            .join(","),
        backends
    );
    let status = Arc::new(Status::new(
        address,
        forwards.iter().map(|f| f.port).collect(),
    ));
    let backends = Arc::new(backends);
    let next = Arc::new(AtomicUsize::new(0));
    let (failed_tx, mut failed) = tokio::sync::mpsc::channel::<anyhow::Error>(1);
    for forward in forwards {
        let backends = backends.clone();
        let readiness = readiness.clone();
        let next = next.clone();
        let status = status.clone();
        let failed_tx = failed_tx.clone();
        tokio::spawn(async move {
            let listener = match bind(&status, forward.port).await {
                Ok(listener) => listener,
                Err(e) => {
                    let _ = failed_tx.send(e).await;
                    return;
                }
            };
            // Accept errors (out of file descriptors, say) back off, doubling up to a second,
            // instead of spinning on a listener that fails at once.
            let mut pause = Duration::from_millis(10);
            loop {
                let (client, peer) = match listener.accept().await {
                    Ok(accepted) => {
                        pause = Duration::from_millis(10);
                        accepted
                    }
                    Err(e) => {
                        eprintln!(
                            "accepting on port {}: {e}; retrying in {pause:?}",
                            forward.port
                        );
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(Duration::from_secs(1));
                        continue;
                    }
                };
                let start = next.fetch_add(1, Ordering::Relaxed);
                let order: Vec<Ipv4Addr> = match &readiness {
                    Some(r) => crate::lb::ready::preference(&r.snapshot(), start)
                        .into_iter()
                        .map(|i| backends[i])
                        .collect(),
                    None => (0..backends.len())
                        .map(|i| backends[(start + i) % backends.len()])
                        .collect(),
                };
                let readiness = readiness.clone();
                tokio::spawn(async move {
                    let unreachable = |ip| {
                        if let Some(r) = &readiness {
                            r.unreachable(ip, forward.node_port)
                        }
                    };
                    if let Err(e) = relay(client, &order, forward.node_port, unreachable).await {
                        eprintln!("connection from {peer}: {e:#}");
                    }
                });
            }
        });
    }
    tokio::select! {
        Some(e) = failed.recv() => Err(e),
        _ = shutdown_signal() => Ok(()),
    }
}

/// Connects to the first backend that answers, in the order given, and copies bytes both ways
/// until either side closes; tells `unreachable` of each backend it could not connect to.
async fn relay(
    mut client: TcpStream,
    backends: &[Ipv4Addr],
    port: u16,
    unreachable: impl Fn(Ipv4Addr),
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
            let backends = ["127.0.0.2".parse().unwrap(), Ipv4Addr::LOCALHOST];
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
        let unreachable: Vec<Ipv4Addr> = relayed.await.unwrap();
        assert_eq!(unreachable, [Ipv4Addr::new(127, 0, 0, 2)]);
    }
}
