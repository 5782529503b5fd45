//! The images' plans, build keys and versions, checked exactly.

use super::*;
fn digest(path: &str, content: &str) -> FileDigest {
    FileDigest {
        path: path.into(),
        executable: false,
        sha256: hex::encode(Sha256::digest(content.as_bytes())),
    }
}

fn sample_dirs() -> BTreeMap<String, Vec<FileDigest>> {
    let mut dirs = BTreeMap::new();
    for image in Image::ALL {
        dirs.insert(
            image.name().to_string(),
            vec![
                digest("Dockerfile", image.name()),
                digest("README.md", "why"),
            ],
        );
    }
    dirs.get_mut("etcd")
        .unwrap()
        .push(digest("wrapper/main.go", "package main"));
    dirs.get_mut("pause")
        .unwrap()
        .push(digest("pause.c", "int main(){}"));
    dirs.get_mut("node")
        .unwrap()
        .push(digest("packages.txt", "containerd\n"));
    dirs.insert(
        NETINIT_DIR.to_string(),
        vec![
            digest("go.mod", "module localkube.local/netinit"),
            digest("main.go", "package main"),
        ],
    );
    dirs
}

#[test]
fn control_plane_images_carry_netinit_and_follow_its_sources() {
    let r = sample_resolution();
    let t = sample_toolchain();
    let dirs = sample_dirs();
    let before = plan_with(&r, &t, &dirs);
    for image in [
        Image::KubeApiserver,
        Image::KubeControllerManager,
        Image::KubeScheduler,
        Image::Etcd,
    ] {
        assert!(image.binaries().contains(&(Artifact::Netinit, "netinit")));
    }
    let mut changed = dirs.clone();
    changed.get_mut(NETINIT_DIR).unwrap()[1] = digest("main.go", "package main // v2");
    let after = plan_with(&r, &t, &changed);
    assert_ne!(
        before.artifacts[&Artifact::Netinit],
        after.artifacts[&Artifact::Netinit]
    );
    assert_ne!(
        image_key(&before, Image::KubeApiserver),
        image_key(&after, Image::KubeApiserver)
    );
    assert_eq!(
        image_key(&before, Image::Node),
        image_key(&after, Image::Node),
        "the node does not hold netinit"
    );
    let mut missing = dirs;
    missing.remove(NETINIT_DIR);
    let err = plan(&PlanInputs {
        resolution: &r,
        toolchain: &t,
        image_dirs: &missing,
        cc_version: "gcc",
        debian_mirror: DEFAULT_DEBIAN_MIRROR,
        node_packages_txt: "containerd\n",
    })
    .unwrap_err();
    assert!(err.to_string().contains("images/netinit/go.mod is missing"));
}

#[test]
fn the_node_is_planned_after_the_images_it_holds_and_follows_them() {
    let r = sample_resolution();
    let t = sample_toolchain();
    let dirs = sample_dirs();
    let before = plan_with(&r, &t, &dirs);
    let position = |image: Image| {
        before
            .images
            .iter()
            .position(|p| p.image == Some(image))
            .unwrap()
    };
    for held in Image::Node.preloaded() {
        assert!(position(*held) < position(Image::Node), "{held:?}");
    }
    // A new CoreDNS is a new node image: the node holds it.
    let mut changed = dirs.clone();
    changed
        .get_mut("coredns")
        .unwrap()
        .push(digest("Corefile.note", "changed"));
    let after = plan_with(&r, &t, &changed);
    assert_ne!(
        image_key(&before, Image::Coredns),
        image_key(&after, Image::Coredns)
    );
    assert_ne!(
        image_key(&before, Image::Node),
        image_key(&after, Image::Node)
    );
    // The metrics-server is enabled later, if ever: loaded then, not held.
    let mut changed = dirs;
    changed
        .get_mut("metrics-server")
        .unwrap()
        .push(digest("note", "changed"));
    let after = plan_with(&r, &t, &changed);
    assert_eq!(
        image_key(&before, Image::Node),
        image_key(&after, Image::Node)
    );
}

fn sample_toolchain() -> Toolchain {
    Toolchain {
        go_version: "go1.26.8".into(),
        goarch: "amd64".into(),
    }
}

