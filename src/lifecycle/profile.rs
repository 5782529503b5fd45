//! `profile list`: every profile of this home with its settings and its containers' states.

use std::collections::BTreeMap;

use anyhow::Result;

use crate::effects::docker;
use crate::effects::home::Home;
use crate::plan::config::ProfileConfig;
use crate::plan::container_state::ContainerState;
use crate::plan::profile_name::ProfileName;
use crate::plan::profile_state::{State, expected_containers, state};

/// A profile, its settings, and its state (Unknown where Docker did not answer).
pub struct Listed {
    pub name: ProfileName,
    pub config: ProfileConfig,
    pub state: State,
}

pub async fn list(home: &Home) -> Result<Vec<Listed>> {
    let mut profiles = Vec::new();
    for name in home.list_profiles()? {
        let config = home.profile(&name).load_config()?;
        profiles.push((name, config));
    }
    // One Docker connection for all; no Docker is a state, not a failure of the listing.
    let docker = docker::connect().await.ok();
    let mut listed = Vec::new();
    for (name, config) in profiles {
        let found: Option<BTreeMap<String, ContainerState>> = match &docker {
            Some(docker) => docker::profile_containers(docker, &name)
                .await
                .ok()
                .map(|cs| cs.into_iter().map(|c| (c.name, c.state)).collect()),
            None => None,
        };
        let state = match found {
            Some(found) => state(&expected_containers(&name, &config), &found),
            None => State::Unknown,
        };
        listed.push(Listed {
            name,
            config,
            state,
        });
    }
    Ok(listed)
}
