//! How much slower this machine runs than the one localkube's timeouts were chosen on, and those
//! timeouts stretched by it. A laptop under load and this project's machines get the timeouts as
//! written; an emulated VM (the cgroup v2 check runs 10-15x slower) or a starved runner gets
//! them scaled, rather than every constant raised for everyone.
//!
//! The pace is judged from what a cluster's work is made of, not from arithmetic alone: under an
//! emulator's translator an integer loop runs nearly at native speed while system calls, page
//! faults and a daemon's answers do not. Two measurements count, and the slower decides:
//! [`Measured::host`] (system calls, file I/O and fresh memory, with a little arithmetic) and
//! [`Measured::docker`] (round trips to a Docker daemon on this machine).
//!
//! One pace per machine: the first process after a boot measures it and [`Kept`] it; every
//! later one (doctor, start, each verb) uses that, so they report and stretch alike. A process
//! measuring on its own gets 4.5x one moment and 30x the next in an emulated VM, which is what
//! a pace must not do.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Sets the factor by hand (a number from 1 to [`MAX_FACTOR`]), instead of the measurement.
pub const FACTOR_ENV: &str = "LOCALKUBE_TIME_FACTOR";
/// Below this a measured slowness is noise (a loaded machine): the timeouts stay as written.
const DEAD_ZONE: f64 = 2.0;
/// A machine slower than this is not one to run a cluster on; no timeout grows past it.
pub const MAX_FACTOR: f64 = 30.0;

/// The host work's best CPU time on this project's machines (2 cores, idle or with a dozen
/// processes waiting: 1.6-2.5 ms measured, debug and release builds alike, as system calls and
/// page faults dominate it).
pub const HOST_REFERENCE: Duration = Duration::from_millis(4);
/// The best of a few connect-and-`/_ping` round trips to a local dockerd there: 0.1-0.5 ms, up to
/// 4 ms when a dozen processes wait for the two cores; twice the idle figure, so that a loaded
/// machine stays within the dead zone.
pub const DOCKER_REFERENCE: Duration = Duration::from_millis(2);

/// What this process measured: the host work's best time, and the best Docker round trip when a
/// daemon answers on this machine's unix socket (a remote one's round trip is the network's).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measured {
    pub host: Duration,
    pub docker: Option<Duration>,
}

/// The factor: [`FACTOR_ENV`]'s value when set, else how much longer the slower measurement took
/// than on the reference machine, 1 below [`DEAD_ZONE`], at most [`MAX_FACTOR`].
pub fn factor(forced: Option<&str>, measured: &Measured) -> Result<f64, String> {
    if let Some(value) = forced.map(str::trim).filter(|v| !v.is_empty()) {
        return match value.parse::<f64>() {
            Ok(f) if (1.0..=MAX_FACTOR).contains(&f) => Ok(f),
            _ => Err(format!(
                "{FACTOR_ENV}={value} is not a number from 1 to {MAX_FACTOR}: how many times \
                 slower than usual this machine runs (unset it to have localkube measure)"
            )),
        };
    }
    let host = ratio(measured.host, HOST_REFERENCE);
    let docker = measured.docker.map_or(0.0, |d| ratio(d, DOCKER_REFERENCE));
    let slowest = host.max(docker);
    Ok(if slowest < DEAD_ZONE {
        1.0
    } else {
        slowest.min(MAX_FACTOR)
    })
}

fn ratio(measured: Duration, reference: Duration) -> f64 {
    measured.as_secs_f64() / reference.as_secs_f64().max(f64::MIN_POSITIVE)
}

/// A measurement kept for the processes after the one that made it: made since this boot
/// (`/proc/sys/kernel/random/boot_id`), of the Docker daemon at this socket. The factor is not
/// kept but worked out from it each time, so a newer localkube judges it by its own references.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Kept {
    pub boot_id: String,
    pub docker_socket: Option<String>,
    pub host_ms: f64,
    pub docker_round_trip_ms: Option<f64>,
}

impl Kept {
    pub fn new(boot_id: &str, docker_socket: Option<&str>, measured: &Measured) -> Self {
        Self {
            boot_id: boot_id.to_string(),
            docker_socket: docker_socket.map(str::to_string),
            host_ms: measured.host.as_secs_f64() * 1000.0,
            docker_round_trip_ms: measured.docker.map(|d| d.as_secs_f64() * 1000.0),
        }
    }

