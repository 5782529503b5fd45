//! `localkube tunnel`: the load balancers of the profile, and minikube's foreground mode.
//!
//! By default localkube needs no tunnel: the profile's load balancer controller runs in a
//! container and gives every LoadBalancer service its own loopback address, served by a proxy
//! container that binds it with its one capability, so nothing has to stay open and no root is
//! needed. `tunnel` shows what it serves;
//! `tunnel --foreground` runs the controller in this terminal instead, as `minikube tunnel` does,
//! and removes the load balancers on Ctrl-C.

use std::collections::HashMap;

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, ListParams};
use serde::Serialize;

use super::Ctx;
use crate::effects::home::ProfileDir;
use crate::effects::{containers, docker, kube_api, lb_image};
use crate::plan::config::ProfileConfig;
use crate::plan::load_balancer::{self, CONTROLLER_ROLE};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run the load balancer controller in this terminal, like `minikube tunnel`, and remove the
    /// load balancers on Ctrl-C (`localkube start` brings the background controller back).
    #[arg(long)]
    pub foreground: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerRow {
    pub namespace: String,
    pub name: String,
    pub external_address: Option<String>,
    pub ports: Vec<String>,
    pub ready_endpoints: usize,
    pub state: String,
    /// Its ports on localhost: served, or held by another (the message names the holder).
    pub localhost: Vec<LocalhostPort>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalhostPort {
    pub port: u16,
    pub serving: bool,
    pub message: String,
}

/// A Service's localhost ports, as its load balancer's conditions say.
fn localhost_ports(svc: &Service) -> Vec<LocalhostPort> {
    svc.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|c| {
            Some(LocalhostPort {
                port: crate::plan::localhost::condition_port(&c.type_)?,
                serving: c.status == "True",
                message: c.message.clone(),
            })
        })
        .collect()
}

pub fn run(ctx: &Ctx, args: Args) -> Result<u8> {
    let profile = ctx.home.profile(&ctx.profile);
    let config = profile.load_config()?;
    if args.foreground {
        return foreground(ctx, &profile, config);
    }
    let rows = super::block_on(rows(ctx, &profile))??;
    if ctx.json() {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(0);
    }
    if rows.is_empty() {
        ctx.ui.info(
            "No LoadBalancer services. `kubectl expose deployment NAME --type=LoadBalancer --port=PORT` \
             makes one; it gets its own 127.x address within seconds.",
        );
        return Ok(0);
    }
    println!(
        "{:<12} {:<20} {:<16} {:<18} {:<16} {:<10} STATE",
        "NAMESPACE", "NAME", "EXTERNAL-IP", "PORTS", "LOCALHOST", "ENDPOINTS"
    );
    for r in &rows {
        let localhost: Vec<String> = r
            .localhost
            .iter()
            .map(|p| {
                if p.serving {
                    p.port.to_string()
                } else {
                    format!("{}(held)", p.port)
                }
            })
            .collect();
        println!(
            "{:<12} {:<20} {:<16} {:<18} {:<16} {:<10} {}",
            r.namespace,
            r.name,
            r.external_address.as_deref().unwrap_or("<pending>"),
            r.ports.join(","),
            if localhost.is_empty() {
                "-".to_string()
            } else {
                localhost.join(",")
            },
            r.ready_endpoints,
            r.state
        );
    }
    for r in &rows {
        for p in r.localhost.iter().filter(|p| !p.serving) {
            println!("{}/{}: {}", r.namespace, r.name, p.message);
        }
    }
    Ok(0)
}

