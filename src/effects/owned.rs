//! The one gate every remove, replace or adopt of a Docker container, volume or network passes:
//! an object is touched only when it carries its owner's label. A name alone proves nothing (a
//! user's container, another tool's, another profile's can hold it), so nothing here acts on one.
//! The raw bollard calls that remove objects are `disallowed-methods` outside this module
//! (clippy.toml), so a new path cannot forget the check.

use std::collections::{BTreeMap, HashMap};

use anyhow::{Context, Result, bail};
use bollard::Docker;
use bollard::query_parameters::{
    InspectContainerOptions, InspectNetworkOptions, RemoveContainerOptions, RemoveVolumeOptions,
};

use crate::effects::docker_error::is_not_found;
use crate::plan::names::LABEL_PROFILE;
use crate::plan::profile_name::ProfileName;

/// The kinds of Docker object a profile owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Container,
    Volume,
    Network,
}

impl Kind {
    /// As the docker CLI names it (`docker KIND rm`).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Container => "container",
            Kind::Volume => "volume",
            Kind::Network => "network",
        }
    }
}

/// Who an object must belong to before localkube touches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// A profile: the object carries `io.localkube.profile=<profile>`.
    Profile(String),
    /// A throw-away container of an image build, which carries no label (a committed image would
    /// inherit it): it must have been created from this very image ID.
    CreatedFrom(String),
}

impl Owner {
    pub fn profile(profile: &ProfileName) -> Self {
        Owner::Profile(profile.to_string())
    }

    /// The owner a spec's labels name: its profile's, if it has one.
    pub fn of_labels(labels: &BTreeMap<String, String>) -> Option<Self> {
        labels.get(LABEL_PROFILE).cloned().map(Owner::Profile)
    }

    fn describe(&self) -> String {
        match self {
            Owner::Profile(p) => format!("profile '{p}'"),
            Owner::CreatedFrom(image) => format!("an image build (from image {image})"),
        }
    }
}

/// What Docker says of an existing object, as far as ownership goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    /// The ID to act on: acting on the ID that was checked, never the name again, means an
    /// object that replaced it meanwhile is not touched.
    pub id: String,
    pub labels: HashMap<String, String>,
    /// For containers: the image it was created from, as its creator named it.
    pub image: Option<String>,
}

/// Refuses an object that is not `owner`'s. Pure, so every rule is unit-tested.
pub fn check(kind: Kind, name: &str, found: &Found, owner: &Owner) -> Result<()> {
    let problem = match owner {
        Owner::Profile(profile) => match found.labels.get(LABEL_PROFILE) {
            Some(have) if have == profile => None,
            Some(other) => Some(format!("its label {LABEL_PROFILE} says '{other}'")),
            None => Some(format!("it has no {LABEL_PROFILE} label")),
        },
        Owner::CreatedFrom(image) => match &found.image {
            Some(have) if have == image => None,
            Some(other) => Some(format!("it was created from {other}")),
            None => Some("it names no image".to_string()),
        },
    };
    if let Some(why) = problem {
        let kind = kind.as_str();
        bail!(
            "a Docker {kind} named '{name}' exists that localkube did not create for {} ({why}): \
             localkube never adopts, changes or removes it; remove or rename it \
             (`docker {kind} rm {name}` if it is unused), or use another profile (`-p NAME`)",
            owner.describe()
        );
    }
    Ok(())
}

