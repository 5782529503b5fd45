//! The desktop's opener (`open` on macOS, `xdg-open` elsewhere): one rule for whether there is a
//! desktop to open something on, and one way to run it.

use std::ffi::OsStr;
use std::process::{Command, Stdio};

/// The opener of this desktop, or why there is none: on Linux a desktop session sets DISPLAY
/// (X11) or WAYLAND_DISPLAY; an empty one is no desktop either.
pub fn desktop_opener() -> Result<&'static str, String> {
    if cfg!(target_os = "macos") {
        return Ok("open");
    }
    let has_display = ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|d| !d.is_empty()));
    if !has_display {
        return Err("no desktop here: DISPLAY and WAYLAND_DISPLAY are unset".into());
    }
    Ok("xdg-open")
}

/// Runs `opener` on `target` (a URL or a file), detached from the terminal's input and output.
pub fn open_with(opener: &str, target: impl AsRef<OsStr>) -> Result<(), String> {
    Command::new(opener)
        .arg(target)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(|mut child| {
            // Reap it when it exits (xdg-open returns at once), so no zombie is left.
            std::thread::spawn(move || child.wait());
        })
        .map_err(|e| format!("{opener} could not be run: {e}"))
}
