//! `localkube service`: the URLs of a service that answer from the host, with no root and no
//! terminal kept open (a LoadBalancer's own loopback address, or a node's NodePort).

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Client;
use kube::api::{Api, ListParams};
use serde::Serialize;

use super::Ctx;
use crate::effects::{browser, kube_api};
use crate::plan::service_urls::{NoUrl, ServiceUrl, service_type, service_urls, with_https};

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

/// How long a new LoadBalancer may take to get its address before the NodePort URL is printed.
const ADDRESS_WAIT: Duration = Duration::from_secs(15);

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
    let profile = ctx.home.profile(&ctx.profile);
    profile.load_config()?;
    let kubeconfig = profile.admin_kubeconfig();
    super::block_on(async {
        let client = kube_api::admin_client(&kubeconfig).await?;
        match &args.command {
            Some(ServiceCommand::List { namespace }) => {
                list(ctx, &client, namespace.as_deref()).await
            }
            None => show(ctx, &client, &args).await,
        }
    })?
}

async fn nodes(client: &Client) -> Result<Vec<Node>> {
    Ok(Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await
        .context("reading the cluster's nodes (is the profile running? `localkube status`)")?
        .items)
}

async fn list(ctx: &Ctx, client: &Client, namespace: Option<&str>) -> Result<u8> {
    let api: Api<Service> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let services = api.list(&ListParams::default()).await?;
    let nodes = nodes(client).await?;
    let mut rows = Vec::new();
    for svc in &services.items {
        let namespace = svc.metadata.namespace.clone().unwrap_or_default();
        let name = svc.metadata.name.clone().unwrap_or_default();
        let type_ = service_type(svc);
        match service_urls(svc, &nodes) {
            Ok(urls) => rows.extend(urls.into_iter().map(|u| Row {
                namespace: namespace.clone(),
                name: name.clone(),
                type_: type_.clone(),
                target_port: u.target_port,
                url: u.url,
                localhost: u.localhost,
            })),
            Err(_) => rows.push(Row {
                namespace,
                name,
                type_,
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

async fn show(ctx: &Ctx, client: &Client, args: &Args) -> Result<u8> {
    let api: Api<Service> = Api::namespaced(client.clone(), &args.namespace);
    let names: Vec<String> = if args.all {
        api.list(&ListParams::default())
            .await?
            .items
            .into_iter()
            .filter(|s| matches!(service_type(s).as_str(), "LoadBalancer" | "NodePort"))
            .filter_map(|s| s.metadata.name)
            .collect()
    } else {
        match &args.name {
            Some(name) => vec![name.clone()],
            None => bail!(
                "name a service (`localkube service NAME`), or use --all or `localkube service list`"
            ),
        }
    };
    let mut rows = Vec::new();
    for name in &names {
        let (urls, held) = urls_when_ready(client, &args.namespace, name, args.wait).await?;
        // On standard error: `--url`'s output stays one URL a line.
        for message in held {
            ctx.ui.info(format!("{name}: {message}"));
        }
        for url in urls {
            rows.push(Row {
                namespace: args.namespace.clone(),
                name: name.clone(),
                type_: String::new(),
                target_port: url.target_port,
                url: if args.https {
                    with_https(&url.url)
                } else {
                    url.url
                },
                localhost: url
                    .localhost
                    .map(|l| if args.https { with_https(&l) } else { l }),
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

/// The service's URLs once it has a ready pod (waiting up to `wait` seconds for one) and, for a
/// LoadBalancer, its external address; with what its load balancer says of localhost ports
/// another program holds.
async fn urls_when_ready(
    client: &Client,
    namespace: &str,
    name: &str,
    wait: Option<u64>,
) -> Result<(Vec<ServiceUrl>, Vec<String>)> {
    let api: Api<Service> = Api::namespaced(client.clone(), namespace);
    let started = Instant::now();
    let wait = Duration::from_secs(wait.unwrap_or(0));
    loop {
        let svc = api.get_opt(name).await?.with_context(|| {
            format!(
                "no service '{name}' in namespace '{namespace}': `localkube service list` shows them"
            )
        })?;
        let nodes = nodes(client).await?;
        let ready = ready_endpoints(client, namespace, name).await?;
        let urls = service_urls(&svc, &nodes);
        let has_address = svc
            .status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|l| l.ingress.as_ref())
            .is_some_and(|i| !i.is_empty());
        let waiting_for_address = service_type(&svc) == "LoadBalancer"
            && !has_address
            && started.elapsed() < ADDRESS_WAIT;
        match urls {
            Err(NoUrl::ClusterOnly(kind)) => bail!(
                "service '{name}' is of type {kind}: it is reachable only inside the cluster. \
                 Reach it with `localkube kubectl -- port-forward svc/{name} 8080:PORT`, or give \
                 it an address from the host with `localkube kubectl -- patch svc {name} -n \
                 {namespace} -p '{{\"spec\":{{\"type\":\"LoadBalancer\"}}}}'`"
            ),
            Ok(urls) if ready > 0 && !waiting_for_address => {
                return Ok((urls, crate::plan::localhost::held_messages(&svc)));
            }
            _ if started.elapsed() < wait || waiting_for_address => {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(NoUrl::Pending) => bail!(
                "service '{name}' has no address yet: its load balancer is being set up; \
                 `localkube tunnel` shows why"
            ),
            Ok(_) => bail!(
                "service '{name}' in namespace '{namespace}' has no ready pod behind it: check \
                 `localkube kubectl -- get pods -n {namespace}` (or wait for one with --wait SECONDS)"
            ),
        }
    }
}

async fn ready_endpoints(client: &Client, namespace: &str, name: &str) -> Result<usize> {
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), namespace);
    let list = slices
        .list(&ListParams::default().labels(&format!("kubernetes.io/service-name={name}")))
        .await?;
    Ok(list
        .items
        .iter()
        .flat_map(|s| &s.endpoints)
        .filter(|e| e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(false))
        .count())
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
