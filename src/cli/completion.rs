//! `localkube completion SHELL`: shell completions generated from the CLI definition.

use anyhow::Result;
use clap::CommandFactory;
use clap_complete::Shell;

use super::Cli;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

pub fn run(args: Args) -> Result<u8> {
    let mut command = Cli::command();
    clap_complete::generate(
        args.shell,
        &mut command,
        "localkube",
        &mut std::io::stdout(),
    );
    Ok(0)
}
