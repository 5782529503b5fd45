//! Images from a registry: `images push` to the reference registry (the one the registry addon
//! builds, run as a container on 127.0.0.1), then `start --image-repository` with an empty cache
//! and no Go on PATH pulls them, checks them against the pushed digests and runs the cluster; a
//! registry without them and an image replaced after the push are refused before anything is
//! created.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Instant;

use localkube::plan::version::DEFAULT_KUBERNETES_VERSION as VERSION;

use super::support::{
    Cluster, Sandbox, assert_success, free_port, labelled_objects, path_without_go, stderr, stdout,
};

const TEST_LABEL: &str = "io.localkube.test=image-repository";

/// The reference registry in a container published on 127.0.0.1:PORT, removed with its data and
/// every image reference under `127.0.0.1:PORT/` when dropped.
struct LocalRegistry {
    name: String,
    port: u16,
}

impl LocalRegistry {
    fn start() -> Self {
        // The registry addon's image; built once (cached), like the addon's own test does.
        let image = format!("localkube/registry:{VERSION}");
        let out = Sandbox::new().run(&[
            "images",
            "build",
            "--kubernetes-version",
            VERSION,
            "--addons",
            "registry",
        ]);
        assert_success(&out, "building the registry addon's image");
        let port = free_port();
        let name = format!("localkube-test-registry-{port}");
        let out = Command::new("docker")
            .args(["run", "-d", "--name", &name, "--label", TEST_LABEL])
            .args(["-p", &format!("127.0.0.1:{port}:5000"), &image])
            .output()
            .unwrap();
        assert_success(&out, "docker run the registry");
        let registry = LocalRegistry { name, port };
        super::support::wait_until(
            "the registry answering /v2/",
            std::time::Duration::from_secs(30),
            || {
                let out = Command::new("curl")
                    .args(["-sf", &format!("http://127.0.0.1:{port}/v2/")])
                    .output()
                    .map_err(|e| e.to_string())?;
                if out.status.success() {
                    Ok(())
                } else {
                    Err(stderr(&out))
                }
            },
        );
        registry
    }

    fn repository(&self) -> String {
        format!("127.0.0.1:{}/localkube", self.port)
    }

    /// Every tag and digest reference Docker holds under this registry.
    fn local_references(&self) -> Vec<String> {
        let out = Command::new("docker")
            .args([
                "images",
                "--digests",
                "--format",
                "{{.Repository}}:{{.Tag}} {{.Repository}}@{{.Digest}}",
            ])
            .output()
            .unwrap();
        let prefix = format!("127.0.0.1:{}/", self.port);
        stdout(&out)
            .split_whitespace()
            .filter(|r| {
                r.starts_with(&prefix) && !r.ends_with(":<none>") && !r.ends_with("@<none>")
            })
            .map(str::to_string)
            .collect()
    }

    /// Drops the references this test made (the images stay under their `localkube/` names).
    fn forget_local_references(&self) {
        for reference in self.local_references() {
            let _ = Command::new("docker")
                .args(["rmi", "--no-prune", &reference])
                .output();
        }
    }
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", "-v", &self.name])
            .output();
        self.forget_local_references();
    }
}

