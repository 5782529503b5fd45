//! Merging, removing and rendering kubeconfigs, checked exactly.

use super::*;

#[test]
fn set_server_rewrites_only_the_profiles_marked_entry() {
    let c = credentials("dev");
    let text = merge(Some(USER_CONFIG_FOR_SET_SERVER), &c, false).unwrap();
    let moved = text.replace("https://127.0.0.1:40123", "https://127.0.0.1:1");
    let ServerUpdate::Changed {
        previous,
        text: fixed,
    } = set_server(&moved, "dev", "dev", "https://127.0.0.1:40123").unwrap()
    else {
        panic!("nothing changed")
    };
    assert_eq!(previous, "https://127.0.0.1:1");
    assert_eq!(fixed, text, "only the server changed back");
    assert_eq!(
        set_server(&text, "dev", "dev", "https://127.0.0.1:40123").unwrap(),
        ServerUpdate::Current
    );
    // The user's own entry of another name is untouched, and one without the marker refused.
    assert!(fixed.contains("https://dev.example:6443"));
    let err = set_server(&text, "mine", "dev", "https://127.0.0.1:1")
        .unwrap_err()
        .to_string();
    assert!(err.contains("not written by localkube"), "{err}");
    let err = set_server(&text, "localkube-other", "other", "https://127.0.0.1:1")
        .unwrap_err()
        .to_string();
    assert!(err.contains("localkube -p other start"), "{err}");
    // Marked for another profile: not this profile's.
    assert!(set_server(&text, "dev", "other", "https://127.0.0.1:1").is_err());
}

const USER_CONFIG_FOR_SET_SERVER: &str = "apiVersion: v1
kind: Config
clusters:
- name: mine
  cluster:
    server: https://dev.example:6443
contexts: []
users: []
";

fn credentials(name: &str) -> Credentials {
    Credentials {
        cluster: name.into(),
        server: "https://127.0.0.1:40123".into(),
        ca_pem: "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n".into(),
        user: name.into(),
        cert_pem: "-----BEGIN CERTIFICATE-----\nUSER\n-----END CERTIFICATE-----\n".into(),
        key_pem: "-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n".into(),
        context: name.into(),
        owner: name.into(),
    }
}

fn value(text: &str) -> Value {
    yaml::from_str(text).unwrap()
}

