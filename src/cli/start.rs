//! `localkube start`: create or resume the profile's cluster. The steps are in
//! `lifecycle::start`; this maps the flags to a request and prints the outcome.

use anyhow::Result;

use super::Ctx;
use crate::effects::cluster_file::check_mounts;
use crate::lifecycle::start::{Outcome, StartRequest};
use crate::plan::cluster;
use crate::plan::image_repository::parse_repository;
use crate::plan::settings::ClusterSettings;
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

    /// Number of nodes of a new profile (default 1); `node add` and `node delete` change them
    /// later.
    #[arg(long)]
    pub nodes: Option<u32>,

    /// Control-plane members of a new profile: 1 (the default) or 3, each with etcd, an
    /// apiserver, a controller-manager and a scheduler, the apiservers behind one address.
    #[arg(long)]
    pub control_planes: Option<u32>,

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

    /// Make new CAs and reissue every certificate and kubeconfig, restarting the components
    /// with them. The cluster's objects are kept; kubeconfigs copied elsewhere stop working.
    /// Without it, a profile that holds cluster data never gets a new CA.
    #[arg(long)]
    pub renew_ca: bool,

    /// Addons to enable besides those on by default (comma-separated; `localkube addons list`);
    /// kept in the profile.
    #[arg(long, value_delimiter = ',')]
    pub addons: Vec<String>,

    /// Pull the images from this registry instead of building them (`REGISTRY[/PATH]`, where
    /// `localkube images push` published them); each is checked against the digests the push
    /// recorded. Kept in the profile, so later starts use it too.
    #[arg(long, value_parser = parse_repository)]
    pub image_repository: Option<String>,

    /// With --image-repository: build here whatever the registry lacks instead of failing.
    #[arg(long)]
    pub build_if_missing: bool,

    /// Load the images from an archive written by `localkube images save` first (checked before
    /// anything is imported), so nothing is compiled: for machines without Go or time to build.
    /// A new profile then runs the archive's Kubernetes version.
    /// Not with --image-repository: one source of images at a time.
    #[arg(long, value_name = "FILE", conflicts_with = "image_repository")]
    pub images: Option<std::path::PathBuf>,

    /// A cluster file (`apiVersion: localkube.dev/v1alpha1`, `kind: Cluster`; README "The
    /// cluster file"): version, nodes with labels and taints, addons, gates, component
    /// settings, host folders, audit log. Flags given too win over it. On a running profile it
    /// changes what can change in place.
    #[arg(long, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,

    /// COMPONENT.KEY=VALUE, as minikube: a flag of apiserver, controller-manager or scheduler, or
    /// a field of kubelet (KubeletConfiguration) or kube-proxy (KubeProxyConfiguration);
    /// repeatable. Checked against what that component of the profile's release accepts.
    #[arg(long, value_name = "COMPONENT.KEY=VALUE")]
    pub extra_config: Vec<String>,

    /// NAME=true|false,... for every component that knows the gate, merged over localkube's.
    #[arg(long, value_name = "GATES")]
    pub feature_gates: Vec<String>,

    /// HOST_FOLDER:NODE_PATH[:ro]: a host folder bound into every node (for hostPath volumes and
    /// local PersistentVolumes); `:ro` lets nodes and pods read it only. Repeatable.
    #[arg(long, value_name = "HOST:NODE[:ro]")]
    pub mount: Vec<String>,

    /// Which Services also answer on localhost, as on Docker Desktop: `all` (the default),
    /// `none`, or some of loadbalancer,nodeport,ingress. Kept in the profile; a running
    /// profile follows a change.
    #[arg(long, value_name = "KINDS", value_parser = crate::plan::localhost::Localhost::parse)]
    pub localhost: Option<crate::plan::localhost::Localhost>,

    /// Accept settings that switch a safeguard of the cluster off (AlwaysAllow, anonymous
    /// access, the kubelet's read-only port, ...) and host folders of the denylist (`/proc`,
    /// `/etc`, `/run`, ...), as `insecure: true` in a cluster file does; `start` and `status`
    /// then list them. Kept in the profile.
    #[arg(long)]
    pub insecure: bool,

    /// Address families of a new profile: ipv4 (the default), ipv6, or dual (IPv4 and IPv6,
    /// IPv4 first). Fixed when the profile is created; a cluster file's `networking:` also sets
    /// the ranges.
    #[arg(long, value_name = "FAMILY", value_parser = crate::plan::networking::IpFamily::parse)]
    pub ip_family: Option<crate::plan::networking::IpFamily>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<u8> {
    let mut overlay = ClusterSettings::default();
    for text in &args.extra_config {
        overlay.add_extra_config(text)?;
    }
    for text in &args.feature_gates {
        overlay.add_feature_gates(text)?;
    }
    for text in &args.mount {
        overlay.add_mount(text)?;
    }
    overlay.insecure = args.insecure;
    let mut file = match &args.config {
        Some(path) => Some(crate::effects::cluster_file::load(path)?),
        None => None,
    };
    // The user's word counts from the flag, the file, or the profile it already gave it to.
    let insecure = args.insecure
        || file.as_ref().is_some_and(|f| f.settings.insecure)
        || (args.config.is_none()
            && ctx
                .home
                .profile(&ctx.profile)
                .load_config()
                .is_ok_and(|c| c.settings.insecure));
    check_mounts(&ctx.home, &mut overlay, insecure)?;
    if let Some(file) = &mut file {
        check_mounts(&ctx.home, &mut file.settings, insecure)?;
    }
    let mut args = args;
    if let Some(file) = &mut file {
        args.kubernetes_version = flag_wins(
            ctx,
            "--kubernetes-version",
            "kubernetesVersion",
            args.kubernetes_version.take(),
            file.kubernetes_version
                .take()
                .map(|v| {
                    parse_kubernetes_version(&v)
                        .map_err(|e| anyhow::anyhow!("kubernetesVersion: {e}"))
                })
                .transpose()?,
        );
        args.nodes = flag_wins(ctx, "--nodes", "nodes", args.nodes, file.nodes);
        args.control_planes = flag_wins(
            ctx,
            "--control-planes",
            "controlPlanes",
            args.control_planes,
            file.control_planes,
        );
        args.localhost = flag_wins(
            ctx,
            "--localhost",
            "localhost",
            args.localhost.map(LocalhostKinds),
            file.localhost.map(LocalhostKinds),
        )
        .map(|k| k.0);
        args.apiserver_port = flag_wins(
            ctx,
            "--apiserver-port",
            "apiServer.port",
            args.apiserver_port,
            file.apiserver_port,
        );
        file.networking.ip_family = flag_wins(
            ctx,
            "--ip-family",
            "networking.ipFamily",
            args.ip_family,
            file.networking.ip_family,
        );
        for addon in std::mem::take(&mut file.addons) {
            if !args.addons.contains(&addon) {
                args.addons.push(addon);
            }
        }
        for line in crate::plan::settings::overlay_conflicts(&file.settings, &overlay) {
            ctx.ui.info(line);
        }
    }
    let networking = match &file {
        Some(file) => file.networking.clone(),
        None => crate::plan::networking::Networking {
            ip_family: args.ip_family,
            ..Default::default()
        },
    };
    let request = StartRequest {
        networking,
        settings: file.map(|f| f.settings),
        settings_overlay: overlay,
        kubernetes_version: args.kubernetes_version,
        apiserver_port: args.apiserver_port,
        nodes: args.nodes,
        control_planes: args.control_planes,
        cert_validity_days: args.cert_validity_days,
        switch_context: !args.keep_context,
        dry_run: args.dry_run,
        keep_on_failure: args.keep_on_failure,
        add_node: false,
        renew_ca: args.renew_ca,
        addons: args.addons,
        image_repository: args.image_repository,
        build_if_missing: args.build_if_missing,
        images_archive: args.images,
        localhost: args.localhost,
    };
    let outcome = super::block_on(crate::lifecycle::upgrade::start_or_upgrade(
        &ctx.home,
        &ctx.profile,
        &ctx.ui,
        &request,
    ))??;
    // `--addons` of a cluster that already ran: where they answer, as `addons enable` prints it.
    if let Outcome::AlreadyRunning { addresses, .. } = &outcome {
        for address in addresses {
            println!("{address}");
        }
    }
    print_outcome(ctx, &outcome, args.keep_context)?;
    Ok(0)
}

