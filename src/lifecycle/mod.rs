//! Lifecycle of a profile's cluster: the ordered steps of `start` (kind's "actions"), built from
//! the plan and the effects. Each step reports through the Ui; a failed step names itself and the
//! component's last log lines.

pub mod addons;
pub mod cp;
pub mod dashboard;
pub mod delete;
pub mod image;
pub mod images;
pub mod interrupt;
pub mod logs;
pub mod nodes;
pub mod pause;
pub mod preflight;
pub mod profile;
pub mod service;
pub mod snapshot;
pub mod ssh;
pub mod start;
pub mod status;
pub mod stop;
pub mod tunnel;
pub mod upgrade;
