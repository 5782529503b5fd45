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
    // Names come from whoever sent the request, authenticated or not: shown, never obeyed.
    let line = format!("{time}  {user}  {verb}  {what}  {code}");
    Some(crate::plan::terminal_text::escape_controls(&line))
}

/// When an event happened, as the apiserver wrote it: the time of the stage it records (the
/// response's, for the complete events a policy asks for), else when the request came in.
/// Both are RFC 3339 in UTC with microseconds, so they sort as text.
pub fn event_time(line: &str) -> Option<String> {
    let event: Value = serde_json::from_str(line).ok()?;
    event["stageTimestamp"]
        .as_str()
        .or_else(|| event["requestReceivedTimestamp"].as_str())
        .map(str::to_string)
}

/// The lines of the apiservers' logs (one list per member) as one, by time. A line without a
/// time (a partial last line) stays after the line before it in its own log.
pub fn merge_by_time(logs: Vec<Vec<String>>) -> Vec<String> {
    let mut all: Vec<(String, usize, usize, String)> = Vec::new();
    for (member, lines) in logs.into_iter().enumerate() {
        let mut last = String::new();
        for (i, line) in lines.into_iter().enumerate() {
            if let Some(time) = event_time(&line) {
                last = time;
            }
            all.push((last.clone(), member, i, line));
        }
    }
    all.sort();
    all.into_iter().map(|(_, _, _, line)| line).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_logs_merge_by_the_events_time() {
        let event = |name: &str, time: &str| {
            format!(
                r#"{{"kind":"Event","verb":"create","objectRef":{{"resource":"configmaps","name":"{name}"}},"stageTimestamp":"{time}"}}"#
            )
        };
        let member_1 = vec![
            event("a", "2026-12-03T10:00:00.000100Z"),
            event("d", "2026-12-03T10:00:03.000000Z"),
        ];
        let member_2 = vec![
            event("b", "2026-12-03T10:00:01.000000Z"),
            "{\"kind\":\"Ev".to_string(),
        ];
        let member_3 = vec![event("c", "2026-12-03T10:00:02.500000Z")];
        let merged = merge_by_time(vec![member_1, member_2, member_3]);
        let names: Vec<String> = merged
            .iter()
            .map(|l| {
                serde_json::from_str::<Value>(l).map_or("partial".to_string(), |v| {
                    v["objectRef"]["name"].as_str().unwrap().to_string()
                })
            })
            .collect();
        assert_eq!(names, ["a", "b", "partial", "c", "d"]);
        // Within one log too: requests served at once finish, and are written, out of order.
        let one = vec![
            event("x", "2026-12-03T10:00:05.000000Z"),
            event("y", "2026-12-03T10:00:04.000000Z"),
        ];
        assert_eq!(
            merge_by_time(vec![one.clone()]),
            [one[1].clone(), one[0].clone()]
        );
    }

    #[test]
    fn control_characters_in_names_are_escaped() {
        let event = serde_json::json!({
            "kind": "Event",
            "stageTimestamp": "2026-12-03T00:05:14.512Z",
            "user": {"username": "system:anonymous"},
            "verb": "get",
            "objectRef": {"resource": "pods", "namespace": "default",
                          "name": "x\u{1b}[1A\u{1b}[2K\r2026-12-03T00:05:14Z  kubernetes-admin  delete"},
            "responseStatus": {"code": 404},
        });
        let line = format_event(&event.to_string()).unwrap();
        assert!(!line.chars().any(char::is_control), "{line:?}");
        assert!(line.contains("x\\u{1b}[1A"), "{line}");
    }

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
