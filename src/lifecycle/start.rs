//! `start` as one ordered list of named steps (kind's create actions): each step is a small
//! function over one shared context, run in the order of `STEPS`, reported through the Ui. One
//! code path serves a new cluster, a stopped one and a running one with a node added, so a resume
//! repairs whatever a user removed by hand. A failure rolls back, in one place, what this run
//! created: containers, volumes, the network, and a profile folder it made.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use bollard::Docker;
use futures_util::future::try_join_all;
use kube::Client;

use crate::effects::containers::{self, container_state};
use crate::effects::home::{Home, ProfileDir};
use crate::effects::lock::lock_profile;
use crate::effects::snapshot::FilesSnapshot;
use crate::effects::{
    docker, image_registry, kube_api, kubeconfig_store, lb_image, pki_store, staging,
};
use crate::lifecycle::addons as lifecycle_addons;
use crate::plan::cluster::{self, ClusterPlan, ContainerSpec, HostFacts};
use crate::plan::config::{Nodes, ProfileConfig, candidate_subnets};
use crate::plan::images::Image;
use crate::plan::names::Role;
use crate::plan::profile_name::ProfileName;
use crate::plan::routes::{self, NodeRoute};
use crate::plan::{addons, load_balancer, names, node_config, pki, shutdown};
use crate::ui::Ui;

/// How long each component gets to become ready before the start fails.
pub const APISERVER_READY_TIMEOUT: Duration = Duration::from_secs(90);
pub const NODE_READY_TIMEOUT: Duration = Duration::from_secs(120);
pub const COREDNS_READY_TIMEOUT: Duration = Duration::from_secs(120);
/// The controller-manager publishes a renewed CA within seconds of starting its controllers.
const CA_PUBLISHED_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a roll-back waits for creates an interruption left under way (they take seconds).
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
}

/// How a start ended.
#[derive(Debug)]
pub enum Outcome {
    Started {
        context: String,
        kubeconfig: std::path::PathBuf,
    },
    /// Every container ran already and was current: nothing was touched.
    AlreadyRunning {
        context: String,
        kubeconfig: std::path::PathBuf,
    },
    /// `--dry-run`: the plan, with nothing created in Docker.
    Planned(Box<ClusterPlan>),
}

/// The steps of `start`, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    ProfileConfig,
    Certificates,
    Kubeconfigs,
    Plan,
    Images,
    NetworkAndVolumes,
    /// The containers started at once: the nodes (containerd only, kubelet held back), etcd,
    /// the apiserver and the controller-manager. Each component retries until the one it needs
    /// answers, so none waits for another's container; in the background, the images every node
    /// needs are loaded into the nodes meanwhile.
    Containers,
    /// A wait until the apiserver answers /readyz.
    Apiserver,
    /// New nodes registered with their pod CIDRs and given their CNI configuration; then every
    /// node's kubelet and kube-proxy let start (their flags files written).
    Kubelets,
    /// The scheduler, once the apiserver answers (after the kubelets, which are on the critical
    /// path and only need their flags files written). Started with the others, its informers were
    /// refused (the apiserver had not yet made the default RBAC roles) and backed off: it
    /// placed the first pods up to 3 s late. The controller-manager waits for the apiserver
    /// itself.
    Scheduler,
    /// The enabled addons applied (CoreDNS and the load balancer controller among them, on by
    /// default), so their pods are there to schedule the moment a node is Ready.
    Addons,
    /// Each node registered with a pod CIDR, its CNI configuration written, Ready.
    Nodes,
    Routes,
    /// Every enabled addon serving, waited for all at once.
    AddonsServing,
    KubeconfigMerge,
}

pub const STEPS: [Step; 15] = [
    Step::ProfileConfig,
    Step::Certificates,
    Step::Kubeconfigs,
    Step::Plan,
    Step::Images,
    Step::NetworkAndVolumes,
    Step::Containers,
    Step::Apiserver,
    Step::Kubelets,
    Step::Scheduler,
    Step::Addons,
    Step::Nodes,
    Step::Routes,
    Step::AddonsServing,
    Step::KubeconfigMerge,
];

fn add_once(names: &mut Vec<String>, name: &str) {
    if !names.iter().any(|n| n == name) {
        names.push(name.to_string());
    }
}

/// What this run created, so a failure removes exactly that and nothing older.
#[derive(Debug, Default)]
pub struct Created {
    /// The profile folder, when this run made it.
    pub profile: bool,
    pub network: Option<String>,
    pub volumes: Vec<String>,
    pub containers: Vec<String>,
    /// Containers that were stopped before this run and that it started.
    pub started: Vec<String>,
}

impl Created {
    /// Records container `name` before it is made or started, by its state now (`None`: it does
    /// not exist): an interruption drops the futures that would report it, and the roll-back must
    /// still find it.
    fn expect(&mut self, name: &str, state: Option<&str>) {
        match state {
            None => self.add_container(name),
            Some("running") => {}
            Some(_) => add_once(&mut self.started, name),
        }
    }

    fn add_container(&mut self, name: &str) {
        add_once(&mut self.containers, name);
    }

    /// Puts Docker back as it was: stops what this run started, removes what it created
    /// (containers first, then volumes and the network). Goes on past a failure, so one stuck
    /// object does not leave the others behind; the failures come back together.
    pub async fn roll_back(&self, docker: &Docker) -> Result<()> {
        let mut failures = Vec::new();
        for name in self.started.iter().rev() {
            if let Err(e) = docker
                .stop_container(
                    name,
                    Some(bollard::query_parameters::StopContainerOptions {
                        t: Some(10),
                        ..Default::default()
                    }),
                )
                .await
                && !containers::is_not_found(&e)
            {
                failures.push(format!("stopping container {name}: {e}"));
            }
        }
        for name in self.containers.iter().rev() {
            if let Err(e) = containers::remove_container(docker, name).await {
                failures.push(format!("{e:#}"));
            }
        }
        for name in &self.volumes {
            if let Err(e) = docker
                .remove_volume(
                    name,
                    Some(bollard::query_parameters::RemoveVolumeOptions { force: true }),
                )
                .await
                && !containers::is_not_found(&e)
            {
                failures.push(format!("removing volume {name}: {e}"));
            }
        }
        if let Some(network) = &self.network
            && let Err(e) = docker.remove_network(network).await
            && !containers::is_not_found(&e)
        {
            failures.push(format!("removing network {network}: {e}"));
        }
        if failures.is_empty() {
            Ok(())
        } else {
            bail!("{}", failures.join("; "))
        }
    }

    fn has_docker_objects(&self) -> bool {
        self.network.is_some()
            || !self.volumes.is_empty()
            || !self.containers.is_empty()
            || !self.started.is_empty()
    }
}

