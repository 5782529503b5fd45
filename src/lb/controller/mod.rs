//! The load balancer controller: watches Services and Nodes, and keeps one proxy container per
//! LoadBalancer service, listening on the service's loopback address, with that address in the
//! service's status (`kubectl get svc` shows it as EXTERNAL-IP). Runs in a container of the
//! profile, so it works with no terminal kept open; there it reaches Docker only through the
//! broker of [`super::runtime`], for this profile's proxies and nothing else.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use bollard::Docker;
use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{Node, Service};
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource};
use serde_json::json;
use tokio::sync::Notify;

mod localhost;

use self::localhost::{LocalhostConditions, localhost_kind};
use super::runtime::{self, Hello, ProxyDocker, Runtime};
use crate::effects::{docker, kube_api};
use crate::plan::config::ProfileConfig;
use crate::plan::container_state::ContainerState;
use crate::plan::load_balancer::{self, LABEL_ADDRESS, LABEL_SERVICE, LABEL_SPEC, LoadBalancer};
use crate::plan::localhost::{self as localhost_plan, LocalhostState, PortPair};
use crate::plan::names::{LABEL_ROLE, Role};
use crate::plan::profile_name::ProfileName;
use crate::plan::service_urls::lb_ingress;

/// Even without a watch event, everything is checked this often (a proxy removed by hand, a
/// host port freed).
const RESYNC: Duration = Duration::from_secs(10);
/// After a proxy was created or started: long enough for it to bind what it can.
const RECHECK: Duration = Duration::from_secs(1);

pub struct Controller {
    profile: ProfileName,
    config: ProfileConfig,
    image: String,
    runtime: Runtime,
    client: Client,
    recorder: Recorder,
    /// The last pass created or started a proxy: the next comes within a second, so the
    /// Service's localhost conditions follow what the new proxy could bind.
    recheck_soon: std::sync::atomic::AtomicBool,
}

/// Runs in this process with the user's own Docker access (the foreground `tunnel`) until
/// SIGTERM or Ctrl-C. With `clean_up`, removes every load balancer of the profile on the way
/// out; the background controller leaves them serving.
pub async fn run(
    profile: ProfileName,
    config: ProfileConfig,
    kubeconfig: &Path,
    image: String,
    clean_up: bool,
) -> Result<()> {
    let docker = retry("connecting to Docker", docker::connect).await;
    let client = retry("loading the kubeconfig", || {
        kube_api::admin_client(kubeconfig)
    })
    .await;
    let runtime = Runtime::Direct(Box::new(ProxyDocker {
        docker,
        profile: profile.clone(),
        config: config.clone(),
        image: image.clone(),
    }));
    run_with(profile, config, client, image, runtime, clean_up).await
}

/// The background controller's container: this process (root) becomes the Docker broker and
/// runs the controller proper as `nobody`, handing it the kubeconfig and settings it cannot
/// read itself over a socket pair. Ends when either ends, so the restart policy restarts both.
pub async fn run_broker(
    profile: ProfileName,
    config: ProfileConfig,
    kubeconfig: &Path,
    image: String,
) -> Result<()> {
    let socket = load_balancer::DOCKER_SOCKET_IN_CONTAINER;
    let docker = retry("connecting to Docker", || async {
        let docker = Docker::connect_with_unix(
            socket,
            crate::effects::docker::call_timeout().as_secs(),
            bollard::API_DEFAULT_VERSION,
        )
        .with_context(|| format!("connecting to {socket}"))?;
        docker
            .ping()
            .await
            .with_context(|| format!("pinging Docker at {socket}"))?;
        Ok(docker)
    })
    .await;
    let hello = Hello {
        profile: profile.to_string(),
        config: config.clone(),
        kubeconfig: std::fs::read_to_string(kubeconfig)
            .with_context(|| format!("reading {}", kubeconfig.display()))?,
        image: image.clone(),
    };
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().context("making a socket pair")?;
    ours.set_nonblocking(true)?;
    let exe = std::env::current_exe().context("finding the localkube binary")?;
    let mut worker = tokio::process::Command::new(exe)
        .args(["lb-controller", "--worker"])
        .uid(load_balancer::CONTROLLER_UID)
        .gid(load_balancer::CONTROLLER_UID)
        .stdin(std::process::Stdio::from(std::os::fd::OwnedFd::from(
            theirs,
        )))
        .kill_on_drop(true)
        .spawn()
        .context("starting the controller as nobody")?;
    let broker = ProxyDocker {
        docker,
        profile,
        config,
        image,
    };
    let stream = tokio::net::UnixStream::from_std(ours)?;
    tokio::select! {
        served = runtime::serve(broker, stream, &hello) => served.context("serving the controller")?,
        status = worker.wait() => anyhow::bail!("the controller exited: {}", status?),
        _ = crate::lb::proxy::shutdown_signal() => {}
    }
    Ok(())
}

