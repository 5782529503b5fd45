//! Integration tests: the generated PKI as the real openssl and curl see it. Every chain verifies
//! with `openssl verify`, and a real TLS handshake with mandatory client certificates succeeds
//! exactly when the client presents a certificate from the right CA and asks for a name in the
//! server's SANs. Servers listen on, and clients connect to, 127.0.0.1 only.

use std::fs;
use std::io::ErrorKind;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use localkube::effects::pki_store;
use localkube::plan::config::ProfileConfig;
use localkube::plan::pki::{self, PkiPlan, Usage};
use localkube::plan::profile_name::ProfileName;

use crate::suite::support::{Sandbox, free_port, stderr, stdout};

pub const PROFILE: &str = "itest";

/// A PKI for profile `itest` with its apiserver published on `port`, generated in `dir`.
pub fn write_pki(dir: &Path, port: u16) -> (ProfileConfig, PkiPlan) {
    let config = ProfileConfig::new(port, "172.30.5.0/24".parse().unwrap());
    let plan = pki::plan(&ProfileName::parse(PROFILE).unwrap(), &config);
    pki_store::ensure_pki(dir, &plan).expect("generate the PKI");
    (config, plan)
}

/// Runs a tool the test needs, failing clearly (never skipping) when it is not installed.
pub fn run_tool(cmd: &mut Command) -> Output {
    let program = cmd.get_program().to_string_lossy().into_owned();
    match cmd.output() {
        Ok(output) => output,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            panic!("`{program}` is not on PATH: this test needs the real {program}")
        }
        Err(e) => panic!("running {program}: {e}"),
    }
}

/// `openssl s_server` serving `cert_stem` on 127.0.0.1:`port`, demanding a client certificate
/// signed by `client_ca_stem`; killed when dropped.
pub struct TlsServer {
    child: Child,
}

impl TlsServer {
    pub fn start(pki_dir: &Path, cert_stem: &str, client_ca_stem: &str, port: u16) -> Self {
        let file = |name: String| pki_dir.join(name);
        let spawned = Command::new("openssl")
            .arg("s_server")
            .arg("-accept")
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(file(pki::cert_file(cert_stem)))
            .arg("-key")
            .arg(file(pki::key_file(cert_stem)))
            .arg("-CAfile")
            .arg(file(pki::cert_file(client_ca_stem)))
            // Upper-case: a client certificate is mandatory, not merely requested; and
            // -verify_return_error fails the handshake on a bad chain (by default s_server only
            // logs it and carries on).
            .args(["-Verify", "1", "-verify_return_error", "-www"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                panic!("`openssl` is not on PATH: this test needs the real openssl")
            }
            Err(e) => panic!("starting openssl s_server: {e}"),
        };
        let mut server = Self { child };
        server.wait_until_listening(port);
        server
    }

