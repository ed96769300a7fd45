//! Cassandra 4.1 unit-suffixed values: durations (`10s`), data storage (`16MiB`) and data rates
//! (`64MiB/s`), parsed into typed values and formatted back in the largest exact unit.

use std::fmt;
use std::time::Duration;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;
/// One megabit per second expressed in bytes per second (Cassandra's legacy stream throughput unit).
pub const MEGABIT_PER_SECOND_IN_BYTES: u64 = 125_000;

/// A number of bytes, written in cassandra.yaml as `100B`, `1024KiB`, `16MiB` or `4GiB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct DataStorage(pub u64);

impl DataStorage {
    pub const fn bytes(n: u64) -> Self {
        Self(n)
    }
    pub const fn kibibytes(n: u64) -> Self {
        Self(n * KIB)
    }
    pub const fn mebibytes(n: u64) -> Self {
        Self(n * MIB)
    }
    pub const fn gibibytes(n: u64) -> Self {
        Self(n * GIB)
    }
    /// The size in bytes.
    pub const fn as_bytes(self) -> u64 {
        self.0
    }
}

impl fmt::Display for DataStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (n, unit) = largest_exact_unit(self.0);
        write!(f, "{n}{unit}")
    }
}

/// A throughput in bytes per second, written as `24MiB/s`, `512KiB/s` or `100B/s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct DataRate(pub u64);

impl DataRate {
    pub const fn bytes_per_second(n: u64) -> Self {
        Self(n)
    }
    pub const fn mebibytes_per_second(n: u64) -> Self {
        Self(n * MIB)
    }
    /// The rate in bytes per second; zero means "unthrottled" in Cassandra.
    pub const fn as_bytes_per_second(self) -> u64 {
        self.0
    }
}

impl fmt::Display for DataRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (n, unit) = largest_exact_unit(self.0);
        write!(f, "{n}{unit}/s")
    }
}

fn largest_exact_unit(bytes: u64) -> (u64, &'static str) {
    [(GIB, "GiB"), (MIB, "MiB"), (KIB, "KiB")]
        .into_iter()
        .find(|(size, _)| bytes != 0 && bytes.is_multiple_of(*size))
        .map_or((bytes, "B"), |(size, unit)| (bytes / size, unit))
}

/// Splits `"5000ms"` into `(5000, "ms")`; `None` when there is no leading number or no unit.
fn split_number(text: &str) -> Option<(u64, &str)> {
    let text = text.trim();
    let digits = text.find(|c: char| !c.is_ascii_digit())?;
    if digits == 0 {
        return None;
    }
    let n = text[..digits].parse().ok()?;
    Some((n, &text[digits..]))
}

/// Parses a Cassandra duration such as `5000ms`, `10s`, `2h`, `1d`, `500us` or `0ms`.
/// Units are case-sensitive as in Cassandra: `d`, `h`, `m`, `s`, `ms`, `us`/`µs`, `ns`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let (n, unit) = split_number(text)?;
    let secs = |mult: u64| n.checked_mul(mult).map(Duration::from_secs);
    match unit {
        "d" => secs(86_400),
        "h" => secs(3_600),
        "m" => secs(60),
        "s" => secs(1),
        "ms" => Some(Duration::from_millis(n)),
        "us" | "µs" => Some(Duration::from_micros(n)),
        "ns" => Some(Duration::from_nanos(n)),
        _ => None,
    }
}

/// Formats a duration in the largest unit that represents it exactly (`3h`, `2000ms`, `0ms`).
pub fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0ms".to_owned();
    }
    const UNITS: [(u128, &str); 7] = [
        (86_400_000_000_000, "d"),
        (3_600_000_000_000, "h"),
        (60_000_000_000, "m"),
        (1_000_000_000, "s"),
        (1_000_000, "ms"),
        (1_000, "us"),
        (1, "ns"),
    ];
    UNITS
        .into_iter()
        .find(|(size, _)| nanos.is_multiple_of(*size))
        .map_or_else(
            || format!("{nanos}ns"),
            |(size, unit)| format!("{}{unit}", nanos / size),
        )
}

