//! The commands the snapshot's helper containers run: etcdctl and etcdutl for etcd's data, tar for
//! a node's volume, and the shell scripts that swap restored data in and back out.

use super::{ETCD_DATA_DIR, ETCD_SNAPSHOT_IN_VOLUME, OLD_DIR, RESTORE_DIR};
use crate::plan::config::ProfileConfig;
use crate::plan::names;
use crate::plan::profile_name::ProfileName;

/// etcdctl's arguments for a live snapshot from inside etcd's network namespace, with the
/// credentials etcd's own container has (its server certificate is also a client one), its
/// command timeout stretched by `pace`.
pub fn etcdctl_save_args(out: &str, pace: f64) -> Vec<String> {
    let pki = format!("{}/pki/etcd", crate::plan::cluster::COMPONENT_CONFIG_DIR);
    vec![
        format!(
            "--endpoints=https://127.0.0.1:{}",
            crate::plan::cluster::ETCD_CLIENT_PORT
        ),
        format!("--cacert={pki}/ca.crt"),
        format!("--cert={pki}/server.crt"),
        format!("--key={pki}/server.key"),
        // A big database over a busy machine: etcdctl's default (5 s dial, no command timeout)
        // is fine for the dial; the transfer may take longer, and longer still on a slow host.
        format!(
            "--command-timeout={}s",
            crate::plan::pace::scale(SAVE_COMMAND_TIMEOUT, pace).as_secs()
        ),
        "snapshot".into(),
        "save".into(),
        out.into(),
    ]
}

/// How long etcdctl may take to send a snapshot on a usual machine (stretched by the pace).
const SAVE_COMMAND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// etcdutl's arguments to restore the snapshot into a new data folder of `profile`'s member:
/// its own name and peer URL (as `plan::cluster`'s etcd flags), so the restored member is this
/// profile's single member with fresh member and cluster IDs, whatever profile it came from.
pub fn etcdutl_restore_args(profile: &ProfileName, config: &ProfileConfig) -> Vec<String> {
    let member = names::control_plane_container(profile, names::Role::Etcd);
    let peer = format!(
        "https://{}:{}",
        config.etcd_ip(),
        crate::plan::cluster::ETCD_PEER_PORT
    );
    vec![
        "snapshot".into(),
        "restore".into(),
        format!("{ETCD_DATA_DIR}/{ETCD_SNAPSHOT_IN_VOLUME}"),
        format!("--data-dir={ETCD_DATA_DIR}/{RESTORE_DIR}"),
        format!("--name={member}"),
        format!("--initial-cluster={member}={peer}"),
        format!("--initial-advertise-peer-urls={peer}"),
    ]
}

/// A shell function over every entry of folder `$1` but localkube's own (`.localkube-*`), run
/// as `$2 ENTRY` (`sh -c` with `set -e`).
const FOR_ENTRIES: &str = r#"entries() { for e in "$1"/* "$1"/.[!.]* "$1"/..?*; do [ -e "$e" ] || [ -L "$e" ] || continue; case "${e##*/}" in .localkube-*) continue;; esac; printf '%s\n' "$e"; done; }"#;

/// The script that swaps each volume's restored data in: the current entries move into
/// `.localkube-old`, the restored ones up from `.localkube-restore`. Renames within one file
/// system: quick, and undone by [`undo_script`].
pub fn swap_script(mounts: &[String]) -> String {
    let mut script = format!("set -e\n{FOR_ENTRIES}\n");
    for m in mounts {
        script.push_str(&format!(
            "mkdir \"{m}/{OLD_DIR}\"\n\
             entries \"{m}\" | while IFS= read -r e; do mv \"$e\" \"{m}/{OLD_DIR}/\"; done\n\
             entries \"{m}/{RESTORE_DIR}\" | while IFS= read -r e; do mv \"$e\" \"{m}/\"; done\n\
             rmdir \"{m}/{RESTORE_DIR}\"\n"
        ));
    }
    script
}

/// Puts back what [`swap_script`] replaced, in every volume where it got as far as moving it.
pub fn undo_script(mounts: &[String]) -> String {
    let mut script = format!("set -e\n{FOR_ENTRIES}\n");
    for m in mounts {
        script.push_str(&format!(
            "if [ -d \"{m}/{OLD_DIR}\" ]; then\n\
             mkdir -p \"{m}/{RESTORE_DIR}\"\n\
             entries \"{m}\" | while IFS= read -r e; do mv \"$e\" \"{m}/{RESTORE_DIR}/\"; done\n\
             entries \"{m}/{OLD_DIR}\" | while IFS= read -r e; do mv \"$e\" \"{m}/\"; done\n\
             rmdir \"{m}/{OLD_DIR}\"\n\
             fi\n\
             rm -rf \"{m}/{RESTORE_DIR}\" \"{m}/{ETCD_SNAPSHOT_IN_VOLUME}\"\n"
        ));
    }
    script
}

