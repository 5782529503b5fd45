//! localhost as the tutorials use it: a LoadBalancer Service's ports, a NodePort Service's
//! NodePorts and the ingress addon's 80 and 443 also answer on `127.0.0.1` (and `::1`), as on
//! Docker Desktop, beside each LoadBalancer's own loopback address, which stays its EXTERNAL-IP.
//!
//! First come, first served: the proxy of each Service binds the localhost ports it wants and
//! keeps trying those another program (another Service, another profile, anything on the host)
//! holds, so the next Service that wants a port gets it when the holder lets go. The proxy says
//! which it holds in a state line of its log; the controller turns that into one condition per
//! port on the Service (`localkube.dev/localhost-<port>`), which `service`, `tunnel` and the
//! dashboard read.
//!
//! Pure: the settings, which ports a Service asks for, the state line and the conditions' words.
//! A leaf: it imports nothing else of `plan`.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// Which kinds of Service also answer on localhost (cluster file `localhost:`, `start
/// --localhost`). Every kind is on unless the profile turns it off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Localhost {
    /// A LoadBalancer Service's ports on `localhost:PORT`.
    #[serde(default = "on")]
    pub load_balancer: bool,
    /// A NodePort Service's NodePorts on `localhost:NODEPORT`.
    #[serde(default = "on")]
    pub node_port: bool,
    /// The ingress addon's 80 and 443 on `localhost`, so `*.localhost` names and hosts-file
    /// entries for 127.0.0.1 reach Ingress rules.
    #[serde(default = "on")]
    pub ingress: bool,
}

fn on() -> bool {
    true
}

impl Default for Localhost {
    fn default() -> Self {
        Localhost::ALL
    }
}

/// The words `start --localhost` takes, each a kind.
pub const KINDS: [&str; 3] = ["loadbalancer", "nodeport", "ingress"];

impl Localhost {
    pub const ALL: Localhost = Localhost {
        load_balancer: true,
        node_port: true,
        ingress: true,
    };
    pub const NONE: Localhost = Localhost {
        load_balancer: false,
        node_port: false,
        ingress: false,
    };

    pub fn is_default(&self) -> bool {
        *self == Localhost::ALL
    }

    /// `all`, `none`, or a comma-separated list of [`KINDS`]: those on, the others off.
    pub fn parse(text: &str) -> Result<Localhost, String> {
        match text.trim() {
            "all" => return Ok(Localhost::ALL),
            "none" => return Ok(Localhost::NONE),
            _ => {}
        }
        let mut chosen = Localhost::NONE;
        for word in text.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            match word {
                "loadbalancer" => chosen.load_balancer = true,
                "nodeport" => chosen.node_port = true,
                "ingress" => chosen.ingress = true,
                other => {
                    return Err(format!(
                        "'{other}' is not a kind of Service localhost serves: use `all`, `none` or \
                         some of {} separated by commas",
                        KINDS.join(", ")
                    ));
                }
            }
        }
        Ok(chosen)
    }

    /// The kinds on, as `start --localhost` takes them back.
    pub fn describe(&self) -> String {
        let on: Vec<&str> = [
            (self.load_balancer, KINDS[0]),
            (self.node_port, KINDS[1]),
            (self.ingress, KINDS[2]),
        ]
        .into_iter()
        .filter_map(|(on, word)| on.then_some(word))
        .collect();
        if on.is_empty() {
            "none".into()
        } else {
            on.join(",")
        }
    }
}

/// What a Service is, for localhost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceKind {
    LoadBalancer,
    /// The ingress addon's LoadBalancer Service.
    Ingress,
    NodePort,
}

/// A Service's TCP port and its NodePort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PortPair {
    pub port: u16,
    pub node_port: u16,
}

/// The localhost ports a Service asks for, each with the NodePort behind it: a LoadBalancer's
/// (and the ingress's) own ports, a NodePort Service's NodePorts; none for a kind turned off.
/// One entry per localhost port, sorted.
pub fn wanted(kind: ServiceKind, settings: &Localhost, ports: &[PortPair]) -> Vec<PortPair> {
    let on = match kind {
        ServiceKind::LoadBalancer => settings.load_balancer,
        ServiceKind::Ingress => settings.ingress,
        ServiceKind::NodePort => settings.node_port,
    };
    if !on {
        return Vec::new();
    }
    let mut seen = BTreeSet::new();
    let mut out: Vec<PortPair> = ports
        .iter()
        .map(|p| match kind {
            ServiceKind::NodePort => PortPair {
                port: p.node_port,
                node_port: p.node_port,
            },
            _ => *p,
        })
        .filter(|p| p.port != 0 && p.node_port != 0 && seen.insert(p.port))
        .collect();
    out.sort();
    out
}

