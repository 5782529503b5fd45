//! The user's kubeconfig is anyone's text: merging localkube's entries into it, taking them out
//! again, undoing a merge and re-pointing the server must never panic, and a merge that succeeds
//! must hold the profile's context and be stable (merging twice changes nothing more).
#![no_main]

use libfuzzer_sys::fuzz_target;
use localkube::plan::kubeconfig::{self, Credentials};

fn credentials() -> Credentials {
    Credentials {
        cluster: "localkube-fuzz".into(),
        server: "https://127.0.0.1:40123".into(),
        ca_pem: "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n".into(),
        user: "localkube-fuzz".into(),
        cert_pem: "-----BEGIN CERTIFICATE-----\nU\n-----END CERTIFICATE-----\n".into(),
        key_pem: "-----BEGIN PRIVATE KEY-----\nK\n-----END PRIVATE KEY-----\n".into(),
        context: "localkube-fuzz".into(),
        owner: "fuzz".into(),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(existing) = std::str::from_utf8(data) else {
        return;
    };
    let c = credentials();
    let names = ["localkube-fuzz"; 3];
    let _ = kubeconfig::current_context(existing);
    let _ = kubeconfig::check_mergeable(Some(existing), &c);
    let _ = kubeconfig::remove_entries(existing, &c.cluster, &c.user, &c.context, "fuzz");
    let _ = kubeconfig::restore_own_entries(existing, None, names, "fuzz");
    let _ = kubeconfig::set_server(existing, &c.cluster, "fuzz", "https://127.0.0.1:1");
    let Ok(merged) = kubeconfig::merge(Some(existing), &c, true) else {
        return;
    };
    assert_eq!(
        kubeconfig::current_context(&merged).unwrap().as_deref(),
        Some("localkube-fuzz")
    );
    let twice = kubeconfig::merge(Some(&merged), &c, true).unwrap();
    assert_eq!(twice, merged, "merging twice changed the file");
    // Undoing the merge leaves what was there (as a document).
    let undone = kubeconfig::restore_own_entries(&merged, Some(existing), names, "fuzz").unwrap();
    if let Some(undone) = undone {
        let _ = kubeconfig::same_content(&undone, existing);
    }
    let removed = kubeconfig::remove(&merged, &c.cluster, &c.user, &c.context, "fuzz").unwrap();
    assert!(!removed.contains("localkube-fuzz\n") || existing.contains("localkube-fuzz"));
});
