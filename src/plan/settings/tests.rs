#[cfg(test)]
use std::path::Path;

use super::host_paths::check_node_path;
use super::node_labels::check_label;
use super::*;
use crate::plan::version::DEFAULT_KUBERNETES_VERSION as V;

#[test]
fn extra_config_reads_minikubes_form() {
    let mut s = ClusterSettings::default();
    s.add_extra_config("apiserver.max-requests-inflight=500")
        .unwrap();
    s.add_extra_config("kubelet.max-pods=50").unwrap();
    s.add_extra_config("kube-proxy.mode=nftables").unwrap();
    assert_eq!(s.apiserver_args["max-requests-inflight"], "500");
    assert_eq!(s.kubelet["maxPods"], 50);
    assert_eq!(s.kube_proxy["mode"], "nftables");
    s.validate(V, &[1]).unwrap();
    let e = s.add_extra_config("etcd.quota=1").unwrap_err();
    assert!(e.0.contains("apiserver, controller-manager"), "{e}");
    assert!(s.add_extra_config("apiserver").is_err());
}

#[test]
fn unknown_flags_fields_and_gates_are_refused_by_name() {
    let mut s = ClusterSettings::default();
    s.add_extra_config("apiserver.max-request-inflight=5")
        .unwrap();
    let e = s.validate(V, &[1]).unwrap_err().0;
    assert!(e.contains("apiServer.extraArgs"), "{e}");
    assert!(e.contains("--max-request-inflight"), "{e}");
    assert!(e.contains("did you mean max-requests-inflight"), "{e}");

    let mut s = ClusterSettings::default();
    s.kubelet.insert("maxPod".into(), 3.into());
    let e = s.validate(V, &[1]).unwrap_err().0;
    assert!(
        e.contains("KubeletConfiguration") && e.contains("maxPods"),
        "{e}"
    );

    let mut s = ClusterSettings::default();
    s.add_feature_gates("NoSuchGate=true").unwrap();
    let e = s.validate(V, &[1]).unwrap_err().0;
    assert!(e.contains("featureGates: 'NoSuchGate'"), "{e}");

    // A release localkube has no record of (none supported today) refuses gates.
    let mut s = ClusterSettings::default();
    s.add_feature_gates("APIServerIdentity=true").unwrap();
    assert!(
        s.validate("v1.38.0", &[1])
            .unwrap_err()
            .0
            .contains("no record")
    );

    // Each release is held to its own record: a gate new in 1.37 is refused on 1.35.
    let mut s = ClusterSettings::default();
    s.add_feature_gates("APIServerWebhookAuthenticationToken=true")
        .unwrap();
    assert!(s.validate(V, &[1]).is_ok());
    let e = s.validate("v1.35.4", &[1]).unwrap_err().0;
    assert!(
        e.contains("is not a feature gate of Kubernetes v1.35.4"),
        "{e}"
    );
}

#[test]
fn gates_go_to_the_components_that_know_them_merged_over_localkubes() {
    let mut s = ClusterSettings::default();
    s.add_feature_gates("APIServerIdentity=false").unwrap();
    s.runtime_config.insert("api/beta".into(), "true".into());
    let flags = s.extra_flags(Component::Apiserver, V);
    assert_eq!(
        flags,
        [
            "--feature-gates=APIServerIdentity=false",
            "--runtime-config=api/beta=true"
        ]
    );
    let merged = merge_flags(
        vec!["--a=1".into(), "--feature-gates=Ours=true".into()],
        flags,
    );
    assert_eq!(
        merged,
        [
            "--a=1",
            "--feature-gates=APIServerIdentity=false,Ours=true",
            "--runtime-config=api/beta=true"
        ]
    );
    assert_eq!(
        merge_flags(vec!["--a=1".into()], vec!["--a=2".into()]),
        ["--a=2"]
    );
}

#[test]
fn kubelet_fields_merge_over_localkubes_config() {
    let ours = "kind: KubeletConfiguration\nevictionHard:\n  a: \"0%\"\nmaxPods: 110\n";
    let mut fields = Map::new();
    fields.insert("maxPods".into(), 50.into());
    fields.insert("evictionHard".into(), serde_json::json!({"b": "1%"}));
    let gates = BTreeMap::from([("G".to_string(), true)]);
    let text = merge_config(ours, &fields, &gates);
    let v: Value = crate::yaml::from_str(&text).unwrap();
    assert_eq!(v["maxPods"], 50);
    assert_eq!(v["evictionHard"]["a"], "0%");
    assert_eq!(v["evictionHard"]["b"], "1%");
    assert_eq!(v["featureGates"]["G"], true);
    assert_eq!(merge_config(ours, &Map::new(), &BTreeMap::new()), ours);
}

