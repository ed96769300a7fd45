//! The arithmetic operators of CQL selectors (`+ - * / %` and unary `-`), with Cassandra 4.1's result
//! types (the wider of the operands, floating point when either operand is) and Java's numeric semantics
//! (wrapping integers, IEEE floats, `BigDecimal` with `DECIMAL128` division), plus `timestamp`/`date`
//! plus or minus a `duration`.

use std::num::NonZeroU64;

use bigdecimal::RoundingMode;
use mica_cql_syntax::ArithOp;
use mica_cql_types::{BigDecimal, BigInt, CqlDuration, CqlType, CqlValue, datetime};

use crate::error::{QueryError, Result};
use crate::functions::{decode, encode, failure};

/// Significant digits of Java's `MathContext.DECIMAL128`, used for decimal division.
const DECIMAL128_DIGITS: u64 = 34;

/// The operator as Cassandra prints it in column names and errors.
pub(crate) fn symbol(op: ArithOp) -> char {
    match op {
        ArithOp::Add => '+',
        ArithOp::Sub => '-',
        ArithOp::Mul => '*',
        ArithOp::Div => '/',
        ArithOp::Rem => '%',
    }
}

/// Binding strength, for re-inserting the parentheses the parser dropped when naming columns.
pub(crate) fn precedence(op: ArithOp) -> u8 {
    match op {
        ArithOp::Add | ArithOp::Sub => 1,
        ArithOp::Mul | ArithOp::Div | ArithOp::Rem => 2,
    }
}

/// Cassandra's internal function name for an operator, reported in function failures.
fn function_name(op: ArithOp) -> &'static str {
    match op {
        ArithOp::Add => "system._add",
        ArithOp::Sub => "system._substract",
        ArithOp::Mul => "system._multiply",
        ArithOp::Div => "system._divide",
        ArithOp::Rem => "system._modulo",
    }
}

/// `(is floating point, size in bytes)` of a numeric type; variable-length types are widest.
fn numeric_shape(ty: &CqlType) -> Option<(bool, usize)> {
    Some(match ty {
        CqlType::Tinyint => (false, 1),
        CqlType::Smallint => (false, 2),
        CqlType::Int => (false, 4),
        CqlType::Bigint | CqlType::Counter => (false, 8),
        CqlType::Varint => (false, usize::MAX),
        CqlType::Float => (true, 4),
        CqlType::Double => (true, 8),
        CqlType::Decimal => (true, usize::MAX),
        _ => return None,
    })
}

/// The type of `l op r`, or `None` when Cassandra has no such operation.
pub(crate) fn result_type(op: ArithOp, l: &CqlType, r: &CqlType) -> Option<CqlType> {
    if let (Some((lf, ls)), Some((rf, rs))) = (numeric_shape(l), numeric_shape(r)) {
        let size = ls.max(rs);
        return Some(if lf || rf {
            match size {
                4 => CqlType::Float,
                8 => CqlType::Double,
                _ => CqlType::Decimal,
            }
        } else {
            match size {
                1 => CqlType::Tinyint,
                2 => CqlType::Smallint,
                4 => CqlType::Int,
                8 => CqlType::Bigint,
                _ => CqlType::Varint,
            }
        });
    }
    match (l, r, op) {
        (CqlType::Timestamp | CqlType::Date, CqlType::Duration, ArithOp::Add | ArithOp::Sub) => {
            Some(l.clone())
        }
        _ => None,
    }
}

/// The type of `-x`.
pub(crate) fn negation_type(ty: &CqlType) -> Option<CqlType> {
    match ty {
        CqlType::Counter => Some(CqlType::Bigint),
        t if numeric_shape(t).is_some() || matches!(t, CqlType::Duration) => Some(t.clone()),
        _ => None,
    }
}

/// The type an untyped numeric constant takes in an operation: the smallest of int, bigint and varint
/// that holds an integer, double for other numbers.
pub(crate) fn preferred_literal_type(lit: &mica_cql_syntax::Literal) -> Option<CqlType> {
    match lit {
        mica_cql_syntax::Literal::Integer(text) => Some(match text.parse::<i64>() {
            Ok(v) if i32::try_from(v).is_ok() => CqlType::Int,
            Ok(_) => CqlType::Bigint,
            Err(_) => CqlType::Varint,
        }),
        mica_cql_syntax::Literal::Float(_) => Some(CqlType::Double),
        _ => None,
    }
}

