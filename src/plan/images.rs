//! What localkube builds for a Kubernetes version, and from which inputs: the artifacts (binaries
//! compiled from Go modules, the pause binary, the node's Debian root filesystem), the images made
//! of them, the cache key of each, the wrapper go.mod files and the linker flags. Pure: the effects
//! in `effects::image_build` run the commands this module spells out.
//!
//! Cache keys are sha256 digests of every input of an artifact (versions, flags, the Go toolchain,
//! the files of its image folder, the keys of the artifacts it consumes), never of its outputs: an
//! artifact rebuilt from the same inputs keeps its key, so nothing downstream of it is rebuilt.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::plan::names;
use crate::plan::version::minor;

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

/// Build tags of upstream's release binaries (hack/lib/golang.sh).
pub const KUBERNETES_BUILD_TAGS: &str = "selinux,notest";

/// The Kubernetes commands built in one `go build` (one shared compile of their common packages).
/// kubectl is among them: the cache keeps it for `localkube kubectl`.
pub const KUBERNETES_COMMANDS: [&str; 6] = [
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "kube-proxy",
    "kubectl",
];

/// The Debian release of the node's root filesystem.
pub const DEBIAN_SUITE: &str = "bookworm";
/// The Debian mirror unless `LOCALKUBE_DEBIAN_MIRROR` names another.
pub const DEFAULT_DEBIAN_MIRROR: &str = "http://deb.debian.org/debian";

/// Go packages whose version variables the Kubernetes ldflags set (both: component-base for the
/// servers' `--version`, client-go for the version clients send and kubectl prints).
const KUBERNETES_VERSION_PACKAGES: [&str; 2] = [
    "k8s.io/component-base/version",
    "k8s.io/client-go/pkg/version",
];

/// The artifacts kept in the cache, each built by one command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Artifact {
    /// What the Kubernetes release pins: its go.mod (wrapper replaces, Go version), kubeadm's
    /// etcd/CoreDNS/pause versions, the release time. Read once from the downloaded module.
    Resolve,
    /// kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy, kubectl.
    Kubernetes,
    Etcd,
    Coredns,
    /// crictl from sigs.k8s.io/cri-tools, when the module proxy serves it (see `Resolution::crictl`).
    Crictl,
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
            Artifact::Etcd => "etcd",
            Artifact::Coredns => "coredns",
            Artifact::Crictl => "crictl",
            Artifact::Netinit => "netinit",
            Artifact::Pause => "pause",
            Artifact::NodeRootfs => "node-rootfs",
        }
    }

    /// The files the artifact's folder holds (besides its manifest).
    pub fn outputs(self) -> Vec<&'static str> {
        match self {
            Artifact::Resolve => vec!["resolution.json", "kubernetes.go.mod"],
            Artifact::Kubernetes => KUBERNETES_COMMANDS.to_vec(),
            Artifact::Etcd => vec!["etcd"],
            Artifact::Coredns => vec!["coredns"],
            Artifact::Crictl => vec!["crictl"],
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
}

impl Image {
    pub const ALL: [Image; 7] = [
        Image::KubeApiserver,
        Image::KubeControllerManager,
        Image::KubeScheduler,
        Image::Etcd,
        Image::Coredns,
        Image::Pause,
        Image::Node,
    ];

