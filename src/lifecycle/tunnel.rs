//! `tunnel`: the profile's load balancers, what they serve and why not; and minikube's
//! foreground mode, where the load balancer controller runs in this process until Ctrl-C.

use anyhow::Result;
use serde::Serialize;

use crate::effects::home::Home;
use crate::effects::{containers, docker, kube_api, lb_image};
use crate::plan::load_balancer;
use crate::plan::localhost::{PortCondition, port_conditions};
use crate::plan::names::Role;
use crate::plan::profile_name::ProfileName;
use crate::ui::Ui;

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
    pub localhost: Vec<PortCondition>,
}

/// One row per LoadBalancer service: its address, ports, ready endpoints, and whether its proxy
/// serves (with the reason when it does not, such as a host port taken by another program).
pub async fn rows(home: &Home, profile: &ProfileName) -> Result<Vec<LoadBalancerRow>> {
    let dir = home.profile(profile);
    dir.load_config()?;
    let client = kube_api::admin_client(&dir.admin_kubeconfig()).await?;
    let docker = docker::connect().await?;
    let services = kube_api::list_services(&client, None).await?;
    let ready = kube_api::ready_endpoints(&client, None).await?;
    let proxies: Vec<_> = docker::profile_containers(&docker, profile)
        .await?
        .into_iter()
        .filter(|c| c.role == Some(Role::LbProxy))
        .collect();
    let mut rows = Vec::new();
    for svc in services {
        if crate::plan::service_urls::service_type(&svc) != "LoadBalancer" {
            continue;
        }
        let namespace = svc.metadata.namespace.clone().unwrap_or_default();
        let name = svc.metadata.name.clone().unwrap_or_default();
        let external_address = crate::plan::service_urls::external_ip(&svc);
        let ports = svc
            .spec
            .as_ref()
            .and_then(|s| s.ports.clone())
            .unwrap_or_default()
            .iter()
            .map(|p| format!("{}/{}", p.port, p.protocol.as_deref().unwrap_or("TCP")))
            .collect();
        let container = load_balancer::proxy_container_name(profile, &namespace, &name);
        let state = match proxies.iter().find(|p| p.name == container) {
            Some(p) if p.state.is_running() => {
                match crate::lb::runtime::proxy_problem(&docker, &p.name).await {
                    None => "serving".to_string(),
                    Some(problem) => format!("not serving: {problem}"),
                }
            }
            Some(_) => format!(
                "not serving: {}",
                kube_api::newest_warning(&client, &namespace, &name)
                    .await
                    .unwrap_or_else(|| "its proxy is not running".into())
            ),
            None => "being set up".to_string(),
        };
        rows.push(LoadBalancerRow {
            localhost: port_conditions(&svc),
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

/// Runs the load balancer controller in this process until Ctrl-C, removing the load balancers
/// then; the background controller steps aside meanwhile (`start` brings it back).
pub async fn foreground(home: &Home, profile: &ProfileName, ui: &Ui) -> Result<()> {
    let dir = home.profile(profile);
    let config = dir.load_config()?;
    let facts = dir.host_facts()?;
    let docker = docker::connect().await?;
    lb_image::ensure_lb_image(&docker, &facts.lb_image, &config.kubernetes_version).await?;
    // The background controller steps aside, so the two do not fight over the proxies.
    let controller = format!("{profile}-{}", Role::LbController);
    if let Some(c) = docker::profile_containers(&docker, profile)
        .await?
        .into_iter()
        .find(|c| c.name == controller)
    {
        containers::stop_container(&docker, &c.id, None).await?;
    }
    ui.info(
        "Load balancers now follow this terminal: Ctrl-C removes them \
         (`localkube start` brings back the background controller).",
    );
    crate::lb::controller::run(
        profile.clone(),
        config,
        &dir.admin_kubeconfig(),
        facts.lb_image,
        true,
    )
    .await
}