fn as_bigint(v: &CqlValue) -> Option<BigInt> {
    match v {
        CqlValue::Varint(i) => Some(i.clone()),
        other => other.as_i64().map(BigInt::from),
    }
}

fn as_f64(v: &CqlValue) -> Option<f64> {
    use bigdecimal::ToPrimitive;
    match v {
        CqlValue::Float(f) => Some(f64::from(*f)),
        CqlValue::Double(d) => Some(*d),
        CqlValue::Decimal(d) => d.to_f64(),
        CqlValue::Varint(i) => i.to_f64(),
        other => other.as_i64().map(|i| i as f64),
    }
}

/// Java's `BigDecimal` view of a number: floats through their shortest decimal text.
fn as_decimal(v: &CqlValue) -> Option<BigDecimal> {
    match v {
        CqlValue::Decimal(d) => Some(d.clone()),
        CqlValue::Float(f) => mica_cql_types::parse_decimal(&mica_cql_types::format_float(*f)),
        CqlValue::Double(d) => mica_cql_types::parse_decimal(&mica_cql_types::format_double(*d)),
        other => as_bigint(other).map(|i| BigDecimal::new(i, 0)),
    }
}

/// Java's `BigDecimal.divide(divisor, MathContext.DECIMAL128)`: 34 significant digits, half-even, trailing
/// zeros removed down to the preferred scale (the dividend's scale minus the divisor's).
fn decimal_divide(a: &BigDecimal, b: &BigDecimal) -> BigDecimal {
    let preferred = a.as_bigint_and_exponent().1 - b.as_bigint_and_exponent().1;
    let digits = NonZeroU64::new(DECIMAL128_DIGITS).expect("DECIMAL128 has 34 digits");
    let q = (a / b).with_precision_round(digits, RoundingMode::HalfEven);
    let normalized = q.normalized();
    if normalized.as_bigint_and_exponent().1 < preferred {
        normalized.with_scale(preferred)
    } else {
        normalized
    }
}

