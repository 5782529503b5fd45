//! etcd's own snapshot tools, run in short-lived helper containers of the etcd image: etcdctl
//! saves a consistent snapshot of the live member through its Maintenance API (etcd need not
//! stop), etcdutl restores one into a new data folder of the etcd volume.

use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{Context, Result, bail};
use bollard::Docker;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use crate::effects::volume_copy::{
    HelperSpec, Written, bind_mount, create_helper, run_to_end, volume_mount,
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

/// The snapshot file out of the exited helper (a tar of one file, as Docker's archive API gives),
/// streamed into `out` and hashed on the way: a database of gigabytes is never held in memory,
/// which matters most while the rest of the cluster is frozen for the save.
async fn read_back(docker: &Docker, id: &str, out: &Path) -> Result<Written> {
    let mut stream = docker.download_from_container(
        id,
        Some(bollard::query_parameters::DownloadFromContainerOptions {
            path: SNAPSHOT_IN_HELPER.to_string(),
        }),
    );
    // The tar is read on a blocking thread from the chunks as they arrive; a few chunks are
    // buffered at most.
    let (tx, rx) = std::sync::mpsc::sync_channel::<std::io::Result<bytes::Bytes>>(4);
    let out_path = out.to_path_buf();
    let unpack = tokio::task::spawn_blocking(move || -> Result<Written> {
        let mut archive = tar::Archive::new(ChannelReader {
            rx,
            chunk: bytes::Bytes::new(),
        });
        let mut entry = archive
            .entries()?
            .next()
            .context("the helper's archive is empty")??;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(crate::effects::files::SECRET_FILE_MODE)
            .open(&out_path)
            .with_context(|| format!("creating {}", out_path.display()))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut bytes = 0u64;
        loop {
            let n = entry.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            file.write_all(&buf[..n])?;
            bytes += n as u64;
        }
        file.sync_all()?;
        Ok(Written {
            bytes,
            sha256: hex::encode(hasher.finalize()),
        })
    });
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(std::io::Error::other);
        let failed = chunk.is_err();
        // A reader that stopped has what it needs, or failed: its result says which.
        if tx.send(chunk).is_err() || failed {
            break;
        }
    }
    drop(tx);
    let written = unpack
        .await
        .context("reading etcd's snapshot out of the helper")?
        .context("reading etcd's snapshot out of the helper");
    let written = match written {
        Ok(w) => w,
        Err(e) => {
            let _ = std::fs::remove_file(out);
            return Err(e);
        }
    };
    if written.bytes == 0 {
        bail!("etcdctl wrote an empty snapshot");
    }
    Ok(written)
}

/// A `Read` over chunks sent from the async side; the end of the channel is the end of data.
struct ChannelReader {
    rx: std::sync::mpsc::Receiver<std::io::Result<bytes::Bytes>>,
    chunk: bytes::Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.chunk.is_empty() {
            match self.rx.recv() {
                Ok(chunk) => self.chunk = chunk?,
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk.split_to(n));
        Ok(n)
    }
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
