//! Progress of long steps: a spinner per step on a terminal (indicatif), turning into a bar when the
//! step knows how far it is; one plain line per step otherwise, with a line of progress every few
//! seconds; JSON events (one object a line) with `-o json`; nothing when quiet. Everything goes to
//! stderr so stdout stays data.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use indicatif::{ProgressBar, ProgressStyle};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// Spinners that redraw in place.
    Terminal,
    /// One line when a step starts and one when it ends.
    Plain,
    /// One JSON object a line for each step started, progressed and finished (`-o json`).
    Json,
    /// Nothing at all.
    Quiet,
}

/// How often plain mode prints a step's progress: often enough to see it move in a CI log, rarely
/// enough that a 20-minute build stays readable.
const PLAIN_INTERVAL: Duration = Duration::from_secs(5);
/// JSON consumers get finer-grained progress; still bounded for steps with thousands of units.
const JSON_INTERVAL: Duration = Duration::from_secs(1);
/// In plain mode, a step that has printed nothing for this long says it still runs: on a slow
/// host one Docker call can take minutes, and a CI log must show that it is not hung.
const PLAIN_HEARTBEAT: Duration = Duration::from_secs(30);

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
            Ok("json") => ProgressMode::Json,
            _ if std::io::stderr().is_terminal() => ProgressMode::Terminal,
            _ => ProgressMode::Plain,
        };
        Self { mode, verbose }
    }

    /// `-o json`: progress as JSON events too, unless it is silenced.
    pub fn with_json_events(mut self, json: bool) -> Self {
        if json && self.mode != ProgressMode::Quiet {
            self.mode = ProgressMode::Json;
        }
        self
    }

    pub fn mode(&self) -> ProgressMode {
        self.mode
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
            ProgressMode::Json => {
                event(json!({"event": "step", "step": what}));
                None
            }
            ProgressMode::Quiet => None,
        };
        let step = Step {
            what,
            bar,
            mode: self.mode,
            started: Instant::now(),
            finished: false,
            last_progress: Arc::new(Mutex::new(None)),
            ended: Arc::new(AtomicBool::new(false)),
        };
        if self.mode == ProgressMode::Plain {
            step.heartbeat();
        }
        step
    }

    /// A line of detail, shown with `-v`.
    pub fn detail(&self, line: impl AsRef<str>) {
        match self.mode {
            _ if self.verbose == 0 => {}
            ProgressMode::Quiet => {}
            ProgressMode::Json => event(json!({"event": "detail", "message": line.as_ref()})),
            _ => eprintln!("  {}", line.as_ref()),
        }
    }

    /// A message the user should see (not data: that goes to stdout).
    pub fn info(&self, line: impl AsRef<str>) {
        match self.mode {
            ProgressMode::Quiet => {}
            ProgressMode::Json => event(json!({"event": "info", "message": line.as_ref()})),
            _ => eprintln!("{}", line.as_ref()),
        }
    }
}

fn event(value: serde_json::Value) {
    eprintln!("{value}");
}

/// How far a step is: `done` of `total` `unit`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress<'a> {
    pub done: u64,
    pub total: u64,
    /// What is counted, plural ("packages", "phases", "MB").
    pub unit: &'a str,
}

impl Progress<'_> {
    pub fn percent(&self) -> u64 {
        if self.total == 0 {
            return 100;
        }
        (self.done.min(self.total) * 100) / self.total
    }

    /// `812 of 2315 packages (35%)`.
    pub fn render(&self) -> String {
        format!(
            "{} of {} {} ({}%)",
            self.done,
            self.total,
            self.unit,
            self.percent()
        )
    }
}

/// `3m05s`, `42s`.
pub fn render_elapsed(elapsed: Duration) -> String {
    let secs = elapsed.as_secs();
    if secs >= 60 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{secs}s")
    }
}

#[derive(Debug)]
pub struct Step {
    what: String,
    bar: Option<ProgressBar>,
    mode: ProgressMode,
    started: Instant,
    finished: bool,
    /// When progress was last printed (plain, JSON), to print it every few seconds only.
    last_progress: Arc<Mutex<Option<(Instant, u64)>>>,
    /// Set when the step reports its end: the heartbeat stops.
    ended: Arc<AtomicBool>,
}