/// What the steps share. Fields are filled by the steps that own them, in `STEPS` order.
pub struct StartContext<'a> {
    pub home: &'a Home,
    pub profile: &'a ProfileName,
    pub dir: ProfileDir,
    pub ui: &'a Ui,
    pub request: &'a StartRequest,
    config: Option<ProfileConfig>,
    /// The configuration before this run changed it (`node add`), restored on failure.
    previous_config: Option<ProfileConfig>,
    facts: Option<HostFacts>,
    plan: Option<ClusterPlan>,
    docker: Option<Docker>,
    client: Option<Client>,
    created: Created,
    already_running: bool,
    outcome: Option<Outcome>,
    /// The profile's files (config.yaml, pki, kubeconfigs) before this run, restored on failure.
    profile_files: Option<FilesSnapshot>,
    /// The user's kubeconfig before this run, restored when a failure follows the merge.
    user_kubeconfig: Option<FilesSnapshot>,
    merged: bool,
    /// Certificates of an existing profile were renewed: its containers get them restaged.
    certs_renewed: bool,
    /// The images being loaded into the nodes in the background (`Containers`), awaited
    /// before anything needs them and aborted on failure.
    node_images: Option<NodeImages>,
    /// The image tags that load covers.
    node_image_tags: Vec<String>,
}

/// The background load of the nodes' images: first those the pods of `start` run, then the rest.
struct NodeImages {
    /// Resolves once the first part is in every node; dropped unsent when the load failed.
    needed: Option<tokio::sync::oneshot::Receiver<()>>,
    all: tokio::task::JoinHandle<Result<()>>,
}

impl StartContext<'_> {
    fn config(&self) -> &ProfileConfig {
        self.config.as_ref().expect("the profile step runs first")
    }

    fn facts(&self) -> &HostFacts {
        self.facts.as_ref().expect("the plan step ran")
    }

    fn plan(&self) -> &ClusterPlan {
        self.plan.as_ref().expect("the plan step ran")
    }

    fn docker(&self) -> &Docker {
        self.docker
            .as_ref()
            .expect("the images step connects to Docker")
    }

    fn client(&self) -> &Client {
        self.client
            .as_ref()
            .expect("the apiserver step makes the client")
    }

    fn specs(&self, role: &str) -> Vec<ContainerSpec> {
        self.plan()
            .containers
            .iter()
            .filter(|c| c.role == role)
            .cloned()
            .collect()
    }
}

/// Runs `start` for a profile: every step in order; on failure, rolls back what this run created.
pub async fn run(
    home: &Home,
    profile: &ProfileName,
    ui: &Ui,
    request: &StartRequest,
) -> Result<Outcome> {
    // Bad test hooks and environment values are refused before anything is touched.
    let fail_at = test_fail_at(std::env::var("LOCALKUBE_TEST_FAIL_AT").ok().as_deref())?;
    let _lock = lock_profile(home, profile)?;
    // What this host lacks is said before anything is made (a dry run asks no Docker).
    if !request.dry_run {
        crate::lifecycle::preflight::before_start(home, profile, ui, request).await?;
    }
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
        Some(FilesSnapshot::take(
            &[kubeconfig_store::user_kubeconfig_target()?],
            &[],
        )?)
    };
    let mut ctx = StartContext {
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
    };
    // Ctrl-C or SIGTERM stops the step under way and rolls back like any failure.
    let mut interrupted = std::pin::pin!(interruption());
    for step in STEPS {
        let result = tokio::select! {
            result = run_step(step, &mut ctx) => result,
            signal = &mut interrupted => Err(anyhow::anyhow!(
                "interrupted ({signal}) while {step:?} ran; nothing of this start is kept"
            )),
        };
        if result.is_ok() && step == Step::KubeconfigMerge {
            ctx.merged = true;
        }
        // The admin's group gets its rights as soon as the apiserver answers, before any step
        // acts as the admin.
        let result = match result {
            Ok(()) if step == Step::Apiserver && ctx.client.is_some() => {
                bind_admin_group(&ctx).await
            }
            other => other,
        };
        // Renewed certificates reach the components: restaged, and the containers that use
        // them restarted; then every later step runs, waiting for each component again.
        let result = match result {
            Ok(()) if step == Step::Images && ctx.certs_renewed && ctx.plan.is_some() => {
                restage_renewed(&mut ctx).await
            }
            other => other,
        };
        let result = result.and_then(|()| match fail_at {
            Some(at) if at == step => bail!(
                "LOCALKUBE_TEST_FAIL_AT={step:?}: failing after this step, as the test hook asks"
            ),
            _ => Ok(()),
        });
        if let Err(err) = result {
            return Err(roll_back(&mut ctx, err).await);
        }
        if ctx.outcome.is_some() {
            break;
        }
    }
    Ok(ctx.outcome.take().expect("the last step sets the outcome"))
}

/// The step `LOCALKUBE_TEST_FAIL_AT` names (its name as in `STEPS`, any case, `-`/`_` ignored):
/// `start` fails right after it, as a fault-injection hook for tests. A name of no step is
/// refused, listing them.
fn test_fail_at(value: Option<&str>) -> Result<Option<Step>> {
    let Some(wanted) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let norm = |s: &str| s.replace(['-', '_'], "").to_ascii_lowercase();
    match STEPS
        .iter()
        .find(|step| norm(&format!("{step:?}")) == norm(wanted))
    {
        Some(step) => Ok(Some(*step)),
        None => {
            let all: Vec<String> = STEPS.iter().map(|s| format!("{s:?}")).collect();
            bail!(
                "LOCALKUBE_TEST_FAIL_AT='{wanted}' names no step of start: use one of {} or unset it",
                all.join(", ")
            )
        }
    }
}

/// Resolves when the user interrupts (Ctrl-C) or the process is asked to stop (SIGTERM); the
/// handlers are installed at once, so a signal that comes before the first poll still counts.
fn interruption() -> impl std::future::Future<Output = &'static str> {
    use tokio::signal::unix::{SignalKind, signal};
    let int = signal(SignalKind::interrupt()).ok();
    let term = signal(SignalKind::terminate()).ok();
    async move {
        match (int, term) {
            (Some(mut int), Some(mut term)) => tokio::select! {
                _ = int.recv() => "Ctrl-C",
                _ = term.recv() => "SIGTERM",
            },
            _ => std::future::pending().await,
        }
    }
}

