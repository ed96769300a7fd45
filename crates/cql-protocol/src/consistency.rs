//! The [consistency] notation: consistency levels with their wire codes and Cassandra's display names.

use std::fmt;
use std::str::FromStr;

use crate::error::ProtocolError;

/// A consistency level, numbered as on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u16)]
pub enum Consistency {
    Any = 0x0000,
    One = 0x0001,
    Two = 0x0002,
    Three = 0x0003,
    Quorum = 0x0004,
    All = 0x0005,
    LocalQuorum = 0x0006,
    EachQuorum = 0x0007,
    Serial = 0x0008,
    LocalSerial = 0x0009,
    LocalOne = 0x000A,
}

impl Consistency {
    /// All levels in wire-code order.
    pub const ALL_LEVELS: [Consistency; 11] = [
        Self::Any,
        Self::One,
        Self::Two,
        Self::Three,
        Self::Quorum,
        Self::All,
        Self::LocalQuorum,
        Self::EachQuorum,
        Self::Serial,
        Self::LocalSerial,
        Self::LocalOne,
    ];

    /// The [short] code sent on the wire.
    pub fn code(self) -> u16 {
        self as u16
    }

    /// Maps a wire code back to a level.
    pub fn from_code(code: u16) -> Result<Self, ProtocolError> {
        Self::ALL_LEVELS
            .get(usize::from(code))
            .copied()
            .ok_or(ProtocolError::UnknownConsistency(code))
    }

    /// The upper-case name Cassandra prints, e.g. `LOCAL_QUORUM`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Any => "ANY",
            Self::One => "ONE",
            Self::Two => "TWO",
            Self::Three => "THREE",
            Self::Quorum => "QUORUM",
            Self::All => "ALL",
            Self::LocalQuorum => "LOCAL_QUORUM",
            Self::EachQuorum => "EACH_QUORUM",
            Self::Serial => "SERIAL",
            Self::LocalSerial => "LOCAL_SERIAL",
            Self::LocalOne => "LOCAL_ONE",
        }
    }

    /// SERIAL and LOCAL_SERIAL, the only levels valid for the Paxos phase of conditional updates.
    pub fn is_serial(self) -> bool {
        matches!(self, Self::Serial | Self::LocalSerial)
    }
}

impl fmt::Display for Consistency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Consistency {
    type Err = ProtocolError;

    /// Parses a name case-insensitively, as cqlsh's CONSISTENCY command accepts it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL_LEVELS
            .iter()
            .copied()
            .find(|c| c.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| ProtocolError::InvalidField {
                what: "consistency level",
                value: s.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names() {
        for (i, c) in Consistency::ALL_LEVELS.iter().enumerate() {
            assert_eq!(usize::from(c.code()), i);
            assert_eq!(Consistency::from_code(c.code()).unwrap(), *c);
            assert_eq!(c.to_string().parse::<Consistency>().unwrap(), *c);
        }
        assert_eq!(Consistency::LocalQuorum.to_string(), "LOCAL_QUORUM");
        assert_eq!(Consistency::LocalOne.code(), 0x000A);
        assert_eq!("local_one".parse::<Consistency>().unwrap(), Consistency::LocalOne);
        assert_eq!(
            Consistency::from_code(11),
            Err(ProtocolError::UnknownConsistency(11))
        );
        assert!(Consistency::LocalSerial.is_serial() && !Consistency::Quorum.is_serial());
    }
}