/// The proxy's state line for its localhost ports starts with this.
pub const STATE_PREFIX: &str = "localhost:";

/// Which localhost ports a proxy holds, and which another program holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalhostState {
    pub serving: BTreeSet<u16>,
    pub held: BTreeSet<u16>,
    /// Given back on purpose (the profile is being paused): neither served nor wanted now.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub released: bool,
}

fn ports_text(ports: &BTreeSet<u16>) -> String {
    if ports.is_empty() {
        "none".into()
    } else {
        ports
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl LocalhostState {
    /// `localhost: serving 80,443; held 8080`, or `localhost: released`.
    pub fn line(&self) -> String {
        if self.released {
            return format!("{STATE_PREFIX} released");
        }
        format!(
            "{STATE_PREFIX} serving {}; held {}",
            ports_text(&self.serving),
            ports_text(&self.held)
        )
    }

    /// The state a line of [`LocalhostState::line`] tells; None for any other line.
    pub fn parse(line: &str) -> Option<LocalhostState> {
        let rest = line.trim().strip_prefix(STATE_PREFIX)?.trim();
        if rest == "released" {
            return Some(LocalhostState {
                released: true,
                ..Default::default()
            });
        }
        let (serving, held) = rest.split_once(';')?;
        let ports = |text: &str, word: &str| -> Option<BTreeSet<u16>> {
            let list = text.trim().strip_prefix(word)?.trim();
            if list == "none" {
                return Some(BTreeSet::new());
            }
            list.split(',').map(|p| p.trim().parse().ok()).collect()
        };
        Some(LocalhostState {
            serving: ports(serving, "serving")?,
            held: ports(held, "held")?,
            released: false,
        })
    }

    /// The newest state line in a log.
    pub fn newest_in(log: &str) -> Option<LocalhostState> {
        log.lines().rev().find_map(LocalhostState::parse)
    }
}

/// Who holds a localhost port a Service wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// Another Service's proxy: its profile and `namespace/name`.
    Service { profile: String, service: String },
    /// Something that is not one of localkube's proxies.
    OtherProgram,
}

/// The type of a Service's condition for one localhost port.
pub fn condition_type(port: u16) -> String {
    format!("localkube.dev/localhost-{port}")
}

/// The localhost port a condition type of [`condition_type`] is about.
pub fn condition_port(condition_type: &str) -> Option<u16> {
    condition_type
        .strip_prefix("localkube.dev/localhost-")?
        .parse()
        .ok()
}

/// The reason of a port served on localhost, and of one another program holds.
pub const REASON_SERVING: &str = "Serving";
pub const REASON_HELD: &str = "PortInUse";

/// What a Service's condition says of a port held by someone else, naming the holder, where the
/// Service answers meanwhile, and that it takes the port when freed.
pub fn held_message(
    port: u16,
    holder: &Holder,
    this_profile: &str,
    own_address: Option<&str>,
) -> String {
    let by = match holder {
        Holder::Service { profile, service } if profile == this_profile => {
            format!("Service {service} of this profile")
        }
        Holder::Service { profile, service } => {
            format!("Service {service} of profile '{profile}'")
        }
        Holder::OtherProgram => "another program on this machine".into(),
    };
    let meanwhile = match own_address {
        Some(address) => format!("this Service answers on {address}:{port} only"),
        None => "this Service answers on its nodes' addresses only".into(),
    };
    format!(
        "localhost:{port} is held by {by}: {meanwhile}, and takes localhost:{port} once it is free"
    )
}

/// What a Service's condition says of a port it serves on localhost.
pub fn serving_message(port: u16) -> String {
    format!("answers on localhost:{port} (127.0.0.1 and ::1)")
}

/// What a Service's condition says of one of its localhost ports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PortCondition {
    pub port: u16,
    /// It answers there; false: another program holds the port (the message names it).
    pub serving: bool,
    pub message: String,
}

/// The localhost conditions of a Service, one per port, as its load balancer wrote them.
pub fn port_conditions(service: &k8s_openapi::api::core::v1::Service) -> Vec<PortCondition> {
    service
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|c| {
            Some(PortCondition {
                port: condition_port(&c.type_)?,
                serving: c.status == "True",
                message: c.message.clone(),
            })
        })
        .collect()
}

