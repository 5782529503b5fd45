//! Addon manifests (from `addons/`), rendered for a profile.

use crate::plan::config::ProfileConfig;
use crate::plan::names;

const COREDNS: &str = include_str!("../../addons/coredns.yaml");
const LB_CONTROLLER: &str = include_str!("../../addons/lb-controller.yaml");

/// RBAC of localkube's LoadBalancer controller.
pub fn lb_controller() -> &'static str {
    LB_CONTROLLER
}

/// The CoreDNS addon: ServiceAccount, RBAC, Corefile, Deployment and the kube-dns Service.
pub fn coredns(config: &ProfileConfig) -> String {
    COREDNS
        .replace("{{DNS_DOMAIN}}", &config.dns_domain)
        .replace("{{DNS_IP}}", &config.dns_service_ip().to_string())
        .replace(
            "{{IMAGE}}",
            &names::image("coredns", &config.kubernetes_version),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coredns_is_filled_in_completely() {
        let config = ProfileConfig::new(40000, "172.30.1.0/24".parse().unwrap());
        let text = coredns(&config);
        assert!(!text.contains("{{"), "placeholder left");
        let docs = crate::yaml::documents(&text).unwrap();
        let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            [
                "ServiceAccount",
                "ClusterRole",
                "ClusterRoleBinding",
                "ConfigMap",
                "Deployment",
                "Service"
            ]
        );
        assert_eq!(docs[5]["spec"]["clusterIP"], "10.96.0.10");
        assert_eq!(
            docs[4]["spec"]["template"]["spec"]["containers"][0]["image"],
            "localkube/coredns:v1.35.4"
        );
        assert!(
            docs[3]["data"]["Corefile"]
                .as_str()
                .unwrap()
                .contains("kubernetes cluster.local in-addr.arpa")
        );
    }
}
