//! The Go side: the machine's toolchain, module downloads through the module proxy, and the builds
//! of Kubernetes, etcd and CoreDNS from their modules through wrapper modules.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use super::cache::{Cache, Status};
use super::counting;
use super::process::{self, Output};
use crate::plan::images::{
    self, Artifact, KUBERNETES_BUILD_TAGS, KUBERNETES_COMMANDS, Resolution, Toolchain,
};
use crate::ui::Ui;

/// Where to get Go, for error messages.
const GET_GO: &str = "install it from https://go.dev/dl/ (or your distribution's golang package, if new enough) \
                      and put its bin folder first on PATH";

/// `go env GOVERSION`, with a clear error when there is no `go`.
pub async fn go_version(known_need: Option<&str>) -> Result<String> {
    let need = match known_need {
        Some(v) => format!("Go {v} or newer"),
        None => {
            "a recent Go (the version the `go` line of k8s.io/kubernetes' go.mod names)".to_string()
        }
    };
    match process::capture(
        "go",
        &["env", "GOVERSION"],
        Path::new("."),
        &[("GOTOOLCHAIN", "local".into())],
    )
    .await
    {
        Ok(v) if v.trim().starts_with("go") => Ok(v.trim().to_string()),
        Ok(v) => bail!(
            "`go env GOVERSION` printed '{}', not a Go release: localkube needs {need}; {GET_GO}",
            v.trim()
        ),
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::NotFound) =>
        {
            bail!(
                "localkube compiles Kubernetes, etcd and CoreDNS from their Go modules and needs the Go toolchain, \
             but there is no `go` on PATH: it needs {need}; {GET_GO}"
            )
        }
        Err(e) => Err(e.context("running `go env GOVERSION`")),
    }
}

/// Fails with what to do when the toolchain is older than a module's `go` line.
pub fn check_go(toolchain: &Toolchain, need: &str, what: &str) -> Result<()> {
    if images::go_satisfies(&toolchain.go_version, need) {
        return Ok(());
    }
    bail!(
        "{what} needs Go {need} or newer (the `go` line of its go.mod), but this machine's `go` is {}: {GET_GO}",
        toolchain.go_version
    )
}

