//! Arbitrary bytes, as a WebSocket peer may send them, into the client frame
//! decoders: `protocol::decode` for text frames (JSON) and
//! `protocol::binary::decode` for binary frames (bincode). Each must answer
//! `Ok` or a `DecodeError` for every input, and never panic, overflow,
//! allocate without bound or hang.
//!
//! Run from the repository root with `cargo +nightly fuzz run frame_decode`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use palaver::protocol::{self, ClientFrame, DecodeError, MAX_FRAME_BYTES};

fn check(data: &[u8], decoded: Result<ClientFrame, DecodeError>) {
    match decoded {
        Ok(frame) => {
            // Only frames within the limit decode, and what decoded can be
            // inspected (as the connection reader does) without panicking.
            assert!(data.len() <= MAX_FRAME_BYTES);
            let _ = format!("{:?} {:?}", frame.request_id, frame.action);
        }
        Err(DecodeError::TooLarge(n)) => assert!(n > MAX_FRAME_BYTES && n == data.len()),
        // The reason goes back to the client in an `error` frame; building
        // it must not panic either.
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

fuzz_target!(|data: &[u8]| {
    check(data, protocol::decode(data));
    check(data, protocol::binary::decode(data));
});