/// One row per LoadBalancer service: its address, ports, ready endpoints, and whether its proxy
/// serves (with the reason when it does not, such as a host port taken by another program).
pub async fn rows(ctx: &Ctx, profile: &ProfileDir) -> Result<Vec<LoadBalancerRow>> {
    let client = kube_api::admin_client(&profile.admin_kubeconfig()).await?;
    let docker = docker::connect().await?;
    let services = Api::<Service>::all(client.clone())
        .list(&ListParams::default())
        .await
        .context("listing services (is the profile running? `localkube status`)")?;
    let slices = Api::<EndpointSlice>::all(client.clone())
        .list(&ListParams::default())
        .await?;
    let mut ready: HashMap<(String, String), usize> = HashMap::new();
    for slice in slices.items {
        let ns = slice.metadata.namespace.clone().unwrap_or_default();
        let Some(svc) = slice
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("kubernetes.io/service-name").cloned())
        else {
            continue;
        };
        let count = slice
            .endpoints
            .iter()
            .filter(|e| e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(false))
            .count();
        *ready.entry((ns, svc)).or_default() += count;
    }
    let proxies: Vec<_> = docker::profile_containers(&docker, &ctx.profile)
        .await?
        .into_iter()
        .filter(|c| c.role == load_balancer::PROXY_ROLE)
        .collect();
    let mut rows = Vec::new();
    for svc in services.items {
        if crate::plan::service_urls::service_type(&svc) != "LoadBalancer" {
            continue;
        }
        let namespace = svc.metadata.namespace.clone().unwrap_or_default();
        let name = svc.metadata.name.clone().unwrap_or_default();
        let external_address = svc
            .status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|lb| lb.ingress.as_ref())
            .and_then(|i| i.iter().find_map(|i| i.ip.clone()));
        let ports = svc
            .spec
            .as_ref()
            .and_then(|s| s.ports.clone())
            .unwrap_or_default()
            .iter()
            .map(|p| format!("{}/{}", p.port, p.protocol.as_deref().unwrap_or("TCP")))
            .collect();
        let container = load_balancer::proxy_container_name(&ctx.profile, &namespace, &name);
        let state = match proxies.iter().find(|p| p.name == container) {
            Some(p) if p.state.is_running() => {
                match crate::lb::runtime::proxy_problem(&docker, &p.name).await {
                    None => "serving".to_string(),
                    Some(problem) => format!("not serving: {problem}"),
                }
            }
            Some(_) => format!(
                "not serving: {}",
                last_warning(&client, &namespace, &name)
                    .await
                    .unwrap_or_else(|| "its proxy is not running".into())
            ),
            None => "being set up".to_string(),
        };
        rows.push(LoadBalancerRow {
            localhost: localhost_ports(&svc),
            ready_endpoints: ready
                .get(&(namespace.clone(), name.clone()))
                .copied()
                .unwrap_or(0),
            namespace,
            name,
            external_address,
            ports,
            state,
        });
    }
    Ok(rows)
}

/// The newest warning event of the service (a host port in use, say).
async fn last_warning(client: &kube::Client, namespace: &str, name: &str) -> Option<String> {
    let api: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(client.clone(), namespace);
    let list = api
        .list(&ListParams::default().fields(&format!("regarding.name={name},type=Warning")))
        .await
        .ok()?;
    list.items
        .into_iter()
        .max_by_key(|e| {
            e.series
                .as_ref()
                .map(|s| s.last_observed_time.0)
                .or(e.event_time.as_ref().map(|t| t.0))
        })
        .and_then(|e| e.note)
}

fn foreground(ctx: &Ctx, profile: &ProfileDir, config: ProfileConfig) -> Result<u8> {
    let facts = profile.host_facts()?;
    super::block_on(async {
        let docker = docker::connect().await?;
        lb_image::ensure_lb_image(&docker, &facts.lb_image, &config.kubernetes_version).await?;
        // The background controller steps aside, so the two do not fight over the proxies.
        let controller = format!("{}-{CONTROLLER_ROLE}", ctx.profile);
        if let Some(c) = docker::profile_containers(&docker, &ctx.profile)
            .await?
            .into_iter()
            .find(|c| c.name == controller)
        {
            containers::stop_container(&docker, &c.id, None).await?;
        }
        ctx.ui.info(
            "Load balancers now follow this terminal: Ctrl-C removes them \
             (`localkube start` brings back the background controller).",
        );
        crate::lb::controller::run(
            ctx.profile.clone(),
            config,
            &profile.admin_kubeconfig(),
            facts.lb_image,
            true,
        )
        .await?;
        Ok::<u8, anyhow::Error>(0)
    })?
}
