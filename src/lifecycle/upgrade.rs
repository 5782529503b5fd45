//! `start --kubernetes-version V` on a running profile of an older release: the upgrade in place.
//! The plan (which changes the skew policy allows, the phases in kubeadm's order) is
//! `plan::upgrade`'s; this module runs it.
//!
//! Before it changes anything, the upgrade makes sure the new release's images are there and takes
//! the snapshot `pre-upgrade-<from>`. Then each phase replaces one container with the release's
//! (etcd's and the nodes' volumes kept), waiting until it serves before the next; a node is
//! cordoned and drained first (evictions that honour PodDisruptionBudgets) and uncordoned once
//! Ready. Any failure, Ctrl-C or SIGTERM from the snapshot on restores the snapshot: the profile
//! is back on its release, with its objects and volumes as they were when the upgrade began.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bollard::Docker;
use kube::Client;

use crate::effects::containers::{self, container_state};
use crate::effects::home::Home;
use crate::effects::lock::lock_profile;
use crate::effects::snapshot::FilesSnapshot;
use crate::effects::snapshot_store::Store;
use crate::effects::{docker, drain, image_registry, kube_api, lb_image, node_images, staging};
use crate::lifecycle::addons as lifecycle_addons;
use crate::lifecycle::start::{self, Outcome, StartRequest};
use crate::lifecycle::{interrupt, snapshot};
use crate::plan::cluster::{self, ClusterPlan, ContainerSpec, HostFacts};
use crate::plan::config::ProfileConfig;
use crate::plan::container_state::ContainerState;
use crate::plan::images::Image;
use crate::plan::names;
use crate::plan::profile_name::ProfileName;
use crate::plan::upgrade::{self as plan, EtcdVersions, Phase, PhaseKind, UpgradePlan};
use crate::plan::{addons, node_config, profile_state};
use crate::ui::Ui;

/// How long a replaced component gets to serve, on a usual machine (stretched by the pace).
const COMPONENT_READY_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a node's drain may take: pods whose budget never allows their eviction fail the
/// upgrade (which then restores the snapshot) rather than be deleted.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(180);

/// `start` as the verb runs it: an existing profile asked for another release is upgraded in
/// place (or refused, as the skew policy says); anything else is started. The upgrade runs
/// `start` itself for its last part, so the choice is made here rather than in `start`.
pub async fn start_or_upgrade(
    home: &Home,
    profile: &ProfileName,
    ui: &Ui,
    request: &StartRequest,
) -> Result<Outcome> {
    match requested(home, profile, request).await? {
        Some(upgrade) => run(home, profile, ui, request, upgrade).await,
        None => start::run(home, profile, ui, request).await,
    }
}

/// The upgrade a start asks for, if it asks for one: an existing profile and another release.
/// A change the skew policy forbids, an upgrade mixed with other changes, or a profile an upgrade
/// cannot take yet is refused here, before anything is touched.
pub async fn requested(
    home: &Home,
    profile: &ProfileName,
    request: &StartRequest,
) -> Result<Option<UpgradePlan>> {
    let dir = home.profile(profile);
    let Some(to) = &request.kubernetes_version else {
        return Ok(None);
    };
    if !dir.exists() || request.add_node {
        return Ok(None);
    }
    let config = dir.load_config()?;
    // The snapshot an upgrade from `to` took, which a downgrade to `to` can restore.
    let way_back_kept = Store::new(home)
        .existing(profile, &plan::snapshot_name(to))
        .is_ok();
    let Some(change) = plan::check(profile, &config.kubernetes_version, to, way_back_kept)
        .map_err(anyhow::Error::msg)?
    else {
        return Ok(None);
    };
    let others = other_changes(request, &config);
    if !others.is_empty() {
        bail!(
            "an upgrade changes the release alone, and this start also asks for {}: run `start` \
             with those before or after the upgrade; nothing was changed",
            others.join(", ")
        );
    }
    if config.is_ha() {
        bail!(
            "profile '{profile}' has {} control-plane members: an upgrade first takes a snapshot \
             to come back to, and snapshots hold one etcd member, so upgrading several members is \
             not supported yet; nothing was changed (start a profile of {to} beside it)",
            config.control_planes
        );
    }
    // Read from the images when they are there (a dry run builds nothing).
    let etcd = match docker::connect().await {
        Ok(docker) => etcd_versions(&docker, &config.kubernetes_version, to).await,
        Err(_) => None,
    };
    Ok(Some(plan::plan(
        profile,
        &config,
        to,
        change,
        etcd.as_ref(),
    )))
}

