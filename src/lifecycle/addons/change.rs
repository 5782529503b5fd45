//! `addons enable|disable` (and `start --addons` for a cluster that already runs): the choice
//! stored in the profile, so it survives stop/start; a running cluster gets the change at once,
//! a stopped one at its next start.

use std::net::Ipv4Addr;

use anyhow::Result;

use super::Cluster;
use crate::effects::home::Home;
use crate::effects::lock::lock_profile;
use crate::plan::addons::{self, ADDONS, Addon};
use crate::plan::profile_name::ProfileName;
use crate::ui::Ui;

/// What a change did, for the verb to print.
#[derive(Debug, Default)]
pub struct Changed {
    /// The cluster was not running: only the profile's choice changed.
    pub stopped: bool,
    /// Where the user reaches the enabled addon: the registry's `localhost:PORT`, then the address
    /// of the Service it publishes (the ingress addon's).
    pub addresses: Vec<String>,
}

/// Whether [`change`] takes the profile's lock or its caller holds it already (`start`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    Take,
    Held,
}

/// Enables (`on`) or disables the addon `name` in the profile, under the profile's lock.
pub async fn change(
    home: &Home,
    profile: &ProfileName,
    ui: &Ui,
    name: &str,
    on: bool,
    lock: Lock,
) -> Result<Changed> {
    let _lock = match lock {
        Lock::Take => Some(lock_profile(home, profile)?),
        Lock::Held => None,
    };
    let addon = addons::find(name)?;
    let dir = home.profile(profile);
    let mut config = dir.load_config()?;
    let turned_on = if on {
        config.addons.set(name, true)?
    } else {
        // Addons that need this one go with it.
        let mut off = vec![addon.name];
        for other in ADDONS {
            if other.needs.contains(&addon.name) && config.addons.is_enabled(other.name) {
                off.insert(0, other.name);
            }
        }
        off
    };
    if on {
        super::choose_ports(&mut config)?;
    }
    let before = config.clone();
    let mut changed = Changed::default();
    // A signal that came while disabling: the removal is finished first, then it stops the verb.
    let mut disable_interrupted: Option<&'static str> = None;
    // The address of the Service the addon publishes, once it serves: printed last.
    let mut published: Option<Ipv4Addr> = None;
    match super::connect(&dir, profile, &config).await? {
        None => {
            ui.info(format!(
                "profile '{profile}' is not running: the addon is {} at its next start",
                if on { "enabled" } else { "disabled" }
            ));
            changed.stopped = true;
        }
        Some((facts, plan, docker, client)) => {
            let todo: Vec<&Addon> = turned_on
                .iter()
                .map(|n| addons::find(n))
                .collect::<Result<_>>()?;
            if on {
                super::build_images(&docker, home, &config, &todo, ui).await?;
            }
            let cluster = Cluster {
                profile,
                config: &config,
                facts: &facts,
                plan: &plan,
                docker: &docker,
                client: &client,
                ui,
            };
            for addon in todo {
                if on {
                    let step = ui.step(format!("Enabling the {} addon", addon.name));
                    // Interrupted, an addon half-applied is removed again: the cluster and
                    // the profile's choice stay as they were.
                    let what = format!("enabling the {} addon", addon.name);
                    let ensured = crate::lifecycle::interrupt::or_interrupted(
                        async {
                            crate::lifecycle::interrupt::phase(ui, "addon-enable").await;
                            super::ensure(&cluster, addon).await
                        },
                        crate::lifecycle::interrupt::interruption(),
                        &what,
                    )
                    .await;
                    match ensured {
                        Ok(result) => {
                            result?;
                        }
                        Err(interrupted) => {
                            step.failed();
                            let removed = super::remove(&cluster, addon).await;
                            return Err(match removed {
                                Ok(()) => interrupted.context(format!(
                                    "what it had applied was removed; the {} addon stays \
                                     disabled",
                                    addon.name
                                )),
                                Err(e) => interrupted.context(format!(
                                    "removing what it had applied failed too ({e:#}): \
                                     `localkube addons disable {}` removes it",
                                    addon.name
                                )),
                            });
                        }
                    }
                    step.done();
                    if let Some(service) = addon.published_service() {
                        published = super::service_address(&client, service).await?;
                    }
                    let usage = (addon.usage)(&config, published);
                    if !usage.is_empty() {
                        ui.info(format!("{}: {usage}", addon.name));
                    }
                } else {
                    let step = ui.step(format!("Disabling the {} addon", addon.name));
                    // Removing takes seconds, and an addon half removed (still chosen, its
                    // objects partly gone) helps no one: an interruption lets it finish.
                    let mut signal = std::pin::pin!(crate::lifecycle::interrupt::interruption());
                    // The test hook holds the first removal only: the signal it waits for comes
                    // once.
                    if disable_interrupted.is_none() {
                        tokio::select! {
                            () = crate::lifecycle::interrupt::phase(ui, "addon-disable") => {}
                            stopped = &mut signal => disable_interrupted = Some(stopped),
                        }
                    }
                    let mut removal = std::pin::pin!(super::remove(&cluster, addon));
                    let removed = tokio::select! {
                        removed = &mut removal => removed,
                        stopped = &mut signal, if disable_interrupted.is_none() => {
                            disable_interrupted = Some(stopped);
                            ui.detail(format!("{stopped}: finishing the removal of the {} addon first", addon.name));
                            removal.await
                        }
                    };
                    removed?;
                    step.done();
                }
            }
        }
    }
    if !on {
        for name in &turned_on {
            config.addons.set(name, false)?;
        }
    }
    if on || config != before {
        dir.save_config(&config)?;
    }
    if let Some(stopped) = disable_interrupted {
        anyhow::bail!(
            "interrupted ({stopped}) while disabling the {name} addon; it was removed all the \
             same, not left half done: the addon is disabled"
        );
    }
    if on && let Some(host) = addon.host_address(&config) {
        changed.addresses.push(host);
    }
    changed.addresses.extend(published.map(|a| a.to_string()));
    Ok(changed)
}
