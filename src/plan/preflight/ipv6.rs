//! What an IPv6 or dual-stack profile needs of the host.

use super::{DaemonFacts, Finding, KernelFacts, docker};
use crate::plan::networking::IpFamily;

/// What an `ipv6` or `dual` profile needs: IPv6 on in the kernel, ip6tables (kube-proxy's
/// IPv6 rules and each node's IPv6 fence) and a Docker that makes IPv6 user networks (`--ipv6
/// --subnet`, Docker 20.10 and later here). Blocking only for such a profile; otherwise said.
pub(super) fn ipv6(
    daemon: &DaemonFacts,
    kernel: Option<&KernelFacts>,
    family: IpFamily,
) -> Vec<Finding> {
    let needed = family.has_ipv6();
    let problem = |message: String, fix: &str| {
        if needed {
            Finding::block("ipv6", message, fix)
        } else {
            Finding::ok(
                "ipv6",
                format!("{message} (only `--ip-family ipv6|dual` profiles need it)"),
            )
        }
    };
    let mut findings = Vec::new();
    if docker::engine_major(&daemon.version).is_some_and(|major| major < 20) {
        findings.push(problem(
            format!(
                "Docker {} predates the IPv6 user networks localkube makes (20.10 and later)",
                daemon.version
            ),
            "upgrade Docker to 20.10 or later",
        ));
    }
    let Some(k) = kernel else {
        findings.push(Finding::ok(
            "ipv6",
            "IPv6 of the daemon's machine is not checked from here",
        ));
        return findings;
    };
    match k.ipv6 {
        None => findings.push(problem(
            "the kernel has no IPv6 (no /proc/sys/net/ipv6)".into(),
            "use a kernel with IPv6 (CONFIG_IPV6), or `--ip-family ipv4`",
        )),
        Some(false) => findings.push(problem(
            "IPv6 is disabled in the kernel (net.ipv6.conf.all.disable_ipv6 = 1)".into(),
            "`sudo sysctl -w net.ipv6.conf.all.disable_ipv6=0`, or `--ip-family ipv4`",
        )),
        Some(true) => {}
    }
    if !k.ip6tables {
        findings.push(problem(
            "neither ip6_tables nor nf_tables is loaded: kube-proxy's IPv6 rules and each              node's IPv6 fence need one"
                .into(),
            "`sudo modprobe nf_tables` (or `sudo modprobe ip6_tables`)",
        ));
    }
    if findings.is_empty() {
        findings.push(Finding::ok(
            "ipv6",
            format!(
                "IPv6 on, ip6tables available, Docker {} makes IPv6 networks: `--ip-family                  ipv6|dual` profiles can run",
                daemon.version
            ),
        ));
    }
    findings
}
