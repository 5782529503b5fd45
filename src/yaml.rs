//! The one place YAML is read and written, so the crate behind it can be swapped in one edit.
//!
//! serde-saphyr: maintained, pure Rust, the crate kube-rs moved to after serde_yaml was deprecated.

use serde::Serialize;
use serde::de::DeserializeOwned;

#[derive(Debug, thiserror::Error)]
pub enum YamlError {
    #[error("invalid YAML: {0}")]
    Parse(String),
    #[error("cannot write YAML: {0}")]
    Write(String),
}

pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    serde_saphyr::from_str(text).map_err(|e| YamlError::Parse(e.to_string()))
}

pub fn to_string<T: Serialize>(value: &T) -> Result<String, YamlError> {
    serde_saphyr::to_string(value).map_err(|e| YamlError::Write(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn round_trips_a_map() {
        let mut map = BTreeMap::new();
        map.insert("podSubnet".to_string(), "10.244.0.0/16".to_string());
        let text = to_string(&map).unwrap();
        let back: BTreeMap<String, String> = from_str(&text).unwrap();
        assert_eq!(back, map);
    }

    #[test]
    fn reports_a_parse_error() {
        let err = from_str::<BTreeMap<String, String>>("a: [unclosed").unwrap_err();
        assert!(err.to_string().starts_with("invalid YAML"), "{err}");
    }
}

/// The documents of a multi-document YAML text (`---` separated), as generic values; empty
/// documents are skipped.
pub fn documents(text: &str) -> Result<Vec<serde_json::Value>, YamlError> {
    let docs: Vec<serde_json::Value> =
        serde_saphyr::from_multiple(text).map_err(|e| YamlError::Parse(e.to_string()))?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

#[cfg(test)]
mod documents_tests {
    #[test]
    fn splits_documents_and_skips_empty_ones() {
        let docs = super::documents("a: 1\n---\n---\nb: 2\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1]["b"], 2);
    }
}
