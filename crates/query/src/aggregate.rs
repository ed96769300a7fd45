//! Native aggregate functions (`count`, `min`, `max`, `sum`, `avg`) with Cassandra 4.1's overloads, return
//! types and arithmetic: integer sums wrap in the argument type, averages of integers truncate an exact
//! sum, floating point sums use Cassandra's compensated summation, decimals average half-even.

use bigdecimal::RoundingMode;
use mica_cql_types::{BigDecimal, BigInt, CqlType, CqlValue, compare_serialized};

use crate::error::{Result, invalid};
use crate::functions::{ArgKind, SYSTEM, decode, encode};

/// Which aggregate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AggKind {
    /// `count(*)` (and `count(<constant>)`): counts rows.
    CountRows,
    Count,
    Min,
    Max,
    Sum,
    Avg,
}

/// A resolved aggregate call.
#[derive(Clone, Debug)]
pub(crate) struct Aggregate {
    pub kind: AggKind,
    /// The argument's type (unused for `CountRows`).
    pub arg: CqlType,
    pub ret: CqlType,
}

/// The numeric types `sum` and `avg` are defined for, in Cassandra's declaration order.
const NUMERIC: [CqlType; 9] = [
    CqlType::Tinyint,
    CqlType::Smallint,
    CqlType::Int,
    CqlType::Bigint,
    CqlType::Float,
    CqlType::Double,
    CqlType::Decimal,
    CqlType::Varint,
    CqlType::Counter,
];