/// What else a start asks for beside the release.
fn other_changes(request: &StartRequest, config: &ProfileConfig) -> Vec<&'static str> {
    let mut others = Vec::new();
    let differs = |asked: Option<u32>, has: u32| asked.is_some_and(|a| a != has);
    if differs(request.nodes, config.nodes.count()) {
        others.push("--nodes");
    }
    if differs(request.control_planes, config.control_planes) {
        others.push("--control-planes");
    }
    if request
        .apiserver_port
        .is_some_and(|p| p != config.apiserver_port)
    {
        others.push("--apiserver-port");
    }
    // A cluster file that says what the profile holds (its release aside) changes nothing else.
    if request.settings_for(Some(&config.settings)) != config.settings {
        others.push("settings (--config, --extra-config, --feature-gates, --mount)");
    }
    if !request.addons.is_empty() {
        others.push("--addons");
    }
    if request.renew_ca {
        others.push("--renew-ca");
    }
    if request.images_archive.is_some() || request.image_repository.is_some() {
        others.push("another image source (--images, --image-repository)");
    }
    if request.localhost.is_some_and(|l| l != config.localhost) {
        others.push("--localhost");
    }
    others
}

/// etcd's version in each release's etcd image, when both images are there.
async fn etcd_versions(docker: &Docker, from: &str, to: &str) -> Option<EtcdVersions> {
    let of = |version: &str| {
        let tag = names::image(Image::Etcd.name(), version);
        async move {
            containers::image_label(docker, &tag, crate::plan::images::LABEL_COMPONENT_VERSION)
                .await
        }
    };
    Some(EtcdVersions {
        from: of(from).await?,
        to: of(to).await?,
    })
}

