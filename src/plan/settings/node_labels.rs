//! Labels and taints per node: their checks, and which of them a node gets or loses.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{NodeSettings, SettingsError, err};

pub(super) fn check_label(key: &str, value: &str) -> Result<(), SettingsError> {
    let name_ok = |s: &str| {
        !s.is_empty()
            && s.len() <= 63
            && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
            && s.chars().last().is_some_and(|c| c.is_ascii_alphanumeric())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let prefix_ok = prefix.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 253
            && p.split('.').all(|l| {
                !l.is_empty()
                    && l.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            })
    });
    if !prefix_ok || !name_ok(name) {
        return err(format!(
            "nodes: label key '{key}' is not valid: a name of up to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit, with an optional DNS prefix (example.com/tier)"
        ));
    }
    if !value.is_empty() && !name_ok(value) {
        return err(format!(
            "nodes: label {key}='{value}': a value is empty or up to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
        ));
    }
    Ok(())
}

/// A taint as `kubectl taint` writes it: `key[=value]:Effect`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taint {
    pub key: String,
    pub value: Option<String>,
    pub effect: String,
}

pub const TAINT_EFFECTS: [&str; 3] = ["NoSchedule", "PreferNoSchedule", "NoExecute"];

pub fn parse_taint(text: &str) -> Result<Taint, SettingsError> {
    let bad = || {
        err(format!(
            "nodes: taint '{text}': write key[=value]:Effect, e.g. dedicated=db:NoSchedule (effects: {})",
            TAINT_EFFECTS.join(", ")
        ))
    };
    let Some((kv, effect)) = text.rsplit_once(':') else {
        return bad();
    };
    if !TAINT_EFFECTS.contains(&effect) {
        return bad();
    }
    let (key, value) = match kv.split_once('=') {
        Some((k, v)) => (k, Some(v.to_string())),
        None => (kv, None),
    };
    if check_label(key, value.as_deref().unwrap_or("")).is_err() {
        return bad();
    }
    Ok(Taint {
        key: key.to_string(),
        value,
        effect: effect.to_string(),
    })
}

/// The annotation on a Node that records which labels and taints localkube put there from the
/// profile's settings, so a label or taint later removed from the file is removed from the node
/// (and those others put there, `kubectl label` or the node controller's, are left alone).
pub const NODE_SETTINGS_ANNOTATION: &str = "localkube.dev/settings";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedNodeSettings {
    #[serde(default)]
    pub labels: Vec<String>,
    /// `key:Effect` of each taint.
    #[serde(default)]
    pub taints: Vec<String>,
}

/// A node's labels and taints as they are to be, and the record of what localkube set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeChanges {
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
    pub record: AppliedNodeSettings,
}

/// A node's labels and taints after the profile's settings: those localkube applied before and
/// no longer wants removed, the wanted ones set.
pub fn node_changes(
    labels: &BTreeMap<String, String>,
    taints: &[Taint],
    before: &AppliedNodeSettings,
    wanted: &NodeSettings,
) -> Result<NodeChanges, SettingsError> {
    let wanted_taints: Vec<Taint> = wanted
        .taints
        .iter()
        .map(|t| parse_taint(t))
        .collect::<Result<_, _>>()?;
    let id = |t: &Taint| format!("{}:{}", t.key, t.effect);
    let mut new_labels = labels.clone();
    for key in &before.labels {
        if !wanted.labels.contains_key(key) {
            new_labels.remove(key);
        }
    }
    new_labels.extend(wanted.labels.clone());
    let mut new_taints: Vec<Taint> = taints
        .iter()
        .filter(|t| {
            !before.taints.contains(&id(t)) && !wanted_taints.iter().any(|w| id(w) == id(t))
        })
        .cloned()
        .collect();
    new_taints.extend(wanted_taints.iter().cloned());
    let record = AppliedNodeSettings {
        labels: wanted.labels.keys().cloned().collect(),
        taints: wanted_taints.iter().map(id).collect(),
    };
    Ok(NodeChanges {
        labels: new_labels,
        taints: new_taints,
        record,
    })
}

#[cfg(test)]
mod node_change_tests {
    use super::*;

    fn taint(key: &str, effect: &str) -> Taint {
        Taint {
            key: key.into(),
            value: None,
            effect: effect.into(),
        }
    }

    #[test]
    fn only_what_localkube_applied_is_taken_back() {
        let labels = BTreeMap::from([
            ("kubernetes.io/hostname".to_string(), "dev".to_string()),
            ("tier".to_string(), "back".to_string()),
            ("old".to_string(), "x".to_string()),
        ]);
        let taints = vec![
            taint("node.kubernetes.io/not-ready", "NoSchedule"),
            taint("gone", "NoSchedule"),
        ];
        let before = AppliedNodeSettings {
            labels: vec!["old".into(), "tier".into()],
            taints: vec!["gone:NoSchedule".into()],
        };
        let wanted = NodeSettings {
            labels: BTreeMap::from([("tier".to_string(), "front".to_string())]),
            taints: vec!["dedicated=db:NoExecute".into()],
        };
        let NodeChanges {
            labels: l,
            taints: t,
            record,
        } = node_changes(&labels, &taints, &before, &wanted).unwrap();
        assert_eq!(l.get("old"), None);
        assert_eq!(l["tier"], "front");
        assert_eq!(l["kubernetes.io/hostname"], "dev");
        let ids: Vec<String> = t
            .iter()
            .map(|t| format!("{}:{}", t.key, t.effect))
            .collect();
        assert_eq!(
            ids,
            [
                "node.kubernetes.io/not-ready:NoSchedule",
                "dedicated:NoExecute"
            ]
        );
        assert_eq!(record.labels, ["tier"]);
        assert_eq!(record.taints, ["dedicated:NoExecute"]);
    }
}
