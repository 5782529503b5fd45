//! `localkube status`: each component's container state, and the kubeconfig context; the exit
//! code is `lifecycle::status`'s bitmask (1 containers, 2 control plane, 4 kubeconfig).

use anyhow::Result;

use super::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(ctx: &Ctx, _args: Args) -> Result<u8> {
    let status = super::block_on(crate::lifecycle::status::status(&ctx.home, &ctx.profile))??;
    let exit_code = status.exit_code;
    if ctx.json() {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        if status.paused {
            println!(
                "profile: {} (Paused: `localkube unpause -p {}` resumes it)",
                status.profile, status.profile
            );
        } else {
            println!("profile: {}", status.profile);
        }
        for c in &status.components {
            match &c.health {
                Some(health) => println!("{:<20} {:<28} {:<10} {health}", c.role, c.name, c.state),
                None => println!("{:<20} {:<28} {}", c.role, c.name, c.state),
            }
        }
        let word = |ok: bool| if ok { "ok" } else { "not ready" };
        println!("apiserver /readyz: {}", word(status.health.apiserver));
        println!(
            "etcd (as the apiserver sees it): {}",
            word(status.health.etcd)
        );
        println!("nodes Ready: {}", word(status.health.nodes_ready));
        if let Some(problem) = &status.health.problem {
            println!("the API did not answer: {problem}");
        }
        println!("kubeconfig: {}", status.kubeconfig);
        for line in &status.insecure {
            println!("insecure (the profile says `insecure: true`): {line}");
        }
    }
    Ok(exit_code)
}