/// The controller proper, as `nobody`: its socket to the broker is its standard input.
pub async fn run_worker() -> Result<()> {
    use std::os::fd::AsFd;
    let fd = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .context("taking the broker's socket")?;
    let stream = std::os::unix::net::UnixStream::from(fd);
    stream.set_nonblocking(true)?;
    let (hello, runtime) = runtime::connect(tokio::net::UnixStream::from_std(stream)?).await?;
    let profile = ProfileName::parse(&hello.profile)?;
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&hello.kubeconfig)
        .context("reading the kubeconfig the broker sent")?;
    let mut client_config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
    client_config.connect_timeout = Some(crate::effects::pace::scaled(Duration::from_secs(5)));
    client_config.read_timeout = None;
    let client = Client::try_from(client_config)?;
    run_with(profile, hello.config, client, hello.image, runtime, false).await
}

async fn run_with(
    profile: ProfileName,
    config: ProfileConfig,
    client: Client,
    image: String,
    runtime: Runtime,
    clean_up: bool,
) -> Result<()> {
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "localkube-lb-controller".into(),
            instance: Some(profile.to_string()),
        },
    );
    let controller = Controller {
        profile,
        config,
        image,
        runtime,
        client: client.clone(),
        recorder,
        recheck_soon: Default::default(),
    };
    let changed = Arc::new(Notify::new());
    spawn_watch::<Service>(client.clone(), changed.clone());
    spawn_watch::<Node>(client, changed.clone());
    println!(
        "localkube lb-controller for profile '{}' running",
        controller.profile
    );
    let mut failures: u32 = 0;
    loop {
        match controller.reconcile().await {
            Ok(()) => failures = 0,
            Err(e) => {
                failures = failures.saturating_add(1);
                eprintln!("reconcile: {e:#}");
            }
        }
        // After failed passes, wait longer before the next (0.5 s doubling up to 30 s), so a
        // stream of change notifications cannot turn a lasting failure into a busy loop.
        if failures > 0 {
            tokio::time::sleep(backoff(failures)).await;
        }
        let resync = if controller
            .recheck_soon
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            RECHECK
        } else {
            RESYNC
        };
        tokio::select! {
            _ = changed.notified() => {
                // Let a burst of changes (a service and its endpoints) settle into one pass.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            _ = tokio::time::sleep(resync) => {}
            _ = crate::lb::proxy::shutdown_signal() => break,
        }
    }
    if clean_up {
        controller.remove_all().await?;
    }
    Ok(())
}

/// The pause after `failures` failed passes in a row: 0.5 s doubling, at most 30 s.
fn backoff(failures: u32) -> Duration {
    let millis = 500u64.saturating_mul(1u64 << failures.saturating_sub(1).min(16));
    Duration::from_millis(millis.min(30_000))
}

async fn retry<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    loop {
        match f().await {
            Ok(v) => return v,
            Err(e) => {
                eprintln!("{what}: {e:#}; retrying");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }
}

/// Wakes the loop on every change of a kind of object.
fn spawn_watch<K>(client: Client, changed: Arc<Notify>)
where
    K: Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    tokio::spawn(async move {
        let api: Api<K> = Api::all(client);
        // kube's default backoff: an apiserver that is down is retried with growing pauses, not
        // hammered in a loop.
        let mut stream = watcher(api, watcher::Config::default())
            .default_backoff()
            .boxed();
        while let Some(event) = stream.next().await {
            if event.is_ok() {
                changed.notify_one();
            }
        }
    });
}

/// A proxy container as found in Docker.
struct Existing {
    name: String,
    state: ContainerState,
    service: String,
    address: Option<Ipv4Addr>,
    spec: String,
    problem: Option<String>,
    localhost: Option<LocalhostState>,
}

