//! The order and patience of `stop`: which of a profile's containers stop together, and how long
//! each gets to exit by itself before Docker kills it.
//!
//! Containers stop in waves, every container of a wave at once (measured: one after another took
//! 11-13 s, the apiserver alone 10 s, killed at the timeout, because the controller-manager and
//! the scheduler still held watches open on it). The apiserver's clients go first, so nothing
//! keeps its connections open when it is asked to stop; etcd goes last, after the apiserver, so no
//! write is under way when it closes its database, and it gets long enough never to be killed.

use crate::plan::names::Role;

/// The waves, in order; a container's wave is the first whose roles hold its role (roles of no
/// wave, such as the registry's, stop in the first).
pub const WAVES: usize = 3;

/// Seconds a container gets after SIGTERM before SIGKILL: etcd's clean shutdown (its WAL and
/// database closed) is worth waiting for; every other component exits within a second or two.
pub const ETCD_STOP_TIMEOUT_SECS: i32 = 60;
pub const STOP_TIMEOUT_SECS: i32 = 10;

/// The wave of a container of this role: 0 for the apiserver's clients (nodes, controller-manager,
/// scheduler, the load balancer controller, which must not make proxies once stopping has begun),
/// 1 for the apiserver and the load balancer proxies (listed afresh once the controller is gone),
/// 2 for etcd.
pub fn wave(role: Role) -> usize {
    match role {
        Role::Etcd => 2,
        // The apiservers' load balancer with them: their clients are gone by then.
        Role::Apiserver | Role::ApiserverLb | Role::LbProxy => 1,
        _ => 0,
    }
}

/// Seconds the container of this role gets to exit after SIGTERM.
pub fn stop_timeout(role: Role) -> i32 {
    match role {
        Role::Etcd => ETCD_STOP_TIMEOUT_SECS,
        _ => STOP_TIMEOUT_SECS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_first_then_the_apiserver_then_etcd() {
        for role in [
            Role::Node,
            Role::ControllerManager,
            Role::Scheduler,
            Role::LbController,
            Role::Registry,
        ] {
            assert_eq!(wave(role), 0, "{role}");
        }
        assert_eq!(wave(Role::Apiserver), 1);
        assert_eq!(
            wave(Role::LbProxy),
            1,
            "proxies after the controller that makes them"
        );
        assert_eq!(wave(Role::Etcd), WAVES - 1);
    }

    #[test]
    fn etcd_gets_the_longest_to_exit() {
        assert!(stop_timeout(Role::Etcd) > stop_timeout(Role::Apiserver));
        assert_eq!(stop_timeout(Role::Node), STOP_TIMEOUT_SECS);
    }
}
