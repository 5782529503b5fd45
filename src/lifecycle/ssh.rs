//! `ssh`: a shell or a command in one of the profile's running nodes.

use anyhow::{Result, bail};

use crate::effects::home::Home;
use crate::effects::{docker, node_shell};
use crate::plan::profile_name::ProfileName;

/// Runs `command` (a shell when empty) in `node` (default: the first running one); returns its
/// exit code.
pub async fn ssh(
    home: &Home,
    profile: &ProfileName,
    node: Option<&str>,
    command: &[String],
) -> Result<u8> {
    home.profile(profile).load_config()?;
    let docker = docker::connect().await?;
    let nodes = docker::running_nodes(&docker, profile).await?;
    let node = match node {
        Some(n) if nodes.iter().any(|r| r == n) => n.to_string(),
        Some(n) => bail!(
            "no running node '{n}' in profile '{profile}'; nodes: {}",
            nodes.join(", ")
        ),
        None => nodes[0].clone(),
    };
    node_shell::exec(&node, command)
}
