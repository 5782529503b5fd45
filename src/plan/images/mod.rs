//! What localkube builds for a Kubernetes version, and from which inputs: the artifacts (binaries
//! compiled from Go modules, the pause binary, the node's Debian root filesystem), the images made
//! of them, the cache key of each, the wrapper go.mod files and the linker flags. Pure: the effects
//! in `effects::image_build` run the commands this module spells out.
//!
//! Cache keys are sha256 digests of every input of an artifact (versions, flags, the Go toolchain,
//! the files of its image folder, the keys of the artifacts it consumes), never of its outputs: an
//! artifact rebuilt from the same inputs keeps its key, so nothing downstream of it is rebuilt.
//!
//! - `artifacts`: the table of Go-built artifacts (etcd, CoreDNS, containerd, runc, crictl, the CNI
//!   plugins), Kubernetes' and netinit's flags, `go build` arguments;
//! - `gomod`: go.mod parsing, wrapper modules, kubeadm's pins, Go versions;
//! - `debian`: the node's root filesystem (mmdebstrap).

mod artifacts;
mod debian;
mod gomod;

pub use artifacts::*;
pub use debian::*;
pub use gomod::*;

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::plan::names;

/// Part of every key: bump it when the way an artifact is built changes in a way the other
/// inputs do not show (the go.mod derivation, the layout of the outputs, ...).
pub const RECIPE: &str = "localkube-images/1";

/// The Docker image label holding an image's build key: an image is present only when its tag
/// exists and this label equals the key localkube expects.
pub const LABEL_BUILD_KEY: &str = "io.localkube.build-key";
/// The version of the component inside the image (etcd's, CoreDNS's; Kubernetes' for the others).
pub const LABEL_COMPONENT_VERSION: &str = "io.localkube.component-version";
/// The Kubernetes version the image belongs to (also its tag).
pub const LABEL_KUBERNETES_VERSION: &str = "io.localkube.kubernetes-version";
/// Which component the image holds (`kube-apiserver`, `node`, ...).
pub const LABEL_COMPONENT: &str = "io.localkube.component";

/// The label naming the version of a program an image holds besides its component
/// (`io.localkube.containerd-version`; see `GoArtifact::version_label`).
pub fn version_label(program: &str) -> String {
    format!("io.localkube.{program}-version")
}

/// The program a version label names (`io.localkube.runc-version` → `runc`), for the labels that
/// are not the image's own (component, Kubernetes).
pub fn program_of_version_label(label: &str) -> Option<&str> {
    label
        .strip_prefix("io.localkube.")?
        .strip_suffix("-version")
        .filter(|p| !["component", "kubernetes"].contains(p))
}

/// The artifacts kept in the cache, each built by one command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Artifact {
    /// What the Kubernetes release pins: its go.mod (wrapper replaces, Go version), kubeadm's
    /// etcd/CoreDNS/pause versions, the release time. Read once from the downloaded module.
    Resolve,
    /// kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy, kubectl.
    Kubernetes,
    /// A row of `GO_ARTIFACTS`, by name.
    Go(&'static str),
    /// The control-plane containers' entrypoint, localkube's own Go program in `images/netinit/`.
    Netinit,
    Pause,
    /// The node's Debian root filesystem as a tar (mmdebstrap).
    NodeRootfs,
}

impl Artifact {
    pub fn name(self) -> &'static str {
        match self {
            Artifact::Resolve => "resolve",
            Artifact::Kubernetes => "kubernetes",
            Artifact::Go(name) => name,
            Artifact::Netinit => "netinit",
            Artifact::Pause => "pause",
            Artifact::NodeRootfs => "node-rootfs",
        }
    }

    /// The table row of a Go artifact.
    pub fn go(self) -> Option<&'static GoArtifact> {
        match self {
            Artifact::Go(name) => go_artifact(name),
            _ => None,
        }
    }

    /// The files the artifact's folder holds (besides its manifest).
    pub fn outputs(self) -> Vec<&'static str> {
        match self {
            Artifact::Resolve => vec!["resolution.json", "kubernetes.go.mod"],
            Artifact::Kubernetes => KUBERNETES_COMMANDS.to_vec(),
            Artifact::Go(_) => self.go().map(|a| a.outputs.to_vec()).unwrap_or_default(),
            Artifact::Netinit => vec!["netinit"],
            Artifact::Pause => vec!["pause"],
            Artifact::NodeRootfs => vec!["rootfs.tar"],
        }
    }
}

