//! Shared helpers of the integration tests.

pub mod http;
pub mod slow_docker;
pub mod webdriver;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The localkube binary under test.
/// The binary under test: this build's, or `LOCALKUBE_TEST_BIN` (another build, to see a test
/// fail on older code).
pub fn localkube_bin() -> PathBuf {
    std::env::var_os("LOCALKUBE_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_localkube")))
}

/// The PATH without the folders that hold a `go`: a machine with no Go toolchain.
pub fn path_without_go() -> std::ffi::OsString {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<_> = std::env::split_paths(&path)
        .filter(|d| !d.join("go").exists())
        .collect();
    std::env::join_paths(dirs).expect("PATH entries")
}

/// A private LOCALKUBE_HOME and kubeconfig for one test, so tests never touch the user's files or
/// each other's. The image cache stays shared (LOCALKUBE_CACHE from the environment) so built
/// images are reused.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
    /// More environment for every command of the sandbox (a private LOCALKUBE_CACHE, a PATH).
    pub env: Vec<(String, std::ffi::OsString)>,
    /// Another localkube binary than the one cargo built (an installed copy).
    pub binary: Option<PathBuf>,
}

impl Sandbox {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
            binary: None,
            env: Vec::new(),
        }
    }

    /// This sandbox with `key=value` in the environment of its commands.
    pub fn with_env(mut self, key: &str, value: impl Into<std::ffi::OsString>) -> Self {
        self.env.push((key.to_string(), value.into()));
        self
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kube").join("config")
    }

    /// `localkube ARGS` with this sandbox's environment.
    pub fn localkube(&self) -> Command {
        let mut cmd = Command::new(self.binary.clone().unwrap_or_else(localkube_bin));
        cmd.env("LOCALKUBE_HOME", self.home())
            .env("KUBECONFIG", self.kubeconfig())
            .env("LOCALKUBE_PROGRESS", "plain")
            .env_remove("LOCALKUBE_PROFILE");
        for (key, value) in &self.env {
            cmd.env(key, value);
        }
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

/// Polls `probe` until it gives a value, failing the test with `what` and the last observation
/// after `timeout`.
pub fn wait_until<T>(
    what: &str,
    timeout: std::time::Duration,
    mut probe: impl FnMut() -> Result<T, String>,
) -> T {
    let started = std::time::Instant::now();
    loop {
        match probe() {
            Ok(value) => return value,
            Err(last) if started.elapsed() > timeout => {
                panic!("{what}: not within {timeout:?}; last seen:\n{last}")
            }
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(500)),
        }
    }
}

/// A real cluster of one profile in its own sandbox, deleted when dropped. Start one per story:
/// each start costs real time.
pub struct Cluster {
    pub sb: Sandbox,
    pub profile: String,
    _slot: ClusterSlot,
}

impl Cluster {
    /// Starts the profile's cluster (extra `start` flags in `args`), failing the test if it does
    /// not start.
    pub fn start(profile: &str, args: &[&str]) -> Self {
        Self::start_in(Sandbox::new(), profile, args)
    }

    /// [`Cluster::start`] in a sandbox prepared beforehand (a user kubeconfig written, say).
    pub fn start_in(sb: Sandbox, profile: &str, args: &[&str]) -> Self {
        let cluster = Self::unstarted(sb, profile);
        let mut all = vec!["start"];
        all.extend_from_slice(args);
        assert_success(&cluster.localkube(&all), "localkube start");
        cluster
    }

    /// The profile's cluster slot, its `start` left to the test (which looks at what it
    /// prints); deleted when dropped, as one [`Cluster::start`] made.
    pub fn unstarted(sb: Sandbox, profile: &str) -> Self {
        Cluster {
            sb,
            profile: profile.to_string(),
            _slot: ClusterSlot::acquire(),
        }
    }

    /// `localkube -p PROFILE ARGS`.
    pub fn localkube(&self, args: &[&str]) -> Output {
        let mut all = vec!["-p", self.profile.as_str()];
        all.extend_from_slice(args);
        self.sb.run(&all)
    }

    pub fn localkube_ok(&self, args: &[&str]) -> String {
        let out = self.localkube(args);
        assert_success(&out, &format!("localkube {}", args.join(" ")));
        stdout(&out)
    }

