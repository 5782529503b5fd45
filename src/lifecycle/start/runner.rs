//! The runner of `start`'s table: each step in order, the `LOCALKUBE_TEST_FAIL_AT` hook checked
//! after it, an interruption (Ctrl-C, SIGTERM) raced against it, and on any failure one roll-back
//! of what this run made.

use std::future::Future;
use std::time::Instant;

use anyhow::{Result, bail};
use bollard::Docker;
use futures_util::future::LocalBoxFuture;

use super::context::StartContext;
use super::created::{Created, Leftovers, ROLL_BACK_TIMEOUT, retrying};
use super::{Outcome, SETTLE_TIMEOUT};
use crate::effects::{containers, docker, pace};
use crate::plan::profile_name::ProfileName;

/// A step's function: it reads and fills the shared context.
pub type StepFn = for<'a, 'b> fn(&'a mut StartContext<'b>) -> LocalBoxFuture<'a, Result<()>>;

/// One row of the table of steps.
#[derive(Clone, Copy)]
pub struct Step {
    /// The step's name: what `LOCALKUBE_TEST_FAIL_AT` takes and an interruption reports.
    pub name: &'static str,
    pub runs: Runs,
    pub run: StepFn,
}

/// Whether a step runs for a cluster that already runs as planned (found by the `Images` step).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runs {
    /// Every time.
    Always,
    /// Skipped then: a cluster that runs as planned is left alone.
    UnlessRunning,
}

/// Runs the steps in order until one sets the outcome; a failure, the test hook's failure after
/// step `fail_at`, or `interrupted` resolving mid-step rolls back what this run made.
pub(super) async fn run_steps(
    ctx: &mut StartContext<'_>,
    steps: &[Step],
    fail_at: Option<&'static str>,
    interrupted: impl Future<Output = &'static str>,
) -> Result<Outcome> {
    let mut interrupted = std::pin::pin!(interrupted);
    for step in steps {
        let name = step.name;
        let result = if ctx.already_running && step.runs == Runs::UnlessRunning {
            Ok(())
        } else {
            tokio::select! {
                result = (step.run)(ctx) => result,
                signal = &mut interrupted => Err(anyhow::anyhow!(
                    "interrupted ({signal}) while {name} ran; nothing of this start is kept"
                )),
            }
        };
        let result = result.and_then(|()| match fail_at {
            Some(at) if at == name => bail!(
                "LOCALKUBE_TEST_FAIL_AT={name}: failing after this step, as the test hook asks"
            ),
            _ => Ok(()),
        });
        if let Err(err) = result {
            return Err(roll_back(ctx, err).await);
        }
        if ctx.outcome.is_some() {
            break;
        }
    }
    Ok(ctx.outcome.take().expect("the last step sets the outcome"))
}

/// The step `LOCALKUBE_TEST_FAIL_AT` names (its name as in the table, any case, `-`/`_` ignored):
/// `start` fails right after it, as a fault-injection hook for tests. A name of no step is
/// refused, listing them.
pub(super) fn test_fail_at(steps: &[Step], value: Option<&str>) -> Result<Option<&'static str>> {
    let Some(wanted) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let norm = |s: &str| s.replace(['-', '_'], "").to_ascii_lowercase();
    match steps.iter().find(|step| norm(step.name) == norm(wanted)) {
        Some(step) => Ok(Some(step.name)),
        None => {
            let all: Vec<&str> = steps.iter().map(|s| s.name).collect();
            bail!(
                "LOCALKUBE_TEST_FAIL_AT='{wanted}' names no step of start: use one of {} or unset it",
                all.join(", ")
            )
        }
    }
}

pub(super) use crate::lifecycle::interrupt::interruption;

