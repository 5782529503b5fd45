//! The Go-built artifacts, as one table (`GO_ARTIFACTS`): which module, at which version, which
//! packages, with which flags, into which images. Adding a Go-built program to localkube is one
//! row here (plus the `COPY` in its image's Dockerfile); the key, the build and the image wiring
//! read the row. Kubernetes itself (a wrapper module with its staging replaces, several commands
//! from one compile) and netinit (a local module of localkube's own) have their own kinds.
//!
//! Also the linker flags, `go build` arguments and environment every Go build uses.

use anyhow::{Result, bail};

use super::{Image, Resolution};

/// How an artifact's module version is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionFrom {
    /// Fixed per localkube release (the node's runtime, crictl, CNI): one version for every
    /// Kubernetes minor localkube supports.
    Pinned(&'static str),
    /// The etcd version kubeadm's constants pair with the Kubernetes release.
    KubeadmEtcd,
    /// The CoreDNS version kubeadm's constants pair with the Kubernetes release.
    KubeadmCoredns,
}

/// A C toolchain dependency of a cgo build: checked before the build, named in the error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CHeader {
    /// A header under /usr/include the build needs (`seccomp.h`).
    pub header: &'static str,
    /// The Debian package that ships it (and the static library the link uses).
    pub debian_package: &'static str,
}

/// One Go-built artifact: a module from the module proxy, built as a dependency of a generated
/// wrapper module (`localkube.local/<name>-build`) whose go.mod copies the module's `go`,
/// `godebug` and module-to-module replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GoArtifact {
    /// The cache folder (`artifacts/<name>/<key>/`) and the key's kind.
    pub name: &'static str,
    /// What the build step says it compiles (`containerd`).
    pub title: &'static str,
    /// The Go module (`github.com/containerd/containerd/v2`).
    pub module: &'static str,
    pub version: VersionFrom,
    /// Packages built, relative to the module (`cmd/ctr`; `""` is the module's root). Ignored when
    /// `main_folder` is set: the wrapper's own main package is built.
    pub packages: &'static [&'static str],
    /// The binaries the build makes, one per package (the last element of its path), or the one
    /// binary of a main folder.
    pub outputs: &'static [&'static str],
    /// `-ldflags`, with `{version}` (the module version, `v2.3.7`), `{bare_version}` (`2.3.7`) and
    /// `{commit}` (the tag's commit, 7 characters, from the module proxy) filled in at build time.
    /// Keys hold the template: the commit is a function of the version.
    pub ldflags: &'static str,
    /// `-tags`, comma-separated; empty for none.
    pub tags: &'static str,
    /// `Some`: built with cgo (`CGO_ENABLED=1`, the machine's C compiler, part of the key), needing
    /// these headers. `None`: `CGO_ENABLED=0`, a static binary.
    pub cgo: Option<&'static [CHeader]>,
    /// A main package of localkube's own that imports the module (`images/<dir>/<folder>/*.go`),
    /// as (image folder, sub-folder); its files are part of the key.
    pub main_folder: Option<(&'static str, &'static str)>,
    /// The images that get the outputs under `bin/` of their build context.
    pub images: &'static [Image],
    /// `Some(x)`: the images carry the label `io.localkube.<x>-version` with the module version.
    pub version_label: Option<&'static str>,
}