/// The images tagged `localkube/<name>:<kubernetes version>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Image {
    KubeApiserver,
    KubeControllerManager,
    KubeScheduler,
    Etcd,
    Coredns,
    Pause,
    Node,
    /// The storage-provisioner addon: rancher's local-path-provisioner.
    LocalPathProvisioner,
    /// The storage-provisioner's helper pods (mkdir, rm): a shell from the node's Debian base.
    StorageHelper,
    /// The registry addon: the reference registry (distribution).
    Registry,
    /// The metrics-server addon (`kubectl top`).
    MetricsServer,
    /// The ingress addon: Traefik as the Ingress controller.
    Traefik,
}

/// Where an image's version label comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionSource {
    /// The etcd, CoreDNS or pause version kubeadm pairs with the release.
    Etcd,
    Coredns,
    Pause,
    /// The Debian suite of the node's root filesystem.
    Debian,
    /// The Go module of its one `GO_ARTIFACTS` row; an image of several rows (the node's
    /// containerd, runc, crictl, CNI plugins) or none, the Kubernetes release.
    GoModule,
}

/// Everything localkube knows of one image, in one row: `IMAGES` is to images what
/// `GO_ARTIFACTS` is to Go programs.
#[derive(Debug)]
pub struct ImageRow {
    pub image: Image,
    /// Its name after `localkube/`, also its folder under `images/`.
    pub name: &'static str,
    /// Artifact files copied into its build context under `bin/` (Kubernetes', netinit's,
    /// pause's); those of every `GO_ARTIFACTS` row that names the image follow them.
    pub binaries: &'static [(Artifact, &'static str)],
    /// Built on the node's Debian base (`BASE_IMAGE`).
    pub on_node_base: bool,
    /// Images held in its containerd store, as kind's node image holds its own: those of every
    /// cluster and of the addons on by default. A new node then starts with them, instead of
    /// importing about 210 MB into its containerd on every start (5-6 s of CPU, measured, while
    /// the control plane boots on the same cores). Docker copies them into the node's fresh
    /// /var volume when it creates the container.
    pub preloaded: &'static [Image],
    pub version: VersionSource,
    /// Where it runs: in the nodes' containerd (loaded there), or as a container of the profile
    /// (the registry's), never in a node.
    pub in_nodes: bool,
    /// Every node holds it before its kubelet starts, whatever the addons: every pod's sandbox
    /// (pause) and the cluster's DNS.
    pub every_node: bool,
    /// A pod `start` waits for runs it. The storage provisioner's helper pods (mkdir, rm) run only
    /// when a volume is made or removed: their image is loaded while `start` waits for the
    /// addons, not before the nodes may run pods.
    pub needed_by_start: bool,
    /// Its Dockerfile takes the release as `KUBERNETES_VERSION` (the node's, for its labels).
    pub kubernetes_version_arg: bool,
}

/// A row's defaults, for the `..` of each row.
const IMAGE_ROW: ImageRow = ImageRow {
    image: Image::Node,
    name: "",
    binaries: &[],
    on_node_base: false,
    preloaded: &[],
    version: VersionSource::GoModule,
    in_nodes: true,
    every_node: false,
    needed_by_start: true,
    kubernetes_version_arg: false,
};

