//! CPU and memory from metrics-server (the `metrics.k8s.io` API), polled, with the last minutes
//! of samples kept per node and per pod so the page can draw them. When the API is not served
//! (the addon is off, or not ready yet) the page is told so, with the command that turns it on.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::Client;
use serde::Serialize;
use serde_json::{Value, json};

use super::changes::{Kind, NamespaceFilter, Notifier};

/// metrics-server scrapes the kubelets every 15 s by default: asking more often shows nothing new.
const POLL: Duration = Duration::from_secs(15);

/// Samples kept per node and pod: the last 10 minutes.
const KEEP: usize = 40;

pub const HINT: &str = "metrics-server does not answer: `localkube addons enable metrics-server` \
                        turns it on, and CPU and memory appear here within a minute";

/// One sample: when (Unix seconds), CPU in millicores, memory in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Point(pub i64, pub f64, pub u64);

#[derive(Debug, Default)]
pub struct Samples {
    /// None until the first answer.
    available: Option<bool>,
    error: String,
    nodes: BTreeMap<String, VecDeque<Point>>,
    pods: BTreeMap<(String, String), VecDeque<Point>>,
}

/// CPU as millicores: `250m`, `1`, `1500000n`, `20u`.
pub fn cpu_millis(quantity: &str) -> Option<f64> {
    let (digits, scale) = match quantity.char_indices().last()? {
        (i, 'n') => (&quantity[..i], 1e-6),
        (i, 'u') => (&quantity[..i], 1e-3),
        (i, 'm') => (&quantity[..i], 1.0),
        _ => (quantity, 1000.0),
    };
    digits.parse::<f64>().ok().map(|n| n * scale)
}

/// Memory as bytes: `123456Ki`, `12Mi`, `1G`, `1000`.
pub fn memory_bytes(quantity: &str) -> Option<u64> {
    let units: [(&str, f64); 8] = [
        ("Ki", 1024.0),
        ("Mi", 1024.0 * 1024.0),
        ("Gi", 1024.0 * 1024.0 * 1024.0),
        ("Ti", 1024.0f64.powi(4)),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
    ];
    let (digits, factor) = units
        .iter()
        .find_map(|(suffix, f)| quantity.strip_suffix(suffix).map(|d| (d, *f)))
        .unwrap_or((quantity, 1.0));
    digits.parse::<f64>().ok().map(|n| (n * factor) as u64)
}

fn usage(value: &Value) -> (f64, u64) {
    let cpu = value["cpu"].as_str().and_then(cpu_millis).unwrap_or(0.0);
    let memory = value["memory"].as_str().and_then(memory_bytes).unwrap_or(0);
    (cpu, memory)
}

fn push(series: &mut VecDeque<Point>, point: Point) {
    if series.back().is_some_and(|last| last.0 == point.0) {
        return;
    }
    series.push_back(point);
    while series.len() > KEEP {
        series.pop_front();
    }
}