/// Every Go-built artifact but Kubernetes and netinit.
pub const GO_ARTIFACTS: &[GoArtifact] = &[
    GoArtifact {
        name: "etcd",
        title: "etcd",
        module: "go.etcd.io/etcd/server/v3",
        version: VersionFrom::KubeadmEtcd,
        packages: &[],
        outputs: &["etcd"],
        // etcd's version is a constant of its api module; upstream's build only stamps the commit.
        ldflags: "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA={commit}",
        tags: "",
        cgo: None,
        // etcd's own main package is internal to its repository: images/etcd/wrapper calls it.
        main_folder: Some(("etcd", "wrapper")),
        images: &[Image::Etcd],
        version_label: None,
    },
    // `localkube snapshot`: etcdctl takes a live snapshot through etcd's Maintenance API (from a
    // helper container in etcd's network namespace), etcdutl restores one into a new data folder
    // with this profile's member name and peer URL. Both are etcd's own tools, at etcd's version,
    // so their snapshot format is the server's.
    GoArtifact {
        name: "etcdctl",
        title: "etcdctl",
        module: "go.etcd.io/etcd/etcdctl/v3",
        version: VersionFrom::KubeadmEtcd,
        packages: &[""],
        outputs: &["etcdctl"],
        // As etcd's build: its version is a constant of the api module, the commit is stamped.
        ldflags: "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA={commit}",
        tags: "",
        cgo: None,
        main_folder: None,
        images: &[Image::Etcd],
        version_label: None,
    },
    GoArtifact {
        name: "etcdutl",
        title: "etcdutl",
        module: "go.etcd.io/etcd/etcdutl/v3",
        version: VersionFrom::KubeadmEtcd,
        packages: &[""],
        outputs: &["etcdutl"],
        ldflags: "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA={commit}",
        tags: "",
        cgo: None,
        main_folder: None,
        images: &[Image::Etcd],
        version_label: None,
    },
    GoArtifact {
        name: "coredns",
        title: "CoreDNS",
        module: "github.com/coredns/coredns",
        version: VersionFrom::KubeadmCoredns,
        packages: &[""],
        outputs: &["coredns"],
        // CoreDNS's Makefile stamps the commit; the version is a constant of coremain.
        ldflags: "-s -w -X github.com/coredns/coredns/coremain.GitCommit={commit}",
        tags: "",
        cgo: None,
        main_folder: None,
        images: &[Image::Coredns],
        version_label: None,
    },
    GoArtifact {
        name: "containerd",
        title: "containerd",
        module: "github.com/containerd/containerd/v2",
        // kind's pin; containerd 2.3 tests against runc 1.5 (script/setup/runc-version).
        version: VersionFrom::Pinned("v2.3.7"),
        packages: &["cmd/containerd", "cmd/containerd-shim-runc-v2", "cmd/ctr"],
        outputs: &["containerd", "containerd-shim-runc-v2", "ctr"],
        // As upstream's Makefile, so `containerd --version` names the release and its commit.
        ldflags: "-s -w -X github.com/containerd/containerd/v2/version.Version={version} \
                  -X github.com/containerd/containerd/v2/version.Revision={commit} \
                  -X github.com/containerd/containerd/v2/version.Package=github.com/containerd/containerd",
        // Upstream uses cgo only for the btrfs snapshotter: without it every binary is static
        // (the shim is CGO_ENABLED=0 upstream too). No docs: urfave/cli's man page generator.
        tags: "no_btrfs,urfave_cli_no_docs",
        cgo: None,
        main_folder: None,
        images: &[Image::Node],
        version_label: Some("containerd"),
    },
    GoArtifact {
        name: "runc",
        title: "runc",
        module: "github.com/opencontainers/runc",
        version: VersionFrom::Pinned("v1.5.3"),
        packages: &[""],
        outputs: &["runc"],
        // As upstream's `make static` (which makes a static PIE; plain static here, as runc < 1.2
        // did): linked with libseccomp.a, so the node needs no libseccomp of its own.
        ldflags: "-s -w -X main.version={bare_version} -X main.gitCommit={commit} \
                  -linkmode external -extldflags -static",
        // Upstream's default tags without libpathrs (a Rust library; runc falls back to its pure-Go
        // pathrs-lite), plus its static build's netgo and osusergo.
        tags: "seccomp,urfave_cli_no_docs,netgo,osusergo",
        cgo: Some(&[CHeader {
            header: "seccomp.h",
            debian_package: "libseccomp-dev",
        }]),
        main_folder: None,
        images: &[Image::Node],
        version_label: Some("runc"),
    },
    GoArtifact {
        name: "crictl",
        title: "crictl",
        module: "sigs.k8s.io/cri-tools",
        // The module proxy serves v1.37.0 (v1.35.0 is refused); crictl speaks CRI v1, which every
        // Kubernetes minor localkube supports, so one release serves all.
        version: VersionFrom::Pinned("v1.37.0"),
        packages: &["cmd/crictl"],
        outputs: &["crictl"],
        // cri-tools' Makefile stamps the version.
        ldflags: "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version={version}",
        tags: "",
        cgo: None,
        main_folder: None,
        images: &[Image::Node],
        version_label: Some("crictl"),
    },
    GoArtifact {
        name: "cni-plugins",
        title: "the CNI plugins",
        module: "github.com/containernetworking/plugins",
        version: VersionFrom::Pinned("v1.10.0"),
        // The plugins the node's networks use (ptp for kindnet-style pod networks, host-local
        // IPAM, portmap for hostPort, loopback, bridge); see docs/DECISIONS.md.
        packages: &[
            "plugins/main/ptp",
            "plugins/ipam/host-local",
            "plugins/meta/portmap",
            "plugins/main/loopback",
            "plugins/main/bridge",
        ],
        outputs: &["ptp", "host-local", "portmap", "loopback", "bridge"],
        ldflags: "-s -w -X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion={version}",
        tags: "",
        cgo: None,
        main_folder: None,
        images: &[Image::Node],
        version_label: Some("cni"),
    },
    GoArtifact {
        name: "local-path-provisioner",
        title: "local-path-provisioner",
        module: "github.com/rancher/local-path-provisioner",
        // The storage-provisioner addon: the release the module proxy serves.
        version: VersionFrom::Pinned("v0.0.30"),
        packages: &[""],
        outputs: &["local-path-provisioner"],
        // Its version is a constant of main: nothing to stamp.
        ldflags: "-s -w",
        tags: "",
        cgo: None,
        main_folder: None,
        images: &[Image::LocalPathProvisioner],
        version_label: None,
    },
    GoArtifact {
        name: "metrics-server",
        title: "metrics-server",
        module: "sigs.k8s.io/metrics-server",
        // The metrics-server addon (`kubectl top`): the release the module proxy serves.
        version: VersionFrom::Pinned("v0.8.0"),
        packages: &["cmd/metrics-server"],
        outputs: &["metrics-server"],
        // As upstream's Makefile: client-go's version variables name the release.
        ldflags: "-s -w -X k8s.io/client-go/pkg/version.gitVersion={version} \
                  -X k8s.io/client-go/pkg/version.gitCommit={commit}",
        tags: "",
        cgo: None,
        main_folder: None,
        images: &[Image::MetricsServer],
        version_label: None,
    },
    GoArtifact {
        name: "registry",
        title: "the registry (distribution)",
        module: "github.com/distribution/distribution/v3",
        // The registry addon: the reference registry, v3.1.x.
        version: VersionFrom::Pinned("v3.1.0"),
        packages: &["cmd/registry"],
        outputs: &["registry"],
        // As upstream's Makefile, so `registry --version` names the release and its commit.
        ldflags: "-s -w -X github.com/distribution/distribution/v3/version.version={version} \
                  -X github.com/distribution/distribution/v3/version.revision={commit} \
                  -X github.com/distribution/distribution/v3/version.mainpkg=github.com/distribution/distribution/v3",
        tags: "",
        cgo: None,
        main_folder: None,
        images: &[Image::Registry],
        version_label: None,
    },
    GoArtifact {
        name: "traefik",
        title: "Traefik",
        module: "github.com/traefik/traefik/v3",
        // The ingress addon. v3.6 is the newest line the module proxy serves whole: v3.7 needs a
        // go-http-auth commit and DNS SDKs (through lego v5) it refuses, and a folder replace
        // (dynamic/ext) its module zip lacks.
        version: VersionFrom::Pinned("v3.6.12"),
        packages: &["cmd/traefik"],
        outputs: &["traefik"],
        // As upstream's release (`traefik version` names the release and its codename); the
        // build date is left out so two builds of a release give the same binary.
        ldflags: "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version={version} \
                  -X github.com/traefik/traefik/v3/pkg/version.Codename=ramequin",
        tags: "",
        cgo: None,
        main_folder: None,
        images: &[Image::Traefik],
        version_label: None,
    },
];

