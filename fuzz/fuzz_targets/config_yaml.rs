//! config.yaml is the user's file (hand edits happen): read as `load_config` reads it, then, when
//! it validates, planned as `start` plans it. A configuration that validates must plan without
//! a panic (an overflow of an address computation, say).
#![no_main]

use libfuzzer_sys::fuzz_target;
use localkube::plan::config::ProfileConfig;
use localkube::plan::profile_name::ProfileName;
use localkube::plan::{cluster, load_balancer, routes};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = localkube::yaml::from_str::<ProfileConfig>(text) else {
        return;
    };
    if config.validate().is_err() {
        return;
    }
    let profile = ProfileName::parse("fuzz").unwrap();
    let plan = cluster::plan(&profile, &config, &cluster::HostFacts::example("/p"));
    let _ = cluster::render_text(&plan);
    let _ = load_balancer::address_pool(&config);
    let _ = load_balancer::node_addresses(&config);
    let nodes: Vec<routes::NodeRoute> = config
        .nodes
        .numbers()
        .iter()
        .map(|n| routes::NodeRoute {
            ip: config.node_ip(*n),
            pod_cidr: None,
        })
        .collect();
    let _ = routes::render(&routes::control_plane(&config, &nodes), "fuzz");
    // What was read is written back the same.
    let again = localkube::yaml::to_string(&config).unwrap();
    assert_eq!(localkube::yaml::from_str::<ProfileConfig>(&again).unwrap(), config);
});
