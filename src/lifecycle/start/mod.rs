//! `start` as one table of named steps (kind's create actions), [`STEPS`]: each step is a function
//! over one shared context ([`context::StartContext`]), run in the table's order by
//! [`runner::run_steps`] and reported through the Ui. One code path serves a new cluster, a stopped
//! one and a running one with a node added, so a resume repairs whatever a user removed by hand. A
//! failure rolls back, in one place, what this run created ([`created::Created`]): containers,
//! volumes, the network, and a profile folder it made.
//!
//! A new step is one row of [`STEPS`] and one function, in the file of its neighbours;
//! `LOCALKUBE_TEST_FAIL_AT` and the fault tests read the same table.

mod addons;
mod apiserver;
mod before;
mod certificates;
mod containers;
mod context;
mod created;
mod kubeconfig;
mod node_images;
mod nodes;
mod prepare;
mod profile;
mod routes;
mod runner;

use std::time::Duration;

use anyhow::Result;

use crate::effects::home::Home;
use crate::effects::kubeconfig_store;
use crate::effects::lock::lock_profile;
use crate::effects::snapshot::FilesSnapshot;
use crate::lifecycle::addons as lifecycle_addons;
use crate::plan::cluster::ClusterPlan;
use crate::plan::profile_name::ProfileName;
use crate::plan::settings::ClusterSettings;
use crate::ui::Ui;

pub use containers::all_running;
pub use context::StartContext;
pub use created::{Created, Leftovers};
pub(crate) use profile::{free_loopback_port, network_choices};
pub use routes::sync_routes;
pub use runner::{Runs, Step};

/// How long each component gets to become ready before the start fails.
pub const APISERVER_READY_TIMEOUT: Duration = Duration::from_secs(90);
pub const NODE_READY_TIMEOUT: Duration = Duration::from_secs(120);
pub const COREDNS_READY_TIMEOUT: Duration = Duration::from_secs(120);
/// The controller-manager publishes a renewed CA within seconds of starting its controllers.
const CA_PUBLISHED_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a roll-back waits for creates an interruption left under way (they take seconds), on
/// a usual machine: stretched by the pace.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(60);

/// What the user asked for: `start`'s flags, or what `node add` needs.
#[derive(Debug, Clone, Default)]
pub struct StartRequest {
    /// For a new profile; an existing one must already run it.
    pub kubernetes_version: Option<String>,
    /// For a new profile; an existing one must already use it.
    pub apiserver_port: Option<u16>,
    /// Nodes of a new profile (default 1); an existing profile must have as many.
    pub nodes: Option<u32>,
    /// Control-plane members of a new profile (default 1); an existing profile must have as
    /// many (`ProfileConfig::control_planes`).
    pub control_planes: Option<u32>,
    pub cert_validity_days: Option<u32>,
    /// Switch kubectl's current context to the profile.
    pub switch_context: bool,
    /// Plan and write the profile's files, create nothing in Docker.
    pub dry_run: bool,
    /// On failure, keep what this run created, for debugging.
    pub keep_on_failure: bool,
    /// Add one node to the profile's nodes (`node add`).
    pub add_node: bool,
    /// Make new CAs and reissue every certificate (`--renew-ca`); without it, a profile that
    /// holds cluster data never gets a new CA.
    pub renew_ca: bool,
    /// Addons to enable (`--addons a,b`), stored in the profile with its other choices.
    pub addons: Vec<String>,
    /// Pull the images from this registry (`--image-repository`), kept in the profile.
    pub image_repository: Option<String>,
    /// With a registry: build here what it lacks instead of failing.
    pub build_if_missing: bool,
    /// Load the images from this archive (`localkube images save`) first; a new profile then
    /// runs the archive's Kubernetes version unless one is asked for.
    pub images_archive: Option<std::path::PathBuf>,
    /// The profile's settings from a cluster file (`--config`), flags merged over it: they
    /// replace what the profile holds. `None`: the profile's stay.
    pub settings: Option<ClusterSettings>,
    /// Settings from `--extra-config`, `--feature-gates` and `--mount`, merged over the above (or
    /// over the profile's).
    pub settings_overlay: ClusterSettings,
    /// Which kinds of Service answer on localhost (`--localhost`, the file's `localhost:`);
    /// `None`: the profile's stay (every kind, for a new one).
    pub localhost: Option<crate::plan::localhost::Localhost>,
    /// The IP family and ranges of a new profile (`--ip-family`, the file's `networking:`); an
    /// existing profile must already have them.
    pub networking: crate::plan::networking::Networking,
}

