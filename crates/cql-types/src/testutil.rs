//! Test helpers: a seeded PRNG and generators of random CQL types and values.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use bigdecimal::BigDecimal;
use bigdecimal::num_bigint::BigInt;
use uuid::Uuid;

use crate::datetime::NANOS_PER_DAY;
use crate::types::{CqlType, UdtDef};
use crate::value::{CqlDuration, CqlValue};
use crate::wire::allows_empty;

/// SplitMix64: tiny, seedable and good enough for property tests.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    pub fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())].clone()
    }

    /// A random i64 biased towards boundary values.
    pub fn int(&mut self) -> i64 {
        match self.below(6) {
            0 => self.pick(&[0, 1, -1, i64::MIN, i64::MAX, 255, -256]),
            1 => self.below(7) as i64 - 3,
            2 => (self.next_u64() as i64) >> self.below(63),
            _ => self.next_u64() as i64,
        }
    }

    pub fn bytes(&mut self, max_len: usize) -> Vec<u8> {
        let len = self.below(max_len + 1);
        (0..len)
            .map(|_| self.pick(&[0u8, 0, 1, 0x7F, 0x80, 0xFF, b'a', b'b']))
            .collect()
    }
}

const SCALARS: &[CqlType] = &[
    CqlType::Ascii,
    CqlType::Bigint,
    CqlType::Blob,
    CqlType::Boolean,
    CqlType::Decimal,
    CqlType::Double,
    CqlType::Float,
    CqlType::Int,
    CqlType::Timestamp,
    CqlType::Uuid,
    CqlType::Varchar,
    CqlType::Varint,
    CqlType::Timeuuid,
    CqlType::Inet,
    CqlType::Date,
    CqlType::Time,
    CqlType::Smallint,
    CqlType::Tinyint,
    CqlType::Duration,
];

/// A random type usable as a clustering column (frozen collections, tuples and UDTs included).
pub fn random_type(rng: &mut Rng, depth: usize) -> CqlType {
    if depth >= 2 || rng.below(3) != 0 {
        return rng.pick(SCALARS);
    }
    let choice = rng.below(6);
    let mut inner = || random_type(rng, depth + 1);
    let ty = match choice {
        0 => CqlType::List(Box::new(inner())),
        1 => CqlType::Set(Box::new(inner())),
        2 => CqlType::Map(Box::new(inner()), Box::new(inner())),
        3 => return CqlType::Tuple(vec![inner(), inner()]),
        4 => return CqlType::Vector(Box::new(inner()), 2),
        _ => CqlType::Udt(Arc::new(UdtDef {
            keyspace: "ks".into(),
            name: "u".into(),
            fields: vec![("a".into(), inner()), ("b".into(), inner())],
        })),
    };
    CqlType::Frozen(Box::new(ty))
}

fn random_string(rng: &mut Rng, ascii: bool) -> String {
    let len = rng.below(5);
    (0..len)
        .map(|_| {
            if ascii {
                rng.pick(&['\0', 'a', 'b', '~', 'Z'])
            } else {
                rng.pick(&['\0', 'a', 'b', 'é', '\u{FFFF}', '😀'])
            }
        })
        .collect()
}

fn random_uuid(rng: &mut Rng, version: u8) -> Uuid {
    let mut bytes = [0u8; 16];
    for b in &mut bytes {
        *b = if rng.chance(3) {
            rng.pick(&[0, 0x80, 0x7F, 0xFF])
        } else {
            rng.next_u64() as u8
        };
    }
    bytes[6] = (bytes[6] & 0x0F) | (version << 4);
    Uuid::from_bytes(bytes)
}

