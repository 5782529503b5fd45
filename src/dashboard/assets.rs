//! The page and its assets, compiled into the binary: the dashboard needs no network and no CDN.
//! Plain HTML, CSS and JavaScript (no framework, no bundler); the one library, the exec terminal's
//! xterm.js, comes from npm at a pinned version (`terminal/package-lock.json`) and is embedded as
//! npm ships it (build.rs stops with the command to fetch it when it is missing).

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const STYLE_CSS: &str = include_str!("assets/style.css");
const FAVICON_SVG: &str = include_str!("assets/favicon.svg");
const XTERM_JS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/src/dashboard/terminal/node_modules/@xterm/xterm/lib/xterm.js"
));
const XTERM_CSS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/src/dashboard/terminal/node_modules/@xterm/xterm/css/xterm.css"
));

/// The page, with this launch's CSRF token (which the page's script sends with every write) and
/// the profile's name. Both are plain ASCII (hex; `[a-z0-9-]`), so they need no escaping, but
/// escape anyway in case that ever changes.
pub fn index_html(profile: &str, csrf: &str, style_nonce: &str) -> String {
    INDEX_HTML
        .replace("__PROFILE__", &escape(profile))
        .replace("__CSRF__", &escape(csrf))
        .replace("__STYLE_NONCE__", &escape(style_nonce))
}

/// xterm.js without its last line, which points at a source map the binary does not carry.
fn xterm_js() -> &'static str {
    XTERM_JS
        .trim_end()
        .strip_suffix("//# sourceMappingURL=xterm.js.map")
        .unwrap_or(XTERM_JS)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An asset by its file name: content type and body.
pub fn asset(name: &str) -> Option<(&'static str, &'static str)> {
    match name {
        "app.js" => Some(("text/javascript; charset=utf-8", APP_JS)),
        "style.css" => Some(("text/css; charset=utf-8", STYLE_CSS)),
        "favicon.svg" => Some(("image/svg+xml", FAVICON_SVG)),
        "xterm.js" => Some(("text/javascript; charset=utf-8", xterm_js())),
        "xterm.css" => Some(("text/css; charset=utf-8", XTERM_CSS)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_carries_its_csrf_token_and_loads_only_its_own_assets() {
        let html = index_html("dev", "c0ffee", "5eed");
        assert!(html.contains(r#"<meta name="localkube-style-nonce" content="5eed">"#));
        assert!(html.contains(r#"<meta name="localkube-csrf" content="c0ffee">"#));
        assert!(html.contains("dev"));
        assert!(!html.contains("__"), "every placeholder is filled");
        // The terminal's files are loaded by the script when a shell is opened, not with the page.
        for src in [
            "/assets/app.js",
            "/assets/style.css",
            "/assets/favicon.svg",
            "/assets/xterm.js",
            "/assets/xterm.css",
        ] {
            assert!(html.contains(src) || APP_JS.contains(src), "{src}");
            let name = src.trim_start_matches("/assets/");
            assert!(asset(name).is_some(), "{name} is embedded");
        }
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "nothing from the network"
        );
        // The one such string in the script names SVG's XML namespace, which is never fetched.
        let script = APP_JS.replace("'http://www.w3.org/2000/svg'", "");
        assert!(
            !script.contains("http://") && !script.contains("https://"),
            "nothing from the network"
        );
        assert!(asset("../mod.rs").is_none());
        assert!(xterm_js().contains("Terminal") && !xterm_js().contains("sourceMappingURL"));
    }

    #[test]
    fn escaping_is_html_safe() {
        assert_eq!(
            escape(r#"<a href="x">&"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;"
        );
    }
}