fn sample_resolution() -> Resolution {
    Resolution {
        kubernetes_version: "v1.35.4".into(),
        go_directive: "1.25.0".into(),
        wrapper_gomod: "module localkube.local/kubernetes-build\n".into(),
        git_commit: String::new(),
        build_date: "2026-04-15T18:01:22Z".into(),
        etcd_version: "v3.6.6".into(),
        coredns_version: "v1.13.1".into(),
        pause_version: "3.10.1".into(),
    }
}

fn plan_with(
    resolution: &Resolution,
    toolchain: &Toolchain,
    dirs: &BTreeMap<String, Vec<FileDigest>>,
) -> Plan {
    plan_with_packages(resolution, toolchain, dirs, "containerd # runtime\n")
}

fn plan_with_packages(
    resolution: &Resolution,
    toolchain: &Toolchain,
    dirs: &BTreeMap<String, Vec<FileDigest>>,
    packages: &str,
) -> Plan {
    plan(&PlanInputs {
        resolution,
        toolchain,
        image_dirs: dirs,
        cc_version: "gcc (Debian 12.2.0-14) 12.2.0",
        debian_mirror: DEFAULT_DEBIAN_MIRROR,
        node_packages_txt: packages,
    })
    .unwrap()
}

fn image_key(plan: &Plan, image: Image) -> &str {
    &plan
        .images
        .iter()
        .find(|p| p.image == Some(image))
        .unwrap()
        .key
}

#[test]
fn keys_are_stable_and_follow_their_inputs() {
    let r = sample_resolution();
    let t = sample_toolchain();
    let dirs = sample_dirs();
    let base = plan_with(&r, &t, &dirs);
    assert_eq!(base, plan_with(&r, &t, &dirs), "same inputs, same keys");
    assert_eq!(base.images.len(), Image::ALL.len());
    let apiserver = base
        .images
        .iter()
        .find(|p| p.image == Some(Image::KubeApiserver))
        .unwrap();
    assert_eq!(apiserver.tag, "localkube/kube-apiserver:v1.35.4");
    assert_eq!(base.images[3].tag, "localkube/etcd:v1.35.4");
    assert_eq!(base.images[3].component_version, "v3.6.6");

    // A README is documentation: it changes no key.
    let mut docs = dirs.clone();
    docs.get_mut("etcd").unwrap()[1] = digest("README.md", "more why");
    assert_eq!(base, plan_with(&r, &t, &docs));

    // A new Go: every compiled artifact and the images made of them, not the rootfs or pause.
    let newer = Toolchain {
        go_version: "go1.26.9".into(),
        ..t.clone()
    };
    let p = plan_with(&r, &newer, &dirs);
    for a in [
        Artifact::Kubernetes,
        Artifact::Go("etcd"),
        Artifact::Go("coredns"),
    ] {
        assert_ne!(p.artifacts[&a], base.artifacts[&a], "{a:?}");
    }
    for a in [Artifact::Pause, Artifact::NodeRootfs, Artifact::Resolve] {
        assert_eq!(p.artifacts[&a], base.artifacts[&a], "{a:?}");
    }
    assert_ne!(image_key(&p, Image::Node), image_key(&base, Image::Node));
    assert_eq!(image_key(&p, Image::Pause), image_key(&base, Image::Pause));
    assert_eq!(p.node_base, base.node_base);

    // The etcd Dockerfile: the etcd image only, not the binary.
    let mut etcd_docker = dirs.clone();
    etcd_docker.get_mut("etcd").unwrap()[0] = digest("Dockerfile", "FROM scratch\n");
    let p = plan_with(&r, &t, &etcd_docker);
    assert_eq!(p.artifacts, base.artifacts);
    assert_ne!(image_key(&p, Image::Etcd), image_key(&base, Image::Etcd));
    assert_eq!(
        image_key(&p, Image::Coredns),
        image_key(&base, Image::Coredns)
    );

    // The etcd wrapper: the binary and so the image.
    let mut etcd_wrapper = dirs.clone();
    etcd_wrapper.get_mut("etcd").unwrap()[2] = digest("wrapper/main.go", "package main // x");
    let p = plan_with(&r, &t, &etcd_wrapper);
    assert_ne!(
        p.artifacts[&Artifact::Go("etcd")],
        base.artifacts[&Artifact::Go("etcd")]
    );
    assert_ne!(image_key(&p, Image::Etcd), image_key(&base, Image::Etcd));

    // A comment in the package list changes nothing installed: the rootfs stays.
    let p = plan_with_packages(&r, &t, &dirs, "containerd # the runtime\n");
    assert_eq!(
        p.artifacts[&Artifact::NodeRootfs],
        base.artifacts[&Artifact::NodeRootfs]
    );

    // The package list: rootfs, node base, node image; nothing else.
    let mut packages = dirs.clone();
    packages.get_mut("node").unwrap()[2] = digest("packages.txt", "containerd\nrunc\n");
    let p = plan_with_packages(&r, &t, &packages, "containerd\nrunc\n");
    assert_ne!(
        p.artifacts[&Artifact::NodeRootfs],
        base.artifacts[&Artifact::NodeRootfs]
    );
    assert_ne!(p.node_base.key, base.node_base.key);
    assert_ne!(p.node_base.tag, base.node_base.tag);
    assert_ne!(image_key(&p, Image::Node), image_key(&base, Image::Node));
    assert_eq!(
        p.artifacts[&Artifact::Kubernetes],
        base.artifacts[&Artifact::Kubernetes]
    );
    assert_eq!(
        image_key(&p, Image::KubeApiserver),
        image_key(&base, Image::KubeApiserver)
    );

    // The executable bit of a file counts.
    let mut mode = dirs.clone();
    mode.get_mut("pause").unwrap()[2].executable = true;
    assert_ne!(
        plan_with(&r, &t, &mode).artifacts[&Artifact::Pause],
        base.artifacts[&Artifact::Pause]
    );

    // Another Kubernetes version: its own keys throughout.
    let other = Resolution {
        kubernetes_version: "v1.35.5".into(),
        wrapper_gomod: "module localkube.local/kubernetes-build // v1.35.5\n".into(),
        ..r.clone()
    };
    let p = plan_with(&other, &t, &dirs);
    assert_ne!(
        p.artifacts[&Artifact::Kubernetes],
        base.artifacts[&Artifact::Kubernetes]
    );
    assert_eq!(
        p.artifacts[&Artifact::Go("etcd")],
        base.artifacts[&Artifact::Go("etcd")]
    );
    assert_ne!(
        image_key(&p, Image::Etcd),
        image_key(&base, Image::Etcd),
        "tag differs"
    );
}

