//! Which backends are ready, for the apiservers' load balancer: each is asked for `/readyz` over
//! TLS (checked against the cluster CA) four times a second, as kind's haproxy asks its
//! apiservers for /healthz. A connection goes to a ready backend first; when none is, to every
//! one in turn (an apiserver that cannot say it is ready may still answer, and refusing outright
//! helps no one). A backend a connection could not reach counts as not ready at once, until a
//! check says it is again: an apiserver killed and restarted between two checks opens its port
//! before its authorization caches are filled, and would refuse the requests sent to it
//! meanwhile.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use rustls::ClientConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How often each backend is asked: often enough that an apiserver restarted by Docker is
/// seen down before it opens its port (about a second on this kind of machine), for 3
/// backends a dozen cheap requests a second.
const INTERVAL: Duration = Duration::from_millis(250);
/// A backend that has not answered within this (stretched on a slow host, `effects::pace`) is
/// not ready (a killed container's address answers nothing at all).
const PROBE_TIMEOUT: Duration = Duration::from_millis(800);

/// Each backend's last answer, shared by the checks and the connections.
pub struct Readiness {
    backends: Vec<IpAddr>,
    ready: Vec<AtomicBool>,
}

impl Readiness {
    /// Every backend counted as ready until its first check says otherwise.
    fn new(backends: &[IpAddr]) -> Self {
        Readiness {
            backends: backends.to_vec(),
            ready: backends.iter().map(|_| AtomicBool::new(true)).collect(),
        }
    }

    /// Records a backend's state; says whether it changed.
    fn set(&self, i: usize, ready: bool) -> bool {
        self.ready[i].swap(ready, Ordering::Relaxed) != ready
    }

    /// A connection to `ip` failed: not ready until its next check says otherwise.
    pub fn unreachable(&self, ip: IpAddr, port: u16) {
        if let Some(i) = self.backends.iter().position(|b| *b == ip)
            && self.set(i, false)
        {
            println!(
                "{} (a connection could not reach it)",
                state_line(ip, port, false)
            );
        }
    }

    pub fn snapshot(&self) -> Vec<bool> {
        self.ready
            .iter()
            .map(|r| r.load(Ordering::Relaxed))
            .collect()
    }
}

/// What the load balancer prints when a backend's state changes (and once for each at its
/// start): `backend 172.30.7.3:6443 ready` or `... not ready`, maybe followed by why. `start`
/// reads these back ([`backend_state`]) to know when a replaced apiserver gets connections again.
pub fn state_line(ip: IpAddr, port: u16, ready: bool) -> String {
    let state = if ready { "ready" } else { "not ready" };
    // An IPv6 backend in brackets, so `backend_state` reads it back.
    format!("backend {} {state}", SocketAddr::from((ip, port)))
}

/// The backend and its state a line of the load balancer's output reports, if it is a
/// [`state_line`].
pub fn backend_state(line: &str) -> Option<(SocketAddr, bool)> {
    let rest = line.trim_end().strip_prefix("backend ")?;
    let (address, state) = rest.split_once(' ')?;
    let address: SocketAddr = address.parse().ok()?;
    if state == "ready" {
        Some((address, true))
    } else if state.starts_with("not ready") {
        Some((address, false))
    } else {
        None
    }
}

/// The order in which a connection tries the backends: the ready ones round robin from `start`,
/// then the others, so a backend that is down is tried only when no ready one answers.
pub fn preference(ready: &[bool], start: usize) -> Vec<usize> {
    let n = ready.len();
    let rotated = (0..n).map(|i| (start + i) % n);
    let (mut first, rest): (Vec<usize>, Vec<usize>) = rotated.partition(|i| ready[*i]);
    first.extend(rest);
    first
}

