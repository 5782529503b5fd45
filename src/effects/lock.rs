//! Exclusive locks between localkube processes: one per profile, so two commands never change a
//! profile at the same time, and one for the image cache, so two builds never write it at once.
//!
//! An advisory `flock` (std's `File::lock`) on `locks/<profile>.lock`: the kernel drops it when the
//! holder exits, even on a crash, so a stale lock never blocks anyone. The holder writes its pid and
//! command line into the file, which a waiting command names when it gives up.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};

use crate::effects::files::create_dir_with_mode;
use crate::effects::home::Home;
use crate::plan::profile_name::ProfileName;

/// How long a second command waits for the first before giving up; `LOCALKUBE_LOCK_TIMEOUT`
/// (seconds) overrides it.
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(10);

/// Held for as long as it lives; dropping it releases the lock.
#[derive(Debug)]
pub struct HeldLock {
    _file: File,
}

/// A profile's lock.
pub type ProfileLock = HeldLock;

/// How long to wait for a lock that another process holds.
#[derive(Debug, Clone, Copy)]
pub enum Wait {
    /// Give up after this long, with the holder in the error.
    UpTo(Duration),
    /// Until it is free (a build that must not run twice at once).
    Forever,
}

/// Another process held the lock for the whole wait.
#[derive(Debug, thiserror::Error)]
#[error("{holder} holds {path}")]
pub struct LockBusy {
    /// Who holds it, as the holder wrote it: `pid N (command line)`.
    pub holder: String,
    pub path: String,
}

/// Takes an exclusive `flock` on `path` and records this process as its holder. When another
/// process holds it, `on_wait` is called once with the holder's words, then it waits as `wait`
/// says.
pub fn acquire(path: &Path, wait: Wait, on_wait: impl FnOnce(&str)) -> Result<HeldLock> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("opening the lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = match holder.trim() {
                "" => "another localkube command".to_string(),
                words => words.to_string(),
            };
            on_wait(&holder);
            match wait {
                Wait::Forever => file
                    .lock()
                    .with_context(|| format!("locking {}", path.display()))?,
                Wait::UpTo(limit) => {
                    let deadline = Instant::now() + limit;
                    loop {
                        match file.try_lock() {
                            Ok(()) => break,
                            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                                std::thread::sleep(Duration::from_millis(100));
                            }
                            Err(TryLockError::WouldBlock) => {
                                return Err(LockBusy {
                                    holder,
                                    path: path.display().to_string(),
                                }
                                .into());
                            }
                            Err(TryLockError::Error(e)) => {
                                return Err(e)
                                    .with_context(|| format!("locking {}", path.display()));
                            }
                        }
                    }
                }
            }
        }
        Err(TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("locking {}", path.display()));
        }
    }
    // Record who holds it, for the message a waiting command prints.
    let command: Vec<String> = std::env::args().collect();
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    write!(file, "pid {} ({})", std::process::id(), command.join(" "))?;
    file.flush()?;
    Ok(HeldLock { _file: file })
}

pub fn lock_profile(home: &Home, profile: &ProfileName) -> Result<ProfileLock> {
    let wait = lock_wait_from(std::env::var("LOCALKUBE_LOCK_TIMEOUT").ok().as_deref())?;
    lock_profile_waiting(home, profile, wait)
}

/// The longest `LOCALKUBE_LOCK_TIMEOUT` accepted: an hour.
pub const MAX_LOCK_WAIT_SECS: f64 = 3600.0;

/// The wait `LOCALKUBE_LOCK_TIMEOUT` asks for (unset or empty: the default); anything that is not
/// a number of seconds from 0 to an hour is refused with the fix, before anything is touched.
pub fn lock_wait_from(value: Option<&str>) -> Result<Duration> {
    let Some(text) = value.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(DEFAULT_LOCK_WAIT);
    };
    text.parse::<f64>()
        .ok()
        .filter(|secs| secs.is_finite() && (0.0..=MAX_LOCK_WAIT_SECS).contains(secs))
        .map(Duration::from_secs_f64)
        .ok_or_else(|| {
            anyhow!(
                "LOCALKUBE_LOCK_TIMEOUT='{text}' is not a number of seconds from 0 to 3600: set it \
                 to one (for example LOCALKUBE_LOCK_TIMEOUT=30) or unset it for the default of {} s",
                DEFAULT_LOCK_WAIT.as_secs()
            )
        })
}

pub fn lock_profile_waiting(
    home: &Home,
    profile: &ProfileName,
    wait: Duration,
) -> Result<ProfileLock> {
    let dir = home.locks_dir();
    create_dir_with_mode(&dir, 0o700)?;
    let path = dir.join(format!("{profile}.lock"));
    acquire(&path, Wait::UpTo(wait), |_| {}).map_err(|e| match e.downcast::<LockBusy>() {
        Ok(busy) => anyhow!(
            "profile '{profile}' is busy: {} holds its lock ({}); wait for it to finish, then try again",
            busy.holder,
            busy.path
        ),
        Err(other) => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_waits_then_names_the_holder() {
        let tmp = tempfile::tempdir().unwrap();
        let home = Home::at(tmp.path(), tmp.path().join("cache"));
        let name = ProfileName::parse("dev").unwrap();
        let first = lock_profile_waiting(&home, &name, Duration::ZERO).unwrap();
        let started = Instant::now();
        let err = lock_profile_waiting(&home, &name, Duration::from_millis(300))
            .unwrap_err()
            .to_string();
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert!(err.contains("profile 'dev' is busy"), "{err}");
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(first);
        lock_profile_waiting(&home, &name, Duration::ZERO).unwrap();
    }

    #[test]
    fn lock_timeout_is_checked_not_trusted() {
        assert_eq!(lock_wait_from(None).unwrap(), DEFAULT_LOCK_WAIT);
        assert_eq!(lock_wait_from(Some("")).unwrap(), DEFAULT_LOCK_WAIT);
        assert_eq!(
            lock_wait_from(Some("2.5")).unwrap(),
            Duration::from_millis(2500)
        );
        assert_eq!(lock_wait_from(Some("0")).unwrap(), Duration::ZERO);
        for bad in ["nan", "NaN", "inf", "-1", "1e300", "ten", "3601"] {
            let err = lock_wait_from(Some(bad)).unwrap_err().to_string();
            assert!(
                err.contains("LOCALKUBE_LOCK_TIMEOUT") && err.contains(bad),
                "{err}"
            );
        }
    }

    #[test]
    fn profiles_lock_independently() {
        let tmp = tempfile::tempdir().unwrap();
        let home = Home::at(tmp.path(), tmp.path().join("cache"));
        let _a =
            lock_profile_waiting(&home, &ProfileName::parse("a").unwrap(), Duration::ZERO).unwrap();
        lock_profile_waiting(&home, &ProfileName::parse("b").unwrap(), Duration::ZERO).unwrap();
    }
}
