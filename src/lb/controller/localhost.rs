//! The Services' localhost conditions: one per localhost port, saying whether the Service
//! answers there or who holds the port (`plan::localhost`), from its proxy's state line.

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::EventType;
use serde_json::json;

use super::{Controller, Existing};
use crate::lb::runtime::LocalhostHolder;
use crate::plan::localhost::{self, Holder, LocalhostState, PortPair, ServiceKind};

/// The field manager of the Services' localhost conditions.
const LOCALHOST_FIELD_MANAGER: &str = "localkube-lb-controller";

/// One condition to be: the port, whether it is served, what it says.
type Desired = (u16, bool, String);

impl Controller {
    /// What the proxy of `c` holds of `wanted` on localhost; None while it has not said (a
    /// new proxy) or has given the ports back (a pause). Published, Docker binds them: all of
    /// them while the proxy runs, none while Docker could not start it.
    pub(super) fn localhost_state(
        &self,
        c: &Existing,
        wanted: &[PortPair],
    ) -> Option<LocalhostState> {
        let ports = wanted.iter().map(|p| p.port);
        if !self.config.load_balancer.is_loopback() {
            let mut state = LocalhostState::default();
            if c.state.is_running() && c.problem.is_none() {
                state.serving.extend(ports);
            } else {
                state.held.extend(ports);
            }
            return Some(state);
        }
        c.localhost.clone().filter(|s| !s.released)
    }

    /// One condition per localhost port the Service wants (none: its conditions removed),
    /// written only when they change, with an event for each port that changed.
    pub(super) async fn set_localhost_conditions(
        &self,
        service: &Service,
        plan: Option<LocalhostConditions<'_>>,
        holders: &mut Option<Vec<LocalhostHolder>>,
    ) -> Result<()> {
        let present = localhost_conditions(service);
        let key = format!(
            "{}/{}",
            service.metadata.namespace.as_deref().unwrap_or_default(),
            service.metadata.name.as_deref().unwrap_or_default()
        );
        let mut desired = Vec::new();
        if let Some(plan) = &plan {
            if holders.is_none() && plan.wanted.iter().any(|p| plan.state.held.contains(p)) {
                *holders = Some(self.runtime.holders().await.unwrap_or_else(|e| {
                    eprintln!("finding who holds localhost ports: {e:#}");
                    Vec::new()
                }));
            }
            desired = desired_conditions(
                plan,
                holders.as_deref().unwrap_or_default(),
                self.profile.as_str(),
                &key,
            );
        }
        let same = |c: &Condition, (port, serving, message): &Desired| {
            c.type_ == localhost::condition_type(*port)
                && (c.status == "True") == *serving
                && c.message == *message
        };
        if present.len() == desired.len()
            && desired.iter().all(|d| present.iter().any(|c| same(c, d)))
        {
            return Ok(());
        }
        let now = Time(k8s_openapi::jiff::Timestamp::now());
        let mut conditions = Vec::new();
        for d in &desired {
            let (port, serving, message) = d;
            let type_ = localhost::condition_type(*port);
            let before = present.iter().find(|c| c.type_ == type_);
            let status = if *serving { "True" } else { "False" };
            if !before.is_some_and(|c| same(c, d)) {
                let (kind, reason) = if *serving {
                    (EventType::Normal, "LocalhostReady")
                } else {
                    (EventType::Warning, "LocalhostPortInUse")
                };
                self.event(service, kind, reason, message).await;
            }
            conditions.push(Condition {
                type_,
                status: status.into(),
                reason: if *serving {
                    localhost::REASON_SERVING
                } else {
                    localhost::REASON_HELD
                }
                .into(),
                message: message.clone(),
                // Kept while the status stays, as conditions do.
                last_transition_time: before
                    .filter(|c| c.status == status)
                    .map_or_else(|| now.clone(), |c| c.last_transition_time.clone()),
                observed_generation: service.metadata.generation,
            });
        }
        let name = service.metadata.name.as_deref().unwrap_or_default();
        let api: Api<Service> = Api::namespaced(
            self.client.clone(),
            service.metadata.namespace.as_deref().unwrap_or("default"),
        );
        // Server-side apply of this controller's conditions alone: those of others stay, and
        // ours no longer listed go.
        let patch = json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": service.metadata.namespace},
            "status": {"conditions": conditions},
        });
        api.patch_status(
            name,
            &PatchParams::apply(LOCALHOST_FIELD_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await
        .with_context(|| format!("setting the localhost conditions of {name}"))?;
        Ok(())
    }
}

