//! etcd's own snapshot tools, run in short-lived helper containers of the etcd image: etcdctl
//! saves a consistent snapshot of the live member through its Maintenance API (etcd need not
//! stop), etcdutl restores one into a new data folder of the etcd volume.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result, bail};
use bollard::Docker;
use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::effects::volume_copy::{
    HelperSpec, Written, bind_mount, create_helper, open_secret, run_to_end, volume_mount,
};
use crate::plan::cluster::COMPONENT_CONFIG_DIR;
use crate::plan::profile_name::ProfileName;
use crate::plan::snapshot;

/// Where etcdctl writes the snapshot: the helper's own layer, read back through Docker's archive
/// API and gone with the helper, so nothing is left in etcd's volume.
const SNAPSHOT_IN_HELPER: &str = "/snapshot.db";

/// Saves a snapshot of the running etcd container `etcd` into `out` (0600).
pub async fn save(
    docker: &Docker,
    profile: &ProfileName,
    image: &str,
    etcd: &str,
    etcd_config_dir: &Path,
    out: &Path,
) -> Result<Written> {
    let network_mode = format!("container:{etcd}");
    let id = create_helper(
        docker,
        profile,
        HelperSpec {
            image,
            entrypoint: vec!["/usr/local/bin/etcdctl".into()],
            args: snapshot::etcdctl_save_args(SNAPSHOT_IN_HELPER, crate::effects::pace::factor()),
            // etcd's own credentials, as staged for its container (read-only).
            mounts: vec![bind_mount(etcd_config_dir, COMPONENT_CONFIG_DIR)],
            network_mode: &network_mode,
            cap_add: Vec::new(),
        },
    )
    .await?;
    run_to_end(docker, &id, "saves etcd's snapshot (etcdctl snapshot save)").await?;
    let result = read_back(docker, &id, out).await;
    let _ = crate::effects::volume_copy::remove(docker, &id).await;
    result
}

/// The snapshot file out of the exited helper (a tar of one file, as Docker's archive API gives).
async fn read_back(docker: &Docker, id: &str, out: &Path) -> Result<Written> {
    let tar: Vec<u8> = docker
        .download_from_container(
            id,
            Some(bollard::query_parameters::DownloadFromContainerOptions {
                path: SNAPSHOT_IN_HELPER.to_string(),
            }),
        )
        .map_ok(|chunk| chunk.to_vec())
        .try_concat()
        .await
        .context("reading etcd's snapshot out of the helper")?;
    let mut archive = tar::Archive::new(tar.as_slice());
    let mut entry = archive
        .entries()?
        .next()
        .context("the helper's archive is empty")??;
    let mut db = Vec::new();
    entry.read_to_end(&mut db)?;
    if db.is_empty() {
        bail!("etcdctl wrote an empty snapshot");
    }
    let mut file = open_secret(out).await?;
    file.write_all(&db).await?;
    file.sync_all().await?;
    Ok(Written {
        bytes: db.len() as u64,
        sha256: hex::encode(Sha256::digest(&db)),
    })
}

/// Restores the snapshot that lies in the etcd volume (`plan::snapshot::ETCD_SNAPSHOT_IN_VOLUME`)
/// into its restore folder, as etcdutl `args` say.
pub async fn restore(
    docker: &Docker,
    profile: &ProfileName,
    image: &str,
    etcd_volume: &str,
    args: Vec<String>,
) -> Result<()> {
    let id = create_helper(
        docker,
        profile,
        HelperSpec {
            image,
            entrypoint: vec!["/usr/local/bin/etcdutl".into()],
            args,
            mounts: vec![volume_mount(etcd_volume, snapshot::ETCD_DATA_DIR, false)],
            network_mode: "none",
            cap_add: Vec::new(),
        },
    )
    .await?;
    run_to_end(
        docker,
        &id,
        "restores etcd's snapshot (etcdutl snapshot restore)",
    )
    .await?;
    let _ = crate::effects::volume_copy::remove(docker, &id).await;
    Ok(())
}