/// Runs the upgrade `plan` (a dry run returns it). On success the profile runs `plan.to`; on
/// failure the pre-upgrade snapshot is restored and the error says so.
pub async fn run(
    home: &Home,
    profile: &ProfileName,
    ui: &Ui,
    request: &StartRequest,
    plan: UpgradePlan,
) -> Result<Outcome> {
    if request.dry_run {
        return Ok(Outcome::UpgradePlanned(Box::new(plan)));
    }
    let fail_at = plan::test_fail_at(&plan, std::env::var(plan::TEST_FAIL_AT_ENV).ok().as_deref())
        .map_err(anyhow::Error::msg)?;
    let began = Instant::now();
    // The host checks `start` makes (free disk among them) are made now, before anything
    // changes: the upgrade ends with a `start`, and the snapshot's restore starts the profile too.
    let intent = crate::lifecycle::preflight::intent(
        home,
        profile,
        request.nodes,
        request.apiserver_port,
        false,
        request.networking.ip_family,
    );
    crate::lifecycle::preflight::before_start(home, profile, ui, &intent).await?;
    let dir = home.profile(profile);
    let (config, target, facts, docker, plan) = {
        let _lock = lock_profile(home, profile)?;
        let config = dir.load_config()?;
        let docker = docker::connect().await?;
        check_running(&docker, profile, &config).await?;
        let mut target = config.clone();
        target.kubernetes_version = plan.to.clone();
        let facts = dir.host_facts()?;
        // Everything the new release runs is there before anything changes: a build that fails
        // leaves the profile untouched.
        image_registry::ensure_cluster_images(
            &docker,
            home.cache(),
            &target,
            request.build_if_missing,
            ui,
        )
        .await?;
        lb_image::ensure_lb_image(&docker, &facts.lb_image, &target.kubernetes_version).await?;
        let enabled = target.addons.enabled_addons();
        lifecycle_addons::build_images(&docker, home, &target, &enabled, ui).await?;
        // The etcd versions are known now that both releases' images are there.
        let etcd = etcd_versions(&docker, &config.kubernetes_version, &plan.to).await;
        let plan = plan::plan(profile, &config, &plan.to, plan.change, etcd.as_ref());
        (config, target, facts, docker, plan)
    };
    ui.info(format!(
        "Upgrading profile '{profile}' from Kubernetes {} to {}: {} phases after the snapshot \
         '{}'.",
        plan.from,
        plan.to,
        plan.phases.len(),
        plan.snapshot
    ));
    // Each part's time, printed at the end: the checks and images first.
    let mut times: Vec<(String, Duration)> = vec![("checks and images".into(), began.elapsed())];
    let taken = Instant::now();
    take_snapshot(home, profile, &plan.snapshot, ui).await?;
    times.push(("snapshot".into(), taken.elapsed()));

    let lock = lock_profile(home, profile)?;
    let files = FilesSnapshot::take(
        &[dir.config_path()],
        &[dir.pki_dir(), dir.kubeconfigs_dir()],
    )?;
    let new_plan = cluster::plan(profile, &target, &facts);
    let client = kube_api::admin_client(&dir.admin_kubeconfig()).await?;
    let upgrade = Upgrade {
        profile,
        ui,
        target: &target,
        facts: &facts,
        plan: &new_plan,
        docker: &docker,
        client: &client,
    };
    let work = async {
        dir.save_config(&target)?;
        let count = plan.phases.len();
        for (number, phase) in plan.phases.iter().enumerate() {
            let started = Instant::now();
            let step = ui.step(format!("Upgrade {}/{count}: {}", number + 1, phase.name));
            ui.detail(&phase.what);
            interrupt::phase(ui, &format!("upgrade-{}", phase.name)).await;
            match upgrade.phase(phase, &step).await {
                Ok(()) => step.done(),
                Err(e) => {
                    step.failed();
                    return Err(e.context(format!("phase {}", phase.name)));
                }
            }
            times.push((phase.name.clone(), started.elapsed()));
            if fail_at.as_deref() == Some(phase.name.as_str()) {
                bail!(
                    "{}={}: failing after this phase, as the test hook asks",
                    plan::TEST_FAIL_AT_ENV,
                    phase.name
                );
            }
        }
        anyhow::Ok(())
    };
    let done = interrupt::or_interrupted(work, interrupt::interruption(), "upgrading")
        .await
        .unwrap_or_else(Err);
    drop(lock);
    // The rest of `start` (kubeconfig, routes, node settings) on the new release, which also
    // checks that every container runs as planned.
    let finished = match done {
        Ok(()) => {
            let started = Instant::now();
            let request = StartRequest {
                switch_context: request.switch_context,
                ..StartRequest::default()
            };
            let outcome = start::run(home, profile, ui, &request).await;
            times.push(("finish".into(), started.elapsed()));
            outcome
        }
        Err(e) => Err(e),
    };
    match finished {
        Ok(outcome) => {
            ui.info(format!(
                "Upgraded profile '{profile}' from Kubernetes {} to {} in {:.1} s ({}). The \
                 snapshot '{}' stays: `localkube snapshot delete {} -p {profile}` removes it.",
                plan.from,
                plan.to,
                began.elapsed().as_secs_f64(),
                times
                    .iter()
                    .map(|(name, took)| format!("{name} {:.1} s", took.as_secs_f64()))
                    .collect::<Vec<_>>()
                    .join(", "),
                plan.snapshot,
                plan.snapshot,
            ));
            Ok(match outcome {
                Outcome::AlreadyRunning {
                    context,
                    kubeconfig,
                    ..
                } => Outcome::Started {
                    context,
                    kubeconfig,
                },
                other => other,
            })
        }
        Err(e) => Err(roll_back(home, profile, ui, &plan, &config, files, e).await),
    }
}

/// Every container of the profile runs: an upgrade starts from a serving cluster.
async fn check_running(
    docker: &Docker,
    profile: &ProfileName,
    config: &ProfileConfig,
) -> Result<()> {
    let expected = profile_state::expected_containers(profile, config);
    let mut found = std::collections::BTreeMap::new();
    for name in &expected {
        if let Some(state) = container_state(docker, name).await? {
            found.insert(name.clone(), state);
        }
    }
    let state = profile_state::state(&expected, &found);
    if state != profile_state::State::Running {
        bail!(
            "profile '{profile}' is {state:?}: an upgrade starts from a running cluster; start it \
             on its release first (`localkube start -p {profile}`), then upgrade; nothing was \
             changed"
        );
    }
    Ok(())
}

