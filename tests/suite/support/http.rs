//! A minimal HTTP/1.1 client for 127.0.0.1 only: a test needs to set any header, including a
//! foreign `Host` or `Origin`, which a browser-like client would not let it. Also reads chunked
//! bodies and server-sent event streams.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

/// `curl -sS` with `args` (a URL and any flags), at most 5 s: the body, or what curl said. For
/// what goes through a port the host publishes, where a real client's view is the point.
pub fn curl(args: &[&str]) -> Result<String, String> {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "5"])
        .args(args)
        .output()
        .expect("run curl");
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    if out.status.success() {
        Ok(text(&out.stdout))
    } else {
        Err(format!("{}{}", text(&out.stdout), text(&out.stderr)))
    }
}

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }
}

/// Reads an HTTP/1.1 chunked body as a plain byte stream.
pub struct Chunked<R: BufRead> {
    inner: R,
    left: usize,
    done: bool,
}

impl<R: BufRead> Read for Chunked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.done {
            return Ok(0);
        }
        if self.left == 0 {
            let mut line = String::new();
            self.inner.read_line(&mut line)?;
            if line.trim().is_empty() {
                // The CRLF that ends the previous chunk.
                line.clear();
                self.inner.read_line(&mut line)?;
            }
            let size = line.trim().split(';').next().unwrap_or("");
            self.left = usize::from_str_radix(size, 16).map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("chunk size {line:?}"),
                )
            })?;
            if self.left == 0 {
                self.done = true;
                return Ok(0);
            }
        }
        let n = buf.len().min(self.left);
        let n = self.inner.read(&mut buf[..n])?;
        self.left -= n;
        Ok(n)
    }
}

/// Sends one request and returns the status, headers and a reader of the body.
pub fn send(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
    read_timeout: Duration,
) -> (u16, Vec<(String, String)>, Box<dyn BufRead>) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to 127.0.0.1");
    stream.set_read_timeout(Some(read_timeout)).unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\n");
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("connection"))
    {
        request.push_str("Connection: close\r\n");
    }
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        request.push_str(&format!("Host: 127.0.0.1:{port}\r\n"));
    }
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    let body = body.unwrap_or("");
    if !body.is_empty() || method != "GET" {
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).unwrap();
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line).expect("status line");
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_lowercase(), v.trim().to_string()));
        }
    }
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body: Box<dyn BufRead> = if chunked {
        Box::new(BufReader::new(Chunked {
            inner: reader,
            left: 0,
            done: false,
        }))
    } else {
        Box::new(reader)
    };
    (status, headers, body)
}

pub fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Response {
    let (status, headers, mut reader) =
        send(port, method, path, headers, body, Duration::from_secs(60));
    // A server may keep the connection open despite `Connection: close`: read what it announced.
    let length = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<u64>().ok());
    let mut body = String::new();
    match length {
        Some(n) => reader.take(n).read_to_string(&mut body),
        None => reader.read_to_string(&mut body),
    }
    .expect("read body");
    Response {
        status,
        headers,
        body,
    }
}

/// Only the status of an answer, its body left unread (a websocket's upgrade has no end).
pub fn status_only(port: u16, method: &str, path: &str, headers: &[(&str, &str)]) -> u16 {
    send(port, method, path, headers, None, Duration::from_secs(30)).0
}

/// A server-sent event stream, read event by event.
pub struct EventStream {
    reader: Box<dyn BufRead>,
}

impl EventStream {
    pub fn open(port: u16, path: &str, headers: &[(&str, &str)]) -> Self {
        // The server sends a keep-alive comment every 15 s, so a read never waits longer.
        let (status, _, reader) = send(port, "GET", path, headers, None, Duration::from_secs(30));
        assert_eq!(status, 200, "event stream {path}");
        Self { reader }
    }

    /// The next (event name, data).
    pub fn next(&mut self) -> (String, Value) {
        self.next_before(Instant::now() + Duration::from_secs(120))
            .expect("an event within 120 s")
    }

    /// The next (event name, data), or None once `deadline` has passed: keep-alive comments
    /// alone never keep a caller waiting past it.
    pub fn next_before(&mut self, deadline: Instant) -> Option<(String, Value)> {
        let mut event = String::from("message");
        let mut data = String::new();
        loop {
            if Instant::now() > deadline {
                return None;
            }
            let mut line = String::new();
            let n = self
                .reader
                .read_line(&mut line)
                .expect("read the event stream");
            assert!(n > 0, "the event stream ended");
            let line = line.trim_end_matches(['\r', '\n']);
            if line.is_empty() {
                if !data.is_empty() {
                    return Some((
                        event,
                        serde_json::from_str(&data).expect("event data is JSON"),
                    ));
                }
                continue;
            }
            if let Some(v) = line.strip_prefix("event:") {
                event = v.trim().to_string();
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push_str(v.strip_prefix(' ').unwrap_or(v));
            }
        }
    }

    /// Reads events until one named `name` satisfies `accept`; panics after `timeout`.
    pub fn until(
        &mut self,
        name: &str,
        timeout: Duration,
        accept: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        let mut last = Value::Null;
        while let Some((event, data)) = self.next_before(deadline) {
            if event == name {
                if accept(&data) {
                    return data;
                }
                last = data;
            }
        }
        panic!("no '{name}' event as expected within {timeout:?}; last one: {last:#}");
    }
}