#[test]
fn every_table_row_is_planned_into_its_images() {
    let r = sample_resolution();
    let t = sample_toolchain();
    let dirs = sample_dirs();
    let base = plan_with(&r, &t, &dirs);
    for row in GO_ARTIFACTS {
        assert!(
            base.artifacts.contains_key(&Artifact::Go(row.name)),
            "{}",
            row.name
        );
        assert_eq!(Artifact::Go(row.name).outputs(), row.outputs);
        for image in row.images {
            for output in row.outputs {
                assert!(
                    image.binaries().contains(&(Artifact::Go(row.name), output)),
                    "{} in {}",
                    output,
                    image.name()
                );
            }
        }
    }
    let node = base
        .images
        .iter()
        .find(|p| p.image == Some(Image::Node))
        .unwrap();
    let files: Vec<&str> = Image::Node.binaries().iter().map(|(_, f)| *f).collect();
    for expected in [
        "kubelet",
        "containerd",
        "containerd-shim-runc-v2",
        "ctr",
        "runc",
        "crictl",
        "ptp",
        "bridge",
    ] {
        assert!(
            files.contains(&expected),
            "{expected} missing from {files:?}"
        );
    }
    // The node records the versions of its runtime pieces as labels.
    let labels = node.labels("v1.35.4");
    assert_eq!(labels["io.localkube.containerd-version"], "v2.3.7");
    assert_eq!(labels["io.localkube.runc-version"], "v1.5.3");
    assert_eq!(labels["io.localkube.crictl-version"], "v1.37.0");
    assert_eq!(labels["io.localkube.cni-version"], "v1.10.0");
    assert_eq!(
        program_of_version_label("io.localkube.runc-version"),
        Some("runc")
    );
    assert_eq!(program_of_version_label(LABEL_COMPONENT_VERSION), None);
    let etcd = base
        .images
        .iter()
        .find(|p| p.image == Some(Image::Etcd))
        .unwrap();
    assert!(etcd.versions.is_empty());

    // Pinned versions do not follow the Kubernetes release; kubeadm's pins do.
    let other = Resolution {
        kubernetes_version: "v1.36.1".into(),
        etcd_version: "v3.6.8".into(),
        ..r.clone()
    };
    let p = plan_with(&other, &t, &dirs);
    for name in ["containerd", "runc", "crictl", "cni-plugins", "coredns"] {
        assert_eq!(
            p.artifacts[&Artifact::Go(name)],
            base.artifacts[&Artifact::Go(name)],
            "{name}"
        );
    }
    assert_ne!(
        p.artifacts[&Artifact::Go("etcd")],
        base.artifacts[&Artifact::Go("etcd")]
    );

    // runc is built with cgo: the C compiler is part of its key, and of nothing else in Go.
    let mut cc = PlanInputs {
        resolution: &r,
        toolchain: &t,
        image_dirs: &dirs,
        cc_version: "gcc (Debian 12.2.0-14) 12.2.0",
        debian_mirror: DEFAULT_DEBIAN_MIRROR,
        node_packages_txt: "iptables\n",
    };
    let before = plan(&cc).unwrap();
    cc.cc_version = "gcc (Debian 13.1.0-1) 13.1.0";
    let after = plan(&cc).unwrap();
    assert_ne!(
        after.artifacts[&Artifact::Go("runc")],
        before.artifacts[&Artifact::Go("runc")]
    );
    assert_eq!(
        after.artifacts[&Artifact::Go("containerd")],
        before.artifacts[&Artifact::Go("containerd")]
    );
    assert_ne!(
        image_key(&after, Image::Node),
        image_key(&before, Image::Node)
    );
    assert_eq!(
        image_key(&after, Image::Etcd),
        image_key(&before, Image::Etcd)
    );
}