/// Removes what a restore left beside the data: the replaced data once the cluster runs from the
/// restored, or the restored once it is given up.
pub fn cleanup_script(mounts: &[String]) -> String {
    let mut script = String::from("set -e\n");
    for m in mounts {
        script.push_str(&format!(
            "rm -rf \"{m}/{OLD_DIR}\" \"{m}/{RESTORE_DIR}\" \"{m}/{ETCD_SNAPSHOT_IN_VOLUME}\"\n"
        ));
    }
    script
}

/// Refuses to begin where a restore was interrupted mid-swap: its `.localkube-old` holds data.
pub fn interrupted_check_script(mounts: &[String]) -> String {
    let mut script = String::from("set -e\n");
    for m in mounts {
        script.push_str(&format!(
            "if [ -d \"{m}/{OLD_DIR}\" ]; then echo \"{m}\"; exit 3; fi\n\
             rm -rf \"{m}/{RESTORE_DIR}\" \"{m}/{ETCD_SNAPSHOT_IN_VOLUME}\"\n"
        ));
    }
    script
}

/// GNU tar's arguments to write a volume's data to stdout: numeric owners (the node's users are
/// not the helper's), every extended attribute (overlay's opaque-folder marks, file
/// capabilities), sparse files kept sparse, localkube's own folders left out.
pub fn tar_save_args(mount: &str) -> Vec<String> {
    vec![
        "tar".into(),
        "--create".into(),
        "--file=-".into(),
        "--numeric-owner".into(),
        "--xattrs".into(),
        "--xattrs-include=*".into(),
        "--acls".into(),
        "--sparse".into(),
        "--exclude=./.localkube-*".into(),
        format!("--directory={mount}"),
        ".".into(),
    ]
}

/// GNU tar's arguments to unpack a volume's data from stdin into its restore folder, owners,
/// modes and attributes as saved.
pub fn tar_restore_args(mount: &str) -> Vec<String> {
    vec![
        "tar".into(),
        "--extract".into(),
        "--file=-".into(),
        "--numeric-owner".into(),
        "--same-owner".into(),
        "--preserve-permissions".into(),
        "--xattrs".into(),
        "--xattrs-include=*".into(),
        "--acls".into(),
        format!("--directory={mount}/{RESTORE_DIR}"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etcdutl_restores_as_the_target_profiles_member() {
        let config = ProfileConfig::new(41000, "172.30.9.0/24".parse().unwrap());
        let args = etcdutl_restore_args(&ProfileName::parse("class").unwrap(), &config);
        let ip = config.etcd_ip();
        assert!(args.contains(&"--name=class-etcd".to_string()), "{args:?}");
        assert!(
            args.contains(&format!("--initial-cluster=class-etcd=https://{ip}:2380")),
            "{args:?}"
        );
        assert!(args.contains(&"--data-dir=/var/lib/etcd/.localkube-restore".to_string()));
    }

    /// The scripts run in a real shell on a temporary folder: swap, undo, swap, clean up.
    #[test]
    fn swap_and_undo_move_exactly_the_data() {
        let tmp = tempfile::tempdir().unwrap();
        let v = tmp.path().join("v");
        let write = |rel: &str, text: &str| {
            let p = v.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        write("lib/a", "old");
        write(".hidden", "old");
        write(&format!("{RESTORE_DIR}/lib/a"), "new");
        write(&format!("{RESTORE_DIR}/.hidden"), "new");
        write(&format!("{RESTORE_DIR}/only-new"), "new");
        let mounts = [v.display().to_string()];
        let sh = |script: String| {
            let out = std::process::Command::new("sh")
                .args(["-c", &script])
                .output()
                .unwrap();
            assert!(out.status.success(), "{out:?}");
        };
        let read = |rel: &str| std::fs::read_to_string(v.join(rel)).ok();
        sh(swap_script(&mounts));
        assert_eq!(read("lib/a").as_deref(), Some("new"));
        assert_eq!(read(".hidden").as_deref(), Some("new"));
        assert_eq!(read(&format!("{OLD_DIR}/lib/a")).as_deref(), Some("old"));
        assert!(!v.join(RESTORE_DIR).exists());
        sh(undo_script(&mounts));
        assert_eq!(read("lib/a").as_deref(), Some("old"));
        assert_eq!(read(".hidden").as_deref(), Some("old"));
        assert_eq!(read("only-new"), None);
        assert!(!v.join(OLD_DIR).exists() && !v.join(RESTORE_DIR).exists());
        // Undo where no swap began changes nothing but the restore folder.
        write(&format!("{RESTORE_DIR}/x"), "new");
        sh(undo_script(&mounts));
        assert_eq!(read("lib/a").as_deref(), Some("old"));
        assert!(!v.join(RESTORE_DIR).exists());
        // An interrupted swap is found before anything begins.
        std::fs::create_dir(v.join(OLD_DIR)).unwrap();
        let out = std::process::Command::new("sh")
            .args(["-c", &interrupted_check_script(&mounts)])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3));
        sh(cleanup_script(&mounts));
        assert!(!v.join(OLD_DIR).exists());
        assert_eq!(read("lib/a").as_deref(), Some("old"));
    }
}
