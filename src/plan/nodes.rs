//! The cluster's nodes by number, as a profile stores them: a module of its own, so that names
//! (which derive node names from numbers) and the profile's config both use it without a circle.

use serde::{Deserialize, Serialize};

/// The cluster's nodes by number: 1 is the first node (named after the profile, it carries the
/// control plane's routes to the cluster ranges), n > 1 is `<profile>-m0n`. Numbers fix names and
/// addresses; a deleted node's number is free for the next `node add`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Nodes(Vec<u32>);

impl Nodes {
    /// Nodes 1 to `count`.
    pub fn first(count: u32) -> Self {
        Nodes((1..=count).collect())
    }

    pub fn numbers(&self) -> &[u32] {
        &self.0
    }

    pub fn count(&self) -> u32 {
        self.0.len() as u32
    }

    pub fn contains(&self, number: u32) -> bool {
        self.0.contains(&number)
    }

    /// The lowest number no node has.
    pub fn next_free(&self) -> u32 {
        (1..).find(|n| !self.contains(*n)).expect("a free number")
    }

    pub fn with(&self, number: u32) -> Self {
        let mut numbers = self.0.clone();
        numbers.push(number);
        numbers.sort_unstable();
        numbers.dedup();
        Nodes(numbers)
    }

    pub fn without(&self, number: u32) -> Self {
        Nodes(self.0.iter().copied().filter(|n| *n != number).collect())
    }
}

/// Profiles written before nodes could be added and deleted hold a count.
impl<'de> Deserialize<'de> for Nodes {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Stored {
            Count(u32),
            Numbers(Vec<u32>),
        }
        Ok(match Stored::deserialize(deserializer)? {
            Stored::Count(count) => Nodes::first(count),
            Stored::Numbers(mut numbers) => {
                numbers.sort_unstable();
                Nodes(numbers)
            }
        })
    }
}
