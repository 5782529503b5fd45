//! The command line: one module per verb. Each maps its flags onto the library and prints; none
//! holds logic of its own beyond that.

use anyhow::Result;
use clap::{Parser, Subcommand, ValueEnum};

use crate::effects::home::Home;
use crate::plan::profile_name::{DEFAULT_PROFILE, ProfileName};
use crate::ui::Ui;

pub mod addons;
pub mod completion;
pub mod config;
pub mod cp;
pub mod dashboard;
pub mod delete;
pub mod doctor;
pub mod image;
pub mod images;
pub mod ip;
pub mod kubectl;
pub mod lb;
pub mod logs;
pub mod node;
pub mod pause;
pub mod profile;
pub mod service;
pub mod snapshot;
pub mod ssh;
pub mod start;
pub mod status;
pub mod stop;
pub mod tunnel;
pub mod update_context;
pub mod version;

/// Start a real, upstream Kubernetes cluster on your local Docker engine, one container per
/// component, with service URLs, a LoadBalancer stand-in and a dashboard.
#[derive(Debug, Parser)]
#[command(name = "localkube", version, propagate_version = true)]
pub struct Cli {
    /// The profile (cluster) to act on: 1-40 lower-case letters, digits and '-'.
    #[arg(short, long, global = true, default_value = DEFAULT_PROFILE, env = "LOCALKUBE_PROFILE")]
    pub profile: ProfileName,

    /// Show more detail (component command lines, compiler output).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Output format of verbs that print data.
    #[arg(short, long, global = true, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create or resume the profile's cluster.
    Start(start::Args),
    /// Stop the profile's containers, keeping every object and volume.
    Stop(stop::Args),
    /// Freeze the profile's containers (no CPU used) until `unpause`.
    Pause(pause::Args),
    /// Resume a paused profile: every pod, address and connection as it was.
    Unpause(pause::Args),
    /// Snapshots of the whole cluster: save, list, restore, delete, export, import.
    Snapshot(snapshot::Args),
    /// Remove the profile: its containers, network, volumes, files and kubeconfig entries.
    Delete(delete::Args),
    /// Show the state of each component and the kubeconfig context.
    Status(status::Args),
    /// Check this host for what `start` needs (Docker, cgroups, kernel, inotify, disk, network,
    /// port), each problem with its fix.
    Doctor(doctor::Args),
    /// Print or open the URLs of a service.
    Service(service::Args),
    /// Show the LoadBalancer services and their addresses, or run the tunnel in the foreground.
    Tunnel(tunnel::Args),
    /// Serve the dashboard on 127.0.0.1 and open it.
    Dashboard(dashboard::Args),
    /// Run the version-matched kubectl against the profile: `localkube kubectl -- get pods`.
    Kubectl(kubectl::Args),
    /// Images inside the cluster's nodes: load from the host's Docker, list.
    Image(image::Args),
    /// The component images localkube builds from upstream sources: build, list.
    Images(images::Args),
    /// Optional cluster components: list, enable, disable.
    Addons(addons::Args),
    /// The cluster's nodes: add, list, delete.
    Node(node::Args),
    /// Show a component's logs, or the apiserver's audit log (`logs audit`).
    Logs(logs::Args),
    /// The profile's effective cluster file (`view`); what a release's components accept
    /// (`known`).
    Config(config::Args),
    /// Run a shell or a command in a node.
    Ssh(ssh::Args),
    /// Copy a file between the host and a node: `cp SRC NODE:DST`, `cp NODE:SRC DST`.
    Cp(cp::Args),
    /// Print a node's IP address (default: the first node).
    Ip(ip::Args),
    /// Point the profile's kubeconfig entry at the apiserver's current address.
    #[command(name = "update-context")]
    UpdateContext(update_context::Args),
    /// Profiles on this machine.
    Profile(profile::Args),
    /// Print localkube's version and the Kubernetes version it runs by default.
    Version(version::Args),
    /// Print shell completions: `localkube completion bash > /etc/bash_completion.d/localkube`.
    Completion(completion::Args),
    /// Runs inside the profile's load balancer controller container.
    #[command(hide = true, name = "lb-controller")]
    LbController(lb::ControllerArgs),
    /// Runs inside a LoadBalancer service's proxy container.
    #[command(hide = true, name = "lb-proxy")]
    LbProxy(lb::ProxyArgs),
}

/// What every verb gets: where things live, which profile, how to print.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub home: Home,
    pub profile: ProfileName,
    pub output: OutputFormat,
    pub ui: Ui,
}

