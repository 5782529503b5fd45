//! Cluster snapshots (`localkube snapshot`): what one holds, the checks made before anything is
//! touched, and the commands the helper containers run. No I/O here.
//!
//! A snapshot is a folder of parts and a manifest that lists each with its size and sha256:
//! - `etcd.db`: etcd's own snapshot (Maintenance API, taken live by etcdctl), every object;
//! - `node-<n>.tar`: node n's `/var` volume (containerd's images and snapshots, kubelet's state,
//!   local PersistentVolumes' data), with ownership and every extended attribute (containerd's
//!   overlay snapshots mark opaque folders with `trusted.overlay.opaque`);
//! - `pki.tar`: the profile's certificates and keys (CAs, service-account key);
//! - `config.yaml`: the profile's settings.
//!
//! Nodes are stored by number, not name: a node's name is its profile's (`dev`, `dev-m02`), so a
//! snapshot imported as another profile maps node n onto that profile's node n.
//!
//! Volumes are restored beside their data (`.localkube-restore` in the same volume) and swapped
//! in by renames only once every part is in place; the data they replace stays in
//! `.localkube-old` until the cluster has started from the restored data, so a restore that fails
//! at any point puts the old data back.

use serde::{Deserialize, Serialize};

use crate::plan::config::ProfileConfig;
use crate::plan::names;
use crate::plan::profile_name::ProfileName;
use crate::plan::settings::ClusterSettings;

mod commands;
pub use commands::*;

/// The manifest's format; a snapshot of another format is refused.
pub const FORMAT: u32 = 1;
pub const MANIFEST_FILE: &str = "manifest.json";
pub const ETCD_PART: &str = "etcd.db";
pub const PKI_PART: &str = "pki.tar";
pub const CONFIG_PART: &str = "config.yaml";
/// The role label of the short-lived containers that copy volumes and run etcd's tools.
pub const HELPER_ROLE: &str = "snapshot-helper";
/// Beside a volume's data: what a restore unpacks, and what it replaced.
pub const RESTORE_DIR: &str = ".localkube-restore";
pub const OLD_DIR: &str = ".localkube-old";
/// etcd's snapshot, put in etcd's volume for etcdutl to restore from.
pub const ETCD_SNAPSHOT_IN_VOLUME: &str = ".localkube-snapshot.db";
/// Where the volume helper mounts the volumes: `/volumes/etcd`, `/volumes/node-<n>`.
pub const VOLUMES_ROOT: &str = "/volumes";
/// etcd's data folder in its container (the volume's mount point).
pub const ETCD_DATA_DIR: &str = "/var/lib/etcd";

pub fn node_part(number: u32) -> String {
    format!("node-{number}.tar")
}

/// What a part's file name says it is: Some(None) for etcd, PKI and config, Some(Some(n)) for
/// node n's volume, None for a name no part has (a manifest or archive naming it is damaged).
pub fn parse_part_file(file: &str) -> Option<Option<u32>> {
    if [ETCD_PART, PKI_PART, CONFIG_PART].contains(&file) {
        return Some(None);
    }
    let number = file.strip_prefix("node-")?.strip_suffix(".tar")?;
    if number.starts_with('0') || !number.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    number.parse().ok().map(Some)
}

/// The volume helper's mount of node n's volume.
pub fn node_mount(number: u32) -> String {
    format!("{VOLUMES_ROOT}/node-{number}")
}

