//! localkube: a launcher for a real, upstream Kubernetes cluster on the local Docker engine.
//!
//! The crate is split the way the work is: `plan` decides what to create and does no I/O (so it is
//! unit-tested exactly), `effects` touches the world (files, Docker, processes), `cli` maps each verb's
//! flags onto the two, and `ui` is the one place that writes progress to the terminal.

pub mod cli;
pub mod dashboard;
pub mod effects;
pub mod lb;
pub mod lifecycle;
pub mod plan;
pub mod ui;
pub mod yaml;
