//! Who may use the dashboard: only the person who started it.
//!
//! - The server listens on 127.0.0.1 only, and answers only requests whose `Host` names that
//!   address (or `localhost`) and its port, so a page on another site that re-points its own name
//!   at 127.0.0.1 (DNS rebinding) is refused.
//! - Each launch draws a secret of 256 bits from the system's random source. It is printed in the
//!   URL (`/?token=…`) and handed to the browser through a 0600 file (never a command line, which
//!   every local user can read in /proc). The first visit to `/` exchanges it for a session
//!   cookie and redirects to `/`, so the secret leaves the address bar and the browser history.
//! - The launch secret works once: after that exchange it is refused everywhere. The session
//!   cookie's value is a third secret, never printed, so neither the printed URL nor a leaked
//!   cookie yields the other. The cookie is `HttpOnly; SameSite=Strict` and its name carries the
//!   port (cookies are not scoped by port: another server on 127.0.0.1 still receives it, but the
//!   value is useless there once this dashboard stops, and another dashboard ignores it).
//! - Every request (page, assets, API, event streams) needs the cookie; without it: 401. The
//!   launch secret is accepted only as `?token=` on `/`, never on another route or in a header.
//! - Requests that change the cluster need more: an `X-Localkube-Csrf` header carrying the page's
//!   CSRF token (a second per-launch secret, which only a same-origin script can read from the
//!   page), and no foreign `Origin` or cross-site `Sec-Fetch-Site`. A cross-site form or `fetch`
//!   can set neither the header nor the origin, so it gets 403.
//! - Secrets are compared in constant time.
//!
//! The decision is a pure function of the request's method, URI and headers ([`judge`]), so it is
//! unit-tested without a server.

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};
use http::{HeaderMap, Method, Uri, header};

/// The header every write must carry: the page's CSRF token (or the launch secret).
pub const CSRF_HEADER: &str = "x-localkube-csrf";

/// This launch's secrets and the address they are valid for.
#[derive(Clone)]
pub struct Secrets {
    token: String,
    csrf: String,
    /// The session cookie's value: distinct from the launch secret, never printed.
    session: String,
    port: u16,
    /// Set once the launch secret was exchanged for the cookie: it is refused from then on.
    token_used: Arc<AtomicBool>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a secret, even in a debug log.
        f.debug_struct("Secrets")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

/// 32 bytes (256 bits) from the operating system's random source, as hex.
pub fn random_hex() -> Result<String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom for the dashboard's secret")?;
    Ok(hex::encode(bytes))
}

