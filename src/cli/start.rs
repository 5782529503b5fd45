//! `localkube start`: create or resume the profile's cluster.

use std::net::{Ipv4Addr, TcpListener};

use anyhow::{Context, Result, bail};

use super::Ctx;
use crate::effects::home::ProfileDir;
use crate::effects::lock::lock_profile;
use crate::effects::{containers, docker, image_build, kubeconfig_store, lb_image, pki_store};
use crate::lifecycle::start as lifecycle;
use crate::plan::cluster::{self, HostFacts};
use crate::plan::config::{ProfileConfig, candidate_subnets};
use crate::plan::pki;
use crate::plan::version::parse_kubernetes_version;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Kubernetes release to run, vX.Y.Z (default: localkube's pinned version). Fixed when the
    /// profile is created.
    #[arg(long, value_parser = parse_kubernetes_version)]
    pub kubernetes_version: Option<String>,

    /// Host port on 127.0.0.1 for the apiserver (default: a free port, chosen once and kept).
    #[arg(long)]
    pub apiserver_port: Option<u16>,

    /// Number of nodes.
    #[arg(long, default_value_t = 1)]
    pub nodes: u32,

    /// Validity of leaf certificates in days (default 3 years); CAs get 10 years.
    #[arg(long)]
    pub cert_validity_days: Option<u32>,

    /// Do not switch kubectl's current context to this profile.
    #[arg(long)]
    pub keep_context: bool,

    /// Write the profile, its certificates and kubeconfigs, and print the containers that would be
    /// created, without touching Docker.
    #[arg(long)]
    pub dry_run: bool,

    /// On failure, keep what this run created, for debugging.
    #[arg(long)]
    pub keep_on_failure: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<u8> {
    let _lock = lock_profile(&ctx.home, &ctx.profile)?;
    let profile = ctx.home.profile(&ctx.profile);
    let is_new = !profile.exists();
    let result = start(ctx, &profile, is_new, &args);
    if result.is_err() && is_new && !args.keep_on_failure {
        // Nothing half-made: a profile this run created goes away with its failure.
        profile.remove()?;
    }
    result
}

fn start(ctx: &Ctx, profile: &ProfileDir, is_new: bool, args: &Args) -> Result<u8> {
    if args.nodes != 1 {
        bail!(
            "--nodes {}: this version of localkube starts single-node clusters; leave out --nodes",
            args.nodes
        );
    }
    let config = if is_new {
        let step = ctx.ui.step(format!("Creating profile '{}'", ctx.profile));
        let config = new_config(ctx, args)?;
        profile.save_config(&config)?;
        step.done();
        config
    } else {
        let config = profile.load_config()?;
        check_unchanged(&config, args)?;
        config
    };

    let step = ctx.ui.step("Generating certificates");
    let outcome = pki_store::ensure_pki(&profile.pki_dir(), &pki::plan(&ctx.profile, &config))?;
    if outcome.generated.is_empty() {
        step.done_with("all present and valid");
    } else {
        step.done_with(format!("{} generated", outcome.generated.len()));
    }
    for name in &outcome.generated {
        ctx.ui.detail(format!("generated {name}"));
    }
    let step = ctx.ui.step("Writing kubeconfigs");
    kubeconfig_store::write_component_kubeconfigs(profile, &config)?;
    step.done();

    let facts = profile.host_facts()?;
    let plan = cluster::plan(&ctx.profile, &config, &facts);
    if args.dry_run {
        if ctx.json() {
            println!("{}", serde_json::to_string_pretty(&plan)?);
        } else {
            print!("{}", cluster::render_text(&plan));
        }
        ctx.ui.info(format!(
            "Dry run: profile '{}' written to {}; no container was created.",
            ctx.profile,
            profile.dir.display()
        ));
        return Ok(0);
    }
    let outcome = super::block_on(bring_up(ctx, profile, &config, &plan, &facts, args))??;
    if outcome == Outcome::AlreadyRunning {
        ctx.ui
            .info(format!("Profile '{}' is already running.", ctx.profile));
    }
    let credentials = kubeconfig_store::admin_credentials(profile, &config)?;
    let path = kubeconfig_store::merge_into_user(&credentials, !args.keep_context)?;
    if args.keep_context {
        ctx.ui.info(format!(
            "Done. Context '{}' added to {}; kubectl's current context is unchanged              (`kubectl config use-context {}` switches to it).",
            credentials.context,
            path.display(),
            credentials.context
        ));
    } else {
        ctx.ui.info(format!(
            "Done. kubectl now uses context '{}' ({}).",
            credentials.context,
            path.display()
        ));
    }
    Ok(0)
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Started,
    AlreadyRunning,
}

async fn bring_up(
    ctx: &Ctx,
    profile: &ProfileDir,
    config: &ProfileConfig,
    plan: &cluster::ClusterPlan,
    facts: &HostFacts,
    args: &Args,
) -> Result<Outcome> {
    let docker = docker::connect().await?;
    image_build::ensure_images(
        &docker,
        ctx.home.cache(),
        &config.kubernetes_version,
        &ctx.ui,
    )
    .await?;
    lb_image::ensure_lb_image(&docker, &facts.lb_image, &config.kubernetes_version).await?;
    if lifecycle::all_running(&docker, plan).await? {
        return Ok(Outcome::AlreadyRunning);
    }
    check_apiserver_port(&docker, &ctx.profile, config).await?;
    let input = lifecycle::StartInput {
        profile: &ctx.profile,
        dir: profile,
        config,
        plan,
        facts,
        ui: &ctx.ui,
    };
    let mut created = lifecycle::Created::default();
    match lifecycle::bring_up(&docker, &input, &mut created).await {
        Ok(()) => Ok(Outcome::Started),
        Err(err) if args.keep_on_failure || created.is_empty() => Err(err),
        Err(err) => {
            let step = ctx.ui.step("Removing what this start created");
            if let Err(cleanup) = created.roll_back(&docker).await {
                step.failed();
                return Err(err.context(format!("and cleaning up failed too: {cleanup:#}")));
            }
            step.done_with("use --keep-on-failure to keep it for debugging");
            Err(err)
        }
    }
}

/// A port taken by another program fails the start before anything is created, with the fix.
async fn check_apiserver_port(
    docker: &bollard::Docker,
    profile: &crate::plan::profile_name::ProfileName,
    config: &ProfileConfig,
) -> Result<()> {
    let apiserver =
        crate::plan::names::control_plane_container(profile, crate::plan::names::Role::Apiserver);
    if containers::container_state(docker, &apiserver)
        .await?
        .as_deref()
        == Some("running")
    {
        return Ok(());
    }
    if TcpListener::bind((Ipv4Addr::LOCALHOST, config.apiserver_port)).is_err() {
        bail!(
            "port {} on 127.0.0.1, where this profile's apiserver is published, is taken by another program: stop that program, or delete the profile and start it again with another --apiserver-port",
            config.apiserver_port
        );
    }
    Ok(())
}

/// Settings of a new profile: flags over defaults, plus a free apiserver port and network subnet.
fn new_config(ctx: &Ctx, args: &Args) -> Result<ProfileConfig> {
    let port = match args.apiserver_port {
        Some(port) => port,
        None => free_loopback_port()?,
    };
    let subnet = if args.dry_run {
        // A dry run does not ask Docker; a real start checks the choice against its networks.
        candidate_subnets(ctx.profile.as_str())
            .next()
            .expect("candidates")
    } else {
        let taken = super::block_on(async {
            let docker = docker::connect().await?;
            docker::network_subnets(&docker).await
        })??;
        candidate_subnets(ctx.profile.as_str())
            .find(|c| {
                !taken
                    .iter()
                    .any(|t| t.contains(&c.network()) || c.contains(&t.network()))
            })
            .context("every candidate subnet in 172.30.0.0/16 is taken by a Docker network: remove unused networks (`docker network prune`)")?
    };
    let mut config = ProfileConfig::new(port, subnet);
    if let Some(version) = &args.kubernetes_version {
        config.kubernetes_version = version.clone();
    }
    if let Some(days) = args.cert_validity_days {
        config.cert_validity_days = days;
    }
    config.nodes = args.nodes;
    config.validate()?;
    Ok(config)
}

/// Flags that would change what an existing profile was created with are refused, not ignored.
fn check_unchanged(config: &ProfileConfig, args: &Args) -> Result<()> {
    if let Some(version) = &args.kubernetes_version
        && version != &config.kubernetes_version
    {
        bail!(
            "this profile runs Kubernetes {}, not {version}: delete it first (`localkube delete`) \
                 or use another profile (`-p NAME`)",
            config.kubernetes_version
        );
    }
    if let Some(port) = args.apiserver_port
        && port != config.apiserver_port
    {
        bail!(
            "this profile's apiserver is on port {}, not {port}: the port is kept for the profile's \
                 life; delete it first or leave out --apiserver-port",
            config.apiserver_port
        );
    }
    Ok(())
}

/// A port on 127.0.0.1 that nothing listens on now.
fn free_loopback_port() -> Result<u16> {
    let listener =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("finding a free port on 127.0.0.1")?;
    Ok(listener.local_addr()?.port())
}
