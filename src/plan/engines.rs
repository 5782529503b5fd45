//! The container engines localkube meets, what has been verified on each and how, and why
//! Podman's Docker-compatible API is refused. Data, not branches: `doctor` and `start` read
//! one sentence per engine from here (`plan::preflight` says which engine a daemon is).

/// What answers on the Docker socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// Docker Engine run by root, of this major version (`None` when it says none).
    Docker(Option<u32>),
    /// Docker Engine under rootlesskit (`SecurityOptions` has `name=rootless`).
    Rootless,
    /// Docker Desktop's VM (macOS, Windows, Linux).
    Desktop,
    /// Podman's Docker-compatible API (`podman system service`).
    Podman,
}

/// A Docker Engine release line and how it was verified: `doctor` says it beside the engine.
struct Verified {
    major: u32,
    how: &'static str,
}

/// Every release line a check of this repository has passed on (README's host table has the
/// figures of each run).
const VERIFIED: &[Verified] = &[
    Verified {
        major: 20,
        how: "Docker Engine 20.10 is what this project's machines and CI run (scripts/test.sh); \
              scripts/check-docker20.sh and scripts/check-host.sh (cgroup v2) check it too",
    },
    Verified {
        major: 28,
        how: "Docker Engine 28 is verified by scripts/check-docker28.sh: start with 2 nodes, \
              image load, a LoadBalancer, stop/start, a daemon restart, on both image stores",
    },
    Verified {
        major: 29,
        how: "Docker Engine 29 is verified by scripts/check-docker29.sh: start with 2 nodes, \
              image load, a LoadBalancer, stop/start, a daemon restart, on both image stores \
              (the containerd store, 29's default for a new install, and the classic one)",
    },
];

/// One sentence on what is known to work on this engine, for `doctor`.
pub fn verified(engine: Engine) -> String {
    match engine {
        Engine::Docker(Some(major)) => VERIFIED
            .iter()
            .find(|v| v.major == major)
            .map(|v| v.how.to_string())
            .unwrap_or_else(|| {
                format!(
                    "Docker Engine {major} has not been checked by localkube (20.10, 28 and 29 \
                     have): it speaks the same API, so it is expected to work"
                )
            }),
        Engine::Docker(None) => {
            "this engine does not say its version: localkube is checked on Docker Engine 20.10, \
             28 and 29"
                .to_string()
        }
        Engine::Rootless => {
            "rootless Docker is detected and its LoadBalancers are published on 127.0.0.1; a \
             whole cluster on it has not been verified yet (cgroup v2 with systemd's delegation \
             is what it needs)"
                .to_string()
        }
        Engine::Desktop => {
            "Docker Desktop is detected and its LoadBalancers are published on 127.0.0.1; not \
             verified on Desktop itself"
                .to_string()
        }
        Engine::Podman => "Podman's Docker-compatible API is refused (above)".to_string(),
    }
}

/// The first Podman whose Docker-compatible API honours `HostConfig.CgroupnsMode` (podman's
/// commit "compat: Add CgroupnsMode to POST /containers/create", first tagged v5.6.0).
pub const PODMAN_CGROUPNS: (u32, u32) = (5, 6);

/// Why a node cannot run on this Podman, each reason measured with Debian 12's Podman 4.3.1
/// (`scripts/check-podman.sh`). `version` is Podman's own (`Version` of `/version`); `needs`
/// names the engine localkube needs instead ("Docker Engine 20.10 or newer (API 1.41)").
pub fn podman_refusal(address: &str, version: &str, needs: &str) -> String {
    let before_cgroupns = podman_version(version).is_none_or(|v| v < PODMAN_CGROUPNS);
    let cgroupns = if before_cgroupns {
        format!(
            "it ignores the private cgroup namespace each node asks for (honoured from Podman \
             {}.{} on), so on a cgroup v1 host a node mounts the host's own cgroup tree writable \
             and every node's kubelet makes its cgroups at the host's root, over each other's; \
             and ",
            PODMAN_CGROUPNS.0, PODMAN_CGROUPNS.1
        )
    } else {
        String::new()
    };
    format!(
        "the daemon at {address} is Podman {version} (its Docker-compatible API), where \
         localkube's nodes cannot run: {cgroupns}it ignores the unmasked /proc and /sys a node \
         asks for (Docker's `systempaths=unconfined`), so /proc/sys stays read-only and \
         kube-proxy exits (\"can't set sysctl net/ipv4/conf/all/route_localnet\"), leaving \
         Services and DNS dead. localkube needs {needs}: install Docker Engine, or point \
         DOCKER_HOST at one"
    )
}

/// `(major, minor)` of a Podman version such as `4.3.1` or `5.6.0-rc1`.
fn podman_version(version: &str) -> Option<(u32, u32)> {
    let mut parts = version.trim().split(['.', '-', '+']);
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEEDS: &str = "Docker Engine 20.10 or newer (API 1.41)";

    #[test]
    fn each_checked_docker_line_says_its_script_and_others_say_they_are_unchecked() {
        assert!(verified(Engine::Docker(Some(29))).contains("scripts/check-docker29.sh"));
        assert!(verified(Engine::Docker(Some(29))).contains("containerd store"));
        assert!(verified(Engine::Docker(Some(28))).contains("scripts/check-docker28.sh"));
        assert!(verified(Engine::Docker(Some(20))).contains("scripts/test.sh"));
        assert!(verified(Engine::Docker(Some(27))).contains("has not been checked"));
        assert!(verified(Engine::Rootless).contains("not been verified"));
    }

    #[test]
    fn podman_before_5_6_is_refused_for_its_cgroup_namespace_and_every_podman_for_proc_sys() {
        let old = podman_refusal("unix:///run/podman.sock", "4.3.1", NEEDS);
        assert!(old.contains("Podman 4.3.1"), "{old}");
        assert!(old.contains("cgroup namespace"), "{old}");
        assert!(old.contains("/proc/sys stays read-only"), "{old}");
        // The fix is what follows the last ": ", as `doctor` splits it.
        assert_eq!(
            old.rsplit_once(": ").map(|(_, fix)| fix),
            Some("install Docker Engine, or point DOCKER_HOST at one")
        );
        let new = podman_refusal("unix:///run/podman.sock", "5.6.2", NEEDS);
        assert!(!new.contains("cgroup namespace"), "{new}");
        assert!(new.contains("/proc/sys stays read-only"), "{new}");
        assert!(podman_refusal("x", "5.6.0-rc1", NEEDS).contains("/proc/sys"));
        assert!(podman_refusal("x", "odd", NEEDS).contains("cgroup namespace"));
    }
}