/// Puts the machine back as it was before this run: what it created in Docker, the profile folder
/// it made, the configuration it changed.
pub(super) async fn roll_back(ctx: &mut StartContext<'_>, err: anyhow::Error) -> anyhow::Error {
    if let Some(loading) = ctx.node_images.take() {
        loading.all.abort();
    }
    if ctx.request.keep_on_failure {
        return err;
    }
    // The user's kubeconfig first: it is theirs, and it is restored only when this run wrote it.
    if ctx.merged
        && let Some(before) = &ctx.user_kubeconfig
        && let Err(cleanup) = before.restore()
    {
        return err.context(format!(
            "and restoring your kubeconfig failed too: {cleanup:#}"
        ));
    }
    // What could not be removed from Docker: said at the end, after the files are put back too.
    let mut left_in_docker = None;
    if ctx.created.has_docker_objects() || (ctx.created.profile && ctx.docker.is_some()) {
        let step = ctx.ui.step("Removing what this start created");
        let left = match &ctx.docker {
            Some(docker) => {
                // An interruption dropped the step, not the creates dockerd was carrying out.
                let settle = pace::scaled(SETTLE_TIMEOUT);
                if tokio::time::timeout(settle, containers::settled())
                    .await
                    .is_err()
                {
                    ctx.ui.detail(format!(
                        "a Docker create was still under way after {settle:?}; removing what is there"
                    ));
                }
                remove_created(docker, ctx.profile, &ctx.created).await
            }
            None => None,
        };
        match left {
            Some(left) => {
                step.failed();
                let mut message = left.describe(ctx.profile);
                if let Err(e) = left.save(&ctx.home.leftovers_path(ctx.profile)) {
                    message.push_str(&format!(
                        " (and keeping this list for the next start failed: {e:#})"
                    ));
                }
                left_in_docker = Some(message);
            }
            None => step.done_with("use --keep-on-failure to keep it for debugging"),
        }
    }
    if let Some(before) = &ctx.profile_files
        && let Err(cleanup) = before.restore()
    {
        return err.context(format!(
            "and restoring the profile's files failed too: {cleanup:#}"
        ));
    }
    if ctx.created.profile {
        if let Err(cleanup) = ctx.dir.remove() {
            return err.context(format!(
                "and removing the new profile failed too: {cleanup:#}"
            ));
        }
    } else if ctx.profile_files.is_none()
        && let Some(previous) = &ctx.previous_config
        && let Err(cleanup) = ctx.dir.save_config(previous)
    {
        return err.context(format!("and restoring config.yaml failed too: {cleanup:#}"));
    }
    match left_in_docker {
        Some(message) => err.context(format!("and cleaning up failed too: {message}")),
        None => err,
    }
}

