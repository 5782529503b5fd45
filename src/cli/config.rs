//! `localkube config view`: the profile's effective cluster file; `localkube config known`: what
//! a release's components accept, as a cluster file is checked against it.

use anyhow::{Result, bail};

use super::Ctx;
use crate::plan::cluster_file::ClusterFile;
use crate::plan::known_options::{Component, KnownOptions};
use crate::plan::version::parse_kubernetes_version;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Sub,
}

#[derive(Debug, clap::Subcommand)]
pub enum Sub {
    /// Print the profile's effective cluster file: what `start --config` with it asks for again.
    View,
    /// List what a release's components accept: `gates`, or a component's flags or config
    /// fields (apiserver, controller-manager, scheduler, kubelet, kube-proxy).
    Known {
        /// `gates` or a component.
        what: String,
        /// The release (default: the profile's, or localkube's default).
        #[arg(long, value_parser = parse_kubernetes_version)]
        kubernetes_version: Option<String>,
    },
}

pub fn run(ctx: &Ctx, args: Args) -> Result<u8> {
    match args.command {
        Sub::View => {
            let config = ctx.home.profile(&ctx.profile).load_config()?;
            let file = ClusterFile::from_profile(&config);
            if ctx.json() {
                println!("{}", serde_json::to_string_pretty(&file)?);
            } else {
                print!("{}", crate::yaml::to_string(&file)?);
            }
            Ok(0)
        }
        Sub::Known {
            what,
            kubernetes_version,
        } => {
            let dir = ctx.home.profile(&ctx.profile);
            let version = match kubernetes_version {
                Some(v) => v,
                None if dir.exists() => dir.load_config()?.kubernetes_version,
                None => crate::plan::version::DEFAULT_KUBERNETES_VERSION.to_string(),
            };
            let Some(known) = KnownOptions::for_version(&version) else {
                bail!(
                    "localkube has no record of what Kubernetes {version} accepts (recorded: {})",
                    KnownOptions::recorded().join(", ")
                );
            };
            let names: Vec<&str> = if what == "gates" {
                known.all_gates().into_iter().collect()
            } else if let Some(component) = Component::from_extra_config_name(&what) {
                match component {
                    Component::Kubelet | Component::KubeProxy => known.fields(component),
                    _ => known.flags(component),
                }
            } else {
                bail!(
                    "'{what}': name `gates` or a component: apiserver, controller-manager, scheduler, kubelet, kube-proxy"
                );
            };
            for name in names {
                println!("{name}");
            }
            Ok(0)
        }
    }
}