/// The table's row of a Go artifact, by name.
pub fn go_artifact(name: &str) -> Option<&'static GoArtifact> {
    GO_ARTIFACTS.iter().find(|a| a.name == name)
}

impl GoArtifact {
    /// The module version this artifact is built at for a Kubernetes release.
    pub fn version(&self, resolution: &Resolution) -> String {
        match self.version {
            VersionFrom::Pinned(v) => v.to_string(),
            VersionFrom::KubeadmEtcd => resolution.etcd_version.clone(),
            VersionFrom::KubeadmCoredns => resolution.coredns_version.clone(),
        }
    }

    /// The Go packages to build (full import paths), `.` for the wrapper's own main package.
    pub fn import_paths(&self) -> Vec<String> {
        if self.main_folder.is_some() {
            return vec![".".to_string()];
        }
        self.packages
            .iter()
            .map(|p| {
                if p.is_empty() {
                    self.module.to_string()
                } else {
                    format!("{}/{p}", self.module)
                }
            })
            .collect()
    }

    /// The wrapper module's path.
    pub fn wrapper_module(&self) -> String {
        format!("localkube.local/{}-build", self.name)
    }

    /// `-o`: the one binary's path, or the folder `go build` writes each package's binary into.
    pub fn output_arg(&self, out_dir: &str) -> String {
        let out_dir = out_dir.trim_end_matches('/');
        match self.outputs {
            [one] if self.import_paths().len() == 1 => format!("{out_dir}/{one}"),
            _ => format!("{out_dir}/"),
        }
    }