async fn run_step(step: Step, ctx: &mut StartContext<'_>) -> Result<()> {
    // A cluster that runs as planned is left alone: only the user's kubeconfig is refreshed, once
    // the apiserver answers (its containers may run but still be starting, e.g. just after Docker
    // brought them back from a dockerd restart).
    if ctx.already_running {
        return match step {
            Step::Apiserver => wait_for_apiserver(ctx).await,
            Step::KubeconfigMerge => kubeconfig_merge(ctx),
            _ => Ok(()),
        };
    }
    match step {
        Step::ProfileConfig => profile_config(ctx).await,
        Step::Certificates => certificates(ctx).await,
        Step::Kubeconfigs => component_kubeconfigs(ctx),
        Step::Plan => plan(ctx),
        Step::Images => images(ctx).await,
        Step::NetworkAndVolumes => network_and_volumes(ctx).await,
        Step::Containers => containers(ctx).await,
        Step::Apiserver => wait_for_apiserver(ctx).await,
        Step::Scheduler => scheduler(ctx).await,
        Step::Kubelets => kubelets(ctx).await,
        Step::Nodes => nodes(ctx).await,
        Step::Routes => sync_routes_step(ctx).await,
        Step::Addons => addons_step(ctx).await,
        Step::AddonsServing => addons_serving(ctx).await,
        Step::KubeconfigMerge => kubeconfig_merge(ctx),
    }
}

/// Puts the machine back as it was before this run: what it created in Docker, the profile folder
/// it made, the configuration it changed.
async fn roll_back(ctx: &mut StartContext<'_>, err: anyhow::Error) -> anyhow::Error {
    if let Some(loading) = ctx.node_images.take() {
        loading.all.abort();
    }
    if ctx.request.keep_on_failure {
        return err;
    }
    // The user's kubeconfig first: it is theirs, and it is restored only when this run wrote it.
    if ctx.merged
        && let Some(before) = &ctx.user_kubeconfig
        && let Err(cleanup) = before.restore()
    {
        return err.context(format!(
            "and restoring your kubeconfig failed too: {cleanup:#}"
        ));
    }
    if ctx.created.has_docker_objects() || (ctx.created.profile && ctx.docker.is_some()) {
        let step = ctx.ui.step("Removing what this start created");
        let cleaned = match &ctx.docker {
            Some(docker) => {
                // An interruption dropped the step, not the creates dockerd was carrying out.
                if tokio::time::timeout(SETTLE_TIMEOUT, containers::settled())
                    .await
                    .is_err()
                {
                    ctx.ui.detail(format!(
                        "a Docker create was still under way after {SETTLE_TIMEOUT:?}; removing what is there"
                    ));
                }
                let mut cleaned = ctx.created.roll_back(docker).await;
                // A new profile had nothing in Docker: whatever carries its label now (a load
                // balancer proxy its controller made, say) came from this run.
                if ctx.created.profile
                    && let Err(e) = docker::remove_profile(docker, ctx.profile).await
                {
                    cleaned = Err(match cleaned {
                        Ok(()) => e,
                        Err(first) => first.context(format!("{e:#}")),
                    });
                }
                cleaned
            }
            None => Ok(()),
        };
        if let Err(cleanup) = cleaned {
            step.failed();
            return err.context(format!("and cleaning up failed too: {cleanup:#}"));
        }
        step.done_with("use --keep-on-failure to keep it for debugging");
    }
    if let Some(before) = &ctx.profile_files
        && let Err(cleanup) = before.restore()
    {
        return err.context(format!(
            "and restoring the profile's files failed too: {cleanup:#}"
        ));
    }
    if ctx.created.profile {
        if let Err(cleanup) = ctx.dir.remove() {
            return err.context(format!(
                "and removing the new profile failed too: {cleanup:#}"
            ));
        }
    } else if ctx.profile_files.is_none()
        && let Some(previous) = &ctx.previous_config
        && let Err(cleanup) = ctx.dir.save_config(previous)
    {
        return err.context(format!("and restoring config.yaml failed too: {cleanup:#}"));
    }
    err
}

// ---------------------------------------------------------------------------------------------
// The steps

/// A new profile: flags over defaults, plus a free apiserver port and network subnet, written to
/// config.yaml. An existing one: its config.yaml, with flags that would change it refused.
async fn profile_config(ctx: &mut StartContext<'_>) -> Result<()> {
    let request = ctx.request;
    // Entries of the user's kubeconfig that localkube did not write are never replaced: refused
    // now, before anything is created, rather than at the merge.
    if !request.dry_run {
        kubeconfig_store::check_user_mergeable(ctx.profile)?;
    }
    if !ctx.dir.exists() {
        if request.add_node {
            // Refuses with the hint to create it.
            ctx.dir.load_config()?;
        }
        if let Some(problem) = names::collision_problem(ctx.profile) {
            bail!(
                "profile name '{}' cannot be used: {problem}; choose another name (`-p NAME`)",
                ctx.profile
            );
        }
        let step = ctx.ui.step(format!("Creating profile '{}'", ctx.profile));
        let config = new_config(ctx.profile, request).await?;
        ctx.created.profile = true;
        ctx.dir.save_config(&config)?;
        ctx.config = Some(config);
        step.done();
        return Ok(());
    }
    let mut config = ctx.dir.load_config()?;
    check_unchanged(&config, request)?;
    // The image source may change between starts: the images step checks what it gives.
    if let Some(repository) = &request.image_repository
        && config.image_repository.as_ref() != Some(repository)
    {
        config.image_repository = Some(repository.clone());
        ctx.dir.save_config(&config)?;
    }
    if request.add_node {
        let number = config.nodes.next_free();
        let mut added = config.clone();
        added.nodes = config.nodes.with(number);
        added.validate()?;
        let step = ctx.ui.step(format!(
            "Adding node {}",
            names::node_name(ctx.profile, number)
        ));
        ctx.dir.save_config(&added)?;
        ctx.previous_config = Some(config);
        config = added;
        step.done();
    }
    ctx.config = Some(config);
    Ok(())
}

async fn certificates(ctx: &mut StartContext<'_>) -> Result<()> {
    let plan = pki::plan(ctx.profile, ctx.config());
    let pki_dir = ctx.dir.pki_dir();
    if ctx.request.renew_ca {
        ctx.ui.info(
            "--renew-ca: new cluster, front-proxy and etcd CAs; every certificate and kubeconfig \
             is reissued and the components restarted with them. The cluster's objects are kept; \
             kubeconfigs copied elsewhere stop working.",
        );
        pki_store::drop_cas(&pki_dir, &plan)?;
    } else if !ctx.created.profile && !ctx.request.dry_run {
        // A cluster with data keeps its CAs: a damaged or replaced one is refused, not remade.
        let docker = docker::connect().await?;
        if docker::holds_cluster_data(&docker, ctx.profile).await? {
            pki_store::check_keeps_cas(&pki_dir, &plan, time::OffsetDateTime::now_utc())?;
        }
    }
    let step = ctx.ui.step("Generating certificates");
    let outcome = pki_store::ensure_pki(&pki_dir, &plan)?;
    ctx.certs_renewed = !outcome.generated.is_empty() && !ctx.created.profile;
    if outcome.generated.is_empty() {
        step.done_with("all present and valid");
    } else {
        step.done_with(format!("{} generated", outcome.generated.len()));
    }
    for name in &outcome.generated {
        ctx.ui.detail(format!("generated {name}"));
    }
    Ok(())
}