/// PATH without any folder that holds `go`: a machine that could not build.
#[test]
fn push_then_start_from_the_registry() {
    let registry = LocalRegistry::start();
    let repository = registry.repository();

    // Push, holding the cache like every test that builds (push builds what is missing first).
    let pushed = {
        let _cache = super::images::serial();
        let started = Instant::now();
        let out = Sandbox::new().run(&[
            "images",
            "push",
            &repository,
            "--kubernetes-version",
            VERSION,
            "-o",
            "json",
        ]);
        assert_success(&out, "localkube images push");
        eprintln!("images push took {:?}", started.elapsed());
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("push prints JSON")
    };
    // A registry that does not answer: a clear error, and no tag left behind.
    {
        let _cache = super::images::serial();
        let nowhere = format!("127.0.0.1:{}/localkube", free_port());
        let out =
            Sandbox::new().run(&["images", "push", &nowhere, "--kubernetes-version", VERSION]);
        assert!(!out.status.success(), "a push to nowhere succeeded");
        assert!(
            stderr(&out).contains("is a registry serving at"),
            "{}",
            stderr(&out)
        );
        let tags = Command::new("docker")
            .args(["images", "--format", "{{.Repository}}"])
            .output()
            .unwrap();
        assert!(!stdout(&tags).contains(&nowhere), "a failed push left tags");
    }
    let digests: BTreeMap<String, String> = pushed["images"]
        .as_array()
        .expect("the pushed images")
        .iter()
        .map(|i| {
            (
                i["image"].as_str().unwrap().to_string(),
                i["digest"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for image in [
        "kube-apiserver",
        "etcd",
        "node",
        "pause",
        "coredns",
        "local-path-provisioner",
    ] {
        assert!(
            digests.contains_key(image),
            "{image} was not pushed: {pushed}"
        );
    }
    assert!(
        registry.local_references().is_empty(),
        "push left references behind: {:?}",
        registry.local_references()
    );

    // A machine without the images: its own cache, no Go.
    let fresh = || {
        let sb = Sandbox::new();
        let cache = sb.path("cache");
        sb.with_env("LOCALKUBE_CACHE", cache)
            .with_env("PATH", path_without_go())
    };

    // A repository without them: a clear refusal, and nothing made.
    let sb = fresh();
    let empty = format!("127.0.0.1:{}/nothing", registry.port);
    let out = sb.run(&[
        "-p",
        "registry-missing",
        "start",
        "--image-repository",
        &empty,
    ]);
    assert!(
        !out.status.success(),
        "start from an empty repository succeeded"
    );
    let err = stderr(&out);
    assert!(err.contains(&format!("{empty}/index:{VERSION}")), "{err}");
    assert!(err.contains("localkube images push"), "{err}");
    assert!(err.contains("--build-if-missing"), "{err}");
    assert!(labelled_objects("registry-missing").is_empty());
    assert!(!sb.home().join("profiles/registry-missing").exists());

    // Start from the registry.
    let started = Instant::now();
    let cluster = Cluster::start_in(
        fresh(),
        "registry-pull",
        &[
            "--kubernetes-version",
            VERSION,
            "--image-repository",
            &repository,
        ],
    );
    eprintln!(
        "start from the registry (fresh cache, no go) took {:?}",
        started.elapsed()
    );
    // Every image came from the registry, under the digest the push recorded.
    let references = registry.local_references();
    for (image, digest) in &digests {
        let pulled = format!("{repository}/{image}@{digest}");
        assert!(
            references.contains(&pulled),
            "{pulled} was not pulled: {references:?}"
        );
    }
    // kubectl came with them, into the fresh cache.
    cluster.kubectl_until(
        &["get", "nodes"],
        std::time::Duration::from_secs(60),
        |text| text.contains(" Ready "),
    );
    let config =
        std::fs::read_to_string(cluster.sb.home().join("profiles/registry-pull/config.yaml"))
            .unwrap();
    assert!(
        config.contains(&format!("imageRepository: {repository}")),
        "{config}"
    );

    // minikube's verbs, on this cluster (kubectl from the registry, in the fresh cache).
    let kubectl = cluster
        .sb
        .path("cache")
        .join("bin")
        .join(VERSION)
        .join("kubectl");
    super::verbs::check_minikube_verbs(&cluster, &kubectl);

    // A later start uses the stored repository and pulls nothing again.
    cluster.localkube_ok(&["stop"]);
    assert_eq!(super::verbs::profile_row(&cluster)["status"], "Stopped");
    // --build-if-missing falls back to building what the registry lacks: here, with no Go, the
    // build is tried and fails, and the failed start leaves the profile's repository as it was.
    let out = cluster.localkube(&["start", "--image-repository", &empty, "--build-if-missing"]);
    assert!(!out.status.success(), "a build without Go succeeded");
    assert!(
        stderr(&out).contains("building here (--build-if-missing)"),
        "{}",
        stderr(&out)
    );
    let kept =
        std::fs::read_to_string(cluster.sb.home().join("profiles/registry-pull/config.yaml"))
            .unwrap();
    assert_eq!(kept, config, "the failed start changed config.yaml");
    let out = cluster.localkube(&["start"]);
    assert_success(&out, "start again");
    let log = stderr(&out) + &stdout(&out);
    assert!(
        log.contains(&format!("reading the index {repository}/index:{VERSION}")),
        "{log}"
    );
    assert!(!log.contains("pulling"), "images were pulled again:\n{log}");

    // An image replaced in the registry after the push is refused before anything is made.
    let replaced = format!("{repository}/etcd:{VERSION}");
    for args in [
        vec![
            "tag".to_string(),
            format!("localkube/pause:{VERSION}"),
            replaced.clone(),
        ],
        vec!["push".to_string(), replaced.clone()],
    ] {
        let out = Command::new("docker").args(&args).output().unwrap();
        assert_success(&out, &format!("docker {}", args.join(" ")));
    }
    registry.forget_local_references();
    let sb = fresh();
    let out = sb.run(&[
        "-p",
        "registry-tampered",
        "start",
        "--kubernetes-version",
        VERSION,
        "--image-repository",
        &repository,
    ]);
    assert!(!out.status.success(), "a replaced image was accepted");
    let err = stderr(&out);
    assert!(
        err.contains(&replaced) && err.contains(&digests["etcd"]),
        "{err}"
    );
    assert!(labelled_objects("registry-tampered").is_empty());
    assert!(!sb.home().join("profiles/registry-tampered").exists());

    // The index the profile read first is pinned: another index pushed under the same tag is
    // refused by a later start, with both digests and the way to accept it.
    let config_path = cluster.sb.home().join("profiles/registry-pull/config.yaml");
    let config = std::fs::read_to_string(&config_path).unwrap();
    let pin = config
        .lines()
        .find_map(|l| l.strip_prefix("imageIndex: "))
        .unwrap_or_else(|| panic!("no pinned index in config.yaml:\n{config}"))
        .trim()
        .to_string();
    assert!(pin.starts_with("sha256:"), "{pin}");
    cluster.localkube_ok(&["stop"]);
    let index = format!("{repository}/index:{VERSION}");
    for args in [
        vec![
            "tag".to_string(),
            format!("localkube/pause:{VERSION}"),
            index.clone(),
        ],
        vec!["push".to_string(), index.clone()],
    ] {
        let out = Command::new("docker").args(&args).output().unwrap();
        assert_success(&out, &format!("docker {}", args.join(" ")));
    }
    let out = cluster.localkube(&["start"]);
    assert!(!out.status.success(), "a replaced index was accepted");
    let err = stderr(&out);
    assert!(
        err.contains(&index) && err.contains(&pin) && err.contains("first read it"),
        "{err}"
    );
    assert!(
        err.contains(&format!("localkube start --image-repository {repository}")),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&config_path).unwrap(), config);
    assert_eq!(super::verbs::profile_row(&cluster)["status"], "Stopped");
    drop(cluster);
}