/// A TLS client that trusts the CA in this PEM file and nothing else.
pub fn tls_config(ca_file: &std::path::Path) -> Result<Arc<ClientConfig>> {
    let pem = std::fs::read(ca_file).with_context(|| format!("reading {}", ca_file.display()))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        roots
            .add(cert.with_context(|| format!("reading a certificate of {}", ca_file.display()))?)
            .with_context(|| format!("trusting {}", ca_file.display()))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS versions")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Asks `GET /readyz` of `ip:port`: ready when it answers 200.
pub async fn probe(config: Arc<ClientConfig>, ip: IpAddr, port: u16) -> bool {
    tokio::time::timeout(crate::effects::pace::scaled(PROBE_TIMEOUT), async {
        let tcp = TcpStream::connect(SocketAddr::from((ip, port)))
            .await
            .ok()?;
        let connector = tokio_rustls::TlsConnector::from(config);
        let name = ServerName::IpAddress(ip.into());
        let mut tls = connector.connect(name, tcp).await.ok()?;
        let host = crate::plan::networking::url_host(ip);
        let request = format!("GET /readyz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        tls.write_all(request.as_bytes()).await.ok()?;
        let mut head = [0u8; 12];
        tls.read_exact(&mut head).await.ok()?;
        Some(head.starts_with(b"HTTP/1.1 200"))
    })
    .await
    .ok()
    .flatten()
    .unwrap_or(false)
}

/// Checks every backend each [`INTERVAL`] in the background; prints each change of a backend's
/// state, so the container's log (with Docker's timestamps) tells when each went and came back.
pub fn spawn_checks(config: Arc<ClientConfig>, backends: &[IpAddr], port: u16) -> Arc<Readiness> {
    let readiness = Arc::new(Readiness::new(backends));
    for (i, ip) in backends.iter().copied().enumerate() {
        let readiness = readiness.clone();
        let config = config.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(INTERVAL);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut first = true;
            loop {
                ticks.tick().await;
                let ready = probe(config.clone(), ip, port).await;
                if readiness.set(i, ready) || first {
                    println!("{}", state_line(ip, port, ready));
                    first = false;
                }
            }
        });
    }
    readiness
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn a_state_line_reads_back_as_its_backend_and_state() {
        let ip: IpAddr = "172.30.7.3".parse().unwrap();
        let at: SocketAddr = "172.30.7.3:6443".parse().unwrap();
        assert_eq!(backend_state(&state_line(ip, 6443, true)), Some((at, true)));
        assert_eq!(
            backend_state(&state_line(ip, 6443, false)),
            Some((at, false))
        );
        let why = format!(
            "{} (a connection could not reach it)\n",
            state_line(ip, 6443, false)
        );
        assert_eq!(backend_state(&why), Some((at, false)));
        assert_eq!(backend_state("listening on 172.30.7.8:6443"), None);
        assert_eq!(backend_state("backend 172.30.7.3:6443 readyish"), None);
    }

    #[test]
    fn ready_backends_come_first_round_robin_then_the_rest() {
        assert_eq!(preference(&[true, true, true], 1), [1, 2, 0]);
        assert_eq!(preference(&[true, false, true], 1), [2, 0, 1]);
        assert_eq!(preference(&[false, false, true], 0), [2, 0, 1]);
        assert_eq!(preference(&[false, false, false], 2), [2, 0, 1]);
    }

    #[test]
    fn a_backend_a_connection_could_not_reach_is_not_ready_until_set_again() {
        let ips: [IpAddr; 2] = [
            Ipv4Addr::new(10, 0, 0, 2).into(),
            Ipv4Addr::new(10, 0, 0, 3).into(),
        ];
        let r = Readiness::new(&ips);
        assert_eq!(r.snapshot(), [true, true]);
        r.unreachable(ips[1], 6443);
        assert_eq!(r.snapshot(), [true, false]);
        // An address that is no backend changes nothing.
        r.unreachable(Ipv4Addr::new(10, 0, 0, 9).into(), 6443);
        assert_eq!(r.snapshot(), [true, false]);
        assert!(r.set(1, true));
        assert!(!r.set(1, true));
        assert_eq!(r.snapshot(), [true, true]);
    }

    #[tokio::test]
    async fn a_backend_that_refuses_or_speaks_no_tls_is_not_ready() {
        let dir = tempfile::tempdir().unwrap();
        let ca = rcgen::generate_simple_self_signed(vec!["x".into()]).unwrap();
        let ca_file = dir.path().join("ca.crt");
        std::fs::write(&ca_file, ca.cert.pem()).unwrap();
        let config = tls_config(&ca_file).unwrap();
        // Nothing listens: refused.
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = free.local_addr().unwrap().port();
        drop(free);
        assert!(!probe(config.clone(), Ipv4Addr::LOCALHOST.into(), port).await);
        // Something listens but answers plain text, not TLS.
        let plain = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = plain.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut s, _) = plain.accept().await.unwrap();
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await;
        });
        assert!(!probe(config, Ipv4Addr::LOCALHOST.into(), port).await);
    }

    /// An HTTPS server on 127.0.0.1 with a certificate of `ca` for that address, answering
    /// every request with `status`.
    async fn https_server(ca: &rcgen::CertifiedKey<rcgen::KeyPair>, status: &'static str) -> u16 {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["127.0.0.1".into()]).unwrap();
        let issuer = rcgen::Issuer::from_ca_cert_der(ca.cert.der(), &ca.signing_key).unwrap();
        let cert = params.signed_by(&key, &issuer).unwrap();
        let server = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls_pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
        )
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let mut tls = acceptor.accept(tcp).await.unwrap();
                    let mut buf = [0u8; 512];
                    let _ = tls.read(&mut buf).await;
                    let answer = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n");
                    let _ = tls.write_all(answer.as_bytes()).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        port
    }

    fn ca() -> rcgen::CertifiedKey<rcgen::KeyPair> {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let signing_key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&signing_key).unwrap();
        rcgen::CertifiedKey { cert, signing_key }
    }

    #[tokio::test]
    async fn ready_only_when_a_server_the_ca_vouches_for_answers_200() {
        let dir = tempfile::tempdir().unwrap();
        let (ours, theirs) = (ca(), ca());
        let ca_file = dir.path().join("ca.crt");
        std::fs::write(&ca_file, ours.cert.pem()).unwrap();
        let config = tls_config(&ca_file).unwrap();
        let ready = https_server(&ours, "200 OK").await;
        assert!(probe(config.clone(), Ipv4Addr::LOCALHOST.into(), ready).await);
        let starting = https_server(&ours, "500 Internal Server Error").await;
        assert!(!probe(config.clone(), Ipv4Addr::LOCALHOST.into(), starting).await);
        let impostor = https_server(&theirs, "200 OK").await;
        assert!(!probe(config, Ipv4Addr::LOCALHOST.into(), impostor).await);
    }
}