/// The kinds, as the flag writes them, for `flag_wins`'s message.
#[derive(PartialEq)]
struct LocalhostKinds(crate::plan::localhost::Localhost);

impl std::fmt::Display for LocalhostKinds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.describe())
    }
}

/// A flag's value when given (saying so when it overrides the file's), else the file's.
fn flag_wins<T: PartialEq + std::fmt::Display>(
    ctx: &Ctx,
    flag: &str,
    field: &str,
    given: Option<T>,
    from_file: Option<T>,
) -> Option<T> {
    match (given, from_file) {
        (Some(given), Some(theirs)) => {
            if given != theirs {
                ctx.ui.info(format!(
                    "{flag} {given} wins over the file's {field}: {theirs}"
                ));
            }
            Some(given)
        }
        (given, theirs) => given.or(theirs),
    }
}

/// What a start tells the user at the end: the dry run's plan, or which context kubectl uses.
pub fn print_outcome(ctx: &Ctx, outcome: &Outcome, keep_context: bool) -> Result<()> {
    // On every start, as long as the profile keeps them.
    if let Ok(config) = ctx.home.profile(&ctx.profile).load_config() {
        for line in config.settings.insecure_report() {
            ctx.ui.info(format!(
                "Insecure, as the profile says (`insecure: true`): {line}"
            ));
        }
    }
    let (context, kubeconfig) = match outcome {
        Outcome::Planned(plan) => {
            if ctx.json() {
                println!("{}", serde_json::to_string_pretty(plan)?);
            } else {
                print!("{}", cluster::render_text(plan));
            }
            ctx.ui.info(format!(
                "Dry run: profile '{}' written to {}; no container was created.",
                ctx.profile,
                ctx.home.profile(&ctx.profile).dir.display()
            ));
            return Ok(());
        }
        Outcome::UpgradePlanned(plan) => {
            if ctx.json() {
                println!("{}", serde_json::to_string_pretty(plan)?);
            } else {
                print!("{}", crate::plan::upgrade::render_text(plan));
            }
            ctx.ui.info(format!(
                "Dry run: profile '{}' was not changed.",
                ctx.profile
            ));
            return Ok(());
        }
        Outcome::AlreadyRunning {
            context,
            kubeconfig,
            ..
        } => {
            ctx.ui
                .info(format!("Profile '{}' is already running.", ctx.profile));
            (context, kubeconfig)
        }
        Outcome::Started {
            context,
            kubeconfig,
        } => (context, kubeconfig),
    };
    if keep_context {
        ctx.ui.info(format!(
            "Done. Context '{context}' added to {}; kubectl's current context is unchanged \
             (`kubectl config use-context {context}` switches to it).",
            kubeconfig.display(),
        ));
    } else {
        ctx.ui.info(format!(
            "Done. kubectl now uses context '{context}' ({}).",
            kubeconfig.display()
        ));
    }
    Ok(())
}
