//! Fuzzes file-name parsing: a name in `req/` is whatever the receipt computer dropped, so any string must
//! give a name or an error, never a panic (a panic here stops the relay's scan for every later file), and a
//! parsed name must print back as itself and derive its result and `.err` names without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oqs_protocol::FileName;

fuzz_target!(|data: &[u8]| {
    // Lossy, so invalid UTF-8 still reaches the parser as the replacement characters a listing would give.
    let name = String::from_utf8_lossy(data);
    if let Ok(parsed) = FileName::parse(&name) {
        assert_eq!(parsed.to_string(), name);
        let _ = parsed.err_name();
        if let Ok(result) = parsed.result_name() {
            let back = FileName::parse(&result).expect("a derived result name parses");
            assert_eq!(back.id(), parsed.id());
        }
    }
});
