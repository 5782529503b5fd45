//! The order of `pause` and `unpause`: which of a profile's containers Docker freezes and thaws
//! together (its cgroup freezer), and what a paused profile is.
//!
//! Every container of the profile is frozen, the load balancer's controller and proxies too: a
//! proxy left running would accept connections for a frozen node and hold them, and a controller
//! left running would spin on timeouts against a frozen apiserver; frozen, they use no CPU and
//! resume with the rest exactly where they were.
//!
//! Thawing goes from the bottom up: etcd, then the apiserver, then the nodes, whose kubelets renew
//! their leases as soon as their overdue timers fire; only then the controller-manager, whose node
//! lifecycle controller would otherwise wake first, see leases as old as the pause, mark the nodes
//! NotReady and take every pod out of its Services' endpoints. Freezing goes the other way round,
//! so no component ever runs while one it depends on is frozen.

use crate::plan::container_state::ContainerState;
use crate::plan::names::Role;

/// The waves of `unpause`, in order (`pause` runs them backwards).
pub const WAVES: usize = 5;

/// The wave after which `unpause` waits for the kubelets' leases (see the module's comment).
pub const NODES_WAVE: usize = 2;

/// The `unpause` wave of a container of this role: 0 etcd, 1 the apiserver, 2 the nodes, 3 the
/// controller-manager and the scheduler, 4 everything else (the load balancer's controller and
/// proxies, addon containers such as the registry).
pub fn unpause_wave(role: Role) -> usize {
    match role {
        Role::Etcd => 0,
        // The apiservers' load balancer with them: the nodes reach them through it.
        Role::Apiserver | Role::ApiserverLb => 1,
        Role::Node => NODES_WAVE,
        Role::ControllerManager | Role::Scheduler => 3,
        _ => LAST_WAVE,
    }
}

/// The `unpause` wave of a container whose role this build does not know: with everything else.
pub const LAST_WAVE: usize = WAVES - 1;

/// The `pause` wave of a container of this role: `unpause`'s backwards.
pub fn pause_wave(role: Role) -> usize {
    WAVES - 1 - unpause_wave(role)
}

/// Whether a profile whose containers have these Docker states is paused: one frozen container is
/// enough (nothing answers through it), so `status` and `profile list` say Paused and other
/// verbs refuse with the fix.
pub fn is_paused(states: impl IntoIterator<Item = ContainerState>) -> bool {
    states.into_iter().any(|s| s == ContainerState::Paused)
}

/// The refusal of a verb that needs the cluster to answer, on a paused profile.
pub fn paused_refusal(profile: &str, verb: &str) -> String {
    format!(
        "profile '{profile}' is paused (its containers are frozen, so nothing would answer \
         `{verb}`): resume it with `localkube unpause -p {profile}`, then run the command again"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpause_thaws_from_etcd_up_and_the_controllers_after_the_nodes() {
        let order = unpause_wave;
        assert!(order(Role::Etcd) < order(Role::Apiserver));
        assert!(order(Role::Apiserver) < order(Role::Node));
        assert!(order(Role::Node) < order(Role::ControllerManager));
        assert_eq!(order(Role::ControllerManager), order(Role::Scheduler));
        assert!(order(Role::Scheduler) < order(Role::LbController));
        assert_eq!(order(Role::LbController), order(Role::LbProxy));
        assert_eq!(order(Role::Registry), WAVES - 1);
        assert_eq!(order(Role::Node), NODES_WAVE);
    }

    #[test]
    fn pause_is_unpause_backwards() {
        for role in Role::ALL {
            assert_eq!(pause_wave(role) + unpause_wave(role), WAVES - 1, "{role}");
        }
        assert_eq!(pause_wave(Role::LbProxy), 0);
        assert_eq!(pause_wave(Role::Etcd), WAVES - 1);
    }

    #[test]
    fn one_frozen_container_makes_the_profile_paused() {
        use ContainerState::{Exited, Paused, Running};
        assert!(is_paused([Running, Paused, Running]));
        assert!(!is_paused([Running, Exited]));
        assert!(!is_paused([]));
    }

    #[test]
    fn the_refusal_names_the_fix() {
        let text = paused_refusal("dev", "kubectl");
        assert!(text.contains("profile 'dev' is paused"), "{text}");
        assert!(text.contains("localkube unpause -p dev"), "{text}");
    }
}