/// Applies `op` to two serialized operands of types `lt` and `rt`, producing a value of `ret`.
pub(crate) fn apply(
    op: ArithOp,
    lt: &CqlType,
    l: Option<&[u8]>,
    rt: &CqlType,
    r: Option<&[u8]>,
    ret: &CqlType,
) -> Result<Option<Vec<u8>>> {
    let (Some(a), Some(b)) = (decode(lt, l)?, decode(rt, r)?) else {
        return Ok(None);
    };
    if matches!(a, CqlValue::Empty) || matches!(b, CqlValue::Empty) {
        return Ok(None);
    }
    let fail = |message: &str| {
        failure(
            function_name(op),
            &[lt.clone(), rt.clone()],
            format!(
                "the operation '{} {} {}' failed: {message}",
                lt.cql_name(),
                symbol(op),
                rt.cql_name()
            ),
        )
    };
    let unsupported = || {
        QueryError::Invalid(format!(
            "the '{}' operation is not supported between {} and {}",
            symbol(op),
            lt.cql_name(),
            rt.cql_name()
        ))
    };
    macro_rules! integer {
        ($t:ty, $variant:ident) => {{
            let x = a.as_i64().ok_or_else(unsupported)? as $t;
            let y = b.as_i64().ok_or_else(unsupported)? as $t;
            if matches!(op, ArithOp::Div | ArithOp::Rem) && y == 0 {
                return Err(fail("/ by zero"));
            }
            CqlValue::$variant(match op {
                ArithOp::Add => x.wrapping_add(y),
                ArithOp::Sub => x.wrapping_sub(y),
                ArithOp::Mul => x.wrapping_mul(y),
                ArithOp::Div => x.wrapping_div(y),
                ArithOp::Rem => x.wrapping_rem(y),
            })
        }};
    }
    let value = match ret {
        CqlType::Tinyint => integer!(i8, Tinyint),
        CqlType::Smallint => integer!(i16, Smallint),
        CqlType::Int => integer!(i32, Int),
        CqlType::Bigint => integer!(i64, Bigint),
        CqlType::Varint => {
            let (x, y) = (
                as_bigint(&a).ok_or_else(unsupported)?,
                as_bigint(&b).ok_or_else(unsupported)?,
            );
            if matches!(op, ArithOp::Div | ArithOp::Rem) && bigdecimal::Zero::is_zero(&y) {
                return Err(fail("BigInteger divide by zero"));
            }
            CqlValue::Varint(match op {
                ArithOp::Add => x + y,
                ArithOp::Sub => x - y,
                ArithOp::Mul => x * y,
                ArithOp::Div => x / y,
                ArithOp::Rem => x % y,
            })
        }
        CqlType::Float => {
            let (x, y) = (
                as_f64(&a).ok_or_else(unsupported)? as f32,
                as_f64(&b).ok_or_else(unsupported)? as f32,
            );
            CqlValue::Float(match op {
                ArithOp::Add => x + y,
                ArithOp::Sub => x - y,
                ArithOp::Mul => x * y,
                ArithOp::Div => x / y,
                ArithOp::Rem => x % y,
            })
        }
        CqlType::Double => {
            let (x, y) = (
                as_f64(&a).ok_or_else(unsupported)?,
                as_f64(&b).ok_or_else(unsupported)?,
            );
            CqlValue::Double(match op {
                ArithOp::Add => x + y,
                ArithOp::Sub => x - y,
                ArithOp::Mul => x * y,
                ArithOp::Div => x / y,
                ArithOp::Rem => x % y,
            })
        }
        CqlType::Decimal => {
            let x = as_decimal(&a).ok_or_else(|| fail("value is not a finite number"))?;
            let y = as_decimal(&b).ok_or_else(|| fail("value is not a finite number"))?;
            if matches!(op, ArithOp::Div | ArithOp::Rem) && bigdecimal::Zero::is_zero(&y) {
                return Err(fail(if op == ArithOp::Div {
                    "Division by zero"
                } else {
                    "Division undefined"
                }));
            }
            CqlValue::Decimal(match op {
                ArithOp::Add => x + y,
                ArithOp::Sub => x - y,
                ArithOp::Mul => x * y,
                ArithOp::Div => decimal_divide(&x, &y),
                ArithOp::Rem => x % y,
            })
        }
        CqlType::Timestamp | CqlType::Date => {
            let CqlValue::Duration(d) = b else {
                return Err(unsupported());
            };
            let d = if op == ArithOp::Sub { negate_duration(d) } else { d };
            add_duration(&a, d).ok_or_else(|| fail("the result is out of range"))?
        }
        _ => return Err(unsupported()),
    };
    encode(ret, Some(value))
}

fn negate_duration(d: CqlDuration) -> CqlDuration {
    CqlDuration {
        months: d.months.wrapping_neg(),
        days: d.days.wrapping_neg(),
        nanos: d.nanos.wrapping_neg(),
    }
}

/// Adds months (calendar, clamping the day of month), then days, then nanoseconds, in UTC, as Cassandra's
/// `Duration.addTo` does.
fn add_duration(v: &CqlValue, d: CqlDuration) -> Option<CqlValue> {
    const NANOS_PER_MILLI: i64 = 1_000_000;
    let ms = match v {
        CqlValue::Timestamp(ms) => *ms,
        CqlValue::Date(days) => mica_cql_types::date_to_millis(*days),
        _ => return None,
    };
    let day = ms.div_euclid(datetime::MILLIS_PER_DAY);
    let in_day = ms.rem_euclid(datetime::MILLIS_PER_DAY);
    let (y, m, dd) = datetime::civil_from_days(day);
    let total_months = y
        .checked_mul(12)?
        .checked_add(i64::from(m) - 1)?
        .checked_add(i64::from(d.months))?;
    let (ny, nm) = (
        total_months.div_euclid(12),
        (total_months.rem_euclid(12) + 1) as u32,
    );
    let month_len = {
        let next = if nm == 12 { (ny + 1, 1) } else { (ny, nm + 1) };
        datetime::days_from_civil(next.0, next.1, 1) - datetime::days_from_civil(ny, nm, 1)
    };
    let nd = i64::from(dd).min(month_len) as u32;
    let days = datetime::days_from_civil(ny, nm, nd).checked_add(i64::from(d.days))?;
    let out = days
        .checked_mul(datetime::MILLIS_PER_DAY)?
        .checked_add(in_day)?
        .checked_add(d.nanos / NANOS_PER_MILLI)?;
    match v {
        CqlValue::Timestamp(_) => Some(CqlValue::Timestamp(out)),
        _ => Some(CqlValue::Date(mica_cql_types::millis_to_date(out))),
    }
}

