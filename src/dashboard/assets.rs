//! The page and its assets, compiled into the binary: the dashboard needs no network, no CDN and
//! no build step. Plain HTML, CSS and JavaScript (no framework).

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const STYLE_CSS: &str = include_str!("assets/style.css");
const FAVICON_SVG: &str = include_str!("assets/favicon.svg");

/// The page, with this launch's CSRF token (which the page's script sends with every write) and
/// the profile's name. Both are plain ASCII (hex; `[a-z0-9-]`), so they need no escaping, but
/// escape anyway in case that ever changes.
pub fn index_html(profile: &str, csrf: &str) -> String {
    INDEX_HTML
        .replace("__PROFILE__", &escape(profile))
        .replace("__CSRF__", &escape(csrf))
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
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_carries_its_csrf_token_and_loads_only_its_own_assets() {
        let html = index_html("dev", "c0ffee");
        assert!(html.contains(r#"<meta name="localkube-csrf" content="c0ffee">"#));
        assert!(html.contains("dev"));
        assert!(!html.contains("__"), "every placeholder is filled");
        for src in ["/assets/app.js", "/assets/style.css", "/assets/favicon.svg"] {
            assert!(html.contains(src), "{src}");
            let name = src.trim_start_matches("/assets/");
            assert!(asset(name).is_some(), "{name} is embedded");
        }
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "nothing from the network"
        );
        assert!(
            !APP_JS.contains("http://") && !APP_JS.contains("https://"),
            "nothing from the network"
        );
        assert!(asset("../mod.rs").is_none());
    }

    #[test]
    fn escaping_is_html_safe() {
        assert_eq!(
            escape(r#"<a href="x">&"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;"
        );
    }
}
