//! Profile names. A profile name becomes part of Docker container, network and volume names, a
//! directory name, a kubeconfig context and a Kubernetes node name, so it must be safe in all of
//! them: a DNS-1123 label, at most 40 characters (leaving room for suffixes such as `-m02`).

use std::fmt;

pub const MAX_PROFILE_NAME_LEN: usize = 40;
pub const DEFAULT_PROFILE: &str = "localkube";

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProfileName(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "invalid profile name '{name}': {problem}; a profile name is 1 to {MAX_PROFILE_NAME_LEN} characters of \
     lower-case letters, digits and '-', starting and ending with a letter or digit (for example 'dev' or 'book-ch2')"
)]
pub struct InvalidProfileName {
    pub name: String,
    pub problem: &'static str,
}

impl ProfileName {
    pub fn parse(name: &str) -> Result<Self, InvalidProfileName> {
        let refuse = |problem| {
            Err(InvalidProfileName {
                name: name.to_string(),
                problem,
            })
        };
        if name.is_empty() {
            return refuse("it is empty");
        }
        if name.len() > MAX_PROFILE_NAME_LEN {
            return refuse("it is too long");
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return refuse("it contains a character other than a-z, 0-9 and '-'");
        }
        if name.starts_with('-') || name.ends_with('-') {
            return refuse("it starts or ends with '-'");
        }
        Ok(Self(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProfileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for ProfileName {
    type Err = InvalidProfileName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_dns_labels() {
        for good in [
            "localkube",
            "a",
            "dev",
            "book-ch2",
            "0x",
            "a1-b2-c3",
            &"a".repeat(40),
        ] {
            assert_eq!(ProfileName::parse(good).unwrap().as_str(), good);
        }
    }

    #[test]
    fn refuses_what_is_unsafe_in_paths_and_names() {
        let cases = [
            ("", "it is empty"),
            (
                "../x",
                "it contains a character other than a-z, 0-9 and '-'",
            ),
            ("a/b", "it contains a character other than a-z, 0-9 and '-'"),
            ("Dev", "it contains a character other than a-z, 0-9 and '-'"),
            (
                "my_cluster",
                "it contains a character other than a-z, 0-9 and '-'",
            ),
            ("a.b", "it contains a character other than a-z, 0-9 and '-'"),
            ("-dev", "it starts or ends with '-'"),
            ("dev-", "it starts or ends with '-'"),
        ];
        for (bad, problem) in cases {
            let err = ProfileName::parse(bad).unwrap_err();
            assert_eq!(err.problem, problem, "{bad}");
        }
        let long = "a".repeat(41);
        assert_eq!(
            ProfileName::parse(&long).unwrap_err().problem,
            "it is too long"
        );
    }

    #[test]
    fn error_says_what_is_allowed() {
        let msg = ProfileName::parse("Bad").unwrap_err().to_string();
        assert!(msg.contains("lower-case letters, digits and '-'"), "{msg}");
        assert!(msg.contains("40"), "{msg}");
    }
}
