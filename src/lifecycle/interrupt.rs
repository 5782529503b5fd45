//! Ctrl-C and SIGTERM for the commands that change a cluster (`start`, `snapshot save`,
//! `pause`, ...): the signal is raced against the work, the work is dropped where it stands, and
//! the command puts the cluster back (thawed, or as it was) before it exits. A second signal
//! while that runs is ignored: the handlers stay installed, so it cannot kill the process
//! half-way through putting things back.
//!
//! `LOCALKUBE_TEST_HANG_AT=<phase>` makes a command wait at that phase until it is interrupted,
//! so the fault tests can interrupt each command at each of its phases.

use std::future::Future;

use crate::ui::Ui;

/// The environment variable of the test hook.
pub const HANG_AT_ENV: &str = "LOCALKUBE_TEST_HANG_AT";

/// Resolves when the user interrupts (Ctrl-C) or the process is asked to stop (SIGTERM); the
/// handlers are installed at once, so a signal that comes before the first poll still counts.
pub fn interruption() -> impl Future<Output = &'static str> {
    use tokio::signal::unix::{SignalKind, signal};
    let int = signal(SignalKind::interrupt()).ok();
    let term = signal(SignalKind::terminate()).ok();
    async move {
        match (int, term) {
            (Some(mut int), Some(mut term)) => tokio::select! {
                _ = int.recv() => "Ctrl-C",
                _ = term.recv() => "SIGTERM",
            },
            _ => std::future::pending().await,
        }
    }
}

/// A phase of a command: with the test hook naming it, says so and waits until interrupted.
pub async fn phase(ui: &Ui, name: &str) {
    if std::env::var(HANG_AT_ENV).is_ok_and(|at| at == name) {
        ui.info(format!(
            "{HANG_AT_ENV}={name}: waiting here until interrupted, as the test hook asks"
        ));
        std::future::pending::<()>().await;
    }
}

/// Runs `work` unless `interrupted` resolves first; then says which signal stopped what.
pub async fn or_interrupted<T>(
    work: impl Future<Output = anyhow::Result<T>>,
    interrupted: impl Future<Output = &'static str>,
    what: &str,
) -> Result<anyhow::Result<T>, anyhow::Error> {
    tokio::select! {
        result = work => Ok(result),
        signal = interrupted => Err(anyhow::anyhow!("interrupted ({signal}) while {what}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn the_work_is_dropped_where_it_stands_when_interrupted() {
        let hang = async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            anyhow::Ok(1)
        };
        let signal = async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            "SIGTERM"
        };
        let err = or_interrupted(hang, signal, "saving").await.unwrap_err();
        assert_eq!(err.to_string(), "interrupted (SIGTERM) while saving");
        let done = or_interrupted(async { anyhow::Ok(2) }, std::future::pending(), "x").await;
        assert_eq!(done.unwrap().unwrap(), 2);
    }
}