/// Every image localkube builds: the cluster's, then the addons' (see `plan::addons`), in build
/// order: the node after the images it holds (`preloaded`).
pub const IMAGES: [ImageRow; 12] = [
    ImageRow {
        image: Image::KubeApiserver,
        name: "kube-apiserver",
        binaries: &[
            (Artifact::Kubernetes, "kube-apiserver"),
            (Artifact::Netinit, "netinit"),
        ],
        ..IMAGE_ROW
    },
    ImageRow {
        image: Image::KubeControllerManager,
        name: "kube-controller-manager",
        binaries: &[
            (Artifact::Kubernetes, "kube-controller-manager"),
            (Artifact::Netinit, "netinit"),
        ],
        ..IMAGE_ROW
    },
    ImageRow {
        image: Image::KubeScheduler,
        name: "kube-scheduler",
        binaries: &[
            (Artifact::Kubernetes, "kube-scheduler"),
            (Artifact::Netinit, "netinit"),
        ],
        ..IMAGE_ROW
    },
    ImageRow {
        image: Image::Etcd,
        name: "etcd",
        binaries: &[(Artifact::Netinit, "netinit")],
        version: VersionSource::Etcd,
        ..IMAGE_ROW
    },
    ImageRow {
        image: Image::Pause,
        name: "pause",
        binaries: &[(Artifact::Pause, "pause")],
        version: VersionSource::Pause,
        every_node: true,
        ..IMAGE_ROW
    },
    ImageRow {
        image: Image::Coredns,
        name: "coredns",
        version: VersionSource::Coredns,
        every_node: true,
        ..IMAGE_ROW
    },
    ImageRow {
        image: Image::LocalPathProvisioner,
        name: "local-path-provisioner",
        ..IMAGE_ROW
    },
    ImageRow {
        image: Image::StorageHelper,
        name: "storage-helper",
        on_node_base: true,
        version: VersionSource::Debian,
        needed_by_start: false,
        ..IMAGE_ROW
    },
    ImageRow {
        image: Image::Node,
        name: "node",
        binaries: &[
            (Artifact::Kubernetes, "kubelet"),
            (Artifact::Kubernetes, "kube-proxy"),
        ],
        on_node_base: true,
        preloaded: &[
            Image::Pause,
            Image::Coredns,
            Image::LocalPathProvisioner,
            Image::StorageHelper,
        ],
        kubernetes_version_arg: true,
        ..IMAGE_ROW
    },
    ImageRow {
        image: Image::Registry,
        name: "registry",
        in_nodes: false,
        ..IMAGE_ROW
    },
    ImageRow {
        image: Image::MetricsServer,
        name: "metrics-server",
        ..IMAGE_ROW
    },
    ImageRow {
        image: Image::Traefik,
        name: "traefik",
        ..IMAGE_ROW
    },
];

impl Image {
    /// Every image localkube builds, in `IMAGES`' build order.
    pub const ALL: [Image; 12] = {
        let mut all = [Image::Node; 12];
        let mut i = 0;
        while i < IMAGES.len() {
            all[i] = IMAGES[i].image;
            i += 1;
        }
        all
    };

    /// The image's row of `IMAGES`.
    pub fn row(self) -> &'static ImageRow {
        IMAGES
            .iter()
            .find(|row| row.image == self)
            .expect("every image has its row in IMAGES")
    }

    /// The images held in this image's containerd store (`ImageRow::preloaded`).
    pub fn preloaded(self) -> &'static [Image] {
        self.row().preloaded
    }

    /// Whether the image is built on the node's Debian base (`BASE_IMAGE`).
    pub fn on_node_base(self) -> bool {
        self.row().on_node_base
    }

    /// The image's name after `localkube/`, also its folder under `images/`.
    pub fn name(self) -> &'static str {
        self.row().name
    }

    /// The artifact files copied into the build context under `bin/`: its row's, then those of
    /// every `GO_ARTIFACTS` row that names this image.
    pub fn binaries(self) -> Vec<(Artifact, &'static str)> {
        let mut binaries = self.row().binaries.to_vec();
        for row in GO_ARTIFACTS.iter().filter(|a| a.images.contains(&self)) {
            for output in row.outputs {
                binaries.push((Artifact::Go(row.name), output));
            }
        }
        binaries
    }

    pub fn component_version(self, resolution: &Resolution) -> String {
        match self.row().version {
            VersionSource::Etcd => resolution.etcd_version.clone(),
            VersionSource::Coredns => resolution.coredns_version.clone(),
            VersionSource::Pause => resolution.pause_version.clone(),
            VersionSource::Debian => DEBIAN_SUITE.to_string(),
            VersionSource::GoModule => match GO_ARTIFACTS
                .iter()
                .filter(|row| row.images.contains(&self))
                .collect::<Vec<_>>()[..]
            {
                [row] => row.version(resolution),
                _ => resolution.kubernetes_version.clone(),
            },
        }
    }
}

