//! The `ProfileConfig` step: a new profile's settings chosen and written, or an existing one's
//! loaded with the flags that would change it refused.

use anyhow::{Context, Result, bail};

use super::StartRequest;
use super::context::StartContext;
use crate::effects::{docker, kubeconfig_store};
use crate::plan::config::{Nodes, ProfileConfig, candidate_subnets};
use crate::plan::names;
use crate::plan::profile_name::ProfileName;

/// A new profile: flags over defaults, plus a free apiserver port and network subnet, written to
/// config.yaml. An existing one: its config.yaml, with flags that would change it refused.
pub(super) async fn profile_config(ctx: &mut StartContext<'_>) -> Result<()> {
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

/// Settings of a new profile: flags over defaults, plus a free apiserver port and network subnet.
pub(super) async fn new_config(
    profile: &ProfileName,
    request: &StartRequest,
) -> Result<ProfileConfig> {
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
    config.control_planes = request.control_planes.unwrap_or(1);
    config.image_repository = request.image_repository.clone();
    config.validate()?;
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
        && nodes != config.nodes.count()
    {
        bail!(
            "this profile has {} nodes, not {nodes}: change them with `localkube node add` and \
                 `localkube node delete NAME`, or leave out --nodes",
            config.nodes.count()
        );
    }
    if let Some(members) = request.control_planes
        && members != config.control_planes
    {
        bail!("{}", control_planes_refusal(config.control_planes, members));
    }
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

/// A port on 127.0.0.1 that nothing listens on now.
pub(super) fn free_loopback_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
        .context("finding a free port on 127.0.0.1")?;
    Ok(listener.local_addr()?.port())
}
