//! Thin entry point: parse, run, print the error chain, exit with the command's code.

use clap::Parser;
use localkube::cli::{self, Cli};

/// The exit code of a program a closed pipe stopped (128 + SIGPIPE), as `cat` under `head` has.
const CLOSED_PIPE_EXIT: u8 = 141;

fn main() -> std::process::ExitCode {
    stop_quietly_on_a_closed_pipe();
    let cli = Cli::parse();
    match cli::run(cli) {
        Ok(code) => std::process::ExitCode::from(code),
        Err(err) if is_closed_pipe(&err) => std::process::ExitCode::from(CLOSED_PIPE_EXIT),
        Err(err) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            std::process::ExitCode::from(1)
        }
    }
}

/// `localkube version | head -1`: the reader is gone, so there is nobody to tell. Rust ignores
/// SIGPIPE (sockets then get an error instead of killing the process), and `println!` panics on
/// the error; a panic for a closed pipe ends the process quietly, anything else panics as before.
fn stop_quietly_on_a_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        // `println!`'s own panic, or a writer's `expect` (clap_complete's) on the same error.
        if message.contains("Broken pipe") || message.contains("kind: BrokenPipe") {
            std::process::exit(CLOSED_PIPE_EXIT.into());
        }
        default(info)
    }));
}

/// An error whose cause is writing to a closed pipe (a `write!` to stdout, as `logs -f` does).
fn is_closed_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