pub fn etcd_mount() -> String {
    format!("{VOLUMES_ROOT}/etcd")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub format: u32,
    pub name: String,
    /// The profile it was taken of.
    pub profile: String,
    /// When it was taken, RFC 3339 UTC.
    pub created: String,
    pub kubernetes_version: String,
    /// The localkube that took it.
    pub localkube_version: String,
    /// The profile's nodes then, by number, with their names.
    pub nodes: Vec<SnapshotNode>,
    pub parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotNode {
    pub number: u32,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    pub file: String,
    pub bytes: u64,
    pub sha256: String,
}

impl Manifest {
    pub fn total_bytes(&self) -> u64 {
        self.parts.iter().map(|p| p.bytes).sum()
    }

    pub fn node_numbers(&self) -> Vec<u32> {
        self.nodes.iter().map(|n| n.number).collect()
    }

    /// The files a complete snapshot of these nodes holds besides the manifest.
    pub fn expected_files(&self) -> Vec<String> {
        let mut files = vec![
            ETCD_PART.to_string(),
            PKI_PART.to_string(),
            CONFIG_PART.to_string(),
        ];
        files.extend(self.nodes.iter().map(|n| node_part(n.number)));
        files
    }
}

/// A snapshot's name: 1-63 lower-case letters, digits, '.', '_' and '-', starting with a letter
/// or digit (it names a folder and travels in file names).
pub fn parse_name(text: &str) -> Result<String, String> {
    let ok_first = text
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let ok_rest = text
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if text.is_empty() || text.len() > 63 || !ok_first || !ok_rest {
        return Err(format!(
            "invalid snapshot name '{text}': use 1-63 lower-case letters, digits, '.', '_' and \
             '-', starting with a letter or digit (e.g. `chapter-5`)"
        ));
    }
    Ok(text.to_string())
}

/// The most a manifest may hold: a snapshot of nine nodes writes about 2 KB.
pub const MANIFEST_MAX_BYTES: u64 = 64 * 1024;
/// The most a snapshot's settings may hold (they are read whole): an audit policy is the
/// largest part of them, a few KB.
pub const CONFIG_MAX_BYTES: u64 = 1 << 20;

/// Text from a manifest that is printed (dates, versions): short, and no control characters
/// that could rewrite the reader's terminal.
fn printable(text: &str, max: usize) -> bool {
    !text.is_empty() && text.len() <= max && text.chars().all(|c| c.is_ascii_graphic())
}

/// Everything a manifest must be before anything it names is written or read: its name a
/// snapshot name (it becomes a folder), its profile and node names names localkube makes, its
/// version a release, exactly the parts of its nodes, each once with a sha256. A snapshot from
/// someone else is foreign input, as an image archive is.
pub fn check_manifest(manifest: &Manifest) -> Result<(), String> {
    if manifest.format != FORMAT {
        return Err(format!(
            "its format is {}, this localkube reads {FORMAT}",
            manifest.format
        ));
    }
    parse_name(&manifest.name)?;
    ProfileName::parse(&manifest.profile)
        .map_err(|e| format!("the profile it was taken of: {e}"))?;
    // Written like a release; whether it is this profile's (or a supported one) is checked where
    // the snapshot is used, with a message that names both versions.
    let version = &manifest.kubernetes_version;
    let numbers: Vec<&str> = version
        .strip_prefix('v')
        .map(|v| v.split('.').collect())
        .unwrap_or_default();
    if numbers.len() != 3
        || numbers
            .iter()
            .any(|n| n.is_empty() || n.len() > 4 || !n.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(format!(
            "its Kubernetes version {version:?} is not written as a release (vX.Y.Z)"
        ));
    }
    if !printable(&manifest.localkube_version, 64) || !printable(&manifest.created, 64) {
        return Err(
            "its localkube version or date is empty, too long or holds control characters".into(),
        );
    }
    let numbers = manifest.node_numbers();
    let distinct: std::collections::BTreeSet<_> = numbers.iter().collect();
    let max = crate::plan::config::MAX_NODES;
    if numbers.is_empty()
        || !numbers.contains(&1)
        || distinct.len() != numbers.len()
        || numbers.iter().any(|n| *n == 0 || *n > max)
    {
        return Err(format!(
            "its nodes {numbers:?} are not 1 to {max} nodes, each once, node 1 among them"
        ));
    }
    for node in &manifest.nodes {
        let ok = node.name.len() <= 63
            && !node.name.is_empty()
            && node
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !ok {
            return Err(format!("its node name {:?} is not a node name", node.name));
        }
    }
    let mut files: Vec<&str> = manifest.parts.iter().map(|p| p.file.as_str()).collect();
    files.sort_unstable();
    let mut expected = manifest.expected_files();
    expected.sort_unstable();
    if files != expected {
        return Err(format!(
            "it lists the parts {files:?}, and a snapshot of its nodes has exactly {expected:?}"
        ));
    }
    for part in &manifest.parts {
        let hex = part.sha256.len() == 64
            && part
                .sha256
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c));
        if !hex {
            return Err(format!("{}'s sha256 is not a sha256", part.file));
        }
    }
    if let Some(config) = manifest.parts.iter().find(|p| p.file == CONFIG_PART)
        && config.bytes > CONFIG_MAX_BYTES
    {
        return Err(format!(
            "its {CONFIG_PART} has {} bytes, more than settings take ({CONFIG_MAX_BYTES})",
            config.bytes
        ));
    }
    Ok(())
}

