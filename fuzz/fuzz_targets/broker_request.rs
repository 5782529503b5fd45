//! The load balancer broker (root, holding the Docker socket) reads request lines from the
//! controller, which runs as nobody: any line must be answered without a panic, and a create
//! the checks accept must name a proxy within the profile.
#![no_main]

use libfuzzer_sys::fuzz_target;
use localkube::lb::runtime::{Request, parse_request};
use localkube::plan::config::ProfileConfig;
use localkube::plan::load_balancer;
use localkube::plan::profile_name::ProfileName;

fuzz_target!(|data: &[u8]| {
    let line = String::from_utf8_lossy(data);
    let Ok(request) = parse_request(&line) else {
        return;
    };
    let Request::Create { lb } = request else {
        return;
    };
    let config = ProfileConfig::new(40123, "172.30.7.0/24".parse().unwrap());
    if load_balancer::check_request(&config, &lb).is_err() {
        return;
    }
    let _ = load_balancer::check_capacity(&config, &[], &lb);
    let profile = ProfileName::parse("fuzz").unwrap();
    let spec = load_balancer::proxy_spec(&profile, &config, &lb, "localkube/lb:fuzz");
    assert!(spec.name.starts_with("fuzz-lb-"));
    assert!(!spec.name.contains('/') && spec.name.len() < 200);
    assert!(spec.security.cap_drop == ["ALL"]);
    let nodes = load_balancer::node_addresses(&config);
    assert!(lb.backends.iter().all(|b| nodes.contains(b)));
});