/// The object named `name`, or `None` when there is none.
pub async fn inspect(docker: &Docker, kind: Kind, name: &str) -> Result<Option<Found>> {
    let found = match kind {
        Kind::Container => docker
            .inspect_container(name, None::<InspectContainerOptions>)
            .await
            .map(|info| {
                let config = info.config.unwrap_or_default();
                Found {
                    id: info.id.unwrap_or_else(|| name.to_string()),
                    labels: config.labels.unwrap_or_default(),
                    image: config.image,
                }
            }),
        Kind::Volume => docker.inspect_volume(name).await.map(|v| Found {
            id: v.name,
            labels: v.labels,
            image: None,
        }),
        Kind::Network => docker
            .inspect_network(name, None::<InspectNetworkOptions>)
            .await
            .map(|n| Found {
                id: n.id.unwrap_or_else(|| name.to_string()),
                labels: n.labels.unwrap_or_default(),
                image: None,
            }),
    };
    match found {
        Ok(found) => Ok(Some(found)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(e).with_context(|| format!("inspecting {} {name}", kind.as_str())),
    }
}

/// Before adopting, replacing or starting an object by name: `None` when there is none, its
/// details when it is `owner`'s, an error when it is someone else's.
pub async fn claim(
    docker: &Docker,
    kind: Kind,
    name: &str,
    owner: &Owner,
) -> Result<Option<Found>> {
    let Some(found) = inspect(docker, kind, name).await? else {
        return Ok(None);
    };
    check(kind, name, &found, owner)?;
    Ok(Some(found))
}

/// Removes the object named `name` if it is `owner`'s (a container by force, with its anonymous
/// volumes); true when it removed one, false when there was none. Someone else's is refused.
pub async fn remove(docker: &Docker, kind: Kind, name: &str, owner: &Owner) -> Result<bool> {
    let Some(found) = claim(docker, kind, name, owner).await? else {
        return Ok(false);
    };
    remove_checked(docker, kind, name, &found.id).await
}

/// Removes the object named `name` when it is `owner`'s; someone else's is left alone without an
/// error (a roll-back that recorded the name before a create that then failed on it). True when
/// it removed one.
pub async fn remove_if_owned(
    docker: &Docker,
    kind: Kind,
    name: &str,
    owner: &Owner,
) -> Result<bool> {
    match inspect(docker, kind, name).await? {
        Some(found) if check(kind, name, &found, owner).is_ok() => {
            remove_checked(docker, kind, name, &found.id).await
        }
        _ => Ok(false),
    }
}

/// Removes an object whose ownership is already established: `id` came from a list filtered by
/// its owner's label, or back from the create call of this very process.
pub async fn remove_listed(docker: &Docker, kind: Kind, name: &str, id: &str) -> Result<bool> {
    remove_checked(docker, kind, name, id).await
}

#[allow(clippy::disallowed_methods)] // the one place the raw calls are made, after the check
async fn remove_checked(docker: &Docker, kind: Kind, name: &str, id: &str) -> Result<bool> {
    let removed = match kind {
        Kind::Container => {
            let options = RemoveContainerOptions {
                force: true,
                v: true,
                ..Default::default()
            };
            docker.remove_container(id, Some(options)).await
        }
        Kind::Volume => {
            docker
                .remove_volume(id, Some(RemoveVolumeOptions { force: true }))
                .await
        }
        Kind::Network => docker.remove_network(id).await,
    };
    match removed {
        Ok(()) => Ok(true),
        Err(e) if is_not_found(&e) => Ok(false),
        Err(e) => Err(e).with_context(|| format!("removing {} {name}", kind.as_str())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labelled(profile: &str) -> Found {
        Found {
            id: "x".into(),
            labels: HashMap::from([(LABEL_PROFILE.to_string(), profile.to_string())]),
            image: None,
        }
    }

    #[test]
    fn only_the_owners_label_passes() {
        let dev = Owner::Profile("dev".into());
        assert!(check(Kind::Container, "dev-registry", &labelled("dev"), &dev).is_ok());
        let other = check(
            Kind::Container,
            "dev-registry",
            &labelled("dev-registry"),
            &dev,
        )
        .unwrap_err()
        .to_string();
        assert!(
            other.contains("says 'dev-registry'") && other.contains("never adopts"),
            "{other}"
        );
        let bare = check(Kind::Volume, "dev-registry-data", &Found::default(), &dev)
            .unwrap_err()
            .to_string();
        assert!(
            bare.contains("no io.localkube.profile label")
                && bare.contains("docker volume rm dev-registry-data"),
            "{bare}"
        );
    }

    #[test]
    fn a_build_container_must_come_from_its_image() {
        let owner = Owner::CreatedFrom("sha256:aa".into());
        let mut found = Found {
            image: Some("sha256:aa".into()),
            ..Default::default()
        };
        assert!(check(Kind::Container, "p", &found, &owner).is_ok());
        found.image = Some("debian:13".into());
        assert!(check(Kind::Container, "p", &found, &owner).is_err());
        found.image = None;
        assert!(check(Kind::Container, "p", &found, &owner).is_err());
    }

    #[test]
    fn a_spec_names_its_profile_as_owner() {
        let labels = BTreeMap::from([(LABEL_PROFILE.to_string(), "dev".to_string())]);
        assert_eq!(
            Owner::of_labels(&labels),
            Some(Owner::Profile("dev".into()))
        );
        assert_eq!(Owner::of_labels(&BTreeMap::new()), None);
    }
}