    fn measured(&self) -> Option<Measured> {
        let millis = |ms: f64| Duration::try_from_secs_f64(ms / 1000.0).ok();
        Some(Measured {
            host: millis(self.host_ms)?,
            docker: match self.docker_round_trip_ms {
                Some(ms) => Some(millis(ms)?),
                None => None,
            },
        })
    }
}

/// The kept measurement, when it still holds for a process on this boot that would measure the
/// daemon at `docker_socket`; `None`: measure afresh (another boot, another daemon, a value no
/// measurement gives).
pub fn reusable(
    kept: Option<&Kept>,
    boot_id: &str,
    docker_socket: Option<&str>,
) -> Option<Measured> {
    let kept = kept?;
    if kept.boot_id != boot_id || kept.docker_socket.as_deref() != docker_socket {
        return None;
    }
    kept.measured()
}

/// Whether a measurement may stand for the rest of the boot: not when a local daemon was to be
/// measured and did not answer (it may be starting; the next process measures again).
pub fn worth_keeping(measured: &Measured, docker_socket: Option<&str>) -> bool {
    docker_socket.is_none() || measured.docker.is_some()
}

/// The middle of the host work's rounds: in an emulated VM they spread 20x (the host's own load
/// stalls the guest), and the best of them made the pace half of what the rest of the boot ran at.
/// Measured in CPU time, a loaded ordinary machine's rounds stay close together.
pub fn median(mut rounds: Vec<Duration>) -> Option<Duration> {
    rounds.sort();
    rounds.get(rounds.len() / 2).copied()
}

/// The one line every verb prints about the pace, with what it was measured from and, when it
/// was kept for the boot, where; `None` when the timeouts stay as written.
pub fn report(
    factor: f64,
    forced: bool,
    measured: Option<&Measured>,
    kept_in: Option<&str>,
) -> Option<String> {
    if factor <= 1.0 {
        return None;
    }
    let why = match (forced, measured) {
        (true, _) | (false, None) => format!("as {FACTOR_ENV} sets it"),
        (false, Some(m)) => {
            let mut why = format!(
                "measured: host work {} ms (usual {} ms)",
                millis(m.host),
                millis(HOST_REFERENCE)
            );
            if let Some(d) = m.docker {
                why.push_str(&format!(
                    ", Docker round trip {} ms (usual {} ms)",
                    millis(d),
                    millis(DOCKER_REFERENCE)
                ));
            }
            if let Some(path) = kept_in {
                why.push_str(&format!(
                    "; measured once this boot and kept in {path}, which `rm` makes the next \
                     command measure again"
                ));
            }
            why
        }
    };
    Some(format!(
        "pace: this machine runs about {factor:.1}x slower than localkube's timeouts assume, so \
         they are stretched as much ({why}; {FACTOR_ENV}=N sets it by hand)"
    ))
}