/// `-x` for a serialized numeric (or duration) value.
pub(crate) fn negate(ty: &CqlType, v: Option<&[u8]>, ret: &CqlType) -> Result<Option<Vec<u8>>> {
    let Some(value) = decode(ty, v)? else {
        return Ok(None);
    };
    let out = match value {
        CqlValue::Tinyint(x) => CqlValue::Tinyint(x.wrapping_neg()),
        CqlValue::Smallint(x) => CqlValue::Smallint(x.wrapping_neg()),
        CqlValue::Int(x) => CqlValue::Int(x.wrapping_neg()),
        CqlValue::Bigint(x) | CqlValue::Counter(x) => CqlValue::Bigint(x.wrapping_neg()),
        CqlValue::Varint(x) => CqlValue::Varint(-x),
        CqlValue::Float(x) => CqlValue::Float(-x),
        CqlValue::Double(x) => CqlValue::Double(-x),
        CqlValue::Decimal(x) => CqlValue::Decimal(-x),
        CqlValue::Duration(d) => CqlValue::Duration(negate_duration(d)),
        _ => return Ok(None),
    };
    encode(ret, Some(out))
}

/// Evaluates `lhs op rhs` used as a value (in VALUES, SET or WHERE) for a receiver of type `ty`: as
/// Cassandra resolves the operation against the receiver, both operands take the receiver's type (a
/// duration literal stays a duration, for `timestamp ± duration`).
pub(crate) fn eval_term(
    op: ArithOp,
    lhs: &mica_cql_syntax::Term,
    rhs: &mica_cql_syntax::Term,
    ty: &CqlType,
    receiver: &str,
    binds: crate::values::Binds,
) -> Result<Option<CqlValue>> {
    use crate::values::{Evaluated, eval_bytes};
    let operand_type = |t: &mica_cql_syntax::Term| match t {
        mica_cql_syntax::Term::Literal(mica_cql_syntax::Literal::Duration(_)) => CqlType::Duration,
        _ => ty.clone(),
    };
    let (lt, rt) = (operand_type(lhs), operand_type(rhs));
    if result_type(op, &lt, &rt).is_none_or(|r| r.unfrozen() != ty.unfrozen()) {
        return Err(QueryError::Invalid(format!(
            "the '{}' operation is not supported for {receiver} of type {}",
            symbol(op),
            ty.cql_name()
        )));
    }
    let bytes = |e: Evaluated| match e {
        Evaluated::Bytes(b) => Some(b),
        _ => None,
    };
    let l = bytes(eval_bytes(lhs, &lt, receiver, binds)?);
    let r = bytes(eval_bytes(rhs, &rt, receiver, binds)?);
    let out = apply(op, &lt, l.as_deref(), &rt, r.as_deref(), ty)?;
    decode(ty, out.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mica_cql_types::to_bytes;

    fn run(op: ArithOp, l: (CqlType, CqlValue), r: (CqlType, CqlValue)) -> CqlValue {
        let ret = result_type(op, &l.0, &r.0).expect("a numeric operation");
        let out = apply(
            op,
            &l.0,
            Some(&to_bytes(&l.1, &l.0).expect("serializable")),
            &r.0,
            Some(&to_bytes(&r.1, &r.0).expect("serializable")),
            &ret,
        )
        .expect("the operation succeeds")
        .expect("a value");
        mica_cql_types::deserialize(&ret, &out).expect("readable")
    }

    fn dec(s: &str) -> CqlValue {
        CqlValue::Decimal(mica_cql_types::parse_decimal(s).expect("a decimal"))
    }

    #[test]
    fn result_types_follow_cassandra() {
        use CqlType as T;
        assert_eq!(
            result_type(ArithOp::Add, &T::Tinyint, &T::Smallint),
            Some(T::Smallint)
        );
        assert_eq!(result_type(ArithOp::Add, &T::Int, &T::Float), Some(T::Float));
        assert_eq!(result_type(ArithOp::Add, &T::Bigint, &T::Float), Some(T::Double));
        assert_eq!(result_type(ArithOp::Add, &T::Varint, &T::Float), Some(T::Decimal));
        assert_eq!(result_type(ArithOp::Add, &T::Counter, &T::Int), Some(T::Bigint));
        assert_eq!(result_type(ArithOp::Add, &T::Varint, &T::Bigint), Some(T::Varint));
        assert_eq!(
            result_type(ArithOp::Sub, &T::Timestamp, &T::Duration),
            Some(T::Timestamp)
        );
        assert_eq!(result_type(ArithOp::Mul, &T::Timestamp, &T::Duration), None);
        assert_eq!(result_type(ArithOp::Add, &T::Varchar, &T::Int), None);
    }

    #[test]
    fn java_semantics() {
        use CqlType as T;
        assert_eq!(
            run(
                ArithOp::Add,
                (T::Int, CqlValue::Int(i32::MAX)),
                (T::Int, CqlValue::Int(1))
            ),
            CqlValue::Int(i32::MIN)
        );
        assert_eq!(
            run(
                ArithOp::Div,
                (T::Int, CqlValue::Int(-7)),
                (T::Int, CqlValue::Int(2))
            ),
            CqlValue::Int(-3)
        );
        assert_eq!(
            run(
                ArithOp::Rem,
                (T::Int, CqlValue::Int(-7)),
                (T::Int, CqlValue::Int(2))
            ),
            CqlValue::Int(-1)
        );
        assert_eq!(
            run(
                ArithOp::Div,
                (T::Float, CqlValue::Float(1.0)),
                (T::Float, CqlValue::Float(5.5))
            ),
            CqlValue::Float(0.18181819)
        );
        assert_eq!(
            run(ArithOp::Div, (T::Decimal, dec("8.5")), (T::Int, CqlValue::Int(3))),
            dec("2.833333333333333333333333333333333")
        );
        assert_eq!(
            run(ArithOp::Div, (T::Decimal, dec("8.5")), (T::Decimal, dec("8.5"))),
            dec("1")
        );
        assert_eq!(
            run(ArithOp::Mul, (T::Decimal, dec("8.5")), (T::Int, CqlValue::Int(1))),
            dec("8.5")
        );
        assert_eq!(
            run(
                ArithOp::Add,
                (T::Varint, CqlValue::Varint(7.into())),
                (T::Float, CqlValue::Float(5.5))
            ),
            dec("12.5")
        );
        let err = apply(
            ArithOp::Div,
            &T::Int,
            Some(&[0, 0, 0, 1]),
            &T::Int,
            Some(&[0, 0, 0, 0]),
            &T::Int,
        )
        .expect_err("division by zero fails");
        assert_eq!(err.to_string(), "the operation 'int / int' failed: / by zero");
    }

    #[test]
    fn durations_move_timestamps_by_calendar() {
        use CqlType as T;
        // 2020-01-31 plus one month is clamped to 2020-02-29.
        let jan31 = datetime::days_from_civil(2020, 1, 31) * datetime::MILLIS_PER_DAY;
        let feb29 = datetime::days_from_civil(2020, 2, 29) * datetime::MILLIS_PER_DAY;
        let month = CqlDuration {
            months: 1,
            days: 0,
            nanos: 0,
        };
        assert_eq!(
            run(
                ArithOp::Add,
                (T::Timestamp, CqlValue::Timestamp(jan31)),
                (T::Duration, CqlValue::Duration(month))
            ),
            CqlValue::Timestamp(feb29)
        );
        let hour = CqlDuration {
            months: 0,
            days: 0,
            nanos: 3_600_000_000_000,
        };
        assert_eq!(
            run(
                ArithOp::Sub,
                (T::Timestamp, CqlValue::Timestamp(jan31)),
                (T::Duration, CqlValue::Duration(hour))
            ),
            CqlValue::Timestamp(jan31 - 3_600_000)
        );
    }
}
