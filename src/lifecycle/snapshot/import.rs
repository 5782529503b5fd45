//! `snapshot import`: a snapshot file from anyone made into a new profile, checked before use.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::mb;
use super::restore::restore_into;
use crate::effects::docker;
use crate::effects::home::Home;
use crate::effects::lock::lock_profile;
use crate::effects::snapshot_store::{self as store, Store};
use crate::effects::volume_copy::{self};
use crate::plan::config::ProfileConfig;
use crate::plan::names::{self};
use crate::plan::profile_name::ProfileName;
use crate::plan::snapshot::{self as plan, Manifest};
use crate::ui::Ui;
use crate::yaml;

#[derive(Debug)]
pub struct ImportOutcome {
    pub manifest: Manifest,
    pub took: Duration,
}

/// Makes profile `profile` (which must not exist) from an exported snapshot and starts it.
///
/// The file may come from anyone. Its parts are checked as they are unpacked; its settings go
/// through the checks a cluster file's go through (settings that switch a safeguard off, host
/// folders of the denylist); its image source is never used; and what its settings would do on
/// this machine (host folders, extra flags, fields, gates) is shown to `trust`, which must say
/// yes before anything starts.
pub async fn import(
    home: &Home,
    file: &Path,
    profile: &ProfileName,
    ui: &Ui,
    trust: &dyn Fn(&[String]) -> Result<bool>,
) -> Result<ImportOutcome> {
    let started = Instant::now();
    let profile_dir = home.profile(profile);
    if profile_dir.exists() {
        bail!(
            "profile '{profile}' exists: import into a new profile (`-p NEW`), or delete this one \
             first (`localkube delete -p {profile}`)"
        );
    }
    if let Some(problem) = names::collision_problem(profile) {
        bail!(
            "profile name '{profile}' cannot be used: {problem}; choose another name (`-p NAME`)"
        );
    }
    let lock = lock_profile(home, profile)?;
    let store = Store::new(home);
    let partial = store.begin(profile, "import")?;
    let step = ui.step(format!("Reading and checking {}", file.display()));
    // Every part's size and sha256 are checked while it is unpacked.
    let checked = store::unpack_export(file, &partial).and_then(|manifest| {
        let config = imported_settings(home, profile, &partial, &manifest)?;
        Ok((manifest, config))
    });
    let (manifest, (snapshot_config, changes)) = match checked {
        Ok(m) => m,
        Err(e) => {
            step.failed();
            let _ = store::remove_dir(&partial);
            return Err(e.context(format!(
                "{} was not imported; nothing was touched",
                file.display()
            )));
        }
    };
    step.done_with(format!(
        "snapshot '{}' of profile '{}', Kubernetes {}, {} MB",
        manifest.name,
        manifest.profile,
        manifest.kubernetes_version,
        mb(manifest.total_bytes())
    ));
    if let Some(repository) = &snapshot_config.image_repository {
        ui.info(format!(
            "The snapshot names the image source {repository}: not used; the images come from \
             this machine (built, or `localkube images load`)."
        ));
    }
    let agreed = if changes.is_empty() {
        Ok(true)
    } else {
        trust(&changes)
    };
    match agreed {
        Ok(true) => {}
        Ok(false) | Err(_) => {
            let _ = store::remove_dir(&partial);
            let why = agreed
                .err()
                .map(|e| format!(" ({e:#})"))
                .unwrap_or_default();
            bail!(
                "{} was not imported, nothing was touched: its settings would change this \
                 machine's cluster beyond a default profile{why}:\n  {}\nImport it only if you \
                 trust where it came from: `localkube snapshot import {} -p {profile} --trust`",
                file.display(),
                changes
                    .iter()
                    .map(|l| crate::plan::terminal_text::escape_controls(l))
                    .collect::<Vec<_>>()
                    .join("\n  "),
                file.display()
            );
        }
    }
    let dir = match store.commit(&partial, profile, &manifest) {
        Ok(dir) => dir,
        Err(e) => {
            let _ = store::remove_dir(&partial);
            return Err(e);
        }
    };
    let result = async {
        let port = crate::lifecycle::start::free_loopback_port()?;
        let (subnet, exposure) = crate::lifecycle::start::network_choices(profile).await?;
        let config = plan::imported_config(&snapshot_config, port, subnet, exposure);
        config.validate()?;
        profile_dir.save_config(&config)?;
        // The snapshot's CAs and service-account key, so its tokens and kubeconfigs stay valid;
        // `start` reissues the leaves whose names or addresses are this profile's now.
        store::untar_folder(&dir.join(plan::PKI_PART), &profile_dir.pki_dir())?;
        restore_into(home, profile, &config, &dir, &manifest, ui, lock, true).await
    }
    .await;
    if let Err(e) = result {
        // Nothing half-made: the new profile's objects and files go, and the stored snapshot.
        if let Ok(docker) = docker::connect().await {
            let _ = volume_copy::remove_leftovers(&docker, profile).await;
            let _ = docker::remove_profile(&docker, profile).await;
        }
        let _ = profile_dir.remove();
        let _ = store::remove_dir(&dir);
        return Err(e.context(format!(
            "importing {} failed; profile '{profile}' was removed again",
            file.display()
        )));
    }
    Ok(ImportOutcome {
        manifest,
        took: started.elapsed(),
    })
}

/// An unpacked snapshot's settings, checked as a cluster file's are, with what they would do
/// on this machine beyond a default profile. The settings keep the snapshot's image source for
/// the caller to name; [`plan::imported_config`] drops it.
fn imported_settings(
    home: &Home,
    profile: &ProfileName,
    dir: &Path,
    manifest: &Manifest,
) -> Result<(ProfileConfig, Vec<String>)> {
    let mut config: ProfileConfig =
        yaml::from_str(&store::read_config(dir)?).context("the snapshot's config.yaml")?;
    if config.kubernetes_version != manifest.kubernetes_version
        || config.nodes.numbers() != manifest.node_numbers()
    {
        bail!(
            "the snapshot is damaged: its config.yaml is of Kubernetes {} with nodes {:?}, its \
             manifest says {} with nodes {:?}",
            config.kubernetes_version,
            config.nodes.numbers(),
            manifest.kubernetes_version,
            manifest.node_numbers()
        );
    }
    config.validate().context("the snapshot's settings")?;
    if let Some(problem) = plan::members_problem(profile.as_str(), &config) {
        bail!("{problem}");
    }
    config
        .settings
        .validate(&config.kubernetes_version, config.nodes.numbers())
        .context("the snapshot's settings are refused as a cluster file's would be")?;
    // Host folders are another machine's paths: each is checked as `--mount` checks it.
    let insecure = config.settings.insecure;
    crate::effects::cluster_file::check_mounts(home, &mut config.settings, insecure).context(
        "the snapshot's profile binds host folders into its nodes: each must be a folder of your \
         own on this machine (the same path)",
    )?;
    let changes = plan::import_changes(&config.settings);
    Ok((config, changes))
}
