//! `nodetool proxyhistograms` and `nodetool tablehistograms`: client calls and renderers printing exactly the
//! tables Cassandra 4.1's nodetool prints (`ProxyHistograms` / `TableHistograms`).

use std::fmt::Write as _;

use mica_node_admin_api as api;

use crate::{AdminClient, NodetoolError, encode_query_value};

/// The verbs [`run`] knows.
pub const VERBS: &[&str] = &["proxyhistograms", "tablehistograms"];

/// What Cassandra prints when a table has no SSTables to take partition sizes and cell counts from.
const NO_SIZES: &str =
    "No SSTables exists, unable to calculate 'Partition Size' and 'Cell Count' percentiles";

impl AdminClient {
    pub fn proxy_histograms(&self) -> Result<api::ProxyHistograms, NodetoolError> {
        self.get(api::PROXY_HISTOGRAMS)
    }

    /// Histograms of one table, one keyspace's tables or (with neither) every table.
    pub fn table_histograms(
        &self,
        keyspace: Option<&str>,
        table: Option<&str>,
    ) -> Result<Vec<api::TableHistograms>, NodetoolError> {
        let mut path = api::TABLE_HISTOGRAMS.to_owned();
        let mut sep = '?';
        for (name, value) in [("keyspace", keyspace), ("table", table)] {
            if let Some(v) = value {
                path.push_str(&format!("{sep}{name}={}", encode_query_value(v)));
                sep = '&';
            }
        }
        self.get(&path)
    }
}

/// Runs `verb` if it is one of [`VERBS`].
pub fn run(client: &AdminClient, verb: &str, args: &[String]) -> Option<Result<String, NodetoolError>> {
    match verb {
        "proxyhistograms" | "proxyhistogram" => Some(client.proxy_histograms().map(|h| proxy_histograms(&h))),
        "tablehistograms" | "cfhistograms" => Some(table_arguments(args).and_then(|(ks, t)| {
            client
                .table_histograms(ks.as_deref(), t.as_deref())
                .map(|h| table_histograms(&h))
        })),
        _ => None,
    }
}

/// `<keyspace> <table>`, `<keyspace.table>`, `<keyspace>` or nothing, as Cassandra's nodetool accepts them.
fn table_arguments(args: &[String]) -> Result<(Option<String>, Option<String>), NodetoolError> {
    match args {
        [] => Ok((None, None)),
        [one] => Ok(match one.split_once('.') {
            Some((k, t)) => (Some(k.to_owned()), Some(t.to_owned())),
            None => (Some(one.clone()), None),
        }),
        [ks, table] if !ks.contains('.') && !table.contains('.') => {
            Ok((Some(ks.clone()), Some(table.clone())))
        }
        _ => Err(NodetoolError::Usage(
            "tablehistograms requires <keyspace> <table> or <keyspace.table> format argument.".into(),
        )),
    }
}

/// `nodetool proxyhistograms`.
pub fn proxy_histograms(h: &api::ProxyHistograms) -> String {
    let mut out = String::from("proxy histograms\n");
    let _ = writeln!(
        out,
        "{:<10}{:>19}{:>19}{:>19}{:>19}{:>19}{:>19}",
        "Percentile",
        "Read Latency",
        "Write Latency",
        "Range Latency",
        "CAS Read Latency",
        "CAS Write Latency",
        "View Write Latency"
    );
    let _ = writeln!(
        out,
        "{:<10}{:>19}{:>19}{:>19}{:>19}{:>19}{:>19}",
        "", "(micros)", "(micros)", "(micros)", "(micros)", "(micros)", "(micros)"
    );
    for (i, label) in api::PERCENTILE_ROWS.iter().enumerate() {
        let _ = write!(out, "{label:<10}");
        for histogram in [
            &h.read,
            &h.write,
            &h.range,
            &h.cas_read,
            &h.cas_write,
            &h.view_write,
        ] {
            out.push_str(&java_fixed(histogram.rows[i], 2, 19));
        }
        out.push('\n');
    }
    out.push('\n');
    out
}

/// `nodetool tablehistograms`: one block per table.
pub fn table_histograms(tables: &[api::TableHistograms]) -> String {
    let mut out = String::new();
    for t in tables {
        let _ = writeln!(out, "{}/{} histograms", t.keyspace, t.table);
        let (sizes, cells) = match (&t.partition_size, &t.cell_count) {
            (Some(s), Some(c)) => (s.rows, c.rows),
            _ => {
                let _ = writeln!(out, "{NO_SIZES}");
                ([f64::NAN; 7], [f64::NAN; 7])
            }
        };
        let _ = writeln!(
            out,
            "{:<10}{:>18}{:>18}{:>18}{:>18}{:>18}",
            "Percentile", "Read Latency", "Write Latency", "SSTables", "Partition Size", "Cell Count"
        );
        let _ = writeln!(
            out,
            "{:<10}{:>18}{:>18}{:>18}{:>18}{:>18}",
            "", "(micros)", "(micros)", "", "(bytes)", ""
        );
        for (i, label) in api::PERCENTILE_ROWS.iter().enumerate() {
            let _ = writeln!(
                out,
                "{label:<10}{}{}{}{}{}",
                java_fixed(t.read_latency.rows[i], 2, 18),
                java_fixed(t.write_latency.rows[i], 2, 18),
                java_fixed(t.sstables.rows[i], 2, 18),
                java_fixed(sizes[i], 0, 18),
                java_fixed(cells[i], 0, 18)
            );
        }
        out.push('\n');
    }
    out
}