/// A random value of `ty`, biased towards edge cases and small domains so that ties occur.
pub fn random_value(rng: &mut Rng, ty: &CqlType) -> CqlValue {
    use CqlValue as V;
    if allows_empty(ty) && rng.chance(12) {
        return V::Empty;
    }
    let ty = ty.unfrozen();
    match ty {
        CqlType::Ascii => V::Ascii(random_string(rng, true)),
        CqlType::Varchar => V::Text(random_string(rng, false)),
        CqlType::Blob | CqlType::Custom(_) => V::Blob(rng.bytes(4)),
        CqlType::Bigint => V::Bigint(rng.int()),
        CqlType::Counter => V::Counter(rng.int()),
        CqlType::Timestamp => V::Timestamp(rng.int()),
        CqlType::Int => V::Int(rng.int() as i32),
        CqlType::Smallint => V::Smallint(rng.int() as i16),
        CqlType::Tinyint => V::Tinyint(rng.int() as i8),
        CqlType::Boolean => V::Boolean(rng.chance(2)),
        CqlType::Date => V::Date(rng.int() as u32),
        CqlType::Time => V::Time(rng.int().rem_euclid(NANOS_PER_DAY)),
        CqlType::Double => V::Double(match rng.below(4) {
            0 => rng.pick(&[
                0.0,
                -0.0,
                1.5,
                -1.5,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::NAN,
                f64::MIN_POSITIVE,
            ]),
            1 => rng.int() as f64,
            _ => {
                let v = f64::from_bits(rng.next_u64());
                if v.is_nan() { f64::NAN } else { v }
            }
        }),
        CqlType::Float => V::Float(match rng.below(4) {
            0 => rng.pick(&[0.0, -0.0, 1.5, -1.5, f32::INFINITY, f32::NEG_INFINITY, f32::NAN]),
            1 => rng.int() as f32,
            _ => {
                let v = f32::from_bits(rng.next_u64() as u32);
                if v.is_nan() { f32::NAN } else { v }
            }
        }),
        CqlType::Uuid => {
            let version = rng.pick(&[1, 1, 4, 3]);
            V::Uuid(random_uuid(rng, version))
        }
        CqlType::Timeuuid => V::Timeuuid(random_uuid(rng, 1)),
        CqlType::Varint => V::Varint(match rng.below(3) {
            0 => BigInt::from(rng.int()),
            _ => BigInt::from_signed_bytes_be(&rng.bytes(20)),
        }),
        CqlType::Decimal => {
            let unscaled = if rng.chance(2) {
                BigInt::from(rng.int() % 2000)
            } else {
                BigInt::from(rng.int())
            };
            V::Decimal(BigDecimal::new(unscaled, rng.below(8) as i64 - 3))
        }
        CqlType::Inet => {
            let r = rng.next_u64();
            V::Inet(if rng.chance(2) {
                IpAddr::V4(Ipv4Addr::from(rng.pick(&[
                    0u32,
                    1,
                    0x7F00_0001,
                    u32::MAX,
                    r as u32,
                ])))
            } else {
                IpAddr::V6(Ipv6Addr::from(rng.pick(&[
                    0u128,
                    1,
                    u128::MAX,
                    u128::from(r) << 64,
                ])))
            })
        }
        CqlType::Duration => {
            let sign = if rng.chance(2) { 1 } else { -1 };
            V::Duration(CqlDuration {
                months: sign * rng.below(3) as i32,
                days: sign * rng.below(40) as i32,
                nanos: i64::from(sign) * (rng.int() >> 2).abs(),
            })
        }
        CqlType::List(e) => V::List((0..rng.below(4)).map(|_| random_value(rng, e)).collect()),
        // Vector elements cannot be empty values.
        CqlType::Vector(e, n) => V::Vector(
            (0..*n)
                .map(|_| {
                    loop {
                        let v = random_value(rng, e);
                        if v != V::Empty {
                            break v;
                        }
                    }
                })
                .collect(),
        ),
        CqlType::Set(e) => {
            let mut v = V::Set((0..rng.below(4)).map(|_| random_value(rng, e)).collect());
            crate::compare::normalize(&mut v, ty);
            v
        }
        CqlType::Map(k, val) => {
            let mut v = V::Map(
                (0..rng.below(4))
                    .map(|_| (random_value(rng, k), random_value(rng, val)))
                    .collect(),
            );
            crate::compare::normalize(&mut v, ty);
            v
        }
        CqlType::Tuple(types) => V::Tuple(
            types
                .iter()
                .map(|t| (!rng.chance(4)).then(|| random_value(rng, t)))
                .collect(),
        ),
        CqlType::Udt(def) => V::Udt(
            def.fields
                .iter()
                .map(|(n, t)| (n.clone(), (!rng.chance(4)).then(|| random_value(rng, t))))
                .collect(),
        ),
        CqlType::Frozen(inner) => random_value(rng, inner),
    }
}
