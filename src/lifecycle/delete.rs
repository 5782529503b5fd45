//! `delete`: a profile's containers, network, volumes, files and kubeconfig entries removed —
//! only what carries the profile's label, never anything else.

use anyhow::{Context, Result};

use crate::effects::home::Home;
use crate::effects::lock::lock_profile;
use crate::effects::{docker, kubeconfig_store};
use crate::plan::profile_name::ProfileName;

/// What a delete removed.
pub struct Deleted {
    pub containers: usize,
    pub networks: usize,
    pub volumes: usize,
    pub kubeconfig: bool,
    pub files: bool,
}

impl Deleted {
    pub fn nothing(&self) -> bool {
        self.containers == 0
            && self.networks == 0
            && self.volumes == 0
            && !self.kubeconfig
            && !self.files
    }
}

/// Deletes one profile, under its lock.
pub async fn delete(home: &Home, profile: &ProfileName) -> Result<Deleted> {
    let _lock = lock_profile(home, profile)?;
    let dir = home.profile(profile);
    // Docker first: if it does not answer, nothing is touched and the error says how to fix it.
    let docker = docker::connect().await?;
    let removed = docker::remove_profile(&docker, profile).await?;
    let kubeconfig = kubeconfig_store::remove_from_user(profile)?;
    // A failed start's list of what it could not remove: all of it is removed above.
    let leftovers = home.leftovers_path(profile);
    if leftovers.exists() {
        std::fs::remove_file(&leftovers)
            .with_context(|| format!("removing {}", leftovers.display()))?;
    }
    let files = dir.dir.exists();
    dir.remove()?;
    Ok(Deleted {
        containers: removed.containers.len(),
        networks: removed.networks.len(),
        volumes: removed.volumes.len(),
        kubeconfig,
        files,
    })
}
