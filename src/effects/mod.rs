//! Effects: everything that touches the world (files, locks, Docker, processes). Each module is a
//! narrow interface over one kind of effect, so the planning code never needs to know about them.

pub mod browser;
pub mod cluster_file;
pub mod containers;
pub mod docker;
pub mod docker_error;
pub mod drain;
pub mod etcd_snapshot;
pub mod files;
pub mod home;
pub mod host_facts;
pub mod image_build;
pub mod image_registry;
pub mod kube_api;
pub mod kubeconfig_store;
pub mod lb_image;
pub mod lock;
pub mod members;
pub mod node_copy;
pub mod node_images;
pub mod node_shell;
pub mod owned;
pub mod pace;
pub mod pause;
pub mod pki_store;
pub mod registry_auth;
pub mod snapshot;
pub mod snapshot_store;
pub mod staging;
pub mod volume_copy;