/// What a Kubernetes release pins, read from its module (see `Artifact::Resolve`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    pub kubernetes_version: String,
    /// The `go` directive of k8s.io/kubernetes' go.mod: the oldest Go that builds it.
    pub go_directive: String,
    /// The wrapper module's go.mod (see `kubernetes_wrapper_gomod`).
    pub wrapper_gomod: String,
    /// The release's commit, when the module proxy says (empty otherwise).
    pub git_commit: String,
    /// A fixed build date: the module's release time, so rebuilds give the same bytes.
    pub build_date: String,
    /// etcd's Go module version kubeadm pairs with this release (`v3.6.6`).
    pub etcd_version: String,
    /// CoreDNS's Go module version kubeadm pairs with this release (`v1.13.1`).
    pub coredns_version: String,
    /// The pause image version kubeadm pairs with this release (`3.10.1`); ours is a stand-in.
    pub pause_version: String,
}

/// The Go toolchain and the platform the binaries are built for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Toolchain {
    /// `go env GOVERSION`, e.g. `go1.26.8`.
    pub go_version: String,
    /// GOARCH of the Docker engine's machine (images run there); GOOS is always linux.
    pub goarch: String,
}

/// One file of an image folder, for keys: its path inside the folder, whether it is executable,
/// and the sha256 of its contents.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FileDigest {
    pub path: String,
    pub executable: bool,
    pub sha256: String,
}

/// Builds a cache key: sha256 over named fields, each length-prefixed so no two different field
/// lists hash alike.
#[derive(Clone)]
pub struct KeyBuilder(Sha256);

impl KeyBuilder {
    pub fn new(kind: &str) -> Self {
        Self(Sha256::new())
            .field("recipe", RECIPE)
            .field("kind", kind)
    }

    pub fn field(mut self, name: &str, value: &str) -> Self {
        for part in [name, value] {
            self.0.update((part.len() as u64).to_le_bytes());
            self.0.update(part.as_bytes());
        }
        self
    }

    pub fn files(mut self, name: &str, files: &[FileDigest]) -> Self {
        let mut files = files.to_vec();
        files.sort();
        self = self.field(name, &files.len().to_string());
        for file in &files {
            let mode = if file.executable { "x" } else { "-" };
            self = self.field(&file.path, &format!("{mode}{}", file.sha256));
        }
        self
    }

    pub fn finish(self) -> String {
        hex::encode(self.0.finalize())
    }
}

/// The inputs of a plan that only effects can read.
#[derive(Debug, Clone)]
pub struct PlanInputs<'a> {
    pub resolution: &'a Resolution,
    pub toolchain: &'a Toolchain,
    /// Files of each image folder, by folder name (`kube-apiserver`, `etcd`, `node`, ...).
    pub image_dirs: &'a BTreeMap<String, Vec<FileDigest>>,
    /// `gcc --version`'s first line: the pause binary's compiler.
    pub cc_version: &'a str,
    /// The Debian mirror for the node's root filesystem.
    pub debian_mirror: &'a str,
    /// The text of `images/node/packages.txt`.
    pub node_packages_txt: &'a str,
}

/// Everything to build for one Kubernetes version, with keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub kubernetes_version: String,
    pub artifacts: BTreeMap<Artifact, String>,
    pub node_packages: Vec<String>,
    /// The Debian mirror the node's root filesystem comes from.
    pub debian_mirror: String,
    pub node_base: PlannedImage,
    pub images: Vec<PlannedImage>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedImage {
    /// `None` for the node's base image.
    pub image: Option<Image>,
    pub tag: String,
    pub key: String,
    pub component_version: String,
    pub build_args: BTreeMap<String, String>,
    /// The versions of the programs it holds besides its component, by label
    /// (`io.localkube.containerd-version` → `v2.3.7`).
    pub versions: BTreeMap<String, String>,
}

impl PlannedImage {
    /// The labels the image carries, the build key among them.
    pub fn labels(&self, kubernetes_version: &str) -> BTreeMap<String, String> {
        let component = self.image.map_or("node-base", Image::name);
        let mut labels = BTreeMap::from([
            (LABEL_BUILD_KEY.to_string(), self.key.clone()),
            (LABEL_COMPONENT.to_string(), component.to_string()),
            (
                LABEL_COMPONENT_VERSION.to_string(),
                self.component_version.clone(),
            ),
        ]);
        labels.extend(self.versions.clone());
        // The node's base serves every Kubernetes version: it names none.
        if self.image.is_some() {
            labels.insert(
                LABEL_KUBERNETES_VERSION.to_string(),
                kubernetes_version.to_string(),
            );
        }
        labels
    }
}

/// The files of an image folder that go into a key: documentation does not change what is built.
pub fn keyed_file(path: &str) -> bool {
    !path.ends_with(".md")
}

