//! Thin entry point: parse, run, print the error chain, exit with the command's code.

use clap::Parser;
use localkube::cli::{self, Cli};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli::run(cli) {
        Ok(code) => std::process::ExitCode::from(code),
        Err(err) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            std::process::ExitCode::from(1)
        }
    }
}