fn millis(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// `timeout` stretched by `factor`.
pub fn scale(timeout: Duration, factor: f64) -> Duration {
    timeout.mul_f64(factor.clamp(1.0, MAX_FACTOR))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(ms: u64) -> Measured {
        Measured {
            host: Duration::from_millis(ms),
            docker: None,
        }
    }

    fn both(host_ms: u64, docker_ms: u64) -> Measured {
        Measured {
            host: Duration::from_millis(host_ms),
            docker: Some(Duration::from_millis(docker_ms)),
        }
    }

    #[test]
    fn a_loaded_machine_keeps_the_timeouts_and_a_slow_one_stretches_them() {
        assert_eq!(factor(None, &host(7)), Ok(1.0));
        assert_eq!(factor(None, &host(1)), Ok(1.0));
        assert_eq!(factor(None, &host(40)), Ok(10.0));
        // Bounded: a stalled measurement does not make a start wait for hours.
        assert_eq!(factor(None, &host(60_000)), Ok(MAX_FACTOR));
        assert_eq!(scale(Duration::from_secs(5), 10.0), Duration::from_secs(50));
        assert_eq!(scale(Duration::from_secs(5), 0.1), Duration::from_secs(5));
    }

    #[test]
    fn the_slower_measurement_decides() {
        // An emulator runs the host work fast enough, but its dockerd answers 8x slower.
        assert_eq!(factor(None, &both(5, 16)), Ok(8.0));
        // A dockerd that answers quickly does not hide a slow host.
        assert_eq!(factor(None, &both(48, 1)), Ok(12.0));
        // Both within the noise of a loaded machine: as written.
        assert_eq!(factor(None, &both(7, 3)), Ok(1.0));
    }

    #[test]
    fn the_variable_decides_and_a_bad_value_is_named() {
        assert_eq!(factor(Some("4"), &host(60_000)), Ok(4.0));
        assert_eq!(factor(Some(" "), &host(40)), Ok(10.0));
        for bad in ["0.5", "fast", "100"] {
            let err = factor(Some(bad), &host(4)).unwrap_err();
            assert!(
                err.contains(&format!("LOCALKUBE_TIME_FACTOR={bad}")),
                "{err}"
            );
        }
    }

    #[test]
    fn the_report_says_the_factor_and_what_it_came_from() {
        assert_eq!(report(1.0, false, Some(&host(3)), None), None);
        let line = report(8.0, false, Some(&both(5, 16)), None).unwrap();
        assert!(
            line.starts_with("pace: this machine runs about 8.0x slower")
                && line.contains("host work 5.0 ms (usual 4.0 ms)")
                && line.contains("Docker round trip 16.0 ms (usual 2.0 ms)"),
            "{line}"
        );
        assert!(!line.contains("kept in"), "{line}");
        let line = report(3.0, true, None, None).unwrap();
        assert!(line.contains("as LOCALKUBE_TIME_FACTOR sets it"), "{line}");
        let line = report(8.0, false, Some(&both(5, 16)), Some("/h/pace.json")).unwrap();
        assert!(
            line.contains("measured once this boot and kept in /h/pace.json"),
            "{line}"
        );
    }

    const BOOT: &str = "8c5a3c4e-0d4b-4f55-9a4e-2f1d1c0b9a77";
    const SOCKET: Option<&str> = Some("/var/run/docker.sock");

    #[test]
    fn a_kept_measurement_holds_for_the_same_boot_and_daemon_only() {
        let measured = both(80, 12);
        let kept = Kept::new(BOOT, SOCKET, &measured);
        assert_eq!(reusable(Some(&kept), BOOT, SOCKET), Some(measured));
        // Through the file's form and back, the factor is the same.
        let text = serde_json::to_string(&kept).unwrap();
        let back: Kept = serde_json::from_str(&text).unwrap();
        let again = reusable(Some(&back), BOOT, SOCKET).unwrap();
        assert_eq!(factor(None, &again), factor(None, &measured));
        // Another boot, another daemon, nothing kept: measure afresh.
        assert_eq!(reusable(Some(&kept), "another-boot", SOCKET), None);
        assert_eq!(
            reusable(Some(&kept), BOOT, Some("/run/user/1000/docker.sock")),
            None
        );
        assert_eq!(reusable(Some(&kept), BOOT, None), None);
        assert_eq!(reusable(None, BOOT, SOCKET), None);
        // A value no measurement gives (a hand-edited file) is measured again, not trusted.
        let broken = Kept {
            host_ms: -1.0,
            ..kept.clone()
        };
        assert_eq!(reusable(Some(&broken), BOOT, SOCKET), None);
        let no_daemon = Kept::new(BOOT, None, &host(40));
        assert_eq!(reusable(Some(&no_daemon), BOOT, None), Some(host(40)));
    }

    #[test]
    fn a_daemon_that_did_not_answer_is_measured_again_later() {
        assert!(worth_keeping(&both(5, 1), SOCKET));
        assert!(!worth_keeping(&host(5), SOCKET));
        // A remote daemon is never measured: the host work alone is the pace.
        assert!(worth_keeping(&host(5), None));
    }

    #[test]
    fn the_middle_round_counts_not_the_best() {
        let ms = |v: &[u64]| v.iter().map(|&m| Duration::from_millis(m)).collect();
        // Rounds as the emulated VM gave them: the best would say 4.5x, the middle says 20x.
        assert_eq!(
            median(ms(&[569, 18, 80, 298, 75])),
            Some(Duration::from_millis(80))
        );
        assert_eq!(median(ms(&[3])), Some(Duration::from_millis(3)));
        assert_eq!(median(Vec::new()), None);
    }
}
