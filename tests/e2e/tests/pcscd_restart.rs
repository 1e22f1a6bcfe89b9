//! The smart card service restarted in the middle of the morning (issue 17 item 1): one kiosk over a pool of
//! two readers (a card reader and an NFC reader, `[kiosk.east]`); the daemon keeps running, says every card
//! is gone while pcscd is down, and once pcscd is back takes the next patient's card on either reader of the
//! pool, with no restart of its own. Prints how long after pcscd was ready the kiosk took a card again (a figure for
//! the notes, not an assert). Runs with sole use of pcscd, in the `pcscd-restart` test group.

use std::time::{Duration, Instant};

use e2e::kiosk::{Cards, InsertedCard, Oqs, pin_checkin};
use e2e::{Daemon, MockCentral, in_keyutils_session, wait_for};

#[test]
fn the_kiosk_takes_cards_again_after_a_pcscd_restart() {
    if !in_keyutils_session("the_kiosk_takes_cards_again_after_a_pcscd_restart") {
        return;
    }
    let pcscd = pcsc_harness::exclusive();
    let readers = pcscd.start();
    let ((reader, port), (nfc, nfc_port)) = (readers[0].clone(), readers[1].clone());
    let cards = Cards::issue(1);
    let central = MockCentral::start(100, Some(&cards.dir));
    let mut daemon = Daemon::start(
        &central,
        &format!(
            "[readers]\nnames = [\"{reader}\", \"{nfc}\"]\n[kiosk]\ninactivity_timeout_secs = 120\n\
             [kiosk.east]\nreaders = [\"{reader}\", \"{nfc}\"]\n"
        ),
    );
    let oqs = Oqs::for_kiosk(&daemon.root, "east");
    oqs.wait_screen("idle");

    // A patient before the restart.
    let card = InsertedCard::insert(&cards, 1, port, &daemon.root);
    pin_checkin(&oqs, &cards, 1);
    oqs.wait_screen("result");
    card.remove();
    oqs.wait_screen("idle");

    // pcscd stops (an update, a USB hub reset) and comes back.
    pcscd.stop();
    wait_for("the daemon to notice", Duration::from_secs(30), || {
        daemon
            .logs()
            .contains("the smart card service (pcscd) is gone")
            .then_some(())
    });
    pcscd.start();
    let ready = Instant::now();

    // The next patient's card is taken without restarting the daemon.
    let card = InsertedCard::insert(&cards, 1, port, &daemon.root);
    let choice = oqs.wait_screen("method_choice");
    let recovered = ready.elapsed();
    eprintln!(
        "figure: pcscd restart: the kiosk offered the method choice {} ms after pcscd was ready (card placed at once)",
        recovered.as_millis()
    );
    assert!(choice["methods"].is_array(), "{choice}");
    pin_checkin(&oqs, &cards, 1);
    oqs.wait_screen("result");
    card.remove();
    oqs.wait_screen("idle");
    // The pool's other reader came back too.
    let card = InsertedCard::insert(&cards, 1, nfc_port, &daemon.root);
    oqs.wait_screen("method_choice");
    pin_checkin(&oqs, &cards, 1);
    oqs.wait_screen("result");
    card.remove();
    // Still the same daemon process, answering.
    assert!(oqs.status()["readers"].is_array());
    let logs = daemon.logs();
    assert!(
        logs.contains("the smart card service (pcscd) is back"),
        "{logs}"
    );
    daemon.stop();
}
