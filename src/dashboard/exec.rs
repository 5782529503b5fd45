//! A shell in a pod's container, in the browser: the page's terminal (xterm.js) speaks to
//! `/api/exec` over a websocket, and the dashboard bridges it to the API server's exec
//! subresource (itself a websocket), as `kubectl exec -it POD -- sh` does.
//!
//! On the page's websocket: binary frames are the terminal's bytes (keys one way, output the
//! other); a text frame from the page is `{"cols": C, "rows": R}` when the terminal is resized; the
//! last text frame from the dashboard is `{"exit": "..."}` with how the shell ended, or
//! `{"error": "..."}` when it could not start.

use axum::extract::ws::{Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{Api, AttachParams, TerminalSize};
use serde::Deserialize;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The subprotocol that carries the page's CSRF token: a browser cannot set headers on a
/// websocket, but it can name subprotocols, and another site's page does not know the token.
pub const CSRF_PROTOCOL_PREFIX: &str = "localkube-csrf.";

/// bash where the image has it, else sh.
pub const SHELL: [&str; 3] = [
    "/bin/sh",
    "-c",
    "if command -v bash >/dev/null 2>&1; then exec bash; else exec sh; fi",
];

#[derive(Debug, Deserialize)]
struct Resize {
    cols: u16,
    rows: u16,
}

async fn send_json(socket: &mut WebSocket, value: serde_json::Value) {
    let _ = socket.send(Message::Text(value.to_string().into())).await;
}

/// Runs a shell in the container and bridges it to the page until either side ends.
pub async fn bridge(
    mut socket: WebSocket,
    client: Client,
    namespace: String,
    pod: String,
    container: Option<String>,
) {
    let api: Api<Pod> = Api::namespaced(client, &namespace);
    let mut params = AttachParams::interactive_tty();
    if let Some(c) = container.filter(|c| !c.is_empty()) {
        params = params.container(c);
    }
    let mut process = match api.exec(&pod, SHELL, &params).await {
        Ok(p) => p,
        Err(e) => {
            let message = match e {
                kube::Error::Api(status) => status.message.clone(),
                other => other.to_string(),
            };
            send_json(
                &mut socket,
                json!({"error": format!("exec into {namespace}/{pod}: {message}")}),
            )
            .await;
            return;
        }
    };
    let (Some(mut stdin), Some(mut stdout), Some(mut resize), Some(status)) = (
        process.stdin(),
        process.stdout(),
        process.terminal_size(),
        process.take_status(),
    ) else {
        send_json(
            &mut socket,
            json!({"error": "the exec session has no terminal"}),
        )
        .await;
        return;
    };
    let (mut to_page, mut from_page) = socket.split();
    let mut status = std::pin::pin!(status);
    let mut buffer = vec![0u8; 16 * 1024];
    let ended = loop {
        tokio::select! {
            read = stdout.read(&mut buffer) => match read {
                Ok(0) | Err(_) => break None,
                Ok(n) => {
                    if to_page.send(Message::Binary(buffer[..n].to_vec().into())).await.is_err() {
                        break None;
                    }
                }
            },
            message = from_page.next() => match message {
                Some(Ok(Message::Binary(bytes))) => {
                    if stdin.write_all(&bytes).await.is_err() { break None; }
                }
                Some(Ok(Message::Text(text))) => {
                    if let Ok(size) = serde_json::from_str::<Resize>(&text) {
                        let _ = resize.send(TerminalSize { width: size.cols, height: size.rows }).await;
                    }
                }
                Some(Ok(_)) => {}
                // The page went away: end the shell (its stdin closes).
                Some(Err(_)) | None => { drop(stdin); let _ = process.join().await; return; }
            },
            done = &mut status => break done,
        }
    };
    // Drain what the shell wrote last.
    while let Ok(Ok(n)) = tokio::time::timeout(
        std::time::Duration::from_millis(200),
        stdout.read(&mut buffer),
    )
    .await
    {
        if n == 0
            || to_page
                .send(Message::Binary(buffer[..n].to_vec().into()))
                .await
                .is_err()
        {
            break;
        }
    }
    let how = match ended {
        Some(s) if s.status.as_deref() == Some("Success") => "the shell exited".to_string(),
        Some(s) => format!("the shell ended: {}", s.message.unwrap_or_default()),
        None => "the session ended".to_string(),
    };
    let _ = to_page
        .send(Message::Text(json!({"exit": how}).to_string().into()))
        .await;
    let _ = to_page.close().await;
}
