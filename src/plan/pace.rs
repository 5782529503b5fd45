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

use std::time::Duration;

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

/// The one line every verb prints about the pace, with what it was measured from; `None` when
/// the timeouts stay as written.
pub fn report(factor: f64, forced: bool, measured: Option<&Measured>) -> Option<String> {
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
        assert_eq!(report(1.0, false, Some(&host(3))), None);
        let line = report(8.0, false, Some(&both(5, 16))).unwrap();
        assert!(
            line.starts_with("pace: this machine runs about 8.0x slower")
                && line.contains("host work 5.0 ms (usual 4.0 ms)")
                && line.contains("Docker round trip 16.0 ms (usual 2.0 ms)"),
            "{line}"
        );
        let line = report(3.0, true, None).unwrap();
        assert!(line.contains("as LOCALKUBE_TIME_FACTOR sets it"), "{line}");
    }
}
