//! `localkube dashboard`: serves the dashboard from this process on 127.0.0.1, prints its URL (with
//! this launch's secret), opens a browser where there is one, and serves until Ctrl-C.

use anyhow::Result;

use super::Ctx;
use crate::lifecycle::dashboard;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only print the URL; do not open a browser.
    #[arg(long)]
    pub url: bool,
    /// Port on 127.0.0.1 to serve on (default: a free one).
    #[arg(long)]
    pub port: Option<u16>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<u8> {
    super::block_on(async {
        let ready = dashboard::prepare(&ctx.home, &ctx.profile, &ctx.ui, args.port).await?;
        // stdout carries the URL alone, so scripts can read it.
        println!("{}", ready.url);
        // The redirect file lives as long as the dashboard serves, then goes with its folder.
        let mut _launcher = None;
        if !args.url {
            match dashboard::open_browser(&ready.url) {
                Ok((opener, dir)) => {
                    _launcher = Some(dir);
                    ctx.ui.info(format!("Opened in your browser ({opener})."))
                }
                Err(why) => ctx
                    .ui
                    .info(format!("Open the URL above in a browser ({why}).")),
            }
        }
        ctx.ui.info(
            "The dashboard answers only on 127.0.0.1 and only to that URL's secret. Press Ctrl-C to stop it.",
        );
        tokio::select! {
            served = ready.serve() => served?,
            _ = tokio::signal::ctrl_c() => ctx.ui.info("Dashboard stopped."),
        }
        Ok(0)
    })?
}
