//! The apiserver's audit events (one JSON object a line, `audit.k8s.io/v1` `Event`) as
//! `localkube logs audit` prints them: when, who, what verb on which object, and the result.

use serde_json::Value;

/// One line for one event; `None` for a line that is not an event (a partial last line).
pub fn format_event(line: &str) -> Option<String> {
    let event: Value = serde_json::from_str(line).ok()?;
    if event["kind"] != "Event" {
        return None;
    }
    let time = event["stageTimestamp"]
        .as_str()
        .or_else(|| event["requestReceivedTimestamp"].as_str())
        .unwrap_or("-");
    let user = event["user"]["username"].as_str().unwrap_or("-");
    let verb = event["verb"].as_str().unwrap_or("-");
    let object = &event["objectRef"];
    let what = if object.is_object() {
        let mut resource = object["resource"].as_str().unwrap_or("-").to_string();
        if let Some(sub) = object["subresource"].as_str() {
            resource = format!("{resource}/{sub}");
        }
        if let Some(group) = object["apiGroup"].as_str().filter(|g| !g.is_empty()) {
            resource = format!("{resource}.{group}");
        }
        let mut name = object["name"].as_str().unwrap_or("").to_string();
        if let Some(ns) = object["namespace"].as_str() {
            name = format!("{ns}/{name}");
        }
        if name.is_empty() {
            resource
        } else {
            format!("{resource} {name}")
        }
    } else {
        event["requestURI"].as_str().unwrap_or("-").to_string()
    };
    let code = event["responseStatus"]["code"]
        .as_i64()
        .map_or("-".to_string(), |c| c.to_string());
    Some(format!("{time}  {user}  {verb}  {what}  {code}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_reads_who_did_what_to_which_object() {
        let line = r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Request","verb":"delete","user":{"username":"kubernetes-admin","groups":["kubeadm:cluster-admins"]},"objectRef":{"resource":"configmaps","namespace":"default","name":"c1","apiVersion":"v1"},"responseStatus":{"code":200},"stageTimestamp":"2026-12-02T23:59:59.000000Z"}"#;
        assert_eq!(
            format_event(line).unwrap(),
            "2026-12-02T23:59:59.000000Z  kubernetes-admin  delete  configmaps default/c1  200"
        );
        let deployment = line.replace(
            r#""resource":"configmaps""#,
            r#""resource":"deployments","apiGroup":"apps""#,
        );
        assert!(
            format_event(&deployment)
                .unwrap()
                .contains("deployments.apps default/c1")
        );
        assert_eq!(format_event("{\"kind\":\"Ev"), None);
    }
}
