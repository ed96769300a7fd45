//! Cassandra's reconciliation rules, shared by every engine: which cell version wins, which row
//! marker wins, and which rows a clustering bound admits.

use crate::types::{ClusteringBound, Ttl};
use std::cmp::Ordering;
use std::ops::Bound;

/// One version of a regular (non-counter) cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegularVersion<'a> {
    /// A live value, optionally expiring.
    Live {
        /// Value bytes.
        value: &'a [u8],
        /// TTL if expiring.
        ttl: Option<Ttl>,
    },
    /// A tombstone.
    Tombstone {
        /// Local deletion time.
        local_deletion_time: i64,
    },
}

impl RegularVersion<'_> {
    /// Reconciliation class at equal timestamps: tombstones beat expiring cells, which beat
    /// regular cells (CASSANDRA-14592: independent of the clock).
    fn class(&self) -> u8 {
        match self {
            RegularVersion::Live { ttl: None, .. } => 0,
            RegularVersion::Live { ttl: Some(_), .. } => 1,
            RegularVersion::Tombstone { .. } => 2,
        }
    }

    /// Whether the version is a live value at `now` (not a tombstone, not expired).
    pub fn is_live(&self, now: i64) -> bool {
        match self {
            RegularVersion::Live { ttl, .. } => ttl.is_none_or(|t| now < t.expires_at),
            RegularVersion::Tombstone { .. } => false,
        }
    }
}

/// Total order of two versions of the same cell; the greater one wins.
///
/// Follows Cassandra 4's `Cells.resolveRegular`: higher timestamp; then tombstone > expiring >
/// regular; then larger local deletion/expiration time; for regular cells the greater value bytes.
/// Remaining ties (identical expiring cells differing only in value or TTL) are broken by value
/// then TTL so that the result never depends on the order versions were seen.
pub fn cmp_regular(a_ts: i64, a: &RegularVersion<'_>, b_ts: i64, b: &RegularVersion<'_>) -> Ordering {
    a_ts.cmp(&b_ts)
        .then_with(|| a.class().cmp(&b.class()))
        .then_with(|| match (a, b) {
            (
                RegularVersion::Tombstone {
                    local_deletion_time: x,
                },
                RegularVersion::Tombstone {
                    local_deletion_time: y,
                },
            ) => x.cmp(y),
            (RegularVersion::Live { value: va, ttl: ta }, RegularVersion::Live { value: vb, ttl: tb }) => {
                let expiry = |t: &Option<Ttl>| t.map(|t| (t.expires_at, t.ttl_seconds));
                let (ea, eb) = (expiry(ta), expiry(tb));
                ea.map(|e| e.0)
                    .cmp(&eb.map(|e| e.0))
                    .then_with(|| va.cmp(vb))
                    .then_with(|| ea.cmp(&eb))
            }
            // Different classes were already ordered above.
            _ => Ordering::Equal,
        })
}

/// Orders row markers with Cassandra's `LivenessInfo.supersedes`: higher timestamp; then an
/// expired marker beats an unexpired one; then an expiring one beats a permanent one; then the
/// later expiration (remaining ties by TTL for determinism).
pub fn cmp_marker(a_ts: i64, a: Option<Ttl>, b_ts: i64, b: Option<Ttl>, now: i64) -> Ordering {
    let key = |t: Option<Ttl>| {
        let expired = t.is_some_and(|t| now >= t.expires_at);
        (
            expired,
            t.is_some(),
            t.map(|t| t.expires_at),
            t.map(|t| t.ttl_seconds),
        )
    };
    a_ts.cmp(&b_ts).then_with(|| key(a).cmp(&key(b)))
}

/// Whether a start bound admits clustering `c` (prefix semantics, see [`ClusteringBound`]).
pub fn start_admits(start: &ClusteringBound, c: &[u8]) -> bool {
    match start {
        Bound::Unbounded => true,
        Bound::Included(p) => c >= p.as_slice(),
        Bound::Excluded(p) => c > p.as_slice() && !c.starts_with(p),
    }
}

/// Whether an end bound admits clustering `c` (prefix semantics, see [`ClusteringBound`]).
pub fn end_admits(end: &ClusteringBound, c: &[u8]) -> bool {
    match end {
        Bound::Unbounded => true,
        Bound::Included(p) => c <= p.as_slice() || c.starts_with(p),
        Bound::Excluded(p) => c < p.as_slice(),
    }
}

/// Whether the range `[start, end]` admits clustering `c`.
pub fn range_admits(start: &ClusteringBound, end: &ClusteringBound, c: &[u8]) -> bool {
    start_admits(start, c) && end_admits(end, c)
}

/// Whether a marker is live at `now`.
pub fn marker_live(ttl: Option<Ttl>, now: i64) -> bool {
    ttl.is_none_or(|t| now < t.expires_at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(v: &[u8]) -> RegularVersion<'_> {
        RegularVersion::Live { value: v, ttl: None }
    }

    #[test]
    fn higher_timestamp_wins() {
        let tomb = RegularVersion::Tombstone {
            local_deletion_time: 5,
        };
        assert_eq!(cmp_regular(2, &live(b"a"), 1, &tomb), Ordering::Greater);
    }

    #[test]
    fn equal_timestamp_rules() {
        let tomb = RegularVersion::Tombstone {
            local_deletion_time: 5,
        };
        let exp = RegularVersion::Live {
            value: b"z",
            ttl: Some(Ttl {
                ttl_seconds: 10,
                expires_at: 100,
            }),
        };
        assert_eq!(cmp_regular(1, &tomb, 1, &live(b"z")), Ordering::Greater);
        assert_eq!(cmp_regular(1, &tomb, 1, &exp), Ordering::Greater);
        assert_eq!(cmp_regular(1, &exp, 1, &live(b"zz")), Ordering::Greater);
        assert_eq!(cmp_regular(1, &live(b"b"), 1, &live(b"a")), Ordering::Greater);
    }

    #[test]
    fn marker_rules() {
        let ttl = Some(Ttl {
            ttl_seconds: 10,
            expires_at: 100,
        });
        assert_eq!(cmp_marker(1, ttl, 1, None, 50), Ordering::Greater);
        assert_eq!(cmp_marker(1, ttl, 1, None, 150), Ordering::Greater);
        assert_eq!(cmp_marker(2, None, 1, ttl, 150), Ordering::Greater);
    }

    #[test]
    fn prefix_bounds() {
        let p = b"ab".to_vec();
        assert!(start_admits(&Bound::Included(p.clone()), b"ab"));
        assert!(start_admits(&Bound::Included(p.clone()), b"abc"));
        assert!(!start_admits(&Bound::Included(p.clone()), b"aa"));
        assert!(!start_admits(&Bound::Excluded(p.clone()), b"abc"));
        assert!(start_admits(&Bound::Excluded(p.clone()), b"ac"));
        assert!(end_admits(&Bound::Included(p.clone()), b"abzz"));
        assert!(!end_admits(&Bound::Included(p.clone()), b"ac"));
        assert!(!end_admits(&Bound::Excluded(p.clone()), b"ab"));
        assert!(end_admits(&Bound::Excluded(p), b"a"));
    }
}
