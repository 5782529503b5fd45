//! `logs`: a component's output as Docker keeps it, and the apiservers' audit log from the
//! profile's folder, written to what the verb gives.

use std::io::Write;

use anyhow::{Result, bail};

use crate::effects::home::Home;
use crate::effects::{containers, docker};
use crate::plan::audit_log::merge_by_time;
use crate::plan::config::ProfileConfig;
use crate::plan::profile_name::ProfileName;

/// Writes the last `tail` lines of the component's containers (`None`: every container), each
/// under a header when there are several; `follow` keeps following one container.
pub async fn components(
    profile: &ProfileName,
    component: Option<&str>,
    tail: usize,
    follow: bool,
    out: &mut impl Write,
) -> Result<()> {
    let docker = docker::connect().await?;
    let all = docker::profile_containers(&docker, profile).await?;
    let chosen: Vec<_> = match component {
        None => all.iter().collect(),
        Some(c) => all
            .iter()
            .filter(|x| x.role_label() == c || x.name == c)
            .collect(),
    };
    if chosen.is_empty() {
        let known: Vec<&str> = all.iter().map(|c| c.role_label()).collect();
        bail!(
            "no component '{}' in profile '{profile}'; components: {}",
            component.unwrap_or("(any)"),
            if known.is_empty() {
                "none (start the profile first)".to_string()
            } else {
                known.join(", ")
            }
        );
    }
    if follow && chosen.len() > 1 {
        // Several members of one role (`logs apiserver` with three): name one container.
        let example = match component {
            Some(_) => chosen[0].name.as_str(),
            None => "apiserver",
        };
        bail!(
            "--follow needs one container: name it, e.g. `localkube logs {example} -f` (the containers: {})",
            chosen
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let several = chosen.len() > 1;
    for c in chosen {
        // A header before each container's log when there are several (every component, or the
        // members of one).
        if several {
            writeln!(out, "==> {} ({}) <==", c.name, c.role_label())?;
        }
        containers::write_logs(&docker, &c.name, tail, follow, out).await?;
    }
    Ok(())
}

/// The audit log: the last `tail` events of the current and rotated files, each given to `print`,
/// then (`follow`) new ones as they are written, across a rotation. With several control-plane
/// members, each apiserver's log, merged by the events' time.
pub fn audit(
    home: &Home,
    profile: &ProfileName,
    config: &ProfileConfig,
    tail: usize,
    follow: bool,
    mut print: impl FnMut(&str) -> Result<()>,
) -> Result<()> {
    let dir = home.profile(profile);
    let dirs: Vec<std::path::PathBuf> = config.members().map(|m| dir.audit_dir(m)).collect();
    if config.settings.audit.is_none() && !dirs.iter().any(|d| d.exists()) {
        bail!(
            "profile '{profile}' keeps no audit log: start it with `audit: {{policy: default}}` in its cluster file (`localkube start --config FILE`)"
        );
    }
    let mut logs = Vec::new();
    for dir in &dirs {
        logs.push(member_log(dir)?);
    }
    let lines = merge_by_time(logs);
    for line in &lines[lines.len().saturating_sub(tail)..] {
        print(line)?;
    }
    if !follow {
        return Ok(());
    }
    // Following: each member's current file from where it ended, polled; a file that got shorter
    // was rotated, and is read again from its start. What the members wrote since the last poll
    // is printed by time.
    let mut followed: Vec<Followed> = dirs
        .iter()
        .map(|dir| {
            let current = dir.join("audit.log");
            let offset = std::fs::metadata(&current).map_or(0, |m| m.len());
            Followed {
                current,
                offset,
                partial: String::new(),
            }
        })
        .collect();
    loop {
        std::thread::sleep(std::time::Duration::from_millis(300));
        let mut new = Vec::new();
        for f in &mut followed {
            new.push(f.read_new()?);
        }
        for line in merge_by_time(new) {
            print(&line)?;
        }
    }
}

/// One member's audit log as it is now: its rotated files, named audit-<time>.log (sorted by
/// name, oldest first), then the current one.
fn member_log(dir: &std::path::Path) -> Result<Vec<String>> {
    let mut files: Vec<std::path::PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("audit-") && n.ends_with(".log"))
            })
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(readable(e, dir)),
    };
    files.sort();
    files.push(dir.join("audit.log"));
    let mut lines = Vec::new();
    for file in &files {
        match std::fs::read_to_string(file) {
            Ok(text) => lines.extend(text.lines().map(str::to_string)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(readable(e, file)),
        }
    }
    Ok(lines)
}

/// A member's current audit file as `logs audit -f` follows it.
struct Followed {
    current: std::path::PathBuf,
    offset: u64,
    /// The start of a line the apiserver has not finished writing.
    partial: String,
}

impl Followed {
    /// The whole lines written since the last call.
    fn read_new(&mut self) -> Result<Vec<String>> {
        let len = std::fs::metadata(&self.current).map_or(0, |m| m.len());
        if len < self.offset {
            self.offset = 0;
            self.partial.clear();
        }
        if len == self.offset {
            return Ok(Vec::new());
        }
        use std::io::{Read, Seek};
        let mut f = std::fs::File::open(&self.current).map_err(|e| readable(e, &self.current))?;
        f.seek(std::io::SeekFrom::Start(self.offset))?;
        let mut text = String::new();
        f.read_to_string(&mut text)?;
        self.offset += text.len() as u64;
        self.partial.push_str(&text);
        let mut lines = Vec::new();
        while let Some(end) = self.partial.find('\n') {
            let line: String = self.partial.drain(..=end).collect();
            lines.push(line.trim_end().to_string());
        }
        Ok(lines)
    }
}

/// The apiserver writes its log as root, mode 0600: a user other than root reads it with sudo.
fn readable(e: std::io::Error, path: &std::path::Path) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::PermissionDenied {
        anyhow::anyhow!(
            "cannot read {}: the apiserver writes its audit log as root with mode 0600; read it as root, e.g. `sudo tail {}`",
            path.display(),
            path.display()
        )
    } else {
        anyhow::Error::new(e).context(format!("reading {}", path.display()))
    }
}
