//! The node's root filesystem: Debian packages installed by mmdebstrap. Pure: the command line
//! and the apt sources; `effects::image_build` runs it.

/// The Debian release of the node's root filesystem.
pub const DEBIAN_SUITE: &str = "bookworm";
/// The Debian mirror unless `LOCALKUBE_DEBIAN_MIRROR` names another.
pub const DEFAULT_DEBIAN_MIRROR: &str = "http://deb.debian.org/debian";

/// The packages of `images/node/packages.txt`: one a line, `#` starts a comment.
pub fn parse_packages(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.split('#').next())
        .flat_map(str::split_whitespace)
        .map(str::to_string)
        .collect()
}

/// The apt sources mmdebstrap installs from: the release, its updates and its security fixes.
pub fn debian_sources(mirror: &str) -> Vec<String> {
    let mirror = mirror.trim_end_matches('/');
    vec![
        format!("deb {mirror} {DEBIAN_SUITE} main"),
        format!("deb {mirror} {DEBIAN_SUITE}-updates main"),
        format!("deb {mirror}-security {DEBIAN_SUITE}-security main"),
    ]
}

/// mmdebstrap options besides the packages, each to keep the node's root filesystem small
/// (measured in images/node/README.md).
pub fn mmdebstrap_options() -> Vec<String> {
    [
        // The smallest base: Essential packages and apt.
        "--variant=minbase",
        // The hook merges /usr itself, so the usrmerge package, and the full perl it pulls in,
        // stay out.
        "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr",
        // No documentation, manual pages or translations: a node never shows them (copyright
        // files stay).
        "--dpkgopt=path-exclude=/usr/share/man/*",
        "--dpkgopt=path-exclude=/usr/share/doc/*",
        "--dpkgopt=path-include=/usr/share/doc/*/copyright",
        "--dpkgopt=path-exclude=/usr/share/locale/*",
        "--dpkgopt=path-exclude=/usr/share/info/*",
    ]
    .map(str::to_string)
    .to_vec()
}

/// The whole mmdebstrap command line (after the program name).
pub fn mmdebstrap_args(
    packages: &[String],
    goarch: &str,
    out_tar: &str,
    mirror: &str,
) -> Vec<String> {
    let mut args = mmdebstrap_options();
    args.push(format!("--architectures={goarch}"));
    if !packages.is_empty() {
        args.push(format!("--include={}", packages.join(",")));
    }
    args.push(DEBIAN_SUITE.to_string());
    args.push(out_tar.to_string());
    args.extend(debian_sources(mirror));
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_and_mmdebstrap() {
        let text = "# comment\niptables # rules\n\nconntrack\n  iproute2  \n";
        let packages = parse_packages(text);
        assert_eq!(packages, ["iptables", "conntrack", "iproute2"]);
        let args = mmdebstrap_args(
            &packages,
            "amd64",
            "/tmp/r.tar",
            "http://deb.debian.org/debian/",
        );
        assert!(args.contains(&"--variant=minbase".to_string()));
        assert!(args.contains(&"--include=iptables,conntrack,iproute2".to_string()));
        let suite = args.iter().position(|a| a == "bookworm").unwrap();
        assert_eq!(args[suite + 1], "/tmp/r.tar");
        assert_eq!(
            args[suite + 2],
            "deb http://deb.debian.org/debian bookworm main"
        );
        assert_eq!(
            args[suite + 4],
            "deb http://deb.debian.org/debian-security bookworm-security main"
        );
    }
}
