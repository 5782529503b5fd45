//! Integration tests: kubeconfigs as the real kubectl reads them. The merged user kubeconfig keeps
//! someone else's entries and lets kubectl switch between them; the component kubeconfigs carry
//! credentials that kubectl's own TLS stack (Go's) presents to a server demanding client
//! certificates on 127.0.0.1.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;

use localkube::effects::home::{Home, ProfileDir};
use localkube::effects::kubeconfig_store;
use localkube::plan::config::ProfileConfig;
use localkube::plan::profile_name::ProfileName;

use crate::suite::pki::{PROFILE, TlsServer, run_tool, write_pki};

/// The kubeconfig names of profile `itest`: recognisably localkube's.
const CONTEXT: &str = "localkube-itest";
use crate::suite::support::free_port;
use crate::suite::support::{Sandbox, assert_success, stdout};

/// Someone else's kubeconfig, with fields localkube does not model.
const EXISTING: &str = r#"apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster:
    server: https://prod.example:6443
    insecure-skip-tls-verify: true
users:
- name: prod-admin
  user:
    token: not-a-real-token
contexts:
- name: prod
  context: {cluster: prod, user: prod-admin, namespace: web}
current-context: prod
preferences: {}
"#;

/// A profile `itest` with its PKI generated, its apiserver published on `port`.
fn profile_with_pki(sandbox: &Sandbox, port: u16) -> (ProfileDir, ProfileConfig) {
    let home = Home::at(sandbox.home(), sandbox.path("cache"));
    let profile = home.profile(&ProfileName::parse(PROFILE).unwrap());
    let (config, _) = write_pki(&profile.pki_dir(), port);
    (profile, config)
}

/// kubectl with `kubeconfig` as its only kubeconfig and a private HOME (its cache goes there).
fn kubectl(sandbox: &Sandbox, kubeconfig: &Path, args: &[&str]) -> Output {
    run_tool(
        Command::new(super::support::kubectl_binary())
            .args(args)
            .env("KUBECONFIG", kubeconfig)
            .env("HOME", sandbox.path("kubectl-home"))
            .env_remove("HTTPS_PROXY")
            .env_remove("https_proxy"),
    )
}

fn json(output: &Output) -> Value {
    serde_json::from_str(&stdout(output)).expect("kubectl printed JSON")
}

