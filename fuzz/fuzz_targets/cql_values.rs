//! Fuzz target: a CQL type string, then arbitrary bytes decoded as a value of that type (the path every bound
//! value from a client takes). Whatever decodes must encode again and decode to the same value.
//! Run with `cargo fuzz run cql_values`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The input is `<type string> NUL <value bytes>` so the fuzzer can explore types and values together.
    let Some(split) = data.iter().position(|&b| b == 0) else { return };
    let Ok(type_text) = std::str::from_utf8(&data[..split]) else { return };
    let Ok(ty) = mica_cql_types::parse_type_string(type_text, &|_| None) else { return };
    let bytes = &data[split + 1..];
    let _ = mica_cql_types::validate(&ty, bytes);
    let Ok(value) = mica_cql_types::deserialize(&ty, bytes) else { return };
    let mut again = Vec::new();
    mica_cql_types::serialize(&value, &ty, &mut again).expect("a decoded value encodes again");
    let round = mica_cql_types::deserialize(&ty, &again).expect("an encoded value decodes again");
    assert_eq!(
        mica_cql_types::compare(&ty, &value, &round),
        std::cmp::Ordering::Equal,
        "round trip changed the value"
    );
});