    /// The `go build` arguments of this artifact.
    pub fn build_args(
        &self,
        out_dir: &str,
        version: &str,
        commit: &str,
        verbose: bool,
    ) -> Vec<String> {
        go_build_args(
            &self.output_arg(out_dir),
            (!self.tags.is_empty()).then_some(self.tags),
            &render_ldflags(self.ldflags, version, commit),
            &self.import_paths(),
            verbose,
        )
    }
}

/// Fills an ldflags template (see `GoArtifact::ldflags`).
pub fn render_ldflags(template: &str, version: &str, commit: &str) -> String {
    template
        .replace("{version}", version)
        .replace("{bare_version}", version.trim_start_matches('v'))
        .replace("{commit}", commit)
}

/// Checks the table: names unique, one output per package, versions and labels well formed.
pub fn check_table(table: &[GoArtifact]) -> Result<()> {
    for (i, a) in table.iter().enumerate() {
        if table[..i].iter().any(|b| b.name == a.name) {
            bail!("the Go artifact {} is listed twice", a.name);
        }
        if a.main_folder.is_some() {
            if a.outputs.len() != 1 {
                bail!("{}: a main folder makes one binary", a.name);
            }
        } else {
            let paths = a.import_paths();
            let named_by_path = paths
                .iter()
                .zip(a.outputs)
                .all(|(path, out)| path.rsplit('/').next() == Some(*out));
            if a.outputs.len() != a.packages.len() || (a.packages.len() > 1 && !named_by_path) {
                bail!(
                    "{}: outputs {:?} are not the binaries of packages {:?}",
                    a.name,
                    a.outputs,
                    a.packages
                );
            }
        }
        if let VersionFrom::Pinned(v) = a.version
            && !v.starts_with('v')
        {
            bail!("{}: module versions start with v, not {v}", a.name);
        }
        for placeholder in a.ldflags.match_indices('{').map(|(i, _)| &a.ldflags[i..]) {
            if !["{version}", "{bare_version}", "{commit}"]
                .iter()
                .any(|p| placeholder.starts_with(p))
            {
                bail!("{}: unknown placeholder in ldflags {}", a.name, a.ldflags);
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Kubernetes and netinit

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

/// Go packages whose version variables the Kubernetes ldflags set (both: component-base for the
/// servers' `--version`, client-go for the version clients send and kubectl prints).
pub(super) const KUBERNETES_VERSION_PACKAGES: [&str; 2] = [
    "k8s.io/component-base/version",
    "k8s.io/client-go/pkg/version",
];

/// The folder of netinit, the control-plane images' entrypoint, inside `images/`: a Go module of
/// localkube's own, keyed by its files.
pub const NETINIT_DIR: &str = "netinit";
/// Stripped, as upstream's release binaries.
pub const NETINIT_LDFLAGS: &str = "-s -w";

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

// ---------------------------------------------------------------------------------------------
// Commands

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

/// `go build` arguments: outputs into `out` (a file, or a folder when it ends with `/`),
/// upstream's flags.
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

/// The environment of every `go` command: Linux binaries for the engine's machine, static unless
/// `cgo`, modules resolved from the wrapper's go.mod (`-mod=mod`), no toolchain switching.
pub fn go_env(goarch: &str, cgo: bool) -> Vec<(&'static str, String)> {
    vec![
        ("CGO_ENABLED", if cgo { "1" } else { "0" }.into()),
        ("GOOS", "linux".into()),
        ("GOARCH", goarch.into()),
        ("GOFLAGS", "-mod=mod -buildvcs=false".into()),
        ("GOTOOLCHAIN", "local".into()),
        ("GOWORK", "off".into()),
        ("GO111MODULE", "on".into()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_consistent() {
        check_table(GO_ARTIFACTS).unwrap();
        let containerd = go_artifact("containerd").unwrap();
        assert!(
            containerd
                .ldflags
                .contains("containerd/v2/version.Version={version}")
        );
        let mut twice = GO_ARTIFACTS.to_vec();
        twice.push(GO_ARTIFACTS[0]);
        assert!(check_table(&twice).is_err());
        let wrong = GoArtifact {
            outputs: &["containerd", "ctr", "containerd-shim-runc-v2"],
            ..*containerd
        };
        assert!(check_table(&[wrong]).is_err());
        let unknown = GoArtifact {
            ldflags: "-X a.b={tag}",
            ..*containerd
        };
        assert!(check_table(&[unknown]).is_err());
    }

    #[test]
    fn a_row_spells_its_go_build() {
        let containerd = go_artifact("containerd").unwrap();
        let args = containerd.build_args("/o", "v2.3.7", "abcdef0", false);
        assert_eq!(
            &args[..5],
            ["build", "-o", "/o/", "-tags", "no_btrfs,urfave_cli_no_docs"]
        );
        assert!(args.contains(
            &"github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2".to_string()
        ));
        let ldflags = &args[args.iter().position(|a| a == "-ldflags").unwrap() + 1];
        assert!(ldflags.contains("version.Version=v2.3.7 "), "{ldflags}");
        assert!(ldflags.contains("version.Revision=abcdef0 "), "{ldflags}");

        let runc = go_artifact("runc").unwrap();
        let args = runc.build_args("/o/", "v1.5.3", "1234567", false);
        assert_eq!(args[2], "/o/runc");
        assert_eq!(args.last().unwrap(), "github.com/opencontainers/runc");
        assert!(args.iter().any(|a| a.contains("main.version=1.5.3 ")));
        assert!(runc.cgo.is_some());

        let etcd = go_artifact("etcd").unwrap();
        let args = etcd.build_args("/o", "v3.6.6", "abcdef0", false);
        assert_eq!(args[2], "/o/etcd");
        assert_eq!(args.last().unwrap(), ".");
        assert_eq!(
            args[args.len() - 2],
            "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=abcdef0"
        );
        assert_eq!(etcd.wrapper_module(), "localkube.local/etcd-build");

        let coredns = go_artifact("coredns").unwrap();
        assert_eq!(coredns.import_paths(), ["github.com/coredns/coredns"]);
        assert!(
            render_ldflags(coredns.ldflags, "v1.13.1", "1db4568")
                .ends_with("coremain.GitCommit=1db4568")
        );
        let cni = go_artifact("cni-plugins").unwrap();
        assert_eq!(cni.output_arg("/o"), "/o/");
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
    fn commits_and_dates() {
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
        let env = go_env("amd64", false);
        assert!(env.contains(&("CGO_ENABLED", "0".into())));
        assert!(env.contains(&("GOTOOLCHAIN", "local".into())));
        assert!(go_env("amd64", true).contains(&("CGO_ENABLED", "1".into())));
    }
}
