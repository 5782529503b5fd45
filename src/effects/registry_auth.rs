//! The registry addon's one account: a password made when the addon is first enabled, kept in
//! the profile folder (0600, like the keys), and its htpasswd line for the registry. Handed to
//! Docker in a request header (`image load`) or on `docker login`'s standard input
//! (`image login`): never in argv, an environment variable or a label.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::effects::files::{
    SECRET_DIR_MODE, SECRET_FILE_MODE, create_dir_with_mode, write_atomic,
};
use crate::plan::addons::{
    REGISTRY_HTPASSWD_FILE, REGISTRY_PASSWORD_FILE, REGISTRY_USER, htpasswd_line,
};

/// bcrypt's cost for the htpasswd line. The lowest bcrypt allows: the password is 256 random
/// bits, so slowing a guess down buys nothing, while the registry checks the hash on every
/// request of a push (hundreds of them).
const BCRYPT_COST: u32 = 4;

/// The account's password, made (with its htpasswd line) if the profile has none yet.
pub fn ensure(profile_dir: &Path) -> Result<String> {
    let password_file = profile_dir.join(REGISTRY_PASSWORD_FILE);
    let htpasswd_file = profile_dir.join(REGISTRY_HTPASSWD_FILE);
    if let Ok(password) = std::fs::read_to_string(&password_file)
        && htpasswd_file.is_file()
    {
        return Ok(password.trim().to_string());
    }
    let password = hex::encode(random::<32>()?);
    let hash = bcrypt::hash_with_salt(&password, BCRYPT_COST, random::<16>()?)
        .context("hashing the registry's password")?
        .to_string();
    if let Some(dir) = password_file.parent() {
        create_dir_with_mode(dir, SECRET_DIR_MODE)?;
    }
    // The hash first: a password file without its htpasswd line is made again above.
    write_atomic(
        &htpasswd_file,
        htpasswd_line(&hash).as_bytes(),
        SECRET_FILE_MODE,
    )?;
    write_atomic(&password_file, password.as_bytes(), SECRET_FILE_MODE)?;
    Ok(password)
}

/// The account's password, if the addon was ever enabled in this profile.
pub fn read(profile_dir: &Path) -> Option<String> {
    std::fs::read_to_string(profile_dir.join(REGISTRY_PASSWORD_FILE))
        .ok()
        .map(|p| p.trim().to_string())
}

/// The credentials Docker sends to the registry on `localhost:PORT` (the engine's
/// `X-Registry-Auth` header).
pub fn docker_credentials(host: &str, password: &str) -> bollard::auth::DockerCredentials {
    bollard::auth::DockerCredentials {
        username: Some(REGISTRY_USER.to_string()),
        password: Some(password.to_string()),
        serveraddress: Some(host.to_string()),
        ..Default::default()
    }
}

/// `docker login HOST --username localkube --password-stdin`, the password written to its
/// standard input. Docker stores it as it stores every login (its credential helper, or
/// `~/.docker/config.json`).
pub fn docker_login(host: &str, password: &str) -> Result<()> {
    let mut child = Command::new("docker")
        .args([
            "login",
            host,
            "--username",
            REGISTRY_USER,
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running `docker login` (is the docker CLI installed?)")?;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(password.as_bytes())
        .context("handing the password to `docker login`")?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "`docker login {host}` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn random<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom for the registry's password")?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn the_password_is_made_once_kept_0600_and_matches_its_htpasswd_line() {
        let dir = tempfile::tempdir().unwrap();
        let password = ensure(dir.path()).unwrap();
        assert_eq!(password.len(), 64);
        assert_eq!(
            ensure(dir.path()).unwrap(),
            password,
            "kept, not made again"
        );
        assert_eq!(read(dir.path()).as_deref(), Some(password.as_str()));
        for file in [REGISTRY_PASSWORD_FILE, REGISTRY_HTPASSWD_FILE] {
            let mode = std::fs::metadata(dir.path().join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
        let line = std::fs::read_to_string(dir.path().join(REGISTRY_HTPASSWD_FILE)).unwrap();
        let hash = line.trim().strip_prefix("localkube:").unwrap();
        assert!(
            hash.starts_with("$2"),
            "bcrypt, the scheme distribution reads: {hash}"
        );
        assert!(bcrypt::verify(&password, hash).unwrap());
        assert!(!bcrypt::verify("guess", hash).unwrap());
    }
}
