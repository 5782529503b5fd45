//! How far a build is, read from its own output: `go build -v` prints each package's import path
//! as it compiles it, to be counted against what `go list -deps` names; mmdebstrap prints an `I:`
//! line as it enters each of its phases.

use std::collections::HashSet;

use crate::ui::Progress;

/// What a build's output is counted by.
#[derive(Debug)]
pub enum Counter {
    Packages(PackageCounter),
    Phases(PhaseCounter),
}

impl Counter {
    /// Counts one line of output; the progress when it moved.
    pub fn line(&mut self, line: &str) -> Option<Progress<'static>> {
        match self {
            Counter::Packages(c) => c.line(line).then(|| c.progress()),
            Counter::Phases(c) => c.line(line).then(|| c.progress()),
        }
    }

    pub fn progress(&self) -> Progress<'static> {
        match self {
            Counter::Packages(c) => c.progress(),
            Counter::Phases(c) => c.progress(),
        }
    }
}

/// Packages compiled of those a `go build` needs.
#[derive(Debug)]
pub struct PackageCounter {
    expected: HashSet<String>,
    compiled: HashSet<String>,
}

impl PackageCounter {
    /// From the output of `go list -deps PACKAGES`: one import path a line. `unsafe` (and `C`,
    /// cgo's) are listed but never compiled, so they are not counted.
    pub fn from_go_list(listed: &str) -> Self {
        let expected = listed
            .lines()
            .map(str::trim)
            .filter(|p| !p.is_empty() && *p != "unsafe" && *p != "C")
            .map(str::to_string)
            .collect();
        Self {
            expected,
            compiled: HashSet::new(),
        }
    }

    /// A line of `go build -v`: counts it when it names a package still to compile (anything else,
    /// a download or an error, is not a package).
    pub fn line(&mut self, line: &str) -> bool {
        let line = line.trim();
        self.expected.contains(line) && self.compiled.insert(line.to_string())
    }

    pub fn total(&self) -> usize {
        self.expected.len()
    }

    pub fn progress(&self) -> Progress<'static> {
        Progress {
            done: self.compiled.len() as u64,
            total: self.expected.len() as u64,
            unit: "packages",
        }
    }
}

/// The `go list -deps` arguments for a `go build` command line: the same tags and packages.
pub fn go_list_args(build_args: &[String]) -> Vec<String> {
    let mut list = vec!["list".to_string(), "-deps".to_string()];
    let mut args = build_args.iter().skip_while(|a| *a == "build");
    while let Some(arg) = args.next() {
        match arg.as_str() {
            // Flags with a value that says how, not what, to build.
            "-o" | "-ldflags" | "-gcflags" | "-asmflags" => {
                args.next();
            }
            "-tags" => {
                list.push(arg.clone());
                if let Some(tags) = args.next() {
                    list.push(tags.clone());
                }
            }
            flag if flag.starts_with('-') => {}
            package => list.push(package.to_string()),
        }
    }
    list
}

/// The phases mmdebstrap announces, in order (its `I:` lines).
pub const MMDEBSTRAP_PHASES: &[&str] = &[
    "I: running apt-get update",
    "I: downloading packages",
    "I: extracting archives",
    "I: installing essential packages",
    "I: installing remaining packages",
    "I: cleaning package lists",
    "I: creating tarball",
    "I: done",
];

/// Phases entered of a known list, by the line that starts each.
#[derive(Debug)]
pub struct PhaseCounter {
    phases: &'static [&'static str],
    reached: usize,
}

impl PhaseCounter {
    pub fn new(phases: &'static [&'static str]) -> Self {
        Self { phases, reached: 0 }
    }

    /// Moves to the phase a line starts (never back).
    pub fn line(&mut self, line: &str) -> bool {
        match self.phases.iter().position(|p| line.starts_with(p)) {
            Some(i) if i + 1 > self.reached => {
                self.reached = i + 1;
                true
            }
            _ => false,
        }
    }

    pub fn progress(&self) -> Progress<'static> {
        Progress {
            done: self.reached as u64,
            total: self.phases.len() as u64,
            unit: "phases",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_are_counted_once_and_only_when_listed() {
        let mut c = PackageCounter::from_go_list(
            "internal/goarch\nunsafe\nruntime\nlocalkube.local/netinit\n",
        );
        assert_eq!(c.total(), 3, "unsafe is never compiled");
        assert!(c.line("internal/goarch"));
        assert!(!c.line("internal/goarch"), "counted twice");
        assert!(!c.line("go: downloading github.com/x/y v1.0.0"));
        assert!(!c.line("# runtime"));
        assert!(c.line("runtime\n"));
        assert_eq!(c.progress().render(), "2 of 3 packages (66%)");
        assert!(c.line("localkube.local/netinit"));
        assert_eq!(c.progress().percent(), 100);
    }

    #[test]
    fn go_list_takes_the_builds_tags_and_packages() {
        let build: Vec<String> = [
            "build",
            "-o",
            "/out/",
            "-tags",
            "providerless,dockerless",
            "-trimpath",
            "-ldflags",
            "-s -w -X a=b",
            "-v",
            "k8s.io/kubernetes/cmd/kubelet",
            "k8s.io/kubernetes/cmd/kubectl",
        ]
        .map(str::to_string)
        .to_vec();
        assert_eq!(
            go_list_args(&build),
            [
                "list",
                "-deps",
                "-tags",
                "providerless,dockerless",
                "k8s.io/kubernetes/cmd/kubelet",
                "k8s.io/kubernetes/cmd/kubectl",
            ]
        );
        let netinit: Vec<String> = [
            "build",
            "-o",
            "/out/netinit",
            "-trimpath",
            "-ldflags",
            "-s",
            ".",
        ]
        .map(str::to_string)
        .to_vec();
        assert_eq!(go_list_args(&netinit), ["list", "-deps", "."]);
    }

    #[test]
    fn mmdebstrap_phases_move_forward() {
        let mut c = PhaseCounter::new(MMDEBSTRAP_PHASES);
        assert!(!c.line("I: automatically chosen mode: root"));
        assert!(c.line("I: running apt-get update..."));
        assert!(c.line("I: extracting archives..."));
        assert_eq!(c.progress().done, 3, "a skipped phase counts as passed");
        assert!(!c.line("I: downloading packages with apt..."), "never back");
        assert!(c.line("I: creating tarball..."));
        assert!(c.line("I: done"));
        assert_eq!(c.progress().percent(), 100);
    }
}
