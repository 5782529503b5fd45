//! A localkube that travels: the installed binary builds from any folder (its image definitions
//! are inside it), image archives start a cluster on a machine with no Go and an empty cache, a
//! damaged archive is refused before anything is imported, and prune frees what it says.

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use localkube::plan::version::DEFAULT_KUBERNETES_VERSION as VERSION;

use super::support::{Cluster, Sandbox, assert_success, path_without_go, stderr, stdout};

/// The folder this module's tests share: the installed binary and the archive (1.4 GB together).
/// It is in Cargo's target folder and emptied at first use, so a run replaces the last run's. A
/// temporary folder held in a static was never removed (statics are not dropped): every run left
/// 1.4 GB in /tmp.
fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("distribute");
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create the distribute tests' folder");
        dir
    })
}

/// The binary under test copied to a folder of its own: nothing ties it to the source tree. The
/// definitions are embedded at compile time, so this copy is what `cargo install` puts in place
/// (scripts/check-install.sh runs `cargo install` itself; here it would cost CI a second full
/// compile, since `cargo install` resolves features without the test dependencies).
fn installed() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let elsewhere = scratch().join("elsewhere");
        fs::create_dir_all(&elsewhere).unwrap();
        let copy = elsewhere.join("localkube");
        fs::copy(super::support::localkube_bin(), &copy).expect("copy the binary");
        copy
    })
}

/// A sandbox running the installed copy from an empty folder, with no developer override.
fn installed_sandbox() -> Sandbox {
    let mut sb = Sandbox::new();
    sb.binary = Some(installed().to_path_buf());
    sb
}

fn in_empty_folder(sb: &Sandbox, args: &[&str]) -> std::process::Output {
    let cwd = sb.path("empty");
    fs::create_dir_all(&cwd).unwrap();
    sb.localkube()
        .args(args)
        .current_dir(&cwd)
        .env_remove("LOCALKUBE_IMAGES_DIR")
        .output()
        .expect("run localkube")
}

/// The default version's images saved once (from the warm shared cache) by the installed binary.
fn archive() -> &'static Path {
    static ARCHIVE: OnceLock<PathBuf> = OnceLock::new();
    ARCHIVE.get_or_init(|| {
        let sb = installed_sandbox();
        let path = scratch().join(format!("localkube-{VERSION}.tar"));
        let path_text = path.display().to_string();
        let out = in_empty_folder(&sb, &["images", "save", &path_text]);
        assert_success(&out, "images save");
        assert!(
            stdout(&out).contains(&format!("Kubernetes {VERSION} and its kubectl")),
            "{}",
            stdout(&out)
        );
        path
    })
}

/// PATH without any folder that holds a `go`: a machine with no Go toolchain.
/// A machine with no Go and an empty cache, running the installed copy.
fn bare_machine() -> Sandbox {
    let sb = installed_sandbox();
    let cache = sb.path("cache");
    sb.with_env("LOCALKUBE_CACHE", cache)
        .with_env("PATH", path_without_go())
}

#[test]
fn the_installed_binary_builds_images_from_an_empty_folder() {
    let sb = installed_sandbox();
    let out = in_empty_folder(&sb, &["images", "build"]);
    assert_success(&out, "images build from an empty folder");
    // The embedded definitions give the same build keys as the source tree: the warm cache is
    // current, nothing is rebuilt.
    assert!(
        stdout(&out).contains("nothing rebuilt"),
        "stdout:\n{}\nstderr:\n{}",
        stdout(&out),
        stderr(&out)
    );
    let cache = localkube::effects::home::Home::from_env()
        .unwrap()
        .cache()
        .to_path_buf();
    let digest = localkube::effects::image_build::definitions::digest();
    assert!(
        cache
            .join("definitions")
            .join(&digest[..16])
            .join("node")
            .join("Dockerfile")
            .is_file(),
        "the embedded definitions were not written out into the cache"
    );
}

