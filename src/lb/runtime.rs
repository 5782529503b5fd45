//! How the load balancer controller reaches Docker: only for the proxies of its own profile.
//!
//! In its container the controller is two processes. The broker (root, PID 1) alone holds the
//! Docker socket, mounted in a folder only root can enter; the controller proper runs as
//! `nobody` without supplementary groups and talks to the broker over a socket pair, one JSON
//! line per request. The broker answers four requests and checks each: list this profile's
//! proxies; create a proxy for a load balancer (the broker builds the container itself, from the
//! profile's own plan, with an address of the profile's pool and backends on its network); start
//! or remove a container that carries this profile's label and the proxy role. A compromised
//! controller can therefore run proxies of its profile and nothing else: no other container, no
//! privileged flag, no host mount (a proxy shares the host's network namespace, but listens only
//! on its pool address and holds no capability but NET_BIND_SERVICE). `tunnel --foreground` runs the controller on the host with the
//! user's own Docker access, through the same checks ([`Runtime::Direct`]).

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use bollard::Docker;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::Mutex;

use crate::effects::{containers, docker};
use crate::plan::config::ProfileConfig;
use crate::plan::container_state::ContainerState;
use crate::plan::load_balancer::{self, LoadBalancer};
use crate::plan::localhost::LocalhostState;
use crate::plan::names::{LABEL_PROFILE, LABEL_ROLE, Role};
use crate::plan::profile_name::ProfileName;

/// A proxy container as Docker reports it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProxyInfo {
    pub name: String,
    pub state: ContainerState,
    pub labels: BTreeMap<String, String>,
    /// Why a running proxy does not serve (another program holds its address and port), from
    /// its own newest state line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// Which localhost ports it holds, and which another program holds, from its own newest
    /// localhost state line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub localhost: Option<LocalhostState>,
}

/// A localhost port held by a proxy of any profile on this daemon: who has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalhostHolder {
    pub profile: String,
    pub service: String,
    pub port: u16,
}

/// How many lines of a proxy's log are read for its state lines (each printed on every change,
/// and again every 30 s while a port is held, so the newest is among them).
const STATE_LOG_LINES: usize = 200;

/// Why a running proxy is not serving, if it says so: the newest state line of its log.
pub async fn proxy_problem(docker: &Docker, name: &str) -> Option<String> {
    problem_in_log(&containers::logs_tail(docker, name, STATE_LOG_LINES).await)
}

/// A running proxy's problem and its localhost ports, from one read of its log.
pub async fn proxy_state(docker: &Docker, name: &str) -> (Option<String>, Option<LocalhostState>) {
    let log = containers::logs_tail(docker, name, STATE_LOG_LINES).await;
    (problem_in_log(&log), LocalhostState::newest_in(&log))
}

/// Every localhost port a running load balancer proxy of any profile holds on this daemon:
/// read only (labels and logs), to name the holder of a port a Service waits for.
pub async fn localhost_holders(docker: &Docker) -> Result<Vec<LocalhostHolder>> {
    let mut holders = Vec::new();
    for c in docker::containers_with_role(docker, Role::LbProxy).await? {
        if !c.state.is_running() {
            continue;
        }
        let label = |key: &str| c.labels.get(key).cloned().unwrap_or_default();
        let Some(state) = LocalhostState::newest_in(
            &containers::logs_tail(docker, &c.name, STATE_LOG_LINES).await,
        ) else {
            continue;
        };
        for port in state.serving {
            holders.push(LocalhostHolder {
                profile: label(LABEL_PROFILE),
                service: label(load_balancer::LABEL_SERVICE),
                port,
            });
        }
    }
    Ok(holders)
}

fn problem_in_log(log: &str) -> Option<String> {
    use crate::lb::proxy::{NOT_SERVING, SERVING};
    let state = log
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with(SERVING) || l.starts_with(NOT_SERVING))?;
    state
        .strip_prefix(NOT_SERVING)
        .map(|why| why.trim().to_string())
}

/// What the controller may ask of Docker.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Request {
    List,
    Create {
        lb: LoadBalancer,
    },
    Start {
        name: String,
    },
    Remove {
        name: String,
    },
    /// Who holds localhost ports (read only, every profile's proxies).
    Holders,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Response {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    proxies: Vec<ProxyInfo>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    holders: Vec<LocalhostHolder>,
}

/// What the broker answers: proxies, or holders.
#[derive(Debug, Default)]
pub struct Answer {
    pub proxies: Vec<ProxyInfo>,
    pub holders: Vec<LocalhostHolder>,
}

impl From<Vec<ProxyInfo>> for Answer {
    fn from(proxies: Vec<ProxyInfo>) -> Self {
        Answer {
            proxies,
            holders: Vec::new(),
        }
    }
}

/// What the broker tells the controller first: everything it needs that only root can read.
#[derive(Debug, Serialize, Deserialize)]
pub struct Hello {
    pub profile: String,
    pub config: ProfileConfig,
    pub kubeconfig: String,
    pub image: String,
}