/// The snapshot to come back to, replacing one an earlier upgrade from the same release left.
async fn take_snapshot(home: &Home, profile: &ProfileName, name: &str, ui: &Ui) -> Result<()> {
    if Store::new(home).dir(profile, name)?.exists() {
        ui.info(format!(
            "Replacing the snapshot '{name}' an earlier upgrade from this release took."
        ));
        snapshot::delete(home, profile, name)?;
    }
    snapshot::save(home, profile, name, ui)
        .await
        .context("taking the pre-upgrade snapshot; nothing was changed")?;
    Ok(())
}

/// After a failure from the snapshot on: the profile's files back, then the snapshot restored.
/// Returns the error to report, saying what was restored.
async fn roll_back(
    home: &Home,
    profile: &ProfileName,
    ui: &Ui,
    plan: &UpgradePlan,
    config: &ProfileConfig,
    files: FilesSnapshot,
    error: anyhow::Error,
) -> anyhow::Error {
    ui.info(format!(
        "The upgrade to {} failed ({error:#}); restoring the snapshot '{}' taken before it.",
        plan.to, plan.snapshot
    ));
    let files_back = files.restore();
    // The snapshot's release is the profile's again before the restore checks it.
    let config_back = home.profile(profile).save_config(config);
    let restored = match (files_back, config_back) {
        (Ok(()), Ok(())) => snapshot::restore(home, profile, &plan.snapshot, ui).await,
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    match restored {
        Ok(_) => error.context(format!(
            "the upgrade of profile '{profile}' to {} failed; the snapshot '{}' was restored: the \
             profile runs Kubernetes {} again, with its objects and volumes as they were before \
             the upgrade",
            plan.to, plan.snapshot, plan.from
        )),
        Err(restore) => error.context(format!(
            "the upgrade of profile '{profile}' to {} failed, and restoring the snapshot '{}' \
             failed too ({restore:#}): `localkube snapshot restore {} -p {profile}` tries again",
            plan.to, plan.snapshot, plan.snapshot
        )),
    }
}

/// What a node's drain did, for `-v`.
fn describe_drain(node: &str, drained: &drain::Drained) -> String {
    let mut line = format!("{node}: {} pods evicted", drained.evicted.len());
    if drained.refused_by_budget > 0 {
        line.push_str(&format!(
            ", {} evictions held back by a PodDisruptionBudget first",
            drained.refused_by_budget
        ));
    }
    if !drained.kept.is_empty() {
        line.push_str(&format!(
            "; kept (no controller would place them elsewhere; they start again with the node): {}",
            drained.kept.join(", ")
        ));
    }
    line
}

/// What every phase works on.
struct Upgrade<'a> {
    profile: &'a ProfileName,
    ui: &'a Ui,
    /// The profile's settings on the new release.
    target: &'a ProfileConfig,
    facts: &'a HostFacts,
    /// Every container on the new release.
    plan: &'a ClusterPlan,
    docker: &'a Docker,
    client: &'a Client,
}