/// Removes what `created` records, and for a profile that did not exist before it, whatever
/// carries its label (a load balancer proxy its controller made, say): nothing older can. What
/// is still there after the roll-back's deadline comes back.
pub(super) async fn remove_created(
    docker: &Docker,
    profile: &ProfileName,
    created: &Created,
) -> Option<Leftovers> {
    let within = docker::deadline(ROLL_BACK_TIMEOUT);
    let mut left = created.roll_back(docker, profile, within).await.err();
    if created.profile {
        let deadline = Instant::now() + within;
        let what = format!("removing what carries the label of profile '{profile}'");
        match retrying(&what, deadline, || docker::remove_profile(docker, profile)).await {
            // Everything that carried the label is gone, what the record missed included.
            Ok(_) => left = None,
            Err(e) => left
                .get_or_insert_with(|| Leftovers {
                    remaining: Created {
                        profile: true,
                        ..Created::default()
                    },
                    problems: Vec::new(),
                })
                .problems
                .push(format!("{e:#}")),
        }
    }
    left
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use anyhow::anyhow;

    use super::*;
    use crate::effects::home::Home;
    use crate::lifecycle::start::{STEPS, StartRequest};
    use crate::plan::profile_name::ProfileName;
    use crate::ui::Ui;

    /// Leaves a mark that the step ran, beside the profiles.
    fn mark(ctx: &StartContext<'_>, step: &str) -> Result<()> {
        std::fs::write(ctx.home.root().join(format!("ran-{step}")), "")?;
        Ok(())
    }

    fn ran(home: &Home) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(home.root())
            .unwrap()
            .filter_map(|e| {
                e.ok()?
                    .file_name()
                    .to_str()?
                    .strip_prefix("ran-")
                    .map(String::from)
            })
            .collect();
        names.sort();
        names
    }

    /// A new profile's folder, made as the `ProfileConfig` step makes it.
    async fn make_profile(ctx: &mut StartContext<'_>) -> Result<()> {
        std::fs::create_dir_all(&ctx.dir.dir)?;
        ctx.created.profile = true;
        mark(ctx, "MakeProfile")
    }

    async fn fail(_: &mut StartContext<'_>) -> Result<()> {
        Err(anyhow!("the step broke"))
    }

    async fn hang(ctx: &mut StartContext<'_>) -> Result<()> {
        mark(ctx, "Hang")?;
        std::future::pending().await
    }

    async fn found_running(ctx: &mut StartContext<'_>) -> Result<()> {
        ctx.already_running = true;
        mark(ctx, "FoundRunning")
    }

    async fn change(ctx: &mut StartContext<'_>) -> Result<()> {
        mark(ctx, "Change")
    }

    async fn finish(ctx: &mut StartContext<'_>) -> Result<()> {
        mark(ctx, "Finish")?;
        ctx.outcome = Some(Outcome::Started {
            context: "t".into(),
            kubeconfig: PathBuf::from("config"),
        });
        Ok(())
    }

    const MAKE_THEN_FINISH: &[Step] = &[
        Step {
            name: "MakeProfile",
            runs: Runs::UnlessRunning,
            run: |c| Box::pin(make_profile(c)),
        },
        Step {
            name: "Finish",
            runs: Runs::Always,
            run: |c| Box::pin(finish(c)),
        },
    ];

    const MAKE_FAIL_FINISH: &[Step] = &[
        MAKE_THEN_FINISH[0],
        Step {
            name: "Fail",
            runs: Runs::UnlessRunning,
            run: |c| Box::pin(fail(c)),
        },
        MAKE_THEN_FINISH[1],
    ];

    const MAKE_HANG_FINISH: &[Step] = &[
        MAKE_THEN_FINISH[0],
        Step {
            name: "Hang",
            runs: Runs::UnlessRunning,
            run: |c| Box::pin(hang(c)),
        },
        MAKE_THEN_FINISH[1],
    ];

    const RUNNING: &[Step] = &[
        Step {
            name: "FoundRunning",
            runs: Runs::UnlessRunning,
            run: |c| Box::pin(found_running(c)),
        },
        Step {
            name: "Change",
            runs: Runs::UnlessRunning,
            run: |c| Box::pin(change(c)),
        },
        MAKE_THEN_FINISH[1],
    ];

    /// Runs `steps` for profile `t` in a fresh home; the interruption never comes unless given.
    async fn run(
        steps: &[Step],
        fail_at: Option<&'static str>,
        request: StartRequest,
        interrupted: Option<Duration>,
    ) -> (tempfile::TempDir, Home, Result<Outcome>) {
        let tmp = tempfile::tempdir().unwrap();
        let home = Home::at(tmp.path().join("home"), tmp.path().join("cache"));
        std::fs::create_dir_all(home.root()).unwrap();
        let profile = ProfileName::parse("t").unwrap();
        let ui = Ui::quiet();
        let mut ctx = StartContext::new(&home, &profile, &ui, request, None, None);
        let interruption = async move {
            match interrupted {
                Some(after) => {
                    tokio::time::sleep(after).await;
                    "Ctrl-C"
                }
                None => std::future::pending().await,
            }
        };
        let outcome = run_steps(&mut ctx, steps, fail_at, interruption).await;
        drop(ctx);
        (tmp, home, outcome)
    }

    fn profile_exists(home: &Home) -> bool {
        home.profile(&ProfileName::parse("t").unwrap()).dir.exists()
    }

    #[tokio::test]
    async fn every_step_runs_in_order_until_one_sets_the_outcome() {
        let (_tmp, home, outcome) =
            run(MAKE_THEN_FINISH, None, StartRequest::default(), None).await;
        assert!(
            matches!(outcome, Ok(Outcome::Started { .. })),
            "{outcome:?}"
        );
        assert_eq!(ran(&home), ["Finish", "MakeProfile"]);
        assert!(profile_exists(&home), "a success keeps what it made");
    }

    #[tokio::test]
    async fn the_fail_at_hook_fails_right_after_its_step_and_rolls_back() {
        let (_tmp, home, outcome) = run(
            MAKE_THEN_FINISH,
            Some("MakeProfile"),
            StartRequest::default(),
            None,
        )
        .await;
        let err = format!("{:#}", outcome.unwrap_err());
        assert!(err.contains("LOCALKUBE_TEST_FAIL_AT=MakeProfile"), "{err}");
        assert_eq!(ran(&home), ["MakeProfile"], "no step after it runs");
        assert!(!profile_exists(&home), "the profile it made is removed");
    }

    #[tokio::test]
    async fn a_failing_step_stops_the_run_and_what_it_made_is_removed() {
        let (_tmp, home, outcome) =
            run(MAKE_FAIL_FINISH, None, StartRequest::default(), None).await;
        let err = format!("{:#}", outcome.unwrap_err());
        assert!(err.starts_with("the step broke"), "{err}");
        assert_eq!(ran(&home), ["MakeProfile"]);
        assert!(!profile_exists(&home));
    }

    #[tokio::test]
    async fn keep_on_failure_keeps_what_the_run_made() {
        let request = StartRequest {
            keep_on_failure: true,
            ..Default::default()
        };
        let (_tmp, home, outcome) = run(MAKE_FAIL_FINISH, None, request, None).await;
        assert!(outcome.is_err());
        assert!(profile_exists(&home), "kept for debugging");
    }

    #[tokio::test]
    async fn an_interruption_stops_the_step_under_way_and_rolls_back() {
        let after = Some(Duration::from_millis(20));
        let (_tmp, home, outcome) =
            run(MAKE_HANG_FINISH, None, StartRequest::default(), after).await;
        let err = format!("{:#}", outcome.unwrap_err());
        assert!(
            err.contains("interrupted (Ctrl-C) while Hang ran; nothing of this start is kept"),
            "{err}"
        );
        assert_eq!(ran(&home), ["Hang", "MakeProfile"]);
        assert!(!profile_exists(&home));
    }

    #[tokio::test]
    async fn a_running_cluster_skips_the_steps_that_change_things() {
        let (_tmp, home, outcome) = run(RUNNING, None, StartRequest::default(), None).await;
        assert!(outcome.is_ok(), "{outcome:?}");
        assert_eq!(ran(&home), ["Finish", "FoundRunning"]);
        // The hook still fails after a skipped step: the tests can stop a resume anywhere.
        let (_tmp, _home, outcome) =
            run(RUNNING, Some("Change"), StartRequest::default(), None).await;
        let err = format!("{:#}", outcome.unwrap_err());
        assert!(err.contains("LOCALKUBE_TEST_FAIL_AT=Change"), "{err}");
    }

    #[test]
    fn the_fail_at_hook_takes_a_step_name_in_any_spelling_and_refuses_others() {
        assert_eq!(test_fail_at(STEPS, None).unwrap(), None);
        assert_eq!(test_fail_at(STEPS, Some(" ")).unwrap(), None);
        assert_eq!(
            test_fail_at(STEPS, Some("kubeconfig-merge")).unwrap(),
            Some("KubeconfigMerge")
        );
        assert_eq!(
            test_fail_at(STEPS, Some("NETWORK_AND_VOLUMES")).unwrap(),
            Some("NetworkAndVolumes")
        );
        let err = test_fail_at(STEPS, Some("Nope")).unwrap_err().to_string();
        assert!(
            err.contains("'Nope' names no step of start")
                && err.contains("ProfileConfig, Certificates, Kubeconfigs"),
            "{err}"
        );
    }

    #[test]
    fn step_names_are_unique() {
        let mut names: Vec<&str> = STEPS.iter().map(|s| s.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), STEPS.len());
    }
}
