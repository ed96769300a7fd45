//! Cassandra's ordering of CQL values (the `AbstractType` comparators), on decoded values and on
//! serialized bytes, plus normalization of set and map values into comparator order.

use std::cmp::Ordering;
use std::net::IpAddr;

use uuid::Uuid;

use crate::types::CqlType;
use crate::value::CqlValue;
use crate::wire::{MarshalError, deserialize};

/// Reorders a version 1 UUID's most significant bits so the 60-bit timestamp compares as an integer
/// (Cassandra's `TimeUUIDType.reorderTimestampBytes`).
pub(crate) fn reorder_timestamp_bits(msb: u64) -> u64 {
    (msb << 48) | ((msb << 16) & 0xFFFF_0000_0000) | (msb >> 32)
}

/// Inverse of [`reorder_timestamp_bits`].
pub(crate) fn unreorder_timestamp_bits(r: u64) -> u64 {
    ((r & 0xFFFF_FFFF) << 32) | (((r >> 32) & 0xFFFF) << 16) | (r >> 48)
}

/// Flipping these bits turns Cassandra's signed per-byte comparison of a timeuuid's low half into an
/// unsigned integer comparison.
pub(crate) const TIMEUUID_LSB_FLIP: u64 = 0x8080_8080_8080_8080;

fn uuid_halves(u: &Uuid) -> (u64, u64) {
    let v = u.as_u128();
    ((v >> 64) as u64, v as u64)
}

/// `TimeUUIDType` order: timestamp, then the clock sequence and node compared as signed bytes.
pub fn compare_timeuuid(a: &Uuid, b: &Uuid) -> Ordering {
    let (am, al) = uuid_halves(a);
    let (bm, bl) = uuid_halves(b);
    reorder_timestamp_bits(am)
        .cmp(&reorder_timestamp_bits(bm))
        .then((al ^ TIMEUUID_LSB_FLIP).cmp(&(bl ^ TIMEUUID_LSB_FLIP)))
}

/// `UUIDType` order: version first; version 1 UUIDs by timestamp, others by their high bits; then the low
/// bits unsigned.
pub fn compare_uuid(a: &Uuid, b: &Uuid) -> Ordering {
    let (am, al) = uuid_halves(a);
    let (bm, bl) = uuid_halves(b);
    let (va, vb) = ((am >> 12) & 0xF, (bm >> 12) & 0xF);
    va.cmp(&vb)
        .then_with(|| {
            if va == 1 {
                reorder_timestamp_bits(am).cmp(&reorder_timestamp_bits(bm))
            } else {
                am.cmp(&bm)
            }
        })
        .then(al.cmp(&bl))
}

/// Java's `Double.compare`: -0.0 before 0.0, every NaN equal and after +Infinity.
pub fn compare_f64(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => a.total_cmp(&b),
    }
}

fn inet_bytes(a: &IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(v) => v.octets().to_vec(),
        IpAddr::V6(v) => v.octets().to_vec(),
    }
}

fn compare_optional(ty: &CqlType, a: Option<&CqlValue>, b: Option<&CqlValue>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(a), Some(b)) => compare(ty, a, b),
    }
}

/// Lexicographic comparison of sequences, shorter first when one is a prefix of the other.
fn compare_seq<T>(a: &[T], b: &[T], mut cmp: impl FnMut(&T, &T) -> Ordering) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let c = cmp(x, y);
        if c != Ordering::Equal {
            return c;
        }
    }
    a.len().cmp(&b.len())
}

/// Tuple/UDT order: component-wise with nulls first; missing trailing components count as null.
fn compare_components<'v>(
    types: &[&CqlType],
    a: impl Iterator<Item = Option<&'v CqlValue>>,
    b: impl Iterator<Item = Option<&'v CqlValue>>,
) -> Ordering {
    let (a, b): (Vec<_>, Vec<_>) = (a.collect(), b.collect());
    for (i, ty) in types.iter().enumerate() {
        let c = compare_optional(ty, a.get(i).copied().flatten(), b.get(i).copied().flatten());
        if c != Ordering::Equal {
            return c;
        }
    }
    Ordering::Equal
}