/// Docker, limited to one profile's proxies: every operation is checked here.
#[derive(Clone)]
pub struct ProxyDocker {
    pub docker: Docker,
    pub profile: ProfileName,
    pub config: ProfileConfig,
    pub image: String,
}

impl ProxyDocker {
    pub async fn handle(&self, request: Request) -> Result<Answer> {
        match request {
            Request::List => {
                let mut proxies = self.list().await?;
                for p in &mut proxies {
                    if p.state.is_running() {
                        (p.problem, p.localhost) = proxy_state(&self.docker, &p.name).await;
                    }
                }
                Ok(proxies.into())
            }
            Request::Holders => Ok(Answer {
                proxies: Vec::new(),
                holders: localhost_holders(&self.docker).await?,
            }),
            Request::Create { lb } => {
                load_balancer::check_request(&self.config, &lb).map_err(anyhow::Error::msg)?;
                let existing: Vec<(String, String)> = self
                    .list()
                    .await?
                    .into_iter()
                    .map(|p| {
                        let label = |key| p.labels.get(key).cloned().unwrap_or_default();
                        (
                            label(load_balancer::LABEL_SERVICE),
                            label(load_balancer::LABEL_ADDRESS),
                        )
                    })
                    .collect();
                load_balancer::check_capacity(&self.config, &existing, &lb)
                    .map_err(anyhow::Error::msg)?;
                let spec = load_balancer::proxy_spec(&self.profile, &self.config, &lb, &self.image);
                containers::create_and_start(&self.docker, &spec).await?;
                Ok(Answer::default())
            }
            Request::Start { name } => {
                self.check_proxy(&name).await?;
                containers::start_existing(&self.docker, &name).await?;
                Ok(Answer::default())
            }
            Request::Remove { name } => {
                self.check_proxy(&name).await?;
                let owner = crate::effects::owned::Owner::profile(&self.profile);
                containers::remove_container(&self.docker, &name, &owner).await?;
                Ok(Answer::default())
            }
        }
    }

    async fn list(&self) -> Result<Vec<ProxyInfo>> {
        Ok(docker::profile_containers(&self.docker, &self.profile)
            .await?
            .into_iter()
            .filter(|c| c.role == Some(Role::LbProxy))
            .map(|c| ProxyInfo {
                name: c.name,
                state: c.state,
                labels: c.labels.into_iter().collect(),
                problem: None,
                localhost: None,
            })
            .collect())
    }

    /// Only a container with this profile's label and the proxy role may be started or removed.
    async fn check_proxy(&self, name: &str) -> Result<()> {
        let found = self.list().await?;
        let ok = found.iter().any(|c| {
            c.name == name
                && c.labels.get(LABEL_PROFILE).map(String::as_str) == Some(self.profile.as_str())
                && c.labels.get(LABEL_ROLE).and_then(|r| Role::parse(r)) == Some(Role::LbProxy)
        });
        if !ok {
            bail!(
                "'{name}' is not a load balancer proxy of profile '{}': refused",
                self.profile
            );
        }
        Ok(())
    }
}

/// The controller's way to Docker.
pub enum Runtime {
    /// In this process (the foreground `tunnel`, on the host).
    Direct(Box<ProxyDocker>),
    /// Through the broker that holds the socket (the background controller).
    Broker(Mutex<(BufReader<OwnedReadHalf>, OwnedWriteHalf)>),
}

impl Runtime {
    pub fn broker(reader: BufReader<OwnedReadHalf>, writer: OwnedWriteHalf) -> Self {
        Runtime::Broker(Mutex::new((reader, writer)))
    }

    async fn ask(&self, request: Request) -> Result<Answer> {
        match self {
            Runtime::Direct(docker) => docker.handle(request).await,
            Runtime::Broker(conn) => {
                let mut conn = conn.lock().await;
                let (reader, writer) = &mut *conn;
                let mut line = serde_json::to_string(&request)?;
                line.push('\n');
                writer
                    .write_all(line.as_bytes())
                    .await
                    .context("asking the Docker broker")?;
                let mut answer = String::new();
                if reader.read_line(&mut answer).await? == 0 {
                    bail!("the Docker broker is gone");
                }
                let response: Response =
                    serde_json::from_str(&answer).context("reading the Docker broker's answer")?;
                match response.error {
                    Some(error) => bail!("{error}"),
                    None => Ok(Answer {
                        proxies: response.proxies,
                        holders: response.holders,
                    }),
                }
            }
        }
    }

    pub async fn list(&self) -> Result<Vec<ProxyInfo>> {
        Ok(self.ask(Request::List).await?.proxies)
    }

    pub async fn holders(&self) -> Result<Vec<LocalhostHolder>> {
        Ok(self.ask(Request::Holders).await?.holders)
    }

    pub async fn create(&self, lb: &LoadBalancer) -> Result<()> {
        self.ask(Request::Create { lb: lb.clone() }).await.map(drop)
    }

