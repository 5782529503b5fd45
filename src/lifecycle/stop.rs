//! `stop`: every container of the profile stopped, each component exiting by itself; volumes,
//! network and files stay.

use anyhow::Result;

use crate::effects::docker;
use crate::effects::home::Home;
use crate::effects::lock::lock_profile;
use crate::plan::profile_name::ProfileName;
use crate::ui::Ui;

/// Stops the profile's containers, saying how many.
pub async fn stop(home: &Home, profile: &ProfileName, ui: &Ui) -> Result<()> {
    let _lock = lock_profile(home, profile)?;
    // Refuses a profile that does not exist, with the hint to create it.
    home.profile(profile).load_config()?;
    // Docker would skip frozen containers, or kill them at the timeout: thawed first, every
    // component exits by itself.
    crate::lifecycle::pause::unpause_first(home, profile, ui, "so each component exits by itself")
        .await?;
    let step = ui.step(format!("Stopping profile '{profile}'"));
    let docker = docker::connect().await?;
    let stopped = docker::stop_profile(&docker, profile).await?;
    if stopped.is_empty() {
        step.done_with("nothing was running");
    } else {
        step.done_with(format!("{} containers stopped", stopped.len()));
    }
    Ok(())
}