/// `value` with `decimals` digits right-aligned in `width`, rounded half-up on its shortest decimal form as
/// Java's `String.format("%.2f")` does (35.425 prints 35.43, where Rust's formatting prints 35.42).
fn java_fixed(value: f64, decimals: usize, width: usize) -> String {
    if !value.is_finite() {
        let text = if value.is_nan() {
            "NaN"
        } else if value > 0.0 {
            "Infinity"
        } else {
            "-Infinity"
        };
        return format!("{text:>width$}");
    }
    let shortest = format!("{}", value.abs());
    let (int_part, frac_part) = shortest.split_once('.').unwrap_or((&shortest, ""));
    let mut digits: Vec<u8> = int_part
        .bytes()
        .chain(frac_part.bytes().chain(std::iter::repeat(b'0')).take(decimals))
        .collect();
    if frac_part.as_bytes().get(decimals).is_some_and(|d| *d >= b'5') {
        // Carry the rounding up through the digits.
        let mut i = digits.len();
        loop {
            if i == 0 {
                digits.insert(0, b'1');
                break;
            }
            i -= 1;
            if digits[i] == b'9' {
                digits[i] = b'0';
            } else {
                digits[i] += 1;
                break;
            }
        }
    }
    let split = digits.len() - decimals;
    let mut text = String::from_utf8_lossy(&digits[..split]).into_owned();
    if decimals > 0 {
        text.push('.');
        text.push_str(&String::from_utf8_lossy(&digits[split..]));
    }
    if value < 0.0 && text.bytes().any(|b| b.is_ascii_digit() && b != b'0') {
        text.insert(0, '-');
    }
    format!("{text:>width$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(rows: [f64; 7]) -> api::Percentiles {
        api::Percentiles { rows, count: 3 }
    }

    #[test]
    fn proxy_histograms_have_cassandra_columns() {
        let h = api::ProxyHistograms {
            read: p([35.425, 42.51, 51.012, 51.012, 61.214, 29.522, 61.214]),
            ..Default::default()
        };
        let text = proxy_histograms(&h);
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines[0], "proxy histograms");
        assert_eq!(
            lines[1],
            "Percentile       Read Latency      Write Latency      Range Latency   CAS Read Latency  CAS Write Latency View Write Latency"
        );
        assert_eq!(lines[2], format!("{:10}{}", "", "           (micros)".repeat(6)));
        assert_eq!(
            lines[3],
            format!(
                "{:<10}{:>19}{}",
                "50%",
                "35.43",
                format!("{:>19}", "0.00").repeat(5)
            )
        );
        assert_eq!(lines[9].split_whitespace().next(), Some("Max"));
        assert_eq!((lines.len(), lines[10]), (11, ""));
        assert!(text.ends_with("\n\n"));
    }

    #[test]
    fn table_histograms_have_cassandra_columns() {
        let t = api::TableHistograms {
            keyspace: "ks".into(),
            table: "t".into(),
            read_latency: p([20.501; 7]),
            write_latency: p([10.0; 7]),
            sstables: api::Percentiles::default(),
            partition_size: Some(p([124.0; 7])),
            cell_count: Some(p([5.0; 7])),
        };
        let text = table_histograms(std::slice::from_ref(&t));
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines[0], "ks/t histograms");
        assert_eq!(
            lines[1],
            "Percentile      Read Latency     Write Latency          SSTables    Partition Size        Cell Count"
        );
        assert_eq!(
            lines[2],
            "                    (micros)          (micros)                             (bytes)                  "
        );
        assert_eq!(
            lines[3],
            "50%                    20.50             10.00              0.00               124                 5"
        );
        let empty = api::TableHistograms {
            partition_size: None,
            cell_count: None,
            ..t
        };
        let text = table_histograms(&[empty]);
        assert_eq!(text.lines().nth(1), Some(NO_SIZES));
        assert!(
            text.lines()
                .nth(4)
                .is_some_and(|l| l.ends_with("NaN               NaN"))
        );
    }

    #[test]
    fn numbers_round_half_up_like_java() {
        assert_eq!(java_fixed(35.425, 2, 0), "35.43");
        assert_eq!(java_fixed(9.995, 2, 0), "10.00");
        assert_eq!(java_fixed(0.0, 2, 6), "  0.00");
        assert_eq!(java_fixed(124.0, 0, 0), "124");
        assert_eq!(java_fixed(1.8446744073709552e19, 2, 0), "18446744073709552000.00");
        assert_eq!(java_fixed(f64::NAN, 0, 4), " NaN");
    }

    #[test]
    fn table_arguments_follow_nodetool() {
        let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        let pair = |k: &str, t: &str| (Some(k.to_owned()), Some(t.to_owned()));
        assert_eq!(table_arguments(&s(&["ks", "t"])).ok(), Some(pair("ks", "t")));
        assert_eq!(table_arguments(&s(&["ks.t"])).ok(), Some(pair("ks", "t")));
        assert_eq!(table_arguments(&s(&[])).ok(), Some((None, None)));
        assert!(table_arguments(&s(&["a", "b", "c"])).is_err());
    }
}