    /// The version-matched kubectl against this cluster.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        let mut all = vec!["kubectl", "--"];
        all.extend_from_slice(args);
        self.localkube(&all)
    }

    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert_success(&out, &format!("kubectl {}", args.join(" ")));
        stdout(&out)
    }

    /// `kubectl apply -f -` of a manifest.
    pub fn apply(&self, manifest: &str) {
        use std::io::Write;
        let mut child = self
            .sb
            .localkube()
            .args(["-p", &self.profile, "kubectl", "--", "apply", "-f", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run kubectl apply");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(manifest.as_bytes())
            .expect("write the manifest");
        let out = child.wait_with_output().expect("kubectl apply");
        assert_success(&out, &format!("kubectl apply of\n{manifest}"));
    }

    /// Retries a kubectl command until it succeeds and `accept` holds for its output.
    pub fn kubectl_until(
        &self,
        args: &[&str],
        timeout: std::time::Duration,
        accept: impl Fn(&str) -> bool,
    ) -> String {
        wait_until(&format!("kubectl {}", args.join(" ")), timeout, || {
            let out = self.kubectl(args);
            let text = stdout(&out);
            if out.status.success() && accept(&text) {
                Ok(text)
            } else {
                Err(format!("{text}{}", stderr(&out)))
            }
        })
    }

    /// Waits until the pod is in `phase` (`Running`, `Succeeded`, ...).
    pub fn wait_pod_phase(&self, pod: &str, phase: &str, timeout: std::time::Duration) {
        self.kubectl_until(
            &["get", "pod", pod, "-o", "jsonpath={.status.phase}"],
            timeout,
            |now| now == phase,
        );
    }

    /// Waits until the deployment has all its replicas ready.
    pub fn wait_deployment(&self, namespace: &str, name: &str) {
        self.kubectl_ok(&[
            "-n",
            namespace,
            "rollout",
            "status",
            &format!("deployment/{name}"),
            "--timeout=180s",
        ]);
    }

    /// The name of a control-plane component's container (`etcd`, `apiserver`, ...).
    pub fn container(&self, role: &str) -> String {
        format!("{}-{role}", self.profile)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Leave nothing behind, whatever happened.
        let _ = self.localkube(&["delete"]);
    }
}

/// The docker CLI with `args`.
pub fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .output()
        .expect("run the docker CLI")
}

/// The docker CLI with `args`, which must succeed; its standard output, trimmed.
pub fn docker_ok(args: &[&str]) -> String {
    let out = docker(args);
    assert_success(&out, &format!("docker {}", args.join(" ")));
    stdout(&out).trim().to_string()
}

/// `docker inspect -f TEMPLATE NAME`, trimmed.
pub fn docker_inspect(name: &str, template: &str) -> String {
    docker_ok(&["inspect", "-f", template, name])
}

/// A container's address on its (one) network.
pub fn container_ip(name: &str) -> String {
    docker_inspect(
        name,
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
    )
}

/// Runs a command in a container's network namespace from the host (`nsenter`), so it works
/// for images that hold no tools at all.
pub fn in_netns_of(container: &str, cmd: &[&str]) -> Output {
    let pid = docker_inspect(container, "{{.State.Pid}}");
    Command::new("nsenter")
        .args(["-t", &pid, "-n", "--"])
        .args(cmd)
        .output()
        .expect("run nsenter")
}

/// The agnhost test image (upstream's e2e test server, built here like the conformance images),
/// built once per test run (cached across runs); returns its name. Load it with `image load`.
pub fn agnhost_image() -> String {
    static IMAGE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    IMAGE
        .get_or_init(|| {
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/e2e-images.sh");
            let version = localkube::plan::version::DEFAULT_KUBERNETES_VERSION;
            let out = Command::new(script)
                .args(["--kubernetes-version", version, "--no-load", "agnhost"])
                .env("LOCALKUBE_BIN", localkube_bin())
                .output()
                .expect("run scripts/e2e-images.sh");
            assert_success(&out, "building the agnhost test image");
            stdout(&out)
                .lines()
                .last()
                .expect("the image name")
                .trim()
                .to_string()
        })
        .clone()
}