/// Binds the admin's group to `cluster-admin` as the break-glass super-admin (kubeadm's way): the
/// admin certificate is in `kubeadm:cluster-admins`, not `system:masters`.
async fn bind_admin_group(ctx: &StartContext<'_>) -> Result<()> {
    let super_admin =
        kube_api::admin_client(&ctx.dir.kubeconfigs_dir().join("super-admin.conf")).await?;
    kube_api::apply_manifest(&super_admin, pki::ADMIN_BINDING)
        .await
        .context("binding the admin's group kubeadm:cluster-admins to cluster-admin")?;
    // The authorizer sees a new binding a moment after it is written: the next steps act as the
    // admin at once, so they wait for it (measured: a list of nodes right after was refused).
    let admin = ctx.client().clone();
    kube_api::wait_for(
        "the admin's rights in effect",
        APISERVER_READY_TIMEOUT,
        || {
            let admin = admin.clone();
            async move { Ok(kube_api::node_pod_cidrs(&admin).await.is_ok().then_some(())) }
        },
    )
    .await
}

/// After a renewal: every existing container of the plan gets its files restaged; a running one
/// whose files changed is restarted so the component reads them (a node is stopped, and started
/// again by the Containers step). The steps after this one then run in full, waiting for each
/// component to be ready again.
async fn restage_renewed(ctx: &mut StartContext<'_>) -> Result<()> {
    let step = ctx
        .ui
        .step("Handing the renewed certificates to the components");
    let docker = ctx.docker().clone();
    let mut restarted = Vec::new();
    for spec in ctx.plan().containers.clone() {
        let Some(state) = container_state(&docker, &spec.name).await? else {
            continue;
        };
        containers::check_owned(&docker, &spec.name, &spec.labels).await?;
        if !staging::restage_container(ctx.facts(), &spec)? || state != "running" {
            continue;
        }
        if spec.role == Role::Node.as_str() {
            // Stopped, not restarted: the Containers step starts it as a stopped node, its
            // kubelet held until the new CA is published for its pods (see `kubelets`).
            // The patience `stop` gives a node.
            let options = bollard::query_parameters::StopContainerOptions {
                t: Some(shutdown::stop_timeout(&spec.role)),
                ..Default::default()
            };
            docker
                .stop_container(&spec.name, Some(options))
                .await
                .with_context(|| format!("stopping {} to renew its certificates", spec.name))?;
        } else {
            docker
                .restart_container(
                    &spec.name,
                    None::<bollard::query_parameters::RestartContainerOptions>,
                )
                .await
                .with_context(|| {
                    format!("restarting {} with its renewed certificates", spec.name)
                })?;
        }
        restarted.push(spec.name.clone());
    }
    ctx.already_running = false;
    step.done_with(if restarted.is_empty() {
        "no running container used them".to_string()
    } else {
        format!("restarted {}", restarted.join(", "))
    });
    Ok(())
}

fn component_kubeconfigs(ctx: &mut StartContext<'_>) -> Result<()> {
    let step = ctx.ui.step("Writing kubeconfigs");
    kubeconfig_store::write_component_kubeconfigs(&ctx.dir, ctx.config())?;
    step.done();
    Ok(())
}

/// Every container as data; a dry run ends here with the plan.
fn plan(ctx: &mut StartContext<'_>) -> Result<()> {
    let facts = ctx.dir.host_facts()?;
    let plan = cluster::plan(ctx.profile, ctx.config(), &facts);
    ctx.facts = Some(facts);
    if ctx.request.dry_run {
        ctx.outcome = Some(Outcome::Planned(Box::new(plan)));
        // A dry run leaves what it wrote: the profile is the point of it.
        ctx.created.profile = false;
        return Ok(());
    }
    ctx.plan = Some(plan);
    Ok(())
}

/// The component images (built from upstream sources on first use) and the load balancer's; then
/// whether the cluster already runs as planned, and the apiserver's port is free if it does not.
async fn images(ctx: &mut StartContext<'_>) -> Result<()> {
    let docker = docker::connect().await?;
    let version = ctx.config().kubernetes_version.clone();
    image_registry::ensure_cluster_images(
        &docker,
        ctx.home.cache(),
        ctx.config(),
        ctx.request.build_if_missing,
        ctx.ui,
    )
    .await?;
    lb_image::ensure_lb_image(&docker, &ctx.facts().lb_image, &version).await?;
    ctx.already_running = all_running(&docker, ctx.plan()).await?;
    if !ctx.already_running {
        check_apiserver_port(&docker, ctx.profile, ctx.config()).await?;
    }
    ctx.docker = Some(docker);
    Ok(())
}

async fn network_and_volumes(ctx: &mut StartContext<'_>) -> Result<()> {
    let step = ctx.ui.step("Creating network and volumes");
    let docker = ctx.docker().clone();
    let plan = ctx.plan().clone();
    if containers::ensure_network(&docker, &plan.network).await? {
        ctx.created.network = Some(plan.network.name.clone());
    }
    for volume in &plan.volumes {
        if containers::ensure_volume(&docker, volume).await? {
            ctx.created.volumes.push(volume.name.clone());
        }
    }
    step.done();
    Ok(())
}

/// The cluster's containers but the scheduler's, started at once (see [`Step::Containers`]).
async fn containers(ctx: &mut StartContext<'_>) -> Result<()> {
    let nodes = ctx.specs(Role::Node.as_str());
    let control_plane: Vec<ContainerSpec> = Role::CONTROL_PLANE
        .iter()
        .filter(|r| **r != Role::Scheduler)
        .flat_map(|r| ctx.specs(r.as_str()))
        .collect();
    let mut what: Vec<&str> = control_plane.iter().map(|s| s.role.as_str()).collect();
    what.extend(nodes.iter().map(|s| s.hostname.as_str()));
    let step = ctx.ui.step(format!("Starting {}", what.join(", ")));
    stage_control_plane(ctx, &control_plane)?;
    stage_nodes(ctx, &nodes).await?;
    // etcd and the apiserver first, on their own: the engine starts containers given at once
    // one after another (1-1.4 s for five, measured), and everything else waits for the
    // apiserver anyway. The rest follow while it boots.
    let (first, rest): (Vec<ContainerSpec>, Vec<ContainerSpec>) = control_plane
        .into_iter()
        .chain(nodes.iter().cloned())
        .partition(|s| s.role == Role::Etcd.as_str() || s.role == Role::Apiserver.as_str());
    run_containers(ctx, &first).await?;
    run_containers(ctx, &rest).await?;
    step.done();
    load_node_images_in_background(ctx, &nodes).await
}

