//! `dashboard`: the profile checked to be serving, the dashboard made ready on 127.0.0.1, and a
//! browser opened on it without the launch secret ever reaching a command line.

use std::os::unix::fs::PermissionsExt;

use anyhow::{Context, Result, bail};

use crate::dashboard::{Dashboard, Options};
use crate::effects::files::{SECRET_DIR_MODE, SECRET_FILE_MODE, write_atomic};
use crate::effects::home::Home;
use crate::effects::{browser, docker};
use crate::plan::names::Role;
use crate::plan::profile_name::ProfileName;
use crate::ui::Ui;

/// Makes the dashboard ready to serve `profile` on `port` (default: a free one). Refuses a profile
/// whose API server or etcd is not running; any other component down is a warning.
pub async fn prepare(
    home: &Home,
    profile: &ProfileName,
    ui: &Ui,
    port: Option<u16>,
) -> Result<Dashboard> {
    let dir = home.profile(profile);
    // Refuses a profile that does not exist, with the hint to create it.
    let config = dir.load_config()?;
    let docker = docker::connect().await?;
    let found = docker::profile_containers(&docker, profile).await?;
    let stopped: Vec<&docker::ProfileContainer> =
        found.iter().filter(|c| !c.state.is_running()).collect();
    // The page needs the API server and its etcd; with another component down it still shows
    // the cluster (pods Pending without a scheduler, say), so that is only a warning.
    let api_up = [Role::Etcd, Role::Apiserver].into_iter().all(|role| {
        found
            .iter()
            .any(|c| c.role == Some(role) && c.state.is_running())
    });
    if !api_up {
        let detail = if found.is_empty() {
            "it has no containers".to_string()
        } else {
            let names: Vec<&str> = stopped.iter().map(|c| c.name.as_str()).collect();
            format!("not running: {}", names.join(", "))
        };
        bail!(
            "profile '{profile}' is not running ({detail}): start it with `localkube start -p {profile}`"
        );
    }
    for c in &stopped {
        ui.info(format!(
            "warning: {} ({}) is {}; the dashboard shows what the API server knows",
            c.name,
            c.role_label(),
            c.state
        ));
    }
    Dashboard::prepare(Options {
        profile: profile.to_string(),
        kubeconfig: dir.admin_kubeconfig(),
        port,
        members_of: Some(config).filter(|c| c.is_ha()),
    })
    .await
}

/// A page that sends the browser on to `url` at once, as Jupyter's launch file does.
pub fn redirect_page(url: &str) -> String {
    let escaped = url
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n\
         <meta http-equiv=\"refresh\" content=\"0;url={escaped}\">\n\
         <title>localkube dashboard</title></head>\n\
         <body><p><a href=\"{escaped}\">Open the localkube dashboard</a></p></body></html>\n"
    )
}

/// Writes the redirect page for `url` into a new private folder (0700, the file 0600): only
/// this user can read the secret in it. The folder is removed when the returned guard drops.
pub fn write_launch_file(url: &str) -> Result<(tempfile::TempDir, std::path::PathBuf)> {
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .map(std::path::PathBuf::from)
        .filter(|d| d.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::Builder::new()
        .prefix("localkube-dashboard-")
        .tempdir_in(&base)
        .with_context(|| format!("creating a private folder in {}", base.display()))?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(SECRET_DIR_MODE))?;
    let path = dir.path().join("open.html");
    write_atomic(&path, redirect_page(url).as_bytes(), SECRET_FILE_MODE)?;
    Ok((dir, path))
}

/// Opens `url` with the desktop's opener, when there is a desktop; says which, or why not. The
/// opener gets a 0600 file that redirects to `url`, never `url` itself: a command line is
/// readable by every local user (/proc/PID/cmdline), and `url` carries the launch secret.
pub fn open_browser(url: &str) -> std::result::Result<(&'static str, tempfile::TempDir), String> {
    let opener = browser::desktop_opener()?;
    let (dir, page) = write_launch_file(url).map_err(|e| format!("{e:#}"))?;
    browser::open_with(opener, &page)?;
    Ok((opener, dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_launch_file_is_private_and_redirects() {
        let url = "http://127.0.0.1:4000/?token=abc&x=\"<y>";
        let (dir, path) = write_launch_file(url).unwrap();
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(dir.path()), 0o700);
        assert_eq!(mode(&path), 0o600);
        let page = std::fs::read_to_string(&path).unwrap();
        assert!(
            page.contains(
                "content=\"0;url=http://127.0.0.1:4000/?token=abc&amp;x=&quot;&lt;y&gt;\""
            ),
            "{page}"
        );
        let folder = dir.path().to_path_buf();
        drop(dir);
        assert!(!folder.exists(), "the secret goes with the dashboard");
    }
}