    pub async fn start(&self, name: &str) -> Result<()> {
        self.ask(Request::Start { name: name.into() })
            .await
            .map(drop)
    }

    pub async fn remove(&self, name: &str) -> Result<()> {
        self.ask(Request::Remove { name: name.into() })
            .await
            .map(drop)
    }
}

/// The broker's side: sends `hello`, then answers requests one line at a time until the
/// controller closes its end.
/// The longest request line the broker reads: a create names a service, an address, at most
/// `MAX_PORTS` ports and `MAX_NODES` backends, well under this.
pub const MAX_REQUEST_BYTES: usize = 16 * 1024;

/// One request line from the controller, which runs as nobody and is not trusted: too long or
/// not a request is an error the broker answers, never a panic.
pub fn parse_request(line: &str) -> std::result::Result<Request, String> {
    if line.len() > MAX_REQUEST_BYTES {
        return Err(format!(
            "not a request: {} bytes, more than {MAX_REQUEST_BYTES}",
            line.len()
        ));
    }
    serde_json::from_str::<Request>(line).map_err(|e| format!("not a request: {e}"))
}

pub async fn serve(docker: ProxyDocker, stream: UnixStream, hello: &Hello) -> Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = serde_json::to_string(hello)?;
    line.push('\n');
    write.write_all(line.as_bytes()).await?;
    let mut reader = BufReader::new(read);
    loop {
        // At most one byte more than a request may have: a longer line is never held whole.
        let mut bytes = Vec::new();
        let read = (&mut reader)
            .take(MAX_REQUEST_BYTES as u64 + 1)
            .read_until(b'\n', &mut bytes)
            .await?;
        if read == 0 {
            break;
        }
        if bytes.len() > MAX_REQUEST_BYTES {
            bail!("the controller sent a request longer than {MAX_REQUEST_BYTES} bytes");
        }
        let line = String::from_utf8_lossy(&bytes);
        let line = line.trim_end_matches('\n');
        let response = match parse_request(line) {
            Ok(request) => match docker.handle(request).await {
                Ok(answer) => Response {
                    error: None,
                    proxies: answer.proxies,
                    holders: answer.holders,
                },
                Err(e) => Response {
                    error: Some(format!("{e:#}")),
                    ..Default::default()
                },
            },
            Err(e) => Response {
                error: Some(e),
                ..Default::default()
            },
        };
        let mut text = serde_json::to_string(&response)?;
        text.push('\n');
        write.write_all(text.as_bytes()).await?;
    }
    Ok(())
}

/// The controller's side of the socket: the broker's hello, then the runtime for requests.
pub async fn connect(stream: UnixStream) -> Result<(Hello, Runtime)> {
    let (read, write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut line = String::new();
    if reader.read_line(&mut line).await? == 0 {
        bail!("the Docker broker closed the socket before its hello");
    }
    let hello: Hello = serde_json::from_str(&line).context("reading the broker's hello")?;
    Ok((hello, Runtime::broker(reader, write)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_state_line_tells_the_problem() {
        let held = "forwarding 127.30.7.3 port 8082 to NodePort 31000 on [172.30.7.10]\n\
                    not serving: another program on this machine holds 127.30.7.3:8082 (in use)\n\
                    connection from 127.0.0.1:5000: no node answered\n";
        assert_eq!(
            problem_in_log(held).as_deref(),
            Some("another program on this machine holds 127.30.7.3:8082 (in use)")
        );
        let freed = format!("{held}serving: 127.30.7.3 port 8082\n");
        assert_eq!(problem_in_log(&freed), None);
        assert_eq!(problem_in_log(""), None);
    }

    /// The fuzzer's seeds are requests the broker takes, and its create passes the checks.
    #[test]
    fn the_fuzzers_broker_seeds_are_requests() {
        let config = ProfileConfig::new(40123, "172.30.7.0/24".parse().unwrap());
        for seed in [
            include_str!("../../fuzz/seeds/broker_request/create.json"),
            include_str!("../../fuzz/seeds/broker_request/list.json"),
            include_str!("../../fuzz/seeds/broker_request/remove.json"),
        ] {
            let request = parse_request(seed.trim()).unwrap();
            if let Request::Create { lb } = request {
                load_balancer::check_request(&config, &lb).unwrap();
            }
        }
    }

    #[test]
    fn a_request_that_is_too_long_or_not_one_is_an_answer_not_a_panic() {
        assert!(matches!(
            parse_request(r#"{"op":"list"}"#),
            Ok(Request::List)
        ));
        let long = format!(
            r#"{{"op":"remove","name":"{}"}}"#,
            "x".repeat(MAX_REQUEST_BYTES)
        );
        assert!(parse_request(&long).unwrap_err().contains("more than"));
        for bad in [
            "",
            "{",
            "null",
            r#"{"op":"create"}"#,
            r#"{"op":"format-disk"}"#,
        ] {
            assert!(
                parse_request(bad).unwrap_err().starts_with("not a request"),
                "{bad}"
            );
        }
    }
}