/// The scheduler's container (see [`Step::Scheduler`]).
async fn scheduler(ctx: &mut StartContext<'_>) -> Result<()> {
    let specs = ctx.specs(Role::Scheduler.as_str());
    let step = ctx.ui.step("Starting scheduler");
    stage_control_plane(ctx, &specs)?;
    run_containers(ctx, &specs).await?;
    step.done();
    Ok(())
}

/// The control plane's staged files and routes.
fn stage_control_plane(ctx: &StartContext<'_>, specs: &[ContainerSpec]) -> Result<()> {
    for spec in specs {
        ctx.ui.detail(format!(
            "{} {}",
            spec.entrypoint.join(" "),
            spec.args.join(" ")
        ));
        staging::stage_container(ctx.facts(), spec)?;
        // A resumed cluster keeps the routes of its last start (every node's pod CIDR); a new
        // one starts with the ranges via the first node, whose address is known already.
        if !staging::has_file(ctx.facts(), &spec.name, routes::CONTROL_PLANE_ROUTES_FILE) {
            let first_node = NodeRoute {
                ip: ctx.config().node_ip(1),
                pod_cidr: None,
            };
            staging::write_generated(
                ctx.facts(),
                &spec.name,
                routes::CONTROL_PLANE_ROUTES_FILE,
                &control_plane_routes(ctx.config(), &[first_node]),
            )?;
        }
    }
    Ok(())
}

/// [`run_container`] for each spec, all at once; everything made is recorded before a failure is
/// reported, so a roll-back finds it all.
async fn run_containers(ctx: &mut StartContext<'_>, specs: &[ContainerSpec]) -> Result<()> {
    let docker = ctx.docker().clone();
    // Recorded before they are made or started: an interruption drops the futures below with
    // what they did, and the roll-back must still find it.
    for spec in specs {
        let state = container_state(&docker, &spec.name).await?;
        ctx.created.expect(&spec.name, state.as_deref());
    }
    let results = futures_util::future::join_all(specs.iter().map(|spec| async {
        let mut created = Created::default();
        let result = run_container(&docker, spec, &mut created).await;
        (created, result)
    }))
    .await;
    let mut failure = None;
    for (created, result) in results {
        for name in &created.containers {
            ctx.created.add_container(name);
        }
        for name in &created.started {
            add_once(&mut ctx.created.started, name);
        }
        if let Err(e) = result {
            failure.get_or_insert(e);
        }
    }
    failure.map_or(Ok(()), Err)
}

/// Once the apiserver answers: each new node registered with its pod CIDR and given its CNI
/// configuration, then its kubelet and kube-proxy let start (their flags files written), so that
/// kubelet registers at its first attempt and finds its network ready.
async fn kubelets(ctx: &mut StartContext<'_>) -> Result<()> {
    let client = ctx.client().clone();
    // After a renewal the pods restart with the nodes: they must find the new CA, or those that
    // talk to the apiserver (CoreDNS) would not trust it until they restart again.
    if ctx.certs_renewed {
        let ca = std::fs::read_to_string(ctx.dir.pki_dir().join("ca.crt"))
            .context("reading the cluster CA")?;
        kube_api::wait_for(
            "the controller-manager publishing the cluster CA to every namespace (kube-root-ca.crt)",
            CA_PUBLISHED_TIMEOUT,
            || async { Ok(kube_api::root_ca_published(&client, &ca).await?.then_some(())) },
        )
        .await?;
    }
    let mut taken = Vec::new();
    for cidr in kube_api::node_pod_cidrs(&client).await? {
        taken.extend(cidr.parse::<ipnet::Ipv4Net>().ok());
    }
    for &number in ctx.config().nodes.numbers() {
        let name = names::node_name(ctx.profile, number);
        let Some(spec) = ctx
            .specs(Role::Node.as_str())
            .into_iter()
            .find(|s| s.hostname == name)
        else {
            continue;
        };
        let node = kube_api::get_node(&client, &name).await?;
        let cidr = match node.as_ref() {
            // Known already: its CNI configuration is written (again, unchanged) below.
            Some(node) => kube_api::node_pod_cidr(node).and_then(|c| c.parse().ok()),
            None => {
                let cidr = node_config::planned_pod_cidr(ctx.config(), number, &taken)
                    .with_context(|| {
                        format!(
                            "no pod CIDR left in {} for node {name}",
                            ctx.config().pod_cidr
                        )
                    })?;
                if kube_api::register_node(&client, &name, &cidr.to_string()).await? {
                    ctx.ui
                        .detail(format!("{name}: registered with pods in {cidr}"));
                }
                taken.push(cidr);
                Some(cidr)
            }
        };
        // A node the controller-manager has not given a CIDR yet gets its CNI configuration in the
        // Nodes step, once it has one.
        if let Some(cidr) = cidr {
            staging::write_node_files(ctx.facts(), &spec.name, &[cni_file(cidr)])?;
        }
        let files = node_config::node_files(ctx.config(), &spec.hostname, spec.ip);
        let (_, flags) = node_config::split_process_flags(files);
        staging::write_node_files(ctx.facts(), &spec.name, &flags)?;
    }
    Ok(())
}

fn cni_file(pod_cidr: ipnet::Ipv4Net) -> node_config::NodeFile {
    node_config::NodeFile {
        path: "cni/10-localkube.conflist".into(),
        content: node_config::cni_conflist(pod_cidr),
    }
}

/// Waits until the apiserver answers /readyz; keeps the client for the later steps.
async fn wait_for_apiserver(ctx: &mut StartContext<'_>) -> Result<()> {
    let step = ctx.ui.step("Waiting for the apiserver");
    let client = kube_api::admin_client(&ctx.dir.kubeconfigs_dir().join("admin.conf")).await?;
    let apiserver = names::control_plane_container(ctx.profile, Role::Apiserver);
    kube_api::wait_for(
        "the apiserver answering /readyz",
        APISERVER_READY_TIMEOUT,
        || {
            let client = client.clone();
            async move { Ok(kube_api::readyz(&client, "").await?.then_some(())) }
        },
    )
    .await
    .with_logs(ctx.docker(), &apiserver)
    .await?;
    ctx.client = Some(client);
    step.done();
    Ok(())
}