impl StartRequest {
    /// The settings a profile ends up with: `current` (an existing profile's), replaced by a
    /// cluster file's, with the flags' merged over them.
    pub fn settings_for(&self, current: Option<&ClusterSettings>) -> ClusterSettings {
        let mut settings = self
            .settings
            .clone()
            .or_else(|| current.cloned())
            .unwrap_or_default();
        settings.overlay(self.settings_overlay.clone());
        settings
    }
}

/// How a start ended.
#[derive(Debug)]
pub enum Outcome {
    Started {
        context: String,
        kubeconfig: std::path::PathBuf,
    },
    /// Every container ran already and was current: nothing was touched but the addons
    /// `--addons` enabled.
    AlreadyRunning {
        context: String,
        kubeconfig: std::path::PathBuf,
        /// Where the user reaches those addons (as `addons enable` prints them).
        addresses: Vec<String>,
    },
    /// `--dry-run`: the plan, with nothing created in Docker.
    Planned(Box<ClusterPlan>),
    /// `--dry-run` of an upgrade (`crate::lifecycle::upgrade`): its phases, nothing changed.
    UpgradePlanned(Box<crate::plan::upgrade::UpgradePlan>),
}

/// The steps of `start`, in order: a name (what `LOCALKUBE_TEST_FAIL_AT` takes and an interruption
/// reports), whether it runs for a cluster that already runs as planned, and its function.
pub const STEPS: &[Step] = &[
    // The profile's settings checked against what its release's components accept, before
    // anything is made (the ProfileConfig step checks them again as it stores them).
    Step {
        name: "Settings",
        runs: Runs::Always,
        run: |c| Box::pin(before::check_settings(c)),
    },
    // What an earlier start's roll-back could not remove, removed before this one checks or
    // makes anything.
    Step {
        name: "Leftovers",
        runs: Runs::Always,
        run: |c| Box::pin(before::remove_leftovers(c)),
    },
    // A paused profile is resumed, not started: Docker cannot start a frozen container.
    Step {
        name: "Unpause",
        runs: Runs::Always,
        run: |c| Box::pin(before::unpause(c)),
    },
    // What this host lacks, said before anything is made or imported.
    Step {
        name: "Preflight",
        runs: Runs::Always,
        run: |c| Box::pin(before::preflight(c)),
    },
    // `--images FILE`: the archive's images loaded, its version for a new profile.
    Step {
        name: "ImageArchive",
        runs: Runs::Always,
        run: |c| Box::pin(before::image_archive(c)),
    },
    // A new profile's settings chosen and written, or an existing one's loaded.
    Step {
        name: "ProfileConfig",
        runs: Runs::UnlessRunning,
        run: |c| Box::pin(profile::profile_config(c)),
    },
    Step {
        name: "Certificates",
        runs: Runs::UnlessRunning,
        run: |c| Box::pin(certificates::certificates(c)),
    },
    Step {
        name: "Kubeconfigs",
        runs: Runs::UnlessRunning,
        run: |c| Box::pin(kubeconfig::component_kubeconfigs(c)),
    },
    // Every container as data; a dry run ends here with the plan.
    Step {
        name: "Plan",
        runs: Runs::UnlessRunning,
        run: |c| Box::pin(prepare::plan(c)),
    },
    // The images there; whether the cluster already runs as planned.
    Step {
        name: "Images",
        runs: Runs::UnlessRunning,
        run: |c| Box::pin(prepare::images(c)),
    },
    // Certificates renewed for an existing cluster reach its components: restaged, and the
    // containers that use them restarted; then every later step runs, waiting for each
    // component again. Nothing to do otherwise.
    Step {
        name: "RenewedCertificates",
        runs: Runs::Always,
        run: |c| Box::pin(certificates::restage_renewed(c)),
    },
    Step {
        name: "NetworkAndVolumes",
        runs: Runs::UnlessRunning,
        run: |c| Box::pin(containers::network_and_volumes(c)),
    },
    // The containers: etcd and the apiserver first (every member's, and with several members
    // their load balancer), then the controller-manager and the nodes (containerd only, kubelet
    // held back), each group at once. Each component retries until the one it needs answers, so
    // none waits for another's container; in the background, the images every node needs are
    // loaded into the nodes meanwhile.
    Step {
        name: "Containers",
        runs: Runs::UnlessRunning,
        run: |c| Box::pin(containers::containers(c)),
    },
    // A wait until the apiserver answers /readyz (a running cluster's too: its containers may
    // run but still be starting, e.g. just after Docker brought them back from a restart).
    Step {
        name: "Apiserver",
        runs: Runs::Always,
        run: |c| Box::pin(apiserver::wait_for_apiserver(c)),
    },
    // The admin's group gets its rights as soon as the apiserver answers, before any step acts
    // as the admin.
    Step {
        name: "AdminGroup",
        runs: Runs::Always,
        run: |c| Box::pin(apiserver::bind_admin_group(c)),
    },
    // New nodes registered with their pod CIDRs and given their CNI configuration; then every
    // node's kubelet and kube-proxy let start (their flags files written).
    Step {
        name: "Kubelets",
        runs: Runs::UnlessRunning,
        run: |c| Box::pin(nodes::kubelets(c)),
    },
    // Each node's labels and taints as the profile's settings give them (a running cluster's
    // too: they change in place), before any pod is scheduled to a new node.
    Step {
        name: "NodeSettings",
        runs: Runs::Always,
        run: |c| Box::pin(nodes::node_settings(c)),
    },
    // The scheduler, once the apiserver answers (after the kubelets, which are on the critical
    // path and only need their flags files written). Started with the others, its informers were
    // refused (the apiserver had not yet made the default RBAC roles) and backed off: it
    // placed the first pods up to 3 s late. The controller-manager waits for the apiserver
    // itself.
    Step {
        name: "Scheduler",
        runs: Runs::UnlessRunning,
        run: |c| Box::pin(containers::scheduler(c)),
    },
    // The enabled addons applied (CoreDNS and the load balancer controller among them, on by
    // default), so their pods are there to schedule the moment a node is Ready.
    Step {
        name: "Addons",
        runs: Runs::UnlessRunning,
        run: |c| Box::pin(addons::addons_step(c)),
    },
    // Each node registered with a pod CIDR, its CNI configuration written, Ready.
    Step {
        name: "Nodes",
        runs: Runs::UnlessRunning,
        run: |c| Box::pin(nodes::nodes(c)),
    },
    Step {
        name: "Routes",
        runs: Runs::UnlessRunning,
        run: |c| Box::pin(routes::sync_routes_step(c)),
    },
    // Every enabled addon serving, waited for all at once.
    Step {
        name: "AddonsServing",
        runs: Runs::UnlessRunning,
        run: |c| Box::pin(addons::addons_serving(c)),
    },
    // The profile's credentials in the user's kubeconfig; sets the outcome.
    Step {
        name: "KubeconfigMerge",
        runs: Runs::Always,
        run: |c| Box::pin(kubeconfig::kubeconfig_merge(c)),
    },
];

