//! One pace per machine: the first command after a boot measures it and keeps it in the home;
//! every later command, whatever the verb, reports and stretches by the same, until the next
//! boot. `LOCALKUBE_TIME_FACTOR` still decides when set.

use std::fs;

use serde_json::Value;

use super::support::{Sandbox, stderr};

/// Not a profile any command here creates; named so that no other test's is the same.
const PROFILE: &str = "pacekept";

fn doctor_json(sb: &Sandbox, env: &[(&str, &str)]) -> (Value, String) {
    let out = sb
        .localkube()
        .args(["-p", PROFILE, "doctor", "-o", "json"])
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let doc = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("doctor -o json: {e}\n{}", stderr(&out)));
    (doc, stderr(&out))
}

fn pace_lines(err: &str) -> Vec<&str> {
    err.lines()
        .filter(|l| l.contains("pace: this machine runs about"))
        .collect()
}

#[test]
fn the_pace_is_measured_once_a_boot_and_every_verb_uses_it() {
    let sb = Sandbox::new();
    let kept_at = sb.home().join("pace.json");
    let boot = fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();

    // The first command measures and keeps the measurement, with the boot it holds for.
    let (doc, _) = doctor_json(&sb, &[]);
    let first: Value = serde_json::from_slice(&fs::read(&kept_at).unwrap()).unwrap();
    assert_eq!(first["boot_id"], boot.trim(), "{first}");
    assert!(first["host_ms"].as_f64().unwrap() > 0.0, "{first}");
    assert_eq!(doc["pace_kept_in"], kept_at.display().to_string(), "{doc}");
    assert_eq!(
        doc["pace_measured"]["host_ms"], first["host_ms"],
        "the first command reports what it kept"
    );

    // Every later command uses what is kept, not a measurement of its own: kept as 10x (40 ms of
    // host work where 4 ms is usual), each verb says 10.0x, once, and doctor stretches by it.
    let mut slow = first.clone();
    slow["host_ms"] = 40.0.into();
    slow["docker_round_trip_ms"] = 1.0.into();
    fs::write(&kept_at, serde_json::to_vec(&slow).unwrap()).unwrap();
    for verb in [
        &["version"][..],
        &["profile", "list"],
        &["-p", PROFILE, "status"],
    ] {
        let err = stderr(&sb.run(verb));
        let lines = pace_lines(&err);
        assert_eq!(lines.len(), 1, "{verb:?}: {err}");
        assert!(
            lines[0].contains("runs about 10.0x slower")
                && lines[0].contains(&format!("kept in {}", kept_at.display())),
            "{verb:?}: {}",
            lines[0]
        );
    }
    let (doc, err) = doctor_json(&sb, &[]);
    assert_eq!(doc["time_factor"], 10.0, "{doc}");
    assert_eq!(doc["pace_measured"]["host_ms"], 40.0, "{doc}");
    assert_eq!(pace_lines(&err).len(), 1, "{err}");
    let kept: Value = serde_json::from_slice(&fs::read(&kept_at).unwrap()).unwrap();
    assert_eq!(kept, slow, "a later command measured again");

    // The variable decides over what is kept, and leaves it as it is.
    let (doc, err) = doctor_json(&sb, &[("LOCALKUBE_TIME_FACTOR", "3")]);
    assert_eq!(doc["time_factor"], 3.0, "{doc}");
    assert!(err.contains("as LOCALKUBE_TIME_FACTOR sets it"), "{err}");
    let kept: Value = serde_json::from_slice(&fs::read(&kept_at).unwrap()).unwrap();
    assert_eq!(kept, slow);

    // What an earlier boot kept does not hold: measured afresh and kept for this boot.
    let mut earlier = slow.clone();
    earlier["boot_id"] = "an-earlier-boot".into();
    fs::write(&kept_at, serde_json::to_vec(&earlier).unwrap()).unwrap();
    let (doc, _) = doctor_json(&sb, &[]);
    let fresh: Value = serde_json::from_slice(&fs::read(&kept_at).unwrap()).unwrap();
    assert_eq!(fresh["boot_id"], boot.trim(), "{fresh}");
    assert_ne!(fresh["host_ms"], 40.0, "{fresh}");
    assert_eq!(doc["pace_measured"]["host_ms"], fresh["host_ms"], "{doc}");
}
