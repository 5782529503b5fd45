//! Pure planning: what to create, decided from the profile's configuration alone. Nothing here does
//! I/O, so every decision is checked exactly by unit tests.

pub mod addon_choices;
pub mod addons;
pub mod archive;
pub mod audit_log;
pub mod cluster;
pub mod cluster_file;
pub mod config;
pub mod engines;
pub mod image_repository;
pub mod images;
pub mod known_options;
pub mod kubeconfig;
pub mod load_balancer;
pub mod localhost;
pub mod members;
pub mod names;
pub mod node_config;
pub mod nodes;
pub mod pace;
pub mod pause;
pub mod pki;
pub mod preflight;
pub mod profile_name;
pub mod routes;
pub mod service_urls;
pub mod settings;
pub mod shutdown;
pub mod snapshot;
pub mod spec;
pub mod version;