impl Controller {
    async fn existing_proxies(&self) -> Result<Vec<Existing>> {
        Ok(self
            .runtime
            .list()
            .await?
            .into_iter()
            .filter(|c| {
                c.labels.get(LABEL_ROLE).and_then(|r| Role::parse(r)) == Some(Role::LbProxy)
            })
            .map(|c| Existing {
                service: c.labels.get(LABEL_SERVICE).cloned().unwrap_or_default(),
                address: c.labels.get(LABEL_ADDRESS).and_then(|a| a.parse().ok()),
                spec: c.labels.get(LABEL_SPEC).cloned().unwrap_or_default(),
                name: c.name,
                state: c.state,
                problem: c.problem,
                localhost: c.localhost,
            })
            .collect())
    }

    /// Node addresses to forward to, of every family (`load_balancer::backends_for` picks a
    /// Service's): Ready nodes, or every node while none is Ready.
    async fn backends(&self) -> Result<Vec<IpAddr>> {
        let nodes = Api::<Node>::all(self.client.clone())
            .list(&ListParams::default())
            .await?;
        let addresses = |n: &Node| -> Vec<IpAddr> {
            n.status
                .as_ref()
                .and_then(|s| s.addresses.as_ref())
                .into_iter()
                .flatten()
                .filter(|a| a.type_ == "InternalIP")
                .filter_map(|a| a.address.parse().ok())
                .collect()
        };
        let ready: Vec<IpAddr> = nodes
            .items
            .iter()
            .filter(|n| kube_api::node_is_ready(n))
            .flat_map(addresses)
            .collect();
        Ok(if ready.is_empty() {
            nodes.items.iter().flat_map(addresses).collect()
        } else {
            ready
        })
    }