impl Samples {
    /// Takes one answer of `/apis/metrics.k8s.io/v1beta1/nodes` and `/pods`.
    pub fn record(&mut self, nodes: &Value, pods: &Value, now: i64) {
        self.available = Some(true);
        self.error.clear();
        let mut seen = std::collections::BTreeSet::new();
        for item in nodes["items"].as_array().into_iter().flatten() {
            let name = item["metadata"]["name"].as_str().unwrap_or("").to_string();
            let (cpu, memory) = usage(&item["usage"]);
            push(
                self.nodes.entry(name.clone()).or_default(),
                Point(now, cpu, memory),
            );
            seen.insert(name);
        }
        self.nodes.retain(|k, _| seen.contains(k));
        let mut seen = std::collections::BTreeSet::new();
        for item in pods["items"].as_array().into_iter().flatten() {
            let key = (
                item["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                item["metadata"]["name"].as_str().unwrap_or("").to_string(),
            );
            let (mut cpu, mut memory) = (0.0, 0);
            for container in item["containers"].as_array().into_iter().flatten() {
                let (c, m) = usage(&container["usage"]);
                cpu += c;
                memory += m;
            }
            push(
                self.pods.entry(key.clone()).or_default(),
                Point(now, cpu, memory),
            );
            seen.insert(key);
        }
        self.pods.retain(|k, _| seen.contains(k));
    }

    pub fn unavailable(&mut self, error: String) {
        self.available = Some(false);
        self.error = error;
        self.nodes.clear();
        self.pods.clear();
    }

    pub fn to_json(&self, filter: &NamespaceFilter) -> Value {
        let entry = |series: &VecDeque<Point>| {
            let last = series.back().copied().unwrap_or(Point(0, 0.0, 0));
            json!({"cpu": last.1, "memory": last.2, "history": series})
        };
        let nodes: Vec<Value> = self
            .nodes
            .iter()
            .map(|(name, s)| {
                let mut v = entry(s);
                v["name"] = json!(name);
                v
            })
            .collect();
        let pods: Vec<Value> = self
            .pods
            .iter()
            .filter(|((ns, _), _)| filter.as_deref().is_none_or(|f| f == ns))
            .map(|((ns, name), s)| {
                let mut v = entry(s);
                v["namespace"] = json!(ns);
                v["name"] = json!(name);
                v
            })
            .collect();
        json!({
            "available": self.available,
            "hint": if self.available == Some(false) { HINT } else { "" },
            "error": self.error,
            "nodes": nodes,
            "pods": pods,
        })
    }
}

async fn get(client: &Client, path: &str) -> Result<Value, kube::Error> {
    let request = http::Request::get(path)
        .body(Vec::new())
        .map_err(kube::Error::HttpError)?;
    client.request::<Value>(request).await
}

/// Polls metrics-server for as long as the runtime runs.
pub(super) fn follow(client: Client, notifier: Arc<Notifier>) -> Arc<Mutex<Samples>> {
    let samples = Arc::new(Mutex::new(Samples::default()));
    let shared = samples.clone();
    tokio::spawn(async move {
        loop {
            let answer = tokio::time::timeout(Duration::from_secs(10), async {
                let nodes = get(&client, "/apis/metrics.k8s.io/v1beta1/nodes").await?;
                let pods = get(&client, "/apis/metrics.k8s.io/v1beta1/pods").await?;
                Ok::<_, kube::Error>((nodes, pods))
            })
            .await;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            {
                let mut s = shared.lock().unwrap_or_else(|e| e.into_inner());
                match answer {
                    Ok(Ok((nodes, pods))) => s.record(&nodes, &pods, now),
                    Ok(Err(e)) => s.unavailable(e.to_string()),
                    Err(_) => s.unavailable("no answer within 10s".into()),
                }
            }
            notifier.bump(Kind::Metrics);
            tokio::time::sleep(POLL).await;
        }
    });
    samples
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_read_as_kubectl_top_shows_them() {
        assert_eq!(cpu_millis("250m"), Some(250.0));
        assert_eq!(cpu_millis("2"), Some(2000.0));
        assert_eq!(cpu_millis("1500000n"), Some(1.5));
        assert_eq!(memory_bytes("2Mi"), Some(2 * 1024 * 1024));
        assert_eq!(memory_bytes("1k"), Some(1000));
        assert_eq!(memory_bytes("nonsense"), None);
    }

    #[test]
    fn samples_sum_containers_keep_ten_minutes_and_forget_the_gone() {
        let mut s = Samples::default();
        let nodes = json!({"items": [{"metadata": {"name": "n1"}, "usage": {"cpu": "100m", "memory": "1Mi"}}]});
        let pods = |name: &str| {
            json!({"items": [{"metadata": {"name": name, "namespace": "default"},
                "containers": [{"usage": {"cpu": "10m", "memory": "1Ki"}}, {"usage": {"cpu": "5m", "memory": "1Ki"}}]}]})
        };
        for t in 0..50 {
            s.record(&nodes, &pods("web"), t);
        }
        let v = s.to_json(&None);
        assert_eq!(v["available"], true);
        assert_eq!(v["pods"][0]["cpu"], 15.0);
        assert_eq!(v["pods"][0]["memory"], 2048);
        assert_eq!(v["nodes"][0]["history"].as_array().unwrap().len(), KEEP);
        s.record(&nodes, &pods("other"), 51);
        let v = s.to_json(&Some("kube-system".into()));
        assert_eq!(v["pods"], json!([]));
        assert_eq!(s.pods.len(), 1, "a pod gone from the answer is dropped");
        s.unavailable("404".into());
        let v = s.to_json(&None);
        assert_eq!(v["available"], false);
        assert!(
            v["hint"]
                .as_str()
                .unwrap()
                .contains("addons enable metrics-server")
        );
    }
}