impl Upgrade<'_> {
    async fn phase(&self, phase: &Phase, step: &crate::ui::Step) -> Result<()> {
        let spec = phase
            .container
            .as_ref()
            .map(|name| {
                self.plan
                    .containers
                    .iter()
                    .find(|c| &c.name == name)
                    .cloned()
                    .with_context(|| format!("the new release's plan has no container {name}"))
            })
            .transpose()?;
        match (phase.kind, spec) {
            (PhaseKind::Addons, _) => self.addons().await,
            (PhaseKind::Node { drain: drains }, Some(spec)) => self.node(&spec, drains, step).await,
            (kind, Some(spec)) => self.control_plane(kind, &spec).await,
            (_, None) => bail!("phase {} names no container", phase.name),
        }
    }

    /// One control-plane container replaced, and waited for: etcd and the apiserver until the
    /// apiserver answers ready with etcd behind it, the others until they run.
    async fn control_plane(&self, kind: PhaseKind, spec: &ContainerSpec) -> Result<()> {
        staging::stage_container(self.facts, spec)?;
        containers::run_container(self.docker, spec, |_| {}).await?;
        let check = match kind {
            PhaseKind::Etcd => "etcd",
            PhaseKind::Apiserver => "",
            _ => {
                return kube_api::wait_for(
                    &format!("{} running", spec.name),
                    COMPONENT_READY_TIMEOUT,
                    || async {
                        Ok(container_state(self.docker, &spec.name)
                            .await?
                            .is_some_and(ContainerState::is_running)
                            .then_some(()))
                    },
                )
                .await;
            }
        };
        kube_api::wait_for(
            &format!("the apiserver ready after {} was replaced", spec.name),
            COMPONENT_READY_TIMEOUT,
            || async { Ok(kube_api::readyz(self.client, check).await?.then_some(())) },
        )
        .await
        .with_context(|| {
            format!(
                "{} did not serve on the new release (`localkube logs {}` shows why)",
                spec.name, spec.role
            )
        })
    }

    /// One node: with `drains`, cordoned and drained; its container replaced (its volume kept)
    /// with kubelet held back until the release's images are in its containerd; Ready on the new
    /// release; uncordoned.
    async fn node(&self, spec: &ContainerSpec, drains: bool, step: &crate::ui::Step) -> Result<()> {
        let node = spec.hostname.as_str();
        if drains {
            step.update("cordoning and draining");
            drain::set_unschedulable(self.client, node, true).await?;
            let drained = drain::drain(self.client, node, DRAIN_TIMEOUT).await?;
            self.ui.detail(describe_drain(node, &drained));
        }
        step.update("replacing its container");
        let files = node_config::node_files(self.target, node, spec.ip);
        let (boot, flags) = node_config::split_process_flags(files);
        staging::write_node_files(self.facts, &spec.name, &boot)?;
        for file in &flags {
            staging::remove_file(self.facts, &spec.name, &file.path)?;
        }
        staging::stage_container(self.facts, spec)?;
        containers::run_container(self.docker, spec, |_| {}).await?;
        step.update("loading the release's images into it");
        kube_api::wait_for(
            &format!("containerd answering in {node}"),
            Duration::from_secs(60),
            || async {
                let out =
                    containers::exec(self.docker, &spec.name, &["ctr", "version"], None).await?;
                Ok((out.exit_code == 0).then_some(()))
            },
        )
        .await?;
        node_images::load_missing_into_node(self.docker, &spec.name, &self.node_image_tags().await)
            .await
            .with_context(|| format!("loading the release's images into {node}"))?;
        staging::write_node_files(self.facts, &spec.name, &flags)?;
        step.update("waiting until it is Ready on the new release");
        let to = &self.target.kubernetes_version;
        kube_api::wait_for(
            &format!("node {node} Ready with kubelet {to}"),
            COMPONENT_READY_TIMEOUT,
            || async {
                let object = kube_api::get_node(self.client, node).await?;
                Ok(object
                    .filter(|n| {
                        kube_api::node_is_ready(n)
                            && drain::kubelet_version(n).as_deref() == Some(to.as_str())
                    })
                    .map(|_| ()))
            },
        )
        .await?;
        if drains {
            drain::set_unschedulable(self.client, node, false).await?;
        }
        Ok(())
    }

    /// The images a node holds on the new release: those its image preloads into a new volume
    /// (this volume is older) and the enabled addons'.
    async fn node_image_tags(&self) -> Vec<String> {
        let version = &self.target.kubernetes_version;
        let mut tags: Vec<String> = Image::Node
            .preloaded()
            .iter()
            .map(|image| names::image(image.name(), version))
            .collect();
        for image in addons::node_images(&self.target.addons.enabled_addons()) {
            let tag = names::image(image.name(), version);
            if !tags.contains(&tag) && containers::image_exists(self.docker, &tag).await {
                tags.push(tag);
            }
        }
        tags
    }

    /// Every enabled addon applied with the release's images, each serving.
    async fn addons(&self) -> Result<()> {
        let cluster = lifecycle_addons::Cluster {
            profile: self.profile,
            config: self.target,
            facts: self.facts,
            plan: self.plan,
            docker: self.docker,
            client: self.client,
            ui: self.ui,
        };
        for addon in self.target.addons.enabled_addons() {
            lifecycle_addons::ensure(&cluster, addon)
                .await
                .with_context(|| format!("the {} addon on the new release", addon.name))?;
        }
        Ok(())
    }
}
