//! The HTTP side: the page and its assets, the JSON API, and the server-sent event streams.
//!
//! | method and path | what |
//! |---|---|
//! | `GET /` | the page (exchanges `?token=` for the session cookie first) |
//! | `GET /assets/{app.js,style.css,favicon.svg}` | the page's assets, embedded in the binary |
//! | `GET /api/state?namespace=NS` | every kind's rows at once, as JSON |
//! | `GET /api/stream?namespace=NS` | server-sent events: `cluster` once, then one event per kind (`nodes`, `pods`, ...) at first and whenever it changes |
//! | `GET /api/logs?namespace=&pod=&container=&previous=` | the last 1000 lines of a container's log |
//! | `GET /api/logs/stream?namespace=&pod=&container=` | the log as it is written: `line` events, then `end` |
//! | `POST /api/scale` `{kind, namespace, name, replicas}` | the scale subresource |
//! | `DELETE /api/pods/NS/NAME` | deletes a pod |
//! | `POST /api/apply` `{manifest, namespace}` | server-side apply of every document |
//! | `GET /api/object?kind=&namespace=&name=` | an object's page: YAML, owners, owned objects, its events, a pod's containers |
//! | `POST /api/object/apply` `{kind, namespace, name, yaml, force}` | an edit, with server-side apply (409 on a conflict unless `force`) |
//! | `POST /api/secret` `{namespace, name, key}` | one value of a Secret (a write's checks: it is never in a page's first load) |
//! | `GET /api/exec?namespace=&pod=&container=` | a websocket to a shell in the container (a write's checks; the CSRF token as subprotocol) |
//!
//! Failures answer `{"error": "...", "reason": "..."}` with the API server's status code and
//! message, verbatim.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use futures_util::{AsyncBufReadExt, Stream, StreamExt};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;

use super::App;
use super::actions::{self, Failure};
use super::assets;
use super::auth::{self, Verdict};
use super::state::{self, KINDS, Kind, Versions};
use super::{exec, objects};
use axum::extract::WebSocketUpgrade;

/// Bursts of changes (a rollout touches many objects) are gathered for this long into one push.
const COALESCE: Duration = Duration::from_millis(100);

/// The Content-Security-Policy of every answer: only this origin's own scripts, styles and
/// connections (the exec terminal's websocket is this origin's too); no framing. The terminal
/// library adds `<style>` elements of its own: the page's script gives them this launch's nonce,
/// so no other inline style applies.
pub fn csp(style_nonce: &str) -> String {
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self' 'nonce-{style_nonce}'; \
         img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'"
    )
}

/// The access check in front of every route (see [`auth`]), and the headers every answer carries.
pub async fn guard(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let verdict = auth::judge(
        &app.secrets,
        request.method(),
        request.uri(),
        request.headers(),
    );
    let mut response = match verdict {
        Verdict::Allow => next.run(request).await,
        // Two first visits at once: one gets the session, the other is refused.
        Verdict::Exchange if !app.secrets.consume_token() => (
            StatusCode::UNAUTHORIZED,
            "401 Unauthorized: this launch's secret was used already (it works once)\n",
        )
            .into_response(),
        Verdict::Exchange => (
            StatusCode::SEE_OTHER,
            [
                (header::LOCATION, "/".to_string()),
                (header::SET_COOKIE, app.secrets.set_cookie()),
            ],
        )
            .into_response(),
        Verdict::Unauthorized(why) => (
            StatusCode::UNAUTHORIZED,
            format!("401 Unauthorized: {why}\n"),
        )
            .into_response(),
        Verdict::Forbidden(why) => {
            (StatusCode::FORBIDDEN, format!("403 Forbidden: {why}\n")).into_response()
        }
    };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, app.csp.clone());
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // The login URL carries the secret: never send it along to a linked service.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

pub async fn index(State(app): State<Arc<App>>) -> Html<String> {
    Html(app.index_html.clone())
}

pub async fn asset(Path(name): Path<String>) -> Response {
    match assets::asset(&name) {
        Some((content_type, body)) => {
            ([(header::CONTENT_TYPE, content_type)], body).into_response()
        }
        None => not_found().await.into_response(),
    }
}

pub async fn not_found() -> impl IntoResponse {
    (StatusCode::NOT_FOUND, "404 Not Found\n")
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_GATEWAY);
        (status, Json(self)).into_response()
    }
}

#[derive(Debug, Deserialize)]
pub struct NamespaceQuery {
    pub namespace: Option<String>,
}

