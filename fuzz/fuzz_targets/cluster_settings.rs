//! A cluster file is copied from blog posts, and a snapshot brings its settings: on any text,
//! reading, checking and describing the settings must not panic, and settings the checks accept
//! without `insecure: true` switch no safeguard off.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use localkube::plan::cluster_file::ClusterFile;
use localkube::plan::known_options::Component;
use localkube::plan::settings::ClusterSettings;
use localkube::plan::snapshot::import_changes;
use localkube::plan::terminal_text::escape_controls;
use localkube::plan::version::DEFAULT_KUBERNETES_VERSION as V;

fn check(settings: &ClusterSettings, nodes: &[u32]) {
    let changes = import_changes(settings);
    for line in &changes {
        assert!(!escape_controls(line).chars().any(char::is_control));
    }
    if settings.validate(V, nodes).is_err() {
        return;
    }
    if !settings.insecure {
        assert!(settings.weakenings().is_empty(), "{:?}", settings.weakenings());
        assert!(settings.insecure_report().is_empty());
    }
    for component in [
        Component::Apiserver,
        Component::ControllerManager,
        Component::Scheduler,
    ] {
        let _ = settings.extra_flags(component, V);
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // As a cluster file.
    if let Ok(file) = ClusterFile::parse(text)
        && let Ok(request) = file.into_parts(Path::new("/fuzz"))
    {
        let nodes: Vec<u32> = (1..=request.nodes.unwrap_or(1).clamp(1, 9)).collect();
        check(&request.settings, &nodes);
    }
    // As the settings of a profile's config.yaml (a snapshot's).
    if let Ok(settings) = localkube::yaml::from_str::<ClusterSettings>(text) {
        check(&settings, &[1, 2, 3]);
    }
});