/// Names of every container, network and volume carrying the profile's label.
pub fn labelled_objects(profile: &str) -> Vec<String> {
    let label = format!("label=io.localkube.profile={profile}");
    let mut found = Vec::new();
    for (kind, args) in [
        (
            "container",
            vec!["ps", "-a", "--filter", &label, "--format", "{{.Names}}"],
        ),
        (
            "network",
            vec!["network", "ls", "--filter", &label, "--format", "{{.Name}}"],
        ),
        (
            "volume",
            vec!["volume", "ls", "--filter", &label, "--format", "{{.Name}}"],
        ),
    ] {
        let out = Command::new("docker")
            .args(&args)
            .output()
            .expect("run docker");
        assert_success(&out, &format!("docker {}", args.join(" ")));
        found.extend(stdout(&out).lines().map(|name| format!("{kind} {name}")));
    }
    found
}

/// A user's own kubeconfig as `kubectl config set-cluster/set-credentials/set-context/use-context`
/// writes it, with a `dev` and a `minikube` entry that localkube must never touch.
pub const USER_KUBECONFIG: &str = include_str!("../../fixtures/user-kubeconfig.yaml");

impl Sandbox {
    /// Writes [`USER_KUBECONFIG`] as this sandbox's kubeconfig.
    pub fn write_user_kubeconfig(&self) {
        let path = self.kubeconfig();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, USER_KUBECONFIG).unwrap();
    }

    /// The kubeconfig's bytes (empty when there is none).
    pub fn kubeconfig_bytes(&self) -> Vec<u8> {
        std::fs::read(self.kubeconfig()).unwrap_or_default()
    }
}

/// Sends `signal` (`-INT`, `-KILL`, ...) to a process.
pub fn signal(pid: u32, signal: &str) {
    let out = Command::new("kill")
        .args([signal, &pid.to_string()])
        .output()
        .expect("run kill");
    assert_success(&out, &format!("kill {signal} {pid}"));
}

/// Where the system dockerd writes its pid (its default `--pidfile`).
const DOCKERD_PIDFILE: &str = "/var/run/docker.pid";

/// Restarts the Docker daemon (systemd's unit, or the dockerd scripts/setup.sh started) and
/// waits until it answers again. scripts/setup.sh starts the new daemon with no descriptor but
/// stdin, stdout and stderr, so a lock held around the test (`flock`) is not kept by it.
pub fn restart_dockerd() {
    use std::time::{Duration, Instant};
    let systemd = Command::new("systemctl")
        .args(["is-active", "--quiet", "docker"])
        .status()
        .is_ok_and(|s| s.success());
    if systemd {
        let out = Command::new("systemctl")
            .args(["restart", "docker"])
            .output()
            .unwrap();
        assert_success(&out, "systemctl restart docker");
        return;
    }
    // Started by scripts/setup.sh: stop that daemon, by the pid it wrote (not by name: a second
    // dockerd, scripts/check-docker28.sh's, may be running beside it), then let the same script
    // start it again.
    let pid = std::fs::read_to_string(DOCKERD_PIDFILE)
        .ok()
        .and_then(|text| text.trim().parse::<u32>().ok())
        .expect("the system dockerd's pid in /var/run/docker.pid");
    signal(pid, "-TERM");
    let started = Instant::now();
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "dockerd (pid {pid}) did not stop"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let setup = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/setup.sh");
    let out = Command::new(setup).output().unwrap();
    assert_success(&out, "scripts/setup.sh starting dockerd again");
}

/// The storage addon's helper image: it has a shell and is in every node with the addon.
pub fn storage_helper_image() -> String {
    format!(
        "localkube/storage-helper:{}",
        localkube::plan::version::DEFAULT_KUBERNETES_VERSION
    )
}

/// A pod that runs `script` once, with the PersistentVolumeClaim `claim` mounted at /data.
pub fn pod_with_claim(name: &str, claim: &str, script: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  restartPolicy: Never
  containers:
    - name: main
      image: {image}
      imagePullPolicy: IfNotPresent
      command: ["/bin/sh", "-c", "{script}"]
      volumeMounts:
        - name: data
          mountPath: /data
  volumes:
    - name: data
      persistentVolumeClaim:
        claimName: {claim}
"#,
        image = storage_helper_image()
    )
}
