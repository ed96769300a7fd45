//! Which native protocol versions a server offers, and the protocol errors Cassandra sends for the others.
//!
//! The codec itself speaks v3 to v5; a server behaving as an older Cassandra release offers less (Cassandra
//! 3.10 and 3.11 offer v5 only as a beta, to clients that set the USE_BETA flag). The server passes its
//! [`OfferedVersions`] in; this crate holds no configuration.

use bytes::BytesMut;

use crate::error::Result;
use crate::frame::{Flags, Version};
use crate::response::{ErrorKind, Response, ResponseExtras};

/// The protocol versions a server accepts: every version from [`Version::MIN`] to `max`, where `beta`
/// (if any) is accepted only from clients that set [`Flags::USE_BETA`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OfferedVersions {
    pub max: Version,
    pub beta: Option<Version>,
}

impl OfferedVersions {
    /// Cassandra 4.0 and later: v3, v4 and v5, none in beta.
    pub const V3_TO_V5: OfferedVersions = OfferedVersions {
        max: Version::V5,
        beta: None,
    };
    /// Cassandra 3.10 and 3.11: v3 and v4, and v5 as a beta.
    pub const V3_TO_V5_BETA: OfferedVersions = OfferedVersions {
        max: Version::V5,
        beta: Some(Version::V5),
    };

    /// The offered versions, oldest first.
    pub fn versions(self) -> impl Iterator<Item = Version> {
        [Version::V3, Version::V4, Version::V5]
            .into_iter()
            .filter(move |v| *v >= Version::MIN && *v <= self.max)
    }

    /// Whether `version` is offered only as a beta.
    pub fn is_beta(self, version: Version) -> bool {
        self.beta == Some(version)
    }

    /// How Cassandra names a version in messages and in SUPPORTED: `4/v4`, `5/v5-beta`.
    pub fn label(self, version: Version) -> String {
        let n = version.number();
        if self.is_beta(version) {
            format!("{n}/v{n}-beta")
        } else {
            format!("{n}/v{n}")
        }
    }

    /// SUPPORTED's `PROTOCOL_VERSIONS` values.
    pub fn labels(self) -> Vec<String> {
        self.versions().map(|v| self.label(v)).collect()
    }

    /// The message for a version number the server does not speak; drivers downgrade on its
    /// "unsupported protocol version" part.
    pub fn unsupported_message(self, version: u8) -> String {
        format!(
            "Invalid or unsupported protocol version ({version}); supported versions are ({})",
            self.labels().join(", ")
        )
    }

    /// Checks a request header's version and flags, returning the protocol error's message when the
    /// server must refuse it. A beta version without USE_BETA gets Cassandra's beta message, on which
    /// drivers that did not ask for that version explicitly downgrade.
    pub fn admit(self, version: Version, flags: Flags) -> std::result::Result<(), String> {
        if version > self.max {
            return Err(self.unsupported_message(version.number()));
        }
        if self.is_beta(version) && !flags.contains(Flags::USE_BETA) {
            return Err(format!(
                "Beta version of the protocol used ({}), but USE_BETA flag is unset",
                self.label(version)
            ));
        }
        Ok(())
    }

    /// Appends the ERROR answering a header with an unsupported version number: a protocol error on the
    /// client's stream, in the highest version offered.
    pub fn encode_unsupported(self, out: &mut BytesMut, version: u8, stream: i16) -> Result<usize> {
        Response::error(ErrorKind::Protocol, self.unsupported_message(version)).encode_envelope(
            out,
            self.max,
            stream,
            &ResponseExtras::default(),
        )
    }
}

impl Default for OfferedVersions {
    fn default() -> Self {
        OfferedVersions::V3_TO_V5
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{SUPPORTED_VERSIONS, unsupported_version_message};

    #[test]
    fn current_versions_match_the_codec() {
        let offered = OfferedVersions::V3_TO_V5;
        assert_eq!(offered.labels().join(", "), SUPPORTED_VERSIONS);
        assert_eq!(offered.unsupported_message(66), unsupported_version_message(66));
        for v in [Version::V3, Version::V4, Version::V5] {
            assert_eq!(offered.admit(v, Flags::empty()), Ok(()));
        }
    }

    #[test]
    fn v5_beta_needs_the_flag() {
        let offered = OfferedVersions::V3_TO_V5_BETA;
        assert_eq!(offered.labels(), ["3/v3", "4/v4", "5/v5-beta"]);
        assert_eq!(
            offered.admit(Version::V5, Flags::empty()),
            Err("Beta version of the protocol used (5/v5-beta), but USE_BETA flag is unset".to_owned())
        );
        assert_eq!(offered.admit(Version::V5, Flags::USE_BETA), Ok(()));
        assert_eq!(offered.admit(Version::V4, Flags::empty()), Ok(()));
        assert_eq!(
            offered.unsupported_message(6),
            "Invalid or unsupported protocol version (6); supported versions are (3/v3, 4/v4, 5/v5-beta)"
        );
    }

    #[test]
    fn a_lower_maximum_refuses_newer_versions() {
        let offered = OfferedVersions {
            max: Version::V4,
            beta: None,
        };
        assert_eq!(offered.labels(), ["3/v3", "4/v4"]);
        assert_eq!(
            offered.admit(Version::V5, Flags::USE_BETA),
            Err(
                "Invalid or unsupported protocol version (5); supported versions are (3/v3, 4/v4)".to_owned()
            )
        );
        let mut buf = BytesMut::new();
        assert!(offered.encode_unsupported(&mut buf, 5, 7).is_ok());
        assert_eq!(buf[0], 0x84);
        assert_eq!(i16::from_be_bytes([buf[2], buf[3]]), 7);
    }
}
