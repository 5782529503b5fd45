//! The versions localkube builds and runs: the one place they are pinned.

/// A Kubernetes minor localkube supports, with the patch release it pins for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Release {
    pub minor: u32,
    /// The patch release `stable`, `latest` and `v1.<minor>` alone resolve to.
    pub pinned: &'static str,
    /// Whether a cluster of it started and passed the conformance quick run on this project's
    /// machines (the default also passes the whole test suite); only verified releases can be
    /// `stable`.
    pub verified: bool,
}

/// Oldest first. The Go module proxy must serve the release (k8s.io/kubernetes at that tag).
pub const RELEASES: [Release; 3] = [
    Release {
        minor: 35,
        pinned: "v1.35.4",
        verified: true,
    },
    Release {
        minor: 36,
        pinned: "v1.36.3",
        verified: true,
    },
    Release {
        minor: 37,
        pinned: "v1.37.2",
        verified: true,
    },
];

/// Kubernetes release the cluster runs unless `--kubernetes-version` says otherwise: the newest
/// verified one, as the anchors default to the newest release they test.
pub const DEFAULT_KUBERNETES_VERSION: &str = stable().pinned;

/// The newest verified release.
pub const fn stable() -> Release {
    let mut i = RELEASES.len();
    while i > 0 {
        i -= 1;
        if RELEASES[i].verified {
            return RELEASES[i];
        }
    }
    panic!("no verified release")
}

/// The newest supported release.
pub const fn latest() -> Release {
    RELEASES[RELEASES.len() - 1]
}

fn supported_list() -> String {
    RELEASES
        .iter()
        .map(|r| format!("v1.{}.x", r.minor))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads a `--kubernetes-version` value: `stable`, `latest`, `vMAJOR.MINOR.PATCH` (with or without
/// the leading `v`) of a supported minor, or `v1.MINOR` for that minor's pinned patch. Returns the
/// canonical `v`-prefixed release.
pub fn parse_kubernetes_version(text: &str) -> Result<String, String> {
    match text {
        "stable" => return Ok(stable().pinned.to_string()),
        "latest" => return Ok(latest().pinned.to_string()),
        _ => {}
    }
    let bare = text.strip_prefix('v').unwrap_or(text);
    let parts: Vec<&str> = bare.split('.').collect();
    let numeric = (parts.len() == 3 || parts.len() == 2)
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    if !numeric || parts[0] != "1" {
        return Err(format!(
            "'{text}' is not a Kubernetes release: use stable, latest or vMAJOR.MINOR.PATCH, for example {DEFAULT_KUBERNETES_VERSION}"
        ));
    }
    let minor: u32 = parts[1]
        .parse()
        .map_err(|_| format!("'{text}': bad minor"))?;
    let Some(release) = RELEASES.iter().find(|r| r.minor == minor) else {
        return Err(format!(
            "Kubernetes 1.{minor} is not supported by this localkube: use {} (or stable, latest)",
            supported_list()
        ));
    };
    if parts.len() == 2 {
        return Ok(release.pinned.to_string());
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
        assert_eq!(parse_kubernetes_version("v1.37.0").unwrap(), "v1.37.0");
    }

    #[test]
    fn refuses_non_releases() {
        for bad in ["", "newest", "v2.0.0", "v1.35.x", "v1..4", "1"] {
            assert!(parse_kubernetes_version(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn aliases_and_minors_resolve_to_pinned_releases() {
        assert_eq!(parse_kubernetes_version("stable").unwrap(), stable().pinned);
        assert_eq!(parse_kubernetes_version("latest").unwrap(), "v1.37.2");
        assert_eq!(parse_kubernetes_version("v1.36").unwrap(), "v1.36.3");
        assert_eq!(parse_kubernetes_version("1.35.9").unwrap(), "v1.35.9");
        assert!(stable().verified);
        assert_eq!(DEFAULT_KUBERNETES_VERSION, stable().pinned);
    }

    #[test]
    fn unsupported_minors_name_the_ones_that_work() {
        let err = parse_kubernetes_version("v1.30.2").unwrap_err();
        assert!(err.contains("v1.35.x, v1.36.x, v1.37.x"), "{err}");
    }

    #[test]
    fn minor_of_a_version() {
        assert_eq!(minor("v1.35.4"), 35);
    }
}