impl Secrets {
    /// Fresh secrets for a server on 127.0.0.1:`port`.
    pub fn generate(port: u16) -> Result<Self> {
        Ok(Self {
            token: random_hex()?,
            csrf: random_hex()?,
            session: random_hex()?,
            port,
            token_used: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Fixed secrets, for tests.
    pub fn fixed(token: &str, csrf: &str, session: &str, port: u16) -> Self {
        Self {
            token: token.into(),
            csrf: csrf.into(),
            session: session.into(),
            port,
            token_used: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Marks the launch secret as exchanged; `false` when it already was (a second visit with
    /// it, or two at once: only one wins).
    pub fn consume_token(&self) -> bool {
        !self.token_used.swap(true, Ordering::SeqCst)
    }

    fn token_used(&self) -> bool {
        self.token_used.load(Ordering::SeqCst)
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    pub fn csrf(&self) -> &str {
        &self.csrf
    }

    /// The URL to print and open: it carries the launch secret.
    pub fn login_url(&self) -> String {
        format!("http://127.0.0.1:{}/?token={}", self.port, self.token)
    }

    /// Cookies are shared by every port of a host, so the name carries the port: two dashboards
    /// (two profiles) in one browser keep their own.
    pub fn cookie_name(&self) -> String {
        format!("localkube_dashboard_{}", self.port)
    }

    /// The session cookie the first visit gets: not readable by scripts, never sent along with a
    /// request that another site starts, gone when the browser closes.
    pub fn set_cookie(&self) -> String {
        format!(
            "{}={}; HttpOnly; SameSite=Strict; Path=/",
            self.cookie_name(),
            self.session
        )
    }

    fn allowed_hosts(&self) -> [String; 2] {
        [
            format!("127.0.0.1:{}", self.port),
            format!("localhost:{}", self.port),
        ]
    }
}

/// Equality that takes the same time wherever the first difference is, so the response time
/// tells an attacker nothing about how much of a guess was right.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// What to do with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Serve it.
    Allow,
    /// The first visit with the launch secret: set the cookie and redirect to `/`.
    Exchange,
    /// No valid secret: 401.
    Unauthorized(&'static str),
    /// A secret, but the request may not do this (wrong host, cross-site write): 403.
    Forbidden(&'static str),
}

fn header_str(headers: &HeaderMap, name: impl header::AsHeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn query_token(uri: &Uri) -> Option<&str> {
    uri.query()?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == "token").then_some(value)
    })
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (key, value) = pair.trim().split_once('=')?;
            (key == name).then_some(value)
        })
}

fn is_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// A websocket (the exec terminal) can change the cluster as a write does, so it is judged as one.
/// Browsers always send `Origin` on a websocket and cannot set headers on it: the CSRF token comes
/// as a subprotocol (`localkube-csrf.TOKEN`).
fn is_websocket(headers: &HeaderMap) -> bool {
    header_str(headers, header::UPGRADE).is_some_and(|u| u.eq_ignore_ascii_case("websocket"))
}

fn csrf_in_protocols(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|p| p.trim().strip_prefix(super::exec::CSRF_PROTOCOL_PREFIX))
}

/// The access decision for one request.
pub fn judge(secrets: &Secrets, method: &Method, uri: &Uri, headers: &HeaderMap) -> Verdict {
    let host_ok = header_str(headers, header::HOST)
        .is_some_and(|host| secrets.allowed_hosts().iter().any(|h| h == host));
    if !host_ok {
        return Verdict::Forbidden(
            "the dashboard answers only on the 127.0.0.1 address it printed",
        );
    }
    let by_cookie = cookie_value(headers, &secrets.cookie_name())
        .is_some_and(|v| constant_time_eq(v.as_bytes(), secrets.session.as_bytes()));
    let by_query =
        query_token(uri).is_some_and(|v| constant_time_eq(v.as_bytes(), secrets.token.as_bytes()));
    if by_query && *method == Method::GET && uri.path() == "/" && !secrets.token_used() {
        return Verdict::Exchange;
    }
    if !by_cookie {
        return Verdict::Unauthorized(if by_query {
            "this launch's secret was used already (it works once, on the first visit): start \
             `localkube dashboard` again for a new URL"
        } else {
            "open the URL that `localkube dashboard` printed: it carries this launch's secret"
        });
    }
    let websocket = is_websocket(headers);
    if websocket && header_str(headers, header::ORIGIN).is_none() {
        return Verdict::Forbidden("a websocket needs the Origin header (browsers send it)");
    }
    if is_write(method) || websocket {
        if let Some(origin) = header_str(headers, header::ORIGIN) {
            let same = secrets
                .allowed_hosts()
                .iter()
                .any(|h| origin == format!("http://{h}"));
            if !same {
                return Verdict::Forbidden("a write from another origin is refused");
            }
        }
        if let Some(site) = header_str(headers, "sec-fetch-site")
            && site != "same-origin"
            && site != "none"
        {
            return Verdict::Forbidden("a write started by another site is refused");
        }
        let csrf_ok = header_str(headers, CSRF_HEADER)
            .is_some_and(|v| constant_time_eq(v.as_bytes(), secrets.csrf.as_bytes()))
            || (websocket
                && csrf_in_protocols(headers)
                    .any(|v| constant_time_eq(v.as_bytes(), secrets.csrf.as_bytes())));
        if !csrf_ok {
            return Verdict::Forbidden(
                "a write needs the X-Localkube-Csrf header (the page sends it)",
            );
        }
    }
    Verdict::Allow
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const TOKEN: &str = "a1b2c3";
    const CSRF: &str = "d4e5f6";
    const SESSION: &str = "0f9e8d";

    fn secrets() -> Secrets {
        Secrets::fixed(TOKEN, CSRF, SESSION, 4000)
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(header::HOST, HeaderValue::from_static("127.0.0.1:4000"));
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    fn judge_get(s: &Secrets, uri: &str, h: &HeaderMap) -> Verdict {
        judge(s, &Method::GET, &uri.parse().unwrap(), h)
    }

    fn judge_post(h: &HeaderMap) -> Verdict {
        judge(&secrets(), &Method::POST, &"/api/scale".parse().unwrap(), h)
    }

    const COOKIE: &str = "other=1; localkube_dashboard_4000=0f9e8d";

    #[test]
    fn a_websocket_is_judged_as_a_write() {
        let s = secrets();
        let uri = "/api/exec?namespace=default&pod=p";
        let ws = |extra: &[(&'static str, &str)]| {
            let mut pairs = vec![("cookie", COOKIE), ("upgrade", "websocket")];
            pairs.extend_from_slice(extra);
            judge_get(&s, uri, &headers(&pairs))
        };
        let own = "http://127.0.0.1:4000";
        let token = "localkube-csrf.d4e5f6";
        assert_eq!(
            ws(&[("origin", own), ("sec-websocket-protocol", token)]),
            Verdict::Allow
        );
        assert!(
            matches!(ws(&[("origin", own)]), Verdict::Forbidden(_)),
            "no token"
        );
        assert!(
            matches!(
                ws(&[
                    ("origin", "http://evil.example"),
                    ("sec-websocket-protocol", token)
                ]),
                Verdict::Forbidden(_)
            ),
            "a foreign origin"
        );
        assert!(
            matches!(
                ws(&[("sec-websocket-protocol", token)]),
                Verdict::Forbidden(_)
            ),
            "no origin"
        );
        assert!(
            matches!(
                ws(&[
                    ("origin", own),
                    ("sec-websocket-protocol", "localkube-csrf.wrong")
                ]),
                Verdict::Forbidden(_)
            ),
            "a wrong token"
        );
    }

    #[test]
    fn generated_secrets_are_long_distinct_and_hex() {
        let a = Secrets::generate(1).unwrap();
        let b = Secrets::generate(1).unwrap();
        assert_eq!(a.token().len(), 64, "256 bits as hex");
        assert!(a.token().chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a.token(), b.token());
        assert_ne!(a.token(), a.csrf());
        assert!(
            !a.set_cookie().contains(a.token()),
            "the cookie is not the secret"
        );
        assert!(!format!("{a:?}").contains(a.token()));
        assert!(!format!("{a:?}").contains(&a.session));
    }

    #[test]
    fn constant_time_eq_compares_exactly() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"a"));
    }

    #[test]
    fn nothing_is_served_without_the_session() {
        let s = secrets();
        for path in ["/", "/app.js", "/api/state", "/api/stream"] {
            assert!(
                matches!(judge_get(&s, path, &headers(&[])), Verdict::Unauthorized(_)),
                "{path}"
            );
        }
        let wrong = headers(&[("cookie", "localkube_dashboard_4000=0f9e8e")]);
        assert!(matches!(
            judge_get(&s, "/api/state", &wrong),
            Verdict::Unauthorized(_)
        ));
        // Another port's cookie is another dashboard's.
        let other_port = headers(&[("cookie", "localkube_dashboard_4001=0f9e8d")]);
        assert!(matches!(
            judge_get(&s, "/", &other_port),
            Verdict::Unauthorized(_)
        ));
        // The launch secret as a cookie value is no session.
        let token_cookie = headers(&[("cookie", "localkube_dashboard_4000=a1b2c3")]);
        assert!(matches!(
            judge_get(&s, "/api/state", &token_cookie),
            Verdict::Unauthorized(_)
        ));
        assert!(matches!(
            judge_get(&s, "/?token=a1b2c4", &headers(&[])),
            Verdict::Unauthorized(_)
        ));
    }

    #[test]
    fn the_secret_works_once_on_the_first_visit_only() {
        let s = secrets();
        // Not on another route, nor in a header.
        assert!(matches!(
            judge_get(&s, "/api/state?token=a1b2c3", &headers(&[])),
            Verdict::Unauthorized(_)
        ));
        assert!(matches!(
            judge_get(&s, "/api/state", &headers(&[("x-localkube-token", TOKEN)])),
            Verdict::Unauthorized(_)
        ));
        assert_eq!(
            judge_get(&s, "/?token=a1b2c3", &headers(&[])),
            Verdict::Exchange
        );
        assert!(s.consume_token());
        assert!(!s.consume_token(), "only one visit wins the exchange");
        let Verdict::Unauthorized(why) = judge_get(&s, "/?token=a1b2c3", &headers(&[])) else {
            panic!("a second visit with the secret is refused");
        };
        assert!(why.contains("works once"), "{why}");
        // The session goes on working.
        assert_eq!(
            judge_get(&s, "/?token=a1b2c3", &headers(&[("cookie", COOKIE)])),
            Verdict::Allow
        );
        let cookie = s.set_cookie();
        assert!(cookie.starts_with("localkube_dashboard_4000=0f9e8d;"));
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    }

    #[test]
    fn a_foreign_host_is_refused_even_with_the_session() {
        let s = secrets();
        let mut h = headers(&[("cookie", COOKIE)]);
        h.insert(header::HOST, HeaderValue::from_static("evil.example:4000"));
        assert!(matches!(judge_get(&s, "/", &h), Verdict::Forbidden(_)));
        h.insert(header::HOST, HeaderValue::from_static("localhost:4000"));
        assert_eq!(judge_get(&s, "/", &h), Verdict::Allow);
    }

    #[test]
    fn writes_need_the_csrf_header_and_no_foreign_origin() {
        assert!(matches!(
            judge_post(&headers(&[("cookie", COOKIE)])),
            Verdict::Forbidden(_)
        ));
        assert_eq!(
            judge_post(&headers(&[("cookie", COOKIE), (CSRF_HEADER, CSRF)])),
            Verdict::Allow
        );
        assert_eq!(
            judge_post(&headers(&[
                ("cookie", COOKIE),
                (CSRF_HEADER, CSRF),
                ("origin", "http://127.0.0.1:4000"),
                ("sec-fetch-site", "same-origin"),
            ])),
            Verdict::Allow
        );
        assert!(matches!(
            judge_post(&headers(&[
                ("cookie", COOKIE),
                (CSRF_HEADER, CSRF),
                ("origin", "http://evil.example"),
            ])),
            Verdict::Forbidden(_)
        ));
        assert!(matches!(
            judge_post(&headers(&[
                ("cookie", COOKIE),
                (CSRF_HEADER, CSRF),
                ("sec-fetch-site", "cross-site"),
            ])),
            Verdict::Forbidden(_)
        ));
        // The CSRF token alone is no login, and the launch secret is no CSRF token.
        assert!(matches!(
            judge_post(&headers(&[(CSRF_HEADER, CSRF)])),
            Verdict::Unauthorized(_)
        ));
        assert!(matches!(
            judge_post(&headers(&[("cookie", COOKIE), (CSRF_HEADER, TOKEN)])),
            Verdict::Forbidden(_)
        ));
    }
}