fn names(doc: &Value, list: &str) -> Vec<String> {
    doc[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect()
}

/// A kubeconfig written by someone else, with fields localkube does not model.
const EXISTING: &str = r#"# a comment
apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster:
    server: https://prod.example:6443
    insecure-skip-tls-verify: true
    extensions:
    - name: client.authentication.k8s.io/exec
      extension: {audience: "1.0", retries: 3}
users:
- name: prod-admin
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: gcloud
      args: [auth, token]
contexts:
- name: prod
  context: {cluster: prod, user: prod-admin, namespace: web}
current-context: prod
preferences:
  colors: true
x-tool-state: {keep: me}
"#;

#[test]
fn render_has_one_cluster_user_and_context_embedded() {
    let text = render(&credentials("dev")).unwrap();
    let doc = value(&text);
    assert_eq!(doc["apiVersion"], "v1");
    assert_eq!(doc["kind"], "Config");
    assert_eq!(doc["current-context"], "dev");
    let marker =
        json!([{"name": "localkube", "extension": {"provider": "localkube", "profile": "dev"}}]);
    assert_eq!(
        doc["clusters"],
        json!([{"name": "dev", "cluster": {
            "server": "https://127.0.0.1:40123",
            "certificate-authority-data": BASE64.encode(credentials("dev").ca_pem),
            "extensions": marker,
        }}])
    );
    let user = &doc["users"][0]["user"];
    let decoded = BASE64
        .decode(user["client-key-data"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        String::from_utf8(decoded).unwrap(),
        credentials("dev").key_pem
    );
    assert_eq!(
        doc["contexts"],
        json!([{"name": "dev", "context": {"cluster": "dev", "user": "dev", "extensions": marker}}])
    );
}

#[test]
fn merge_keeps_every_other_entry_and_unknown_field() {
    let merged = merge(Some(EXISTING), &credentials("dev"), true).unwrap();
    let doc = value(&merged);
    let before = value(EXISTING);
    assert_eq!(names(&doc, "clusters"), ["prod", "dev"]);
    assert_eq!(names(&doc, "users"), ["prod-admin", "dev"]);
    assert_eq!(names(&doc, "contexts"), ["prod", "dev"]);
    assert_eq!(doc["clusters"][0], before["clusters"][0]);
    assert_eq!(doc["users"][0], before["users"][0]);
    assert_eq!(doc["contexts"][0], before["contexts"][0]);
    assert_eq!(doc["preferences"], json!({"colors": true}));
    assert_eq!(doc["x-tool-state"], json!({"keep": "me"}));
    // A string that looks like a number stays a string.
    assert_eq!(
        doc["clusters"][0]["cluster"]["extensions"][0]["extension"]["audience"],
        "1.0"
    );
    assert_eq!(doc["current-context"], "dev");
}

#[test]
fn merge_is_idempotent_and_replaces_in_place() {
    let once = merge(Some(EXISTING), &credentials("dev"), true).unwrap();
    let twice = merge(Some(&once), &credentials("dev"), true).unwrap();
    assert_eq!(once, twice);

    let mut moved = credentials("dev");
    moved.server = "https://127.0.0.1:50000".into();
    let updated = merge(Some(&once), &moved, true).unwrap();
    let doc = value(&updated);
    assert_eq!(names(&doc, "clusters"), ["prod", "dev"]);
    assert_eq!(
        doc["clusters"][1]["cluster"]["server"],
        "https://127.0.0.1:50000"
    );
}

#[test]
fn merge_can_keep_the_current_context() {
    let merged = merge(Some(EXISTING), &credentials("dev"), false).unwrap();
    assert_eq!(current_context(&merged).unwrap().as_deref(), Some("prod"));
    let merged = merge(Some(EXISTING), &credentials("dev"), true).unwrap();
    assert_eq!(current_context(&merged).unwrap().as_deref(), Some("dev"));
}

#[test]
fn merge_into_nothing_or_an_empty_file_makes_a_whole_kubeconfig() {
    for existing in [None, Some(""), Some("\n"), Some("# nothing yet\n")] {
        let doc = value(&merge(existing, &credentials("dev"), true).unwrap());
        assert_eq!(doc["apiVersion"], "v1", "{existing:?}");
        assert_eq!(doc["kind"], "Config");
        assert_eq!(names(&doc, "clusters"), ["dev"]);
        assert_eq!(doc["current-context"], "dev");
    }
    // kubectl writes empty lists as null.
    let nulls = "apiVersion: v1\nkind: Config\nclusters: null\nusers: null\ncontexts: null\n";
    let doc = value(&merge(Some(nulls), &credentials("dev"), true).unwrap());
    assert_eq!(names(&doc, "users"), ["dev"]);
}

#[test]
fn merge_refuses_what_is_not_a_kubeconfig() {
    assert!(merge(Some("- a\n- b\n"), &credentials("dev"), true).is_err());
    assert!(merge(Some("clusters: 3\n"), &credentials("dev"), true).is_err());
    assert!(merge(Some("a: [unclosed"), &credentials("dev"), true).is_err());
}

#[test]
fn remove_takes_out_only_the_profile() {
    let merged = merge(Some(EXISTING), &credentials("dev"), true).unwrap();
    let removed = remove(&merged, "dev", "dev", "dev", "dev").unwrap();
    let doc = value(&removed);
    assert_eq!(names(&doc, "clusters"), ["prod"]);
    assert_eq!(names(&doc, "users"), ["prod-admin"]);
    assert_eq!(names(&doc, "contexts"), ["prod"]);
    assert_eq!(doc["x-tool-state"], json!({"keep": "me"}));
    // It was current: now nothing is.
    assert_eq!(current_context(&removed).unwrap(), None);

    let kept_current = merge(Some(EXISTING), &credentials("dev"), false).unwrap();
    let removed = remove(&kept_current, "dev", "dev", "dev", "dev").unwrap();
    assert_eq!(current_context(&removed).unwrap().as_deref(), Some("prod"));
}

#[test]
fn removing_what_is_absent_changes_nothing() {
    assert_eq!(
        remove_entries(EXISTING, "dev", "dev", "dev", "dev").unwrap(),
        None
    );
    assert_eq!(
        remove(EXISTING, "dev", "dev", "dev", "dev").unwrap(),
        EXISTING
    );
    assert_eq!(
        remove_entries("", "dev", "dev", "dev", "dev").unwrap(),
        None
    );
}

/// What `kubectl config set-cluster/set-credentials/set-context/use-context` writes.
const KUBECTL_WRITTEN: &str = include_str!("../../../tests/fixtures/user-kubeconfig.yaml");

#[test]
fn a_kubectl_written_file_comes_back_byte_for_byte() {
    let mut dev = credentials("localkube-dev");
    dev.owner = "dev".into();
    let merged = merge(Some(KUBECTL_WRITTEN), &dev, false).unwrap();
    let removed = remove_entries(
        &merged,
        "localkube-dev",
        "localkube-dev",
        "localkube-dev",
        "dev",
    )
    .unwrap()
    .unwrap();
    assert_eq!(removed, KUBECTL_WRITTEN);
}

#[test]
fn entries_localkube_did_not_write_are_never_replaced_or_removed() {
    // The user's own `prod` entries, and a profile that would take their names.
    let mut taker = credentials("prod");
    taker.user = "prod-admin".into();
    let err = merge(Some(EXISTING), &taker, true).unwrap_err().to_string();
    assert!(
        err.contains("cluster 'prod'")
            && err.contains("user 'prod-admin'")
            && err.contains("context 'prod'")
            && err.contains("did not create"),
        "{err}"
    );
    assert_eq!(
        remove_entries(EXISTING, "prod", "prod-admin", "prod", "prod").unwrap(),
        None,
        "unmarked entries stay"
    );
    // Another profile's marker is not this profile's.
    let other = merge(Some(EXISTING), &credentials("dev"), true).unwrap();
    let mut same_names = credentials("dev");
    same_names.owner = "other".into();
    assert!(merge(Some(&other), &same_names, true).is_err());
    assert_eq!(
        remove_entries(&other, "dev", "dev", "dev", "other").unwrap(),
        None
    );
    // A marker that kubectl kept when it rewrote the file still counts.
    let rewritten: Value = value(&other);
    let text = yaml::to_string(&rewritten).unwrap();
    assert!(merge(Some(&text), &credentials("dev"), true).is_ok());
}

#[test]
fn component_kubeconfigs_follow_kubeadm() {
    let profile = ProfileName::parse("dev").unwrap();
    let mut config = ProfileConfig::new(40123, "172.30.5.0/24".parse().unwrap());
    config.nodes = crate::plan::config::Nodes::first(2);
    let all = component_kubeconfigs(&profile, &config);
    let files: Vec<&str> = all.iter().map(|k| k.file_name.as_str()).collect();
    assert_eq!(
        files,
        [
            "admin.conf",
            "super-admin.conf",
            "controller-manager.conf",
            "scheduler.conf",
            "kube-proxy.conf",
            "lb-controller.conf",
            "kubelet-dev.conf",
            "kubelet-dev-m02.conf"
        ]
    );
    assert_eq!(all[0].server, "https://127.0.0.1:40123");
    assert_eq!(
        (all[0].cluster.as_str(), all[0].user.as_str()),
        ("localkube-dev", "localkube-dev")
    );
    assert_eq!(all[1].server, "https://127.0.0.1:40123");
    assert_eq!(all[1].cert_stem, "super-admin");
    assert!(
        all[2..]
            .iter()
            .all(|k| k.server == "https://172.30.5.3:6443")
    );
    let kubelet = &all[7];
    assert_eq!(kubelet.cert_stem, "kubelet-client-dev-m02");
    assert_eq!(kubelet.user, "system:node:dev-m02");
    assert_eq!(kubelet.context, "system:node:dev-m02@localkube-dev");
    assert_eq!(all[2].cert_stem, "controller-manager");
}

fn creds(name: &str, owner: &str) -> Credentials {
    Credentials {
        owner: owner.into(),
        ..credentials(name)
    }
}

#[test]
fn a_rollback_takes_out_only_the_profiles_own_entries() {
    let names = ["localkube-dev", "localkube-dev", "localkube-dev"];
    let theirs = merge(None, &creds("minikube", "mk"), true).unwrap();
    let ours = merge(Some(&theirs), &creds("localkube-dev", "dev"), true).unwrap();
    // Meanwhile another tool adds its own entries and kubectl sets a namespace preference.
    let edited = merge(Some(&ours), &creds("kind-x", "kind"), false).unwrap();
    let restored = restore_own_entries(&edited, Some(&theirs), names, "dev")
        .unwrap()
        .unwrap();
    assert!(!restored.contains("localkube-dev"), "{restored}");
    assert!(
        restored.contains("kind-x") && restored.contains("minikube"),
        "{restored}"
    );
    assert_eq!(
        current_context(&restored).unwrap().as_deref(),
        Some("minikube")
    );
    // A re-merge (new server) is undone to the entries as they were.
    let mut moved = creds("localkube-dev", "dev");
    moved.server = "https://127.0.0.1:1".into();
    let remerged = merge(Some(&ours), &moved, true).unwrap();
    let back = restore_own_entries(&remerged, Some(&ours), names, "dev")
        .unwrap()
        .unwrap();
    assert_eq!(back, ours);
    // Nothing of ours: nothing to do; a file made by the start alone ends empty.
    assert_eq!(
        restore_own_entries(&theirs, Some(&theirs), names, "dev").unwrap(),
        None
    );
    let only = merge(None, &creds("localkube-dev", "dev"), true).unwrap();
    let left = restore_own_entries(&only, None, names, "dev")
        .unwrap()
        .unwrap();
    assert!(is_empty(&left).unwrap(), "{left}");
    assert!(!is_empty(&theirs).unwrap());
}

#[test]
fn with_several_members_every_component_reaches_the_apiservers_load_balancer() {
    let profile = ProfileName::parse("dev").unwrap();
    let mut config = ProfileConfig::new(40123, "172.30.7.0/24".parse().unwrap());
    config.control_planes = 3;
    for k in component_kubeconfigs(&profile, &config) {
        if k.file_name.contains("admin") {
            assert_eq!(k.server, "https://127.0.0.1:40123", "{}", k.file_name);
        } else {
            assert_eq!(k.server, "https://172.30.7.8:6443", "{}", k.file_name);
        }
    }
    config.control_planes = 1;
    let scheduler = component_kubeconfigs(&profile, &config)
        .into_iter()
        .find(|k| k.file_name == "scheduler.conf")
        .unwrap();
    assert_eq!(scheduler.server, "https://172.30.7.3:6443");
}
