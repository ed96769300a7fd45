//! Calendar arithmetic and the text forms Cassandra accepts and prints for timestamp, date, time and
//! duration values (proleptic Gregorian calendar, UTC).

use crate::value::{CqlDuration, DATE_EPOCH};

pub const MILLIS_PER_DAY: i64 = 86_400_000;
pub const NANOS_PER_SECOND: i64 = 1_000_000_000;
pub const NANOS_PER_MINUTE: i64 = 60 * NANOS_PER_SECOND;
pub const NANOS_PER_HOUR: i64 = 60 * NANOS_PER_MINUTE;
pub const NANOS_PER_DAY: i64 = 24 * NANOS_PER_HOUR;
const MONTHS_PER_YEAR: i64 = 12;
const DAYS_PER_WEEK: i64 = 7;

/// Days since 1970-01-01 of a proleptic Gregorian civil date.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date (year, month, day) of a day count since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn format_year(year: i64) -> String {
    if year < 0 {
        format!("-{:04}", -year)
    } else {
        format!("{year:04}")
    }
}

/// Splits milliseconds since the epoch into (date string, hours, minutes, seconds, millis).
fn split_millis(ms: i64) -> (String, i64, i64, i64, i64) {
    let days = ms.div_euclid(MILLIS_PER_DAY);
    let rem = ms.rem_euclid(MILLIS_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    let date = format!("{}-{m:02}-{d:02}", format_year(y));
    (
        date,
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000,
    )
}

/// `2024-01-02T03:04:05.678Z`: Cassandra's `toString` of a timestamp (used by CAST to text).
pub fn format_timestamp_iso(ms: i64) -> String {
    let (date, h, m, s, milli) = split_millis(ms);
    format!("{date}T{h:02}:{m:02}:{s:02}.{milli:03}Z")
}

/// `2024-01-02 03:04:05.678Z`: the form `SELECT JSON` prints.
pub fn format_timestamp_json(ms: i64) -> String {
    let (date, h, m, s, milli) = split_millis(ms);
    format!("{date} {h:02}:{m:02}:{s:02}.{milli:03}Z")
}

/// `2024-01-02 03:04:05.678000+0000`: the form cqlsh prints and DESCRIBE uses in literals.
pub fn format_timestamp_cqlsh(ms: i64) -> String {
    let (date, h, m, s, milli) = split_millis(ms);
    format!("{date} {h:02}:{m:02}:{s:02}.{milli:03}000+0000")
}

/// `2024-01-02` for a wire date value.
pub fn format_date(date: u32) -> String {
    let (y, m, d) = civil_from_days(i64::from(date) - i64::from(DATE_EPOCH));
    format!("{}-{m:02}-{d:02}", format_year(y))
}

/// `03:04:05.123456789` for nanoseconds since midnight.
pub fn format_time(nanos: i64) -> String {
    let n = nanos.rem_euclid(NANOS_PER_DAY);
    format!(
        "{:02}:{:02}:{:02}.{:09}",
        n / NANOS_PER_HOUR,
        n / NANOS_PER_MINUTE % 60,
        n / NANOS_PER_SECOND % 60,
        n % NANOS_PER_SECOND
    )
}

/// A tiny cursor over ASCII text used by the date/time parsers.
struct Cursor<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Reads between `min` and `max` ASCII digits; returns the value and the digit count.
    fn digits(&mut self, min: usize, max: usize) -> Option<(i64, usize)> {
        let start = self.pos;
        let mut value: i64 = 0;
        while self.pos - start < max {
            match self.peek() {
                Some(c) if c.is_ascii_digit() => {
                    value = value.checked_mul(10)?.checked_add(i64::from(c - b'0'))?;
                    self.pos += 1;
                }
                _ => break,
            }
        }
        let n = self.pos - start;
        (n >= min).then_some((value, n))
    }

    fn done(&self) -> bool {
        self.pos == self.s.len()
    }
}

