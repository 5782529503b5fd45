//! The versions localkube builds and runs by default: the one place they are pinned.

/// Kubernetes release the cluster runs unless `--kubernetes-version` says otherwise. 1.35 is the newest
/// minor measured to run here with Debian's containerd 1.6 on a cgroup v1 host (kubelet needs
/// `failCgroupV1: false`); 1.37 drops containerd 1.x.
pub const DEFAULT_KUBERNETES_VERSION: &str = "v1.35.4";

/// Checks a `--kubernetes-version` value: `vMAJOR.MINOR.PATCH`, with or without the leading `v`.
/// Returns the canonical `v`-prefixed form.
pub fn parse_kubernetes_version(text: &str) -> Result<String, String> {
    let bare = text.strip_prefix('v').unwrap_or(text);
    let parts: Vec<&str> = bare.split('.').collect();
    let numeric = parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    if !numeric || parts[0] != "1" {
        return Err(format!(
            "'{text}' is not a Kubernetes release: use vMAJOR.MINOR.PATCH, for example {DEFAULT_KUBERNETES_VERSION}"
        ));
    }
    Ok(format!("v{bare}"))
}

/// The minor version (`35` for `v1.35.4`), for choices that depend on it.
pub fn minor(version: &str) -> u32 {
    version
        .trim_start_matches('v')
        .split('.')
        .nth(1)
        .and_then(|m| m.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_version_is_canonical() {
        assert_eq!(
            parse_kubernetes_version(DEFAULT_KUBERNETES_VERSION).unwrap(),
            DEFAULT_KUBERNETES_VERSION
        );
    }

    #[test]
    fn accepts_with_or_without_v() {
        assert_eq!(parse_kubernetes_version("1.36.3").unwrap(), "v1.36.3");
        assert_eq!(parse_kubernetes_version("v1.34.0").unwrap(), "v1.34.0");
    }

    #[test]
    fn refuses_non_releases() {
        for bad in ["", "latest", "v1.35", "v2.0.0", "v1.35.x", "v1..4"] {
            assert!(parse_kubernetes_version(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn minor_of_a_version() {
        assert_eq!(minor("v1.35.4"), 35);
    }
}
