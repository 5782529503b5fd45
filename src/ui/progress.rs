//! Progress of long steps: a spinner per step on a terminal (indicatif), one plain line per step
//! otherwise, nothing when quiet. Everything goes to stderr so stdout stays data (`-o json`).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// Spinners that redraw in place.
    Terminal,
    /// One line when a step starts and one when it ends.
    Plain,
    /// Nothing at all.
    Quiet,
}

#[derive(Debug, Clone)]
pub struct Ui {
    mode: ProgressMode,
    verbose: u8,
}

impl Ui {
    /// From the environment: `LOCALKUBE_PROGRESS=quiet|plain|terminal`, else a spinner when stderr is
    /// a terminal and plain lines otherwise.
    pub fn from_env(verbose: u8) -> Self {
        let mode = match std::env::var("LOCALKUBE_PROGRESS").as_deref() {
            Ok("quiet") => ProgressMode::Quiet,
            Ok("plain") => ProgressMode::Plain,
            Ok("terminal") => ProgressMode::Terminal,
            _ if std::io::stderr().is_terminal() => ProgressMode::Terminal,
            _ => ProgressMode::Plain,
        };
        Self { mode, verbose }
    }

    pub fn quiet() -> Self {
        Self {
            mode: ProgressMode::Quiet,
            verbose: 0,
        }
    }

    pub fn verbose(&self) -> u8 {
        self.verbose
    }

    /// Starts a named step; finish it with `done`, `skipped` or `failed`. Dropped unfinished, it
    /// reports failure (an early return through `?`).
    pub fn step(&self, what: impl Into<String>) -> Step {
        let what = what.into();
        let bar = match self.mode {
            ProgressMode::Terminal => {
                let bar = ProgressBar::new_spinner();
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {msg} {elapsed:.dim}")
                        .expect("valid template"),
                );
                bar.set_message(what.clone());
                bar.enable_steady_tick(Duration::from_millis(100));
                Some(bar)
            }
            ProgressMode::Plain => {
                eprintln!("• {what} ...");
                None
            }
            ProgressMode::Quiet => None,
        };
        Step {
            what,
            bar,
            mode: self.mode,
            started: Instant::now(),
            finished: false,
        }
    }

    /// A line of detail, shown with `-v`.
    pub fn detail(&self, line: impl AsRef<str>) {
        if self.verbose > 0 && self.mode != ProgressMode::Quiet {
            eprintln!("  {}", line.as_ref());
        }
    }

    /// A message the user should see (not data: that goes to stdout).
    pub fn info(&self, line: impl AsRef<str>) {
        if self.mode != ProgressMode::Quiet {
            eprintln!("{}", line.as_ref());
        }
    }
}

#[derive(Debug)]
pub struct Step {
    what: String,
    bar: Option<ProgressBar>,
    mode: ProgressMode,
    started: Instant,
    finished: bool,
}

impl Step {
    /// Updates what the step is doing now (a spinner's message; plain mode prints nothing).
    pub fn update(&self, now: impl AsRef<str>) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{}: {}", self.what, now.as_ref()));
        }
    }

    pub fn done(self) {
        self.finish("✓", None);
    }

    pub fn done_with(self, note: impl AsRef<str>) {
        self.finish("✓", Some(note.as_ref()));
    }

    pub fn skipped(self, why: impl AsRef<str>) {
        self.finish("-", Some(why.as_ref()));
    }

    pub fn failed(self) {
        self.finish("✗", None);
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    fn finish(mut self, mark: &str, note: Option<&str>) {
        self.report(mark, note);
    }

    fn report(&mut self, mark: &str, note: Option<&str>) {
        if self.finished {
            return;
        }
        self.finished = true;
        let secs = self.started.elapsed().as_secs_f64();
        let line = match note {
            Some(note) => format!("{mark} {} ({note}, {secs:.1}s)", self.what),
            None => format!("{mark} {} ({secs:.1}s)", self.what),
        };
        match (&self.bar, self.mode) {
            (Some(bar), _) => bar.finish_and_clear(),
            (None, ProgressMode::Quiet) => return,
            _ => {}
        }
        eprintln!("{line}");
    }
}

impl Drop for Step {
    fn drop(&mut self) {
        self.report("✗", None);
    }
}
