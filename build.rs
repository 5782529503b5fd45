//! Embeds the image definitions (`images/`) in the binary, so an installed or copied localkube
//! builds its images from any folder. Each file keeps its path and executable bit: both are part of
//! the build keys, so images built from a checkout and from the embedded copy share their cache.

use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

fn main() {
    terminal_assets();
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("images");
    // A directory here makes cargo rerun this script when any file under it changes or appears.
    println!("cargo:rerun-if-changed=images");
    let mut files = Vec::new();
    walk(&root, "", &mut files);
    files.sort();
    let mut out = String::from(
        "/// Every file under `images/` at build time: path, contents, executable.\n\
         pub static FILES: &[(&str, &[u8], bool)] = &[\n",
    );
    for (rel, path, executable) in &files {
        writeln!(
            out,
            "    ({rel:?}, include_bytes!({:?}), {executable}),",
            path.display().to_string()
        )
        .unwrap();
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("embedded_images.rs");
    std::fs::write(dest, out).unwrap();
}

fn walk(dir: &Path, prefix: &str, files: &mut Vec<(String, PathBuf, bool)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let meta = std::fs::metadata(&path).unwrap();
        let rel = format!("{prefix}{name}");
        if meta.is_dir() {
            walk(&path, &format!("{rel}/"), files);
        } else {
            files.push((rel, path, meta.permissions().mode() & 0o111 != 0));
        }
    }
}

/// The dashboard's exec terminal is xterm.js from npm (pinned with its integrity hash in
/// `src/dashboard/terminal/package-lock.json`), fetched by `npm ci` into a git-ignored folder and
/// embedded into the binary by `src/dashboard/assets.rs`. Without it, stop here with the command.
fn terminal_assets() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let folder = "src/dashboard/terminal/node_modules/@xterm/xterm";
    println!("cargo:rerun-if-changed={folder}");
    for file in ["lib/xterm.js", "css/xterm.css"] {
        let path = root.join(folder).join(file);
        println!("cargo:rerun-if-changed={}", path.display());
        if !path.is_file() {
            eprintln!(
                "\n\nthe dashboard's terminal library is missing ({}).\n\
                 Fetch it once with:\n\n    npm ci --prefix src/dashboard/terminal\n\n\
                 (scripts/setup.sh does this; it needs npm and the npm registry)\n",
                path.display()
            );
            std::process::exit(1);
        }
    }
}
