//! Nothing is removed by its name alone: a container, volume or network that merely has the name
//! localkube would give one of a profile's objects is another profile's, another tool's or the
//! user's, and stays. The story: profile `own`'s registry addon is named `own-registry`, the
//! name profile `own-registry`'s first node had before `-registry` became a reserved suffix.

use localkube::effects::owned::{self, Kind, Owner};

use super::support::{Cluster, Sandbox, docker, docker_ok, stderr};

fn exists(kind: Kind, name: &str) -> bool {
    docker(&[kind.as_str(), "inspect", name]).status.success()
}

/// An empty image to create look-alike containers from (created, never started): no pull.
const SCRATCH: &str = "localkube-test/scratch:ownership";

fn scratch_image() {
    let empty = tempfile::NamedTempFile::new().expect("temp file");
    // An empty tar archive: two zero blocks.
    std::fs::write(empty.path(), [0u8; 1024]).expect("write empty tar");
    let path = empty.path().to_str().expect("utf-8 path");
    docker_ok(&["import", path, SCRATCH]);
}

/// Objects named like `profile`'s, carrying `labels` (none: another tool's; another profile's
/// label: that profile's). Removed when dropped.
struct LookAlikes(Vec<(Kind, String)>);

impl LookAlikes {
    fn make(objects: &[(Kind, &str)], labels: &[&str]) -> Self {
        scratch_image();
        let mut made = Vec::new();
        for (kind, name) in objects {
            let mut args = vec![kind.as_str(), "create"];
            for label in labels {
                args.extend(["--label", label]);
            }
            match kind {
                Kind::Container => args.extend(["--name", name, SCRATCH, "/none"]),
                Kind::Volume | Kind::Network => args.push(name),
            }
            docker_ok(&args);
            made.push((*kind, name.to_string()));
        }
        LookAlikes(made)
    }
}

impl Drop for LookAlikes {
    fn drop(&mut self) {
        for (kind, name) in &self.0 {
            let _ = docker(&[kind.as_str(), "rm", "-f", name]);
        }
        let _ = docker(&["image", "rm", SCRATCH]);
    }
}

#[test]
fn an_unlabelled_look_alike_is_never_removed() {
    let objects = [
        (Kind::Container, "ownfn-registry"),
        (Kind::Volume, "ownfn-registry-data"),
        (Kind::Network, "localkube-ownfn"),
    ];
    let unlabelled = LookAlikes::make(&objects, &[]);
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let engine = runtime
        .block_on(localkube::effects::docker::connect())
        .expect("Docker");
    let profile = Owner::Profile("ownfn".into());
    for (kind, name) in &objects {
        let refused = runtime
            .block_on(owned::remove(&engine, *kind, name, &profile))
            .expect_err("someone else's object removed");
        let why = format!("{refused:#}");
        assert!(
            why.contains(&format!("Docker {} named '{name}'", kind.as_str()))
                && why.contains("it has no io.localkube.profile label"),
            "{why}"
        );
        assert!(exists(*kind, name), "{} {name} is gone", kind.as_str());
    }
    drop(unlabelled);

    // The profile's own objects go; one labelled for another profile stays.
    let own = LookAlikes::make(&objects[1..], &["io.localkube.profile=ownfn"]);
    for (kind, name) in &objects[1..] {
        let removed = runtime
            .block_on(owned::remove(&engine, *kind, name, &profile))
            .expect("the profile's own object removed");
        assert!(removed && !exists(*kind, name), "{} {name}", kind.as_str());
    }
    drop(own);
    let other = LookAlikes::make(&objects[1..2], &["io.localkube.profile=ownfn-registry"]);
    let refused = runtime
        .block_on(owned::remove(&engine, Kind::Volume, objects[1].1, &profile))
        .expect_err("another profile's volume removed");
    assert!(
        format!("{refused:#}").contains("says 'ownfn-registry'"),
        "{refused:#}"
    );
    assert!(exists(Kind::Volume, objects[1].1));
    drop(other);
}

#[test]
fn disabling_the_registry_leaves_a_look_alike_of_another_profile() {
    // A profile named like another's registry is refused at once, before anything is made.
    let sb = Sandbox::new();
    let out = sb.run(&["-p", "own-registry", "start"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("'-registry'") && stderr(&out).contains("profile 'own'"),
        "{}",
        stderr(&out)
    );
    assert!(!exists(Kind::Network, "localkube-own-registry"));

    // What such a profile made before the suffix was reserved: its first node and a volume.
    let _theirs = LookAlikes::make(
        &[
            (Kind::Container, "own-registry"),
            (Kind::Volume, "own-registry-data"),
        ],
        &[
            "io.localkube.profile=own-registry",
            "io.localkube.role=node",
        ],
    );
    let cluster = Cluster::start("own", &[]);
    let out = cluster.localkube(&["addons", "disable", "registry"]);
    let why = stderr(&out);
    assert!(
        !out.status.success()
            && why.contains("container named 'own-registry'")
            && why.contains("says 'own-registry'"),
        "{why}"
    );
    assert!(exists(Kind::Container, "own-registry"), "{why}");
    assert!(exists(Kind::Volume, "own-registry-data"), "{why}");
    assert_eq!(
        docker_ok(&[
            "container",
            "inspect",
            "-f",
            "{{index .Config.Labels \"io.localkube.profile\"}}",
            "own-registry"
        ]),
        "own-registry"
    );
}