/// What an imported snapshot's settings would do on this machine beyond a default profile, one
/// line each: host folders bound into the nodes, extra flags, kubelet and kube-proxy fields,
/// gates, an audit policy of its own, settings that switch a safeguard off. The user must
/// agree to them (`import --trust`) before anything starts.
pub fn import_changes(settings: &ClusterSettings) -> Vec<String> {
    let mut lines = Vec::new();
    for m in &settings.mounts {
        lines.push(format!(
            "binds the host folder {} into every node at {}{}",
            m.host_path.display(),
            m.node_path,
            if m.read_only {
                " (read-only)"
            } else {
                " (writable by pods)"
            }
        ));
    }
    for (field, args) in [
        ("apiServer.extraArgs", &settings.apiserver_args),
        (
            "controllerManager.extraArgs",
            &settings.controller_manager_args,
        ),
        ("scheduler.extraArgs", &settings.scheduler_args),
    ] {
        for (flag, value) in args {
            lines.push(format!("sets {field} --{flag}={value}"));
        }
    }
    for (field, map) in [
        ("kubelet", &settings.kubelet),
        ("kubeProxy", &settings.kube_proxy),
    ] {
        for (key, value) in map {
            lines.push(format!("sets {field}.{key}: {value}"));
        }
    }
    for (gate, on) in &settings.feature_gates {
        lines.push(format!("sets the feature gate {gate}={on}"));
    }
    for (key, value) in &settings.runtime_config {
        lines.push(format!("sets the apiserver's runtime config {key}={value}"));
    }
    if settings
        .audit
        .as_ref()
        .is_some_and(|a| a.document.is_some())
    {
        lines.push("gives the apiserver an audit policy of its own".into());
    }
    for weak in settings.weakenings() {
        lines.push(format!(
            "switches a safeguard off (it says `insecure: true`): {} ({})",
            weak.setting, weak.why
        ));
    }
    lines
}

/// What is wrong with a snapshot's parts as found (file, size, sha256) against its manifest:
/// every missing, extra-short or changed part, or None when all match.
pub fn damage(manifest: &Manifest, found: &[(String, u64, String)]) -> Option<String> {
    let mut problems = Vec::new();
    if manifest.format != FORMAT {
        problems.push(format!(
            "its format is {}, this localkube reads {FORMAT}",
            manifest.format
        ));
    }
    for expected in manifest.expected_files() {
        if !manifest.parts.iter().any(|p| p.file == expected) {
            problems.push(format!("the manifest lists no {expected}"));
        }
    }
    for part in &manifest.parts {
        match found.iter().find(|(file, _, _)| *file == part.file) {
            None => problems.push(format!("{} is missing", part.file)),
            Some((_, bytes, _)) if *bytes != part.bytes => problems.push(format!(
                "{} has {bytes} bytes, the manifest says {}",
                part.file, part.bytes
            )),
            Some((_, _, sha)) if *sha != part.sha256 => problems.push(format!(
                "{}'s sha256 is {sha}, the manifest says {}",
                part.file, part.sha256
            )),
            Some(_) => {}
        }
    }
    (!problems.is_empty()).then(|| problems.join("; "))
}

/// Why a profile's cluster cannot be snapshotted or restored, or `None`: a control plane of
/// several members is refused. Its etcd is three members, and a restore would have to rebuild
/// every member's data from the one snapshot with a new cluster identity, all at once, which
/// `restore` does not do; a snapshot it could not restore would only mislead.
pub fn members_problem(profile: &str, config: &ProfileConfig) -> Option<String> {
    config.is_ha().then(|| {
        format!(
            "profile '{profile}' has {} control-plane members: snapshots hold and restore one \
             etcd member, so they are for profiles of one control-plane member; copy objects out \
             with `localkube kubectl -p {profile} -- get -A -o yaml ...` instead",
            config.control_planes
        )
    })
}