impl Ctx {
    pub fn json(&self) -> bool {
        self.output == OutputFormat::Json
    }
}

/// Runs the parsed command; returns the process exit code.
pub fn run(cli: Cli) -> Result<u8> {
    let ctx = Ctx {
        home: Home::from_env()?,
        profile: cli.profile,
        output: cli.output,
        ui: Ui::from_env(cli.verbose).with_json_events(cli.output == OutputFormat::Json),
    };
    // One pace for the machine: measured by the first command after a boot and kept in the home
    // for every later one, said once per command, whatever the verb. Not by the load balancer's
    // processes: they run in containers, whose home is not the user's.
    if !matches!(
        cli.command,
        Command::Completion(_) | Command::LbController(_) | Command::LbProxy(_)
    ) {
        crate::effects::pace::keep_in(ctx.home.pace_path());
        if let Some(line) = crate::effects::pace::report() {
            ctx.ui.info(line);
        }
    }
    if let Some(verb) = needs_an_answering_cluster(&cli.command) {
        block_on(crate::lifecycle::pause::refuse_if_paused(
            &ctx.profile,
            verb,
        ))??;
    }
    match cli.command {
        Command::Start(args) => start::run(&ctx, args),
        Command::Stop(args) => stop::run(&ctx, args),
        Command::Pause(args) => pause::run_pause(&ctx, args),
        Command::Unpause(args) => pause::run_unpause(&ctx, args),
        Command::Snapshot(args) => snapshot::run(&ctx, args),
        Command::Delete(args) => delete::run(&ctx, args),
        Command::Status(args) => status::run(&ctx, args),
        Command::Doctor(args) => doctor::run(&ctx, args),
        Command::Service(args) => service::run(&ctx, args),
        Command::Tunnel(args) => tunnel::run(&ctx, args),
        Command::Dashboard(args) => dashboard::run(&ctx, args),
        Command::Kubectl(args) => kubectl::run(&ctx, args),
        Command::Image(args) => image::run(&ctx, args),
        Command::Images(args) => images::run(&ctx, args),
        Command::Addons(args) => addons::run(&ctx, args),
        Command::Node(args) => node::run(&ctx, args),
        Command::Logs(args) => logs::run(&ctx, args),
        Command::Config(args) => config::run(&ctx, args),
        Command::Ssh(args) => ssh::run(&ctx, args),
        Command::Cp(args) => cp::run(&ctx, args),
        Command::Ip(args) => ip::run(&ctx, args),
        Command::UpdateContext(args) => update_context::run(&ctx, args),
        Command::Profile(args) => profile::run(&ctx, args),
        Command::Version(args) => version::run(&ctx, args),
        Command::Completion(args) => completion::run(args),
        Command::LbController(args) => lb::run_controller(&ctx, args),
        Command::LbProxy(args) => lb::run_proxy(args),
    }
}

/// The verbs that need the cluster to answer, by the name a refusal gives them: on a paused
/// profile they would hang, so they are refused with the fix (`unpause`) instead. `stop`, `start`,
/// `delete` and `snapshot` handle a paused profile themselves; `status`, `logs` and the lists that
/// read only Docker or files work as they are.
fn needs_an_answering_cluster(command: &Command) -> Option<&'static str> {
    match command {
        Command::Kubectl(_) => Some("kubectl"),
        Command::Service(_) => Some("service"),
        Command::Tunnel(_) => Some("tunnel"),
        Command::Dashboard(_) => Some("dashboard"),
        Command::Ssh(_) => Some("ssh"),
        Command::Cp(_) => Some("cp"),
        Command::Image(_) => Some("image"),
        Command::Node(args) if !matches!(args.command, node::NodeCommand::List) => Some("node"),
        Command::Addons(args) if !matches!(args.command, addons::AddonsCommand::List) => {
            Some("addons")
        }
        _ => None,
    }
}

/// A tokio runtime for verbs that talk to Docker or the cluster.
pub fn block_on<F: std::future::Future>(future: F) -> Result<F::Output> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    Ok(runtime.block_on(future))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn bad_profile_names_are_refused_at_parse_time() {
        let err = Cli::try_parse_from(["localkube", "-p", "../x", "status"]).unwrap_err();
        assert!(
            err.to_string().contains("invalid profile name '../x'"),
            "{err}"
        );
    }

    #[test]
    fn profile_defaults_to_localkube() {
        let cli = Cli::try_parse_from(["localkube", "status"]).unwrap();
        assert_eq!(cli.profile.as_str(), "localkube");
    }
}
