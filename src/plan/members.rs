//! What each member of a control plane of several is doing, read from what the cluster says:
//! etcd's own status of each member (`etcdctl endpoint status -w json`), the `kubernetes`
//! Service's endpoints (each apiserver that serves adds its address), and the controller-manager's
//! and the scheduler's Leases. Pure: the effects gather the texts, this decides the words.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use crate::plan::config::ProfileConfig;
use crate::plan::names::{self, Role};
use crate::plan::profile_name::ProfileName;

/// The Leases of the components that elect a leader, in kube-system.
pub const LEASES: [(Role, &str); 2] = [
    (Role::ControllerManager, "kube-controller-manager"),
    (Role::Scheduler, "kube-scheduler"),
];

/// etcd members that answered `etcdctl endpoint status -w json`: each one's client address and
/// whether it leads. Members that did not answer are not in the list (etcdctl prints those that
/// did, and says the rest on stderr).
pub fn etcd_statuses(output: &str) -> Vec<(Ipv4Addr, bool)> {
    // The JSON is one line; etcdctl's complaints about members that did not answer may surround
    // it.
    let json = output
        .lines()
        .find(|l| l.trim_start().starts_with('['))
        .unwrap_or_default();
    let Ok(serde_json::Value::Array(all)) = serde_json::from_str(json.trim()) else {
        return Vec::new();
    };
    all.iter()
        .filter_map(|s| {
            let endpoint = s["Endpoint"].as_str()?;
            let host = endpoint.strip_prefix("https://")?.split(':').next()?;
            let ip: Ipv4Addr = host.parse().ok()?;
            let member = &s["Status"]["header"]["member_id"];
            let leader = !member.is_null() && s["Status"]["leader"] == *member;
            Some((ip, leader))
        })
        .collect()
}

/// The container that holds a Lease, from its holder identity (`<hostname>_<uuid>`, the
/// hostname being the container's name).
pub fn lease_holder(identity: &str) -> &str {
    identity.split('_').next().unwrap_or_default()
}

/// What the cluster says of the members, gathered by the effects.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Observed {
    /// `None`: no etcd member could be asked.
    pub etcd: Option<Vec<(Ipv4Addr, bool)>>,
    /// The `kubernetes` Service's endpoint addresses; `None`: the API did not answer.
    pub serving_apiservers: Option<BTreeSet<Ipv4Addr>>,
    /// The containers holding the Leases of [`LEASES`], in that order (`None`: unknown).
    pub lease_holders: Vec<Option<String>>,
}

/// One member's component as `status` and `node list` show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MemberHealth {
    pub member: u32,
    pub role: Role,
    pub container: String,
    pub health: String,
}

/// Each member's etcd (leader, follower, not answering), apiserver (serving or not), and
/// controller-manager and scheduler (leader or standby); "unknown" where the cluster could not
/// be asked.
pub fn health(profile: &ProfileName, config: &ProfileConfig, seen: &Observed) -> Vec<MemberHealth> {
    let mut all = Vec::new();
    for member in config.members() {
        for role in Role::CONTROL_PLANE {
            let container = names::member_container(profile, role, member);
            let ip = config.member_ip(role, member);
            let health = match role {
                Role::Etcd => match &seen.etcd {
                    None => "unknown".to_string(),
                    Some(statuses) => match statuses.iter().find(|(a, _)| *a == ip) {
                        Some((_, true)) => "leader".into(),
                        Some((_, false)) => "follower".into(),
                        None => "not answering".into(),
                    },
                },
                Role::Apiserver => match &seen.serving_apiservers {
                    None => "unknown".into(),
                    Some(serving) if serving.contains(&ip) => "serving".into(),
                    Some(_) => "not serving".into(),
                },
                _ => {
                    let i = LEASES
                        .iter()
                        .position(|(r, _)| *r == role)
                        .expect("a lease");
                    match seen.lease_holders.get(i).cloned().flatten() {
                        None => "unknown".into(),
                        Some(holder) if holder == container => "leader".into(),
                        Some(_) => "standby".into(),
                    }
                }
            };
            all.push(MemberHealth {
                member,
                role,
                container,
                health,
            });
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = r#"{"level":"warn","msg":"failed to get the status of endpoint https://172.30.7.20:2379"}
[{"Endpoint":"https://172.30.7.2:2379","Status":{"header":{"member_id":3701},"leader":9001}},{"Endpoint":"https://172.30.7.24:2379","Status":{"header":{"member_id":9001},"leader":9001}}]
Error: context deadline exceeded"#;

    #[test]
    fn etcds_own_status_says_who_leads_and_who_answers() {
        assert_eq!(
            etcd_statuses(STATUS),
            [
                ("172.30.7.2".parse().unwrap(), false),
                ("172.30.7.24".parse().unwrap(), true)
            ]
        );
        assert!(etcd_statuses("Error: context deadline exceeded").is_empty());
        assert_eq!(lease_holder("dev-scheduler-2_5c1e-77"), "dev-scheduler-2");
    }

    #[test]
    fn every_members_component_gets_a_word() {
        let profile = ProfileName::parse("dev").unwrap();
        let mut config = ProfileConfig::new(40123, "172.30.7.0/24".parse().unwrap());
        config.control_planes = 3;
        let seen = Observed {
            etcd: Some(etcd_statuses(STATUS)),
            serving_apiservers: Some(["172.30.7.3".parse().unwrap()].into()),
            lease_holders: vec![Some("dev-controller-manager-3".into()), None],
        };
        let all = health(&profile, &config, &seen);
        assert_eq!(all.len(), 12);
        let word = |c: &str| {
            all.iter()
                .find(|h| h.container == c)
                .unwrap()
                .health
                .as_str()
        };
        assert_eq!(word("dev-etcd"), "follower");
        assert_eq!(word("dev-etcd-2"), "not answering");
        assert_eq!(word("dev-etcd-3"), "leader");
        assert_eq!(word("dev-apiserver"), "serving");
        assert_eq!(word("dev-apiserver-2"), "not serving");
        assert_eq!(word("dev-controller-manager-3"), "leader");
        assert_eq!(word("dev-controller-manager"), "standby");
        assert_eq!(word("dev-scheduler-2"), "unknown");
        let unasked = health(&profile, &config, &Observed::default());
        assert!(unasked.iter().all(|h| h.health == "unknown"), "{unasked:?}");
    }
}