    fn wait_until_listening(&mut self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("openssl s_server exited early ({status})");
            }
            assert!(
                Instant::now() < deadline,
                "openssl s_server did not listen on 127.0.0.1:{port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// curl against 127.0.0.1:`port` as `https://<host>:<port>/`, the name pinned to 127.0.0.1.
fn curl(pki_dir: &Path, ca_stem: &str, host: &str, port: u16, client: Option<&str>) -> Output {
    let mut cmd = Command::new("curl");
    cmd.args([
        "--silent",
        "--show-error",
        "--max-time",
        "10",
        "--noproxy",
        "*",
    ])
    .arg("--cacert")
    .arg(pki_dir.join(pki::cert_file(ca_stem)));
    if host != "127.0.0.1" {
        cmd.arg("--resolve").arg(format!("{host}:{port}:127.0.0.1"));
    }
    if let Some(stem) = client {
        cmd.arg("--cert")
            .arg(pki_dir.join(pki::cert_file(stem)))
            .arg("--key")
            .arg(pki_dir.join(pki::key_file(stem)));
    }
    cmd.arg(format!("https://{host}:{port}/"));
    run_tool(&mut cmd)
}

fn describe(output: &Output) -> String {
    format!(
        "{} stdout: {} stderr: {}",
        output.status,
        stdout(output),
        stderr(output)
    )
}

fn openssl_verify(pki_dir: &Path, ca_stem: &str, leaf_stem: &str, purpose: Option<&str>) -> Output {
    let mut cmd = Command::new("openssl");
    cmd.arg("verify")
        .arg("-CAfile")
        .arg(pki_dir.join(pki::cert_file(ca_stem)));
    if let Some(purpose) = purpose {
        cmd.args(["-purpose", purpose]);
    }
    cmd.arg(pki_dir.join(pki::cert_file(leaf_stem)));
    run_tool(&mut cmd)
}

fn pki_dir(sandbox: &Sandbox) -> PathBuf {
    sandbox.path("pki")
}

#[test]
fn openssl_verifies_every_chain_for_its_purpose() {
    let sandbox = Sandbox::new();
    let dir = pki_dir(&sandbox);
    let (_, plan) = write_pki(&dir, free_port());

    for ca in &plan.cas {
        let out = openssl_verify(&dir, &ca.stem, &ca.stem, None);
        assert!(out.status.success(), "{}: {}", ca.stem, describe(&out));
    }
    for leaf in &plan.leaves {
        let issuer = leaf.issuer.as_deref().unwrap();
        let purposes: &[&str] = match leaf.usage {
            Usage::Server => &["sslserver"],
            Usage::Client => &["sslclient"],
            Usage::ServerAndClient => &["sslserver", "sslclient"],
            Usage::Ca => unreachable!("leaves are not CAs"),
        };
        for purpose in purposes {
            let out = openssl_verify(&dir, issuer, &leaf.stem, Some(purpose));
            assert!(
                out.status.success() && stdout(&out).trim_end().ends_with(": OK"),
                "{} against {issuer} for {purpose}: {}",
                leaf.stem,
                describe(&out)
            );
        }
    }
    // The expected issuers, spelled out, and a wrong one refused.
    for (issuer, leaf) in [
        ("etcd/ca", "etcd/server"),
        ("etcd/ca", "etcd/peer"),
        ("etcd/ca", "etcd/healthcheck-client"),
        ("etcd/ca", "apiserver-etcd-client"),
        ("front-proxy-ca", "front-proxy-client"),
        ("ca", "apiserver"),
        ("ca", "kubelet-client-itest"),
        ("ca", "kubelet-serving-itest"),
    ] {
        assert_eq!(plan.spec(leaf).unwrap().issuer.as_deref(), Some(issuer));
    }
    let wrong = openssl_verify(&dir, "ca", "etcd/server", None);
    assert!(!wrong.status.success(), "etcd/server must not chain to ca");
    let wrong = openssl_verify(&dir, "ca", "front-proxy-client", None);
    assert!(
        !wrong.status.success(),
        "front-proxy-client must not chain to ca"
    );
}

#[test]
fn service_account_public_key_is_the_private_keys() {
    let sandbox = Sandbox::new();
    let dir = pki_dir(&sandbox);
    write_pki(&dir, free_port());
    let out = run_tool(
        Command::new("openssl")
            .args(["pkey", "-pubout", "-in"])
            .arg(dir.join("sa.key")),
    );
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        stdout(&out),
        fs::read_to_string(dir.join("sa.pub")).unwrap()
    );
    let out = run_tool(
        Command::new("openssl")
            .args(["ec", "-check", "-noout", "-in"])
            .arg(dir.join("sa.key")),
    );
    assert!(
        out.status.success(),
        "sa.key is an EC key: {}",
        describe(&out)
    );
}

#[test]
fn apiserver_handshake_needs_a_client_cert_and_a_name_in_its_sans() {
    let sandbox = Sandbox::new();
    let dir = pki_dir(&sandbox);
    let port = free_port();
    write_pki(&dir, port);
    let _server = TlsServer::start(&dir, "apiserver", "ca", port);

    for host in [
        "kubernetes.default.svc",
        "127.0.0.1",
        "localhost",
        "itest-apiserver",
    ] {
        let out = curl(&dir, "ca", host, port, Some("admin"));
        assert!(out.status.success(), "{host}: {}", describe(&out));
        assert!(
            stdout(&out).contains("s_server"),
            "{host}: {}",
            describe(&out)
        );
    }

    let out = curl(&dir, "ca", "kubernetes.default.svc", port, None);
    assert!(
        !out.status.success(),
        "no client cert must fail: {}",
        describe(&out)
    );

    // A client certificate from another CA is refused too.
    let out = curl(&dir, "ca", "127.0.0.1", port, Some("apiserver-etcd-client"));
    assert!(
        !out.status.success(),
        "etcd client cert must fail: {}",
        describe(&out)
    );

    let out = curl(&dir, "ca", "wrong.example", port, Some("admin"));
    assert!(!out.status.success(), "a name outside the SANs must fail");
    // 60: the peer certificate cannot be authenticated (the name does not match).
    assert_eq!(out.status.code(), Some(60), "{}", describe(&out));
}

#[test]
fn etcd_handshake_uses_the_etcd_ca_on_both_sides() {
    let sandbox = Sandbox::new();
    let dir = pki_dir(&sandbox);
    write_pki(&dir, free_port());
    let port = free_port();
    let _server = TlsServer::start(&dir, "etcd/server", "etcd/ca", port);

    for client in [
        "apiserver-etcd-client",
        "etcd/healthcheck-client",
        "etcd/peer",
    ] {
        let out = curl(&dir, "etcd/ca", "itest-etcd", port, Some(client));
        assert!(out.status.success(), "{client}: {}", describe(&out));
    }
    let out = curl(&dir, "etcd/ca", "127.0.0.1", port, Some("admin"));
    assert!(
        !out.status.success(),
        "a cluster-CA client must fail: {}",
        describe(&out)
    );
    let out = curl(&dir, "ca", "127.0.0.1", port, Some("apiserver-etcd-client"));
    assert!(
        !out.status.success(),
        "the cluster CA must not trust etcd: {}",
        describe(&out)
    );
}
