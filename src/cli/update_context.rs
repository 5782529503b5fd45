//! `localkube update-context`: points the profile's kubeconfig entry at the apiserver's current
//! address again (after a hand edit, or a kubeconfig copied from an older profile), as
//! `minikube update-context` does. Only the entry localkube marked as the profile's is touched.

use anyhow::Result;
use serde_json::json;

use super::Ctx;
use crate::effects::kubeconfig_store;
use crate::plan::{kubeconfig, names};

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(ctx: &Ctx, _args: Args) -> Result<u8> {
    let config = ctx.home.profile(&ctx.profile).load_config()?;
    let server = kubeconfig::host_server(&config);
    let (path, previous) = kubeconfig_store::set_user_server(&ctx.profile, &server)?;
    let context = names::kubeconfig_context(&ctx.profile);
    if ctx.json() {
        let report = json!({
            "context": context,
            "kubeconfig": path,
            "server": server,
            "previous": previous,
            "changed": previous.is_some(),
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(0);
    }
    match previous {
        Some(previous) => println!(
            "'{context}' in {} now points at {server} (it was {previous}).",
            path.display()
        ),
        None => println!(
            "'{context}' in {} already points at {server}.",
            path.display()
        ),
    }
    Ok(0)
}
