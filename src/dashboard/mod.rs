//! The dashboard: a web page served by the localkube process itself, on 127.0.0.1, that shows the
//! cluster and the control loop at work (desired against current state, pods replaced, services
//! and their URLs) and lets a learner scale, delete pods and apply manifests.
//!
//! Why in-process on the host, not an addon in the cluster: nothing to build or pull, so it opens
//! at once and offline; no `kubectl proxy` → service → pod chain that can fail in between; and
//! access is tied to the person who started it (see [`auth`]), not to a ServiceAccount token.
//!
//! - [`state`]: one watch per kind of object, shared by every open page;
//! - [`views`]: what a row of each kind shows (pure);
//! - [`actions`]: scale, delete, apply, logs against the API server;
//! - [`objects`]: an object's own page, an edit by server-side apply, a Secret's value;
//! - [`exec`]: a shell in a container, bridged from the page's websocket;
//! - [`metrics`]: CPU and memory from metrics-server, with the last minutes kept;
//! - [`api`]: the HTTP routes; [`auth`]: who may use them; `assets/`: the page, embedded (and
//!   `terminal/`: the terminal library's pinned npm package).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::Router;
use axum::routing::{delete, get, post};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde::Serialize;
use tokio::net::TcpListener;

pub mod actions;
pub mod api;
mod assets;
pub mod auth;
mod changes;
pub mod exec;
pub mod metrics;
pub mod objects;
pub mod state;
pub mod views;

/// What the header of the page says about the cluster.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterInfo {
    pub profile: String,
    pub kubernetes_version: String,
    pub api_server: String,
}

/// Everything a request handler needs.
pub struct App {
    pub client: Client,
    pub watched: Arc<state::Watched>,
    pub secrets: auth::Secrets,
    pub cluster: ClusterInfo,
    index_html: String,
    csp: axum::http::HeaderValue,
}

/// A client for the dashboard from the profile's admin kubeconfig. Unlike the short polls of
/// `start`, watches and followed logs stay open with nothing to read for minutes: no read timeout.
async fn client(kubeconfig: &Path) -> Result<(Client, String)> {
    let kubeconfig = Kubeconfig::read_from(kubeconfig)
        .with_context(|| format!("reading {}", kubeconfig.display()))?;
    let mut config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .context("loading the admin kubeconfig")?;
    config.connect_timeout = Some(Duration::from_secs(3));
    config.read_timeout = None;
    let url = config.cluster_url.to_string();
    let client = Client::try_from(config).context("creating the API client")?;
    Ok((client, url.trim_end_matches('/').to_string()))
}

/// How to launch.
#[derive(Debug, Clone)]
pub struct Options {
    pub profile: String,
    /// The profile's admin kubeconfig.
    pub kubeconfig: std::path::PathBuf,
    /// Port on 127.0.0.1; a free one when absent.
    pub port: Option<u16>,
    /// The profile's settings, when it has several control-plane members: the page then shows
    /// each member's health (the Lease holders, each etcd member's state).
    pub members_of: Option<crate::plan::config::ProfileConfig>,
}

/// A dashboard bound to its port, its watches started, ready to serve.
pub struct Dashboard {
    pub url: String,
    listener: TcpListener,
    router: Router,
}

impl Dashboard {
    /// Connects to the cluster, binds the port and starts the watches. Fails when the API server
    /// does not answer or the port is taken.
    pub async fn prepare(options: Options) -> Result<Self> {
        let (client, api_server) = client(&options.kubeconfig).await?;
        let version = tokio::time::timeout(Duration::from_secs(10), client.apiserver_version())
            .await
            .map_err(|_| anyhow::anyhow!("no answer within 10s"))
            .and_then(|r| r.map_err(anyhow::Error::from))
            .with_context(|| {
                format!(
                    "the API server of profile '{}' ({api_server}) does not answer: see `localkube status -p {}`",
                    options.profile, options.profile
                )
            })?;
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, options.port.unwrap_or(0)));
        let listener = TcpListener::bind(address).await.with_context(|| match options.port {
            Some(port) => format!(
                "cannot listen on 127.0.0.1:{port}: choose another port with --port, or leave it out for a free one"
            ),
            None => "cannot listen on a free port of 127.0.0.1".to_string(),
        })?;
        let port = listener.local_addr()?.port();
        let secrets = auth::Secrets::generate(port)?;
        let watched = state::Watched::start(&client);
        if let Ok(profile) = crate::plan::profile_name::ProfileName::parse(&options.profile) {
            watched.follow_paused(profile, options.members_of.clone(), client.clone());
        }
        // The first lists take a fraction of a second on a local cluster; the page opens complete.
        watched.wait_ready(Duration::from_secs(15)).await;
        let cluster = ClusterInfo {
            profile: options.profile.clone(),
            kubernetes_version: version.git_version,
            api_server,
        };
        let style_nonce = auth::random_hex()?;
        let index_html = assets::index_html(&options.profile, secrets.csrf(), &style_nonce);
        let csp = axum::http::HeaderValue::from_str(&api::csp(&style_nonce))
            .context("the Content-Security-Policy header")?;
        let app = Arc::new(App {
            client,
            watched,
            secrets: secrets.clone(),
            cluster,
            index_html,
            csp,
        });
        Ok(Self {
            url: secrets.login_url(),
            listener,
            router: router(app),
        })
    }

    /// Serves until the process is stopped.
    pub async fn serve(self) -> Result<()> {
        axum::serve(self.listener, self.router)
            .await
            .context("serving the dashboard")
    }
}

fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(api::index))
        .route("/assets/{name}", get(api::asset))
        .route("/api/state", get(api::state))
        .route("/api/stream", get(api::stream))
        .route("/api/logs", get(api::logs))
        .route("/api/logs/stream", get(api::logs_stream))
        .route("/api/scale", post(api::scale))
        .route("/api/pods/{namespace}/{name}", delete(api::delete_pod))
        .route("/api/apply", post(api::apply))
        .route("/api/object", get(api::object))
        .route("/api/object/apply", post(api::edit))
        .route("/api/secret", post(api::secret))
        .route("/api/exec", get(api::exec))
        .fallback(api::not_found)
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            api::guard,
        ))
        .with_state(app)
}
