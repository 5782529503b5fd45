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

/// Serves every forward until SIGTERM or Ctrl-C; exits 0 then, as PID 1 of its container should.
pub async fn run(forwards: Vec<Forward>, backends: Vec<Ipv4Addr>) -> Result<()> {
    if forwards.is_empty() || backends.is_empty() {
        bail!("lb-proxy needs at least one --listen and one --backend");
    }
    let backends = Arc::new(backends);
    let next = Arc::new(AtomicUsize::new(0));
    for forward in forwards {
        let listener = TcpListener::bind((Ipv4Addr::UNSPECIFIED, forward.port))
            .await
            .with_context(|| format!("listening on port {}", forward.port))?;
        println!(
            "forwarding :{} to NodePort {} on {:?}",
            forward.port, forward.node_port, backends
        );
        let backends = backends.clone();
        let next = next.clone();
        tokio::spawn(async move {
            // Accept errors (out of file descriptors, say) back off, doubling up to a second,
            // instead of spinning on a listener that fails at once.
            let mut pause = std::time::Duration::from_millis(10);
            loop {
                let (client, peer) = match listener.accept().await {
                    Ok(accepted) => {
                        pause = std::time::Duration::from_millis(10);
                        accepted
                    }
                    Err(e) => {
                        eprintln!(
                            "accepting on port {}: {e}; retrying in {pause:?}",
                            forward.port
                        );
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(std::time::Duration::from_secs(1));
                        continue;
                    }
                };
                let backends = backends.clone();
                let start = next.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(async move {
                    if let Err(e) = relay(client, &backends, start, forward.node_port).await {
                        eprintln!("connection from {peer}: {e:#}");
                    }
                });
            }
        });
    }
    shutdown_signal().await;
    Ok(())
}

/// Connects to the first backend that answers, starting at `start` (round robin), and copies
/// bytes both ways until either side closes.
async fn relay(
    mut client: TcpStream,
    backends: &[Ipv4Addr],
    start: usize,
    port: u16,
) -> Result<()> {
    let _ = client.set_nodelay(true);
    let mut last_error = None;
    for i in 0..backends.len() {
        let addr = SocketAddr::from((backends[(start + i) % backends.len()], port));
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(mut upstream)) => {
                let _ = upstream.set_nodelay(true);
                tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
                return Ok(());
            }
            Ok(Err(e)) => last_error = Some(format!("{addr}: {e}")),
            Err(_) => last_error = Some(format!("{addr}: no answer within 2s")),
        }
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
    async fn relays_to_the_first_backend_that_answers() {
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
        tokio::spawn(async move {
            let (client, _) = front.accept().await.unwrap();
            let backends = ["127.0.0.2".parse().unwrap(), Ipv4Addr::LOCALHOST];
            relay(client, &backends, 0, port).await.unwrap();
        });
        let mut conn = TcpStream::connect(front_addr).await.unwrap();
        conn.write_all(b"ping").await.unwrap();
        let mut answer = [0u8; 4];
        conn.read_exact(&mut answer).await.unwrap();
        assert_eq!(&answer, b"pong");
    }
}
