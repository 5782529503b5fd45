//! `localkube status`: each component's container state, and the kubeconfig context.
//!
//! The exit code is a bitmask as minikube's: 1 a container is not running, 2 the control plane is
//! not healthy, 4 kubeconfig does not point at the profile; 0 when all is well.

use anyhow::Result;
use serde::Serialize;

use super::Ctx;
use crate::effects::{docker, kubeconfig_store};
use crate::plan::cluster::{self, ProfilePaths};
use crate::plan::names;

pub const EXIT_CONTAINERS: u8 = 1;
pub const EXIT_CONTROL_PLANE: u8 = 2;
pub const EXIT_KUBECONFIG: u8 = 4;

#[derive(Debug, clap::Args)]
pub struct Args {}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    profile: String,
    components: Vec<ComponentStatus>,
    kubeconfig: String,
    exit_code: u8,
}

#[derive(Debug, Serialize)]
struct ComponentStatus {
    name: String,
    role: String,
    state: String,
}

pub fn run(ctx: &Ctx, _args: Args) -> Result<u8> {
    let profile = ctx.home.profile(&ctx.profile);
    let config = profile.load_config()?;
    let plan = cluster::plan(
        &ctx.profile,
        &config,
        &ProfilePaths {
            profile_dir: profile.dir.clone(),
        },
    );
    let found = super::block_on(async {
        let docker = docker::connect().await?;
        docker::profile_containers(&docker, &ctx.profile).await
    })??;
    let components: Vec<ComponentStatus> = plan
        .containers
        .iter()
        .map(|spec| ComponentStatus {
            name: spec.name.clone(),
            role: spec.role.clone(),
            state: found
                .iter()
                .find(|c| c.name == spec.name)
                .map(|c| c.state.clone())
                .unwrap_or_else(|| "nonexistent".into()),
        })
        .collect();
    let mut exit_code = 0;
    if components.iter().any(|c| c.state != "running") {
        // Nothing answers without its containers, so the control plane is down too.
        exit_code |= EXIT_CONTAINERS | EXIT_CONTROL_PLANE;
    }
    let context = names::kubeconfig_context(&ctx.profile);
    let kubeconfig = match kubeconfig_store::current_context()? {
        Some(current) if current == context => "configured".to_string(),
        Some(current) => {
            exit_code |= EXIT_KUBECONFIG;
            format!("current context is '{current}', not '{context}'")
        }
        None => {
            exit_code |= EXIT_KUBECONFIG;
            "no current context".to_string()
        }
    };
    let status = Status {
        profile: ctx.profile.to_string(),
        components,
        kubeconfig,
        exit_code,
    };
    if ctx.json() {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        println!("profile: {}", status.profile);
        for c in &status.components {
            println!("{:<20} {:<28} {}", c.role, c.name, c.state);
        }
        println!("kubeconfig: {}", status.kubeconfig);
    }
    Ok(exit_code)
}
