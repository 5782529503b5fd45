//! `cp`: a file or folder copied between the host and one of the profile's nodes.

use anyhow::{Context, Result};

use crate::effects::home::Home;
use crate::effects::node_copy;
use crate::plan::names;
use crate::plan::node_copy::{Copy, plan_copy};
use crate::plan::profile_name::ProfileName;

/// Copies `source` to `target`, one of them `NODE:PATH` (or an absolute target: the first node).
pub fn copy(home: &Home, profile: &ProfileName, source: &str, target: &str) -> Result<()> {
    let config = home.profile(profile).load_config()?;
    let nodes = names::node_names(profile, &config.nodes);
    let copy = plan_copy(source, target, &nodes)?;
    let result = match &copy {
        Copy::ToNode { host, node, path } => node_copy::to_node(host, node, path),
        Copy::FromNode { node, path, host } => node_copy::from_node(node, path, host),
    };
    result.with_context(|| format!("copying {} to {}", copy.describe()[0], copy.describe()[1]))
}
