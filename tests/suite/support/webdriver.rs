//! A WebDriver client for a real headless Chromium: chromedriver in the background, one
//! session, the calls the dashboard's browser test makes.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::free_port;
use super::http::request;

/// chromedriver in the background, and one session of headless Chromium.
pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
    _profile: tempfile::TempDir,
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    pub fn start() -> Self {
        for tool in ["/usr/bin/chromium", "/usr/bin/chromedriver"] {
            assert!(
                std::path::Path::new(tool).exists(),
                "{tool} is missing: scripts/setup.sh installs chromium and chromium-driver"
            );
        }
        let port = free_port();
        // Its own process group, so that Drop can end chromedriver and the Chromium it started
        // together, even when the session could not be closed.
        let driver = Command::new("/usr/bin/chromedriver")
            .process_group(0)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let profile = tempfile::tempdir().unwrap();
        let mut browser = Browser {
            driver,
            port,
            session: String::new(),
            _profile: profile,
        };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not listen"
            );
            sleep(Duration::from_millis(100));
        }
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1400,1000",
            &format!("--user-data-dir={}", browser._profile.path().display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args}
        }}});
        let value = browser.call("POST", "/session", Some(caps));
        browser.session = value["sessionId"].as_str().expect("a session").to_string();
        // A click or a keystroke follows a navigation, and the page draws the new view a moment
        // later: finding an element waits for it, up to 20 s, as a user waits for a page.
        browser.session_call("POST", "/timeouts", Some(json!({"implicit": 20_000})));
        browser
    }

    pub fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let body = body.map(|b| b.to_string());
        let r = request(
            self.port,
            method,
            path,
            &[("Content-Type", "application/json")],
            body.as_deref(),
        );
        let value = r.json()["value"].clone();
        assert!(
            r.status == 200,
            "WebDriver {method} {path}: {} {value}",
            r.status
        );
        value
    }

    pub fn session_call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
    }

    pub fn goto(&self, url: &str) {
        self.session_call("POST", "/url", Some(json!({"url": url})));
    }

    pub fn run(&self, script: &str) -> Value {
        self.session_call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
    }

    /// Runs `script` until it returns something truthy; panics with `what` after `timeout`.
    pub fn wait_for(&self, what: &str, timeout: Duration, script: &str) -> Value {
        let started = Instant::now();
        loop {
            let value = self.run(script);
            if !(value.is_null() || value == false || value == "" || value == json!([])) {
                return value;
            }
            if started.elapsed() > timeout {
                let shown = self.run(
                    "const v = document.querySelector('#view') || document.body; \
                     return location.hash + '\\n' + v.innerText.slice(0, 4000)",
                );
                self.screenshot("dashboard-failure-screenshot.png");
                panic!(
                    "{what}: not within {timeout:?}; the view shows:\n{}",
                    shown.as_str().unwrap_or("")
                );
            }
            sleep(Duration::from_millis(250));
        }
    }

    /// Clicks the element the CSS selector finds, as a user would (a real pointer click). The
    /// page redraws a section when its objects change: if the element was replaced between finding
    /// and clicking it, find it again.
    pub fn click(&self, selector: &str) {
        for attempt in 1.. {
            let found = self.session_call(
                "POST",
                "/element",
                Some(json!({"using": "css selector", "value": selector})),
            );
            let id = found[ELEMENT].as_str().expect("an element").to_string();
            let r = request(
                self.port,
                "POST",
                &format!("/session/{}/element/{id}/click", self.session),
                &[("Content-Type", "application/json")],
                Some("{}"),
            );
            if r.status == 200 {
                return;
            }
            let stale = r.json()["value"]["error"] == "stale element reference";
            assert!(
                stale && attempt < 5,
                "clicking {selector}: {} {}",
                r.status,
                r.body
            );
            sleep(Duration::from_millis(200));
        }
    }

    /// Types `text` into the element the CSS selector finds, as keystrokes (`\n` is Enter).
    pub fn send_keys(&self, selector: &str, text: &str) {
        let found = self.session_call(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": selector})),
        );
        let id = found[ELEMENT].as_str().expect("an element").to_string();
        self.session_call(
            "POST",
            &format!("/element/{id}/value"),
            Some(json!({"text": text})),
        );
    }

    /// The handles of the open tabs.
    pub fn tabs(&self) -> Vec<String> {
        let handles = self.session_call("GET", "/window/handles", None);
        handles
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h.as_str().unwrap().to_string())
            .collect()
    }

    pub fn current_tab(&self) -> String {
        self.session_call("GET", "/window", None)
            .as_str()
            .unwrap()
            .to_string()
    }

    pub fn switch_to(&self, handle: &str) {
        self.session_call("POST", "/window", Some(json!({"handle": handle})));
    }

    /// Resizes the window (the page's viewport follows).
    pub fn resize(&self, width: u32, height: u32) {
        self.session_call(
            "POST",
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        );
    }

    pub fn screenshot(&self, name: &str) -> PathBuf {
        use base64::Engine;
        let png = self.session_call("GET", "/screenshot", None);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        // The target folder cargo builds into (CARGO_TARGET_DIR when set), as a user finds it.
        let folder = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
        std::fs::create_dir_all(&folder).unwrap();
        let path = folder.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

impl Drop for Browser {
    /// Never panics (a panic while a failed test unwinds would abort and leave Chromium running).
    fn drop(&mut self) {
        if !self.session.is_empty()
            && let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port))
        {
            // Closing the session quits Chromium; wait for the answer, but not forever.
            let _ = stream.set_read_timeout(Some(Duration::from_secs(15)));
            let _ = write!(
                stream,
                "DELETE /session/{} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
                self.session, self.port
            );
            let _ = stream.read(&mut [0u8; 256]);
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .status();
        let _ = self.driver.wait();
    }
}
