//! Fuzzes the OQS file reader: any bytes, any kind and direction, must give a message or an error —
//! never a panic — and whatever parses must validate and re-write without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oqs_protocol::{Direction, Encoding, MessageKind, read_message, write_message};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let kind = MessageKind::ALL[usize::from(selector & 0x7F) % MessageKind::ALL.len()];
    let direction = if selector & 0x80 == 0 {
        Direction::Request
    } else {
        Direction::Response
    };
    if let Ok(decoded) = read_message(bytes, kind, direction) {
        let _ = decoded.message.validate();
        for encoding in [Encoding::Utf8, Encoding::ShiftJis] {
            let _ = write_message(&decoded.message, encoding);
        }
    }
});
