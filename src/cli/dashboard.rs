//! `localkube dashboard`.

use anyhow::Result;

use super::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only print the URL; do not open a browser.
    #[arg(long)]
    pub url: bool,
    /// Port on 127.0.0.1 to serve on (default: a free one).
    #[arg(long)]
    pub port: Option<u16>,
}

pub fn run(_ctx: &Ctx, _args: Args) -> Result<u8> {
    super::not_available_yet("dashboard", "the dashboard work")
}