fn storage_multiplier(unit: &str) -> Option<u64> {
    match unit {
        "B" => Some(1),
        "KiB" => Some(KIB),
        "MiB" => Some(MIB),
        "GiB" => Some(GIB),
        _ => None,
    }
}

/// Parses a data size such as `16MiB`, `1024KiB`, `4GiB` or `100B`.
pub fn parse_data_storage(text: &str) -> Option<DataStorage> {
    let (n, unit) = split_number(text)?;
    n.checked_mul(storage_multiplier(unit)?).map(DataStorage)
}

/// Parses a data rate such as `24MiB/s`, `512KiB/s` or `100B/s`.
pub fn parse_data_rate(text: &str) -> Option<DataRate> {
    let (n, unit) = split_number(text)?;
    let unit = unit.strip_suffix("/s")?;
    n.checked_mul(storage_multiplier(unit)?).map(DataRate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_in_every_unit() {
        let cases = [
            ("5000ms", Some(Duration::from_millis(5000))),
            ("10s", Some(Duration::from_secs(10))),
            ("2h", Some(Duration::from_secs(7200))),
            ("1d", Some(Duration::from_secs(86_400))),
            ("60m", Some(Duration::from_secs(3600))),
            ("500us", Some(Duration::from_micros(500))),
            ("500µs", Some(Duration::from_micros(500))),
            ("7ns", Some(Duration::from_nanos(7))),
            ("0ms", Some(Duration::ZERO)),
            (" 3h ", Some(Duration::from_secs(10_800))),
            ("5000", None),
            ("ms", None),
            ("abc", None),
            ("5 s", None),
            ("5S", None),
            ("-5s", None),
            ("1.5s", None),
            ("", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_duration(text), expected, "{text:?}");
        }
    }

    #[test]
    fn sizes_and_rates_parse() {
        assert_eq!(parse_data_storage("16MiB"), Some(DataStorage(16 * 1024 * 1024)));
        assert_eq!(parse_data_storage("1024KiB"), Some(DataStorage(1024 * 1024)));
        assert_eq!(parse_data_storage("4GiB"), Some(DataStorage(4 << 30)));
        assert_eq!(parse_data_storage("100B"), Some(DataStorage(100)));
        assert_eq!(parse_data_storage("0MiB"), Some(DataStorage(0)));
        assert_eq!(parse_data_storage("16MB"), None);
        assert_eq!(parse_data_storage("16"), None);
        assert_eq!(parse_data_storage("99999999999999999GiB"), None);
        assert_eq!(parse_data_rate("24MiB/s"), Some(DataRate(24 << 20)));
        assert_eq!(parse_data_rate("64MiB/s"), Some(DataRate(64 << 20)));
        assert_eq!(parse_data_rate("100B/s"), Some(DataRate(100)));
        assert_eq!(parse_data_rate("64MiB"), None);
    }

    #[test]
    fn formatting_uses_largest_exact_unit_and_round_trips() {
        assert_eq!(format_duration(Duration::from_secs(10_800)), "3h");
        assert_eq!(format_duration(Duration::from_millis(2500)), "2500ms");
        assert_eq!(format_duration(Duration::ZERO), "0ms");
        assert_eq!(format_duration(Duration::from_micros(500)), "500us");
        assert_eq!(DataStorage::kibibytes(5).to_string(), "5KiB");
        assert_eq!(DataStorage::bytes(1000).to_string(), "1000B");
        assert_eq!(DataStorage::bytes(0).to_string(), "0B");
        assert_eq!(DataRate::mebibytes_per_second(64).to_string(), "64MiB/s");
        for d in [
            Duration::from_nanos(123),
            Duration::from_secs(86_400 * 3),
            Duration::from_millis(1),
        ] {
            assert_eq!(parse_duration(&format_duration(d)), Some(d));
        }
    }
}
