//! One hospital in real app windows (Tauri under Xvfb, WebDriver): reception terminals east and west, each
//! with a virtual reader, and room-3 (`[terminal] role = "viewer"`, no reader, no folders) share one private
//! PostgreSQL server. West's reception window is open when a PIN check-in with consent is made at east's
//! reader: the row appears there without a reload (pushed through LISTEN/NOTIFY), naming east's patient.
//! The app on room-3 offers only 診療情報閲覧 and 救急時閲覧, says it is a 閲覧用端末, has no 患者用画面 button,
//! and an administrator logged in there opens east's patient from the consented list. The daemon's
//! refusals are tested in `shared_store.rs`.

use e2e::app::{Display, open_staff_window, screenshot_dir};
use e2e::kiosk::{Cards, NORMAL, Oqs};
use e2e::staff::{ADMIN_PW, create_admin};
use e2e::{Daemon, MockCentral, in_keyutils_session};
use pg_harness::PgServer;

#[test]
fn a_viewer_terminal_offers_only_the_viewing_screens_with_the_facilitys_patients() {
    if !in_keyutils_session(
        "a_viewer_terminal_offers_only_the_viewing_screens_with_the_facilitys_patients",
    ) {
        return;
    }
    let shots = screenshot_dir();
    let pg = PgServer::start();
    let url = pg.create_database("facility");
    let cards = Cards::issue(1);
    let (east_lease, west_lease) = pcsc_harness::two_readers();
    let (lease, west_lease) = (&east_lease, &west_lease);
    let central = MockCentral::start(100, Some(&cards.dir));
    let store = |id: &str| format!("[store]\nshared = \"{url}\"\nterminal_id = \"{id}\"\n");
    let east = Daemon::start(
        &central,
        &format!(
            "[readers]\nnames = [\"{}\"]\n{}",
            lease.reader,
            store("east")
        ),
    );
    let viewer = Daemon::start(
        &central,
        &format!(
            "[terminal]\nrole = \"viewer\"\n[readers]\n{}",
            store("room-3")
        ),
    );
    let west = Daemon::start(
        &central,
        &format!(
            "[readers]\nnames = [\"{}\"]\n{}",
            west_lease.reader,
            store("west")
        ),
    );
    create_admin(&viewer);
    let display = Display::start(&viewer.root);

    // West's reception window, on today's list, before anything happened.
    let reception = open_staff_window(&display, &west);
    reception.click("[data-testid='tab-today']");
    reception.find("[data-testid='checkin-list']");
    assert!(reception.find_all("[data-testid='checkin-row']").is_empty());

    // A check-in with consent at east.
    let oqs_east = Oqs::new(&east.root);
    let card = e2e::kiosk::InsertedCard::insert(&cards, NORMAL, lease.port, &east.root);
    e2e::kiosk::pin_checkin(&oqs_east, &cards, NORMAL);
    let result = oqs_east.wait_screen("result");
    let id = result["check_in_id"]
        .as_str()
        .expect("the check-in id")
        .to_owned();
    card.remove();
    // It appears in west's open list by itself, answered, with east's patient's name.
    let row = format!("[data-testid='checkin-row'][data-id='{id}'][data-outcome='valid']");
    reception.find(&row);
    let name = reception.text(&format!("{row} [data-testid='row-name']"));
    assert!(!name.trim().is_empty(), "no name in the row");
    reception.screenshot(&shots, "viewer-terminal-0-east-check-in-at-west");
    reception.close();

    let window = open_staff_window(&display, &viewer);
    window.wait_text("[data-testid='terminal-role']", "閲覧用端末");
    let tabs: Vec<String> = window
        .find_all("nav.tabs button")
        .iter()
        .filter_map(|t| window.attribute_of(t, "data-testid"))
        .collect();
    assert_eq!(tabs, ["tab-viewer", "tab-emergency"]);
    assert!(!window.exists("[data-testid='open-kiosk']"));
    assert!(!window.exists("[data-testid='checkin-list']"));
    window.screenshot(&shots, "viewer-terminal-1-tabs");

    window.type_into("[data-testid='viewer-account']", "admin");
    window.type_into("[data-testid='viewer-password']", ADMIN_PW);
    window.click("[data-testid='viewer-login']");
    window.find("[data-testid='consented-row']");
    assert_eq!(window.find_all("[data-testid='consented-row']").len(), 1);
    window.click("[data-testid='consented-open']");
    window.find("[data-testid='patient-detail']");
    window.screenshot(&shots, "viewer-terminal-2-east-patient");
    drop((east, west, viewer));
}