/// Runs `start` for a profile: every step in order; on failure, rolls back what this run created.
pub async fn run(
    home: &Home,
    profile: &ProfileName,
    ui: &Ui,
    request: &StartRequest,
) -> Result<Outcome> {
    // Bad test hooks and environment values are refused before anything is touched.
    let fail_at = runner::test_fail_at(
        STEPS,
        std::env::var("LOCALKUBE_TEST_FAIL_AT").ok().as_deref(),
    )?;
    let _lock = lock_profile(home, profile)?;
    let dir = home.profile(profile);
    let profile_files = if dir.exists() {
        Some(FilesSnapshot::take(
            &[dir.config_path()],
            &[dir.pki_dir(), dir.kubeconfigs_dir()],
        )?)
    } else {
        None
    };
    let user_kubeconfig = if request.dry_run {
        None
    } else {
        Some(kubeconfig_store::UserEntriesBefore::take(profile)?)
    };
    let mut ctx = StartContext::new(
        home,
        profile,
        ui,
        request.clone(),
        profile_files,
        user_kubeconfig,
    );
    // Ctrl-C or SIGTERM stops the step under way and rolls back like any failure.
    let mut outcome = runner::run_steps(&mut ctx, STEPS, fail_at, runner::interruption()).await?;
    // A cluster that already ran skipped every step: `--addons` is enabled the way
    // `addons enable` does it.
    if let Outcome::AlreadyRunning { addresses, .. } = &mut outcome {
        for name in &request.addons {
            let changed = lifecycle_addons::change(
                home,
                profile,
                ui,
                name,
                true,
                lifecycle_addons::Lock::Held,
            )
            .await?;
            addresses.extend(changed.addresses);
        }
    }
    Ok(outcome)
}