/// Parses `[-]yyyy-mm-dd` into days since the epoch, validating the calendar.
fn parse_civil_date(c: &mut Cursor) -> Option<i64> {
    let negative = c.eat(b'-') || {
        c.eat(b'+');
        false
    };
    let (year, _) = c.digits(4, 9)?;
    let year = if negative { -year } else { year };
    if !c.eat(b'-') {
        return None;
    }
    let (month, _) = c.digits(1, 2)?;
    if !c.eat(b'-') {
        return None;
    }
    let (day, _) = c.digits(1, 2)?;
    let month = u32::try_from(month).ok().filter(|m| (1..=12).contains(m))?;
    let day = u32::try_from(day)
        .ok()
        .filter(|&d| d >= 1 && d <= days_in_month(year, month))?;
    Some(days_from_civil(year, month, day))
}

fn is_integer_text(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Parses a timestamp as Cassandra's `TimestampType.fromString` does: an integer number of milliseconds,
/// or `yyyy-mm-dd[( |T)hh:mm[:ss[.fff]]][ ][zone]` where zone is `Z`, `UTC`, `GMT`, `+hh`, `+hhmm` or `+hh:mm`.
/// Times without a zone are taken as UTC.
pub fn parse_timestamp(text: &str) -> Result<i64, String> {
    let error = || format!("Unable to coerce '{text}' to a formatted date (long)");
    if is_integer_text(text) {
        return text.parse::<i64>().map_err(|_| error());
    }
    let mut c = Cursor {
        s: text.trim().as_bytes(),
        pos: 0,
    };
    let days = parse_civil_date(&mut c).ok_or_else(error)?;
    let mut millis_of_day = 0i64;
    if (c.peek() == Some(b'T') || c.peek() == Some(b' '))
        && c.s.get(c.pos + 1).is_some_and(|b| b.is_ascii_digit())
    {
        c.pos += 1;
        let (h, _) = c.digits(1, 2).ok_or_else(error)?;
        let mut m = 0;
        let mut s = 0;
        let mut frac = 0;
        if c.eat(b':') {
            m = c.digits(2, 2).ok_or_else(error)?.0;
            if c.eat(b':') {
                s = c.digits(2, 2).ok_or_else(error)?.0;
                if c.eat(b'.') {
                    let (f, n) = c.digits(1, 9).ok_or_else(error)?;
                    // Only millisecond precision is kept; extra digits are truncated.
                    frac = f * 10i64.pow(9 - n as u32) / 1_000_000;
                }
            }
        }
        if h > 23 || m > 59 || s > 59 {
            return Err(error());
        }
        millis_of_day = ((h * 60 + m) * 60 + s) * 1000 + frac;
    }
    while c.eat(b' ') {}
    let offset_minutes = parse_zone(&mut c).ok_or_else(error)?;
    if !c.done() {
        return Err(error());
    }
    // Computed in 128 bits because the day's start can be out of range while the instant is not.
    let ms = i128::from(days) * i128::from(MILLIS_PER_DAY) + i128::from(millis_of_day)
        - i128::from(offset_minutes) * 60_000;
    i64::try_from(ms).map_err(|_| error())
}

/// Parses an optional zone designator, returning its offset from UTC in minutes.
fn parse_zone(c: &mut Cursor) -> Option<i64> {
    let rest = &c.s[c.pos..];
    if rest.is_empty() {
        return Some(0);
    }
    for name in [&b"Z"[..], b"UTC", b"GMT"] {
        if rest.eq_ignore_ascii_case(name) {
            c.pos = c.s.len();
            return Some(0);
        }
    }
    let sign = match c.peek()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    c.pos += 1;
    let (h, _) = c.digits(2, 2)?;
    c.eat(b':');
    let m = if c.done() { 0 } else { c.digits(2, 2)?.0 };
    (h <= 18 && m < 60).then_some(sign * (h * 60 + m))
}

/// Parses a date as Cassandra's `SimpleDateType.fromString`: `yyyy-mm-dd` or the raw unsigned day number.
pub fn parse_date(text: &str) -> Result<u32, String> {
    let error = || format!("Unable to coerce '{text}' to a formatted date (long)");
    if is_integer_text(text) {
        return text
            .parse::<u32>()
            .map_err(|_| format!("Input out of bounds: {text}"));
    }
    let mut c = Cursor {
        s: text.as_bytes(),
        pos: 0,
    };
    let days = parse_civil_date(&mut c).filter(|_| c.done()).ok_or_else(error)?;
    u32::try_from(days + i64::from(DATE_EPOCH))
        .map_err(|_| format!("Input date {text} is out of the supported date range"))
}

/// Parses a time of day as Cassandra's `TimeType.fromString`: `hh:mm:ss[.fffffffff]` or raw nanoseconds.
pub fn parse_time(text: &str) -> Result<i64, String> {
    let error = || format!("Unable to coerce '{text}' to a formatted time (long)");
    if is_integer_text(text) {
        return text
            .parse::<i64>()
            .ok()
            .filter(|n| (0..NANOS_PER_DAY).contains(n))
            .ok_or_else(|| format!("Input long out of bounds: {text}"));
    }
    let mut c = Cursor {
        s: text.trim().as_bytes(),
        pos: 0,
    };
    let (h, _) = c.digits(1, 2).ok_or_else(error)?;
    let m = c.eat(b':').then(|| c.digits(1, 2)).flatten().ok_or_else(error)?.0;
    let s = c.eat(b':').then(|| c.digits(1, 2)).flatten().ok_or_else(error)?.0;
    let mut nanos = 0;
    if c.eat(b'.') {
        let (f, n) = c.digits(1, 9).ok_or_else(error)?;
        nanos = f * 10i64.pow(9 - n as u32);
    }
    if !c.done() || h > 23 || m > 59 || s > 59 {
        return Err(error());
    }
    Ok(h * NANOS_PER_HOUR + m * NANOS_PER_MINUTE + s * NANOS_PER_SECOND + nanos)
}

/// Formats a duration as Cassandra's `Duration.toString` does (e.g. `1y2mo3d4h5m6s7ms8us9ns`, `-1h`,
/// and the empty string for a zero duration).
pub fn format_duration(d: &CqlDuration) -> String {
    let mut out = String::new();
    if d.months < 0 || d.days < 0 || d.nanos < 0 {
        out.push('-');
    }
    let mut append = |value: u64, divisor: u64, unit: &str| -> u64 {
        if value == 0 || value < divisor {
            return value;
        }
        out.push_str(&format!("{}{unit}", value / divisor));
        value % divisor
    };
    let months = append(u64::from(d.months.unsigned_abs()), MONTHS_PER_YEAR as u64, "y");
    append(months, 1, "mo");
    append(u64::from(d.days.unsigned_abs()), 1, "d");
    if d.nanos != 0 {
        let mut rest = d.nanos.unsigned_abs();
        for (divisor, unit) in [
            (NANOS_PER_HOUR, "h"),
            (NANOS_PER_MINUTE, "m"),
            (NANOS_PER_SECOND, "s"),
            (1_000_000, "ms"),
            (1_000, "us"),
            (1, "ns"),
        ] {
            rest = append(rest, divisor as u64, unit);
        }
    }
    out
}

/// Accumulates duration components while checking for overflow.
#[derive(Default)]
struct DurationBuilder {
    months: i64,
    days: i64,
    nanos: i128,
}

impl DurationBuilder {
    fn add(&mut self, value: i64, unit: &str) -> Option<()> {
        let v = i128::from(value);
        match unit {
            "y" => self.months = self.months.checked_add(value.checked_mul(MONTHS_PER_YEAR)?)?,
            "mo" => self.months = self.months.checked_add(value)?,
            "w" => self.days = self.days.checked_add(value.checked_mul(DAYS_PER_WEEK)?)?,
            "d" => self.days = self.days.checked_add(value)?,
            "h" => self.nanos += v * i128::from(NANOS_PER_HOUR),
            "m" => self.nanos += v * i128::from(NANOS_PER_MINUTE),
            "s" => self.nanos += v * i128::from(NANOS_PER_SECOND),
            "ms" => self.nanos += v * 1_000_000,
            "us" | "µs" => self.nanos += v * 1_000,
            "ns" => self.nanos += v,
            _ => return None,
        }
        Some(())
    }

    fn build(self, negative: bool) -> Option<CqlDuration> {
        let sign = if negative { -1 } else { 1 };
        Some(CqlDuration {
            months: i32::try_from(self.months * sign).ok()?,
            days: i32::try_from(self.days * sign).ok()?,
            nanos: i64::try_from(self.nanos * i128::from(sign)).ok()?,
        })
    }
}

/// Parses a duration in any of the forms Cassandra accepts: `1h30m`, `2y3mo`, `-4w`, ISO 8601
/// `P1Y2M3DT4H5M6S`, `P2W` or the alternative `P0001-02-03T04:05:06`.
pub fn parse_duration(text: &str) -> Result<CqlDuration, String> {
    let error = || format!("Unable to convert '{text}' to a duration");
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let mut builder = DurationBuilder::default();
    if let Some(iso) = body.strip_prefix('P') {
        parse_iso_duration(iso, &mut builder).ok_or_else(error)?;
    } else {
        parse_unit_duration(body, &mut builder).ok_or_else(error)?;
    }
    builder.build(negative).ok_or_else(error)
}

/// Units of the `1h30m` form, in the order they must appear.
const DURATION_UNITS: &[&str] = &["y", "mo", "w", "d", "h", "m", "s", "ms", "us", "ns"];

fn parse_unit_duration(body: &str, builder: &mut DurationBuilder) -> Option<()> {
    let mut rest = body;
    let mut last_unit: Option<usize> = None;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let value: i64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = rest[..unit_len].to_lowercase().replace('µ', "u");
        rest = &rest[unit_len..];
        let index = DURATION_UNITS.iter().position(|u| *u == unit)?;
        if last_unit.is_some_and(|l| l >= index) {
            return None;
        }
        last_unit = Some(index);
        builder.add(value, &unit)?;
    }
    Some(())
}