/// Compares two values of type `ty` in Cassandra's order for that type. Empty values sort first.
/// Values that do not match the type are ordered by variant name, only to stay deterministic.
pub fn compare(ty: &CqlType, a: &CqlValue, b: &CqlValue) -> Ordering {
    use CqlValue as V;
    match (a, b) {
        (V::Empty, V::Empty) => return Ordering::Equal,
        (V::Empty, _) => return Ordering::Less,
        (_, V::Empty) => return Ordering::Greater,
        _ => {}
    }
    let ty = ty.unfrozen();
    match (ty, a, b) {
        (_, V::Ascii(x) | V::Text(x), V::Ascii(y) | V::Text(y)) => x.as_bytes().cmp(y.as_bytes()),
        (_, V::Blob(x), V::Blob(y)) => x.cmp(y),
        (_, V::Bigint(x) | V::Counter(x), V::Bigint(y) | V::Counter(y)) => x.cmp(y),
        (_, V::Timestamp(x), V::Timestamp(y)) | (_, V::Time(x), V::Time(y)) => x.cmp(y),
        (_, V::Int(x), V::Int(y)) => x.cmp(y),
        (_, V::Smallint(x), V::Smallint(y)) => x.cmp(y),
        (_, V::Tinyint(x), V::Tinyint(y)) => x.cmp(y),
        (_, V::Date(x), V::Date(y)) => x.cmp(y),
        (_, V::Boolean(x), V::Boolean(y)) => x.cmp(y),
        (_, V::Decimal(x), V::Decimal(y)) => x.cmp(y),
        (_, V::Varint(x), V::Varint(y)) => x.cmp(y),
        (_, V::Double(x), V::Double(y)) => compare_f64(*x, *y),
        (_, V::Float(x), V::Float(y)) => compare_f64(f64::from(*x), f64::from(*y)),
        (CqlType::Timeuuid, V::Uuid(x) | V::Timeuuid(x), V::Uuid(y) | V::Timeuuid(y)) => {
            compare_timeuuid(x, y)
        }
        (_, V::Uuid(x) | V::Timeuuid(x), V::Uuid(y) | V::Timeuuid(y)) => compare_uuid(x, y),
        (_, V::Inet(x), V::Inet(y)) => inet_bytes(x).cmp(&inet_bytes(y)),
        // DurationType compares its serialized form bytewise.
        (_, V::Duration(_), V::Duration(_)) => {
            let enc = |v| crate::wire::to_bytes(v, &CqlType::Duration).unwrap_or_default();
            enc(a).cmp(&enc(b))
        }
        (
            CqlType::List(e) | CqlType::Set(e) | CqlType::Vector(e, _),
            V::List(x) | V::Set(x) | V::Vector(x),
            V::List(y) | V::Set(y) | V::Vector(y),
        ) => compare_seq(x, y, |p, q| compare(e, p, q)),
        (CqlType::Map(kt, vt), V::Map(x), V::Map(y)) => compare_seq(x, y, |(k1, v1), (k2, v2)| {
            compare(kt, k1, k2).then_with(|| compare(vt, v1, v2))
        }),
        (CqlType::Tuple(types), V::Tuple(x), V::Tuple(y)) => compare_components(
            &types.iter().collect::<Vec<_>>(),
            x.iter().map(Option::as_ref),
            y.iter().map(Option::as_ref),
        ),
        (CqlType::Udt(def), V::Udt(x), V::Udt(y)) => compare_components(
            &def.fields.iter().map(|(_, t)| t).collect::<Vec<_>>(),
            x.iter().map(|(_, v)| v.as_ref()),
            y.iter().map(|(_, v)| v.as_ref()),
        ),
        _ => a.kind_name().cmp(b.kind_name()),
    }
}

/// Compares two serialized values of type `ty`. Byte-ordered types are compared without decoding.
pub fn compare_serialized(ty: &CqlType, a: &[u8], b: &[u8]) -> Result<Ordering, MarshalError> {
    match ty.unfrozen() {
        CqlType::Blob
        | CqlType::Ascii
        | CqlType::Varchar
        | CqlType::Inet
        | CqlType::Duration
        | CqlType::Custom(_) => Ok(a.cmp(b)),
        _ => Ok(compare(ty, &deserialize(ty, a)?, &deserialize(ty, b)?)),
    }
}

