//! This machine's pace (`plan::pace`), measured once per process: a short CPU-bound calibration
//! timed against what it takes on this project's machines.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::plan::pace;

/// The calibration's best time on this project's machines (2 cores, idle to loaded), for this
/// kind of build: the loop is compiled as the rest of the binary is.
const REFERENCE: Duration = if cfg!(debug_assertions) {
    Duration::from_millis(22)
} else {
    Duration::from_millis(4)
};

/// The factor for this process: measured on first use (about 0.1 s), or `LOCALKUBE_TIME_FACTOR`.
/// A value the variable cannot have is reported once and ignored.
pub fn factor() -> f64 {
    static FACTOR: OnceLock<f64> = OnceLock::new();
    *FACTOR.get_or_init(|| {
        let forced = std::env::var(pace::FACTOR_ENV).ok();
        match pace::factor(forced.as_deref(), calibrate(), REFERENCE) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("warning: {e}; measuring instead");
                pace::factor(None, calibrate(), REFERENCE).unwrap_or(1.0)
            }
        }
    })
}

/// `timeout` stretched by this machine's factor.
pub fn scaled(timeout: Duration) -> Duration {
    pace::scale(timeout, factor())
}

/// The best of five runs of a fixed integer loop: the best, so that a moment of contention
/// does not count as slowness.
fn calibrate() -> Duration {
    (0..5)
        .map(|_| {
            let started = Instant::now();
            spin(std::hint::black_box(2_000_000));
            started.elapsed()
        })
        .min()
        .unwrap_or_default()
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
