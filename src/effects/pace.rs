//! This machine's pace (`plan::pace`), measured once per boot, kept in localkube's home for every
//! process after the first, and the same for every use in a process: host work made of what a
//! cluster's work is made of (system calls, file I/O, fresh memory), and round trips to the local
//! Docker daemon.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::plan::pace::{self, Kept, Measured};

/// The pace of this process, settled on first use.
#[derive(Debug, Clone)]
struct Pace {
    factor: f64,
    forced: bool,
    measured: Option<Measured>,
    /// Where the measurement is kept for the boot, when it is.
    kept_in: Option<PathBuf>,
}

/// Where the pace is kept for the processes after this one; set by the command line before the
/// pace is first used. Unset (the load balancer's processes in their containers, unit tests),
/// the process measures for itself.
static KEEP_IN: OnceLock<PathBuf> = OnceLock::new();

/// Keep the pace at `path` (localkube's home), or reuse the one kept there this boot.
pub fn keep_in(path: PathBuf) {
    let _ = KEEP_IN.set(path);
}

fn pace() -> &'static Pace {
    static PACE: OnceLock<Pace> = OnceLock::new();
    PACE.get_or_init(|| {
        let forced = std::env::var(pace::FACTOR_ENV).ok();
        if forced.as_deref().is_some_and(|v| !v.trim().is_empty()) {
            // Nothing measured: the variable is there for machines where measuring is wrong.
            let unmeasured = Measured {
                host: Duration::ZERO,
                docker: None,
            };
            match pace::factor(forced.as_deref(), &unmeasured) {
                Ok(factor) => {
                    return Pace {
                        factor,
                        forced: true,
                        measured: None,
                        kept_in: None,
                    };
                }
                Err(e) => eprintln!("warning: {e}; measuring instead"),
            }
        }
        let (measured, kept_in) = match KEEP_IN.get() {
            Some(path) => kept_or_measured(path),
            None => (measure(), None),
        };
        Pace {
            factor: pace::factor(None, &measured).unwrap_or(1.0),
            forced: false,
            measured: Some(measured),
            kept_in,
        }
    })
}

/// The measurement kept at `path` when it holds for this boot and daemon; else a fresh one, kept
/// there for the processes after this one (the first to keep one wins: two processes measuring
/// at once use the same). Where nothing can be kept (no boot id, a home that cannot be written),
/// the fresh one serves this process alone.
fn kept_or_measured(path: &Path) -> (Measured, Option<PathBuf>) {
    let Some(boot) = boot_id() else {
        return (measure(), None);
    };
    let socket = local_docker_socket().map(|p| p.display().to_string());
    let socket = socket.as_deref();
    let read = || -> Option<Kept> { serde_json::from_slice(&std::fs::read(path).ok()?).ok() };
    if let Some(kept) = pace::reusable(read().as_ref(), &boot, socket) {
        return (kept, Some(path.to_path_buf()));
    }
    let measured = measure();
    if !pace::worth_keeping(&measured, socket) {
        return (measured, None);
    }
    let kept = Kept::new(&boot, socket, &measured);
    let written = (|| -> std::io::Result<tempfile::NamedTempFile> {
        let dir = path.parent().unwrap_or(Path::new("."));
        // As the profiles' folders are made: the home holds their private keys.
        std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
            .create(dir)?;
        let mut file = tempfile::NamedTempFile::new_in(dir)?;
        file.write_all(&serde_json::to_vec_pretty(&kept)?)?;
        Ok(file)
    })();
    let Ok(file) = written else {
        return (measured, None);
    };
    match file.persist_noclobber(path) {
        Ok(_) => (measured, Some(path.to_path_buf())),
        // Another process kept one first: its measurement is the machine's.
        Err(e) => match pace::reusable(read().as_ref(), &boot, socket) {
            Some(theirs) => (theirs, Some(path.to_path_buf())),
            // A stale one (an earlier boot, another daemon): replaced.
            None => match e.file.persist(path) {
                Ok(_) => (measured, Some(path.to_path_buf())),
                Err(_) => (measured, None),
            },
        },
    }
}

/// This boot's id; `None` where the kernel gives none (the pace is then measured per process).
fn boot_id() -> Option<String> {
    let id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    Some(id.trim().to_string()).filter(|id| !id.is_empty())
}

/// The factor for this process: measured on first use (a few milliseconds on a usual machine),
/// or `LOCALKUBE_TIME_FACTOR`. A value the variable cannot have is reported once and ignored.
pub fn factor() -> f64 {
    pace().factor
}

/// `timeout` stretched by this machine's factor.
pub fn scaled(timeout: Duration) -> Duration {
    pace::scale(timeout, factor())
}

