//! `localkube snapshot`: save a profile's whole state, restore it, move it to another machine or
//! profile. What a snapshot holds and how a restore can always be undone is `plan::snapshot`'s;
//! this module runs the steps.
//!
//! Save: etcd keeps running (its snapshot is taken live, through its Maintenance API) while every
//! other container of the profile is frozen for the copy of the nodes' volumes, so the objects
//! and the volumes' contents are of one moment; then everything resumes as `unpause` does.
//!
//! Restore: every part is checked first (a damaged snapshot, or one of another Kubernetes
//! version, is refused before anything is touched), unpacked beside the data it replaces, and
//! swapped in by renames with the cluster stopped; the replaced data is kept until the cluster
//! has started from the restored, and put back if anything fails.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::effects::home::Home;
use crate::effects::snapshot_store::{self as store, Store};
use crate::plan::cluster::{self, ClusterPlan};
use crate::plan::config::ProfileConfig;
use crate::plan::names::{self, Role};
use crate::plan::profile_name::ProfileName;
use crate::plan::snapshot as plan;
use crate::ui::Ui;

mod import;
mod restore;
mod save;

pub use import::{ImportOutcome, import};
pub use restore::{RestoreOutcome, restore};
pub use save::{SaveOutcome, save};

/// How long a just-started etcd gets to answer etcdctl.
const ETCD_ANSWER_WAIT: Duration = Duration::from_secs(30);

fn image_of(plan: &ClusterPlan, role: Role) -> Result<String> {
    plan.containers
        .iter()
        .find(|c| c.role == role)
        .map(|c| c.image.clone())
        .with_context(|| format!("the profile's plan has no {role} container"))
}

fn etcd_config_dir(plan: &ClusterPlan, facts: &cluster::HostFacts) -> Result<PathBuf> {
    let spec = plan
        .containers
        .iter()
        .find(|c| c.role == Role::Etcd)
        .context("the profile's plan has no etcd")?;
    Ok(facts.staging_dir(&spec.name))
}

/// The node volumes of a plan, by node number, with the helper's mount of each.
fn node_volumes(profile: &ProfileName, config: &ProfileConfig) -> Vec<(u32, String, String)> {
    config
        .nodes
        .numbers()
        .iter()
        .map(|n| {
            (
                *n,
                names::node_volume(&names::node_name(profile, *n)),
                plan::node_mount(*n),
            )
        })
        .collect()
}

fn mb(bytes: u64) -> u64 {
    bytes.div_ceil(1 << 20)
}

/// Writes snapshot `name` of the profile as one file.
pub fn export(home: &Home, profile: &ProfileName, name: &str, file: &Path, ui: &Ui) -> Result<u64> {
    let store = Store::new(home);
    let dir = store.existing(profile, name)?;
    let manifest = store::read_manifest(&dir)?;
    if file.exists() {
        bail!(
            "{} exists: choose another file name, or remove it first",
            file.display()
        );
    }
    let step = ui.step(format!(
        "Checking snapshot '{name}' ({} MB)",
        mb(manifest.total_bytes())
    ));
    store::verify(&dir, &manifest)?;
    step.done();
    let step = ui.step(format!("Writing {}", file.display()));
    let bytes = store::export(&dir, &manifest, file)?;
    step.done_with(format!("{} MB", mb(bytes)));
    Ok(bytes)
}

/// Removes snapshot `name` of the profile.
pub fn delete(home: &Home, profile: &ProfileName, name: &str) -> Result<()> {
    let store = Store::new(home);
    let dir = store.existing(profile, name)?;
    store::remove_dir(&dir)
}