#[test]
fn an_archive_starts_a_cluster_with_no_go_and_an_empty_cache() {
    let archive = archive().display().to_string();
    let sb = bare_machine();
    let cache = sb.path("cache");
    assert!(
        Command::new("sh")
            .args(["-c", "command -v go"])
            .env("PATH", path_without_go())
            .output()
            .unwrap()
            .stdout
            .is_empty(),
        "go is still on the PATH"
    );
    let cluster = Cluster::start_in(sb, "distribute-preload", &["--images", &archive]);
    // Nothing was compiled: the cache holds the load's record and kubectl, no artifact.
    assert!(!cache.join("artifacts").exists(), "start built artifacts");
    assert!(
        cache
            .join("preloaded")
            .join(format!("{VERSION}.json"))
            .is_file()
    );
    cluster.kubectl_until(
        &["get", "nodes", "--no-headers"],
        Duration::from_secs(120),
        |text| text.contains(" Ready "),
    );
    let nodes = cluster.kubectl_ok(&[
        "get",
        "nodes",
        "-o",
        "jsonpath={.items[0].status.nodeInfo.kubeletVersion}",
    ]);
    assert_eq!(nodes.trim(), VERSION);
    // A second start of the same version needs nothing either: `images build` says so without Go.
    let out = cluster.localkube(&["images", "build"]);
    assert_success(&out, "images build after a load");
    assert!(stdout(&out).contains("nothing rebuilt"), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("loaded from an image archive"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_damaged_archive_is_refused_and_nothing_is_imported() {
    let good = archive();
    let size = fs::metadata(good).unwrap().len();
    let dir = tempfile::tempdir().unwrap();

    // One byte changed in the middle (inside the images), and a copy cut short.
    let flipped = dir.path().join("flipped.tar");
    fs::copy(good, &flipped).unwrap();
    let mut file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&flipped)
        .unwrap();
    file.seek(SeekFrom::Start(size / 2)).unwrap();
    let mut byte = [0u8];
    file.read_exact(&mut byte).unwrap();
    file.seek(SeekFrom::Start(size / 2)).unwrap();
    file.write_all(&[!byte[0]]).unwrap();
    drop(file);
    let truncated = dir.path().join("truncated.tar");
    {
        let mut from = fs::File::open(good).unwrap().take(size / 3);
        let mut to = fs::File::create(&truncated).unwrap();
        std::io::copy(&mut from, &mut to).unwrap();
    }

    for (archive, expected) in [(&flipped, "the sha256 of images.tar"), (&truncated, "")] {
        let sb = bare_machine();
        let cache = sb.path("cache");
        let archive_text = archive.display().to_string();
        let out = sb.run(&["images", "load", &archive_text]);
        assert!(!out.status.success(), "a damaged archive was loaded");
        let err = stderr(&out);
        assert!(
            err.contains("is not a usable localkube image archive"),
            "{err}"
        );
        assert!(err.contains(expected), "{err}");
        assert!(err.contains("Nothing was imported"), "{err}");
        assert!(!err.contains("importing"), "the import began:\n{err}");
        assert!(!cache.join("preloaded").exists() && !cache.join("bin").exists());

        // `start --images` refuses it the same way, before making a profile.
        let out = sb.run(&[
            "-p",
            "distribute-damaged",
            "start",
            "--images",
            &archive_text,
        ]);
        assert!(!out.status.success());
        assert!(
            stderr(&out).contains("Nothing was imported"),
            "{}",
            stderr(&out)
        );
        assert!(
            !sb.home()
                .join("profiles")
                .join("distribute-damaged")
                .exists()
        );
    }
}

/// A version no real cluster uses, for images and cache entries this test makes itself. Prune is
/// always given `--kubernetes-version` here: Docker is shared, and an unrestricted prune from a
/// sandbox with no profiles would remove every other version's images.
const FAKE: &str = "v1.99.7";
const FAKE_IMAGE: &str = "localkube/prune-test:v1.99.7";

fn write_artifact(cache: &Path, name: &str, key: &str, bytes: usize) {
    let dir = cache.join("artifacts").join(name).join(key);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(name), vec![7u8; bytes]).unwrap();
    fs::write(
        dir.join("manifest.json"),
        format!(r#"{{"artifact":"{name}","key":"{key}","files":{{}},"inputs":{{"kubernetes":"{FAKE}"}}}}"#),
    )
    .unwrap();
}

/// The cache's artifacts, kubectl binaries and records (not its lock file, which prune writes).
fn du(cache: &Path) -> u64 {
    ["artifacts", "bin", "versions", "preloaded"]
        .iter()
        .map(|dir| localkube::effects::image_build::usage::tree_size(&cache.join(dir)))
        .sum()
}

fn remove_fake_image() {
    let _ = Command::new("docker").args(["rmi", FAKE_IMAGE]).output();
}

#[test]
fn prune_frees_what_it_says_and_keeps_what_a_profile_uses() {
    let sb = Sandbox::new();
    let cache = sb.path("cache");
    let sb = sb.with_env("LOCALKUBE_CACHE", &cache);
    // A profile running the default version (a dry run makes it without Docker).
    assert_success(
        &sb.run(&["-p", "distribute-prune", "start", "--dry-run"]),
        "start --dry-run",
    );

    // What the default version uses, and what only the fake version used.
    write_artifact(&cache, "pause", "kept", 1_000_000);
    write_artifact(&cache, "pause", "unused", 3_000_000);
    fs::create_dir_all(cache.join("versions")).unwrap();
    for (version, key) in [(VERSION, "kept"), (FAKE, "unused")] {
        fs::write(
            cache.join("versions").join(format!("{version}.json")),
            format!(r#"{{"kubernetes_version":"{version}","artifacts":[["pause","{key}"]]}}"#),
        )
        .unwrap();
    }
    fs::create_dir_all(cache.join("bin").join(FAKE)).unwrap();
    fs::write(
        cache.join("bin").join(FAKE).join("kubectl"),
        vec![1u8; 2_000_000],
    )
    .unwrap();

    // An image of the fake version with content no other image shares.
    remove_fake_image();
    let layer = tempfile::tempdir().unwrap();
    let mut noise = vec![0u8; 4_000_000];
    fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut noise)
        .unwrap();
    fs::write(layer.path().join("noise"), &noise).unwrap();
    let tar = layer.path().join("layer.tar");
    assert_success(
        &Command::new("tar")
            .args([
                "-C",
                &layer.path().display().to_string(),
                "-cf",
                &tar.display().to_string(),
                "noise",
            ])
            .output()
            .unwrap(),
        "tar",
    );
    assert_success(
        &Command::new("docker")
            .args([
                "import",
                "--change",
                &format!(
                    "LABEL io.localkube.kubernetes-version={FAKE} io.localkube.component=prune-test"
                ),
                &tar.display().to_string(),
                FAKE_IMAGE,
            ])
            .output()
            .unwrap(),
        "docker import",
    );
    let image_size: u64 = String::from_utf8_lossy(
        &Command::new("docker")
            .args(["image", "inspect", "-f", "{{.Size}}", FAKE_IMAGE])
            .output()
            .unwrap()
            .stdout,
    )
    .trim()
    .parse()
    .unwrap();

    let listing = sb.run(&["images", "ls"]);
    assert_success(&listing, "images ls");
    let text = stdout(&listing);
    let fake_row = text
        .lines()
        .find(|l| l.starts_with(FAKE))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(fake_row.contains("images prune` removes it"), "{fake_row}");
    let used_row = text
        .lines()
        .find(|l| l.starts_with(VERSION))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(used_row.contains("distribute-prune"), "{used_row}");

    let prune = |dry: bool| -> serde_json::Value {
        let mut args = vec![
            "images",
            "prune",
            "--kubernetes-version",
            FAKE,
            "-o",
            "json",
        ];
        if dry {
            args.push("--dry-run");
        }
        let out = sb.run(&args);
        assert_success(&out, "images prune");
        serde_json::from_str(&stdout(&out)).unwrap()
    };
    let names = |report: &serde_json::Value| -> Vec<String> {
        report["removed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].as_str().unwrap().to_string())
            .collect()
    };
    let expected_names = [
        "pause/unused".to_string(),
        format!("kubectl {FAKE}"),
        format!("versions/{FAKE}.json"),
        FAKE_IMAGE.to_string(),
    ];

    let before = du(&cache);
    let dry = prune(true);
    assert_eq!(names(&dry), expected_names);
    assert_eq!(du(&cache), before, "--dry-run removed something");
    assert!(
        Command::new("docker")
            .args(["image", "inspect", FAKE_IMAGE])
            .output()
            .unwrap()
            .status
            .success()
    );

    let real = prune(false);
    assert_eq!(names(&real), expected_names);
    assert_eq!(real["freed_bytes"], dry["freed_bytes"]);
    let image_bytes = real["removed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "image")
        .unwrap()["bytes"]
        .as_u64()
        .unwrap();
    assert_eq!(image_bytes, image_size);
    let freed_in_cache = real["freed_bytes"].as_u64().unwrap() - image_bytes;
    assert_eq!(
        before - du(&cache),
        freed_in_cache,
        "the cache shrank by other than prune said"
    );
    assert!(freed_in_cache >= 5_000_000);
    assert!(
        !Command::new("docker")
            .args(["image", "inspect", FAKE_IMAGE])
            .output()
            .unwrap()
            .status
            .success(),
        "the image is still there"
    );
    assert!(
        cache.join("artifacts/pause/kept/pause").is_file(),
        "a used artifact was removed"
    );

    // Nothing left: a second prune frees nothing.
    assert_eq!(prune(false)["freed_bytes"], 0);
    remove_fake_image();
}

#[test]
fn a_used_version_whose_needs_are_not_recorded_stops_prune() {
    let sb = Sandbox::new();
    let cache = sb.path("cache");
    let sb = sb.with_env("LOCALKUBE_CACHE", &cache);
    assert_success(
        &sb.run(&["-p", "distribute-norecord", "start", "--dry-run"]),
        "start --dry-run",
    );
    write_artifact(&cache, "pause", "whose", 1000);
    let out = sb.run(&["images", "prune", "--kubernetes-version", FAKE]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(&format!("Kubernetes {VERSION} needs is not recorded")),
        "{}",
        stderr(&out)
    );
    assert!(cache.join("artifacts/pause/whose/pause").is_file());
}
