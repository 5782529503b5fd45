//! `localkube images push REGISTRY`: publishes what `images build` made, for
//! `start --image-repository REGISTRY` on other machines.

use anyhow::Result;

use crate::cli::{Ctx, block_on};

use crate::plan::image_repository::parse_repository;
use crate::plan::version::{DEFAULT_KUBERNETES_VERSION, parse_kubernetes_version};

#[derive(Debug, clap::Args)]
pub struct PushArgs {
    /// Where to publish: `HOST[:PORT][/PATH]`, e.g. `localhost:5000/localkube`; each image goes
    /// to `REGISTRY/<name>:<version>`, the index to `REGISTRY/index:<version>`.
    #[arg(value_parser = parse_repository)]
    pub registry: String,

    /// Kubernetes release whose images to push, vX.Y.Z.
    #[arg(long, value_parser = parse_kubernetes_version, default_value = DEFAULT_KUBERNETES_VERSION)]
    pub kubernetes_version: String,

    /// Also push these addons' images (comma-separated); those of the addons on by default are
    /// always pushed.
    #[arg(long, value_delimiter = ',')]
    pub addons: Vec<String>,
}

pub fn run(ctx: &Ctx, args: PushArgs) -> Result<u8> {
    let report = block_on(crate::lifecycle::images::push(
        &ctx.home,
        &args.registry,
        &args.kubernetes_version,
        &args.addons,
        &ctx.ui,
    ))??;
    if ctx.json() {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(0);
    }
    println!("{:<26} {:>10}  DIGEST", "IMAGE", "SIZE");
    for image in &report.contents.images {
        println!(
            "{:<26} {:>10}  {}",
            image.image.name(),
            format!("{:.1} MB", image.size_bytes as f64 / 1e6),
            image.digest
        );
    }
    println!(
        "Pushed {} images ({:.1} MB) and kubectl to {} in {:.0} s; index {}@{}.",
        report.contents.images.len(),
        report.contents.total_bytes() as f64 / 1e6,
        report.repository,
        report.seconds,
        report.index,
        report.index_digest
    );
    println!(
        "Start from it anywhere: localkube start --kubernetes-version {} --image-repository {}",
        report.contents.kubernetes_version, report.repository
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::super::{Args, ImagesCommand};
    use crate::cli::{Cli, Command};
    use clap::Parser;

    #[test]
    fn push_takes_a_registry_version_and_addons() {
        let cli = Cli::try_parse_from([
            "localkube",
            "images",
            "push",
            "localhost:5000/localkube/",
            "--kubernetes-version",
            "1.36.3",
            "--addons",
            "registry,metrics-server",
        ])
        .unwrap();
        let Command::Images(Args {
            command: ImagesCommand::Push(args),
        }) = cli.command
        else {
            panic!("parsed as {:?}", cli.command)
        };
        assert_eq!(args.registry, "localhost:5000/localkube");
        assert_eq!(args.kubernetes_version, "v1.36.3");
        assert_eq!(args.addons, ["registry", "metrics-server"]);
    }

    #[test]
    fn push_refuses_a_tagged_registry() {
        let err = Cli::try_parse_from(["localkube", "images", "push", "localhost:5000/lk:v1"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("no tag"), "{err}");
    }

    #[test]
    fn start_keeps_the_repository_and_the_fallback() {
        let cli = Cli::try_parse_from([
            "localkube",
            "start",
            "--image-repository",
            "127.0.0.1:5000/localkube",
            "--build-if-missing",
        ])
        .unwrap();
        let Command::Start(args) = cli.command else {
            panic!("parsed as {:?}", cli.command)
        };
        assert_eq!(
            args.image_repository.as_deref(),
            Some("127.0.0.1:5000/localkube")
        );
        assert!(args.build_if_missing);
    }
}
