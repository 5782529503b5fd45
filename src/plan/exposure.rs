//! How the host reaches a profile's LoadBalancer services: an address of their own on loopback,
//! or ports Docker publishes on 127.0.0.1. A leaf: the profile's config holds it, the load
//! balancer's plan reads it.

/// How the host reaches a profile's LoadBalancer services, chosen when the profile is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Exposure {
    /// Each service on a loopback address of its own, its proxy in the daemon's network
    /// namespace: the host's, where the daemon runs on this machine's kernel as root.
    #[default]
    Loopback,
    /// Each service's ports published by Docker on 127.0.0.1, its proxy on the profile's
    /// network: where the daemon's network namespace is not the host's (Docker Desktop's VM,
    /// rootless Docker's namespace), so an address there would not answer here, while Docker's
    /// published ports are forwarded to the host.
    Published,
}

impl Exposure {
    pub fn is_loopback(&self) -> bool {
        *self == Exposure::Loopback
    }
}

/// Forces the exposure of a new profile: `loopback` or `published`.
pub const EXPOSURE_ENV: &str = "LOCALKUBE_LOAD_BALANCER";

/// The exposure for a new profile: the one [`EXPOSURE_ENV`] names, else `published` where the
/// daemon's network namespace is not this host's (`local` false: Docker Desktop, a remote
/// daemon; or rootless Docker), else `loopback`.
pub fn choose_exposure(
    forced: Option<&str>,
    local: bool,
    rootless: bool,
) -> Result<Exposure, String> {
    match forced.map(str::trim).filter(|v| !v.is_empty()) {
        Some("loopback") => Ok(Exposure::Loopback),
        Some("published") => Ok(Exposure::Published),
        Some(other) => Err(format!(
            "{EXPOSURE_ENV}={other} is not an exposure localkube knows: use `loopback` (an \
             address of its own per service) or `published` (ports on 127.0.0.1)"
        )),
        None if !local || rootless => Ok(Exposure::Published),
        None => Ok(Exposure::Loopback),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn where_the_host_cannot_reach_the_daemons_namespace_ports_are_published() {
        // The host's own daemon as root: an address per service.
        assert_eq!(choose_exposure(None, true, false), Ok(Exposure::Loopback));
        // Docker Desktop (or a remote daemon), and rootless Docker: ports on 127.0.0.1.
        assert_eq!(choose_exposure(None, false, false), Ok(Exposure::Published));
        assert_eq!(choose_exposure(None, true, true), Ok(Exposure::Published));
        // The variable decides either way; a value it does not know is named with the choices.
        assert_eq!(
            choose_exposure(Some("published"), true, false),
            Ok(Exposure::Published)
        );
        assert_eq!(
            choose_exposure(Some("loopback"), false, false),
            Ok(Exposure::Loopback)
        );
        assert_eq!(
            choose_exposure(Some(""), true, false),
            Ok(Exposure::Loopback)
        );
        let err = choose_exposure(Some("nodeport"), true, false).unwrap_err();
        assert!(err.contains("LOCALKUBE_LOAD_BALANCER=nodeport"), "{err}");
        assert!(err.contains("`published`"), "{err}");
    }
}
