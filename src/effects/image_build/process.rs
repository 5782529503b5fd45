//! Runs a build command (go, mmdebstrap, a build script) with its output captured: every line goes
//! to a log file, the spinner shows the latest, `-v` prints them all, and a failure quotes the
//! command and its last lines.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, Result, anyhow};
use futures_util::StreamExt;
use futures_util::stream;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::ui::{Step, Ui};

/// Lines of output a failure quotes.
pub const TAIL_LINES: usize = 20;

/// The last lines of some output, for error messages.
#[derive(Debug, Default)]
pub struct Tail {
    lines: VecDeque<String>,
}

impl Tail {
    pub fn push(&mut self, line: &str) {
        if self.lines.len() == TAIL_LINES {
            self.lines.pop_front();
        }
        self.lines.push_back(line.to_string());
    }

    pub fn render(&self) -> String {
        if self.lines.is_empty() {
            return "  (no output)".to_string();
        }
        self.lines
            .iter()
            .map(|l| format!("  | {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Where a command's output goes while it runs.
pub struct Output<'a> {
    pub ui: &'a Ui,
    pub step: &'a Step,
    pub log: PathBuf,
    log_file: Option<File>,
    pub tail: Tail,
    /// Reads how far the build is from its lines, when it can.
    counter: Option<super::counting::Counter>,
}

impl<'a> Output<'a> {
    pub fn new(ui: &'a Ui, step: &'a Step, log: PathBuf) -> Self {
        let log_file = log
            .parent()
            .and_then(|dir| std::fs::create_dir_all(dir).ok())
            .and_then(|_| File::create(&log).ok());
        Self {
            ui,
            step,
            log,
            log_file,
            tail: Tail::default(),
            counter: None,
        }
    }

    /// Counts the lines that follow with `counter`, showing the step's progress from now on.
    pub fn count_with(&mut self, counter: super::counting::Counter) {
        self.step.progress(counter.progress());
        self.counter = Some(counter);
    }

    /// How far the counted build got (`None` when nothing was counted).
    pub fn counted(&self) -> Option<crate::ui::Progress<'static>> {
        self.counter.as_ref().map(|c| c.progress())
    }

    pub fn line(&mut self, line: &str) {
        let line = line.trim_end();
        if line.is_empty() {
            return;
        }
        if let Some(file) = &mut self.log_file {
            let _ = writeln!(file, "{line}");
        }
        self.tail.push(line);
        if let Some(progress) = self.counter.as_mut().and_then(|c| c.line(line)) {
            self.step.progress(progress);
        }
        let short: String = line.chars().take(100).collect();
        self.step.update(short);
        self.ui.detail(line);
    }

    /// The error for a failed command: what was being built, the command, its last lines.
    pub fn failure(
        &self,
        what: &str,
        command: &str,
        cause: impl std::fmt::Display,
    ) -> anyhow::Error {
        anyhow!(
            "building {what} failed: `{command}` {cause}; its last lines:\n{}\n(full output: {})",
            self.tail.render(),
            self.log.display()
        )
    }
}

/// A command line as a person would type it.
pub fn display_command(program: &str, args: &[String]) -> String {
    std::iter::once(program.to_string())
        .chain(args.iter().map(|a| {
            if a.is_empty() || a.contains(|c: char| c.is_whitespace() || c == '"' || c == '\'') {
                format!("'{}'", a.replace('\'', r"'\''"))
            } else {
                a.clone()
            }
        }))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `program args` in `dir` with `env` added, streaming its output into `out`.
pub async fn run(
    what: &str,
    program: &str,
    args: &[String],
    dir: &Path,
    env: &[(&str, String)],
    out: &mut Output<'_>,
) -> Result<()> {
    let shown = display_command(program, args);
    if let Some(file) = &mut out.log_file {
        let _ = writeln!(file, "$ (cd {} && {shown})", dir.display());
    }
    out.ui.detail(format!("$ {shown}"));
    let mut command = Command::new(program);
    command
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(out.failure(
                what,
                &shown,
                format!("could not start: {program} is not installed"),
            ));
        }
        Err(e) => return Err(out.failure(what, &shown, format!("could not start: {e}"))),
    };
    let stdout = BufReader::new(child.stdout.take().context("no stdout pipe")?).lines();
    let stderr = BufReader::new(child.stderr.take().context("no stderr pipe")?).lines();
    let stdout = stream::unfold(stdout, |mut l| async {
        l.next_line().await.ok().flatten().map(|x| (x, l))
    });
    let stderr = stream::unfold(stderr, |mut l| async {
        l.next_line().await.ok().flatten().map(|x| (x, l))
    });
    let mut lines = stream::select(Box::pin(stdout), Box::pin(stderr));
    while let Some(line) = lines.next().await {
        out.line(&line);
    }
    let status = child
        .wait()
        .await
        .map_err(|e| out.failure(what, &shown, format!("could not be waited for: {e}")))?;
    if !status.success() {
        return Err(out.failure(what, &shown, format!("exited with {status}")));
    }
    Ok(())
}

/// Runs a short command and returns its standard output (for `go env`, `gcc --version`, ...).
pub async fn capture(
    program: &str,
    args: &[&str],
    dir: &Path,
    env: &[(&str, String)],
) -> Result<String> {
    let mut command = Command::new(program);
    command.args(args).current_dir(dir).stdin(Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().await?;
    if !output.status.success() {
        let shown = display_command(
            program,
            &args.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        );
        return Err(anyhow!(
            "`{shown}` exited with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_lines() {
        let mut tail = Tail::default();
        for i in 0..30 {
            tail.push(&format!("line {i}"));
        }
        let text = tail.render();
        assert!(
            !text.contains("line 9\n") && text.contains("line 10") && text.ends_with("line 29")
        );
        assert_eq!(text.lines().count(), TAIL_LINES);
    }

    #[test]
    fn commands_display_quoted() {
        assert_eq!(
            display_command("go", &["build".into(), "-ldflags".into(), "-s -w".into()]),
            "go build -ldflags '-s -w'"
        );
    }

    #[tokio::test]
    async fn a_failing_command_is_quoted_with_its_last_lines() {
        let ui = Ui::quiet();
        let step = ui.step("test");
        let tmp = tempfile::tempdir().unwrap();
        let mut out = Output::new(&ui, &step, tmp.path().join("x.log"));
        let err = run(
            "the thing",
            "sh",
            &[
                "-c".into(),
                "for i in $(seq 1 30); do echo out $i; done; sleep 0.3; echo oops >&2; exit 3"
                    .into(),
            ],
            tmp.path(),
            &[],
            &mut out,
        )
        .await
        .unwrap_err()
        .to_string();
        step.done();
        assert!(err.contains("building the thing failed: `sh -c"), "{err}");
        assert!(err.contains("exit status: 3"), "{err}");
        assert!(
            err.contains("| oops") && err.contains("| out 30") && !err.contains("| out 5\n"),
            "{err}"
        );
        let log = std::fs::read_to_string(tmp.path().join("x.log")).unwrap();
        assert!(log.contains("out 1\n"), "{log}");
    }
}