/// Why a snapshot cannot be restored onto this existing profile, or None. Its Kubernetes version
/// must be the profile's (objects in etcd are stored for that version), and its nodes the
/// profile's (their volumes are swapped one for one).
pub fn restore_problem(manifest: &Manifest, config: &ProfileConfig) -> Option<String> {
    if manifest.kubernetes_version != config.kubernetes_version
        && !is_way_back(&manifest.kubernetes_version, &config.kubernetes_version)
    {
        return Some(format!(
            "it was taken of Kubernetes {}, and this profile runs {}: restore it into a new \
             profile instead (`localkube snapshot export {} FILE` then `localkube snapshot import \
             FILE -p NEW`)",
            manifest.kubernetes_version, config.kubernetes_version, manifest.name
        ));
    }
    if manifest.node_numbers() != config.nodes.numbers() {
        return Some(format!(
            "it holds nodes {:?} and the profile now has nodes {:?}: add or delete nodes to match \
             (`localkube node add`, `localkube node delete NAME`), or import it as a new profile",
            manifest.node_numbers(),
            config.nodes.numbers()
        ));
    }
    None
}

/// Whether a snapshot of release `snapshot` may be restored onto a profile that runs `profile`
/// now, taking the profile back to that release with it: the way back from an upgrade
/// (`pre-upgrade-<from>`), so the same minor or the one before, of a release this localkube
/// supports. Every part of the snapshot is of its release (etcd's objects, the nodes' volumes,
/// the settings), so nothing of the newer one is left to read them.
pub fn is_way_back(snapshot: &str, profile: &str) -> bool {
    use crate::plan::version::{RELEASES, minor};
    let (then, now) = (minor(snapshot), minor(profile));
    RELEASES.iter().any(|r| r.minor == then) && (then == now || then + 1 == now)
}

/// The settings of a profile made from a snapshot: the snapshot's (version, nodes, ranges,
/// addons, settings) with this machine's apiserver port, network and way of serving
/// LoadBalancers, which are chosen afresh, and no image source (a snapshot of a Linux host imported on Docker Desktop
/// needs its LoadBalancers published).
pub fn imported_config(
    snapshot: &ProfileConfig,
    apiserver_port: u16,
    network_subnet: ipnet::Ipv4Net,
    load_balancer: crate::plan::load_balancer::Exposure,
) -> ProfileConfig {
    let mut config = snapshot.clone();
    config.apiserver_port = apiserver_port;
    config.network_subnet = network_subnet;
    config.load_balancer = load_balancer;
    // Never the file's: a registry named there would give images tagged as the shared
    // `localkube/<image>:<version>` every profile runs, and the kubectl the host runs. The
    // images come from this machine, as for `start`.
    config.image_repository = None;
    config.image_index = None;
    config
}

