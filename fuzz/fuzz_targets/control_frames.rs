//! Arbitrary bytes into the control-channel frame decoder, as either side would
//! receive them. The decoder must never panic, whatever the input (DESIGN.md, "Wire
//! shapes": malformed frames close the connection with a logged reason, they never
//! crash the process). Host messages must also survive re-encoding unchanged.

#![no_main]

use abi::control::{EnclaveMessage, HostMessage, decode_stream, encode_frame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(messages) = decode_stream::<HostMessage>(data) {
        // Every field of a host message has exact equality (no floats), so what
        // decodes must encode and decode back to the same message.
        for message in messages {
            let frame = encode_frame(message.clone()).expect("a decoded message re-encodes");
            let again = decode_stream::<HostMessage>(&frame).expect("a re-encoded frame decodes");
            assert_eq!(again, vec![message]);
        }
    }
    // Enclave messages carry an f64 (a win chance), for which NaN != NaN: decode only.
    let _ = decode_stream::<EnclaveMessage>(data);
});