    /// The image's name after `localkube/`, also its folder under `images/`.
    pub fn name(self) -> &'static str {
        match self {
            Image::KubeApiserver => "kube-apiserver",
            Image::KubeControllerManager => "kube-controller-manager",
            Image::KubeScheduler => "kube-scheduler",
            Image::Etcd => "etcd",
            Image::Coredns => "coredns",
            Image::Pause => "pause",
            Image::Node => "node",
        }
    }

    /// The artifact files copied into the build context under `bin/`.
    pub fn binaries(self) -> &'static [(Artifact, &'static str)] {
        match self {
            Image::KubeApiserver => &[
                (Artifact::Kubernetes, "kube-apiserver"),
                (Artifact::Netinit, "netinit"),
            ],
            Image::KubeControllerManager => &[
                (Artifact::Kubernetes, "kube-controller-manager"),
                (Artifact::Netinit, "netinit"),
            ],
            Image::KubeScheduler => &[
                (Artifact::Kubernetes, "kube-scheduler"),
                (Artifact::Netinit, "netinit"),
            ],
            Image::Etcd => &[(Artifact::Etcd, "etcd"), (Artifact::Netinit, "netinit")],
            Image::Coredns => &[(Artifact::Coredns, "coredns")],
            Image::Pause => &[(Artifact::Pause, "pause")],
            Image::Node => &[
                (Artifact::Kubernetes, "kubelet"),
                (Artifact::Kubernetes, "kube-proxy"),
                (Artifact::Crictl, "crictl"),
            ],
        }
    }

    pub fn component_version(self, resolution: &Resolution) -> String {
        match self {
            Image::Etcd => resolution.etcd_version.clone(),
            Image::Coredns => resolution.coredns_version.clone(),
            Image::Pause => resolution.pause_version.clone(),
            _ => resolution.kubernetes_version.clone(),
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
    /// The cri-tools release of this minor (`v1.35.0`) when the module proxy serves it; `None`
    /// when it refused: the node image then gets `images/node/crictl` (see `crictl_source`).
    pub crictl_version: Option<String>,
    /// Why crictl is missing, when it is.
    #[serde(default)]
    pub crictl_unavailable: String,
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
    artifacts.insert(
        Artifact::Etcd,
        go(Artifact::Etcd.name())
            .field("etcd", &r.etcd_version)
            .files(
                "wrapper",
                &files_under(dir_files(inputs, "etcd"), "wrapper/"),
            )
            .field("ldflags", &etcd_ldflags("<git sha of the tag>"))
            .finish(),
    );
    artifacts.insert(
        Artifact::Coredns,
        go(Artifact::Coredns.name())
            .field("coredns", &r.coredns_version)
            .field("ldflags", &coredns_ldflags("<commit of the tag>"))
            .finish(),
    );
    match crictl_source(r, dir_files(inputs, "node")) {
        CrictlSource::CriTools(crictl) => {
            artifacts.insert(
                Artifact::Crictl,
                go(Artifact::Crictl.name())
                    .field("crictl", &crictl)
                    .field("ldflags", &crictl_ldflags(&crictl))
                    .finish(),
            );
        }
        CrictlSource::Local => {
            artifacts.insert(
                Artifact::Crictl,
                go(Artifact::Crictl.name())
                    .field("source", LOCAL_CRICTL_DIR)
                    .files("files", &files_under(dir_files(inputs, "node"), "crictl/"))
                    .field("ldflags", &local_crictl_ldflags(version))
                    .finish(),
            );
        }
        CrictlSource::Stub => {}
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
    };

    let mut images = Vec::new();
    for image in Image::ALL {
        let tag = names::image(image.name(), version);
        let component_version = image.component_version(r);
        let mut build_args = BTreeMap::new();
        if image == Image::Node {
            build_args.insert("BASE_IMAGE".to_string(), node_base.tag.clone());
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
        let mut key = KeyBuilder::new("image")
            .field("image", image.name())
            .field("tag", &tag)
            .field("component-version", &component_version)
            .files("context", &files);
        for (name, value) in &build_args {
            key = key.field(&format!("arg {name}"), value);
        }
        for (artifact, file) in image.binaries() {
            let source = match artifacts.get(artifact) {
                Some(key) => key.clone(),
                None if *artifact == Artifact::Crictl => crictl_stub(&r.crictl_unavailable),
                None => bail!("no artifact {} for {tag}", artifact.name()),
            };
            key = key.field(&format!("bin/{file}"), &source);
        }
        if image == Image::Node {
            key = key.field("base", &node_base.key);
        }
        images.push(PlannedImage {
            image: Some(image),
            tag,
            key: key.finish(),
            component_version,
            build_args,
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

/// The node's base image: named by its key, since it does not depend on the Kubernetes version.
pub fn node_base_tag(key: &str) -> String {
    format!("localkube/node-base:{}", &key[..key.len().min(16)])
}

// ---------------------------------------------------------------------------------------------
// go.mod files

/// A replace directive: `path [version] => target [version]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replace {
    pub path: String,
    pub version: Option<String>,
    pub target: String,
    pub target_version: Option<String>,
}

impl Replace {
    /// A replacement by a folder (`./staging/...`, `../api`): meaningless outside its own repository.
    pub fn is_local(&self) -> bool {
        self.target.starts_with("./")
            || self.target.starts_with("../")
            || self.target.starts_with('/')
    }
}

/// The parts of a go.mod a wrapper module needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GoMod {
    pub module: String,
    pub go: String,
    pub godebug: Vec<String>,
    pub requires: Vec<(String, String)>,
    pub replaces: Vec<Replace>,
}

/// Parses a go.mod: `module`, `go`, `godebug`, `require` and `replace`, in their one-line and
/// block forms, ignoring comments and every other directive.
pub fn parse_gomod(text: &str) -> Result<GoMod> {
    let mut gomod = GoMod::default();
    let mut block: Option<String> = None;
    for (number, raw) in text.lines().enumerate() {
        let line = raw.split("//").next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let (verb, rest) = match &block {
            Some(verb) if line == ")" => {
                let _ = verb;
                block = None;
                continue;
            }
            Some(verb) => (verb.clone(), line.to_string()),
            None => {
                let (verb, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
                let rest = rest.trim();
                if rest == "(" {
                    block = Some(verb.to_string());
                    continue;
                }
                (verb.to_string(), rest.to_string())
            }
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let bad = || format!("go.mod line {}: cannot read `{}`", number + 1, raw.trim());
        match verb.as_str() {
            "module" => gomod.module = unquote(fields.first().with_context(bad)?),
            "go" => gomod.go = fields.first().with_context(bad)?.to_string(),
            "godebug" => gomod.godebug.push(fields.join(" ")),
            "require" => {
                let [path, version, ..] = fields.as_slice() else {
                    bail!(bad());
                };
                gomod.requires.push((unquote(path), version.to_string()));
            }
            "replace" => {
                let arrow = fields.iter().position(|f| *f == "=>").with_context(bad)?;
                let (left, right) = (&fields[..arrow], &fields[arrow + 1..]);
                if left.is_empty() || left.len() > 2 || right.is_empty() || right.len() > 2 {
                    bail!(bad());
                }
                gomod.replaces.push(Replace {
                    path: unquote(left[0]),
                    version: left.get(1).map(|v| v.to_string()),
                    target: unquote(right[0]),
                    target_version: right.get(1).map(|v| v.to_string()),
                });
            }
            _ => {}
        }
    }
    if gomod.module.is_empty() {
        bail!("go.mod has no module line");
    }
    Ok(gomod)
}

fn unquote(s: &str) -> String {
    s.trim_matches('"').trim_matches('`').to_string()
}

/// A wrapper module that builds `require` as a dependency. It copies the dependency's `go` and
/// `godebug` lines (they set the language and runtime defaults of the binaries, which the main
/// module decides) and its replaces: module-to-module ones as they are, folder ones through
/// `local`, which maps them to a module version or drops them (`None`).
pub fn wrapper_gomod(
    module: &str,
    dependency: &GoMod,
    require_version: &str,
    local: impl Fn(&Replace) -> Option<String>,
) -> String {
    let mut out = format!(
        "// Generated by localkube: builds {} {} as a dependency of this module.\n",
        dependency.module, require_version
    );
    out.push_str(&format!("module {module}\n\n"));
    if !dependency.go.is_empty() {
        out.push_str(&format!("go {}\n\n", dependency.go));
    }
    for godebug in &dependency.godebug {
        out.push_str(&format!("godebug {godebug}\n"));
    }
    if !dependency.godebug.is_empty() {
        out.push('\n');
    }
    out.push_str(&format!(
        "require {} {require_version}\n",
        dependency.module
    ));
    let replaces: Vec<String> = dependency
        .replaces
        .iter()
        .filter_map(|r| {
            let left = match &r.version {
                Some(v) => format!("{} {v}", r.path),
                None => r.path.clone(),
            };
            if r.is_local() {
                local(r).map(|version| format!("{left} => {} {version}", r.path))
            } else {
                let right = match &r.target_version {
                    Some(v) => format!("{} {v}", r.target),
                    None => r.target.clone(),
                };
                Some(format!("{left} => {right}"))
            }
        })
        .collect();
    if !replaces.is_empty() {
        out.push_str("\nreplace (\n");
        for line in replaces {
            out.push_str(&format!("\t{line}\n"));
        }
        out.push_str(")\n");
    }
    out
}

/// The version of k8s.io/kubernetes' staging modules (k8s.io/api, ...) for a release: v1.35.4 → v0.35.4.
pub fn staging_version(kubernetes_version: &str) -> Result<String> {
    let bare = kubernetes_version.trim_start_matches('v');
    let parts: Vec<&str> = bare.split('.').collect();
    match parts.as_slice() {
        ["1", minor, patch] if !minor.is_empty() && !patch.is_empty() => {
            Ok(format!("v0.{minor}.{patch}"))
        }
        _ => bail!("'{kubernetes_version}' is not a Kubernetes release (vMAJOR.MINOR.PATCH)"),
    }
}

/// The wrapper go.mod for k8s.io/kubernetes: every `k8s.io/X => ./staging/...` replace of the
/// release's go.mod becomes `k8s.io/X => k8s.io/X v0.<minor>.<patch>` (as a dependency, the
/// release requires its staging modules at v0.0.0 and its folder replaces are ignored).
pub fn kubernetes_wrapper_gomod(
    kubernetes_version: &str,
    kubernetes_gomod: &str,
) -> Result<String> {
    let gomod = parse_gomod(kubernetes_gomod).context("reading k8s.io/kubernetes' go.mod")?;
    if gomod.module != "k8s.io/kubernetes" {
        bail!(
            "expected the go.mod of k8s.io/kubernetes, got module {}",
            gomod.module
        );
    }
    let staging = staging_version(kubernetes_version)?;
    if !gomod
        .replaces
        .iter()
        .any(|r| r.target.starts_with("./staging/"))
    {
        bail!("k8s.io/kubernetes {kubernetes_version}'s go.mod has no ./staging replaces");
    }
    Ok(wrapper_gomod(
        "localkube.local/kubernetes-build",
        &gomod,
        kubernetes_version,
        |r| r.target.starts_with("./staging/").then(|| staging.clone()),
    ))
}

/// The wrapper go.mod for a module built as a dependency whose folder replaces only point at
/// modules it also requires at their real versions (etcd's `../api`), so they are dropped.
pub fn plain_wrapper_gomod(
    wrapper_module: &str,
    dependency_gomod: &str,
    version: &str,
) -> Result<String> {
    let gomod = parse_gomod(dependency_gomod)?;
    Ok(wrapper_gomod(wrapper_module, &gomod, version, |_| None))
}

// ---------------------------------------------------------------------------------------------
// Versions kubeadm pairs with a release

/// The versions of kubeadm's constants.go (cmd/kubeadm/app/constants) localkube builds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeadmPins {
    /// etcd's Go module version: `DefaultEtcdVersion = "3.6.6-0"` → `v3.6.6`.
    pub etcd: String,
    /// `CoreDNSVersion = "v1.13.1"`.
    pub coredns: String,
    /// `PauseVersion = "3.10.1"`.
    pub pause: String,
}

pub fn parse_kubeadm_constants(text: &str) -> Result<KubeadmPins> {
    let etcd = go_string_constant(text, "DefaultEtcdVersion")?;
    // Image tags carry a packaging suffix ("-0"); the module version is what precedes it.
    let etcd = etcd
        .split('-')
        .next()
        .unwrap_or(&etcd)
        .trim_start_matches('v');
    let coredns = go_string_constant(text, "CoreDNSVersion")?;
    let pause = go_string_constant(text, "PauseVersion")?;
    Ok(KubeadmPins {
        etcd: format!("v{etcd}"),
        coredns: format!("v{}", coredns.trim_start_matches('v')),
        pause: pause.trim_start_matches('v').to_string(),
    })
}

/// The value of `NAME = "value"` (a Go string constant) in Go source.
fn go_string_constant(text: &str, name: &str) -> Result<String> {
    for line in text.lines() {
        let line = line.trim();
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        let Some(rest) = rest.trim_start().strip_prefix('=') else {
            continue;
        };
        let rest = rest.trim();
        if let Some(value) = rest.strip_prefix('"').and_then(|v| v.split('"').next())
            && !value.is_empty()
        {
            return Ok(value.to_string());
        }
    }
    bail!("kubeadm's constants.go has no string constant {name}")
}

// ---------------------------------------------------------------------------------------------
// Go toolchain

/// `go1.26.8` / `1.25.0` / `1.24` / `go1.26rc1` → (major, minor, patch); a pre-release counts as
/// below its release.
pub fn parse_go_version(text: &str) -> Option<(u32, u32, u32)> {
    let bare = text.trim().trim_start_matches("go");
    let mut parts = bare.splitn(3, '.');
    let major = parts.next()?.parse().ok()?;
    let (minor, pre_in_minor) = split_pre(parts.next().unwrap_or("0"))?;
    let (patch, pre_in_patch) = match parts.next() {
        Some(p) => split_pre(p)?,
        None => (0, false),
    };
    if pre_in_minor || pre_in_patch {
        // go1.26rc1 is older than go1.26.0: count it as the last patch of the minor before.
        return Some((major, minor.checked_sub(1)?, u32::MAX));
    }
    Some((major, minor, patch))
}

fn split_pre(part: &str) -> Option<(u32, bool)> {
    let digits: String = part.chars().take_while(|c| c.is_ascii_digit()).collect();
    let number = digits.parse().ok()?;
    Some((number, digits.len() != part.len()))
}

/// Whether the toolchain `have` (`go1.26.8`) builds a module whose go.mod says `go need` (`1.25.0`).
pub fn go_satisfies(have: &str, need: &str) -> bool {
    match (parse_go_version(have), parse_go_version(need)) {
        (Some(have), Some(need)) => have >= need,
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Linker flags and commands

/// Upstream's version flags (hack/lib/version.sh): both version packages get every value, so
/// `kube-apiserver --version` prints `Kubernetes v1.35.4` and nodes report their real version.
pub fn kubernetes_ldflags(version: &str, git_commit: &str, build_date: &str) -> Result<String> {
    let bare = version.trim_start_matches('v');
    let mut parts = bare.split('.');
    let (Some(major), Some(minor)) = (parts.next(), parts.next()) else {
        bail!("'{version}' is not a Kubernetes release (vMAJOR.MINOR.PATCH)");
    };
    let values = [
        ("gitVersion", version),
        ("gitMajor", major),
        ("gitMinor", minor),
        ("gitCommit", git_commit),
        ("gitTreeState", "clean"),
        ("buildDate", build_date),
    ];
    let mut flags = vec!["-s".to_string(), "-w".to_string()];
    for package in KUBERNETES_VERSION_PACKAGES {
        for (name, value) in values {
            flags.push(format!("-X {package}.{name}={value}"));
        }
    }
    Ok(flags.join(" "))
}

/// etcd's version is a constant of its api module; the build only stamps the commit.
pub fn etcd_ldflags(git_sha: &str) -> String {
    format!("-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA={git_sha}")
}

/// Where the node's crictl comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CrictlSource {
    /// `sigs.k8s.io/cri-tools/cmd/crictl` at this version, from the module proxy.
    CriTools(String),
    /// The node helper's own small crictl in `images/node/crictl/` (a Go module), when the proxy
    /// refuses cri-tools.
    Local,
    /// Neither: a script that says so.
    Stub,
}

/// The folder of netinit, the control-plane images' entrypoint, inside `images/`: a Go module of
/// localkube's own, keyed by its files.
pub const NETINIT_DIR: &str = "netinit";
/// Stripped, as upstream's release binaries.
pub const NETINIT_LDFLAGS: &str = "-s -w";

/// The folder of the node's own crictl, inside `images/node/`.
pub const LOCAL_CRICTL_DIR: &str = "crictl";

pub fn crictl_source(resolution: &Resolution, node_files: &[FileDigest]) -> CrictlSource {
    match &resolution.crictl_version {
        Some(version) => CrictlSource::CriTools(version.clone()),
        None if node_files
            .iter()
            .any(|f| f.path == format!("{LOCAL_CRICTL_DIR}/go.mod")) =>
        {
            CrictlSource::Local
        }
        None => CrictlSource::Stub,
    }
}

/// The node's own crictl stamps its version in `main.version`.
pub fn local_crictl_ldflags(kubernetes_version: &str) -> String {
    format!("-s -w -X main.version=localkube-{kubernetes_version}")
}

/// cri-tools' Makefile stamps the version.
pub fn crictl_ldflags(version: &str) -> String {
    format!("-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version={version}")
}

/// The cri-tools release localkube pairs with a Kubernetes minor: v1.<minor>.0.
pub fn crictl_version(kubernetes_version: &str) -> String {
    format!("v1.{}.0", minor(kubernetes_version))
}

/// The `crictl` a node image gets when cri-tools could not be had: it says so and what to use.
pub fn crictl_stub(reason: &str) -> String {
    let reason: String = reason
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                ' '
            }
        })
        .filter(|c| *c != '\'' && *c != '"' && *c != '`' && *c != '$' && *c != '\\')
        .take(300)
        .collect();
    format!(
        "#!/bin/sh\n\
         # localkube: crictl could not be built for this image ({reason}).\n\
         echo \"crictl is not in this localkube node image: sigs.k8s.io/cri-tools could not be downloaded when it was built ({reason}). Use containerd's own client instead: ctr -n k8s.io containers ls, ctr -n k8s.io images ls\" >&2\n\
         exit 1\n"
    )
}

/// CoreDNS's Makefile stamps the commit; the version is a constant of coremain.
pub fn coredns_ldflags(git_commit: &str) -> String {
    format!("-s -w -X github.com/coredns/coredns/coremain.GitCommit={git_commit}")
}

/// A commit hash as the projects print it (7 characters), or `unknown` when the proxy gave none.
pub fn short_commit(hash: &str) -> String {
    if hash.len() >= 7 && hash.chars().all(|c| c.is_ascii_hexdigit()) {
        hash[..7].to_string()
    } else {
        "unknown".to_string()
    }
}

/// The module's release time (`.info`'s `Time`, RFC 3339) in upstream's buildDate format
/// (`%Y-%m-%dT%H:%M:%SZ`): fixed, so two builds of a release give the same binaries.
pub fn build_date(info_time: &str) -> Result<String> {
    let t = info_time.trim();
    let date_time = t.get(..19).filter(|dt| {
        dt.len() == 19
            && dt.as_bytes()[4] == b'-'
            && dt.as_bytes()[10] == b'T'
            && dt.as_bytes()[13] == b':'
    });
    match date_time {
        Some(dt) if t.ends_with('Z') => Ok(format!("{dt}Z")),
        _ => bail!("cannot read the module time '{info_time}' (expected RFC 3339 in UTC)"),
    }
}

/// `go build` arguments: outputs into `out_dir`, upstream's flags.
pub fn go_build_args(
    out: &str,
    tags: Option<&str>,
    ldflags: &str,
    packages: &[String],
    verbose: bool,
) -> Vec<String> {
    let mut args = vec!["build".to_string(), "-o".to_string(), out.to_string()];
    if let Some(tags) = tags {
        args.push("-tags".into());
        args.push(tags.into());
    }
    args.push("-trimpath".into());
    args.push("-ldflags".into());
    args.push(ldflags.into());
    if verbose {
        args.push("-v".into());
    }
    args.extend(packages.iter().cloned());
    args
}

/// The environment of every `go` command: static binaries for Linux on the engine's machine,
/// modules resolved from the wrapper's go.mod (`-mod=mod`), no toolchain switching.
pub fn go_env(goarch: &str) -> Vec<(&'static str, String)> {
    vec![
        ("CGO_ENABLED", "0".into()),
        ("GOOS", "linux".into()),
        ("GOARCH", goarch.into()),
        ("GOFLAGS", "-mod=mod -buildvcs=false".into()),
        ("GOTOOLCHAIN", "local".into()),
        ("GOWORK", "off".into()),
        ("GO111MODULE", "on".into()),
    ]
}

// ---------------------------------------------------------------------------------------------
// The node's root filesystem

/// The packages of `images/node/packages.txt`: one a line, `#` starts a comment.
pub fn parse_packages(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.split('#').next())
        .flat_map(str::split_whitespace)
        .map(str::to_string)
        .collect()
}

/// The apt sources mmdebstrap installs from: the release, its updates and its security fixes.
pub fn debian_sources(mirror: &str) -> Vec<String> {
    let mirror = mirror.trim_end_matches('/');
    vec![
        format!("deb {mirror} {DEBIAN_SUITE} main"),
        format!("deb {mirror} {DEBIAN_SUITE}-updates main"),
        format!("deb {mirror}-security {DEBIAN_SUITE}-security main"),
    ]
}

/// The CNI plugins the node's network uses (images/node/README.md); Debian's package ships more.
pub const NODE_CNI_PLUGINS: [&str; 5] = ["ptp", "host-local", "portmap", "loopback", "bridge"];

/// mmdebstrap options besides the packages, each to keep the node's root filesystem small
/// (measured in images/node/README.md: 347 MB plain, about 200 MB with all of these).
pub fn mmdebstrap_options() -> Vec<String> {
    let mut options: Vec<String> = [
        // The smallest base: Essential packages and apt.
        "--variant=minbase",
        // The hook merges /usr itself, so the usrmerge package, and the full perl it pulls in,
        // stay out.
        "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr",
        // No documentation, manual pages or translations: a node never shows them (copyright
        // files stay).
        "--dpkgopt=path-exclude=/usr/share/man/*",
        "--dpkgopt=path-exclude=/usr/share/doc/*",
        "--dpkgopt=path-include=/usr/share/doc/*/copyright",
        "--dpkgopt=path-exclude=/usr/share/locale/*",
        "--dpkgopt=path-exclude=/usr/share/info/*",
        // containerd's legacy shims: the node's containerd config uses runc v2 only.
        "--dpkgopt=path-exclude=/usr/bin/containerd-shim",
        "--dpkgopt=path-exclude=/usr/bin/containerd-shim-runc-v1",
        // CNI plugins the node does not use (dhcp alone is 7 MB).
        "--dpkgopt=path-exclude=/usr/lib/cni/*",
    ]
    .map(str::to_string)
    .to_vec();
    for plugin in NODE_CNI_PLUGINS {
        options.push(format!("--dpkgopt=path-include=/usr/lib/cni/{plugin}"));
    }
    options
}

/// The whole mmdebstrap command line (after the program name).
pub fn mmdebstrap_args(
    packages: &[String],
    goarch: &str,
    out_tar: &str,
    mirror: &str,
) -> Vec<String> {
    let mut args = mmdebstrap_options();
    args.push(format!("--architectures={goarch}"));
    if !packages.is_empty() {
        args.push(format!("--include={}", packages.join(",")));
    }
    args.push(DEBIAN_SUITE.to_string());
    args.push(out_tar.to_string());
    args.extend(debian_sources(mirror));
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    const K8S_GOMOD: &str = r#"// This is a generated file. Do not edit directly.

module k8s.io/kubernetes

go 1.25.0

godebug default=go1.25

require (
	github.com/blang/semver/v4 v4.0.0
	k8s.io/api v0.0.0
	k8s.io/client-go v0.0.0 // indirect
)

require golang.org/x/tools v0.38.0

replace (
	k8s.io/api => ./staging/src/k8s.io/api
	k8s.io/client-go => ./staging/src/k8s.io/client-go
	k8s.io/kubectl => ./staging/src/k8s.io/kubectl
)
"#;

    #[test]
    fn parses_a_gomod() {
        let gomod = parse_gomod(K8S_GOMOD).unwrap();
        assert_eq!(gomod.module, "k8s.io/kubernetes");
        assert_eq!(gomod.go, "1.25.0");
        assert_eq!(gomod.godebug, vec!["default=go1.25"]);
        assert_eq!(gomod.requires.len(), 4);
        assert_eq!(
            gomod.requires[2],
            ("k8s.io/client-go".into(), "v0.0.0".into())
        );
        assert_eq!(gomod.replaces.len(), 3);
        assert!(gomod.replaces.iter().all(Replace::is_local));
    }

    #[test]
    fn kubernetes_wrapper_replaces_every_staging_module_with_its_release() {
        let wrapper = kubernetes_wrapper_gomod("v1.35.4", K8S_GOMOD).unwrap();
        assert_eq!(
            wrapper,
            "// Generated by localkube: builds k8s.io/kubernetes v1.35.4 as a dependency of this module.\n\
             module localkube.local/kubernetes-build\n\n\
             go 1.25.0\n\n\
             godebug default=go1.25\n\n\
             require k8s.io/kubernetes v1.35.4\n\n\
             replace (\n\
             \tk8s.io/api => k8s.io/api v0.35.4\n\
             \tk8s.io/client-go => k8s.io/client-go v0.35.4\n\
             \tk8s.io/kubectl => k8s.io/kubectl v0.35.4\n\
             )\n"
        );
        // The result is itself a go.mod this parser reads back.
        let back = parse_gomod(&wrapper).unwrap();
        assert_eq!(
            back.requires,
            vec![("k8s.io/kubernetes".into(), "v1.35.4".into())]
        );
        assert!(back.replaces.iter().all(|r| !r.is_local()));
    }

    #[test]
    fn kubernetes_wrapper_refuses_other_modules_and_versions() {
        assert!(kubernetes_wrapper_gomod("v1.35.4", "module example.com/x\n").is_err());
        assert!(kubernetes_wrapper_gomod("v2.0.0", K8S_GOMOD).is_err());
        assert_eq!(staging_version("v1.36.3").unwrap(), "v0.36.3");
    }

    #[test]
    fn etcd_wrapper_drops_folder_replaces_and_keeps_module_ones() {
        let etcd = "module go.etcd.io/etcd/server/v3\n\ngo 1.24\n\ntoolchain go1.24.10\n\n\
                    require go.etcd.io/etcd/api/v3 v3.6.6\n\n\
                    replace (\n\tgo.etcd.io/etcd/api/v3 => ../api\n)\n\
                    replace go.etcd.io/etcd => ./FORBIDDEN_DEPENDENCY\n\
                    replace example.com/a v1.0.0 => example.com/b v1.2.0\n";
        let wrapper = plain_wrapper_gomod("localkube.local/etcd-build", etcd, "v3.6.6").unwrap();
        assert!(
            wrapper.contains("module localkube.local/etcd-build\n"),
            "{wrapper}"
        );
        assert!(wrapper.contains("go 1.24\n"), "{wrapper}");
        assert!(!wrapper.contains("toolchain"), "{wrapper}");
        assert!(
            wrapper.contains("require go.etcd.io/etcd/server/v3 v3.6.6\n"),
            "{wrapper}"
        );
        assert!(
            wrapper.contains("\texample.com/a v1.0.0 => example.com/b v1.2.0\n"),
            "{wrapper}"
        );
        assert!(
            !wrapper.contains("../api") && !wrapper.contains("FORBIDDEN"),
            "{wrapper}"
        );
    }

    #[test]
    fn reads_kubeadms_pinned_versions() {
        let constants = r#"
const (
	// DefaultEtcdVersion indicates the default etcd version that kubeadm uses
	DefaultEtcdVersion = "3.6.6-0"

	// CoreDNSVersion is the version of CoreDNS to be deployed if it is used
	CoreDNSVersion = "v1.13.1"
	// PauseVersion indicates the default pause image version for kubeadm
	PauseVersion = "3.10.1"
	// - DefaultEtcdVersion: with etcd version used for the current k8s release (0).
)
"#;
        let pins = parse_kubeadm_constants(constants).unwrap();
        assert_eq!(
            pins,
            KubeadmPins {
                etcd: "v3.6.6".into(),
                coredns: "v1.13.1".into(),
                pause: "3.10.1".into()
            }
        );
        let err = parse_kubeadm_constants("const x = 1")
            .unwrap_err()
            .to_string();
        assert!(err.contains("DefaultEtcdVersion"), "{err}");
    }

    #[test]
    fn kubernetes_ldflags_set_every_version_variable_in_both_packages() {
        let flags = kubernetes_ldflags("v1.35.4", "abc123", "2026-04-15T18:01:22Z").unwrap();
        assert!(flags.starts_with("-s -w "), "{flags}");
        for package in KUBERNETES_VERSION_PACKAGES {
            for expected in [
                "gitVersion=v1.35.4",
                "gitMajor=1",
                "gitMinor=35",
                "gitCommit=abc123",
                "gitTreeState=clean",
                "buildDate=2026-04-15T18:01:22Z",
            ] {
                let flag = format!("-X {package}.{expected}");
                assert!(flags.contains(&flag), "{flag} missing from {flags}");
            }
        }
        assert_eq!(flags.matches("-X ").count(), 12);
    }

    #[test]
    fn other_ldflags_and_dates() {
        assert_eq!(
            etcd_ldflags("abcdef0"),
            "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=abcdef0"
        );
        assert!(coredns_ldflags("1db4568").ends_with("coremain.GitCommit=1db4568"));
        assert_eq!(
            short_commit("1db4568df6aaacda6ebbce87717156bd855f8103"),
            "1db4568"
        );
        assert_eq!(short_commit(""), "unknown");
        assert_eq!(
            build_date("2026-04-15T18:01:22Z").unwrap(),
            "2026-04-15T18:01:22Z"
        );
        assert_eq!(
            build_date("2026-04-15T18:01:22.123Z").unwrap(),
            "2026-04-15T18:01:22Z"
        );
        assert!(build_date("yesterday").is_err());
    }

    #[test]
    fn go_versions_compare() {
        assert!(go_satisfies("go1.26.8", "1.25.0"));
        assert!(go_satisfies("go1.25.0", "1.25.0"));
        assert!(go_satisfies("go1.25.0", "1.25"));
        assert!(!go_satisfies("go1.24.10", "1.25.0"));
        assert!(!go_satisfies("go1.25rc1", "1.25.0"));
        assert!(go_satisfies("go1.25rc1", "1.24"));
        assert!(!go_satisfies("devel", "1.25"));
    }

    #[test]
    fn go_build_arguments() {
        let args = go_build_args(
            "/o/",
            Some(KUBERNETES_BUILD_TAGS),
            "-s -w",
            &["k8s.io/kubernetes/cmd/kubectl".into()],
            false,
        );
        assert_eq!(
            args,
            [
                "build",
                "-o",
                "/o/",
                "-tags",
                "selinux,notest",
                "-trimpath",
                "-ldflags",
                "-s -w",
                "k8s.io/kubernetes/cmd/kubectl"
            ]
        );
        let env = go_env("amd64");
        assert!(env.contains(&("CGO_ENABLED", "0".into())));
        assert!(env.contains(&("GOTOOLCHAIN", "local".into())));
    }

    #[test]
    fn packages_and_mmdebstrap() {
        let text = "# comment\ncontainerd # runtime\n\nrunc\n  iptables  \n";
        let packages = parse_packages(text);
        assert_eq!(packages, ["containerd", "runc", "iptables"]);
        let args = mmdebstrap_args(
            &packages,
            "amd64",
            "/tmp/r.tar",
            "http://deb.debian.org/debian/",
        );
        assert!(args.contains(&"--variant=minbase".to_string()));
        assert!(args.contains(&"--include=containerd,runc,iptables".to_string()));
        let suite = args.iter().position(|a| a == "bookworm").unwrap();
        assert_eq!(args[suite + 1], "/tmp/r.tar");
        assert_eq!(
            args[suite + 2],
            "deb http://deb.debian.org/debian bookworm main"
        );
        assert_eq!(
            args[suite + 4],
            "deb http://deb.debian.org/debian-security bookworm-security main"
        );
    }

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
        let t = Toolchain {
            go_version: "go1.26.8".into(),
            goarch: "amd64".into(),
        };
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

    fn sample_resolution() -> Resolution {
        Resolution {
            kubernetes_version: "v1.35.4".into(),
            go_directive: "1.25.0".into(),
            wrapper_gomod: kubernetes_wrapper_gomod("v1.35.4", K8S_GOMOD).unwrap(),
            git_commit: String::new(),
            build_date: "2026-04-15T18:01:22Z".into(),
            etcd_version: "v3.6.6".into(),
            coredns_version: "v1.13.1".into(),
            pause_version: "3.10.1".into(),
            crictl_version: None,
            crictl_unavailable: "403 Forbidden".into(),
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
        let t = Toolchain {
            go_version: "go1.26.8".into(),
            goarch: "amd64".into(),
        };
        let dirs = sample_dirs();
        let base = plan_with(&r, &t, &dirs);
        assert_eq!(base, plan_with(&r, &t, &dirs), "same inputs, same keys");
        assert_eq!(base.images.len(), 7);
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
        for a in [Artifact::Kubernetes, Artifact::Etcd, Artifact::Coredns] {
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
            p.artifacts[&Artifact::Etcd],
            base.artifacts[&Artifact::Etcd]
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
            wrapper_gomod: kubernetes_wrapper_gomod("v1.35.5", K8S_GOMOD).unwrap(),
            ..r.clone()
        };
        let p = plan_with(&other, &t, &dirs);
        assert_ne!(
            p.artifacts[&Artifact::Kubernetes],
            base.artifacts[&Artifact::Kubernetes]
        );
        assert_eq!(
            p.artifacts[&Artifact::Etcd],
            base.artifacts[&Artifact::Etcd]
        );
        assert_ne!(
            image_key(&p, Image::Etcd),
            image_key(&base, Image::Etcd),
            "tag differs"
        );
    }

    #[test]
    fn crictl_is_built_when_available_and_stubbed_otherwise() {
        let t = Toolchain {
            go_version: "go1.26.8".into(),
            goarch: "amd64".into(),
        };
        let dirs = sample_dirs();
        let without = sample_resolution();
        let p = plan_with(&without, &t, &dirs);
        assert!(!p.artifacts.contains_key(&Artifact::Crictl));
        // The node's own crictl, when cri-tools is refused and images/node/crictl/ is there.
        let mut local = dirs.clone();
        local
            .get_mut("node")
            .unwrap()
            .push(digest("crictl/go.mod", "module x"));
        local
            .get_mut("node")
            .unwrap()
            .push(digest("crictl/main.go", "package main"));
        let l = plan_with(&without, &t, &local);
        assert!(l.artifacts.contains_key(&Artifact::Crictl));
        let mut edited = local.clone();
        edited.get_mut("node").unwrap()[4] = digest("crictl/main.go", "package main // v2");
        let e = plan_with(&without, &t, &edited);
        assert_ne!(
            e.artifacts[&Artifact::Crictl],
            l.artifacts[&Artifact::Crictl]
        );
        assert_ne!(image_key(&e, Image::Node), image_key(&l, Image::Node));
        assert_eq!(
            e.artifacts[&Artifact::Kubernetes],
            l.artifacts[&Artifact::Kubernetes]
        );
        let with = Resolution {
            crictl_version: Some(crictl_version("v1.35.4")),
            crictl_unavailable: String::new(),
            ..without.clone()
        };
        let q = plan_with(&with, &t, &dirs);
        assert!(q.artifacts.contains_key(&Artifact::Crictl));
        assert_ne!(image_key(&p, Image::Node), image_key(&q, Image::Node));
        assert_eq!(image_key(&p, Image::Etcd), image_key(&q, Image::Etcd));
        assert_eq!(crictl_version("v1.35.4"), "v1.35.0");
        assert!(crictl_ldflags("v1.35.0").ends_with("pkg/version.Version=v1.35.0"));
        let stub = crictl_stub("proxy said: \"403\" $(rm -rf /)");
        assert!(stub.starts_with("#!/bin/sh\n"), "{stub}");
        assert!(stub.contains("ctr -n k8s.io"), "{stub}");
        assert!(!stub.contains("$(") && stub.ends_with("exit 1\n"), "{stub}");
    }

    #[test]
    fn node_image_gets_its_base_and_version_as_build_args() {
        let r = sample_resolution();
        let t = Toolchain {
            go_version: "go1.26.8".into(),
            goarch: "amd64".into(),
        };
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
        let t = Toolchain {
            go_version: "go1.26.8".into(),
            goarch: "amd64".into(),
        };
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
}
