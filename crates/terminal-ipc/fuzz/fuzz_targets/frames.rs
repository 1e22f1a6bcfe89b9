//! Arbitrary bytes as a stream of frames from a peer: length prefixes, then every message type decoded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use terminal_ipc::frame::{decode, read_frame_bytes};
use terminal_ipc::{ClientFrame, HandshakeReply, Hello, ServerFrame};

fuzz_target!(|data: &[u8]| {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread().build() else { return };
    rt.block_on(async {
        let mut input = data;
        while let Ok(body) = read_frame_bytes(&mut input, 64 * 1024).await {
            let _ = decode::<Hello>(&body);
            let _ = decode::<HandshakeReply>(&body);
            let _ = decode::<ClientFrame>(&body);
            let _ = decode::<ServerFrame>(&body);
        }
    });
});