fn dir_files<'a>(inputs: &'a PlanInputs<'_>, dir: &str) -> &'a [FileDigest] {
    inputs.image_dirs.get(dir).map(Vec::as_slice).unwrap_or(&[])
}

fn files_under(files: &[FileDigest], prefix: &str) -> Vec<FileDigest> {
    files
        .iter()
        .filter(|f| f.path.starts_with(prefix))
        .cloned()
        .collect()
}

fn files_except(files: &[FileDigest], name: &str) -> Vec<FileDigest> {
    files.iter().filter(|f| f.path != name).cloned().collect()
}

/// The key of the resolution of a Kubernetes version: the release's module never changes, so the
/// version is its only input.
pub fn resolve_key(kubernetes_version: &str) -> String {
    KeyBuilder::new(Artifact::Resolve.name())
        .field("kubernetes", kubernetes_version)
        .finish()
}

/// The whole plan for one version: keys of artifacts, then of the images made of them.
pub fn plan(inputs: &PlanInputs<'_>) -> Result<Plan> {
    let r = inputs.resolution;
    let t = inputs.toolchain;
    let version = r.kubernetes_version.as_str();
    let platform = format!("linux/{}", t.goarch);
    let go = |kind: &str| {
        KeyBuilder::new(kind)
            .field("go", &t.go_version)
            .field("platform", &platform)
    };

    let mut artifacts = BTreeMap::new();
    artifacts.insert(Artifact::Resolve, resolve_key(version));
    artifacts.insert(
        Artifact::Kubernetes,
        go(Artifact::Kubernetes.name())
            .field("kubernetes", version)
            .field("go.mod", &r.wrapper_gomod)
            .field("tags", KUBERNETES_BUILD_TAGS)
            .field(
                "ldflags",
                &kubernetes_ldflags(version, &r.git_commit, &r.build_date)?,
            )
            .field("commands", &KUBERNETES_COMMANDS.join(","))
            .finish(),
    );
    check_table(GO_ARTIFACTS)?;
    for row in GO_ARTIFACTS {
        artifacts.insert(Artifact::Go(row.name), go_artifact_key(row, inputs)?);
    }
    let netinit_files: Vec<FileDigest> = dir_files(inputs, NETINIT_DIR)
        .iter()
        .filter(|f| keyed_file(&f.path))
        .cloned()
        .collect();
    if !netinit_files.iter().any(|f| f.path == "go.mod") {
        bail!(
            "images/{NETINIT_DIR}/go.mod is missing: the control plane's entrypoint cannot be built"
        );
    }
    artifacts.insert(
        Artifact::Netinit,
        go(Artifact::Netinit.name())
            .files("files", &netinit_files)
            .field("ldflags", NETINIT_LDFLAGS)
            .finish(),
    );
    let pause_sources: Vec<FileDigest> = files_except(dir_files(inputs, "pause"), "Dockerfile")
        .into_iter()
        .filter(|f| keyed_file(&f.path))
        .collect();
    if pause_sources.is_empty() {
        bail!("images/pause holds no sources: its build.sh and pause.c are missing");
    }
    artifacts.insert(
        Artifact::Pause,
        KeyBuilder::new(Artifact::Pause.name())
            .field("cc", inputs.cc_version)
            .field("platform", &platform)
            .field("pause", &r.pause_version)
            .files("sources", &pause_sources)
            .finish(),
    );

    // The parsed list, not the file: a comment changes nothing that is installed.
    let node_packages = parse_packages(inputs.node_packages_txt);
    if node_packages.is_empty() {
        bail!("images/node/packages.txt lists no package: it names the node's Debian packages");
    }
    artifacts.insert(
        Artifact::NodeRootfs,
        KeyBuilder::new(Artifact::NodeRootfs.name())
            .field("suite", DEBIAN_SUITE)
            .field("arch", &t.goarch)
            .field("sources", &debian_sources(inputs.debian_mirror).join("\n"))
            .field("packages", &node_packages.join(","))
            .field("options", &mmdebstrap_options().join(" "))
            .finish(),
    );

    let node_base_key = KeyBuilder::new("image")
        .field("image", "node-base")
        .field("rootfs", &artifacts[&Artifact::NodeRootfs])
        .finish();
    let node_base = PlannedImage {
        image: None,
        tag: node_base_tag(&node_base_key),
        key: node_base_key,
        component_version: DEBIAN_SUITE.to_string(),
        build_args: BTreeMap::new(),
        versions: BTreeMap::new(),
    };

    let mut images = Vec::new();
    for image in Image::ALL {
        let tag = names::image(image.name(), version);
        let component_version = image.component_version(r);
        let mut build_args = BTreeMap::new();
        if image.on_node_base() {
            build_args.insert("BASE_IMAGE".to_string(), node_base.tag.clone());
        }
        if image.row().kubernetes_version_arg {
            build_args.insert("KUBERNETES_VERSION".to_string(), version.to_string());
        }
        let files: Vec<FileDigest> = dir_files(inputs, image.name())
            .iter()
            .filter(|f| keyed_file(&f.path))
            .cloned()
            .collect();
        if !files.iter().any(|f| f.path == "Dockerfile") {
            bail!(
                "images/{}/Dockerfile is missing: localkube cannot build {tag}",
                image.name()
            );
        }
        let versions: BTreeMap<String, String> = GO_ARTIFACTS
            .iter()
            .filter(|row| row.images.contains(&image))
            .filter_map(|row| Some((version_label(row.version_label?), row.version(r))))
            .collect();
        let mut key = KeyBuilder::new("image")
            .field("image", image.name())
            .field("tag", &tag)
            .field("component-version", &component_version)
            .files("context", &files);
        for (name, value) in &build_args {
            key = key.field(&format!("arg {name}"), value);
        }
        for (label, value) in &versions {
            key = key.field(&format!("label {label}"), value);
        }
        for (artifact, file) in image.binaries() {
            let Some(source) = artifacts.get(&artifact) else {
                bail!("no artifact {} for {tag}", artifact.name());
            };
            key = key.field(&format!("bin/{file}"), source);
        }
        if image.on_node_base() {
            key = key.field("base", &node_base.key);
        }
        for held in image.preloaded() {
            let Some(held) = images
                .iter()
                .find(|p: &&PlannedImage| p.image == Some(*held))
            else {
                bail!(
                    "{tag} holds {} but is planned before it: Image::ALL must list it first",
                    held.name()
                );
            };
            key = key.field(&format!("preloaded {}", held.tag), &held.key);
        }
        images.push(PlannedImage {
            image: Some(image),
            tag,
            key: key.finish(),
            component_version,
            build_args,
            versions,
        });
    }

    Ok(Plan {
        kubernetes_version: version.to_string(),
        artifacts,
        node_packages,
        debian_mirror: inputs.debian_mirror.to_string(),
        node_base,
        images,
    })
}

