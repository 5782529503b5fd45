//! What the steps of `start` share: the request, the profile, and what each step leaves for the
//! later ones, filled in table order.

use anyhow::Result;
use bollard::Docker;
use kube::Client;

use super::created::Created;
use super::{Outcome, StartRequest};
use crate::effects::containers;
use crate::effects::home::{Home, ProfileDir};
use crate::effects::kubeconfig_store;
use crate::effects::snapshot::FilesSnapshot;
use crate::plan::cluster::{ClusterPlan, ContainerSpec, HostFacts};
use crate::plan::config::ProfileConfig;
use crate::plan::names::Role;
use crate::plan::profile_name::ProfileName;
use crate::ui::Ui;

/// What the steps share. Fields are filled by the steps that own them, in `STEPS` order.
pub struct StartContext<'a> {
    pub home: &'a Home,
    pub profile: &'a ProfileName,
    pub dir: ProfileDir,
    pub ui: &'a Ui,
    /// What the user asked for; the image archive's row may fill in the version.
    pub request: StartRequest,
    pub(super) config: Option<ProfileConfig>,
    /// The configuration before this run changed it (`node add`), restored on failure.
    pub(super) previous_config: Option<ProfileConfig>,
    pub(super) facts: Option<HostFacts>,
    pub(super) plan: Option<ClusterPlan>,
    pub(super) docker: Option<Docker>,
    pub(super) client: Option<Client>,
    pub(super) created: Created,
    /// Every container runs as planned: the steps that change things are skipped.
    pub(super) already_running: bool,
    pub(super) outcome: Option<Outcome>,
    /// The profile's files (config.yaml, pki, kubeconfigs) before this run, restored on failure.
    pub(super) profile_files: Option<FilesSnapshot>,
    /// The user's kubeconfig before this run: when a failure follows the merge, the profile's own
    /// entries are put back as they were (others' edits made meanwhile stay).
    pub(super) user_kubeconfig: Option<kubeconfig_store::UserEntriesBefore>,
    /// The user's kubeconfig was written by this run (`KubeconfigMerge`).
    pub(super) merged: bool,
    /// Certificates of an existing profile were renewed: its containers get them restaged.
    pub(super) certs_renewed: bool,
    /// The images being loaded into the nodes in the background (`Containers`), awaited
    /// before anything needs them and aborted on failure.
    pub(super) node_images: Option<NodeImages>,
    /// The image tags that load covers.
    pub(super) node_image_tags: Vec<String>,
}

impl<'a> StartContext<'a> {
    /// Nothing filled in yet; the snapshots are what a failure restores.
    pub(super) fn new(
        home: &'a Home,
        profile: &'a ProfileName,
        ui: &'a Ui,
        request: StartRequest,
        profile_files: Option<FilesSnapshot>,
        user_kubeconfig: Option<kubeconfig_store::UserEntriesBefore>,
    ) -> Self {
        StartContext {
            home,
            profile,
            dir: home.profile(profile),
            ui,
            request,
            config: None,
            previous_config: None,
            facts: None,
            plan: None,
            docker: None,
            client: None,
            created: Created::default(),
            already_running: false,
            outcome: None,
            profile_files,
            user_kubeconfig,
            merged: false,
            certs_renewed: false,
            node_images: None,
            node_image_tags: Vec::new(),
        }
    }

    pub(super) fn config(&self) -> &ProfileConfig {
        self.config.as_ref().expect("the profile step runs first")
    }

    pub(super) fn facts(&self) -> &HostFacts {
        self.facts.as_ref().expect("the plan step ran")
    }

    pub(super) fn plan(&self) -> &ClusterPlan {
        self.plan.as_ref().expect("the plan step ran")
    }

    pub(super) fn docker(&self) -> &Docker {
        self.docker
            .as_ref()
            .expect("the images step connects to Docker")
    }

    pub(super) fn client(&self) -> &Client {
        self.client
            .as_ref()
            .expect("the apiserver step makes the client")
    }

    pub(super) fn specs(&self, role: Role) -> Vec<ContainerSpec> {
        self.plan()
            .containers
            .iter()
            .filter(|c| c.role == role)
            .cloned()
            .collect()
    }
}

/// Adds a component's last log lines to the error of a wait for it.
pub(super) trait WithLogs<T> {
    async fn with_logs(self, docker: &Docker, container: &str) -> Result<T>;
}

impl<T> WithLogs<T> for Result<T> {
    async fn with_logs(self, docker: &Docker, container: &str) -> Result<T> {
        match self {
            Ok(value) => Ok(value),
            Err(e) => Err(e.context(component_failed(docker, container).await)),
        }
    }
}

/// The error context for a component that did not become ready: its last log lines.
pub(super) async fn component_failed(docker: &Docker, container: &str) -> String {
    let logs = containers::logs_tail(docker, container, 20).await;
    format!(
        "{container} did not become ready; its last log lines:\n{}",
        logs.trim_end()
    )
}

/// The background load of the nodes' images: first those the pods of `start` run, then the rest.
pub(super) struct NodeImages {
    /// Resolves once the first part is in every node; dropped unsent when the load failed.
    pub(super) needed: Option<tokio::sync::oneshot::Receiver<()>>,
    pub(super) all: tokio::task::JoinHandle<anyhow::Result<()>>,
}
