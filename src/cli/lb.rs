//! Hidden verbs run inside localkube's own containers: `lb-controller` and `lb-proxy` (see
//! `crate::lb`). Users never type them; the containers' command lines do.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use anyhow::{Context, Result};

use super::Ctx;
use super::block_on;
use crate::lb;
use crate::lb::proxy::{Forward, parse_forward};
use crate::plan::config::ProfileConfig;
use crate::plan::load_balancer::DOCKER_SOCKET_IN_CONTAINER;

/// The profile whose services and containers it manages is the global `--profile`.
#[derive(Debug, clap::Args)]
pub struct ControllerArgs {
    /// The profile's config.yaml (for its address pool and network).
    #[arg(long, required_unless_present = "worker")]
    pub config: Option<PathBuf>,
    /// Kubeconfig of the controller's own identity.
    #[arg(long, required_unless_present = "worker")]
    pub kubeconfig: Option<PathBuf>,
    /// The image proxies run (the controller's own).
    #[arg(long)]
    pub image: Option<String>,
    /// Run as the controller proper, talking to its broker on standard input (the broker starts
    /// it so, as nobody).
    #[arg(long, hide = true)]
    pub worker: bool,
}

#[derive(Debug, clap::Args)]
pub struct ProxyArgs {
    /// The address to listen on, and nothing else: a Service's loopback address, or the
    /// apiservers' load balancer's own address on the profile's network.
    #[arg(long)]
    pub address: Ipv4Addr,
    /// PORT:NODEPORT (the port on the backends), once per port.
    #[arg(long = "listen", value_parser = parse_forward)]
    pub listens: Vec<Forward>,
    /// PORT:NODEPORT on 127.0.0.1 and ::1, bound once free (the tutorials' localhost), once per
    /// port.
    #[arg(long = "localhost", value_parser = parse_forward)]
    pub localhost: Vec<Forward>,
    /// A backend address to forward to (a node, or an apiserver); repeat for each.
    #[arg(long = "backend")]
    pub backends: Vec<std::net::IpAddr>,
    /// Ask each backend for /readyz over TLS, trusting this CA, and prefer the ready ones.
    #[arg(long)]
    pub ready_check_ca: Option<PathBuf>,
}

/// In the controller's container: as root, the Docker broker, which starts the controller
/// proper as nobody (`--worker`); see `lb::runtime`. Run by hand as another user, the
/// controller itself with that user's Docker access.
pub fn run_controller(ctx: &Ctx, args: ControllerArgs) -> Result<u8> {
    if args.worker {
        block_on(lb::controller::run_worker())??;
        return Ok(0);
    }
    let (Some(config_path), Some(kubeconfig), Some(image)) =
        (args.config, args.kubeconfig, args.image)
    else {
        anyhow::bail!("lb-controller needs --config, --kubeconfig and --image");
    };
    let text = std::fs::read_to_string(&config_path)
        .with_context(|| format!("reading {}", config_path.display()))?;
    let config: ProfileConfig = crate::yaml::from_str(&text)?;
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| {
        use std::os::unix::fs::MetadataExt;
        m.uid() == 0
    });
    if root && std::path::Path::new(DOCKER_SOCKET_IN_CONTAINER).exists() {
        block_on(lb::controller::run_broker(
            ctx.profile.clone(),
            config,
            &kubeconfig,
            image,
        ))??;
    } else {
        block_on(lb::controller::run(
            ctx.profile.clone(),
            config,
            &kubeconfig,
            image,
            false,
        ))??;
    }
    Ok(0)
}

pub fn run_proxy(args: ProxyArgs) -> Result<u8> {
    block_on(lb::proxy::run(
        args.address,
        args.listens,
        args.localhost,
        args.backends,
        args.ready_check_ca,
    ))??;
    Ok(0)
}
