//! The host checks `start` runs before it creates anything, and `doctor` prints: facts gathered
//! by `effects::host_facts`, judged by `plan::preflight`.

use anyhow::{Result, bail};

use crate::effects::home::Home;
use crate::effects::{containers, docker, host_facts};
use crate::plan::config::candidate_subnets;
use crate::plan::names::{self, Role};
use crate::plan::preflight::{self, Facts, Finding, Intent, Severity};
use crate::plan::profile_name::ProfileName;
use crate::ui::Ui;

/// Set to 1, `start` reports blocking problems as warnings and goes on: for a host where a check
/// is wrong.
pub const IGNORE_ENV: &str = "LOCALKUBE_IGNORE_PREFLIGHT";

/// What the profile will use: its stored settings, or for a new profile the flags given.
pub fn intent(
    home: &Home,
    profile: &ProfileName,
    nodes: Option<u32>,
    apiserver_port: Option<u16>,
    add_node: bool,
    ip_family: Option<crate::plan::networking::IpFamily>,
) -> Intent {
    let dir = home.profile(profile);
    match dir.exists().then(|| dir.load_config().ok()).flatten() {
        Some(config) => Intent {
            nodes: config.nodes.count() + u32::from(add_node),
            subnet: Some(config.network_subnet),
            candidates: Vec::new(),
            apiserver_port: Some(config.apiserver_port),
            ip_family: config.ip_family,
        },
        None => Intent {
            nodes: nodes.unwrap_or(1),
            subnet: None,
            candidates: candidate_subnets(profile.as_str()).collect(),
            apiserver_port,
            ip_family: ip_family.unwrap_or_default(),
        },
    }
}

/// Gathers every fact the checks read. A daemon that does not answer is a fact, not an error.
pub async fn gather(home: &Home, profile: &ProfileName, intent: &Intent) -> Facts {
    let root = host_facts::host_root();
    let connected = docker::connect_unchecked().await;
    let daemon = match &connected {
        Ok(d) => host_facts::daemon(d).await.map_err(|e| format!("{e:#}")),
        Err(e) => Err(format!("{e:#}")),
    };
    let local = daemon.as_ref().is_ok_and(|d| d.local);
    let mut facts = Facts {
        daemon,
        kernel: local.then(|| host_facts::kernel(&root)),
        routes: if local {
            host_facts::routes(&root)
        } else {
            Vec::new()
        },
        networks: Vec::new(),
        disks: Vec::new(),
        port_free: intent.apiserver_port.map(host_facts::port_free),
        apiserver_running: false,
        own_bridge: None,
    };
    if let (Ok(d), Ok(daemon)) = (&connected, &facts.daemon) {
        let own = names::network(profile);
        let mut networks = host_facts::networks(d).await.unwrap_or_default();
        facts.own_bridge = networks
            .iter()
            .find(|n| n.name == own)
            .map(|n| n.bridge.clone());
        networks.retain(|n| n.name != own);
        facts.networks = networks;
        // The port is the profile's own when the container that publishes it runs: the
        // apiserver, or with several control-plane members their load balancer.
        for publisher in [
            names::control_plane_container(profile, Role::Apiserver),
            names::apiserver_lb_container(profile),
        ] {
            facts.apiserver_running |= containers::container_state(d, &publisher)
                .await
                .ok()
                .flatten()
                == Some(crate::plan::container_state::ContainerState::Running);
        }
        if local {
            let root_dir = std::path::PathBuf::from(&daemon.root_dir);
            facts.disks.extend(host_facts::free_disk(
                "Docker's images and volumes",
                &root_dir,
            ));
            facts.disks.extend(host_facts::free_disk(
                "localkube's build cache",
                home.cache(),
            ));
        }
    }
    facts
}

/// `start`'s preflight for what it is about to make ([`intent`]): warnings are shown and the start
/// goes on; a blocking problem stops it before anything is created, naming every problem and its
/// fix.
pub async fn before_start(
    home: &Home,
    profile: &ProfileName,
    ui: &Ui,
    intent: &Intent,
) -> Result<()> {
    let facts = gather(home, profile, intent).await;
    let findings = preflight::check(&facts, intent);
    for f in findings.iter().filter(|f| f.severity == Severity::Warning) {
        ui.info(f.line());
    }
    let blocking: Vec<&Finding> = preflight::blocking(&findings);
    if blocking.is_empty() {
        return Ok(());
    }
    let lines: Vec<String> = blocking.iter().map(|f| f.line()).collect();
    if std::env::var(IGNORE_ENV).is_ok_and(|v| v == "1") {
        for line in &lines {
            ui.info(format!("{line} (ignored: {IGNORE_ENV}=1)"));
        }
        return Ok(());
    }
    bail!(
        "this host cannot run the profile yet; nothing was created:\n  {}\n(`localkube doctor` \
         shows every check; {IGNORE_ENV}=1 starts anyway)",
        lines.join("\n  ")
    )
}

/// The host's routes of both families, as `(destination, device)`: a new profile's cluster
/// ranges avoid them (`ClusterRanges::check_host_routes`).
pub fn host_routes() -> Vec<(ipnet::IpNet, String)> {
    let root = host_facts::host_root();
    let v4 = host_facts::routes(&root)
        .into_iter()
        .map(|r| (ipnet::IpNet::V4(r.destination), r.interface));
    let v6 = host_facts::ipv6_routes(&root)
        .into_iter()
        .map(|(net, device)| (ipnet::IpNet::V6(net), device));
    v4.chain(v6).collect()
}

/// Ranges the host routes to something other than Docker: a new profile's network avoids them.
pub fn routed_ranges() -> Vec<ipnet::Ipv4Net> {
    preflight::foreign_routes(&host_facts::routes(&host_facts::host_root()), &[])
        .map(|r| r.destination)
        .collect()
}
