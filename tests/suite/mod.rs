//! Integration tests: the real binary, real tools (openssl, curl, kubectl), real Docker.
pub mod addons;
pub mod bad_inputs;
pub mod cli;
pub mod cluster;
pub mod cluster_network;
pub mod dashboard;
pub mod faults;
pub mod images;
pub mod kubeconfig;
pub mod load_balancer;
pub mod node_image;
pub mod nodes;
pub mod pki;
pub mod restart;
pub mod stop;
pub mod support;