fn names(doc: &Value, list: &str) -> Vec<String> {
    doc[list]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|e| e["name"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn kubectl_reads_the_merged_kubeconfig_and_others_entries_survive() {
    let sandbox = Sandbox::new();
    let port = free_port();
    let (profile, config) = profile_with_pki(&sandbox, port);
    let kubeconfig = sandbox.kubeconfig();
    fs::create_dir_all(kubeconfig.parent().unwrap()).unwrap();
    fs::write(&kubeconfig, EXISTING).unwrap();

    let admin = kubeconfig_store::admin_credentials(&profile, &config).unwrap();
    kubeconfig_store::merge_into_file(&kubeconfig, &admin, true).unwrap();

    let out = kubectl(&sandbox, &kubeconfig, &["config", "get-contexts"]);
    assert_success(&out, "kubectl config get-contexts");
    let table = stdout(&out);
    let current: Vec<&str> = table.lines().filter(|l| l.starts_with('*')).collect();
    assert_eq!(current.len(), 1, "{table}");
    assert!(
        current[0]
            .split_whitespace()
            .eq(["*", CONTEXT, CONTEXT, CONTEXT]),
        "{table}"
    );
    assert!(
        table.lines().any(|l| l
            .split_whitespace()
            .eq(["prod", "prod", "prod-admin", "web"])),
        "{table}"
    );

    let out = kubectl(&sandbox, &kubeconfig, &["config", "current-context"]);
    assert_success(&out, "kubectl config current-context");
    assert_eq!(stdout(&out).trim(), CONTEXT);

    let out = kubectl(
        &sandbox,
        &kubeconfig,
        &["config", "view", "--raw", "-o", "json"],
    );
    assert_success(&out, "kubectl config view");
    let view = json(&out);
    assert_eq!(names(&view, "clusters"), ["localkube-itest", "prod"]);
    assert_eq!(names(&view, "users"), ["localkube-itest", "prod-admin"]);
    let cluster = view["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == CONTEXT)
        .unwrap();
    assert_eq!(
        cluster["cluster"]["server"],
        format!("https://127.0.0.1:{port}")
    );
    let user = view["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == CONTEXT)
        .unwrap();
    let cert = BASE64
        .decode(user["user"]["client-certificate-data"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        String::from_utf8(cert).unwrap(),
        fs::read_to_string(profile.pki_dir().join("admin.crt")).unwrap()
    );
    let prod = view["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "prod")
        .unwrap();
    assert_eq!(prod["cluster"]["insecure-skip-tls-verify"], true);

    // kubectl edits the file; a second merge keeps its edit and changes nothing else.
    let out = kubectl(&sandbox, &kubeconfig, &["config", "use-context", "prod"]);
    assert_success(&out, "kubectl config use-context");
    kubeconfig_store::merge_into_file(&kubeconfig, &admin, false).unwrap();
    let first = fs::read_to_string(&kubeconfig).unwrap();
    kubeconfig_store::merge_into_file(&kubeconfig, &admin, false).unwrap();
    assert_eq!(fs::read_to_string(&kubeconfig).unwrap(), first);
    assert_eq!(
        kubeconfig_store::current_context_in(&kubeconfig)
            .unwrap()
            .as_deref(),
        Some("prod")
    );

    // Removing the profile leaves exactly the other entries.
    kubeconfig_store::merge_into_file(&kubeconfig, &admin, true).unwrap();
    assert!(
        kubeconfig_store::remove_from_file(&kubeconfig, CONTEXT, CONTEXT, CONTEXT, PROFILE)
            .unwrap()
    );
    let out = kubectl(
        &sandbox,
        &kubeconfig,
        &["config", "get-contexts", "-o", "name"],
    );
    assert_success(&out, "kubectl config get-contexts after remove");
    assert_eq!(stdout(&out).trim(), "prod");
    let out = kubectl(&sandbox, &kubeconfig, &["config", "view", "-o", "json"]);
    let view = json(&out);
    assert_eq!(names(&view, "clusters"), ["prod"]);
    assert_eq!(names(&view, "users"), ["prod-admin"]);
    assert_eq!(
        kubeconfig_store::current_context_in(&kubeconfig).unwrap(),
        None
    );
}

#[test]
fn kubectl_accepts_a_kubeconfig_localkube_created() {
    let sandbox = Sandbox::new();
    let (profile, config) = profile_with_pki(&sandbox, free_port());
    // No file and no folder yet, as on a fresh machine.
    let kubeconfig = sandbox.path("fresh/.kube/config");
    let admin = kubeconfig_store::admin_credentials(&profile, &config).unwrap();
    kubeconfig_store::merge_into_file(&kubeconfig, &admin, true).unwrap();

    let out = kubectl(
        &sandbox,
        &kubeconfig,
        &["config", "get-contexts", "-o", "name"],
    );
    assert_success(&out, "kubectl config get-contexts");
    assert_eq!(stdout(&out).trim(), CONTEXT);
    let out = kubectl(
        &sandbox,
        &kubeconfig,
        &["config", "view", "--minify", "-o", "json"],
    );
    assert_success(&out, "kubectl config view --minify");
    let view = json(&out);
    assert_eq!(view["current-context"], CONTEXT);
    assert_eq!(view["contexts"][0]["context"]["user"], CONTEXT);
}

#[test]
fn kubectl_authenticates_with_every_component_kubeconfig() {
    let sandbox = Sandbox::new();
    let port = free_port();
    let (profile, config) = profile_with_pki(&sandbox, port);
    let written = kubeconfig_store::write_component_kubeconfigs(&profile, &config).unwrap();
    assert_eq!(written.len(), 7, "admin, super-admin and five components");
    let _server = TlsServer::start(&profile.pki_dir(), "apiserver", "ca", port);

    for path in &written {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let mut args = vec!["get", "--raw", "/", "--request-timeout", "10s"];
        // In-cluster kubeconfigs name the apiserver's network address; reach it through the
        // published port instead (127.0.0.1 is in the serving certificate too).
        let local = format!("https://127.0.0.1:{port}");
        if file != "admin.conf" {
            args.extend(["--server", local.as_str()]);
        }
        let out = kubectl(&sandbox, path, &args);
        assert_success(&out, &format!("kubectl get --raw / with {file}"));
        assert!(
            stdout(&out).contains("s_server"),
            "{file}: {}",
            stdout(&out)
        );
    }
}

/// A kubeconfig bind-mounted onto its path (a devcontainer's `~/.kube/config` from the host)
/// cannot be replaced by a rename (EBUSY): localkube writes it in place, as kubectl does, and
/// makes it 0600 since it holds a key. Needs a private mount namespace (`unshare -m`): skipped,
/// saying so, where there is none.
#[test]
fn a_bind_mounted_kubeconfig_is_written_in_place() {
    if !Command::new("unshare")
        .args(["-m", "true"])
        .status()
        .is_ok_and(|s| s.success())
    {
        eprintln!("SKIPPED: no `unshare -m` here to bind-mount a kubeconfig");
        return;
    }
    let sb = Sandbox::new();
    assert_success(
        &sb.run(&["-p", "bindmnt", "start", "--dry-run"]),
        "start --dry-run",
    );
    // The host's file: the profile's entries, pointing at a server that moved, world-readable.
    let admin = sb.home().join("profiles/bindmnt/kubeconfigs/admin.conf");
    let host_file = sb.dir.path().join("host-kubeconfig");
    let stale = fs::read_to_string(&admin)
        .unwrap()
        .replace("https://127.0.0.1:", "https://127.0.0.1:1");
    fs::write(&host_file, &stale).unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&host_file, fs::Permissions::from_mode(0o644)).unwrap();
    let mount_point = sb.kubeconfig();
    fs::create_dir_all(mount_point.parent().unwrap()).unwrap();
    fs::write(&mount_point, "").unwrap();

    let bin = sb
        .binary
        .clone()
        .unwrap_or_else(super::support::localkube_bin);
    let out = Command::new("unshare")
        .args([
            "-m",
            "sh",
            "-c",
            r#"mount --bind "$1" "$2" && exec "$3" -p bindmnt update-context"#,
        ])
        .arg("sh")
        .arg(&host_file)
        .arg(&mount_point)
        .arg(&bin)
        .env("LOCALKUBE_HOME", sb.home())
        .env("KUBECONFIG", &mount_point)
        .output()
        .unwrap();
    assert_success(&out, "update-context on a bind-mounted kubeconfig");
    let written = fs::read_to_string(&host_file).unwrap();
    assert_eq!(written, fs::read_to_string(&admin).unwrap());
    assert_eq!(
        fs::metadata(&host_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
}
