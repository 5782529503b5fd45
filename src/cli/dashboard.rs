//! `localkube dashboard`: serves the dashboard from this process on 127.0.0.1, prints its URL (with
//! this launch's secret), opens a browser where there is one, and serves until Ctrl-C.

use std::process::{Command, Stdio};

use anyhow::{Result, bail};

use super::Ctx;
use crate::dashboard::{Dashboard, Options};
use crate::effects::docker;

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
    let profile = ctx.home.profile(&ctx.profile);
    // Refuses a profile that does not exist, with the hint to create it.
    profile.load_config()?;
    let kubeconfig = profile.kubeconfigs_dir().join("admin.conf");
    super::block_on(async {
        let docker = docker::connect().await?;
        let found = docker::profile_containers(&docker, &ctx.profile).await?;
        let stopped: Vec<&docker::ProfileContainer> =
            found.iter().filter(|c| c.state != "running").collect();
        // The page needs the API server and its etcd; with another component down it still shows
        // the cluster (pods Pending without a scheduler, say), so that is only a warning.
        let api_up = ["etcd", "apiserver"].iter().all(|role| {
            found
                .iter()
                .any(|c| c.role == *role && c.state == "running")
        });
        if !api_up {
            let detail = if found.is_empty() {
                "it has no containers".to_string()
            } else {
                let names: Vec<&str> = stopped.iter().map(|c| c.name.as_str()).collect();
                format!("not running: {}", names.join(", "))
            };
            bail!(
                "profile '{p}' is not running ({detail}): start it with `localkube start -p {p}`",
                p = ctx.profile
            );
        }
        for c in &stopped {
            ctx.ui.info(format!(
                "warning: {} ({}) is {}; the dashboard shows what the API server knows",
                c.name, c.role, c.state
            ));
        }
        let dashboard = Dashboard::prepare(Options {
            profile: ctx.profile.to_string(),
            kubeconfig,
            port: args.port,
        })
        .await?;
        // stdout carries the URL alone, so scripts can read it.
        println!("{}", dashboard.url);
        if !args.url {
            match open_browser(&dashboard.url) {
                Ok(opener) => ctx.ui.info(format!("Opened in your browser ({opener}).")),
                Err(why) => ctx
                    .ui
                    .info(format!("Open the URL above in a browser ({why}).")),
            }
        }
        ctx.ui.info(
            "The dashboard answers only on 127.0.0.1 and only to that URL's secret. Press Ctrl-C to stop it.",
        );
        tokio::select! {
            served = dashboard.serve() => served?,
            _ = tokio::signal::ctrl_c() => ctx.ui.info("Dashboard stopped."),
        }
        Ok(0)
    })?
}

/// Opens `url` with the desktop's opener, when there is a desktop; says which, or why not.
fn open_browser(url: &str) -> std::result::Result<&'static str, String> {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        let has_display = ["DISPLAY", "WAYLAND_DISPLAY"]
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|d| !d.is_empty()));
        if !has_display {
            return Err("no desktop here: DISPLAY and WAYLAND_DISPLAY are unset".into());
        }
        "xdg-open"
    };
    Command::new(opener)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(|mut child| {
            // Reap it when it exits (xdg-open returns at once), so no zombie is left.
            std::thread::spawn(move || child.wait());
            opener
        })
        .map_err(|e| format!("{opener} could not be run: {e}"))
}