/// `go mod download -json` of one module: where its files landed.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Download {
    pub error: Option<String>,
    pub info: Option<PathBuf>,
    pub go_mod: Option<PathBuf>,
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Info {
    #[serde(default)]
    pub time: String,
    #[serde(default)]
    pub origin: Option<Origin>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Origin {
    #[serde(default)]
    pub hash: String,
}

impl Download {
    pub fn gomod_text(&self) -> Result<String> {
        let path = self
            .go_mod
            .as_ref()
            .context("go mod download named no go.mod")?;
        fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
    }

    pub fn info(&self) -> Result<Info> {
        let path = self
            .info
            .as_ref()
            .context("go mod download named no .info")?;
        let text = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_slice(&text).with_context(|| format!("reading {}", path.display()))
    }

    pub fn dir(&self) -> Result<&Path> {
        self.dir
            .as_deref()
            .context("go mod download named no folder")
    }
}

/// Downloads `module@version` into the module cache (a no-op when it is there).
pub async fn download(
    what: &str,
    module_at_version: &str,
    toolchain: &Toolchain,
    scratch: &Path,
    out: &mut Output<'_>,
) -> Result<Download> {
    match try_download(what, module_at_version, toolchain, scratch, out).await? {
        Ok(download) => Ok(download),
        Err(_) => Err(out.failure(
            what,
            &format!("go mod download -json {module_at_version}"),
            "failed (is the Go module proxy reachable? GOPROXY decides which one is used)",
        )),
    }
}

/// `download`, with the error go reports about the module given back rather than failed on.
pub async fn try_download(
    what: &str,
    module_at_version: &str,
    toolchain: &Toolchain,
    scratch: &Path,
    out: &mut Output<'_>,
) -> Result<std::result::Result<Download, String>> {
    let args: Vec<String> = ["mod", "download", "-json", module_at_version]
        .map(str::to_string)
        .to_vec();
    let env = images::go_env(&toolchain.goarch, false);
    // The JSON goes to stdout, which `process::run` merges with stderr: capture it apart.
    let shown = process::display_command("go", &args);
    out.ui.detail(format!("$ {shown}"));
    let mut command = tokio::process::Command::new("go");
    command
        .args(&args)
        .current_dir(scratch)
        .stdin(std::process::Stdio::null());
    for (name, value) in &env {
        command.env(name, value);
    }
    let output = command
        .output()
        .await
        .map_err(|e| out.failure(what, &shown, format!("could not start: {e}")))?;
    for line in String::from_utf8_lossy(&output.stderr).lines() {
        out.line(line);
    }
    let parsed: Option<Download> = serde_json::from_slice(&output.stdout).ok();
    if let Some(Download {
        error: Some(error), ..
    }) = &parsed
    {
        for line in error.lines() {
            out.line(line);
        }
        return Ok(Err(error.clone()));
    }
    match parsed {
        Some(download) if output.status.success() => Ok(Ok(download)),
        _ => Err(out.failure(what, &shown, format!("exited with {}", output.status))),
    }
}

/// What a Kubernetes release pins (see `Artifact::Resolve`): read from the cache, else from the
/// downloaded k8s.io/kubernetes module and stored.
pub async fn resolve(
    cache: &Cache,
    version: &str,
    toolchain: &Toolchain,
    ui: &Ui,
    rebuilt: &mut Vec<String>,
) -> Result<Resolution> {
    let key = images::resolve_key(version);
    match cache.verify(Artifact::Resolve, &key) {
        Status::Valid(_) => {
            let path = cache
                .artifact_dir(Artifact::Resolve, &key)
                .join("resolution.json");
            let text = fs::read(&path)?;
            return serde_json::from_slice(&text)
                .with_context(|| format!("reading {}", path.display()));
        }
        Status::Corrupt(why) => {
            ui.detail(format!("resolution of {version}: {why}; reading it again"))
        }
        Status::Missing => {}
    }
    let step = ui.step(format!("reading what k8s.io/kubernetes {version} pins"));
    let staging = cache.staging("resolve")?;
    let mut out = Output::new(ui, &step, cache.log_path("resolve", &key));
    let what = format!("the resolution of k8s.io/kubernetes {version}");
    let download = download(
        &what,
        &format!("k8s.io/kubernetes@{version}"),
        toolchain,
        staging.path(),
        &mut out,
    )
    .await?;
    let gomod = download.gomod_text()?;
    let info = download.info()?;
    let constants_path = download
        .dir()?
        .join("cmd/kubeadm/app/constants/constants.go");
    let constants = fs::read_to_string(&constants_path)
        .with_context(|| format!("reading {}", constants_path.display()))?;
    let pins = images::parse_kubeadm_constants(&constants)
        .with_context(|| format!("reading {}", constants_path.display()))?;
    let parsed = images::parse_gomod(&gomod)?;
    let resolution = Resolution {
        kubernetes_version: version.to_string(),
        go_directive: parsed.go.clone(),
        wrapper_gomod: images::kubernetes_wrapper_gomod(version, &gomod)?,
        git_commit: info.origin.map(|o| o.hash).unwrap_or_default(),
        build_date: images::build_date(&info.time)?,
        etcd_version: pins.etcd,
        coredns_version: pins.coredns,
        pause_version: pins.pause,
    };
    let dir = staging.path().join("out");
    fs::create_dir_all(&dir)?;
    fs::write(
        dir.join("resolution.json"),
        serde_json::to_vec_pretty(&resolution)?,
    )?;
    fs::write(dir.join("kubernetes.go.mod"), &gomod)?;
    let inputs = BTreeMap::from([("kubernetes".to_string(), version.to_string())]);
    cache.commit(Artifact::Resolve, &key, &dir, inputs)?;
    rebuilt.push(Artifact::Resolve.name().to_string());
    step.done_with(format!(
        "Go ≥ {}, etcd {}, CoreDNS {}",
        resolution.go_directive, resolution.etcd_version, resolution.coredns_version
    ));
    Ok(resolution)
}

/// A Go build of an artifact into `out` (a fresh folder): Kubernetes, a `GO_ARTIFACTS` row or
/// netinit.
pub(super) async fn build(
    artifact: Artifact,
    inputs: &super::artifact::BuildInputs<'_>,
    work: &Path,
    out: &Path,
    output: &mut Output<'_>,
) -> Result<BTreeMap<String, String>> {
    let super::artifact::BuildInputs {
        resolution,
        toolchain,
        images_dir,
        ..
    } = *inputs;
    let version = &resolution.kubernetes_version;
    let src = work.join("src");
    fs::create_dir_all(&src)?;
    // `-v` prints each package as it is compiled: the progress counts them.
    let verbose = true;
    let cgo = artifact.go().is_some_and(|row| row.cgo.is_some());
    let env = images::go_env(&toolchain.goarch, cgo);
    let mut recorded = BTreeMap::from([
        ("go".to_string(), toolchain.go_version.clone()),
        (
            "platform".to_string(),
            format!("linux/{}", toolchain.goarch),
        ),
    ]);
    let (what, args) = match artifact {
        Artifact::Kubernetes => {
            let what = format!("the Kubernetes {version} binaries");
            check_go(
                toolchain,
                &resolution.go_directive,
                &format!("k8s.io/kubernetes {version}"),
            )?;
            fs::write(src.join("go.mod"), &resolution.wrapper_gomod)?;
            let ldflags = images::kubernetes_ldflags(
                version,
                &resolution.git_commit,
                &resolution.build_date,
            )?;
            let packages: Vec<String> = KUBERNETES_COMMANDS
                .iter()
                .map(|c| format!("k8s.io/kubernetes/cmd/{c}"))
                .collect();
            let out_dir = format!("{}/", out.display());
            recorded.insert("go.mod".into(), resolution.wrapper_gomod.clone());
            recorded.insert("ldflags".into(), ldflags.clone());
            let args = images::go_build_args(
                &out_dir,
                Some(KUBERNETES_BUILD_TAGS),
                &ldflags,
                &packages,
                verbose,
            );
            (what, args)
        }
        Artifact::Go(_) => {
            let row = artifact.go().context("not a row of GO_ARTIFACTS")?;
            table_build(
                row,
                resolution,
                toolchain,
                images_dir,
                &src,
                out,
                &mut recorded,
                output,
            )
            .await?
        }
        Artifact::Netinit => local_module(
            "netinit (images/netinit)",
            &images_dir.join(images::NETINIT_DIR),
            &out.join("netinit"),
            images::NETINIT_LDFLAGS,
            toolchain,
            &src,
            &mut recorded,
            verbose,
        )?,
        other => bail!("{} is not built with Go", other.name()),
    };
    // How many packages the build compiles, to show how far it is.
    let list = counting::go_list_args(&args);
    output
        .step
        .update("listing the packages to compile (and downloading modules)");
    let listed = process::capture(
        "go",
        &list.iter().map(String::as_str).collect::<Vec<_>>(),
        &src,
        &env.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>(),
    )
    .await
    .map_err(|e| output.failure(&what, &process::display_command("go", &list), e))?;
    output.count_with(counting::Counter::Packages(
        counting::PackageCounter::from_go_list(&listed),
    ));
    process::run(&what, "go", &args, &src, &env, output).await?;
    recorded.insert("command".into(), process::display_command("go", &args));
    Ok(recorded)
}

/// Prepares the build of a `GO_ARTIFACTS` row in `src`: downloads the module, checks the Go and C
/// toolchains, writes the wrapper go.mod (and copies the row's main folder), and returns what the
/// step is called and the `go build` arguments.
#[allow(clippy::too_many_arguments)] // the pieces of one build
async fn table_build(
    row: &images::GoArtifact,
    resolution: &Resolution,
    toolchain: &Toolchain,
    images_dir: &Path,
    src: &Path,
    out: &Path,
    recorded: &mut BTreeMap<String, String>,
    output: &mut Output<'_>,
) -> Result<(String, Vec<String>)> {
    let version = row.version(resolution);
    let what = format!("{} {version}", row.title);
    for header in row.cgo.unwrap_or(&[]) {
        if !Path::new("/usr/include").join(header.header).is_file() {
            bail!(
                "{what} is built with cgo and needs {} (Debian/Ubuntu: apt-get install {}), which this machine lacks",
                header.header,
                header.debian_package
            );
        }
    }
    let download = download(
        &what,
        &format!("{}@{version}", row.module),
        toolchain,
        src,
        output,
    )
    .await?;
    let gomod_text = download.gomod_text()?;
    let dependency = images::parse_gomod(&gomod_text)?;
    check_go(
        toolchain,
        &dependency.go,
        &format!("{} {version}", row.module),
    )?;
    let gomod = images::plain_wrapper_gomod(&row.wrapper_module(), &gomod_text, &version)?;
    fs::write(src.join("go.mod"), &gomod)?;
    if let Some((dir, folder)) = row.main_folder {
        let main = images_dir.join(dir).join(folder);
        let mut copied = 0;
        for entry in fs::read_dir(&main).with_context(|| format!("reading {}", main.display()))? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "go") {
                fs::copy(&path, src.join(path.file_name().unwrap()))?;
                copied += 1;
            }
        }
        if copied == 0 {
            bail!(
                "{} holds no .go file: the main package of {what} is missing",
                main.display()
            );
        }
    }
    let commit = images::short_commit(&download.info()?.origin.map(|o| o.hash).unwrap_or_default());
    let verbose = true;
    let args = row.build_args(&out.display().to_string(), &version, &commit, verbose);
    recorded.insert("module".into(), format!("{}@{version}", row.module));
    recorded.insert("go.mod".into(), gomod);
    recorded.insert("cgo".into(), row.cgo.is_some().to_string());
    Ok((what, args))
}

/// The `go build` of one of localkube's own Go modules (under `images/`). The module is copied
/// out first, so the build writes nothing (go.sum updates included) into the source tree.
#[allow(clippy::too_many_arguments)] // the pieces of one build, named at the two call sites
fn local_module(
    what: &str,
    source: &Path,
    binary: &Path,
    ldflags: &str,
    toolchain: &Toolchain,
    src: &Path,
    recorded: &mut BTreeMap<String, String>,
    verbose: bool,
) -> Result<(String, Vec<String>)> {
    copy_dir(source, src)?;
    let gomod = fs::read_to_string(src.join("go.mod"))?;
    let dependency = images::parse_gomod(&gomod)?;
    check_go(toolchain, &dependency.go, &source.display().to_string())?;
    recorded.insert("source".into(), source.display().to_string());
    recorded.insert("ldflags".into(), ldflags.to_string());
    let args = images::go_build_args(
        &binary.display().to_string(),
        None,
        ldflags,
        &[".".into()],
        verbose,
    );
    Ok((what.to_string(), args))
}

/// Copies a folder's files (recursively) into another.
fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), &target)
                .with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
}
