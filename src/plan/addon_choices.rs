//! A profile's addon choices as stored in its config.yaml. Only the data: what the choices mean
//! (defaults, dependencies) is `plan::addons`' table, so the config does not import the table.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// A profile's addon choices: what the user enabled or disabled; the rest follow their default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddonChoices {
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub enabled: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub disabled: BTreeSet<String>,
    /// The registry's port on 127.0.0.1, chosen when it is first enabled and kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_port: Option<u16>,
}

impl AddonChoices {
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}
