//! Integration tests: the component images (`localkube images build`) and the artifact cache.
//!
//! They use the real cache (`$LOCALKUBE_CACHE` or ~/.cache/localkube) so Kubernetes is compiled at
//! most once: after the first build every `ensure` here takes seconds. Each test calls the library's
//! `ensure_images` itself, so it passes alone; the tests that ensure take one lock, so a test that
//! damages the cache never races one that expects it whole.

use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Mutex, MutexGuard};

use localkube::effects::docker;
use localkube::effects::home::Home;
use localkube::effects::image_build::{self, BuildOptions, BuildReport};
use localkube::plan::images::LABEL_BUILD_KEY;
use localkube::plan::version::DEFAULT_KUBERNETES_VERSION as VERSION;
use localkube::ui::Ui;

use super::support::{Sandbox, assert_success, stderr, stdout};

static CACHE: Mutex<()> = Mutex::new(());

/// Held by every test that builds or damages the shared cache.
pub fn serial() -> MutexGuard<'static, ()> {
    CACHE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn cache_dir() -> PathBuf {
    Home::from_env().expect("home").cache().to_path_buf()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// `images build` on the real cache, progress on stderr: it verifies every cached artifact
/// (`start`'s `ensure_images` skips that when every image is current; nothing reads them then).
fn ensure() -> BuildReport {
    build_with(&BuildOptions::default()).expect("build_images")
}

fn build_with(options: &BuildOptions) -> anyhow::Result<BuildReport> {
    build_in(&cache_dir(), options)
}

fn build_in(cache: &std::path::Path, options: &BuildOptions) -> anyhow::Result<BuildReport> {
    runtime().block_on(async {
        let docker = docker::connect().await?;
        let ui = Ui::from_env(0);
        image_build::build_images(&docker, cache, VERSION, &ui, options).await
    })
}

fn image(component: &str) -> String {
    format!("localkube/{component}:{VERSION}")
}

/// `docker run --rm [--entrypoint E] IMAGE ARGS`: stdout and stderr together.
fn docker_run(entrypoint: Option<&str>, image: &str, args: &[&str]) -> (bool, String) {
    let mut cmd = Command::new("docker");
    cmd.args(["run", "--rm", "--network", "none"]);
    if let Some(entrypoint) = entrypoint {
        cmd.args(["--entrypoint", entrypoint]);
    }
    let output = cmd.arg(image).args(args).output().expect("docker run");
    let text = format!("{}{}", stdout(&output), stderr(&output));
    (output.status.success(), text)
}

fn docker_label(image: &str, label: &str) -> String {
    let output = Command::new("docker")
        .args([
            "image",
            "inspect",
            "--format",
            &format!("{{{{index .Config.Labels \"{label}\"}}}}"),
            image,
        ])
        .output()
        .expect("docker image inspect");
    assert_success(&output, "docker image inspect");
    stdout(&output).trim().to_string()
}

#[test]
fn control_plane_images_print_exactly_the_pinned_version() {
    let _serial = serial();
    ensure();
    for component in [
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
    ] {
        let (ok, text) = docker_run(None, &image(component), &["--version"]);
        assert!(ok, "{component} --version failed: {text}");
        assert_eq!(text.trim(), format!("Kubernetes {VERSION}"), "{component}");
    }
}

#[test]
fn node_image_holds_kubelet_and_kube_proxy_of_the_pinned_version() {
    let _serial = serial();
    ensure();
    for binary in ["kubelet", "kube-proxy"] {
        let entrypoint = format!("/usr/local/bin/{binary}");
        let (ok, text) = docker_run(Some(&entrypoint), &image("node"), &["--version"]);
        assert!(ok, "{binary} --version failed: {text}");
        assert_eq!(text.trim(), format!("Kubernetes {VERSION}"), "{binary}");
    }
    // crictl: cri-tools' when the module proxy serves it, else the node's own (images/node/crictl),
    // else a script that says what to use instead.
    let (ok, text) = docker_run(
        Some("/usr/local/bin/crictl"),
        &image("node"),
        &["--version"],
    );
    assert!(
        (ok && text.starts_with("crictl version ")) || (!ok && text.contains("ctr -n k8s.io")),
        "crictl: {text}"
    );
}

#[test]
fn etcd_coredns_and_pause_images_hold_kubeadms_versions() {
    let _serial = serial();
    let report = ensure();
    let version_of = |tag: &str| {
        report
            .images
            .iter()
            .find(|i| i.image == tag)
            .unwrap_or_else(|| panic!("{tag} not in the report"))
            .component_version
            .clone()
    };

    let etcd = version_of(&image("etcd"));
    assert!(etcd.starts_with("v3."), "etcd {etcd}");
    let (ok, text) = docker_run(None, &image("etcd"), &["--version"]);
    assert!(ok, "etcd --version failed: {text}");
    assert_eq!(
        text.lines().next().unwrap_or(""),
        format!("etcd Version: {}", etcd.trim_start_matches('v'))
    );

    let coredns = version_of(&image("coredns"));
    let (ok, text) = docker_run(None, &image("coredns"), &["-version"]);
    assert!(ok, "coredns -version failed: {text}");
    assert_eq!(
        text.lines().next().unwrap_or(""),
        format!("CoreDNS-{}", coredns.trim_start_matches('v'))
    );

    let pause = version_of(&image("pause"));
    let (ok, text) = docker_run(None, &image("pause"), &["--version"]);
    assert!(ok && text.contains(&pause), "pause --version: {text}");

    // Every image carries its key and component version as labels.
    for built in &report.images {
        assert_eq!(
            docker_label(&built.image, LABEL_BUILD_KEY),
            built.key,
            "{}",
            built.image
        );
        assert_eq!(
            docker_label(&built.image, "io.localkube.component-version"),
            built.component_version
        );
    }
}

#[test]
fn kubectl_of_the_same_version_is_in_the_cache() {
    let _serial = serial();
    let report = ensure();
    let kubectl = image_build::kubectl_path(&cache_dir(), VERSION);
    assert_eq!(report.kubectl, kubectl);
    let output = Command::new(&kubectl)
        .args(["version", "--client"])
        .output()
        .expect("run kubectl");
    assert_success(&output, "kubectl version --client");
    assert!(
        stdout(&output).contains(&format!("Client Version: {VERSION}")),
        "{}",
        stdout(&output)
    );
}

#[test]
fn a_second_build_rebuilds_nothing_and_says_so() {
    let _serial = serial();
    ensure();
    let again = ensure();
    assert!(again.rebuilt.is_empty(), "rebuilt: {:?}", again.rebuilt);
    assert!(again.artifacts.iter().all(|a| !a.rebuilt));
    assert!(again.images.iter().all(|i| !i.rebuilt));

    // The command line says so too.
    let sandbox = Sandbox::new();
    let output = sandbox.run(&["images", "build"]);
    assert_success(&output, "localkube images build");
    assert!(
        stderr(&output).contains("up to date"),
        "{}",
        stderr(&output)
    );
    assert!(
        stdout(&output).contains("nothing rebuilt"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn damaged_or_partial_cache_entries_are_detected_and_rebuilt() {
    let _serial = serial();
    let report = ensure();
    let pause = report
        .artifacts
        .iter()
        .find(|a| a.name == "pause")
        .expect("pause artifact")
        .clone();
    let binary = pause.path.join("pause");

    // Truncated, as by a disk filling up or a copy killed halfway.
    let bytes = fs::read(&binary).unwrap();
    fs::write(&binary, &bytes[..bytes.len() / 2]).unwrap();
    let rebuilt = ensure();
    assert_eq!(
        rebuilt.rebuilt,
        vec!["pause"],
        "only the damaged artifact is rebuilt"
    );
    assert_eq!(fs::read(&binary).unwrap().len(), bytes.len());
    let entry = &rebuilt
        .artifacts
        .iter()
        .find(|a| a.name == "pause")
        .unwrap()
        .files["pause"];
    assert_eq!(entry.size, bytes.len() as u64);

    // Same size, other bytes: only the checksum can tell.
    let mut flipped = bytes.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0xff;
    fs::write(&binary, &flipped).unwrap();
    assert_eq!(ensure().rebuilt, vec!["pause"]);

    // A folder without its manifest: a build that never finished.
    fs::remove_file(pause.path.join("manifest.json")).unwrap();
    assert_eq!(ensure().rebuilt, vec!["pause"]);

    // The installed kubectl, truncated: in a cache of its own, since the cluster tests run the
    // shared cache's kubectl meanwhile (and a program being run cannot be opened for writing).
    // Its artifacts are hard links of the shared ones, so nothing is built.
    let own = tempfile::tempdir_in(cache_dir().parent().unwrap()).unwrap();
    for part in ["artifacts", "versions"] {
        copy_tree(
            &cache_dir().join(part),
            &own.path().join(part),
            |from, to| fs::hard_link(from, to),
        );
    }
    let ensure = || {
        build_in(own.path(), &BuildOptions::default()).expect("build_images in a cache of its own")
    };
    assert_eq!(ensure().rebuilt, vec!["kubectl"], "the first install");
    let kubectl = image_build::kubectl_path(own.path(), VERSION);
    let size = fs::metadata(&kubectl).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&kubectl)
        .unwrap()
        .set_len(size / 3)
        .unwrap();
    assert_eq!(ensure().rebuilt, vec!["kubectl"]);
    assert_eq!(fs::metadata(&kubectl).unwrap().len(), size);

    // And everything verifies again.
    assert!(ensure().rebuilt.is_empty());
}

#[test]
fn a_failed_build_names_the_artifact_the_command_and_its_output() {
    let _serial = serial();
    let report = ensure();
    let pause_key = report
        .images
        .iter()
        .find(|i| i.image == image("pause"))
        .expect("pause image")
        .key
        .clone();
    // A copy of the image definitions whose pause source does not compile: a new key for the pause
    // artifact, whose build then fails before any image is touched.
    let tmp = tempfile::tempdir().unwrap();
    let images = image_build::images_dir(&cache_dir()).unwrap();
    let copy = tmp.path().join("images");
    copy_tree(&images, &copy, |from, to| fs::copy(from, to).map(drop));
    let source = copy.join("pause").join("pause.c");
    let text = fs::read_to_string(&source).unwrap();
    fs::write(&source, format!("{text}\nthis is not C;\n")).unwrap();
    let err = build_with(&BuildOptions {
        force: false,
        images_dir: Some(copy),
        ..BuildOptions::default()
    })
    .unwrap_err();
    let message = format!("{err:#}");
    assert!(message.contains("building pause failed"), "{message}");
    assert!(message.contains("build.sh"), "{message}");
    assert!(
        message.contains("| "),
        "the output's last lines are quoted: {message}"
    );
    assert!(message.contains("error"), "{message}");
    // Artifacts are built before any image is touched: the images stay as they were, tagged and
    // current, and nothing was left in the cache under the failed key.
    assert_eq!(docker_label(&image("pause"), LABEL_BUILD_KEY), pause_key);
    assert!(ensure().rebuilt.is_empty());
}

#[test]
fn images_ls_lists_images_with_sizes_and_kubectl() {
    let _serial = serial();
    ensure();
    let sandbox = Sandbox::new();
    let output = sandbox.run(&["images", "ls", "-o", "json"]);
    assert_success(&output, "localkube images ls -o json");
    let listing: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("json");
    let images = listing["images"].as_array().expect("images");
    for component in [
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "etcd",
        "coredns",
        "pause",
        "node",
    ] {
        let tag = image(component);
        let entry = images
            .iter()
            .find(|i| i["image"] == tag.as_str())
            .unwrap_or_else(|| panic!("{tag} not listed: {listing}"));
        assert!(entry["size_bytes"].as_u64().unwrap() > 0, "{entry}");
        assert_eq!(entry["kubernetes_version"], VERSION);
    }
    let kubectl = listing["kubectl"].as_array().expect("kubectl");
    assert!(
        kubectl.iter().any(|k| k["kubernetes_version"] == VERSION),
        "{listing}"
    );

    let output = sandbox.run(&["images", "ls"]);
    assert_success(&output, "localkube images ls");
    assert!(
        stdout(&output).contains(&image("kube-apiserver")),
        "{}",
        stdout(&output)
    );
}

/// A copy of a folder's tree, each file placed by `place` (a copy, or a hard link where the
/// files are large and only read).
fn copy_tree(
    from: &std::path::Path,
    to: &std::path::Path,
    place: fn(&std::path::Path, &std::path::Path) -> std::io::Result<()>,
) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target, place);
        } else {
            place(&entry.path(), &target).unwrap();
        }
    }
}