pub async fn state(State(app): State<Arc<App>>, Query(query): Query<NamespaceQuery>) -> Response {
    let filter = state::namespace_filter(query.namespace.as_deref());
    let mut body = app.watched.snapshot(&filter);
    body.insert("cluster".into(), cluster_json(&app));
    Json(body).into_response()
}

/// The cluster's facts and its enabled addons, read from the profile each time (the choice can
/// change while the dashboard runs).
fn cluster_json(app: &App) -> serde_json::Value {
    let mut value = json!(app.cluster);
    value["addons"] = json!(enabled_addons(&app.cluster.profile));
    value
}

/// The enabled addons of a profile, with the registry's address; empty when it cannot be read.
fn enabled_addons(profile: &str) -> Vec<serde_json::Value> {
    let config = crate::effects::home::Home::from_env()
        .ok()
        .and_then(|home| {
            let name = crate::plan::profile_name::ProfileName::parse(profile).ok()?;
            home.profile(&name).load_config().ok()
        });
    let Some(config) = config else {
        return Vec::new();
    };
    config
        .addons
        .enabled_addons()
        .into_iter()
        .map(|a| {
            let address = a.host_address(&config);
            json!({ "name": a.name, "description": a.description, "address": address })
        })
        .collect()
}

/// An SSE response fed by a channel; the task on the other end stops when the page goes away.
fn sse_from(rx: mpsc::Receiver<Event>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|event| (Ok(event), rx))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

fn json_event(name: &str, data: &serde_json::Value) -> Event {
    Event::default()
        .event(name)
        .json_data(data)
        .unwrap_or_else(|_| Event::default().event(name).data("null"))
}

pub async fn stream(
    State(app): State<Arc<App>>,
    Query(query): Query<NamespaceQuery>,
) -> impl IntoResponse {
    let filter = state::namespace_filter(query.namespace.as_deref());
    let (tx, rx) = mpsc::channel(32);
    tokio::spawn(push_changes(app, filter, tx));
    sse_from(rx)
}

/// Sends every kind once, then each kind again whenever its watch moves.
async fn push_changes(app: Arc<App>, filter: state::NamespaceFilter, tx: mpsc::Sender<Event>) {
    let mut versions = app.watched.subscribe();
    let mut cluster = cluster_json(&app);
    if tx.send(json_event("cluster", &cluster)).await.is_err() {
        return;
    }
    let mut sent: Option<Versions> = None;
    loop {
        let now = *versions.borrow_and_update();
        // Enabling an addon moves the watches (its pods): the cluster event follows.
        let latest = cluster_json(&app);
        if latest != cluster {
            if tx.send(json_event("cluster", &latest)).await.is_err() {
                return;
            }
            cluster = latest;
        }
        for kind in KINDS {
            if sent.is_none_or(|before| state::changed(kind, &before, &now)) {
                let rows = app.watched.rows(kind, &filter);
                if tx.send(json_event(kind.key(), &rows)).await.is_err() {
                    return;
                }
            }
        }
        sent = Some(now);
        tokio::select! {
            changed = versions.changed() => if changed.is_err() { return },
            _ = tx.closed() => return,
        }
        tokio::time::sleep(COALESCE).await;
    }
}

#[derive(Debug, Deserialize)]
pub struct ScaleRequest {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub replicas: i32,
}

pub async fn scale(
    State(app): State<Arc<App>>,
    Json(request): Json<ScaleRequest>,
) -> Result<Json<serde_json::Value>, Failure> {
    let replicas = actions::scale(
        &app.client,
        &request.kind,
        &request.namespace,
        &request.name,
        request.replicas,
    )
    .await?;
    Ok(Json(json!({
        "kind": request.kind,
        "namespace": request.namespace,
        "name": request.name,
        "replicas": replicas,
    })))
}