/// The conditions a Service's localhost ports are to have: served, or held by whoever `holders`
/// says holds them (another Service's proxy, of any profile), else by another program. A port
/// its proxy has not tried yet gets none.
fn desired_conditions(
    plan: &LocalhostConditions<'_>,
    holders: &[LocalhostHolder],
    profile: &str,
    service: &str,
) -> Vec<Desired> {
    let mut desired = Vec::new();
    for &port in plan.wanted {
        if plan.state.serving.contains(&port) {
            desired.push((port, true, localhost::serving_message(port)));
        } else if plan.state.held.contains(&port) {
            let holder = holders
                .iter()
                .find(|h| h.port == port && !(h.profile == profile && h.service == service))
                .map_or(Holder::OtherProgram, |h| Holder::Service {
                    profile: h.profile.clone(),
                    service: h.service.clone(),
                });
            let message = localhost::held_message(port, &holder, profile, plan.own_address);
            desired.push((port, false, message));
        }
    }
    desired
}

/// What a Service is for localhost: a LoadBalancer (the ingress addon's one apart) or a
/// NodePort Service; None for the others.
pub(super) fn localhost_kind(service: &Service) -> Option<ServiceKind> {
    let key = (
        service.metadata.namespace.as_deref().unwrap_or_default(),
        service.metadata.name.as_deref().unwrap_or_default(),
    );
    match crate::plan::service_urls::service_type(service).as_str() {
        "LoadBalancer" if key == crate::plan::addons::INGRESS_SERVICE => Some(ServiceKind::Ingress),
        "LoadBalancer" => Some(ServiceKind::LoadBalancer),
        "NodePort" => Some(ServiceKind::NodePort),
        _ => None,
    }
}

/// The conditions of this controller on a Service: one per localhost port.
fn localhost_conditions(service: &Service) -> Vec<Condition> {
    service
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|c| localhost::condition_port(&c.type_).is_some())
        .collect()
}

/// What a Service's localhost conditions are to say.
pub(super) struct LocalhostConditions<'a> {
    /// Its localhost ports.
    pub wanted: &'a [u16],
    /// What its proxy last said of them.
    pub state: &'a LocalhostState,
    /// Where it answers meanwhile, a LoadBalancer.
    pub own_address: Option<&'a str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_port_names_the_other_service_that_holds_it_never_itself() {
        let state = LocalhostState {
            serving: [80].into(),
            held: [8080, 9090].into(),
            released: false,
        };
        let plan = LocalhostConditions {
            wanted: &[80, 8080, 9090, 7070],
            state: &state,
            own_address: Some("127.30.7.3"),
        };
        let holder = |profile: &str, service: &str, port| LocalhostHolder {
            profile: profile.into(),
            service: service.into(),
            port,
        };
        // The state line of its own proxy says 9090 is served (a moment ago): not its holder.
        let holders = [
            holder("dev", "default/web", 8080),
            holder("dev", "default/late", 9090),
        ];
        let desired = desired_conditions(&plan, &holders, "dev", "default/late");
        assert_eq!(desired.len(), 3, "7070 not tried yet: no condition");
        assert_eq!(desired[0], (80, true, localhost::serving_message(80)));
        assert!(
            desired[1]
                .2
                .contains("held by Service default/web of this profile")
        );
        assert!(!desired[1].1);
        assert!(desired[2].2.contains("another program"), "{}", desired[2].2);
    }
}