    async fn reconcile(&self) -> Result<()> {
        let services = Api::<Service>::all(self.client.clone())
            .list(&ListParams::default())
            .await
            .context("listing services")?;
        let backends = self.backends().await?;
        let mut existing: BTreeMap<String, Existing> = self
            .existing_proxies()
            .await?
            .into_iter()
            .map(|e| (e.service.clone(), e))
            .collect();
        let pool = load_balancer::address_pool(&self.config);
        let mut taken: BTreeSet<Ipv4Addr> = existing.values().filter_map(|e| e.address).collect();
        // One service that cannot be served (its status patch refused, say) must not keep the
        // others from theirs: failures are collected and reported after the whole pass.
        let mut failures: Vec<String> = Vec::new();

        // Who holds localhost ports, asked of Docker once per pass and only when a port is held.
        let mut holders: Option<Vec<runtime::LocalhostHolder>> = None;
        let mut changed_proxies = false;

        for service in &services.items {
            let namespace = service.metadata.namespace.clone().unwrap_or_default();
            let name = service.metadata.name.clone().unwrap_or_default();
            let key = format!("{namespace}/{name}");
            let is_lb = crate::plan::service_urls::service_type(service) == "LoadBalancer";
            if !is_lb && let Err(e) = self.clear_status_if_ours(service, &pool, false).await {
                failures.push(format!("{key}: {e:#}"));
            }
            let (ports, unsupported) = load_balancer::service_ports(service);
            let localhost = match localhost_kind(service) {
                Some(kind) => {
                    let pairs: Vec<PortPair> = ports
                        .iter()
                        .map(|p| PortPair {
                            port: p.port,
                            node_port: p.node_port,
                        })
                        .collect();
                    localhost_plan::wanted(kind, &self.config.localhost, &pairs)
                }
                None => Vec::new(),
            };
            if !is_lb && localhost.is_empty() {
                // No proxy for it (one it had is removed below as stale), and no localhost
                // condition left behind.
                if let Err(e) = self
                    .set_localhost_conditions(service, None, &mut holders)
                    .await
                {
                    failures.push(format!("{key}: {e:#}"));
                }
                continue;
            }
            let current = existing.remove(&key);
            let own = current.as_ref().and_then(|c| c.address);
            let Some(address) = load_balancer::assign(&pool, &mut taken, own, ingress_ip(service))
            else {
                self.event(service, EventType::Warning, "AddressPoolExhausted",
                    "every loopback address of this profile is in use; delete a LoadBalancer or NodePort service").await;
                continue;
            };
            if is_lb && !unsupported.is_empty() {
                self.event(
                    service,
                    EventType::Warning,
                    "UnsupportedProtocol",
                    &format!(
                        "localkube's load balancer forwards TCP only; not served: {}",
                        unsupported.join(", ")
                    ),
                )
                .await;
            }
            let state = current
                .as_ref()
                .and_then(|c| self.localhost_state(c, &localhost));
            let lb = LoadBalancer {
                namespace,
                name,
                address,
                ports: if is_lb { ports } else { Vec::new() },
                localhost: localhost
                    .iter()
                    .map(|p| load_balancer::LbPort {
                        port: p.port,
                        node_port: p.node_port,
                    })
                    .collect(),
                backends: load_balancer::backends_for(service, &backends),
            };
            changed_proxies |= self.ensure_proxy(service, &lb, current).await;
            let served_on_localhost = state.as_ref().is_some_and(|s| !s.serving.is_empty());
            if is_lb && let Err(e) = self.set_status(service, address, served_on_localhost).await {
                failures.push(format!("{key}: {e:#}"));
            }
            let own_address =
                is_lb.then(|| load_balancer::ingress_address(&self.config, address).to_string());
            if let Some(state) = &state {
                let wanted: Vec<u16> = localhost.iter().map(|p| p.port).collect();
                let conditions = LocalhostConditions {
                    wanted: &wanted,
                    state,
                    own_address: own_address.as_deref(),
                };
                if let Err(e) = self
                    .set_localhost_conditions(service, Some(conditions), &mut holders)
                    .await
                {
                    failures.push(format!("{key}: {e:#}"));
                }
            }
        }
        self.recheck_soon
            .store(changed_proxies, std::sync::atomic::Ordering::Relaxed);
        // Services deleted, or no longer of type LoadBalancer: their proxies go.
        for stale in existing.values() {
            println!(
                "removing {} (service {} is gone)",
                stale.name, stale.service
            );
            if let Err(e) = self.runtime.remove(&stale.name).await {
                failures.push(format!("{}: {e:#}", stale.name));
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            anyhow::bail!(
                "{} of the pass failed (the rest was done): {}",
                failures.len(),
                failures.join("; ")
            )
        }
    }

    /// Removes every proxy of the profile and the addresses it gave services.
    pub async fn remove_all(&self) -> Result<()> {
        for proxy in self.existing_proxies().await? {
            println!("removing {}", proxy.name);
            self.runtime.remove(&proxy.name).await?;
        }
        let pool = load_balancer::address_pool(&self.config);
        let services = Api::<Service>::all(self.client.clone())
            .list(&ListParams::default())
            .await?;
        for service in &services.items {
            self.clear_status_if_ours(service, &pool, true).await?;
        }
        Ok(())
    }

    /// Makes the service's proxy run as planned; true when it created or started one.
    async fn ensure_proxy(
        &self,
        service: &Service,
        lb: &LoadBalancer,
        current: Option<Existing>,
    ) -> bool {
        let spec = load_balancer::proxy_spec(&self.profile, &self.config, lb, &self.image);
        if lb.ports.is_empty() && lb.localhost.is_empty() {
            if let Some(c) = current {
                let _ = self.runtime.remove(&c.name).await;
            }
            return false;
        }
        let result = match current {
            Some(c) if c.spec == spec.labels[LABEL_SPEC] => {
                if c.state.is_running() {
                    // It retries on its own until the other program lets go; meanwhile the
                    // service says why it is not served.
                    if let Some(problem) = c.problem {
                        eprintln!("{}: not serving: {problem}", lb.service_key());
                        self.event(service, EventType::Warning, "HostPortInUse", &problem)
                            .await;
                    }
                    return false;
                }
                self.runtime.start(&c.name).await
            }
            other => {
                if let Some(c) = other {
                    println!("recreating {} (ports, nodes or image changed)", c.name);
                    let _ = self.runtime.remove(&c.name).await;
                } else {
                    println!("creating {} on {}", spec.name, lb.address);
                }
                self.runtime.create(lb).await
            }
        };
        if let Err(e) = result {
            let text = format!("{e:#}");
            let (reason, note) = if text.contains("address already in use")
                || text.contains("port is already allocated")
            {
                (
                    "HostPortInUse",
                    format!(
                        "another program on this machine holds {}:{}; the load balancer is not serving until it is freed ({text})",
                        load_balancer::ingress_address(&self.config, lb.address),
                        lb.ports
                            .iter()
                            .map(|p| p.port.to_string())
                            .collect::<Vec<_>>()
                            .join(",")
                    ),
                )
            } else {
                ("ProxyFailed", text)
            };
            eprintln!("{}: {note}", lb.service_key());
            self.event(service, EventType::Warning, reason, &note).await;
            return false;
        }
        true
    }

    /// The service's external address, and `localhost` beside it while some of its ports
    /// answer there (as Docker Desktop shows such a Service).
    async fn set_status(
        &self,
        service: &Service,
        address: Ipv4Addr,
        on_localhost: bool,
    ) -> Result<()> {
        let address = load_balancer::ingress_address(&self.config, address);
        let shows_localhost = ingress_hostnames(service).iter().any(|h| h == "localhost");
        if ingress_ip(service) == Some(address) && shows_localhost == on_localhost {
            return Ok(());
        }
        let newly_addressed = ingress_ip(service) != Some(address);
        let api: Api<Service> = Api::namespaced(
            self.client.clone(),
            service.metadata.namespace.as_deref().unwrap_or("default"),
        );
        // ipMode Proxy: traffic to this address goes through the proxy; kube-proxy must not
        // short-circuit it inside the cluster.
        let mut ingress = vec![json!({"ip": address.to_string(), "ipMode": "Proxy"})];
        // Published, the address is 127.0.0.1 already.
        if on_localhost && address != Ipv4Addr::LOCALHOST {
            ingress.push(json!({"hostname": "localhost"}));
        }
        let patch = json!({"status": {"loadBalancer": {"ingress": ingress}}});
        let name = service.metadata.name.as_deref().unwrap_or_default();
        api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .with_context(|| format!("setting the external address of {name}"))?;
        if !newly_addressed {
            return Ok(());
        }
        self.event(
            service,
            EventType::Normal,
            "LoadBalancerReady",
            &format!("serving on {address}"),
        )
        .await;
        Ok(())
    }

    /// A service that stopped being a LoadBalancer (or every service, with `all`) loses the
    /// address this controller gave it.
    async fn clear_status_if_ours(
        &self,
        service: &Service,
        pool: &[Ipv4Addr],
        all: bool,
    ) -> Result<()> {
        let is_lb = crate::plan::service_urls::service_type(service) == "LoadBalancer";
        // Published, every service shows 127.0.0.1: that one is ours too.
        let ours = |ip: Ipv4Addr| {
            pool.contains(&ip) || ip == load_balancer::ingress_address(&self.config, pool[0])
        };
        if (is_lb && !all) || !ingress_ip(service).is_some_and(ours) {
            return Ok(());
        }
        let api: Api<Service> = Api::namespaced(
            self.client.clone(),
            service.metadata.namespace.as_deref().unwrap_or("default"),
        );
        let patch = json!({"status": {"loadBalancer": {"ingress": null}}});
        let name = service.metadata.name.as_deref().unwrap_or_default();
        api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        Ok(())
    }

    async fn event(&self, service: &Service, type_: EventType, reason: &str, note: &str) {
        let event = Event {
            type_,
            reason: reason.into(),
            note: Some(note.into()),
            action: "EnsureLoadBalancer".into(),
            secondary: None,
        };
        if let Err(e) = self
            .recorder
            .publish(&event, &service.object_ref(&()))
            .await
        {
            eprintln!("recording event {reason}: {e}");
        }
    }
}

fn ingress_ip(service: &Service) -> Option<Ipv4Addr> {
    lb_ingress(service)
        .iter()
        .find_map(|i| i.ip.as_ref()?.parse().ok())
}

fn ingress_hostnames(service: &Service) -> Vec<String> {
    lb_ingress(service)
        .iter()
        .filter_map(|i| i.hostname.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_thirty_seconds() {
        assert_eq!(backoff(1), Duration::from_millis(500));
        assert_eq!(backoff(2), Duration::from_secs(1));
        assert_eq!(backoff(4), Duration::from_secs(4));
        assert_eq!(backoff(7), Duration::from_secs(30));
        assert_eq!(backoff(u32::MAX), Duration::from_secs(30));
    }
}