/// What a Service's conditions say of the localhost ports another program holds.
pub fn held_messages(service: &k8s_openapi::api::core::v1::Service) -> Vec<String> {
    port_conditions(service)
        .into_iter()
        .filter(|c| !c.serving)
        .map(|c| c.message)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(u16, u16)]) -> Vec<PortPair> {
        list.iter()
            .map(|&(port, node_port)| PortPair { port, node_port })
            .collect()
    }

    #[test]
    fn every_kind_is_on_by_default_and_a_file_may_turn_one_off() {
        assert!(Localhost::default().is_default());
        let off: Localhost = serde_json::from_str(r#"{"nodePort": false}"#).unwrap();
        assert_eq!(
            off,
            Localhost {
                node_port: false,
                ..Localhost::ALL
            }
        );
        assert!(serde_json::from_str::<Localhost>(r#"{"nodeports": false}"#).is_err());
    }

    #[test]
    fn the_flag_names_the_kinds_that_stay_on() {
        assert_eq!(Localhost::parse("none").unwrap(), Localhost::NONE);
        assert_eq!(Localhost::parse("all").unwrap(), Localhost::ALL);
        let some = Localhost::parse("loadbalancer, ingress").unwrap();
        assert!(some.load_balancer && some.ingress && !some.node_port);
        assert_eq!(some.describe(), "loadbalancer,ingress");
        assert_eq!(Localhost::NONE.describe(), "none");
        let e = Localhost::parse("lb").unwrap_err();
        assert!(e.contains("'lb'") && e.contains("nodeport"), "{e}");
    }

    #[test]
    fn a_load_balancer_wants_its_ports_and_a_node_port_service_its_node_ports() {
        let ports = pairs(&[(8080, 31000), (80, 31001)]);
        assert_eq!(
            wanted(ServiceKind::LoadBalancer, &Localhost::ALL, &ports),
            pairs(&[(80, 31001), (8080, 31000)])
        );
        assert_eq!(
            wanted(ServiceKind::NodePort, &Localhost::ALL, &ports),
            pairs(&[(31000, 31000), (31001, 31001)])
        );
        let no_lb = Localhost {
            load_balancer: false,
            ..Localhost::ALL
        };
        assert!(wanted(ServiceKind::LoadBalancer, &no_lb, &ports).is_empty());
        assert_eq!(wanted(ServiceKind::Ingress, &no_lb, &ports).len(), 2);
        // A port asked twice (TCP and UDP of one number reach here as one) is one listener.
        assert_eq!(
            wanted(
                ServiceKind::LoadBalancer,
                &Localhost::ALL,
                &pairs(&[(53, 30053), (53, 30054)])
            ),
            pairs(&[(53, 30053)])
        );
    }

    #[test]
    fn the_state_line_reads_back() {
        let state = LocalhostState {
            serving: [80, 443].into(),
            held: [8080].into(),
            released: false,
        };
        assert_eq!(state.line(), "localhost: serving 80,443; held 8080");
        assert_eq!(LocalhostState::parse(&state.line()), Some(state.clone()));
        let none = LocalhostState::default();
        assert_eq!(none.line(), "localhost: serving none; held none");
        assert_eq!(LocalhostState::parse(&none.line()), Some(none));
        let log = format!(
            "forwarding ...\n{}\nconnection from x: reset\nlocalhost: serving 80; held none\n",
            state.line()
        );
        assert_eq!(
            LocalhostState::newest_in(&log).unwrap().serving,
            BTreeSet::from([80])
        );
        assert!(LocalhostState::parse("localhost: serving 8o; held none").is_none());
        assert!(LocalhostState::parse("serving: 127.0.0.1 port 80").is_none());
        assert!(
            LocalhostState::parse("localhost: released")
                .unwrap()
                .released
        );
    }

    #[test]
    fn a_held_port_names_its_holder_and_where_the_service_answers_meanwhile() {
        let other_profile = Holder::Service {
            profile: "b".into(),
            service: "default/web".into(),
        };
        let m = held_message(8080, &other_profile, "a", Some("127.30.7.3"));
        assert_eq!(
            m,
            "localhost:8080 is held by Service default/web of profile 'b': this Service answers \
             on 127.30.7.3:8080 only, and takes localhost:8080 once it is free"
        );
        let same = Holder::Service {
            profile: "a".into(),
            service: "default/web".into(),
        };
        assert!(held_message(8080, &same, "a", None).contains("of this profile"));
        assert!(held_message(30080, &Holder::OtherProgram, "a", None).contains("another program"));
        assert_eq!(condition_port(&condition_type(30080)), Some(30080));
        assert_eq!(condition_port("Ready"), None);
    }
}
