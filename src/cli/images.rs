//! `localkube images build|ls|save|load|prune`: the component images localkube builds from upstream
//! sources, archives of them that travel to other machines, and the cache's clean-up.

use anyhow::Result;
use clap::Subcommand;

use super::{Ctx, block_on};

mod push;
use crate::effects::image_build::{BuildOptions, BuildReport, archive, usage};
use crate::lifecycle::images::{self, Pruned};
use crate::plan::version::{DEFAULT_KUBERNETES_VERSION, parse_kubernetes_version};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: ImagesCommand,
}

#[derive(Debug, Subcommand)]
pub enum ImagesCommand {
    /// Build the images of a Kubernetes version and its kubectl; only what is missing or damaged.
    /// The first build compiles Kubernetes from source (tens of minutes); later ones take seconds.
    Build(BuildArgs),
    /// List the images localkube built, with sizes, and the kubectl binaries in the cache.
    #[command(alias = "list")]
    Ls,
    /// Publish the images of a Kubernetes version (built first where missing), its kubectl and
    /// an index of their digests to a registry, for `start --image-repository REGISTRY`.
    Push(push::PushArgs),
    /// Write every image a cluster of a Kubernetes version runs (with the addons on by default) and
    /// its kubectl, with their checksums, into one archive FILE; builds what is missing first.
    Save(SaveArgs),
    /// Check an archive written by `images save` and import its images and kubectl: `start` then
    /// builds nothing and needs no Go. A damaged archive is refused before anything is imported.
    Load(LoadArgs),
    /// Remove the images and cached artifacts of Kubernetes versions no profile uses, and say how
    /// much that freed.
    Prune(PruneArgs),
}

#[derive(Debug, clap::Args)]
pub struct SaveArgs {
    /// The archive to write (replaced whole, never left half-written).
    pub file: std::path::PathBuf,

    /// Kubernetes release whose images to save, vX.Y.Z.
    #[arg(long, value_parser = parse_kubernetes_version, default_value = DEFAULT_KUBERNETES_VERSION)]
    pub kubernetes_version: String,

    /// Also save these addons' images (comma-separated), built if missing.
    #[arg(long, value_delimiter = ',')]
    pub addons: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// An archive written by `localkube images save`.
    pub file: std::path::PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Say what would be removed and how much it would free, removing nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Only this version's images, kubectl and artifacts (any vX.Y.Z in the cache, supported or
    /// not); it is still kept if a profile runs it.
    #[arg(long, value_parser = parse_any_version)]
    pub kubernetes_version: Option<String>,
}

/// A version as the cache names it: `v` and three numbers.
fn parse_any_version(text: &str) -> Result<String, String> {
    let bare = text.strip_prefix('v').unwrap_or(text);
    let parts: Vec<&str> = bare.split('.').collect();
    if parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
    {
        Ok(format!("v{bare}"))
    } else {
        Err(format!("'{text}' is not a Kubernetes release vX.Y.Z"))
    }
}

#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// Kubernetes release to build, vX.Y.Z.
    #[arg(long, value_parser = parse_kubernetes_version, default_value = DEFAULT_KUBERNETES_VERSION)]
    pub kubernetes_version: String,

    /// Rebuild every artifact and image even when the cache has it.
    #[arg(long)]
    pub force: bool,

    /// Also build these addons' images (comma-separated); those of the addons on by default are
    /// always built.
    #[arg(long, value_delimiter = ',')]
    pub addons: Vec<String>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<u8> {
    match args.command {
        ImagesCommand::Build(build) => run_build(ctx, build),
        ImagesCommand::Ls => run_ls(ctx),
        ImagesCommand::Push(args) => push::run(ctx, args),
        ImagesCommand::Save(save) => run_save(ctx, save),
        ImagesCommand::Load(load) => run_load(ctx, load),
        ImagesCommand::Prune(prune) => run_prune(ctx, prune),
    }
}