/// The key of a `GO_ARTIFACTS` row: everything its build reads (the toolchain, the module and
/// version, what is built and how, the C compiler when cgo is on, the files of its main folder).
pub fn go_artifact_key(row: &GoArtifact, inputs: &PlanInputs<'_>) -> Result<String> {
    let t = inputs.toolchain;
    let mut key = KeyBuilder::new(row.name)
        .field("go", &t.go_version)
        .field("platform", &format!("linux/{}", t.goarch))
        .field("module", row.module)
        .field("version", &row.version(inputs.resolution))
        .field("packages", &row.import_paths().join(","))
        .field("outputs", &row.outputs.join(","))
        .field("tags", row.tags)
        .field("ldflags", row.ldflags);
    if let Some(headers) = row.cgo {
        key = key.field("cc", inputs.cc_version);
        for h in headers {
            key = key.field("c-header", &format!("{} ({})", h.header, h.debian_package));
        }
    }
    if let Some((dir, folder)) = row.main_folder {
        let files: Vec<FileDigest> = files_under(dir_files(inputs, dir), &format!("{folder}/"))
            .into_iter()
            .filter(|f| keyed_file(&f.path))
            .collect();
        if !files.iter().any(|f| f.path.ends_with(".go")) {
            bail!(
                "images/{dir}/{folder} holds no .go file: the main package of {} is missing",
                row.name
            );
        }
        key = key.files("main", &files);
    }
    Ok(key.finish())
}

/// The node's base image: named by its key, since it does not depend on the Kubernetes version.
pub fn node_base_tag(key: &str) -> String {
    format!("localkube/node-base:{}", &key[..key.len().min(16)])
}

#[cfg(test)]
mod tests;
