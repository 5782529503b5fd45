//! A corpus of bad inputs — profile names, versions, flags, environment variables, damaged files,
//! foreign kubeconfig entries and Docker objects — each refused with an error that names the
//! problem, and nothing half-made: no profile folder, no Docker object with the profile's label,
//! the user's kubeconfig (with its own `dev` and `minikube` entries) unchanged byte for byte.

use std::fs;
use std::process::{Command, Output};

use super::support::{Sandbox, USER_KUBECONFIG, assert_success, labelled_objects, stderr};

/// One bad input: the command line, extra environment, and words the error must contain.
struct Case {
    args: Vec<String>,
    env: Vec<(&'static str, &'static str)>,
    expect: Vec<&'static str>,
}

fn case(args: &[&str], expect: &[&'static str]) -> Case {
    Case {
        args: args.iter().map(|a| a.to_string()).collect(),
        env: Vec::new(),
        expect: expect.to_vec(),
    }
}

fn run(sb: &Sandbox, c: &Case) -> Output {
    let mut cmd = sb.localkube();
    cmd.args(&c.args);
    for (k, v) in &c.env {
        cmd.env(k, v);
    }
    cmd.output().expect("run localkube")
}

/// The profile a command line names (`-p NAME`), if it is one localkube accepts.
fn profile_of(args: &[String]) -> Option<String> {
    args.iter()
        .position(|a| a == "-p")
        .map(|i| args[i + 1].clone())
}

/// Fails the test unless the command failed with every expected word and left nothing behind.
fn assert_refused_cleanly(sb: &Sandbox, c: &Case, out: &Output, kubeconfig_before: &[u8]) {
    let err = stderr(out);
    assert!(
        !out.status.success(),
        "{:?} {:?} was accepted:\n{err}",
        c.env,
        c.args
    );
    for word in &c.expect {
        assert!(
            err.contains(word),
            "{:?} {:?}: the error does not say {word:?}:\n{err}",
            c.env,
            c.args
        );
    }
    assert!(!err.contains("panicked"), "{:?}: a panic:\n{err}", c.args);
    assert_eq!(
        sb.kubeconfig_bytes(),
        kubeconfig_before,
        "{:?} changed the user's kubeconfig",
        c.args
    );
    if let Some(profile) = profile_of(&c.args) {
        assert!(
            labelled_objects(&profile).is_empty(),
            "{:?} left Docker objects: {:?}",
            c.args,
            labelled_objects(&profile)
        );
    }
}

#[test]
fn bad_names_versions_flags_and_environment_are_refused_before_anything_is_made() {
    let sb = Sandbox::new();
    sb.write_user_kubeconfig();
    let long = "a".repeat(41);
    let mut cases = vec![
        // Profile names.
        case(
            &["-p", "Bad", "start"],
            &["invalid profile name 'Bad'", "lower-case"],
        ),
        case(&["-p", "a_b", "start"], &["invalid profile name 'a_b'"]),
        case(&["-p", "x-", "start"], &["starts or ends with '-'"]),
        case(&["-p", &long, "start"], &["too long"]),
        case(&["-p", "../x", "start"], &["invalid profile name '../x'"]),
        case(
            &["-p", "bi-etcd", "start"],
            &["cannot be used", "'-etcd'", "profile 'bi'"],
        ),
        case(
            &["-p", "bi-controller-manager", "start"],
            &["cannot be used", "'-controller-manager'"],
        ),
        case(
            &["-p", "bi-m02", "start"],
            &["cannot be used", "node of profile 'bi'"],
        ),
        case(&["-p", "bi-lb-web", "start"], &["cannot be used", "'-lb-'"]),
        case(&["-p", "bi-etcd-data", "start"], &["cannot be used"]),
        // Profile `bi`'s registry addon is `bi-registry`.
        case(
            &["-p", "bi-registry", "start"],
            &["cannot be used", "'-registry'", "profile 'bi'"],
        ),
        // Kubernetes versions.
        case(
            &["-p", "bi", "start", "--kubernetes-version", "v1.20"],
            &["1.20 is not supported", "v1.35"],
        ),
        case(
            &["-p", "bi", "start", "--kubernetes-version", "v2.0.0"],
            &["v2.0.0"],
        ),
        case(
            &["-p", "bi", "start", "--kubernetes-version", "banana"],
            &["banana"],
        ),
        case(
            &["-p", "bi", "start", "--kubernetes-version", ""],
            &["kubernetes-version"],
        ),
        // Flags.
        case(
            &["-p", "bi", "start", "--cert-validity-days", "0"],
            &["1 to 3650"],
        ),
        case(
            &["-p", "bi", "start", "--cert-validity-days", "3651"],
            &["1 to 3650"],
        ),
        case(
            &["-p", "bi", "start", "--cert-validity-days", "2900000"],
            &["1 to 3650"],
        ),
        case(
            &["-p", "bi", "start", "--cert-validity-days", "-5"],
            &["'-5'"],
        ),
        case(
            &["-p", "bi", "start", "--nodes", "0"],
            &["0 nodes", "1 to 9"],
        ),
        case(
            &["-p", "bi", "start", "--nodes", "10"],
            &["10 nodes", "1 to 9"],
        ),
        case(
            &["-p", "bi", "start", "--apiserver-port", "80"],
            &["between 1024 and 65535"],
        ),
        case(
            &["-p", "bi", "start", "--apiserver-port", "70000"],
            &["apiserver-port"],
        ),
        case(
            &["-p", "bi", "start", "--apiserver-port", "http"],
            &["apiserver-port"],
        ),
        case(
            &["-p", "bi", "start", "--no-such-flag"],
            &["--no-such-flag"],
        ),
        // Profiles that do not exist.
        case(&["-p", "bi", "stop"], &["profile 'bi' does not exist"]),
        case(
            &["-p", "bi", "node", "add"],
            &["profile 'bi' does not exist"],
        ),
    ];
    // Environment variables.
    for (name, value, expect) in [
        (
            "LOCALKUBE_LOCK_TIMEOUT",
            "nan",
            "LOCALKUBE_LOCK_TIMEOUT='nan'",
        ),
        (
            "LOCALKUBE_LOCK_TIMEOUT",
            "-1",
            "LOCALKUBE_LOCK_TIMEOUT='-1'",
        ),
        (
            "LOCALKUBE_LOCK_TIMEOUT",
            "inf",
            "LOCALKUBE_LOCK_TIMEOUT='inf'",
        ),
        (
            "LOCALKUBE_LOCK_TIMEOUT",
            "1e400",
            "LOCALKUBE_LOCK_TIMEOUT='1e400'",
        ),
        ("LOCALKUBE_TEST_FAIL_AT", "nosuch", "names no step of start"),
        ("LOCALKUBE_PROFILE", "Bad", "invalid profile name 'Bad'"),
    ] {
        let mut c = case(&["-p", "bi", "start"], &[expect]);
        if name == "LOCALKUBE_PROFILE" {
            c.args = vec!["start".into()];
        }
        c.env.push((name, value));
        cases.push(c);
    }
    let before = sb.kubeconfig_bytes();
    for c in &cases {
        let out = run(&sb, c);
        assert_refused_cleanly(&sb, c, &out, &before);
    }
    assert!(
        !sb.home().join("profiles").exists()
            || fs::read_dir(sb.home().join("profiles")).unwrap().count() == 0,
        "a refused start left a profile folder"
    );
    // Verbs on profiles that do not exist, named like the user's own entries, touch nothing.
    for profile in ["dev", "minikube"] {
        let out = sb.run(&["-p", profile, "delete"]);
        assert_success(&out, &format!("delete -p {profile}"));
        assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
        assert_eq!(sb.kubeconfig_bytes(), USER_KUBECONFIG.as_bytes());
    }
    eprintln!("bad inputs refused: {}", cases.len() + 2);
}

#[test]
fn damaged_files_and_foreign_entries_are_refused_and_left_as_they_were() {
    let sb = Sandbox::new();
    sb.write_user_kubeconfig();
    let profile_dir = sb.home().join("profiles/bifile");
    // A profile written by a dry run: files, nothing in Docker.
    assert_success(
        &sb.run(&["-p", "bifile", "start", "--dry-run"]),
        "start --dry-run",
    );
    let config_path = profile_dir.join("config.yaml");
    let config = fs::read_to_string(&config_path).unwrap();
    let mut tried = 0;
    for (damage, expect) in [
        ("{{{ not yaml".to_string(), "config.yaml"),
        (
            config.replace(
                &format!(
                    "certValidityDays: {}",
                    config
                        .lines()
                        .find_map(|l| l.strip_prefix("certValidityDays: "))
                        .unwrap()
                ),
                "certValidityDays: 2900000",
            ),
            "1 to 3650",
        ),
        (
            config
                .lines()
                .map(|l| {
                    if l.starts_with("apiserverPort:") {
                        "apiserverPort: 80".to_string()
                    } else {
                        l.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join("\n"),
            "between 1024 and 65535",
        ),
        (String::new(), "config.yaml"),
    ] {
        fs::write(&config_path, &damage).unwrap();
        let c = case(&["-p", "bifile", "start"], &[expect]);
        let out = run(&sb, &c);
        assert_refused_cleanly(&sb, &c, &out, USER_KUBECONFIG.as_bytes());
        assert_eq!(
            fs::read_to_string(&config_path).unwrap(),
            damage,
            "config.yaml was changed by a refused start"
        );
        tried += 1;
    }
    fs::write(&config_path, &config).unwrap();

    // The user's kubeconfig is not YAML, or holds entries with localkube's names that localkube
    // did not write: refused before anything is created, the file untouched.
    let foreign = USER_KUBECONFIG.replace("name: dev\n", "name: localkube-bifile\n");
    for (text, expect) in [
        ("clusters: [unclosed".to_string(), "not valid YAML"),
        (foreign, "did not create"),
    ] {
        fs::write(sb.kubeconfig(), &text).unwrap();
        let c = case(&["-p", "bifile", "start"], &[expect]);
        let out = run(&sb, &c);
        assert_refused_cleanly(&sb, &c, &out, text.as_bytes());
        tried += 1;
    }
    sb.write_user_kubeconfig();

    // A profile whose cluster holds data (its etcd volume, labelled) keeps its CA: a truncated CA
    // key or another profile's CA is refused with the fix, not silently replaced.
    let volume = "bifile-etcd-data";
    let created = Command::new("docker")
        .args([
            "volume",
            "create",
            "--label",
            "io.localkube.profile=bifile",
            volume,
        ])
        .output()
        .unwrap();
    assert_success(&created, "docker volume create");
    struct RemoveVolume(&'static str);
    impl Drop for RemoveVolume {
        fn drop(&mut self) {
            let _ = Command::new("docker")
                .args(["volume", "rm", "-f", self.0])
                .output();
        }
    }
    let _volume = RemoveVolume(volume);
    assert_success(
        &sb.run(&["-p", "biother", "start", "--dry-run"]),
        "a second profile",
    );
    let pki = profile_dir.join("pki");
    let key = fs::read(pki.join("ca.key")).unwrap();
    let cert = fs::read(pki.join("ca.crt")).unwrap();
    let other = sb.home().join("profiles/biother/pki");
    for (what, ca_key, ca_crt, expect) in [
        (
            "a truncated CA key",
            key[..key.len() / 2].to_vec(),
            cert.clone(),
            vec!["the CA ca", "unreadable", "--renew-ca"],
        ),
        (
            "another profile's CA",
            fs::read(other.join("ca.key")).unwrap(),
            fs::read(other.join("ca.crt")).unwrap(),
            vec!["not signed by the profile's CA", "--renew-ca"],
        ),
        (
            "a missing CA",
            Vec::new(),
            Vec::new(),
            vec!["the CA ca", "missing", "--renew-ca"],
        ),
    ] {
        if ca_key.is_empty() {
            fs::remove_file(pki.join("ca.key")).unwrap();
            fs::remove_file(pki.join("ca.crt")).unwrap();
        } else {
            fs::write(pki.join("ca.key"), &ca_key).unwrap();
            fs::write(pki.join("ca.crt"), &ca_crt).unwrap();
        }
        let c = Case {
            args: vec!["-p".into(), "bifile".into(), "start".into()],
            env: Vec::new(),
            expect,
        };
        let out = run(&sb, &c);
        let err = stderr(&out);
        assert!(!out.status.success(), "{what} was accepted:\n{err}");
        for word in &c.expect {
            assert!(err.contains(word), "{what}: no {word:?} in:\n{err}");
        }
        assert_eq!(
            fs::read(pki.join("ca.key")).unwrap_or_default(),
            ca_key,
            "{what}: the CA key was replaced"
        );
        assert_eq!(sb.kubeconfig_bytes(), USER_KUBECONFIG.as_bytes());
        tried += 1;
    }
    eprintln!("damaged files and foreign entries refused: {tried}");
}

#[test]
fn a_foreign_volume_with_a_profiles_name_is_never_adopted() {
    let sb = Sandbox::new();
    sb.write_user_kubeconfig();
    // Someone else's volume, named as profile `biforeign`'s etcd data, without its label.
    let volume = "biforeign-etcd-data";
    let out = Command::new("docker")
        .args(["volume", "create", volume])
        .output()
        .unwrap();
    assert_success(&out, "docker volume create");
    struct RemoveVolume(&'static str);
    impl Drop for RemoveVolume {
        fn drop(&mut self) {
            let _ = Command::new("docker")
                .args(["volume", "rm", "-f", self.0])
                .output();
        }
    }
    let _volume = RemoveVolume(volume);
    let c = case(
        &["-p", "biforeign", "start"],
        &[
            "volume named 'biforeign-etcd-data'",
            "did not create",
            "no io.localkube.profile label",
        ],
    );
    let out = run(&sb, &c);
    assert_refused_cleanly(&sb, &c, &out, USER_KUBECONFIG.as_bytes());
    assert!(
        !sb.home().join("profiles/biforeign").exists(),
        "profile folder left behind"
    );
    let still = Command::new("docker")
        .args(["volume", "inspect", volume])
        .output()
        .unwrap();
    assert_success(&still, "the foreign volume is still there");
    // delete never removes it either: it lacks the label.
    assert_success(&sb.run(&["-p", "biforeign", "delete"]), "delete");
    let still = Command::new("docker")
        .args(["volume", "inspect", volume])
        .output()
        .unwrap();
    assert_success(&still, "the foreign volume survives delete");
}

/// An image archive as `localkube images save` lays it out, with `edit` applied to its manifest
/// and `tags` in its images.tar's manifest.json.
fn archive_file(dir: &std::path::Path, tags: &[&str], edit: fn(&mut serde_json::Value)) -> String {
    use sha2::Digest;
    fn append(tar: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]) {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        tar.append_data(&mut header, name, data).unwrap();
    }
    let mut images = tar::Builder::new(Vec::new());
    let index = serde_json::json!([{"Config": "c.json", "RepoTags": tags, "Layers": []}]);
    append(&mut images, "manifest.json", index.to_string().as_bytes());
    let images = images.into_inner().unwrap();
    let kubectl = b"#!/bin/sh\necho not kubectl\n".to_vec();
    let entry = |data: &[u8]| serde_json::json!({"sha256": hex::encode(sha2::Sha256::digest(data)), "size": data.len()});
    let version = localkube::plan::version::DEFAULT_KUBERNETES_VERSION;
    let mut manifest = serde_json::json!({
        "format": 1,
        "kubernetes_version": version,
        "localkube_version": "0.1.0",
        "images": [{
            "image": format!("localkube/pause:{version}"),
            "id": format!("sha256:{}", "ab".repeat(32)),
            "key": "abc",
            "component_version": "3.10",
            "size_bytes": 700000,
        }],
        "files": {"images.tar": entry(&images), "kubectl": entry(&kubectl)},
    });
    edit(&mut manifest);
    let mut tar = tar::Builder::new(Vec::new());
    append(
        &mut tar,
        "localkube-images.json",
        manifest.to_string().as_bytes(),
    );
    append(&mut tar, "images.tar", &images);
    append(&mut tar, "kubectl", &kubectl);
    let path = dir.join(format!(
        "archive-{}.tar",
        fs::read_dir(dir).unwrap().count()
    ));
    fs::write(&path, tar.into_inner().unwrap()).unwrap();
    path.display().to_string()
}

/// Loading an archive trusts its author with the images it runs, but nothing more: a manifest
/// whose version is a path, whose images are not localkube's, whose sizes or IDs are not what
/// `images save` writes, or whose images.tar holds tags it does not list (which `docker load`
/// would import over the user's images) is refused before any path is built or image imported.
#[test]
fn bad_archives_are_refused_before_anything_is_built_from_them() {
    let sb = Sandbox::new();
    sb.write_user_kubeconfig();
    let dir = tempfile::tempdir().unwrap();
    let version = localkube::plan::version::DEFAULT_KUBERNETES_VERSION;
    let pause = format!("localkube/pause:{version}");
    let ours: &[&str] = &[&pause];
    let other_tags: &[&str] = &[&pause, "debian:13", "localkube/lb:x"];
    let bad: Vec<(String, Vec<&'static str>)> = vec![
        (
            archive_file(dir.path(), ours, |m| {
                m["kubernetes_version"] = "../../../.local/bin".into()
            }),
            vec!["\"../../../.local/bin\", not a release"],
        ),
        (
            archive_file(dir.path(), other_tags, |_| {}),
            vec!["holds debian:13, localkube/lb:x", "does not list"],
        ),
        (
            archive_file(dir.path(), &["debian:13"], |m| {
                m["images"][0]["image"] = "debian:13".into()
            }),
            vec!["\"debian:13\", which is not a localkube image"],
        ),
        (
            archive_file(dir.path(), ours, |m| {
                m["images"][0]["id"] = "sha256:../x".into()
            }),
            vec!["not a sha256 digest"],
        ),
        (
            archive_file(dir.path(), ours, |m| {
                m["files"]["kubectl"]["size"] = u64::MAX.into()
            }),
            vec!["kubectl a size of"],
        ),
        (
            archive_file(dir.path(), ours, |m| {
                m["localkube_version"] = "\u{1b}]0;owned\u{7}".into()
            }),
            vec!["localkube version"],
        ),
        (
            archive_file(dir.path(), ours, |m| {
                m["files"]["../kubectl"] = m["files"]["kubectl"].clone()
            }),
            vec!["exactly images.tar and kubectl"],
        ),
    ];
    let mut tried = 0;
    for (file, expect) in &bad {
        for args in [
            vec!["-p", "biarchive", "start", "--dry-run", "--images", file],
            vec!["-p", "biarchive", "images", "load", file],
        ] {
            let c = case(&args, expect);
            let out = run(&sb, &c);
            assert_refused_cleanly(&sb, &c, &out, USER_KUBECONFIG.as_bytes());
            assert!(
                stderr(&out).contains("Nothing was imported"),
                "{}",
                stderr(&out)
            );
            tried += 1;
        }
    }
    assert!(!sb.home().join("profiles/biarchive").exists());
    eprintln!("bad archives refused: {tried}");
}

#[test]
fn bad_cluster_files_and_settings_flags_are_refused_before_anything_is_made() {
    let sb = Sandbox::new();
    sb.write_user_kubeconfig();
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, body: &str| {
        let path = dir.path().join(name);
        fs::write(
            &path,
            format!("apiVersion: localkube.dev/v1alpha1\nkind: Cluster\n{body}"),
        )
        .unwrap();
        path.to_str().unwrap().to_string()
    };
    fs::write(dir.path().join("a-file"), "").unwrap();
    let home = sb.home();
    fs::create_dir_all(&home).unwrap();
    let cases: Vec<(String, Vec<&'static str>)> = vec![
        (
            file("unknown.yaml", "featureGate: {A: true}\n"),
            vec!["unknown field `featureGate`", "featureGates"],
        ),
        (
            file("node.yaml", "nodes: [{labels: {a: b}}, {taint: [x]}]\n"),
            vec!["nodes: node 2", "`taints`"],
        ),
        (
            file("gate.yaml", "featureGates: {NoSuchGate: true}\n"),
            vec!["featureGates: 'NoSuchGate'", "config known gates"],
        ),
        (
            file(
                "flag.yaml",
                "apiServer: {extraArgs: {max-request-inflight: 5}}\n",
            ),
            vec![
                "apiServer.extraArgs",
                "--max-request-inflight",
                "max-requests-inflight",
            ],
        ),
        (
            file("kubelet.yaml", "kubelet: {maxPod: 5}\n"),
            vec!["kubelet: 'maxPod'", "KubeletConfiguration", "maxPods"],
        ),
        (
            file("taint.yaml", "nodes: [{taints: [\"a=b:Never\"]}]\n"),
            vec!["taint 'a=b:Never'", "NoSchedule"],
        ),
        (
            file("label.yaml", "nodes: [{labels: {\"-x\": b}}]\n"),
            vec!["label key '-x'"],
        ),
        (
            file(
                "missing.yaml",
                "mounts: [{hostPath: /no/such/folder, nodePath: /src}]\n",
            ),
            vec!["/no/such/folder", "existing folder"],
        ),
        (
            file(
                "notdir.yaml",
                "mounts: [{hostPath: a-file, nodePath: /src}]\n",
            ),
            vec!["is a file, not a folder"],
        ),
        (
            file(
                "socket.yaml",
                "mounts: [{hostPath: /run, nodePath: /src}]\n",
            ),
            vec!["sockets of Docker", "insecure: true"],
        ),
        (
            file(
                "home.yaml",
                &format!(
                    "mounts: [{{hostPath: {}, nodePath: /src}}]\n",
                    home.display()
                ),
            ),
            vec!["localkube owns"],
        ),
        (
            file(
                "nodepath.yaml",
                &format!(
                    "mounts: [{{hostPath: {}, nodePath: /var/lib/x}}]\n",
                    dir.path().display()
                ),
            ),
            vec!["nodePath /var/lib/x", "/var"],
        ),
        (
            // A gate of a later release is checked against the file's own release.
            file(
                "version.yaml",
                "kubernetesVersion: v1.35.4\nfeatureGates: {APIServerWebhookAuthenticationToken: true}\n",
            ),
            vec![
                "'APIServerWebhookAuthenticationToken' is not a feature gate of Kubernetes v1.35.4",
                "config known gates",
            ],
        ),
        (
            file("policy.yaml", "audit: {policy: nope.yaml}\n"),
            vec!["audit.policy", "nope.yaml"],
        ),
    ];
    // The apiVersion and kind name what is accepted.
    let wrong = dir.path().join("wrong.yaml");
    fs::write(&wrong, "apiVersion: localkube.dev/v1\nkind: Cluster\n").unwrap();
    let mut all: Vec<Case> = cases
        .into_iter()
        .map(|(path, expect)| case(&["-p", "bi", "start", "--config", &path], &expect))
        .collect();
    all.push(case(
        &["-p", "bi", "start", "--config", wrong.to_str().unwrap()],
        &["apiVersion", "use localkube.dev/v1alpha1"],
    ));
    all.push(case(
        &["-p", "bi", "start", "--config", "/no/such/cluster.yaml"],
        &["reading the cluster file /no/such/cluster.yaml"],
    ));
    // The flags, as minikube's.
    all.push(case(
        &["-p", "bi", "start", "--extra-config", "etcd.quota=1"],
        &["'etcd' is not a component", "apiserver, controller-manager"],
    ));
    all.push(case(
        &[
            "-p",
            "bi",
            "start",
            "--extra-config",
            "scheduler.no-such-flag=1",
        ],
        &["kube-scheduler", "--no-such-flag"],
    ));
    all.push(case(
        &["-p", "bi", "start", "--feature-gates", "NoSuchGate=true"],
        &["'NoSuchGate'"],
    ));
    all.push(case(
        &[
            "-p",
            "bi",
            "start",
            "--feature-gates",
            "APIServerIdentity=maybe",
        ],
        &["NAME=true or NAME=false"],
    ));
    all.push(case(
        &["-p", "bi", "start", "--mount", "/tmp"],
        &["HOST_FOLDER:NODE_PATH"],
    ));
    // The host's own folders, through a link too: /proc/1/root is the host's root.
    all.push(case(
        &["-p", "bi", "start", "--mount", "/proc:/hostproc:ro"],
        &[
            "hostPath /proc holds the host's processes",
            "insecure: true",
        ],
    ));
    let link = dir.path().join("innocent");
    std::os::unix::fs::symlink("/etc", &link).unwrap();
    all.push(case(
        &[
            "-p",
            "bi",
            "start",
            "--mount",
            &format!("{}:/src", link.display()),
        ],
        &["hostPath /etc holds the host's accounts", "--insecure"],
    ));
    all.push(case(
        &["-p", "bi", "start", "--mount", "/var:/hostvar"],
        &["holds /var/run", "Mount a folder of your own"],
    ));
    // Settings that switch a safeguard off, from a flag or a file.
    all.push(case(
        &[
            "-p",
            "bi",
            "start",
            "--extra-config",
            "apiserver.authorization-mode=AlwaysAllow",
        ],
        &[
            "apiServer.extraArgs.authorization-mode=AlwaysAllow",
            "reads every Secret",
            "insecure: true",
        ],
    ));
    all.push(case(
        &[
            "-p",
            "bi",
            "start",
            "--extra-config",
            "kubelet.read-only-port=10255",
        ],
        &["kubelet.readOnlyPort=10255", "unauthenticated port"],
    ));
    let weak = dir.path().join("weak.yaml");
    fs::write(
        &weak,
        "apiVersion: localkube.dev/v1alpha1\nkind: Cluster\napiServer: {extraArgs: {anonymous-auth: true}}\nkubelet: {authentication: {anonymous: {enabled: true}}, authorization: {mode: AlwaysAllow}}\n",
    )
    .unwrap();
    all.push(case(
        &["-p", "bi", "start", "--config", weak.to_str().unwrap()],
        &[
            "anonymous-auth=true",
            "kubelet.authentication.anonymous.enabled=true",
            "kubelet.authorization.mode",
            "--insecure",
        ],
    ));
    let before = sb.kubeconfig_bytes();
    for c in &all {
        let out = run(&sb, c);
        assert_refused_cleanly(&sb, c, &out, &before);
    }
    assert!(
        !sb.home().join("profiles").exists()
            || fs::read_dir(sb.home().join("profiles")).unwrap().count() == 0,
        "a refused start left a profile folder"
    );
    eprintln!(
        "bad cluster files and settings flags refused: {}",
        all.len()
    );
}

/// The user's word lets a weakening setting and a denied host folder through, and every start
/// says which are on.
#[test]
fn insecure_settings_pass_on_the_users_word_and_every_start_names_them() {
    let sb = Sandbox::new();
    let out = sb.run(&[
        "-p",
        "weak",
        "start",
        "--dry-run",
        "--insecure",
        "--extra-config",
        "apiserver.authorization-mode=AlwaysAllow",
        "--mount",
        "/proc:/hostproc:ro",
    ]);
    assert_success(&out, "start --dry-run --insecure");
    let err = stderr(&out);
    for words in [
        "Insecure, as the profile says (`insecure: true`): apiServer.extraArgs.authorization-mode=AlwaysAllow",
        "Insecure, as the profile says (`insecure: true`): mounts: /proc:/hostproc",
    ] {
        assert!(err.contains(words), "{words}:\n{err}");
    }
    let view = sb.run(&["-p", "weak", "config", "view"]);
    assert_success(&view, "config view");
    assert!(String::from_utf8_lossy(&view.stdout).contains("insecure: true"));
    // A plain start of the profile says it again.
    let again = sb.run(&["-p", "weak", "start", "--dry-run"]);
    assert_success(&again, "start --dry-run");
    assert!(stderr(&again).contains("authorization-mode=AlwaysAllow"));
}

#[test]
fn every_example_cluster_file_is_valid() {
    let sb = Sandbox::new();
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut checked = 0;
    for entry in fs::read_dir(&examples).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        // A dry run reads, checks and plans the file without touching Docker.
        let profile = format!("ex-{checked}");
        let out = sb.run(&[
            "-p",
            &profile,
            "start",
            "--dry-run",
            "--config",
            path.to_str().unwrap(),
        ]);
        assert_success(
            &out,
            &format!("start --dry-run --config {}", path.display()),
        );
        let view = sb.run(&["-p", &profile, "config", "view"]);
        assert_success(&view, "config view");
        checked += 1;
    }
    assert!(checked >= 4, "only {checked} examples");
}

/// A snapshot export as `localkube snapshot export` lays it out (the manifest, then the parts),
/// of profile `teacher` with one node, its settings `config` and `edit` applied to the manifest.
/// A part named in `sparse` is written by GNU tar as a sparse file of `sparse.1` bytes.
fn snapshot_file(
    dir: &std::path::Path,
    config: &localkube::plan::config::ProfileConfig,
    edit: fn(&mut serde_json::Value),
    sparse: Option<(&str, u64)>,
) -> String {
    use sha2::Digest;
    let work = tempfile::tempdir_in(dir).unwrap();
    let mut pki = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(3);
    header.set_mode(0o600);
    pki.append_data(&mut header, "ca.crt", &b"crt"[..]).unwrap();
    let parts: Vec<(&str, Vec<u8>)> = vec![
        ("etcd.db", b"not etcd".to_vec()),
        ("pki.tar", pki.into_inner().unwrap()),
        (
            "config.yaml",
            localkube::yaml::to_string(config).unwrap().into_bytes(),
        ),
        (
            "node-1.tar",
            tar::Builder::new(Vec::new()).into_inner().unwrap(),
        ),
    ];
    let mut listed = Vec::new();
    for (file, data) in &parts {
        let (bytes, sha) = match sparse {
            Some((name, size)) if name == *file => {
                // A hole of `size` bytes: the sha256 of that many zeros, as an honest manifest
                // would list it.
                let f = fs::File::create(work.path().join(file)).unwrap();
                f.set_len(size).unwrap();
                let mut hasher = sha2::Sha256::new();
                let zeros = vec![0u8; 1 << 20];
                for _ in 0..size / (1 << 20) {
                    hasher.update(&zeros);
                }
                (size, hex::encode(hasher.finalize()))
            }
            _ => {
                fs::write(work.path().join(file), data).unwrap();
                (data.len() as u64, hex::encode(sha2::Sha256::digest(data)))
            }
        };
        listed.push(serde_json::json!({"file": file, "bytes": bytes, "sha256": sha}));
    }
    let mut manifest = serde_json::json!({
        "format": 1,
        "name": "chapter-4",
        "profile": "teacher",
        "created": "2026-12-02T19:00:00Z",
        "kubernetesVersion": config.kubernetes_version,
        "localkubeVersion": "0.1.0",
        "nodes": [{"number": 1, "name": "teacher"}],
        "parts": listed,
    });
    edit(&mut manifest);
    fs::write(work.path().join("manifest.json"), manifest.to_string()).unwrap();
    let out = dir.join(format!(
        "snapshot-{}.tar",
        fs::read_dir(dir).unwrap().count()
    ));
    // GNU tar, as a real attacker would use: --sparse stores a hole as a map, not as bytes.
    let status = std::process::Command::new("tar")
        .args(["--format=gnu", "--sparse", "-cf"])
        .arg(&out)
        .arg("-C")
        .arg(work.path())
        .args([
            "manifest.json",
            "etcd.db",
            "pki.tar",
            "config.yaml",
            "node-1.tar",
        ])
        .status()
        .unwrap();
    assert!(status.success());
    out.display().to_string()
}

/// A snapshot is meant to be shared, so `import` reads it as foreign input: a name that leaves
/// the snapshot folder, a sparse part that would unpack a few KB into a gigabyte, settings a
/// cluster file could not have (a node mount of /proc, AlwaysAllow), and an image source of its
/// own are each refused or dropped before anything is made; what its settings would do on this
/// machine needs `--trust`.
#[test]
fn crafted_snapshots_are_refused_before_anything_is_made() {
    use localkube::plan::config::ProfileConfig;
    let cache = tempfile::tempdir().unwrap();
    let sb = Sandbox::new().with_env("LOCALKUBE_CACHE", cache.path());
    sb.write_user_kubeconfig();
    let dir = tempfile::tempdir().unwrap();
    let plain = ProfileConfig::new(41000, "172.30.9.0/24".parse().unwrap());
    let with = |edit: fn(&mut ProfileConfig)| {
        let mut c = plain.clone();
        edit(&mut c);
        c
    };
    let gib = 1u64 << 30;
    let cases: Vec<(String, Vec<&'static str>)> = vec![
        (
            snapshot_file(
                dir.path(),
                &plain,
                |m| m["name"] = "../../../somewhere".into(),
                None,
            ),
            vec!["invalid snapshot name '../../../somewhere'"],
        ),
        (
            snapshot_file(dir.path(), &plain, |_| {}, Some(("etcd.db", gib))),
            vec!["etcd.db is a GNUSparse entry", "no sparse file"],
        ),
        (
            snapshot_file(
                dir.path(),
                &with(|c| {
                    c.settings.add_mount("/proc:/hostproc:ro").expect("a mount");
                }),
                |_| {},
                None,
            ),
            vec![
                "hostPath /proc holds the host's processes",
                "insecure: true",
            ],
        ),
        (
            snapshot_file(
                dir.path(),
                &with(|c| {
                    c.settings
                        .add_extra_config("apiserver.authorization-mode=AlwaysAllow")
                        .expect("a flag");
                }),
                |_| {},
                None,
            ),
            vec![
                "refused as a cluster file's would be",
                "authorization-mode=AlwaysAllow",
                "reads every Secret",
            ],
        ),
        (
            // An image source, and a setting that needs the user's word: the source is named
            // as not used, and nothing starts without --trust.
            snapshot_file(
                dir.path(),
                &with(|c| {
                    c.image_repository = Some("registry.example/evil".into());
                    c.settings
                        .add_extra_config("kubelet.max-pods=50")
                        .expect("a field");
                }),
                |_| {},
                None,
            ),
            vec![
                "image source registry.example/evil: not used",
                "sets kubelet.maxPods: 50",
                "--trust",
            ],
        ),
        (
            snapshot_file(
                dir.path(),
                &plain,
                |m| m["parts"][0]["sha256"] = "ab".repeat(32).into(),
                None,
            ),
            vec!["etcd.db's sha256"],
        ),
    ];
    let before = sb.kubeconfig_bytes();
    for (file, expect) in &cases {
        let c = case(&["-p", "student", "snapshot", "import", file], expect);
        let started = std::time::Instant::now();
        let out = run(&sb, &c);
        assert_refused_cleanly(&sb, &c, &out, &before);
        assert!(
            !sb.home().join("profiles/student").exists(),
            "{file}: a profile folder was left"
        );
        // Nothing outside the snapshot folder, no half snapshot inside it.
        assert!(!cache.path().join("somewhere").exists());
        let leftovers: Vec<_> = fs::read_dir(cache.path().join("snapshots/student"))
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(leftovers.is_empty(), "{file}: left {leftovers:?}");
        // The sparse part is refused from its header, not after a gigabyte is written.
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{file} took {:?}",
            started.elapsed()
        );
    }
    // `delete`, `restore` and `export` check the name as well.
    for verb in [
        vec!["snapshot", "delete", "../../x"],
        vec!["snapshot", "restore", "../../x"],
        vec!["snapshot", "export", "../../x", "/tmp/x.snapshot"],
    ] {
        let mut args = vec!["-p", "student"];
        args.extend(verb);
        let c = case(&args, &["invalid snapshot name '../../x'"]);
        let out = run(&sb, &c);
        assert!(!out.status.success(), "{args:?}");
        let err = stderr(&out);
        assert!(err.contains("invalid snapshot name"), "{args:?}: {err}");
    }
    eprintln!("crafted snapshots refused: {}", cases.len());
}