fn run_build(ctx: &Ctx, args: BuildArgs) -> Result<u8> {
    let options = BuildOptions {
        force: args.force,
        images_dir: None,
        addons: args.addons,
    };
    let report = block_on(images::build(
        &ctx.home,
        &args.kubernetes_version,
        &ctx.ui,
        &options,
    ))??;
    if ctx.json() {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(0)
}

fn print_report(report: &BuildReport) {
    println!(
        "{:<44} {:<12} {:>10}  BUILT NOW",
        "IMAGE", "VERSION", "SIZE"
    );
    for image in &report.images {
        println!(
            "{:<44} {:<12} {:>10}  {}",
            image.image,
            image.component_version,
            megabytes(image.size_bytes),
            if image.rebuilt { "yes" } else { "-" }
        );
    }
    println!(
        "kubectl {}: {}",
        report.kubernetes_version,
        report.kubectl.display()
    );
    if report.up_to_date() {
        println!(
            "Everything for Kubernetes {} was up to date: nothing rebuilt.",
            report.kubernetes_version
        );
    } else {
        println!("Built: {}", report.rebuilt.join(", "));
    }
}

fn run_ls(ctx: &Ctx) -> Result<u8> {
    let listing = block_on(images::list(&ctx.home))??;
    if ctx.json() {
        println!("{}", serde_json::to_string_pretty(&listing)?);
        return Ok(0);
    }
    if listing.images.is_empty() && listing.kubectl.is_empty() {
        println!(
            "No images built yet: `localkube images build` builds them (`localkube start` does too)."
        );
        return Ok(0);
    }
    print_versions(&listing.versions);
    println!();
    println!(
        "{:<44} {:<12} {:<12} {:>10}  CREATED",
        "IMAGE", "KUBERNETES", "COMPONENT", "SIZE"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    for image in &listing.images {
        println!(
            "{:<44} {:<12} {:<12} {:>10}  {}",
            image.image,
            dash(&image.kubernetes_version),
            dash(&image.component_version),
            megabytes(image.size_bytes),
            age(now - image.created)
        );
        if let Some(line) = versions_line(&image.versions) {
            println!("  {line}");
        }
    }
    for kubectl in &listing.kubectl {
        println!(
            "{:<44} {:<12} {:<12} {:>10}  {}",
            "kubectl (cache)",
            kubectl.kubernetes_version,
            kubectl.kubernetes_version,
            megabytes(kubectl.size_bytes),
            kubectl.path.display()
        );
    }
    Ok(0)
}

/// One line per Kubernetes version: what it takes and who uses it.
fn print_versions(versions: &[usage::VersionUsage]) {
    println!(
        "{:<12} {:>6} {:>12} {:>12}  PROFILES",
        "KUBERNETES", "IMAGES", "IMAGES SIZE", "CACHE SIZE"
    );
    for v in versions {
        let mut profiles = if v.profiles.is_empty() {
            "- (`localkube images prune` removes it)".to_string()
        } else {
            v.profiles.join(", ")
        };
        if v.loaded_from_archive {
            profiles.push_str("  [loaded from an archive]");
        }
        println!(
            "{:<12} {:>6} {:>12} {:>12}  {profiles}",
            v.kubernetes_version,
            v.images,
            megabytes(v.image_bytes),
            megabytes(v.cache_bytes)
        );
    }
}

/// `with containerd v2.3.7, runc v1.5.3, ...`: the programs an image holds besides its component.
fn versions_line(versions: &std::collections::BTreeMap<String, String>) -> Option<String> {
    if versions.is_empty() {
        return None;
    }
    let parts: Vec<String> = versions.iter().map(|(p, v)| format!("{p} {v}")).collect();
    Some(format!("with {}", parts.join(", ")))
}

fn dash(s: &str) -> &str {
    if s.is_empty() { "-" } else { s }
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_000_000.0)
}

fn age(seconds: i64) -> String {
    match seconds {
        s if s < 120 => format!("{s} seconds ago"),
        s if s < 7200 => format!("{} minutes ago", s / 60),
        s if s < 172_800 => format!("{} hours ago", s / 3600),
        s => format!("{} days ago", s / 86_400),
    }
}

fn run_save(ctx: &Ctx, args: SaveArgs) -> Result<u8> {
    let saved = block_on(images::save(
        &ctx.home,
        &args.kubernetes_version,
        args.addons,
        &args.file,
        &ctx.ui,
    ))??;
    if ctx.json() {
        println!("{}", serde_json::to_string_pretty(&saved)?);
        return Ok(0);
    }
    println!(
        "Saved {} images of Kubernetes {} and its kubectl to {} ({}).",
        saved.manifest.images.len(),
        saved.manifest.kubernetes_version,
        saved.path.display(),
        megabytes(saved.size_bytes)
    );
    println!(
        "On another machine: `localkube images load {0}` or `localkube start --images {0}`.",
        saved.path.display()
    );
    Ok(0)
}

fn run_load(ctx: &Ctx, args: LoadArgs) -> Result<u8> {
    let manifest: archive::ArchiveManifest =
        block_on(images::load(&ctx.home, &args.file, &ctx.ui))??;
    if ctx.json() {
        println!("{}", serde_json::to_string_pretty(&manifest)?);
        return Ok(0);
    }
    for image in &manifest.images {
        println!(
            "{:<44} {:<12} {:>10}",
            image.image,
            image.component_version,
            megabytes(image.size_bytes)
        );
    }
    println!(
        "Loaded the images of Kubernetes {0} and its kubectl: `localkube start --kubernetes-version {0}` builds nothing.",
        manifest.kubernetes_version
    );
    Ok(0)
}

fn run_prune(ctx: &Ctx, args: PruneArgs) -> Result<u8> {
    let pruned: Pruned = block_on(images::prune(
        &ctx.home,
        args.kubernetes_version.as_deref(),
        args.dry_run,
        &ctx.ui,
    ))??;
    if ctx.json() {
        println!("{}", serde_json::to_string_pretty(&pruned)?);
        return Ok(0);
    }
    let verb = if pruned.dry_run {
        "would remove"
    } else {
        "removed"
    };
    for item in &pruned.removed {
        println!(
            "{verb:<13} {:<11} {:<60} {:>10}",
            item.kind,
            item.name,
            megabytes(item.bytes)
        );
    }
    for item in &pruned.kept_in_use {
        println!(
            "{:<13} {:<11} {:<60} {:>10}",
            "kept (in use)",
            item.kind,
            item.name,
            megabytes(item.bytes)
        );
    }
    let used = if pruned.used_versions.is_empty() {
        "no profile runs any version".to_string()
    } else {
        format!(
            "kept what Kubernetes {} needs (used by profiles)",
            pruned
                .used_versions
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    if pruned.dry_run {
        println!(
            "Would free {} ({} items); {used}. Nothing was removed (--dry-run).",
            megabytes(pruned.freed_bytes),
            pruned.removed.len()
        );
    } else {
        println!(
            "Freed {} ({} items); {used}.",
            megabytes(pruned.freed_bytes),
            pruned.removed.len()
        );
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    #[test]
    fn versions_are_listed_by_program() {
        let versions = std::collections::BTreeMap::from([
            ("runc".to_string(), "v1.5.3".to_string()),
            ("containerd".to_string(), "v2.3.7".to_string()),
        ]);
        assert_eq!(
            versions_line(&versions).unwrap(),
            "with containerd v2.3.7, runc v1.5.3"
        );
        assert_eq!(versions_line(&Default::default()), None);
    }

    fn build_args(argv: &[&str]) -> BuildArgs {
        let cli = Cli::try_parse_from(argv).unwrap();
        match cli.command {
            Command::Images(Args {
                command: ImagesCommand::Build(args),
            }) => args,
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn build_defaults_to_the_pinned_version() {
        let args = build_args(&["localkube", "images", "build"]);
        assert_eq!(args.kubernetes_version, DEFAULT_KUBERNETES_VERSION);
        assert!(!args.force);
    }

    #[test]
    fn build_takes_a_version_with_or_without_v() {
        let args = build_args(&[
            "localkube",
            "images",
            "build",
            "--kubernetes-version",
            "1.36.3",
            "--force",
        ]);
        assert_eq!(args.kubernetes_version, "v1.36.3");
        assert!(args.force);
        assert!(
            Cli::try_parse_from([
                "localkube",
                "images",
                "build",
                "--kubernetes-version",
                "newest"
            ])
            .is_err()
        );
    }

    #[test]
    fn ls_and_list_are_the_same() {
        for verb in ["ls", "list"] {
            let cli = Cli::try_parse_from(["localkube", "images", verb, "-o", "json"]).unwrap();
            assert!(matches!(
                cli.command,
                Command::Images(Args {
                    command: ImagesCommand::Ls
                })
            ));
        }
    }

    #[test]
    fn ages_read_naturally() {
        assert_eq!(age(5), "5 seconds ago");
        assert_eq!(age(600), "10 minutes ago");
        assert_eq!(age(3 * 3600), "3 hours ago");
        assert_eq!(age(3 * 86_400), "3 days ago");
    }
}
