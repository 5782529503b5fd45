//! `localkube tunnel`: the load balancers of the profile, and minikube's foreground mode.
//!
//! By default localkube needs no tunnel: the profile's load balancer controller runs in a
//! container and gives every LoadBalancer service its own loopback address, served by a proxy
//! container that binds it with its one capability, so nothing has to stay open and no root is
//! needed. `tunnel` shows what it serves;
//! `tunnel --foreground` runs the controller in this terminal instead, as `minikube tunnel` does,
//! and removes the load balancers on Ctrl-C.

use anyhow::Result;

use super::Ctx;
use crate::lifecycle::tunnel;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run the load balancer controller in this terminal, like `minikube tunnel`, and remove the
    /// load balancers on Ctrl-C (`localkube start` brings the background controller back).
    #[arg(long)]
    pub foreground: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<u8> {
    if args.foreground {
        super::block_on(tunnel::foreground(&ctx.home, &ctx.profile, &ctx.ui))??;
        return Ok(0);
    }
    let rows = super::block_on(tunnel::rows(&ctx.home, &ctx.profile))??;
    if ctx.json() {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(0);
    }
    if rows.is_empty() {
        ctx.ui.info(
            "No LoadBalancer services. `kubectl expose deployment NAME --type=LoadBalancer --port=PORT` \
             makes one; it gets its own 127.x address within seconds.",
        );
        return Ok(0);
    }
    println!(
        "{:<12} {:<20} {:<16} {:<18} {:<16} {:<10} STATE",
        "NAMESPACE", "NAME", "EXTERNAL-IP", "PORTS", "LOCALHOST", "ENDPOINTS"
    );
    for r in &rows {
        let localhost: Vec<String> = r
            .localhost
            .iter()
            .map(|p| {
                if p.serving {
                    p.port.to_string()
                } else {
                    format!("{}(held)", p.port)
                }
            })
            .collect();
        println!(
            "{:<12} {:<20} {:<16} {:<18} {:<16} {:<10} {}",
            r.namespace,
            r.name,
            r.external_address.as_deref().unwrap_or("<pending>"),
            r.ports.join(","),
            if localhost.is_empty() {
                "-".to_string()
            } else {
                localhost.join(",")
            },
            r.ready_endpoints,
            r.state
        );
    }
    for r in &rows {
        for p in r.localhost.iter().filter(|p| !p.serving) {
            println!("{}/{}: {}", r.namespace, r.name, p.message);
        }
    }
    Ok(0)
}