/// Resolves `name(arg)` for the native aggregates; `None` when `name` is not one of them.
pub(crate) fn resolve(name: &str, args: &[ArgKind]) -> Option<Result<Aggregate>> {
    let kind = match name {
        "count" => AggKind::Count,
        "min" => AggKind::Min,
        "max" => AggKind::Max,
        "sum" => AggKind::Sum,
        "avg" => AggKind::Avg,
        _ => return None,
    };
    let full = format!("{SYSTEM}.{name}");
    Some((|| {
        let [arg] = args else {
            return Err(invalid(format!(
                "Invalid number of arguments in call to function {full}: 1 required but {} provided",
                args.len()
            )));
        };
        let numeric = matches!(kind, AggKind::Sum | AggKind::Avg);
        let signatures = |types: &mut dyn Iterator<Item = &CqlType>| {
            types
                .map(|t| {
                    format!(
                        "{full} : ({}) -> {}",
                        t.cql_name(),
                        return_type(kind, t).cql_name()
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        match arg {
            ArgKind::Typed(t) => {
                let t = t.clone();
                if numeric && !NUMERIC.contains(&t) {
                    return Err(invalid(format!(
                        "Invalid call to function {full}, none of its type signatures match (known type signatures: {})",
                        signatures(&mut NUMERIC.iter())
                    )));
                }
                Ok(Aggregate {
                    kind,
                    ret: return_type(kind, &t),
                    arg: t,
                })
            }
            // `count` of a constant counts rows; `count(NULL)` or `count(?)` cannot be typed.
            ArgKind::Literal(_) if kind == AggKind::Count => Ok(Aggregate {
                kind: AggKind::CountRows,
                arg: CqlType::Bigint,
                ret: CqlType::Bigint,
            }),
            _ => Err(invalid(format!(
                "Ambiguous call to function {full} (can be matched by following signatures: {}): use type casts to disambiguate",
                signatures(&mut NUMERIC.iter())
            ))),
        }
    })())
}

fn return_type(kind: AggKind, arg: &CqlType) -> CqlType {
    match kind {
        AggKind::CountRows | AggKind::Count => CqlType::Bigint,
        _ if matches!(arg, CqlType::Counter) => CqlType::Bigint,
        _ => arg.clone(),
    }
}

/// The running state of one aggregate over one group.
#[derive(Clone, Debug)]
pub(crate) enum State {
    Count(i64),
    /// The best value so far, serialized.
    Extreme(Option<Vec<u8>>),
    /// Integer sums and averages: an exact sum, truncated to the type's width at the end, which is what
    /// Java's wrapping accumulation gives for sums.
    Integer {
        sum: i128,
        count: i64,
    },
    Varint {
        sum: BigInt,
        count: i64,
    },
    Decimal {
        sum: BigDecimal,
        count: i64,
    },
    Float(FloatSum),
}

/// Cassandra's compensated (Kahan) summation for float and double, with its BigDecimal fallback for
/// averages whose running sum overflows.
#[derive(Clone, Debug, Default)]
pub(crate) struct FloatSum {
    sum: f64,
    compensation: f64,
    simple: f64,
    count: i64,
    big: Option<BigDecimal>,
}

fn big_of(x: f64) -> BigDecimal {
    mica_cql_types::parse_decimal(&mica_cql_types::format_double(x)).unwrap_or_default()
}

impl FloatSum {
    fn add(&mut self, x: f64, track_overflow: bool) {
        self.count += 1;
        if let Some(big) = &mut self.big {
            *big += big_of(x);
            return;
        }
        self.simple += x;
        let prev = self.sum;
        let tmp = x - self.compensation;
        let rounded = self.sum + tmp;
        self.compensation = (rounded - self.sum) - tmp;
        self.sum = rounded;
        if track_overflow && self.sum.is_infinite() && !x.is_infinite() {
            self.big = Some(big_of(prev) + big_of(x));
        }
    }

    fn total(&self) -> f64 {
        let tmp = self.sum + self.compensation;
        if tmp.is_nan() && self.simple.is_infinite() {
            self.simple
        } else {
            tmp
        }
    }

    fn average(&self) -> f64 {
        use bigdecimal::ToPrimitive;
        if self.count == 0 {
            return 0.0;
        }
        if let Some(big) = &self.big {
            return (big / BigDecimal::from(self.count))
                .with_scale_round(big.as_bigint_and_exponent().1, RoundingMode::HalfEven)
                .to_f64()
                .unwrap_or(f64::NAN);
        }
        self.total() / self.count as f64
    }
}

impl Aggregate {
    /// A fresh state for one group.
    pub(crate) fn start(&self) -> State {
        match self.kind {
            AggKind::CountRows | AggKind::Count => State::Count(0),
            AggKind::Min | AggKind::Max => State::Extreme(None),
            AggKind::Sum | AggKind::Avg => match self.arg {
                CqlType::Varint => State::Varint {
                    sum: BigInt::from(0),
                    count: 0,
                },
                CqlType::Decimal => State::Decimal {
                    sum: BigDecimal::from(0),
                    count: 0,
                },
                CqlType::Float | CqlType::Double => State::Float(FloatSum::default()),
                _ => State::Integer { sum: 0, count: 0 },
            },
        }
    }

    /// Feeds one row's argument value (`None` for null, which every aggregate but `count(*)` skips).
    pub(crate) fn add(&self, state: &mut State, value: Option<&[u8]>) -> Result<()> {
        if self.kind == AggKind::CountRows {
            if let State::Count(n) = state {
                *n += 1;
            }
            return Ok(());
        }
        let Some(bytes) = value else { return Ok(()) };
        match state {
            State::Count(n) => *n += 1,
            State::Extreme(best) => {
                // Empty values sort first, as in Cassandra's comparators.
                let replace = match best {
                    None => true,
                    Some(b) => {
                        let ord =
                            compare_serialized(&self.arg, bytes, b).unwrap_or(std::cmp::Ordering::Equal);
                        match self.kind {
                            AggKind::Min => ord == std::cmp::Ordering::Less,
                            _ => ord == std::cmp::Ordering::Greater,
                        }
                    }
                };
                if replace {
                    *best = Some(bytes.to_vec());
                }
            }
            State::Integer { sum, count } => {
                if let Some(v) = decode(&self.arg, Some(bytes))?.and_then(|v| v.as_i64()) {
                    *sum += i128::from(v);
                    *count += 1;
                }
            }
            State::Varint { sum, count } => {
                if let Some(CqlValue::Varint(v)) = decode(&self.arg, Some(bytes))? {
                    *sum += v;
                    *count += 1;
                }
            }
            State::Decimal { sum, count } => {
                if let Some(CqlValue::Decimal(v)) = decode(&self.arg, Some(bytes))? {
                    *sum += v;
                    *count += 1;
                }
            }
            State::Float(f) => match decode(&self.arg, Some(bytes))? {
                Some(CqlValue::Float(v)) => f.add(f64::from(v), self.kind == AggKind::Avg),
                Some(CqlValue::Double(v)) => f.add(v, self.kind == AggKind::Avg),
                _ => {}
            },
        }
        Ok(())
    }

    /// The aggregate's value for a finished group, serialized as `self.ret`.
    pub(crate) fn finish(&self, state: &State) -> Result<Option<Vec<u8>>> {
        let avg = self.kind == AggKind::Avg;
        let value = match state {
            State::Count(n) => CqlValue::Bigint(*n),
            State::Extreme(best) => return Ok(best.clone()),
            State::Integer { sum, count } => {
                let v = if avg {
                    if *count == 0 { 0 } else { sum / i128::from(*count) }
                } else {
                    *sum
                };
                match self.ret {
                    CqlType::Tinyint => CqlValue::Tinyint(v as i8),
                    CqlType::Smallint => CqlValue::Smallint(v as i16),
                    CqlType::Int => CqlValue::Int(v as i32),
                    _ => CqlValue::Bigint(v as i64),
                }
            }
            State::Varint { sum, count } => CqlValue::Varint(if avg {
                if *count == 0 {
                    BigInt::from(0)
                } else {
                    sum / BigInt::from(*count)
                }
            } else {
                sum.clone()
            }),
            State::Decimal { sum, count } => CqlValue::Decimal(if avg {
                if *count == 0 {
                    BigDecimal::from(0)
                } else {
                    // Java's `sum.divide(count, HALF_EVEN)` keeps the sum's scale.
                    (sum / BigDecimal::from(*count))
                        .with_scale_round(sum.as_bigint_and_exponent().1, RoundingMode::HalfEven)
                }
            } else {
                sum.clone()
            }),
            State::Float(f) => {
                let v = if avg { f.average() } else { f.total() };
                match self.ret {
                    CqlType::Float => CqlValue::Float(v as f32),
                    _ => CqlValue::Double(v),
                }
            }
        };
        encode(&self.ret, Some(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mica_cql_types::to_bytes;

    fn run(kind: &str, ty: CqlType, values: &[CqlValue]) -> Option<CqlValue> {
        let agg = resolve(kind, &[ArgKind::Typed(ty.clone())])
            .expect("a native aggregate")
            .expect("resolves");
        let mut state = agg.start();
        for v in values {
            agg.add(&mut state, Some(&to_bytes(v, &ty).expect("serializable")))
                .expect("adds");
        }
        agg.add(&mut state, None).expect("nulls are skipped");
        agg.finish(&state)
            .expect("finishes")
            .map(|b| mica_cql_types::deserialize(&agg.ret, &b).expect("readable"))
    }

    #[test]
    fn integer_aggregates_keep_the_type() {
        let ints: Vec<CqlValue> = [1, 2, 4].map(CqlValue::Int).to_vec();
        assert_eq!(run("sum", CqlType::Int, &ints), Some(CqlValue::Int(7)));
        assert_eq!(run("avg", CqlType::Int, &ints), Some(CqlValue::Int(2)));
        assert_eq!(run("max", CqlType::Int, &ints), Some(CqlValue::Int(4)));
        assert_eq!(run("min", CqlType::Int, &ints), Some(CqlValue::Int(1)));
        assert_eq!(run("count", CqlType::Int, &ints), Some(CqlValue::Bigint(3)));
        assert_eq!(run("sum", CqlType::Int, &[]), Some(CqlValue::Int(0)));
        assert_eq!(run("max", CqlType::Int, &[]), None);
        // Sums wrap like Java ints; averages do not overflow.
        let big = [CqlValue::Int(i32::MAX), CqlValue::Int(i32::MAX)];
        assert_eq!(run("sum", CqlType::Int, &big), Some(CqlValue::Int(-2)));
        assert_eq!(run("avg", CqlType::Int, &big), Some(CqlValue::Int(i32::MAX)));
        assert_eq!(
            run(
                "avg",
                CqlType::Tinyint,
                &[CqlValue::Tinyint(-3), CqlValue::Tinyint(0)]
            ),
            Some(CqlValue::Tinyint(-1))
        );
        assert_eq!(
            run(
                "sum",
                CqlType::Counter,
                &[CqlValue::Counter(3), CqlValue::Counter(4)]
            ),
            Some(CqlValue::Bigint(7))
        );
    }

    #[test]
    fn floating_and_decimal_aggregates() {
        let doubles = [11.5, 9.5, 9.0].map(CqlValue::Double).to_vec();
        assert_eq!(
            run("sum", CqlType::Double, &doubles),
            Some(CqlValue::Double(30.0))
        );
        assert_eq!(
            run("avg", CqlType::Double, &doubles),
            Some(CqlValue::Double(10.0))
        );
        assert_eq!(run("avg", CqlType::Double, &[]), Some(CqlValue::Double(0.0)));
        let dec = |s: &str| CqlValue::Decimal(mica_cql_types::parse_decimal(s).expect("decimal"));
        let decimals = [dec("11.5"), dec("1.5"), dec("2.0")];
        assert_eq!(run("sum", CqlType::Decimal, &decimals), Some(dec("15.0")));
        assert_eq!(run("avg", CqlType::Decimal, &decimals), Some(dec("5.0")));
        assert_eq!(run("avg", CqlType::Decimal, &[]), Some(dec("0")));
        assert_eq!(
            run(
                "max",
                CqlType::Varchar,
                &[CqlValue::Text("b".into()), CqlValue::Text("a".into())]
            ),
            Some(CqlValue::Text("b".into()))
        );
    }

    #[test]
    fn resolution_errors() {
        let err = resolve("sum", &[ArgKind::Typed(CqlType::Varchar)])
            .expect("native")
            .expect_err("no text sum");
        assert!(
            err.to_string()
                .starts_with("Invalid call to function system.sum, none of its type signatures match")
        );
        let count = resolve("count", &[ArgKind::Literal(mica_cql_types::LiteralKind::Integer)])
            .expect("native")
            .expect("count(1)");
        assert_eq!(count.kind, AggKind::CountRows);
        assert!(resolve("median", &[]).is_none());
    }
}
