//! A shell or a command in a node, through the docker CLI's `exec`: an interactive terminal
//! session (resizing, line discipline) is what the docker CLI does well, and bollard's exec has
//! no terminal handling.

use std::io::IsTerminal;
use std::process::Command;

use anyhow::{Context, Result};

/// Runs `command` (a shell when empty) in the node's container, attached to this terminal;
/// returns its exit code.
pub fn exec(node: &str, command: &[String]) -> Result<u8> {
    let mut cmd = Command::new("docker");
    cmd.arg("exec").arg("-i");
    if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
        cmd.arg("-t");
    }
    cmd.arg(node);
    if command.is_empty() {
        cmd.arg("bash");
    } else {
        cmd.args(command);
    }
    let status = cmd
        .status()
        .context("running `docker exec` (the docker CLI is needed for `localkube ssh`)")?;
    Ok(status.code().unwrap_or(1).clamp(0, 255) as u8)
}