fn parse_iso_duration(iso: &str, builder: &mut DurationBuilder) -> Option<()> {
    if let Some(weeks) = iso.strip_suffix('W') {
        return builder.add(weeks.parse().ok()?, "w");
    }
    if iso.contains('-') {
        // Alternative format: PYYYY-MM-DDThh:mm:ss.
        let (date, time) = iso.split_once('T')?;
        let d: Vec<&str> = date.split('-').collect();
        let t: Vec<&str> = time.split(':').collect();
        let ([y, mo, dd], [h, mi, s]) = (d.as_slice(), t.as_slice()) else {
            return None;
        };
        for (v, unit) in [(y, "y"), (mo, "mo"), (dd, "d"), (h, "h"), (mi, "m"), (s, "s")] {
            if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            builder.add(v.parse().ok()?, unit)?;
        }
        return Some(());
    }
    let (date, time) = match iso.split_once('T') {
        Some((d, t)) if !t.is_empty() => (d, Some(t)),
        Some(_) => return None,
        None => (iso, None),
    };
    let mut any = false;
    let mut parse_part = |part: &str, units: &[(char, &str)]| -> Option<()> {
        let mut rest = part;
        let mut next_unit = 0;
        while !rest.is_empty() {
            let digits = rest.find(|c: char| !c.is_ascii_digit())?;
            let value: i64 = rest[..digits].parse().ok()?;
            let designator = rest[digits..].chars().next()?;
            let pos = units[next_unit..].iter().position(|(c, _)| *c == designator)? + next_unit;
            builder.add(value, units[pos].1)?;
            next_unit = pos + 1;
            rest = &rest[digits + 1..];
            any = true;
        }
        Some(())
    };
    parse_part(date, &[('Y', "y"), ('M', "mo"), ('D', "d")])?;
    if let Some(time) = time {
        parse_part(time, &[('H', "h"), ('M', "m"), ('S', "s")])?;
    }
    any.then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for days in [-719_468, -1, 0, 1, 10_957, 19_724, 2_932_896, -3_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn timestamps() {
        let ms = 1_704_164_645_678; // 2024-01-02 03:04:05.678 UTC
        assert_eq!(format_timestamp_iso(ms), "2024-01-02T03:04:05.678Z");
        assert_eq!(format_timestamp_json(ms), "2024-01-02 03:04:05.678Z");
        assert_eq!(format_timestamp_cqlsh(ms), "2024-01-02 03:04:05.678000+0000");
        for text in [
            "2024-01-02 03:04:05.678",
            "2024-01-02T03:04:05.678Z",
            "2024-01-02 03:04:05.678+0000",
            "2024-01-02 03:04:05.678 +00:00",
            "2024-01-02T05:04:05.678+02:00",
            "2024-01-01T22:04:05.678-0500",
            "1704164645678",
        ] {
            assert_eq!(parse_timestamp(text), Ok(ms), "{text}");
        }
        assert_eq!(parse_timestamp("2011-02-03"), Ok(1_296_691_200_000));
        assert_eq!(parse_timestamp("2011-02-03 04:05"), Ok(1_296_705_900_000));
        assert_eq!(parse_timestamp("2011-02-03 04:05+0000"), Ok(1_296_705_900_000));
        assert_eq!(parse_timestamp("2011-02-03Z"), Ok(1_296_691_200_000));
        assert_eq!(format_timestamp_iso(-1), "1969-12-31T23:59:59.999Z");
        for bad in [
            "2011-02-30",
            "2011-13-01",
            "2011-02-03 25:00",
            "foo",
            "2011-02-03 04:05:06 PST8",
        ] {
            assert!(parse_timestamp(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_timestamp("x").unwrap_err(),
            "Unable to coerce 'x' to a formatted date (long)"
        );
    }

    #[test]
    fn dates_and_times() {
        assert_eq!(parse_date("1970-01-01"), Ok(DATE_EPOCH));
        assert_eq!(parse_date("2011-02-03"), Ok(DATE_EPOCH + 15_008));
        assert_eq!(format_date(DATE_EPOCH + 15_008), "2011-02-03");
        assert_eq!(parse_date("2147483648"), Ok(DATE_EPOCH));
        assert_eq!(format_date(0), "-5877641-06-23");
        assert_eq!(format_date(u32::MAX), "5881580-07-11");
        assert!(parse_date("2011-02-29").is_err());
        assert_eq!(parse_time("08:12:54.123456789"), Ok(29_574_123_456_789));
        assert_eq!(parse_time("08:12:54.1"), Ok(29_574_100_000_000));
        assert_eq!(parse_time("08:12:54"), Ok(29_574_000_000_000));
        assert_eq!(format_time(29_574_123_456_789), "08:12:54.123456789");
        assert!(parse_time("08:12").is_err());
        assert!(parse_time("24:00:00").is_err());
        assert!(parse_time("86400000000000").is_err());
    }

    #[test]
    fn durations() {
        let d = |months, days, nanos| CqlDuration { months, days, nanos };
        assert_eq!(parse_duration("1h30m"), Ok(d(0, 0, 90 * NANOS_PER_MINUTE)));
        assert_eq!(
            parse_duration("1y2mo3w4d5h6m7s8ms9us10ns"),
            Ok(d(14, 25, 18_367_008_009_010))
        );
        assert_eq!(parse_duration("-2d"), Ok(d(0, -2, 0)));
        assert_eq!(parse_duration("3µs"), Ok(d(0, 0, 3000)));
        assert_eq!(
            parse_duration("P1Y2M3DT4H5M6S"),
            Ok(d(14, 3, 14_706 * NANOS_PER_SECOND))
        );
        assert_eq!(parse_duration("P2W"), Ok(d(0, 14, 0)));
        assert_eq!(
            parse_duration("P0001-02-03T04:05:06"),
            Ok(d(14, 3, 14_706 * NANOS_PER_SECOND))
        );
        assert_eq!(parse_duration("PT1H"), Ok(d(0, 0, NANOS_PER_HOUR)));
        for bad in ["", "1", "h", "1m1h", "1x", "P", "PT", "P1H", "99999999999y"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(
            format_duration(&d(14, 25, 18_367_008_009_010)),
            "1y2mo25d5h6m7s8ms9us10ns"
        );
        assert_eq!(format_duration(&d(0, -2, -NANOS_PER_HOUR)), "-2d1h");
        assert_eq!(format_duration(&d(0, 0, 0)), "");
    }
}
