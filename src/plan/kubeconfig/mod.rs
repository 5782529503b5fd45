//! Kubeconfig text: rendering one, merging credentials into an existing one, and taking them out
//! again. Pure: the callers in `effects::kubeconfig_store` read and write the files.
//!
//! A rendered kubeconfig has kubeadm's layout: one cluster (server and embedded
//! `certificate-authority-data`), one user (embedded `client-certificate-data` and
//! `client-key-data`), and one context joining them.
//!
//! Merging works on the generic YAML value, never on narrow structs, so every entry and field
//! localkube does not know about (other clusters, `extensions`, `preferences`, exec users, keys
//! added by other tools) is kept as it was. The profile's own entries are replaced in place, so
//! merging twice yields identical text. Keys come out sorted, as kubectl itself writes them.
//!
//! Ownership: every cluster, user and context localkube writes carries an `extensions` entry
//! named [`OWNER_EXTENSION`] with the profile's name (minikube marks its entries the same way, and
//! kubectl keeps extensions when it rewrites the file). [`merge`] refuses to replace an entry of
//! the same name without that marker, and [`remove_entries`] only removes marked entries of the
//! profile, so a user's own `dev` or `minikube` entries are never touched.
//!
//! Component kubeconfigs (see [`component_kubeconfigs`]) live in the profile's `kubeconfigs/`:
//! `admin.conf` reaches the apiserver through its published port on 127.0.0.1; the in-cluster ones
//! (`controller-manager.conf`, `scheduler.conf`, `kube-proxy.conf`, `kubelet-<node>.conf`) through
//! its fixed address on the profile's network.

use anyhow::{Context, Result, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value, json};

use crate::plan::cluster::APISERVER_PORT;
use crate::plan::config::ProfileConfig;
use crate::plan::names;
use crate::plan::pki;
use crate::plan::profile_name::ProfileName;
use crate::yaml;

/// One kubeconfig's worth of credentials: a cluster, a user, a context joining them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub cluster: String,
    pub server: String,
    pub ca_pem: String,
    pub user: String,
    pub cert_pem: String,
    pub key_pem: String,
    pub context: String,
    /// The profile the entries belong to, written as their ownership marker.
    pub owner: String,
}

/// The name of the `extensions` entry that marks a kubeconfig entry as localkube's.
pub const OWNER_EXTENSION: &str = "localkube";
/// The marker's `provider` field.
pub const OWNER_PROVIDER: &str = "localkube";

/// The `extensions` list of an entry localkube writes for `profile`.
fn owner_extensions(profile: &str) -> Value {
    json!([{
        "name": OWNER_EXTENSION,
        "extension": { "provider": OWNER_PROVIDER, "profile": profile },
    }])
}

/// Whether a cluster, user or context entry (`{name, cluster|user|context: {...}}`) carries
/// localkube's marker for `profile`.
fn owned_by(entry: &Value, inner: &str, profile: &str) -> bool {
    entry
        .get(inner)
        .and_then(|e| e.get("extensions"))
        .and_then(Value::as_array)
        .is_some_and(|list| {
            list.iter().any(|ext| {
                ext.get("name").and_then(Value::as_str) == Some(OWNER_EXTENSION)
                    && ext.pointer("/extension/provider").and_then(Value::as_str)
                        == Some(OWNER_PROVIDER)
                    && ext.pointer("/extension/profile").and_then(Value::as_str) == Some(profile)
            })
        })
}

/// The three lists of a kubeconfig, with the key of each entry's body.
const LISTS: [(&str, &str, &str); 3] = [
    ("clusters", "cluster", "cluster"),
    ("users", "user", "user"),
    ("contexts", "context", "context"),
];