pub async fn delete_pod(
    State(app): State<Arc<App>>,
    Path((namespace, name)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>, Failure> {
    actions::delete_pod(&app.client, &namespace, &name).await?;
    Ok(Json(json!({"deleted": name, "namespace": namespace})))
}

#[derive(Debug, Deserialize)]
pub struct ApplyRequest {
    pub manifest: String,
    /// Where namespaced objects without a namespace go (default: `default`).
    pub namespace: Option<String>,
}

pub async fn apply(State(app): State<Arc<App>>, Json(request): Json<ApplyRequest>) -> Response {
    let namespace =
        state::namespace_filter(request.namespace.as_deref()).unwrap_or_else(|| "default".into());
    let report = actions::apply(&app.client, &request.manifest, &namespace).await;
    let status = report
        .failure
        .as_ref()
        .map(|f| StatusCode::from_u16(f.status).unwrap_or(StatusCode::BAD_GATEWAY))
        .unwrap_or(StatusCode::OK);
    (status, Json(report)).into_response()
}

#[derive(Debug, Deserialize)]
pub struct LogsQuery {
    pub namespace: String,
    pub pod: String,
    pub container: Option<String>,
    #[serde(default)]
    pub previous: bool,
}

pub async fn logs(
    State(app): State<Arc<App>>,
    Query(query): Query<LogsQuery>,
) -> Result<String, Failure> {
    actions::logs(
        &app.client,
        &query.namespace,
        &query.pod,
        query.container,
        query.previous,
    )
    .await
}

pub async fn logs_stream(
    State(app): State<Arc<App>>,
    Query(query): Query<LogsQuery>,
) -> impl IntoResponse {
    let (tx, rx) = mpsc::channel(256);
    tokio::spawn(async move {
        let reader =
            match actions::follow_logs(&app.client, &query.namespace, &query.pod, query.container)
                .await
            {
                Ok(reader) => reader,
                Err(failure) => {
                    let _ = tx.send(json_event("failure", &json!(failure))).await;
                    return;
                }
            };
        let mut lines = std::pin::pin!(reader.lines());
        loop {
            tokio::select! {
                line = lines.next() => match line {
                    Some(Ok(line)) => {
                        let line = line.trim_end_matches('\r');
                        if tx.send(json_event("line", &json!(line))).await.is_err() {
                            return;
                        }
                    }
                    Some(Err(e)) => {
                        let failure = json!({"error": format!("reading the log: {e}")});
                        let _ = tx.send(json_event("failure", &failure)).await;
                        return;
                    }
                    None => {
                        let _ = tx.send(json_event("end", &json!(null))).await;
                        return;
                    }
                },
                _ = tx.closed() => return,
            }
        }
    });
    sse_from(rx)
}

#[derive(Debug, Deserialize)]
pub struct ObjectQuery {
    pub kind: String,
    #[serde(default)]
    pub namespace: String,
    pub name: String,
}

pub async fn object(
    State(app): State<Arc<App>>,
    Query(query): Query<ObjectQuery>,
) -> Result<Json<objects::ObjectPage>, Failure> {
    objects::page(
        &app.client,
        &app.watched,
        &query.kind,
        &query.namespace,
        &query.name,
    )
    .await
    .map(Json)
}

#[derive(Debug, Deserialize)]
pub struct EditRequest {
    pub kind: String,
    #[serde(default)]
    pub namespace: String,
    pub name: String,
    pub yaml: String,
    #[serde(default)]
    pub force: bool,
}

pub async fn edit(
    State(app): State<Arc<App>>,
    Json(request): Json<EditRequest>,
) -> Result<Json<objects::Edited>, Failure> {
    let target = state::ObjectLink {
        kind: request.kind,
        namespace: request.namespace,
        name: request.name,
    };
    objects::apply_edit(&app.client, &target, &request.yaml, request.force)
        .await
        .map(Json)
}

#[derive(Debug, Deserialize)]
pub struct SecretRequest {
    pub namespace: String,
    pub name: String,
    pub key: String,
}

pub async fn secret(
    State(app): State<Arc<App>>,
    Json(request): Json<SecretRequest>,
) -> Result<Json<serde_json::Value>, Failure> {
    objects::secret_value(
        &app.watched,
        &request.namespace,
        &request.name,
        &request.key,
    )
    .map(Json)
}

#[derive(Debug, Deserialize)]
pub struct ExecQuery {
    pub namespace: String,
    pub pod: String,
    pub container: Option<String>,
}

pub async fn exec(
    State(app): State<Arc<App>>,
    Query(query): Query<ExecQuery>,
    ws: WebSocketUpgrade,
) -> Response {
    let protocol = format!("{}{}", exec::CSRF_PROTOCOL_PREFIX, app.secrets.csrf());
    let client = app.client.clone();
    ws.protocols([protocol]).on_upgrade(move |socket| {
        exec::bridge(socket, client, query.namespace, query.pod, query.container)
    })
}

/// Kept so the kinds the page is told about and [`Kind`] stay one list.
pub fn stream_event_names() -> Vec<&'static str> {
    std::iter::once("cluster")
        .chain(KINDS.iter().map(|k: &Kind| k.key()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_event_name() {
        let names = stream_event_names();
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len());
        assert!(names.contains(&"pods") && names.contains(&"replicationControllers"));
    }
}