/// Node names of the snapshot that the target profile does not have: the Node objects a
/// snapshot imported under another name leaves behind (never Ready again), to delete.
pub fn stale_node_names(manifest: &Manifest, target: &ProfileName) -> Vec<String> {
    manifest
        .nodes
        .iter()
        .filter(|n| n.name != names::node_name(target, n.number))
        .map(|n| n.name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        let mut m = Manifest {
            format: FORMAT,
            name: "ch5".into(),
            profile: "dev".into(),
            created: "2026-12-02T19:00:00Z".into(),
            kubernetes_version: "v1.37.2".into(),
            localkube_version: "0.1.0".into(),
            nodes: vec![
                SnapshotNode {
                    number: 1,
                    name: "dev".into(),
                },
                SnapshotNode {
                    number: 2,
                    name: "dev-m02".into(),
                },
            ],
            parts: Vec::new(),
        };
        m.parts = m
            .expected_files()
            .into_iter()
            .map(|file| Part {
                sha256: format!("sha-{file}"),
                bytes: file.len() as u64,
                file,
            })
            .collect();
        m
    }

    fn found(m: &Manifest) -> Vec<(String, u64, String)> {
        m.parts
            .iter()
            .map(|p| (p.file.clone(), p.bytes, p.sha256.clone()))
            .collect()
    }

    #[test]
    fn names_are_plain_file_names() {
        for good in ["ch5", "chapter-5", "a.b_c", "0"] {
            assert_eq!(parse_name(good), Ok(good.to_string()));
        }
        for bad in ["", "../x", "A", "-x", "a/b", ".hidden", &"x".repeat(64)] {
            let err = parse_name(bad).unwrap_err();
            assert!(err.contains("invalid snapshot name"), "{err}");
        }
    }

    #[test]
    fn part_names_are_the_known_ones_only() {
        assert_eq!(parse_part_file("etcd.db"), Some(None));
        assert_eq!(parse_part_file("node-3.tar"), Some(Some(3)));
        for bad in [
            "../etcd.db",
            "node-.tar",
            "node-01.tar",
            "node-1.tar/x",
            "x",
            "node-a.tar",
        ] {
            assert_eq!(parse_part_file(bad), None, "{bad}");
        }
    }

    #[test]
    fn an_intact_snapshot_has_no_damage() {
        let m = manifest();
        assert_eq!(damage(&m, &found(&m)), None);
        assert_eq!(
            m.expected_files(),
            [
                "etcd.db",
                "pki.tar",
                "config.yaml",
                "node-1.tar",
                "node-2.tar"
            ]
        );
    }

    #[test]
    fn every_damaged_part_is_named() {
        let m = manifest();
        let mut f = found(&m);
        f.retain(|(file, _, _)| file != "node-2.tar");
        f[0].2 = "other".into();
        f[1].1 += 1;
        let why = damage(&m, &f).unwrap();
        assert!(why.contains("node-2.tar is missing"), "{why}");
        assert!(
            why.contains("etcd.db's sha256 is other, the manifest says sha-etcd.db"),
            "{why}"
        );
        assert!(why.contains("pki.tar has 8 bytes"), "{why}");
        let mut other_format = manifest();
        other_format.format = 9;
        assert!(
            damage(&other_format, &found(&m))
                .unwrap()
                .contains("format is 9")
        );
        let mut short = manifest();
        short.parts.retain(|p| p.file != "pki.tar");
        assert!(
            damage(&short, &found(&short))
                .unwrap()
                .contains("lists no pki.tar")
        );
    }

    #[test]
    fn another_version_or_other_nodes_are_refused_for_restore() {
        let m = manifest();
        let mut config = ProfileConfig::new(41000, "172.30.9.0/24".parse().unwrap());
        config.kubernetes_version = "v1.37.2".into();
        config.nodes = crate::plan::config::Nodes::first(2);
        assert_eq!(restore_problem(&m, &config), None);
        config.kubernetes_version = "v1.36.5".into();
        let why = restore_problem(&m, &config).unwrap();
        assert!(why.contains("Kubernetes v1.37.2"), "{why}");
        assert!(why.contains("snapshot import FILE -p NEW"), "{why}");
        config.kubernetes_version = "v1.37.2".into();
        config.nodes = crate::plan::config::Nodes::first(3);
        let why = restore_problem(&m, &config).unwrap();
        assert!(why.contains("nodes [1, 2]"), "{why}");
        // The way back from an upgrade: a snapshot of the minor before (or the same minor) is
        // restored with its release; two minors back, or an unsupported one, is not.
        config.nodes = crate::plan::config::Nodes::first(2);
        config.kubernetes_version = "v1.38.0".into();
        assert!(is_way_back("v1.37.2", "v1.38.0"));
        assert_eq!(restore_problem(&m, &config), None);
        config.kubernetes_version = "v1.37.5".into();
        assert_eq!(restore_problem(&m, &config), None);
        assert!(!is_way_back("v1.35.4", "v1.37.2"));
        assert!(!is_way_back("v1.30.0", "v1.31.0"));
    }

    #[test]
    fn an_import_keeps_the_snapshots_settings_but_port_and_network() {
        let mut snap = ProfileConfig::new(41000, "172.30.9.0/24".parse().unwrap());
        snap.nodes = crate::plan::config::Nodes::first(2);
        let imported = imported_config(
            &snap,
            42000,
            "172.30.20.0/24".parse().unwrap(),
            crate::plan::load_balancer::Exposure::Published,
        );
        assert_eq!(
            imported.load_balancer,
            crate::plan::load_balancer::Exposure::Published
        );
        assert_eq!(imported.apiserver_port, 42000);
        assert_eq!(imported.network_subnet.to_string(), "172.30.20.0/24");
        assert_eq!(imported.nodes, snap.nodes);
        assert_eq!(imported.kubernetes_version, snap.kubernetes_version);
    }

    #[test]
    fn an_import_never_takes_the_snapshots_image_source() {
        let mut snap = ProfileConfig::new(41000, "172.30.9.0/24".parse().unwrap());
        snap.image_repository = Some("registry.example/evil".into());
        snap.image_index = Some(format!("sha256:{}", "a".repeat(64)));
        let imported = imported_config(
            &snap,
            42000,
            "172.30.20.0/24".parse().unwrap(),
            crate::plan::load_balancer::Exposure::Published,
        );
        assert_eq!(imported.image_repository, None);
        assert_eq!(imported.image_index, None);
    }

    fn intact() -> Manifest {
        let mut m = manifest();
        for p in &mut m.parts {
            p.sha256 = "ab".repeat(32);
        }
        m
    }

    #[test]
    fn a_manifest_is_checked_before_anything_it_names_is_used() {
        check_manifest(&intact()).unwrap();
        type Edit = fn(&mut Manifest);
        let cases: Vec<(Edit, &str)> = vec![
            (
                |m| m.name = "../../../somewhere".into(),
                "invalid snapshot name",
            ),
            (|m| m.name = "x/y".into(), "invalid snapshot name"),
            (|m| m.profile = "../x".into(), "profile it was taken of"),
            (
                |m| m.kubernetes_version = "../bin".into(),
                "not written as a release",
            ),
            (
                |m| m.kubernetes_version = "stable".into(),
                "not written as a release",
            ),
            (
                |m| m.kubernetes_version = "v1.37.2x".into(),
                "not written as a release",
            ),
            (
                |m| m.created = "\u{1b}]0;owned\u{7}".into(),
                "control characters",
            ),
            (|m| m.nodes[1].number = 1, "each once"),
            (|m| m.nodes[0].name = "a\nb".into(), "not a node name"),
            (|m| m.parts.push(m.parts[0].clone()), "exactly"),
            (|m| m.parts[0].file = "../etcd.db".into(), "exactly"),
            (|m| m.parts[0].sha256 = "x".into(), "not a sha256"),
            (|m| m.parts[2].bytes = u64::MAX, "more than settings take"),
            (|m| m.format = 2, "format is 2"),
        ];
        for (edit, words) in cases {
            let mut m = intact();
            edit(&mut m);
            let why = check_manifest(&m).unwrap_err();
            assert!(why.contains(words), "{m:?}: {why}");
        }
    }

    #[test]
    fn what_an_import_would_change_is_listed() {
        let mut s = ClusterSettings::default();
        assert!(import_changes(&s).is_empty());
        s.add_mount("/proc:/hostproc:ro").unwrap();
        s.add_extra_config("apiserver.authorization-mode=AlwaysAllow")
            .unwrap();
        s.add_feature_gates("SomeGate=true").unwrap();
        s.insecure = true;
        let lines = import_changes(&s).join("\n");
        assert!(lines.contains("binds the host folder /proc"), "{lines}");
        assert!(
            lines.contains("--authorization-mode=AlwaysAllow")
                && lines.contains("switches a safeguard off"),
            "{lines}"
        );
        assert!(lines.contains("SomeGate=true"), "{lines}");
    }

    #[test]
    fn renamed_nodes_are_the_stale_ones() {
        let m = manifest();
        let same = ProfileName::parse("dev").unwrap();
        assert!(stale_node_names(&m, &same).is_empty());
        let other = ProfileName::parse("class").unwrap();
        assert_eq!(stale_node_names(&m, &other), ["dev", "dev-m02"]);
    }

    #[test]
    fn a_control_plane_of_several_members_is_refused_with_the_reason() {
        let mut config = ProfileConfig::new(40123, "172.30.7.0/24".parse().unwrap());
        assert_eq!(members_problem("dev", &config), None);
        config.control_planes = 3;
        let why = members_problem("dev", &config).unwrap();
        assert!(
            why.contains("3 control-plane members") && why.contains("one etcd member"),
            "{why}"
        );
    }
}
