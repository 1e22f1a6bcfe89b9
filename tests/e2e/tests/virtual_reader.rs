//! The daemon's virtual reader folder (a test build's in-process card, `readers.virtual_dir`) on Linux: the
//! same scenario as the Windows build runs under Wine (windows_wine.rs), so a failure there that does not
//! happen here is Windows' or Wine's.

use e2e::kiosk::virtual_reader_checkin;
use e2e::{Runner, in_keyutils_session};

#[test]
fn a_pin_check_in_with_a_card_in_the_virtual_reader_folder() {
    if !in_keyutils_session("a_pin_check_in_with_a_card_in_the_virtual_reader_folder") {
        return;
    }
    virtual_reader_checkin(Runner::Native);
}
