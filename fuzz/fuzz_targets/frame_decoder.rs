//! Fuzz target: arbitrary bytes through the streaming decoder in every framing mode, and every decoded
//! envelope through the request and response decoders. Run with `cargo fuzz run frame_decoder`.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use mica_cql_protocol::{Compression, FrameDecoder, Request, Response};

/// Small enough that oversized-frame skipping is exercised too.
const MAX_BODY: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the mode so the fuzzer can steer towards each of them.
    let Some((&mode, rest)) = data.split_first() else { return };
    let mut decoder = FrameDecoder::new(MAX_BODY);
    match mode % 4 {
        1 => decoder.set_compression(Some(Compression::Lz4)),
        2 => decoder.set_compression(Some(Compression::Snappy)),
        3 => decoder.enable_segments(mode & 0x80 != 0),
        _ => {}
    }
    let mut src = BytesMut::from(rest);
    loop {
        match decoder.decode(&mut src) {
            Ok(Some(envelope)) => {
                let _ = Request::decode(&envelope);
                let _ = Response::decode(&envelope);
            }
            Ok(None) => break,
            Err(e) if e.is_fatal() => break,
            Err(_) => {}
        }
    }
});