/// The nodes' staged files. kubelet and kube-proxy wait for their flags files, written once the
/// apiserver answers (a node that already runs as planned keeps them).
async fn stage_nodes(ctx: &StartContext<'_>, nodes: &[ContainerSpec]) -> Result<()> {
    let docker = ctx.docker();
    for spec in nodes {
        let keeps_running = container_state(docker, &spec.name).await?.as_deref()
            == Some("running")
            && is_current(docker, spec).await?;
        let files = node_config::node_files(ctx.config(), &spec.hostname, spec.ip);
        let (boot, flags) = node_config::split_process_flags(files);
        staging::write_node_files(ctx.facts(), &spec.name, &boot)?;
        if keeps_running {
            staging::write_node_files(ctx.facts(), &spec.name, &flags)?;
        } else {
            for file in &flags {
                staging::remove_file(ctx.facts(), &spec.name, &file.path)?;
            }
        }
        staging::stage_container(ctx.facts(), spec)?;
    }
    Ok(())
}

/// Starts loading the images every node needs into the nodes, in the background: containerd
/// comes up while etcd and the apiserver boot.
async fn load_node_images_in_background(
    ctx: &mut StartContext<'_>,
    nodes: &[ContainerSpec],
) -> Result<()> {
    let docker = ctx.docker().clone();
    // The enabled addons' images too, with those `--addons` turns on (their errors are the addons
    // step's to report); an image not built yet is built and loaded by that step.
    let mut choices = ctx.config().addons.clone();
    for name in &ctx.request.addons {
        let _ = choices.set(name, true);
    }
    let version = ctx.config().kubernetes_version.clone();
    let (mut needed, mut later) = (Vec::new(), Vec::new());
    for image in addons::node_images(&choices.enabled_addons()) {
        let tag = names::image(image.name(), &version);
        if image == Image::Pause
            || image == Image::Coredns
            || docker.inspect_image(&tag).await.is_ok()
        {
            if addons::needed_by_start(image) {
                needed.push(tag);
            } else {
                later.push(tag);
            }
        }
    }
    ctx.node_image_tags = needed.iter().chain(&later).cloned().collect();
    // A node whose /var volume this start made holds the node image's own store, preloaded
    // images included, exactly as built: nothing of those to check, nor any need to wait for
    // its containerd (with three nodes, the last one's came up 1.4 s after the others').
    let preloaded: Vec<String> = Image::Node
        .preloaded()
        .iter()
        .map(|image| names::image(image.name(), &version))
        .collect();
    let loads: Vec<NodeLoad> = nodes
        .iter()
        .map(|spec| {
            let fresh = ctx
                .created
                .volumes
                .contains(&names::node_volume(&spec.hostname));
            let wanted = |tags: &[String]| -> Vec<String> {
                tags.iter()
                    .filter(|tag| !(fresh && preloaded.contains(tag)))
                    .cloned()
                    .collect()
            };
            NodeLoad {
                node: spec.name.clone(),
                needed: wanted(&needed),
                later: wanted(&later),
            }
        })
        .filter(|load| !load.needed.is_empty() || !load.later.is_empty())
        .collect();
    let (loaded, needed_loaded) = tokio::sync::oneshot::channel();
    let all = tokio::spawn(async move {
        try_join_all(
            loads
                .iter()
                .map(|load| load_node_images(&docker, &load.node, &load.needed)),
        )
        .await?;
        let _ = loaded.send(());
        try_join_all(loads.iter().map(|load| {
            lifecycle_addons::load_missing_into_node(&docker, &load.node, &load.later)
        }))
        .await?;
        Ok(())
    });
    ctx.node_images = Some(NodeImages {
        needed: Some(needed_loaded),
        all,
    });
    Ok(())
}

/// The images one node gets in the background: those pods of `start` need, then the rest.
struct NodeLoad {
    node: String,
    needed: Vec<String>,
    later: Vec<String>,
}

/// Waits until the node's containerd answers, then loads the images it lacks.
async fn load_node_images(docker: &Docker, node: &str, tags: &[String]) -> Result<()> {
    kube_api::wait_for(
        "containerd answering in the node",
        Duration::from_secs(60),
        || async {
            let out = containers::exec(docker, node, &["ctr", "version"], None).await?;
            Ok((out.exit_code == 0).then_some(()))
        },
    )
    .await
    .with_logs(docker, node)
    .await?;
    lifecycle_addons::load_missing_into_node(docker, node, tags)
        .await
        .with_context(|| format!("loading images into node {node}"))
}

/// Waits until the nodes hold the images the pods of `start` run (all of them with `all`).
async fn node_images_loaded(ctx: &mut StartContext<'_>, all: bool) -> Result<()> {
    let Some(loading) = ctx.node_images.as_mut() else {
        return Ok(());
    };
    if !all {
        // In now, or before (a failure takes the whole load away); else its error below.
        let failed = match loading.needed.take() {
            Some(needed) => needed.await.is_err(),
            None => false,
        };
        if !failed {
            return Ok(());
        }
    }
    // Everything asked for, or the load failed: its outcome says which.
    let loading = ctx.node_images.take().expect("checked above");
    let step = ctx.ui.step("Loading images into the nodes");
    loading
        .all
        .await
        .context("loading images into the nodes")??;
    step.done();
    Ok(())
}

/// Every node at once: registered with a pod CIDR and its CNI configuration written, then Ready.
async fn nodes(ctx: &mut StartContext<'_>) -> Result<()> {
    node_images_loaded(ctx, false).await?;
    let nodes = ctx.specs(Role::Node.as_str());
    let names: Vec<&str> = nodes.iter().map(|s| s.hostname.as_str()).collect();
    let step = ctx.ui.step(format!("Registering {}", names.join(", ")));
    let ctx_ref = &*ctx;
    try_join_all(nodes.iter().map(|spec| register_node(ctx_ref, spec))).await?;
    step.done();

    let step = ctx
        .ui
        .step(format!("Waiting for {} to be Ready", names.join(", ")));
    try_join_all(nodes.iter().map(|spec| wait_node_ready(ctx_ref, spec))).await?;
    step.done();
    Ok(())
}

/// One node after its kubelet starts: registered with a pod CIDR, its CNI configuration written.
async fn register_node(ctx: &StartContext<'_>, spec: &ContainerSpec) -> Result<()> {
    let docker = ctx.docker();
    let client = ctx.client();
    let node = spec.hostname.as_str();
    let pod_cidr = kube_api::wait_for(
        &format!("node {node} registered with a pod CIDR"),
        NODE_READY_TIMEOUT,
        || {
            let client = client.clone();
            async move {
                Ok(kube_api::get_node(&client, node)
                    .await?
                    .as_ref()
                    .and_then(kube_api::node_pod_cidr))
            }
        },
    )
    .await
    .with_logs(docker, &spec.name)
    .await?;
    let cidr = pod_cidr
        .parse()
        .with_context(|| format!("node {node} has an invalid pod CIDR '{pod_cidr}'"))?;
    staging::write_node_files(ctx.facts(), &spec.name, &[cni_file(cidr)])?;
    ctx.ui.detail(format!("{node}: pods in {pod_cidr}"));
    Ok(())
}