#[test]
fn labels_taints_and_node_paths_are_checked() {
    let mut s = ClusterSettings::default();
    s.node_settings.insert(
        2,
        NodeSettings {
            labels: BTreeMap::from([("tier".into(), "back".into())]),
            taints: vec!["dedicated=db:NoSchedule".into()],
        },
    );
    s.validate(V, &[1, 2]).unwrap();
    assert!(s.validate(V, &[1]).unwrap_err().0.contains("node 2"));
    assert_eq!(
        parse_taint("dedicated=db:NoSchedule").unwrap(),
        Taint {
            key: "dedicated".into(),
            value: Some("db".into()),
            effect: "NoSchedule".into()
        }
    );
    assert!(parse_taint("dedicated=db:Never").is_err());
    assert!(check_label("-bad", "x").is_err());
    for bad in ["/var/lib/x", "/", "src", "/etc/localkube", "/a/../var"] {
        assert!(check_node_path(bad).is_err(), "{bad}");
    }
    check_node_path("/src").unwrap();
    check_node_path("/mnt/data").unwrap();
}

#[test]
fn host_paths_localkube_or_docker_own_are_refused() {
    let owned = [PathBuf::from("/home/u/.local/share/localkube")];
    let mut denied = insecure::system_denylist();
    denied.extend(machine_denylist(
        Path::new("/srv/sock/docker.sock"),
        Some(Path::new("/home/u")),
    ));
    check_host_path(Path::new("/home/u/src"), &owned, &denied, false).unwrap();
    for bad in [
        "/home/u/.local/share/localkube/profiles/dev",
        "/home/u",
        "/home",
        "/home/u/.ssh",
        "/run",
        "/",
        "/var/lib/docker/volumes",
        "/var/lib",
        "/srv/sock",
        "/proc",
    ] {
        assert!(
            check_host_path(Path::new(bad), &owned, &denied, false).is_err(),
            "{bad}"
        );
    }
    // The opt-in lets the denylist through, never localkube's own folders.
    check_host_path(Path::new("/proc"), &owned, &denied, true).unwrap();
    check_host_path(Path::new("/home/u"), &owned, &denied, true).unwrap_err();
}

#[test]
fn weakening_settings_are_refused_without_insecure_with_reason_and_fix() {
    let mut s = ClusterSettings::default();
    s.add_extra_config("apiserver.authorization-mode=AlwaysAllow")
        .unwrap();
    s.add_extra_config("kubelet.read-only-port=10255").unwrap();
    let e = s.validate(V, &[1]).unwrap_err().0;
    assert!(
        e.contains("apiServer.extraArgs.authorization-mode=AlwaysAllow")
            && e.contains("kubelet.readOnlyPort=10255"),
        "{e}"
    );
    assert!(
        e.contains("every Secret") && e.contains("unauthenticated port"),
        "{e}"
    );
    assert!(
        e.contains("insecure: true") && e.contains("--insecure"),
        "{e}"
    );
    s.insecure = true;
    s.validate(V, &[1]).unwrap();
    assert_eq!(s.weakenings().len(), 2);
    let mut proc = ClusterSettings::default();
    proc.add_mount("/proc:/hostproc:ro").unwrap();
    assert!(proc.validate(V, &[1]).unwrap_err().0.contains("/proc"));
}

#[test]
fn a_flag_over_the_files_value_says_so() {
    let mut file = ClusterSettings::default();
    file.add_feature_gates("A=true").unwrap();
    file.add_extra_config("apiserver.v=1").unwrap();
    file.add_extra_config("kubelet.maxPods=50").unwrap();
    let mut flags = ClusterSettings::default();
    flags.add_feature_gates("A=false,B=true").unwrap();
    flags.add_extra_config("apiserver.v=2").unwrap();
    flags.add_extra_config("kubelet.max-pods=60").unwrap();
    assert_eq!(
        overlay_conflicts(&file, &flags),
        [
            "--feature-gates A=false wins over the file's featureGates A: true",
            "--extra-config apiserver.v=2 wins over the file's apiServer.extraArgs v: 1",
            "--extra-config kubelet.maxPods=60 wins over the file's kubelet maxPods: 50",
        ]
    );
}

#[test]
fn mounts_parse_and_stay_distinct() {
    let mut s = ClusterSettings::default();
    s.add_mount("/home/u/src:/src:ro").unwrap();
    assert!(s.mounts[0].read_only);
    assert!(s.add_mount("/a").is_err());
    s.add_mount("/home/u/other:/src").unwrap();
    assert!(s.validate(V, &[1]).unwrap_err().0.contains("twice"));
}
