//! The profile's network range against the host's networks and routes, and the apiserver's port.

use ipnet::Ipv4Net;

use super::{Facts, Finding, Intent, Route};

fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// Routes that say something about other tools' ranges: not the default route, and not the
/// bridges of this daemon's networks (`bridges`: checked by name, with better words, or the
/// profile's own). Another daemon's bridges on this host do count.
pub fn foreign_routes<'a>(
    routes: &'a [Route],
    bridges: &'a [&'a str],
) -> impl Iterator<Item = &'a Route> {
    routes
        .iter()
        .filter(move |r| r.destination.prefix_len() > 0 && !bridges.contains(&r.interface.as_str()))
}

fn bridges(facts: &Facts) -> Vec<&str> {
    facts
        .networks
        .iter()
        .map(|n| n.bridge.as_str())
        .chain(facts.own_bridge.as_deref())
        .collect()
}

/// The first candidate clear of every other network and foreign route: the range a new profile
/// takes.
pub fn free_subnet(candidates: &[Ipv4Net], facts: &Facts) -> Option<Ipv4Net> {
    candidates.iter().copied().find(|c| {
        !facts
            .networks
            .iter()
            .flat_map(|n| &n.subnets)
            .any(|s| overlaps(s, c))
            && !foreign_routes(&facts.routes, &bridges(facts)).any(|r| overlaps(&r.destination, c))
    })
}

pub(super) fn network(facts: &Facts, intent: &Intent) -> Vec<Finding> {
    let Some(subnet) = intent.subnet else {
        return match free_subnet(&intent.candidates, facts) {
            Some(free) => vec![Finding::ok(
                "network",
                format!(
                    "the new profile's network will be {free}, clear of {} other Docker \
                     network(s) and the host's routes",
                    facts.networks.len()
                ),
            )],
            None => vec![Finding::block(
                "network",
                "every candidate range for the profile's network (a /24 of 172.30.0.0/16) \
                 overlaps a Docker network or a host route",
                "remove unused Docker networks (`docker network prune`)",
            )],
        };
    };
    let mut findings = Vec::new();
    for n in &facts.networks {
        if let Some(s) = n.subnets.iter().find(|s| overlaps(s, &subnet)) {
            findings.push(Finding::block(
                "network",
                format!(
                    "the profile's network {subnet} overlaps Docker network '{}' ({s}): Docker \
                     refuses to create the profile's network while it exists",
                    n.name
                ),
                format!(
                    "`docker network rm {}` if nothing uses it, or `localkube delete` and start \
                     again (a new profile picks a free range)",
                    n.name
                ),
            ));
        }
    }
    if !facts.daemon.as_ref().is_ok_and(|d| d.local) {
        // The host's routes are not the daemon's.
    } else {
        for r in foreign_routes(&facts.routes, &bridges(facts)) {
            if overlaps(&r.destination, &subnet) {
                findings.push(Finding::block(
                    "network",
                    format!(
                        "the profile's network {subnet} overlaps the host's route to {} via {} \
                         (a VPN or another tool's network): the cluster's addresses or that \
                         network's would be unreachable from this host",
                        r.destination, r.interface
                    ),
                    "`localkube delete` and start again: a new profile picks a range clear of \
                     the host's routes",
                ));
            }
        }
    }
    if findings.is_empty() {
        findings.push(Finding::ok(
            "network",
            format!(
                "the profile's network {subnet} overlaps no other Docker network or host route"
            ),
        ));
    }
    findings
}

pub(super) fn port(facts: &Facts, intent: &Intent) -> Vec<Finding> {
    let Some(port) = intent.apiserver_port else {
        return vec![Finding::ok(
            "port",
            "the apiserver gets a free port on 127.0.0.1 when the profile is created",
        )];
    };
    if facts.apiserver_running {
        return vec![Finding::ok(
            "port",
            format!("127.0.0.1:{port} serves this profile's apiserver"),
        )];
    }
    match facts.port_free {
        Some(false) => vec![Finding::block(
            "port",
            format!(
                "port {port} on 127.0.0.1, where this profile's apiserver is published, is taken \
                 by another program"
            ),
            format!(
                "stop that program (`sudo ss -ltnp 'sport = :{port}'` names it), or `localkube \
                 delete` and start again with another --apiserver-port"
            ),
        )],
        _ => vec![Finding::ok("port", format!("127.0.0.1:{port} is free"))],
    }
}

/// Parses /proc/net/route: destination and mask are little-endian hex.
pub fn parse_routes(text: &str) -> Vec<Route> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let interface = fields.first()?;
            let destination = u32::from_str_radix(fields.get(1)?, 16).ok()?;
            let mask = u32::from_str_radix(fields.get(7)?, 16).ok()?;
            // The kernel prints the address as it lies in memory, read as a native integer.
            let destination = std::net::Ipv4Addr::from(destination.to_le_bytes());
            let prefix = mask.count_ones();
            Some(Route {
                destination: Ipv4Net::new(destination, prefix as u8).ok()?.trunc(),
                interface: interface.to_string(),
            })
        })
        .collect()
}