async fn wait_node_ready(ctx: &StartContext<'_>, spec: &ContainerSpec) -> Result<()> {
    let node = spec.hostname.as_str();
    kube_api::wait_for(&format!("node {node} Ready"), NODE_READY_TIMEOUT, || {
        let client = ctx.client().clone();
        async move {
            Ok(kube_api::get_node(&client, node)
                .await?
                .as_ref()
                .is_some_and(kube_api::node_is_ready)
                .then_some(()))
        }
    })
    .await
    .with_logs(ctx.docker(), &spec.name)
    .await
}

async fn sync_routes_step(ctx: &mut StartContext<'_>) -> Result<()> {
    let step = ctx
        .ui
        .step("Routing pod and service traffic through the nodes");
    let control_plane: Vec<ContainerSpec> = Role::CONTROL_PLANE
        .iter()
        .flat_map(|role| ctx.specs(role.as_str()))
        .collect();
    let nodes = ctx.specs(Role::Node.as_str());
    sync_routes(
        ctx.docker(),
        ctx.client(),
        ctx.config(),
        ctx.facts(),
        &control_plane,
        &nodes,
    )
    .await?;
    step.done();
    Ok(())
}

/// Every enabled addon, in the table's order: the choices of `--addons` stored first, the images
/// of addons enabled for the first time built, then each made to run and waited for.
async fn addons_step(ctx: &mut StartContext<'_>) -> Result<()> {
    let mut config = ctx.config().clone();
    for name in &ctx.request.addons {
        config.addons.set(name, true)?;
    }
    if config.addons.is_enabled(addons::REGISTRY_ADDON) {
        lifecycle_addons::choose_registry_port(&mut config)?;
    }
    if &config != ctx.config() {
        ctx.dir.save_config(&config)?;
        ctx.config = Some(config);
    }
    node_images_loaded(ctx, false).await?;
    let enabled = ctx.config().addons.enabled_addons();
    let docker = ctx.docker().clone();
    lifecycle_addons::build_images(&docker, ctx.home, ctx.config(), &enabled, ctx.ui).await?;
    // The addons' containers (the load balancer controller, the registry) that are stopped now
    // are started below: a failure stops them again.
    let addon_containers: Vec<String> = ctx
        .plan()
        .containers
        .iter()
        .filter(|c| c.role == load_balancer::CONTROLLER_ROLE)
        .map(|c| c.name.clone())
        .chain([addons::registry_container(ctx.profile)])
        .collect();
    // Recorded before they are made or started, as in `run_containers`.
    for name in addon_containers {
        let state = container_state(&docker, &name).await?;
        ctx.created.expect(&name, state.as_deref());
    }
    // All at once: they are independent, and one of them (the load balancer's controller) is
    // a container to create, which alone took as long as the others together.
    let names: Vec<&str> = enabled.iter().map(|a| a.name).collect();
    let step = ctx
        .ui
        .step(format!("Enabling the addons ({})", names.join(", ")));
    let results = {
        let cluster = addons_cluster(ctx, &docker);
        let tags = &ctx.node_image_tags;
        futures_util::future::join_all(enabled.iter().map(|addon| {
            let cluster = &cluster;
            async move {
                lifecycle_addons::apply(cluster, addon, tags)
                    .await
                    .with_context(|| format!("enabling the {} addon", addon.name))
            }
        }))
        .await
    };
    let mut failure = None;
    for result in results {
        match result {
            Ok(made) => {
                for name in &made {
                    ctx.created.add_container(name);
                }
            }
            Err(e) => {
                failure.get_or_insert(e);
            }
        }
    }
    match failure {
        Some(e) => {
            step.failed();
            Err(e)
        }
        None => {
            step.done();
            Ok(())
        }
    }
}

/// What the addon functions need of the cluster being started.
fn addons_cluster<'a>(
    ctx: &'a StartContext<'_>,
    docker: &'a Docker,
) -> lifecycle_addons::Cluster<'a> {
    lifecycle_addons::Cluster {
        profile: ctx.profile,
        config: ctx.config(),
        facts: ctx.facts(),
        plan: ctx.plan(),
        docker,
        client: ctx.client(),
        ui: ctx.ui,
    }
}

/// Every enabled addon serving, waited for at once (CoreDNS answering among them, so `start`
/// returns with a cluster whose Services resolve).
async fn addons_serving(ctx: &mut StartContext<'_>) -> Result<()> {
    let enabled = ctx.config().addons.enabled_addons();
    let names: Vec<&str> = enabled.iter().map(|a| a.name).collect();
    let step = ctx
        .ui
        .step(format!("Waiting for the addons ({})", names.join(", ")));
    let docker = ctx.docker().clone();
    let cluster = addons_cluster(ctx, &docker);
    try_join_all(
        enabled
            .iter()
            .map(|addon| lifecycle_addons::wait_serving(&cluster, addon)),
    )
    .await?;
    step.done();
    node_images_loaded(ctx, true).await
}