/// Puts set elements and map entries into comparator order without duplicates (for maps the last entry
/// for a key wins, as for a CQL map literal), recursively. Other values are left as they are.
pub fn normalize(value: &mut CqlValue, ty: &CqlType) {
    let ty = ty.unfrozen();
    match (ty, value) {
        (CqlType::Set(e), CqlValue::Set(items)) => {
            items.iter_mut().for_each(|v| normalize(v, e));
            items.sort_by(|a, b| compare(e, a, b));
            items.dedup_by(|a, b| compare(e, a, b) == Ordering::Equal);
        }
        (CqlType::List(e) | CqlType::Vector(e, _), CqlValue::List(items) | CqlValue::Vector(items)) => {
            items.iter_mut().for_each(|v| normalize(v, e));
        }
        (CqlType::Map(kt, vt), CqlValue::Map(entries)) => {
            for (k, v) in entries.iter_mut() {
                normalize(k, kt);
                normalize(v, vt);
            }
            // A stable sort keeps duplicates in insertion order; keep the last one of each run.
            entries.sort_by(|a, b| compare(kt, &a.0, &b.0));
            let mut deduped: Vec<(CqlValue, CqlValue)> = Vec::with_capacity(entries.len());
            for entry in entries.drain(..) {
                match deduped.last_mut() {
                    Some(last) if compare(kt, &last.0, &entry.0) == Ordering::Equal => *last = entry,
                    _ => deduped.push(entry),
                }
            }
            *entries = deduped;
        }
        (CqlType::Tuple(types), CqlValue::Tuple(items)) => {
            for (v, t) in items.iter_mut().zip(types) {
                if let Some(v) = v {
                    normalize(v, t);
                }
            }
        }
        (CqlType::Udt(def), CqlValue::Udt(fields)) => {
            for ((_, v), (_, t)) in fields.iter_mut().zip(&def.fields) {
                if let Some(v) = v {
                    normalize(v, t);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{CqlDuration, DATE_EPOCH};
    use bigdecimal::BigDecimal;
    use bigdecimal::num_bigint::BigInt;

    fn uuid(s: &str) -> Uuid {
        Uuid::parse_str(s).unwrap()
    }

    #[test]
    fn scalar_orders() {
        let lt = |ty: &CqlType, a: CqlValue, b: CqlValue| {
            assert_eq!(compare(ty, &a, &b), Ordering::Less, "{a:?} < {b:?}");
            assert_eq!(compare(ty, &b, &a), Ordering::Greater);
        };
        lt(&CqlType::Int, CqlValue::Int(-5), CqlValue::Int(3));
        lt(&CqlType::Int, CqlValue::Empty, CqlValue::Int(i32::MIN));
        lt(
            &CqlType::Varchar,
            CqlValue::Text("Z".into()),
            CqlValue::Text("a".into()),
        );
        lt(
            &CqlType::Varchar,
            CqlValue::Text("a".into()),
            CqlValue::Text("é".into()),
        );
        lt(
            &CqlType::Blob,
            CqlValue::Blob(vec![1]),
            CqlValue::Blob(vec![1, 0]),
        );
        lt(
            &CqlType::Boolean,
            CqlValue::Boolean(false),
            CqlValue::Boolean(true),
        );
        lt(&CqlType::Double, CqlValue::Double(-0.0), CqlValue::Double(0.0));
        lt(
            &CqlType::Double,
            CqlValue::Double(f64::INFINITY),
            CqlValue::Double(f64::NAN),
        );
        lt(&CqlType::Float, CqlValue::Float(-1.0), CqlValue::Float(0.5));
        lt(&CqlType::Date, CqlValue::Date(5), CqlValue::Date(DATE_EPOCH));
        lt(
            &CqlType::Varint,
            CqlValue::Varint(BigInt::from(-300)),
            CqlValue::Varint(BigInt::from(2)),
        );
        lt(
            &CqlType::Decimal,
            CqlValue::Decimal(BigDecimal::new(BigInt::from(15), 1)),
            CqlValue::Decimal(BigDecimal::new(BigInt::from(2), 0)),
        );
        assert_eq!(
            compare(
                &CqlType::Decimal,
                &CqlValue::Decimal(BigDecimal::new(BigInt::from(10), 1)),
                &CqlValue::Decimal(BigDecimal::new(BigInt::from(1), 0))
            ),
            Ordering::Equal
        );
        let ip = |s: &str| CqlValue::Inet(s.parse().unwrap());
        lt(&CqlType::Inet, ip("::1"), ip("10.0.0.1"));
        lt(&CqlType::Inet, ip("10.0.0.1"), ip("10.0.0.2"));
        let d = |n| {
            CqlValue::Duration(CqlDuration {
                months: 0,
                days: 0,
                nanos: n,
            })
        };
        lt(&CqlType::Duration, d(1), d(2));
    }

    #[test]
    fn uuid_orders() {
        // Time-based: the later timestamp wins even though its bytes sort lower.
        let early = uuid("ffffffff-0000-1000-8000-000000000000");
        let late = uuid("00000000-0001-1000-8000-000000000000");
        assert_eq!(compare_timeuuid(&early, &late), Ordering::Less);
        assert_eq!(compare_uuid(&early, &late), Ordering::Less);
        // Same timestamp: low bytes compared as signed for timeuuid, unsigned for uuid.
        let pos = uuid("00000000-0000-1000-7f00-000000000000");
        let neg = uuid("00000000-0000-1000-8000-000000000000");
        assert_eq!(compare_timeuuid(&neg, &pos), Ordering::Less);
        assert_eq!(compare_uuid(&pos, &neg), Ordering::Less);
        // UUIDType orders by version first.
        let v4 = uuid("00000000-0000-4000-8000-000000000000");
        assert_eq!(compare_uuid(&late, &v4), Ordering::Less);
        let v4b = uuid("00000001-0000-4000-8000-000000000000");
        assert_eq!(compare_uuid(&v4, &v4b), Ordering::Less);
        let tu = CqlType::Timeuuid;
        assert_eq!(
            compare(&tu, &CqlValue::Timeuuid(neg), &CqlValue::Timeuuid(pos)),
            Ordering::Less
        );
    }

    #[test]
    fn composite_orders() {
        let list = CqlType::Frozen(Box::new(CqlType::List(Box::new(CqlType::Int))));
        let l = |v: &[i32]| CqlValue::List(v.iter().map(|i| CqlValue::Int(*i)).collect());
        assert_eq!(compare(&list, &l(&[1, 2]), &l(&[1, 2, 0])), Ordering::Less);
        assert_eq!(compare(&list, &l(&[1, 3]), &l(&[2])), Ordering::Less);
        let tuple = CqlType::Tuple(vec![CqlType::Int, CqlType::Int]);
        let t = |a: Option<i32>, b: Option<i32>| {
            CqlValue::Tuple(vec![a.map(CqlValue::Int), b.map(CqlValue::Int)])
        };
        assert_eq!(
            compare(&tuple, &t(Some(1), None), &t(Some(1), Some(i32::MIN))),
            Ordering::Less
        );
        assert_eq!(
            compare(&tuple, &t(None, Some(9)), &t(Some(0), None)),
            Ordering::Less
        );
        assert_eq!(
            compare(
                &tuple,
                &CqlValue::Tuple(vec![Some(CqlValue::Int(1))]),
                &t(Some(1), None)
            ),
            Ordering::Equal
        );
    }

    #[test]
    fn serialized_comparison() {
        let ser = |v: &CqlValue, t: &CqlType| crate::wire::to_bytes(v, t).unwrap();
        let ty = CqlType::Int;
        let (a, b) = (ser(&CqlValue::Int(-1), &ty), ser(&CqlValue::Int(1), &ty));
        assert_eq!(compare_serialized(&ty, &a, &b), Ok(Ordering::Less));
        assert_eq!(
            compare_serialized(&CqlType::Varchar, b"b", b"ab"),
            Ok(Ordering::Greater)
        );
        assert!(compare_serialized(&ty, &[1], &b).is_err());
    }

    #[test]
    fn normalizes_sets_and_maps() {
        let set_ty = CqlType::Set(Box::new(CqlType::Int));
        let mut s = CqlValue::Set(vec![CqlValue::Int(3), CqlValue::Int(1), CqlValue::Int(3)]);
        normalize(&mut s, &set_ty);
        assert_eq!(s, CqlValue::Set(vec![CqlValue::Int(1), CqlValue::Int(3)]));
        let map_ty = CqlType::Map(Box::new(CqlType::Varchar), Box::new(CqlType::Int));
        let e = |k: &str, v| (CqlValue::Text(k.into()), CqlValue::Int(v));
        let mut m = CqlValue::Map(vec![e("b", 1), e("a", 2), e("b", 3)]);
        normalize(&mut m, &map_ty);
        assert_eq!(m, CqlValue::Map(vec![e("a", 2), e("b", 3)]));
    }
}
