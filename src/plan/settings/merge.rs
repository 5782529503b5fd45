//! The user's flags and configuration fields over localkube's own.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::join_map;

/// Merges extra flags over a component's own: a flag given again replaces localkube's value
/// (kubeadm's extraArgs do the same); `--feature-gates` and `--runtime-config` are merged key by
/// key, the user's keys winning, so localkube's own gates stay unless the user sets them.
pub fn merge_flags(ours: Vec<String>, extra: Vec<String>) -> Vec<String> {
    let mut out = ours;
    for flag in extra {
        let name = flag.split_once('=').map_or(flag.as_str(), |(n, _)| n);
        let prefix = format!("{name}=");
        match out
            .iter()
            .position(|f| f.starts_with(&prefix) || *f == name)
        {
            Some(i) if name == "--feature-gates" || name == "--runtime-config" => {
                let mut map: BTreeMap<String, String> = BTreeMap::new();
                for part in [&out[i], &flag] {
                    let value = part.split_once('=').map_or("", |(_, v)| v);
                    for pair in value.split(',').filter(|p| !p.is_empty()) {
                        let (k, v) = pair.split_once('=').unwrap_or((pair, "true"));
                        map.insert(k.to_string(), v.to_string());
                    }
                }
                out[i] = format!("{name}={}", join_map(&map));
            }
            Some(i) => out[i] = flag,
            None => out.push(flag),
        }
    }
    out
}

/// A component config's YAML with user fields merged over it: maps merged key by key, anything
/// else replaced. `gates` are merged into its `featureGates`.
pub fn merge_config(
    ours: &str,
    fields: &Map<String, Value>,
    gates: &BTreeMap<String, bool>,
) -> String {
    if fields.is_empty() && gates.is_empty() {
        return ours.to_string();
    }
    let mut value: Value = crate::yaml::from_str(ours).expect("localkube's own config parses");
    merge_value(&mut value, &Value::Object(fields.clone()));
    if !gates.is_empty() {
        let all = value
            .as_object_mut()
            .expect("a config is a map")
            .entry("featureGates")
            .or_insert_with(|| Value::Object(Map::new()));
        for (gate, on) in gates {
            all[gate] = Value::Bool(*on);
        }
    }
    format!(
        "# localkube's settings with the profile's own merged over them (its cluster file, --extra-config, --feature-gates).\n{}",
        crate::yaml::to_string(&value).expect("a config serialises")
    )
}

fn merge_value(into: &mut Value, over: &Value) {
    match (into, over) {
        (Value::Object(into), Value::Object(over)) => {
            for (k, v) in over {
                merge_value(into.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (into, over) => *into = over.clone(),
    }
}

/// `max-pods` → `maxPods`; a camelCase name is kept.
pub(super) fn camel_case(key: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in key.chars() {
        if c == '-' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A command-line value as YAML would read it: `50` a number, `true` a boolean, else a string.
pub(super) fn scalar(text: &str) -> Value {
    match crate::yaml::from_str::<Value>(text) {
        Ok(v @ (Value::Number(_) | Value::Bool(_))) => v,
        _ => Value::String(text.to_string()),
    }
}