/// Refuses, naming each one and the fix, when `existing` holds a cluster, user or context of
/// `c`'s names that localkube did not write for `c.owner`: merging would replace it.
pub fn check_mergeable(existing: Option<&str>, c: &Credentials) -> Result<()> {
    let doc = parse(existing.unwrap_or(""))?;
    let mut foreign = Vec::new();
    for ((list, inner, what), name) in LISTS.iter().zip([&c.cluster, &c.user, &c.context]) {
        if let Some(Value::Array(entries)) = doc.get(*list) {
            for entry in entries {
                if entry_name(entry) == Some(name.as_str()) && !owned_by(entry, inner, &c.owner) {
                    foreign.push(format!("{what} '{name}'"));
                }
            }
        }
    }
    if !foreign.is_empty() {
        bail!(
            "the kubeconfig already has a {} that localkube did not create for profile '{}', and \
             localkube never replaces what is not its own: rename or remove {} (`kubectl config \
             rename-context`, `kubectl config delete-context`), or use another profile (`-p NAME`)",
            foreign.join(", "),
            c.owner,
            if foreign.len() == 1 { "it" } else { "them" }
        );
    }
    Ok(())
}

/// A complete kubeconfig holding only `c`, with its context current.
pub fn render(c: &Credentials) -> Result<String> {
    let mut doc = Map::new();
    doc.insert("preferences".into(), json!({}));
    apply(&mut doc, c, true)?;
    to_text(doc)
}

/// `existing` (a kubeconfig's text, `None` or empty for none) with `c`'s cluster, user and context
/// added or replaced, and the context made current when `switch_context`.
pub fn merge(existing: Option<&str>, c: &Credentials, switch_context: bool) -> Result<String> {
    check_mergeable(existing, c)?;
    let mut doc = parse(existing.unwrap_or(""))?;
    apply(&mut doc, c, switch_context)?;
    to_text(doc)
}

/// `existing` without the named cluster, user and context of profile `owner` (entries of those
/// names without its marker stay); current-context is cleared when it named the removed context.
/// Returns `existing` unchanged when none of them was there.
pub fn remove(
    existing: &str,
    cluster: &str,
    user: &str,
    context: &str,
    owner: &str,
) -> Result<String> {
    Ok(remove_entries(existing, cluster, user, context, owner)?
        .unwrap_or_else(|| existing.to_string()))
}

/// Like [`remove`], but `None` when there was nothing to remove, so callers need not rewrite.
pub fn remove_entries(
    existing: &str,
    cluster: &str,
    user: &str,
    context: &str,
    owner: &str,
) -> Result<Option<String>> {
    let mut doc = parse(existing)?;
    let mut changed = false;
    let mut removed_context = false;
    for ((list, inner, _), name) in LISTS.iter().zip([cluster, user, context]) {
        if let Some(Value::Array(entries)) = doc.get_mut(*list) {
            let before = entries.len();
            entries.retain(|entry| {
                !(entry_name(entry) == Some(name) && owned_by(entry, inner, owner))
            });
            changed |= entries.len() != before;
            if *list == "contexts" {
                removed_context = entries.len() != before;
            }
        }
    }
    if removed_context && doc.get("current-context").and_then(Value::as_str) == Some(context) {
        doc.insert("current-context".into(), Value::String(String::new()));
        changed = true;
    }
    if changed {
        to_text(doc).map(Some)
    } else {
        Ok(None)
    }
}

/// Undoes a merge of profile `owner`'s entries, and nothing else: `now` gets back the entries
/// of those names `before` held (or loses them when `before` had none), and its current context
/// goes back to `before`'s if it still names `context`. Other entries and edits made in between
/// (by kubectl, another tool) stay. `None` when there is nothing to undo.
pub fn restore_own_entries(
    now: &str,
    before: Option<&str>,
    names: [&str; 3],
    owner: &str,
) -> Result<Option<String>> {
    let mut doc = parse(now)?;
    let old = parse(before.unwrap_or(""))?;
    let original = doc.clone();
    for ((list, inner, _), name) in LISTS.iter().zip(names) {
        let previous = old
            .get(*list)
            .and_then(Value::as_array)
            .and_then(|entries| entries.iter().find(|e| entry_name(e) == Some(name)))
            .cloned();
        let entries = doc
            .entry(list.to_string())
            .or_insert_with(|| Value::Array(Vec::new()));
        let Value::Array(entries) = entries else {
            continue;
        };
        let position = entries
            .iter()
            .position(|e| entry_name(e) == Some(name) && owned_by(e, inner, owner));
        match (position, previous) {
            (Some(i), Some(previous)) => entries[i] = previous,
            (Some(i), None) => {
                entries.remove(i);
            }
            // Not ours now (removed, or replaced by someone else): left as it is.
            (None, _) => {}
        }
    }
    let context = names[2];
    if doc.get("current-context").and_then(Value::as_str) == Some(context) {
        let previous = old
            .get("current-context")
            .cloned()
            .unwrap_or(Value::String(String::new()));
        doc.insert("current-context".into(), previous);
    }
    if doc == original {
        return Ok(None);
    }
    to_text(doc).map(Some)
}

