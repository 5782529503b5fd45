//! Shared helpers of the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The localkube binary under test.
pub fn localkube_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_localkube"))
}

/// A private LOCALKUBE_HOME and kubeconfig for one test, so tests never touch the user's files or
/// each other's. The image cache stays shared (LOCALKUBE_CACHE from the environment) so built
/// images are reused.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kube").join("config")
    }

    /// `localkube ARGS` with this sandbox's environment.
    pub fn localkube(&self) -> Command {
        let mut cmd = Command::new(localkube_bin());
        cmd.env("LOCALKUBE_HOME", self.home())
            .env("KUBECONFIG", self.kubeconfig())
            .env("LOCALKUBE_PROGRESS", "plain")
            .env_remove("LOCALKUBE_PROFILE");
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.localkube().args(args).output().expect("run localkube")
    }

    pub fn path(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.dir.path().join(rel)
    }
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

/// Fails the test with both output streams when the command did not succeed.
pub fn assert_success(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// At most this many test clusters run at once: each is six containers with a kubelet, and the
/// project's machines have 2 cores; more at once only makes every one of them slow.
const MAX_CLUSTERS: usize = 2;
static CLUSTERS_RUNNING: std::sync::Mutex<usize> = std::sync::Mutex::new(0);
static CLUSTER_FREED: std::sync::Condvar = std::sync::Condvar::new();

/// A place for one test cluster; hold it (as the last field of the test's cluster type, so it is
/// released after the cluster is deleted) for as long as the cluster exists.
pub struct ClusterSlot(());

impl ClusterSlot {
    pub fn acquire() -> Self {
        let mut running = CLUSTERS_RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        while *running >= MAX_CLUSTERS {
            running = CLUSTER_FREED
                .wait(running)
                .unwrap_or_else(|e| e.into_inner());
        }
        *running += 1;
        ClusterSlot(())
    }
}

impl Drop for ClusterSlot {
    fn drop(&mut self) {
        *CLUSTERS_RUNNING.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        CLUSTER_FREED.notify_one();
    }
}

/// The kubectl localkube built for its default Kubernetes version (scripts/test.sh builds it
/// first): the same kubectl users get from `localkube kubectl`, present on any machine.
pub fn kubectl_binary() -> PathBuf {
    let home = localkube::effects::home::Home::from_env().expect("localkube home");
    let path = localkube::effects::image_build::kubectl_path(
        home.cache(),
        localkube::plan::version::DEFAULT_KUBERNETES_VERSION,
    );
    assert!(
        path.is_file(),
        "{} is missing: run `localkube images build` (scripts/test.sh does) first",
        path.display()
    );
    path
}

/// A port on 127.0.0.1 that nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral port")
        .port()
}

/// Builds the sample app's image `kubia:1.0` (tests/apps/kubia), once per test run; build.sh
/// builds in a private folder, so parallel callers never collide.
pub fn build_sample_image() {
    static BUILT: std::sync::Once = std::sync::Once::new();
    BUILT.call_once(|| {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/apps/kubia/build.sh");
        let out = Command::new(script).output().expect("run build.sh");
        assert_success(&out, "building the kubia sample image");
    });
}
