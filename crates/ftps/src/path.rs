//! Remote folder and file names, checked before they are sent to a server.

use std::fmt;

use crate::FtpsError;

/// The longest file or folder name accepted (the common file-system limit).
const MAX_NAME: usize = 255;

/// A remote folder: the login folder (empty), a path relative to it
/// (`cep/lot08/2026-12-07`) or an absolute one (`/in/cep`); no `.` or `..`, no empty
/// segment, no control character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RemoteDir {
    absolute: bool,
    segments: Vec<String>,
}

impl RemoteDir {
    pub(crate) fn parse(text: &str) -> Result<RemoteDir, FtpsError> {
        let invalid = |reason| FtpsError::InvalidPath {
            path: text.to_owned(),
            reason,
        };
        let (absolute, inner) = match text.strip_prefix('/') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let inner = inner.strip_suffix('/').unwrap_or(inner);
        let mut segments = Vec::new();
        if !inner.is_empty() {
            for segment in inner.split('/') {
                check_segment(segment).map_err(invalid)?;
                segments.push(segment.to_owned());
            }
        }
        Ok(RemoteDir { absolute, segments })
    }

    /// Whether this is the folder the server puts the session in at login.
    pub(crate) fn is_login_folder(&self) -> bool {
        !self.absolute && self.segments.is_empty()
    }

    /// Each folder of the path from the top down: `a`, `a/b`, `a/b/c`.
    pub(crate) fn prefixes(&self) -> Vec<String> {
        (1..=self.segments.len())
            .map(|n| {
                let mut prefix = if self.absolute {
                    "/".to_owned()
                } else {
                    String::new()
                };
                prefix.push_str(&self.segments[..n].join("/"));
                prefix
            })
            .collect()
    }

    /// The path of `name` in this folder, for receipts and messages.
    pub(crate) fn join(&self, name: &str) -> String {
        if self.is_login_folder() {
            name.to_owned()
        } else if self.segments.is_empty() {
            format!("/{name}")
        } else {
            format!("{self}/{name}")
        }
    }
}

impl fmt::Display for RemoteDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.absolute {
            f.write_str("/")?;
        }
        f.write_str(&self.segments.join("/"))
    }
}

/// Checks a file name: one non-empty segment, not `.` or `..`, no `/`, no control
/// character.
pub(crate) fn check_name(name: &str) -> Result<(), FtpsError> {
    let invalid = |reason| FtpsError::InvalidPath {
        path: name.to_owned(),
        reason,
    };
    if name.contains('/') {
        return Err(invalid("a file name holds no /"));
    }
    check_segment(name).map_err(invalid)
}

fn check_segment(segment: &str) -> Result<(), &'static str> {
    if segment.is_empty() {
        return Err("an empty name");
    }
    if segment == "." || segment == ".." {
        return Err(". and .. are not allowed");
    }
    if segment.chars().any(char::is_control) {
        return Err("a control character");
    }
    // the temporary name adds a dot and `.part`
    if segment.len() > MAX_NAME - 6 {
        return Err("a name longer than 249 bytes");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{RemoteDir, check_name};

    #[test]
    fn a_relative_folder_is_created_from_the_top_down() {
        let dir = RemoteDir::parse("cep/lot08/2026-12-07").unwrap();
        assert_eq!(dir.prefixes(), ["cep", "cep/lot08", "cep/lot08/2026-12-07"]);
        assert_eq!(dir.join("f.csv"), "cep/lot08/2026-12-07/f.csv");
        assert_eq!(dir.to_string(), "cep/lot08/2026-12-07");
    }

    #[test]
    fn an_absolute_folder_keeps_its_leading_slash_and_a_trailing_one_is_dropped() {
        let dir = RemoteDir::parse("/in/cep/").unwrap();
        assert_eq!(dir.prefixes(), ["/in", "/in/cep"]);
        assert_eq!(dir.join("f"), "/in/cep/f");
        let root = RemoteDir::parse("/").unwrap();
        assert!(!root.is_login_folder());
        assert_eq!(root.join("f"), "/f");
        assert!(RemoteDir::parse("").unwrap().is_login_folder());
    }

    #[test]
    fn dot_segments_empty_segments_and_control_characters_are_refused() {
        for bad in ["a/../b", "./a", "a//b", "//a", "a\r\nDELE x", "a\0b"] {
            assert!(RemoteDir::parse(bad).is_err(), "{bad:?}");
        }
        for bad in ["", ".", "..", "a/b", "a\nb"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_name("CEP_LOT08_20261207.csv").is_ok());
    }
}