/// Whether two kubeconfig texts say the same (formatting and key order aside).
pub fn same_content(a: &str, b: &str) -> Result<bool> {
    Ok(parse(a)? == parse(b)?)
}

/// Whether a kubeconfig holds no cluster, user or context (what is left of a file a failed
/// start created).
pub fn is_empty(text: &str) -> Result<bool> {
    let doc = parse(text)?;
    Ok(LISTS.iter().all(|(list, _, _)| {
        doc.get(*list)
            .and_then(Value::as_array)
            .is_none_or(|entries| entries.is_empty())
    }) && doc
        .get("current-context")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty))
}

/// What [`set_server`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerUpdate {
    /// The cluster entry already named `server`.
    Current,
    /// The entry named `previous`; the text with `server` in its place.
    Changed { previous: String, text: String },
}

/// `existing` with the server of the cluster entry `cluster` set to `server` (`update-context`).
/// Only an entry carrying localkube's marker for `owner` is rewritten: one of that name without
/// it, or none at all, is refused with the fix.
pub fn set_server(
    existing: &str,
    cluster: &str,
    owner: &str,
    server: &str,
) -> Result<ServerUpdate> {
    let mut doc = parse(existing)?;
    let entry = doc
        .get_mut("clusters")
        .and_then(Value::as_array_mut)
        .and_then(|entries| entries.iter_mut().find(|e| entry_name(e) == Some(cluster)));
    let Some(entry) = entry else {
        bail!("the kubeconfig has no cluster '{cluster}': `localkube -p {owner} start` writes it");
    };
    if !owned_by(entry, "cluster", owner) {
        bail!(
            "the kubeconfig's cluster '{cluster}' was not written by localkube for profile '{owner}', \
             and localkube never rewrites what is not its own: rename or remove it (`kubectl config \
             delete-cluster {cluster}`), then `localkube -p {owner} start` writes localkube's"
        );
    }
    let body = entry
        .get_mut("cluster")
        .and_then(Value::as_object_mut)
        .context("the cluster entry has no body")?;
    let previous = body
        .get("server")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if previous == server {
        return Ok(ServerUpdate::Current);
    }
    body.insert("server".into(), Value::String(server.to_string()));
    Ok(ServerUpdate::Changed {
        previous,
        text: to_text(doc)?,
    })
}

/// The current context named in a kubeconfig's text; `None` when unset or empty.
pub fn current_context(text: &str) -> Result<Option<String>> {
    let doc = parse(text)?;
    Ok(doc
        .get("current-context")
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty())
        .map(str::to_string))
}

/// One kubeconfig a component (or the admin) uses: its file, the client certificate it embeds
/// and how it reaches the apiserver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentKubeconfig {
    /// File name in the profile's `kubeconfigs/` folder.
    pub file_name: String,
    /// PKI stem of the embedded client certificate and key.
    pub cert_stem: String,
    pub server: String,
    pub cluster: String,
    pub user: String,
    pub context: String,
}

