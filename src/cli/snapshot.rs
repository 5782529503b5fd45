//! `localkube snapshot save|list|restore|delete|export|import`: the whole state of a profile
//! (etcd, the nodes' volumes, its certificates and settings) kept in the cache and brought back,
//! or carried as one file to another machine or profile. The steps are `lifecycle::snapshot`'s.

use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;

use super::Ctx;
use crate::effects::snapshot_store::Store;
use crate::lifecycle::snapshot;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: SnapshotCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum SnapshotCommand {
    /// Save the profile's whole state as snapshot NAME (etcd live; the other containers are
    /// frozen for the copy of the nodes' volumes, then resume).
    Save { name: String },
    /// The profile's snapshots: name, date, Kubernetes version, size.
    List,
    /// Bring the profile back to snapshot NAME: objects and volume contents. A running profile
    /// is stopped for the swap and started again.
    Restore { name: String },
    /// Remove snapshot NAME of the profile.
    Delete { name: String },
    /// Write snapshot NAME of the profile as one file, for another machine or profile.
    Export { name: String, file: PathBuf },
    /// Make a new profile (`-p`, default `localkube`) from an exported snapshot and start it.
    /// Its settings are checked as a cluster file's; what they would do on this machine beyond
    /// a default profile (host folders, extra flags, fields, gates) is shown and needs a yes on a
    /// terminal, or --trust.
    Import {
        file: PathBuf,
        /// Accept what the snapshot's settings would do on this machine without asking: only for
        /// a snapshot from someone you trust.
        #[arg(long)]
        trust: bool,
    },
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    name: String,
    profile: String,
    created: String,
    kubernetes_version: String,
    nodes: usize,
    bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<String>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<u8> {
    match args.command {
        SnapshotCommand::Save { name } => {
            let outcome =
                super::block_on(snapshot::save(&ctx.home, &ctx.profile, &name, &ctx.ui))??;
            let m = &outcome.manifest;
            ctx.ui.info(format!(
                "Saved snapshot '{}' of profile '{}': {} MB in {:.1} s (the cluster was frozen \
                 for {:.1} s), in {}",
                m.name,
                ctx.profile,
                m.total_bytes().div_ceil(1 << 20),
                outcome.took.as_secs_f64(),
                outcome.frozen_for.as_secs_f64(),
                outcome.dir.display()
            ));
            if ctx.json() {
                println!("{}", serde_json::to_string_pretty(m)?);
            }
            Ok(0)
        }
        SnapshotCommand::List => list(ctx),
        SnapshotCommand::Restore { name } => {
            let outcome =
                super::block_on(snapshot::restore(&ctx.home, &ctx.profile, &name, &ctx.ui))??;
            ctx.ui.info(format!(
                "Restored snapshot '{}' onto profile '{}' in {:.1} s{}.",
                outcome.manifest.name,
                ctx.profile,
                outcome.took.as_secs_f64(),
                if outcome.started {
                    ""
                } else {
                    "; it was stopped and stays so: `localkube start` runs it"
                }
            ));
            Ok(0)
        }
        SnapshotCommand::Delete { name } => {
            snapshot::delete(&ctx.home, &ctx.profile, &name)?;
            ctx.ui.info(format!(
                "Deleted snapshot '{name}' of profile '{}'.",
                ctx.profile
            ));
            Ok(0)
        }
        SnapshotCommand::Export { name, file } => {
            let started = std::time::Instant::now();
            let bytes = snapshot::export(&ctx.home, &ctx.profile, &name, &file, &ctx.ui)?;
            ctx.ui.info(format!(
                "Exported snapshot '{name}' to {} ({} MB, {:.1} s): `localkube snapshot import \
                 {} -p PROFILE` makes a profile of it on any machine with the images of its \
                 Kubernetes version (`localkube images save/load`).",
                file.display(),
                bytes.div_ceil(1 << 20),
                started.elapsed().as_secs_f64(),
                file.display()
            ));
            Ok(0)
        }
        SnapshotCommand::Import { file, trust } => {
            let ask = |changes: &[String]| ask_trust(trust, changes);
            let outcome = super::block_on(snapshot::import(
                &ctx.home,
                &file,
                &ctx.profile,
                &ctx.ui,
                &ask,
            ))??;
            ctx.ui.info(format!(
                "Imported snapshot '{}' (of profile '{}') as profile '{}' in {:.1} s; it runs.",
                outcome.manifest.name,
                outcome.manifest.profile,
                ctx.profile,
                outcome.took.as_secs_f64()
            ));
            Ok(0)
        }
    }
}

/// Whether the user agrees to what an imported snapshot's settings would do: `--trust`, or a
/// yes typed on a terminal; anything else is no.
fn ask_trust(trust: bool, changes: &[String]) -> Result<bool> {
    use std::io::{BufRead, IsTerminal, Write};
    if trust {
        return Ok(true);
    }
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Ok(false);
    }
    let mut err = std::io::stderr().lock();
    writeln!(
        err,
        "The snapshot's settings would change this machine's cluster beyond a default profile:"
    )?;
    for line in changes {
        writeln!(
            err,
            "  {}",
            crate::plan::terminal_text::escape_controls(line)
        )?;
    }
    write!(err, "Import it with these settings? [y/N] ")?;
    err.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes"))
}

fn list(ctx: &Ctx) -> Result<u8> {
    let rows: Vec<Row> = Store::new(&ctx.home)
        .list(&ctx.profile)?
        .into_iter()
        .map(|found| match found {
            Ok(m) => Row {
                bytes: m.total_bytes(),
                name: m.name,
                profile: m.profile,
                created: m.created,
                kubernetes_version: m.kubernetes_version,
                nodes: m.nodes.len(),
                problem: None,
            },
            Err(problem) => Row {
                name: problem.split(':').next().unwrap_or_default().to_string(),
                profile: String::new(),
                created: String::new(),
                kubernetes_version: String::new(),
                nodes: 0,
                bytes: 0,
                problem: Some(problem),
            },
        })
        .collect();
    if ctx.json() {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(0);
    }
    if rows.is_empty() {
        ctx.ui.info(format!(
            "Profile '{}' has no snapshots: `localkube snapshot save NAME` takes one.",
            ctx.profile
        ));
        return Ok(0);
    }
    println!(
        "{:<24} {:<21} {:<10} {:<6} {:>9}  TAKEN OF",
        "NAME", "CREATED", "VERSION", "NODES", "SIZE"
    );
    for r in rows {
        match r.problem {
            Some(problem) => println!("{:<24} damaged: {problem}", r.name),
            None => println!(
                "{:<24} {:<21} {:<10} {:<6} {:>6} MB  {}",
                r.name,
                r.created,
                r.kubernetes_version,
                r.nodes,
                r.bytes.div_ceil(1 << 20),
                r.profile
            ),
        }
    }
    Ok(0)
}
