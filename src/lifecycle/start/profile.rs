//! The `ProfileConfig` step: a new profile's settings chosen and written, or an existing one's
//! loaded with the flags that would change it refused.

use anyhow::{Context, Result, bail};

use super::StartRequest;
use super::context::StartContext;
use crate::effects::{docker, host_facts, kubeconfig_store};
use crate::plan::config::{Nodes, ProfileConfig, candidate_subnets};
use crate::plan::profile_name::ProfileName;
use crate::plan::{exposure, names};

/// A new profile: flags over defaults, plus a free apiserver port and network subnet, written to
/// config.yaml. An existing one: its config.yaml, with flags that would change it refused.
pub(super) async fn profile_config(ctx: &mut StartContext<'_>) -> Result<()> {
    let request = &ctx.request.clone();
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
    // More nodes than the profile has: added, as `node add` adds them.
    if let Some(wanted) = request.nodes
        && wanted > config.nodes.count()
        && !request.add_node
    {
        let step = ctx.ui.step(format!(
            "Adding {} node(s) for nodes: {wanted}",
            wanted - config.nodes.count()
        ));
        let mut grown = config.clone();
        grown.nodes = grown_nodes(&config.nodes, Some(wanted));
        grown.validate()?;
        ctx.dir.save_config(&grown)?;
        ctx.previous_config = Some(config);
        config = grown;
        step.done();
    }
    // A changed cluster file or settings flags: what can change in place is stored, and the
    // later steps recreate exactly the containers whose plan it changes.
    let settings = settings_for_profile(request, ctx.previous_config.as_ref().or(Some(&config)));
    if settings != config.settings {
        settings.validate(&config.kubernetes_version, config.nodes.numbers())?;
        for line in crate::plan::settings::describe_changes(&config.settings, &settings) {
            ctx.ui.info(line);
        }
        config.settings = settings;
        ctx.dir.save_config(&config)?;
    }
    // Which kinds answer on localhost may change on a running profile: the load balancer's
    // controller is made anew with it (its digest covers it).
    if let Some(localhost) = request.localhost
        && localhost != config.localhost
    {
        ctx.ui.info(format!(
            "localhost: {} answer there now (was: {})",
            localhost.describe(),
            config.localhost.describe()
        ));
        config.localhost = localhost;
        ctx.dir.save_config(&config)?;
    }
    // The image source may change between starts: the images step checks what it gives. Naming
    // it accepts the index it holds now, which the images step records again.
    if let Some(repository) = &request.image_repository
        && (config.image_repository.as_ref() != Some(repository) || config.image_index.is_some())
    {
        config.image_repository = Some(repository.clone());
        config.image_index = None;
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

/// Settings of a new profile: flags over defaults, plus a free apiserver port and network subnet.
pub(super) async fn new_config(
    profile: &ProfileName,
    request: &StartRequest,
) -> Result<ProfileConfig> {
    let port = match request.apiserver_port {
        Some(port) => port,
        None => free_loopback_port()?,
    };
    let (subnet, exposure) = if request.dry_run {
        // A dry run does not ask Docker; a real start checks the choices against it.
        let forced = std::env::var(exposure::EXPOSURE_ENV).ok();
        (
            candidate_subnets(profile.as_str())
                .next()
                .expect("candidates"),
            exposure::choose_exposure(forced.as_deref(), true, false)
                .map_err(anyhow::Error::msg)?,
        )
    } else {
        network_choices(profile).await?
    };
    let mut config = ProfileConfig::new(port, subnet);
    if let Some(version) = &request.kubernetes_version {
        config.kubernetes_version = version.clone();
    }
    if let Some(days) = request.cert_validity_days {
        config.cert_validity_days = days;
    }
    config.nodes = Nodes::first(request.nodes.unwrap_or(1));
    config.control_planes = request.control_planes.unwrap_or(1);
    config.set_networking(&request.networking)?;
    if !request.dry_run {
        config.ranges().check_host_routes(
            &crate::lifecycle::preflight::host_routes(),
            &request.networking,
        )?;
    }
    config.image_repository = request.image_repository.clone();
    config.load_balancer = exposure;
    if let Some(localhost) = request.localhost {
        config.localhost = localhost;
    }
    config.validate()?;
    config.settings = settings_for_profile(request, None);
    config
        .settings
        .validate(&config.kubernetes_version, config.nodes.numbers())?;
    Ok(config)
}

/// Flags that would change what an existing profile was created with are refused, not ignored.
pub(super) fn check_unchanged(config: &ProfileConfig, request: &StartRequest) -> Result<()> {
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
        && nodes < config.nodes.count()
    {
        bail!(
            "this profile has {} nodes, not {nodes}: `start` adds nodes but never removes one \
                 (its pods and local volumes would go with it); remove one with \
                 `localkube node delete NAME` (it drains it first), or ask for {} or more",
            config.nodes.count(),
            config.nodes.count()
        );
    }
    if let Some(members) = request.control_planes
        && members != config.control_planes
    {
        bail!("{}", control_planes_refusal(config.control_planes, members));
    }
    if let Some(refusal) = request.networking.refusal(config.ranges()) {
        bail!("{refusal}");
    }
    Ok(())
}

/// The settings a profile is to have, node settings given by position in the file placed on
/// the profile's node numbers (a profile whose node 2 was deleted has nodes 1 and 3).
fn settings_for_profile(
    request: &StartRequest,
    config: Option<&ProfileConfig>,
) -> crate::plan::settings::ClusterSettings {
    let mut settings = request.settings_for(config.map(|c| &c.settings));
    if request.settings.is_some()
        && let Some(config) = config
    {
        let nodes = grown_nodes(&config.nodes, request.nodes);
        let numbers = nodes.numbers();
        settings.node_settings = std::mem::take(&mut settings.node_settings)
            .into_iter()
            .map(|(position, node)| {
                // A position past the nodes keeps its number, so validation names it.
                let number = numbers
                    .get(position as usize - 1)
                    .copied()
                    .unwrap_or(position);
                (number, node)
            })
            .collect();
    }
    settings
}

/// The profile's nodes with any a larger `--nodes` (or file's `nodes`) adds.
fn grown_nodes(nodes: &Nodes, wanted: Option<u32>) -> Nodes {
    let mut nodes = nodes.clone();
    while nodes.count() < wanted.unwrap_or(0) {
        nodes = nodes.with(nodes.next_free());
    }
    nodes
}

/// The settings a start would give the profile, checked before anything is made: an unknown
/// field, flag, gate or label is refused naming it and what is accepted.
pub(super) fn check_settings(
    home: &crate::effects::home::Home,
    profile: &ProfileName,
    request: &StartRequest,
) -> Result<()> {
    let dir = home.profile(profile);
    // A plain `start` of an existing profile keeps the settings it was checked with.
    if dir.exists() && request.settings.is_none() && request.settings_overlay.is_empty() {
        return Ok(());
    }
    let config = if dir.exists() {
        Some(dir.load_config()?)
    } else {
        None
    };
    let settings = settings_for_profile(request, config.as_ref());
    let version = request
        .kubernetes_version
        .clone()
        .or_else(|| config.as_ref().map(|c| c.kubernetes_version.clone()))
        .unwrap_or_else(|| crate::plan::version::DEFAULT_KUBERNETES_VERSION.to_string());
    let numbers: Vec<u32> = match &config {
        Some(c) => grown_nodes(&c.nodes, request.nodes).numbers().to_vec(),
        None => (1..=request.nodes.unwrap_or(1)).collect(),
    };
    settings.validate(&version, &numbers)?;
    Ok(())
}

/// Why an existing profile keeps its control plane's size: the members of a new etcd would have to
/// join the running one one at a time (and a member removed, leave it), and the apiserver's address
/// would move from the apiserver to a load balancer under every kubeconfig and certificate of the
/// cluster. Neither is done to a cluster holding a user's objects.
pub(super) fn control_planes_refusal(has: u32, asked: u32) -> String {
    format!(
        "this profile has {has} control-plane member{}, not {asked}: the size is fixed when a \
         profile is created (new etcd members would have to join the running cluster one by one, \
         and every node and component would move to another apiserver address); start another \
         profile with `--control-planes {asked} -p NAME`, or delete this one first \
         (`localkube delete`), or leave out --control-planes",
        if has == 1 { "" } else { "s" }
    )
}

/// This machine's choices for a new profile's network (a start's or a snapshot import's): a
/// subnet clear of Docker's networks and of the host's routes, and how the host reaches
/// LoadBalancer services.
pub(crate) async fn network_choices(
    profile: &ProfileName,
) -> Result<(ipnet::Ipv4Net, exposure::Exposure)> {
    let docker = docker::connect().await?;
    // Where the daemon's network namespace is not this host's, LoadBalancer ports are
    // published on 127.0.0.1 instead of served on loopback addresses the host cannot reach.
    let daemon = host_facts::daemon(&docker).await?;
    let forced = std::env::var(exposure::EXPOSURE_ENV).ok();
    let exposure = exposure::choose_exposure(forced.as_deref(), daemon.local, daemon.is_rootless())
        .map_err(anyhow::Error::msg)?;
    let mut taken = docker::network_subnets(&docker).await?;
    // Nor a range the host routes elsewhere (a VPN, another tool's bridge).
    taken.extend(crate::lifecycle::preflight::routed_ranges());
    let subnet = candidate_subnets(profile.as_str())
        .find(|c| {
            !taken
                .iter()
                .any(|t| t.contains(&c.network()) || c.contains(&t.network()))
        })
        .context("every candidate subnet in 172.30.0.0/16 is taken by a Docker network or a route of this host: remove unused networks (`docker network prune`)")?;
    Ok((subnet, exposure))
}

/// A port on 127.0.0.1 that nothing listens on now.
pub(crate) fn free_loopback_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
        .context("finding a free port on 127.0.0.1")?;
    Ok(listener.local_addr()?.port())
}
