//! The command line as a user meets it: the real binary, a private LOCALKUBE_HOME and kubeconfig.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use localkube::plan::version::DEFAULT_KUBERNETES_VERSION;

use super::support::{Sandbox, assert_success, stderr, stdout};

#[test]
fn dry_run_writes_the_profile_and_prints_the_plan() {
    let sb = Sandbox::new();
    let out = sb.run(&["start", "--dry-run", "-p", "dry"]);
    assert_success(&out, "start --dry-run");
    let plan = stdout(&out);
    let apiserver_image = format!("image:   localkube/kube-apiserver:{DEFAULT_KUBERNETES_VERSION}");
    for expected in [
        "network localkube-dry",
        "container dry-etcd (etcd)",
        "container dry-apiserver (apiserver)",
        "container dry-controller-manager (controller-manager)",
        "container dry-scheduler (scheduler)",
        "container dry (node)",
        "container dry-lb-controller (lb-controller)",
        apiserver_image.as_str(),
        "-> 6443/tcp",
        "io.localkube.profile=dry",
        "--allocate-node-cidrs=true",
    ] {
        assert!(plan.contains(expected), "plan lacks {expected:?}:\n{plan}");
    }
    let profile = sb.home().join("profiles/dry");
    assert!(profile.join("config.yaml").is_file());
    assert!(profile.join("pki/ca.crt").is_file());
    assert!(profile.join("kubeconfigs/admin.conf").is_file());
    let key_mode = fs::metadata(profile.join("pki/ca.key"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(key_mode, 0o600);
    // A dry run touches neither Docker nor the user's kubeconfig.
    assert!(!sb.kubeconfig().exists());
}

#[test]
fn dry_run_plan_as_json_is_data() {
    let sb = Sandbox::new();
    let out = sb.run(&["start", "--dry-run", "-o", "json"]);
    assert_success(&out, "start --dry-run -o json");
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON plan");
    assert_eq!(plan["network"]["name"], "localkube-localkube");
    assert_eq!(plan["containers"].as_array().unwrap().len(), 6);
}

#[test]
fn second_dry_run_keeps_the_certificates() {
    let sb = Sandbox::new();
    assert_success(&sb.run(&["start", "--dry-run"]), "first dry run");
    let ca = sb.home().join("profiles/localkube/pki/ca.crt");
    let first = fs::read(&ca).unwrap();
    let config = fs::read(sb.home().join("profiles/localkube/config.yaml")).unwrap();
    let out = sb.run(&["start", "--dry-run"]);
    assert_success(&out, "second dry run");
    assert_eq!(fs::read(&ca).unwrap(), first, "CA was regenerated");
    assert_eq!(
        fs::read(sb.home().join("profiles/localkube/config.yaml")).unwrap(),
        config,
        "the port or subnet chosen once changed"
    );
}

#[test]
fn status_of_a_missing_profile_fails_clearly() {
    let sb = Sandbox::new();
    let out = sb.run(&["status", "-p", "nosuch"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("profile 'nosuch' does not exist"), "{err}");
    assert!(!sb.home().join("profiles/nosuch").exists());
}

#[test]
fn bad_profile_names_are_refused_and_nothing_is_created() {
    let sb = Sandbox::new();
    let long = "a".repeat(41);
    for bad in ["../x", "", "Upper", long.as_str(), "a_b"] {
        let out = sb.run(&["start", "--dry-run", "-p", bad]);
        assert!(!out.status.success(), "{bad:?} accepted");
        let err = stderr(&out);
        assert!(
            err.contains("lower-case letters, digits and '-'"),
            "{bad:?}: {err}"
        );
    }
    assert!(!sb.home().exists(), "something was created");
    assert!(!sb.path("x").exists());
}

#[test]
fn an_older_version_on_an_existing_profile_is_refused_as_a_downgrade() {
    let sb = Sandbox::new();
    assert_success(&sb.run(&["start", "--dry-run"]), "dry run");
    let out = sb.run(&["start", "--dry-run", "--kubernetes-version", "v1.36.3"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(&format!(
            "runs Kubernetes {DEFAULT_KUBERNETES_VERSION}: going back to v1.36.3 is a downgrade"
        )) && stderr(&out).contains("nothing was changed"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn bad_flag_values_are_refused_and_the_profile_is_not_left_behind() {
    let sb = Sandbox::new();
    let out = sb.run(&["start", "--dry-run", "--kubernetes-version", "newest"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("is not a Kubernetes release"));
    let out = sb.run(&["start", "--dry-run", "--kubernetes-version", "v1.30.2"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("not supported") && stderr(&out).contains("v1.37.x"),
        "an unsupported minor names the ones that work: {}",
        stderr(&out)
    );
    let out = sb.run(&["start", "--dry-run", "--apiserver-port", "80"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("between 1024 and 65535"),
        "{}",
        stderr(&out)
    );
    assert!(!sb.home().join("profiles/localkube").exists());
}

#[test]
fn addons_of_a_profile_that_does_not_exist_name_the_fix() {
    let sb = Sandbox::new();
    let out = sb.run(&["addons", "list"]);
    assert!(
        !out.status.success(),
        "addons listed a profile that does not exist"
    );
    let err = stderr(&out);
    assert!(
        err.contains("does not exist") && err.contains("localkube start"),
        "{err}"
    );
    assert!(!sb.home().join("profiles/localkube").exists());
}

#[test]
fn a_second_command_on_a_busy_profile_names_the_holder() {
    let sb = Sandbox::new();
    let lock_dir = sb.home().join("locks");
    fs::create_dir_all(&lock_dir).unwrap();
    // Hold the profile's lock from this test process, as a running `start` would.
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .read(true)
        .open(lock_dir.join("busy.lock"))
        .unwrap();
    lock.lock().unwrap();
    fs::write(
        lock_dir.join("busy.lock"),
        "pid 4242 (localkube start -p busy)",
    )
    .unwrap();
    let out = sb
        .localkube()
        .env("LOCALKUBE_LOCK_TIMEOUT", "0.5")
        .args(["start", "--dry-run", "-p", "busy"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("profile 'busy' is busy"), "{err}");
    assert!(err.contains("pid 4242 (localkube start -p busy)"), "{err}");
    assert!(!sb.home().join("profiles/busy").exists());
    drop(lock);
    assert_success(
        &sb.run(&["start", "--dry-run", "-p", "busy"]),
        "after release",
    );
}

#[test]
fn profile_list_shows_profiles() {
    let sb = Sandbox::new();
    assert_success(&sb.run(&["start", "--dry-run", "-p", "one"]), "dry run one");
    assert_success(&sb.run(&["start", "--dry-run", "-p", "two"]), "dry run two");
    let out = sb.run(&["profile", "list", "-o", "json"]);
    assert_success(&out, "profile list");
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["one", "two"]);
}

#[test]
fn completion_and_version() {
    let sb = Sandbox::new();
    let out = sb.run(&["completion", "bash"]);
    assert_success(&out, "completion bash");
    assert!(stdout(&out).contains("localkube"));
    let out = sb.run(&["version", "-o", "json"]);
    assert_success(&out, "version");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["defaultKubernetesVersion"], DEFAULT_KUBERNETES_VERSION);
}

/// `localkube version | head -0` and the like: a reader that went away ends the command quietly
/// (no panic, no error line), as it ends `cat`, for verbs that print with `println!` and those
/// that write and flush.
#[test]
fn a_closed_pipe_ends_every_printing_verb_quietly() {
    let sb = Sandbox::new();
    let out = sb.run(&["-p", "piped", "start", "--dry-run"]);
    assert_success(&out, "start --dry-run");
    for args in [
        vec!["version"],
        vec!["profile", "list"],
        vec!["-p", "piped", "config", "view"],
        vec!["-p", "piped", "start", "--dry-run"],
        vec!["completion", "bash"],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = sb.localkube().args(&args).stdout(writer).output().unwrap();
        let err = stderr(&out);
        assert!(
            !err.contains("panicked") && !err.contains("Broken pipe"),
            "{args:?}: {err}"
        );
        assert_eq!(out.status.code(), Some(141), "{args:?}: {err}");
    }
}
