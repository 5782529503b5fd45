//! `localkube service`: the URLs of a service that answer from the host, with no root and no
//! terminal kept open (a LoadBalancer's own loopback address, or a node's NodePort).

use anyhow::{Result, bail};
use serde::Serialize;

use super::Ctx;
use crate::effects::browser;
use crate::lifecycle::service;
use crate::plan::service_urls::with_https;

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<ServiceCommand>,
    /// The service's name.
    pub name: Option<String>,
    /// The service's namespace.
    #[arg(short, long, default_value = "default")]
    pub namespace: String,
    /// Only print the URLs; do not open a browser.
    #[arg(long)]
    pub url: bool,
    /// Every service in the namespace that has a URL.
    #[arg(long)]
    pub all: bool,
    /// Wait up to this many seconds for a ready pod behind the service.
    #[arg(long, value_name = "SECONDS")]
    pub wait: Option<u64>,
    /// The service speaks TLS on every port: https URLs (as minikube's `--https`); without it,
    /// only ports 443 and 8443 and ports named `https*` get https.
    #[arg(long)]
    pub https: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum ServiceCommand {
    /// List services and their URLs.
    List {
        /// Only this namespace (default: all).
        #[arg(short, long)]
        namespace: Option<String>,
    },
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    namespace: String,
    name: String,
    #[serde(rename = "type")]
    type_: String,
    target_port: String,
    url: String,
    /// The same port on localhost, while it answers there.
    #[serde(skip_serializing_if = "Option::is_none")]
    localhost: Option<String>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<u8> {
    match &args.command {
        Some(ServiceCommand::List { namespace }) => list(ctx, namespace.as_deref()),
        None => show(ctx, &args),
    }
}

fn list(ctx: &Ctx, namespace: Option<&str>) -> Result<u8> {
    let listed = super::block_on(service::list(&ctx.home, &ctx.profile, namespace))??;
    let mut rows = Vec::new();
    for svc in listed {
        match svc.urls {
            Ok(urls) => rows.extend(urls.into_iter().map(|u| Row {
                namespace: svc.namespace.clone(),
                name: svc.name.clone(),
                type_: svc.type_.clone(),
                target_port: u.target_port,
                url: u.url,
                localhost: u.localhost,
            })),
            Err(_) => rows.push(Row {
                namespace: svc.namespace,
                name: svc.name,
                type_: svc.type_,
                target_port: String::new(),
                url: String::new(),
                localhost: None,
            }),
        }
    }
    if ctx.json() {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        print_table(&rows, true);
    }
    Ok(0)
}

fn print_table(rows: &[Row], with_type: bool) {
    if with_type {
        println!(
            "{:<14} {:<22} {:<13} {:<12} URL",
            "NAMESPACE", "NAME", "TYPE", "TARGET PORT"
        );
    } else {
        println!(
            "{:<14} {:<22} {:<12} URL",
            "NAMESPACE", "NAME", "TARGET PORT"
        );
    }
    for r in rows {
        let url = match (&r.localhost, r.url.is_empty()) {
            (_, true) => "-".to_string(),
            (Some(localhost), false) => format!("{} and {localhost}", r.url),
            (None, false) => r.url.clone(),
        };
        let target = if r.target_port.is_empty() {
            "-"
        } else {
            &r.target_port
        };
        if with_type {
            println!(
                "{:<14} {:<22} {:<13} {:<12} {url}",
                r.namespace, r.name, r.type_, target
            );
        } else {
            println!("{:<14} {:<22} {:<12} {url}", r.namespace, r.name, target);
        }
    }
}

fn show(ctx: &Ctx, args: &Args) -> Result<u8> {
    let names = if args.all {
        None
    } else {
        match &args.name {
            Some(name) => Some(vec![name.clone()]),
            None => bail!(
                "name a service (`localkube service NAME`), or use --all or `localkube service list`"
            ),
        }
    };
    let request = service::ShowRequest {
        namespace: args.namespace.clone(),
        names,
        wait: args.wait,
    };
    let shown = super::block_on(service::show(&ctx.home, &ctx.profile, &request))??;
    let https = |url: String| if args.https { with_https(&url) } else { url };
    let mut rows = Vec::new();
    for svc in shown {
        // On standard error: `--url`'s output stays one URL a line.
        for message in svc.held {
            ctx.ui.info(format!("{}: {message}", svc.name));
        }
        for url in svc.urls {
            rows.push(Row {
                namespace: args.namespace.clone(),
                name: svc.name.clone(),
                type_: String::new(),
                target_port: url.target_port,
                url: https(url.url),
                localhost: url.localhost.map(https),
            });
        }
    }
    if ctx.json() {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else if args.url {
        // One URL a line, each port's own address, for scripts; localhost on standard error.
        for r in &rows {
            println!("{}", r.url);
            if let Some(localhost) = &r.localhost {
                ctx.ui
                    .info(format!("{} also answers on {localhost}", r.url));
            }
        }
    } else {
        print_table(&rows, false);
        for r in &rows {
            open_in_browser(ctx, &r.url);
        }
    }
    Ok(0)
}

/// Opens the URL where there is a desktop to open it on; says nothing otherwise.
fn open_in_browser(ctx: &Ctx, url: &str) {
    if let Ok(opener) = browser::desktop_opener()
        && browser::open_with(opener, url).is_ok()
    {
        ctx.ui.info(format!("Opening {url} in your browser."));
    }
}

#[cfg(test)]
mod tests {
    use crate::cli::{Cli, Command};
    use clap::Parser;

    #[test]
    fn https_flag_maps() {
        let cli = Cli::try_parse_from(["localkube", "service", "web", "--https", "--url"]).unwrap();
        let Command::Service(args) = cli.command else {
            panic!("parsed as {:?}", cli.command)
        };
        assert!(args.https && args.url);
        assert_eq!(args.name.as_deref(), Some("web"));
        let cli = Cli::try_parse_from(["localkube", "service", "web"]).unwrap();
        let Command::Service(args) = cli.command else {
            panic!("parsed as {:?}", cli.command)
        };
        assert!(!args.https);
    }
}