/// The profile's credentials in the user's kubeconfig (the context switched unless asked not to).
fn kubeconfig_merge(ctx: &mut StartContext<'_>) -> Result<()> {
    let credentials = kubeconfig_store::admin_credentials(&ctx.dir, ctx.config())?;
    let path = kubeconfig_store::merge_into_user(&credentials, ctx.request.switch_context)?;
    let context = credentials.context.clone();
    ctx.outcome = Some(if ctx.already_running {
        Outcome::AlreadyRunning {
            context,
            kubeconfig: path,
        }
    } else {
        Outcome::Started {
            context,
            kubeconfig: path,
        }
    });
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Helpers of the steps

/// Settings of a new profile: flags over defaults, plus a free apiserver port and network subnet.
async fn new_config(profile: &ProfileName, request: &StartRequest) -> Result<ProfileConfig> {
    let port = match request.apiserver_port {
        Some(port) => port,
        None => free_loopback_port()?,
    };
    let subnet = if request.dry_run {
        // A dry run does not ask Docker; a real start checks the choice against its networks.
        candidate_subnets(profile.as_str())
            .next()
            .expect("candidates")
    } else {
        let docker = docker::connect().await?;
        let mut taken = docker::network_subnets(&docker).await?;
        // Nor a range the host routes elsewhere (a VPN, another tool's bridge).
        taken.extend(crate::lifecycle::preflight::routed_ranges());
        candidate_subnets(profile.as_str())
            .find(|c| {
                !taken
                    .iter()
                    .any(|t| t.contains(&c.network()) || c.contains(&t.network()))
            })
            .context("every candidate subnet in 172.30.0.0/16 is taken by a Docker network: remove unused networks (`docker network prune`)")?
    };
    let mut config = ProfileConfig::new(port, subnet);
    if let Some(version) = &request.kubernetes_version {
        config.kubernetes_version = version.clone();
    }
    if let Some(days) = request.cert_validity_days {
        config.cert_validity_days = days;
    }
    config.nodes = Nodes::first(request.nodes.unwrap_or(1));
    config.image_repository = request.image_repository.clone();
    config.validate()?;
    Ok(config)
}

/// Flags that would change what an existing profile was created with are refused, not ignored.
fn check_unchanged(config: &ProfileConfig, request: &StartRequest) -> Result<()> {
    if let Some(version) = &request.kubernetes_version
        && version != &config.kubernetes_version
    {
        bail!(
            "this profile runs Kubernetes {}, not {version}: delete it first (`localkube delete`) \
                 or use another profile (`-p NAME`)",
            config.kubernetes_version
        );
    }
    if let Some(port) = request.apiserver_port
        && port != config.apiserver_port
    {
        bail!(
            "this profile's apiserver is on port {}, not {port}: the port is kept for the profile's \
                 life; delete it first or leave out --apiserver-port",
            config.apiserver_port
        );
    }
    if let Some(nodes) = request.nodes
        && nodes != config.nodes.count()
    {
        bail!(
            "this profile has {} nodes, not {nodes}: change them with `localkube node add` and \
                 `localkube node delete NAME`, or leave out --nodes",
            config.nodes.count()
        );
    }
    Ok(())
}

/// A port on 127.0.0.1 that nothing listens on now.
fn free_loopback_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
        .context("finding a free port on 127.0.0.1")?;
    Ok(listener.local_addr()?.port())
}

/// A port taken by another program fails the start before anything is created, with the fix.
async fn check_apiserver_port(
    docker: &Docker,
    profile: &ProfileName,
    config: &ProfileConfig,
) -> Result<()> {
    let apiserver = names::control_plane_container(profile, Role::Apiserver);
    if container_state(docker, &apiserver).await?.as_deref() == Some("running") {
        return Ok(());
    }
    if std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, config.apiserver_port)).is_err()
    {
        bail!(
            "port {} on 127.0.0.1, where this profile's apiserver is published, is taken by another program: stop that program, or delete the profile and start it again with another --apiserver-port",
            config.apiserver_port
        );
    }
    Ok(())
}

/// Whether every container of the plan exists, runs, and was made from this plan.
pub async fn all_running(docker: &Docker, plan: &ClusterPlan) -> Result<bool> {
    for spec in &plan.containers {
        if container_state(docker, &spec.name).await?.as_deref() != Some("running")
            || !is_current(docker, spec).await?
        {
            return Ok(false);
        }
    }
    Ok(true)
}

/// False for a stateless container made from an older plan (before an upgrade of localkube or of
/// the Kubernetes version): `start` makes it anew from this one.
async fn is_current(docker: &Docker, spec: &ContainerSpec) -> Result<bool> {
    let Some(digest) = spec.labels.get(names::LABEL_SPEC_DIGEST) else {
        return Ok(true);
    };
    if container_state(docker, &spec.name).await?.is_none() {
        return Ok(true); // nothing to replace: it is made from this plan
    }
    let existing =
        containers::container_label(docker, &spec.name, names::LABEL_SPEC_DIGEST).await?;
    Ok(existing.as_ref() == Some(digest))
}

/// Creates the container if missing, starts it if stopped; records what it created.
async fn run_container(docker: &Docker, spec: &ContainerSpec, created: &mut Created) -> Result<()> {
    // Only a container of this profile is adopted, replaced or started: one that merely has the
    // name is someone else's.
    containers::check_owned(docker, &spec.name, &spec.labels).await?;
    // The controller runs this very binary: a controller of another localkube build is replaced.
    if spec.role == load_balancer::CONTROLLER_ROLE
        && containers::container_image(docker, &spec.name)
            .await?
            .is_some_and(|image| image != spec.image)
    {
        containers::remove_container(docker, &spec.name).await?;
    }
    if !is_current(docker, spec).await? {
        containers::remove_container(docker, &spec.name).await?;
    }
    match container_state(docker, &spec.name).await? {
        None => {
            created.containers.push(spec.name.clone());
            containers::create_and_start(docker, spec).await?;
        }
        Some(state) if state == "running" => {}
        Some(_) => {
            containers::start_existing(docker, &spec.name).await?;
            created.started.push(spec.name.clone());
        }
    }
    Ok(())
}

fn control_plane_routes(config: &ProfileConfig, nodes: &[NodeRoute]) -> String {
    routes::render(
        &routes::control_plane(config, nodes),
        "the pod and service ranges go through the nodes, never Docker's gateway",
    )
}

/// Writes every container's routes from the nodes' pod CIDRs as the API server knows them, and
/// has netinit apply the control plane's again where they changed (it applies them by itself at
/// every container start).
pub async fn sync_routes(
    docker: &Docker,
    client: &Client,
    config: &ProfileConfig,
    paths: &HostFacts,
    control_plane: &[ContainerSpec],
    nodes: &[ContainerSpec],
) -> Result<()> {
    let mut node_routes = Vec::new();
    for spec in nodes {
        let pod_cidr = kube_api::get_node(client, &spec.hostname)
            .await?
            .as_ref()
            .and_then(kube_api::node_pod_cidr)
            .and_then(|cidr| cidr.parse().ok());
        node_routes.push(NodeRoute {
            ip: spec.ip,
            pod_cidr,
        });
    }
    for spec in nodes {
        let text = routes::render(
            &routes::node(&node_routes, spec.ip),
            "the other nodes' pods, each via its node",
        );
        staging::write_generated(paths, &spec.name, routes::NODE_ROUTES_FILE, &text)?;
    }
    let text = control_plane_routes(config, &node_routes);
    for spec in control_plane {
        let file = routes::CONTROL_PLANE_ROUTES_FILE;
        if staging::write_generated(paths, &spec.name, file, &text)? {
            let path = format!("{}/{file}", cluster::COMPONENT_CONFIG_DIR);
            containers::exec_ok(docker, &spec.name, &[cluster::NETINIT, &path])
                .await
                .with_context(|| format!("applying the new routes in {}", spec.name))?;
        }
    }
    Ok(())
}

/// Adds a component's last log lines to the error of a wait for it.
trait WithLogs<T> {
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
async fn component_failed(docker: &Docker, container: &str) -> String {
    let logs = containers::logs_tail(docker, container, 20).await;
    format!(
        "{container} did not become ready; its last log lines:\n{}",
        logs.trim_end()
    )
}
