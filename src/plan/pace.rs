//! How much slower this machine runs than the one localkube's timeouts were chosen on, and those
//! timeouts stretched by it. A laptop under load and this project's machines get the timeouts as
//! written; an emulated VM (the cgroup v2 check runs 10-15x slower) or a starved runner gets
//! them scaled, rather than every constant raised for everyone.

use std::time::Duration;

/// Sets the factor by hand (a number from 1 to [`MAX_FACTOR`]), instead of the measurement.
pub const FACTOR_ENV: &str = "LOCALKUBE_TIME_FACTOR";
/// Below this a measured slowness is noise (a loaded machine): the timeouts stay as written.
const DEAD_ZONE: f64 = 2.0;
/// A machine slower than this is not one to run a cluster on; no timeout grows past it.
pub const MAX_FACTOR: f64 = 30.0;

/// The factor: [`FACTOR_ENV`]'s value when set, else how much longer the calibration took
/// (`measured`) than on the reference machine (`reference`), 1 below [`DEAD_ZONE`].
pub fn factor(
    forced: Option<&str>,
    measured: Duration,
    reference: Duration,
) -> Result<f64, String> {
    if let Some(value) = forced.map(str::trim).filter(|v| !v.is_empty()) {
        return match value.parse::<f64>() {
            Ok(f) if (1.0..=MAX_FACTOR).contains(&f) => Ok(f),
            _ => Err(format!(
                "{FACTOR_ENV}={value} is not a number from 1 to {MAX_FACTOR}: how many times \
                 slower than usual this machine runs (unset it to have localkube measure)"
            )),
        };
    }
    let ratio = measured.as_secs_f64() / reference.as_secs_f64().max(f64::MIN_POSITIVE);
    Ok(if ratio < DEAD_ZONE {
        1.0
    } else {
        ratio.min(MAX_FACTOR)
    })
}

/// `timeout` stretched by `factor`.
pub fn scale(timeout: Duration, factor: f64) -> Duration {
    timeout.mul_f64(factor.clamp(1.0, MAX_FACTOR))
}

#[cfg(test)]
mod tests {
    use super::*;

    const REF: Duration = Duration::from_millis(20);

    #[test]
    fn a_loaded_machine_keeps_the_timeouts_and_a_slow_one_stretches_them() {
        assert_eq!(factor(None, Duration::from_millis(35), REF), Ok(1.0));
        assert_eq!(factor(None, Duration::from_millis(10), REF), Ok(1.0));
        assert_eq!(factor(None, Duration::from_millis(200), REF), Ok(10.0));
        // Bounded: a stalled measurement does not make a start wait for hours.
        assert_eq!(factor(None, Duration::from_secs(60), REF), Ok(MAX_FACTOR));
        assert_eq!(scale(Duration::from_secs(5), 10.0), Duration::from_secs(50));
        assert_eq!(scale(Duration::from_secs(5), 0.1), Duration::from_secs(5));
    }

    #[test]
    fn the_variable_decides_and_a_bad_value_is_named() {
        assert_eq!(factor(Some("4"), Duration::from_secs(60), REF), Ok(4.0));
        assert_eq!(factor(Some(" "), Duration::from_millis(200), REF), Ok(10.0));
        for bad in ["0.5", "fast", "100"] {
            let err = factor(Some(bad), REF, REF).unwrap_err();
            assert!(
                err.contains(&format!("LOCALKUBE_TIME_FACTOR={bad}")),
                "{err}"
            );
        }
    }
}