/// The line to tell the user, when the timeouts are stretched.
pub fn report() -> Option<String> {
    let p = pace();
    let kept_in = p.kept_in.as_ref().map(|k| k.display().to_string());
    pace::report(p.factor, p.forced, p.measured.as_ref(), kept_in.as_deref())
}

/// What was measured, for `doctor -o json`; `None` when the variable set the factor.
pub fn measured() -> Option<Measured> {
    pace().measured
}

/// Where the measurement is kept for this boot, for `doctor -o json`; `None` when it is not.
pub fn kept_in() -> Option<PathBuf> {
    pace().kept_in.clone()
}

/// Rounds of the host work: the middle one counts (`plan::pace::median`).
const ROUNDS: usize = 5;
/// Enough to judge a slow machine: no more rounds once the measurement took this long (done once
/// a boot, it may take a moment: 5 rounds are 10-20 ms on a usual machine, 2 s at 30x).
const ENOUGH: Duration = Duration::from_secs(2);

fn measure() -> Measured {
    let dir = std::env::temp_dir();
    let started = Instant::now();
    let mut rounds = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        rounds.push(host_work(&dir));
        if started.elapsed() > ENOUGH {
            break;
        }
    }
    let host = pace::median(rounds).unwrap_or_default();
    let docker = local_docker_socket().and_then(|socket| docker_round_trip(&socket));
    Measured { host, docker }
}

/// One round of host work, timed by the CPU time it took (user and kernel): metadata calls, a
/// 256 KiB file written and read back, 4 MiB of fresh memory touched page by page (each touch a
/// page fault), and a short integer loop. CPU time and not the clock's: a process waiting for a
/// core on a loaded machine is not slower for it (measured by the clock, three busy loops on
/// two cores made one round in five look 2-5x slow), while an emulator's every system call and
/// page fault is. A failing file operation (no writable temporary folder) leaves that part out.
fn host_work(dir: &Path) -> Duration {
    let started = cpu_time();
    for _ in 0..500 {
        let _ = std::hint::black_box(std::fs::metadata("/"));
    }
    let _ = file_round_trip(&dir.join(format!(".localkube-pace-{}", std::process::id())));
    let mut memory = vec![0u8; 4 << 20];
    for page in memory.iter_mut().step_by(4096) {
        *page = 1;
    }
    std::hint::black_box(&memory);
    drop(memory);
    spin(std::hint::black_box(200_000));
    cpu_time().saturating_sub(started)
}

/// The CPU time this thread has used.
fn cpu_time() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or_default(),
        u32::try_from(t.tv_nsec).unwrap_or_default(),
    )
}

fn file_round_trip(path: &Path) -> std::io::Result<()> {
    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(path)?;
        let block = [7u8; 4096];
        for _ in 0..64 {
            file.write_all(&block)?;
        }
        file.seek(SeekFrom::Start(0))?;
        let mut back = [0u8; 4096];
        for _ in 0..64 {
            file.read_exact(&mut back)?;
        }
        Ok(())
    })();
    let _ = std::fs::remove_file(path);
    result
}

fn spin(n: u64) -> u64 {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x = x.wrapping_add(i);
    }
    std::hint::black_box(x)
}

/// The daemon's socket when it is on this machine (`DOCKER_HOST` unset or `unix://`).
fn local_docker_socket() -> Option<PathBuf> {
    crate::plan::load_balancer::docker_socket_path(std::env::var("DOCKER_HOST").ok().as_deref())
        .ok()
}

/// The best of five connect, `GET /_ping`, answer round trips (five: on a loaded machine one of
/// them finds dockerd on a core); `None` when no daemon answers
/// (the verb that needs one says so itself). Bounded: a daemon that does not answer within a
/// second is judged by the host work alone.
fn docker_round_trip(socket: &Path) -> Option<Duration> {
    use std::os::unix::net::UnixStream;
    let once = || -> std::io::Result<Duration> {
        let started = Instant::now();
        let mut stream = UnixStream::connect(socket)?;
        stream.set_read_timeout(Some(Duration::from_secs(1)))?;
        stream.set_write_timeout(Some(Duration::from_secs(1)))?;
        stream.write_all(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer)?;
        if !answer.starts_with(b"HTTP/1.") {
            return Err(std::io::Error::other("not an HTTP answer"));
        }
        Ok(started.elapsed())
    };
    (0..5).filter_map(|_| once().ok()).min()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_work_is_cheap_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let took = host_work(dir.path());
        assert!(took < Duration::from_secs(2), "{took:?}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn no_daemon_at_a_socket_is_no_docker_measurement() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(docker_round_trip(&dir.path().join("none.sock")), None);
    }
}