impl Step {
    /// Plain mode: a line every [`PLAIN_HEARTBEAT`] while the step runs and prints nothing else.
    fn heartbeat(&self) {
        let (what, started) = (self.what.clone(), self.started);
        let (last_progress, ended) = (self.last_progress.clone(), self.ended.clone());
        std::thread::spawn(move || {
            let mut last_line = started;
            while !ended.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(500));
                let progressed = last_progress
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .map(|(at, _)| at);
                let quiet_since = progressed.map_or(last_line, |at| at.max(last_line));
                if quiet_since.elapsed() >= PLAIN_HEARTBEAT && !ended.load(Ordering::SeqCst) {
                    eprintln!(
                        "  {what}: still running, {}",
                        render_elapsed(started.elapsed())
                    );
                    last_line = Instant::now();
                }
            }
        });
    }

    /// How far the step is. A terminal shows a bar; plain mode a line every few seconds, and when
    /// it reaches the total; JSON mode an event, as often.
    pub fn progress(&self, progress: Progress<'_>) {
        let complete = progress.done >= progress.total;
        if let Some(bar) = &self.bar {
            if bar.length() != Some(progress.total) {
                bar.set_prefix(progress.unit.to_string());
                bar.set_style(
                    ProgressStyle::with_template(
                        "{spinner} {msg} [{bar:25}] {pos}/{len} {prefix} {elapsed:.dim}",
                    )
                    .expect("valid template")
                    .progress_chars("=> "),
                );
                bar.set_length(progress.total);
            }
            bar.set_position(progress.done);
            return;
        }
        let interval = match self.mode {
            ProgressMode::Plain => PLAIN_INTERVAL,
            ProgressMode::Json => JSON_INTERVAL,
            _ => return,
        };
        let mut last = self.last_progress.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let due = last.is_none_or(|(at, _)| now.duration_since(at) >= interval);
        let repeated = last.is_some_and(|(_, done)| done == progress.done);
        if repeated || (!due && !complete) {
            return;
        }
        *last = Some((now, progress.done));
        let elapsed = self.started.elapsed();
        if self.mode == ProgressMode::Json {
            event(json!({
                "event": "progress",
                "step": self.what,
                "done": progress.done,
                "total": progress.total,
                "unit": progress.unit,
                "percent": progress.percent(),
                "elapsed_seconds": elapsed.as_secs_f64(),
            }));
        } else {
            eprintln!(
                "  {}: {}, {}",
                self.what,
                progress.render(),
                render_elapsed(elapsed)
            );
        }
    }

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
        self.ended.store(true, Ordering::SeqCst);
        let secs = self.started.elapsed().as_secs_f64();
        let line = match note {
            Some(note) => format!("{mark} {} ({note}, {secs:.1}s)", self.what),
            None => format!("{mark} {} ({secs:.1}s)", self.what),
        };
        match (&self.bar, self.mode) {
            (Some(bar), _) => bar.finish_and_clear(),
            (None, ProgressMode::Quiet) => return,
            (None, ProgressMode::Json) => {
                let result = match mark {
                    "✓" => "done",
                    "-" => "skipped",
                    _ => "failed",
                };
                event(json!({
                    "event": "finished",
                    "step": self.what,
                    "result": result,
                    "note": note,
                    "seconds": secs,
                }));
                return;
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_reads_as_done_of_total() {
        let p = Progress {
            done: 812,
            total: 2315,
            unit: "packages",
        };
        assert_eq!(p.render(), "812 of 2315 packages (35%)");
        let full = Progress {
            done: 7,
            total: 7,
            unit: "phases",
        };
        assert_eq!(full.percent(), 100);
        let empty = Progress {
            done: 0,
            total: 0,
            unit: "packages",
        };
        assert_eq!(empty.percent(), 100);
    }

    #[test]
    fn elapsed_in_minutes_and_seconds() {
        assert_eq!(render_elapsed(Duration::from_secs(42)), "42s");
        assert_eq!(render_elapsed(Duration::from_secs(185)), "3m05s");
    }

    #[test]
    fn json_events_replace_lines_unless_quiet() {
        let quiet = Ui::quiet().with_json_events(true);
        assert_eq!(quiet.mode(), ProgressMode::Quiet);
        let plain = Ui {
            mode: ProgressMode::Plain,
            verbose: 0,
        };
        assert_eq!(
            plain.clone().with_json_events(false).mode(),
            ProgressMode::Plain
        );
        assert_eq!(plain.with_json_events(true).mode(), ProgressMode::Json);
    }
}
