//! `localkube cp`: copies a file or folder between the host and a node, as `minikube cp`:
//! `cp SRC NODE:DST`, `cp NODE:SRC DST`, and `cp SRC /ABSOLUTE/DST` for the first node.
//! The copy itself is `lifecycle::cp`'s.

use anyhow::Result;

use super::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to copy: a host path, or NODE:PATH in a node.
    pub source: String,
    /// Where to: NODE:PATH, a host path when the source is in a node, or an absolute path (in
    /// the first node) when the source is on the host.
    pub target: String,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<u8> {
    crate::lifecycle::cp::copy(&ctx.home, &ctx.profile, &args.source, &args.target)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use crate::cli::{Cli, Command as CliCommand};
    use clap::Parser;

    #[test]
    fn arguments_map() {
        let cli =
            Cli::try_parse_from(["localkube", "-p", "dev", "cp", "a.txt", "dev:/tmp/a"]).unwrap();
        let CliCommand::Cp(args) = cli.command else {
            panic!("parsed as {:?}", cli.command)
        };
        assert_eq!(
            (args.source.as_str(), args.target.as_str()),
            ("a.txt", "dev:/tmp/a")
        );
    }
}
