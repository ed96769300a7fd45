//! Cassandra's variant of MurmurHash3 x64/128, which reads tail bytes as *signed* Java bytes.
//!
//! Matching this exactly is what makes `token(pk)` and driver token-aware routing agree with Apache Cassandra.

const C1: u64 = 0x87c3_7b91_1142_53d5;
const C2: u64 = 0x4cf5_ad43_2745_937f;

fn fmix(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^= k >> 33;
    k
}

/// Returns the Murmur3Partitioner token of `key` (the first 64 bits of the hash, seed 0).
pub fn murmur3_token(key: &[u8]) -> i64 {
    let len = key.len();
    let nblocks = len / 16;
    let mut h1: u64 = 0;
    let mut h2: u64 = 0;
    for i in 0..nblocks {
        let b = &key[i * 16..i * 16 + 16];
        let mut k1 = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
        let mut k2 = u64::from_le_bytes([b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]]);
        k1 = k1.wrapping_mul(C1).rotate_left(31).wrapping_mul(C2);
        h1 ^= k1;
        h1 = h1
            .rotate_left(27)
            .wrapping_add(h2)
            .wrapping_mul(5)
            .wrapping_add(0x52dc_e729);
        k2 = k2.wrapping_mul(C2).rotate_left(33).wrapping_mul(C1);
        h2 ^= k2;
        h2 = h2
            .rotate_left(31)
            .wrapping_add(h1)
            .wrapping_mul(5)
            .wrapping_add(0x3849_5ab5);
    }
    let tail = &key[nblocks * 16..];
    // Java sign-extends each byte before shifting: (long) key.get(i) << n.
    let byte = |i: usize| tail[i] as i8 as i64 as u64;
    let mut k1: u64 = 0;
    let mut k2: u64 = 0;
    let rem = len & 15;
    if rem >= 15 {
        k2 ^= byte(14) << 48;
    }
    if rem >= 14 {
        k2 ^= byte(13) << 40;
    }
    if rem >= 13 {
        k2 ^= byte(12) << 32;
    }
    if rem >= 12 {
        k2 ^= byte(11) << 24;
    }
    if rem >= 11 {
        k2 ^= byte(10) << 16;
    }
    if rem >= 10 {
        k2 ^= byte(9) << 8;
    }
    if rem >= 9 {
        k2 ^= byte(8);
        k2 = k2.wrapping_mul(C2).rotate_left(33).wrapping_mul(C1);
        h2 ^= k2;
    }
    if rem >= 8 {
        k1 ^= byte(7) << 56;
    }
    if rem >= 7 {
        k1 ^= byte(6) << 48;
    }
    if rem >= 6 {
        k1 ^= byte(5) << 40;
    }
    if rem >= 5 {
        k1 ^= byte(4) << 32;
    }
    if rem >= 4 {
        k1 ^= byte(3) << 24;
    }
    if rem >= 3 {
        k1 ^= byte(2) << 16;
    }
    if rem >= 2 {
        k1 ^= byte(1) << 8;
    }
    if rem >= 1 {
        k1 ^= byte(0);
        k1 = k1.wrapping_mul(C1).rotate_left(31).wrapping_mul(C2);
        h1 ^= k1;
    }
    h1 ^= len as u64;
    h2 ^= len as u64;
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    h1 = fmix(h1);
    h2 = fmix(h2);
    h1 = h1.wrapping_add(h2);
    let token = h1 as i64;
    if token == i64::MIN { i64::MAX } else { token }
}

#[cfg(test)]
mod tests {
    use super::murmur3_token;

    #[test]
    fn matches_cassandra_known_tokens() {
        // Values from Apache Cassandra: SELECT token(k) for an int key k (4-byte big-endian).
        assert_eq!(murmur3_token(&1i32.to_be_bytes()), -4069959284402364209);
        assert_eq!(murmur3_token(&2i32.to_be_bytes()), -3248873570005575792);
        assert_eq!(murmur3_token(&0i32.to_be_bytes()), -3485513579396041028);
    }

    #[test]
    fn ordered_bytes_round_trip() {
        use crate::Token;
        for t in [i64::MIN + 1, -1, 0, 1, i64::MAX] {
            assert_eq!(Token::from_ordered_bytes(Token(t).to_ordered_bytes()), Token(t));
        }
        assert!(Token(-1).to_ordered_bytes() < Token(1).to_ordered_bytes());
    }
}