#[test]
fn a_missing_main_folder_is_named() {
    let r = sample_resolution();
    let t = sample_toolchain();
    let mut dirs = sample_dirs();
    dirs.get_mut("etcd")
        .unwrap()
        .retain(|f| !f.path.starts_with("wrapper/"));
    let err = plan(&PlanInputs {
        resolution: &r,
        toolchain: &t,
        image_dirs: &dirs,
        cc_version: "gcc",
        debian_mirror: DEFAULT_DEBIAN_MIRROR,
        node_packages_txt: "iptables\n",
    })
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("images/etcd/wrapper holds no .go file"),
        "{err}"
    );
}

#[test]
fn node_image_gets_its_base_and_version_as_build_args() {
    let r = sample_resolution();
    let t = sample_toolchain();
    let p = plan_with(&r, &t, &sample_dirs());
    let node = p
        .images
        .iter()
        .find(|i| i.image == Some(Image::Node))
        .unwrap();
    assert_eq!(node.build_args["BASE_IMAGE"], p.node_base.tag);
    assert_eq!(node.build_args["KUBERNETES_VERSION"], "v1.35.4");
    assert!(p.node_base.tag.starts_with("localkube/node-base:"));
    let labels = node.labels("v1.35.4");
    assert_eq!(labels[LABEL_BUILD_KEY], node.key);
    assert_eq!(labels[LABEL_COMPONENT_VERSION], "v1.35.4");
}

#[test]
fn a_missing_dockerfile_is_named() {
    let r = sample_resolution();
    let t = sample_toolchain();
    let mut dirs = sample_dirs();
    dirs.remove("kube-scheduler");
    let err = plan(&PlanInputs {
        resolution: &r,
        toolchain: &t,
        image_dirs: &dirs,
        cc_version: "gcc",
        debian_mirror: DEFAULT_DEBIAN_MIRROR,
        node_packages_txt: "containerd\n",
    })
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("images/kube-scheduler/Dockerfile is missing"),
        "{err}"
    );
}