/// Every kubeconfig the profile keeps, admin first, then one per component and node.
pub fn component_kubeconfigs(
    profile: &ProfileName,
    config: &ProfileConfig,
) -> Vec<ComponentKubeconfig> {
    let cluster = names::kubeconfig_context(profile);
    // The one apiserver, or with several members their load balancer.
    let in_cluster = format!(
        "https://{}:{APISERVER_PORT}",
        config.apiserver_endpoint_ip()
    );
    // kubeadm's naming: the user is the certificate's identity, the context `<user>@<cluster>`.
    let component = |file_name: &str, cert_stem: &str, user: &str| ComponentKubeconfig {
        file_name: file_name.to_string(),
        cert_stem: cert_stem.to_string(),
        server: in_cluster.clone(),
        cluster: cluster.clone(),
        user: user.to_string(),
        context: format!("{user}@{cluster}"),
    };
    // admin.conf matches what is merged into the user's kubeconfig, names included.
    let mut all = vec![ComponentKubeconfig {
        file_name: "admin.conf".into(),
        cert_stem: pki::ADMIN.into(),
        server: host_server(config),
        cluster: cluster.clone(),
        user: cluster.clone(),
        context: cluster.clone(),
    }];
    // The break-glass admin (system:masters), for creating the admin's binding; host only.
    all.push(ComponentKubeconfig {
        file_name: "super-admin.conf".into(),
        cert_stem: pki::SUPER_ADMIN.into(),
        server: host_server(config),
        cluster: cluster.clone(),
        user: "kubernetes-super-admin".into(),
        context: format!("kubernetes-super-admin@{cluster}"),
    });
    all.push(component(
        "controller-manager.conf",
        pki::CONTROLLER_MANAGER,
        "system:kube-controller-manager",
    ));
    all.push(component(
        "scheduler.conf",
        pki::SCHEDULER,
        "system:kube-scheduler",
    ));
    all.push(component(
        "kube-proxy.conf",
        pki::KUBE_PROXY,
        "system:kube-proxy",
    ));
    all.push(component(
        "lb-controller.conf",
        pki::LB_CONTROLLER,
        "localkube:lb-controller",
    ));
    for node in names::node_names(profile, &config.nodes) {
        all.push(component(
            &format!("kubelet-{node}.conf"),
            &pki::kubelet_client(&node),
            &format!("system:node:{node}"),
        ));
    }
    all
}

/// The apiserver as the host sees it: its published port on 127.0.0.1.
pub fn host_server(config: &ProfileConfig) -> String {
    format!("https://127.0.0.1:{}", config.apiserver_port)
}

fn parse(text: &str) -> Result<Map<String, Value>> {
    // An empty file (or one holding only comments) is an empty kubeconfig, as kubectl treats it.
    let value: Value = yaml::from_str(text).context("the kubeconfig is not valid YAML")?;
    match value {
        Value::Null => Ok(Map::new()),
        Value::Object(doc) => Ok(doc),
        _ => bail!("the kubeconfig is not a YAML mapping (apiVersion, clusters, users, ...)"),
    }
}

fn to_text(doc: Map<String, Value>) -> Result<String> {
    yaml::to_string(&Value::Object(doc)).context("writing the kubeconfig")
}

fn apply(doc: &mut Map<String, Value>, c: &Credentials, switch_context: bool) -> Result<()> {
    doc.entry("apiVersion").or_insert_with(|| json!("v1"));
    doc.entry("kind").or_insert_with(|| json!("Config"));
    upsert(
        doc,
        "clusters",
        json!({
            "name": c.cluster,
            "cluster": {
                "server": c.server,
                "certificate-authority-data": BASE64.encode(&c.ca_pem),
                "extensions": owner_extensions(&c.owner),
            },
        }),
    )?;
    upsert(
        doc,
        "users",
        json!({
            "name": c.user,
            "user": {
                "client-certificate-data": BASE64.encode(&c.cert_pem),
                "client-key-data": BASE64.encode(&c.key_pem),
                "extensions": owner_extensions(&c.owner),
            },
        }),
    )?;
    upsert(
        doc,
        "contexts",
        json!({
            "name": c.context,
            "context": {
                "cluster": c.cluster,
                "user": c.user,
                "extensions": owner_extensions(&c.owner),
            },
        }),
    )?;
    if switch_context {
        doc.insert("current-context".into(), json!(c.context));
    }
    Ok(())
}

/// Replaces the entry of `list` with `entry`'s name in place, or appends it.
fn upsert(doc: &mut Map<String, Value>, list: &str, entry: Value) -> Result<()> {
    let slot = doc.entry(list).or_insert(Value::Null);
    if slot.is_null() {
        *slot = Value::Array(Vec::new());
    }
    let Value::Array(entries) = slot else {
        bail!("the kubeconfig's {list} is not a list");
    };
    let name = entry_name(&entry).map(str::to_string);
    match entries
        .iter_mut()
        .find(|existing| entry_name(existing) == name.as_deref())
    {
        Some(existing) => *existing = entry,
        None => entries.push(entry),
    }
    Ok(())
}

fn entry_name(entry: &Value) -> Option<&str> {
    entry.get("name").and_then(Value::as_str)
}

#[cfg(test)]
mod tests;
