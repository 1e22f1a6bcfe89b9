//! 受診区分 end to end: a PIN check-in at the kiosk (real daemon, pcscd + vpcd, mock central over mutual TLS),
//! reception tags the visit 訪問 and then オンライン over the daemon's socket, and each 閲覧 of the patient's
//! information carries the visit's `MedicalTreatmentFlag`: the patient's access history at the central service
//! (what マイナポータル shows) names the kind of visit of each view.

use e2e::central::portal_entries;
use e2e::kiosk::{Cards, InsertedCard, NORMAL, pin_checkin, start_kiosk};
use e2e::staff::{ADMIN_PW, connect, create_admin, login, refused, rt};
use e2e::{clock, in_keyutils_session};
use terminal_ipc::{ErrorCode, MedicalInfoKind, Request, Response, Visit};

#[test]
fn each_view_carries_the_visit_reception_tagged() {
    if !in_keyutils_session("each_view_carries_the_visit_reception_tagged") {
        return;
    }
    let cards = Cards::issue(1);
    let lease = pcsc_harness::reader();
    let (central, daemon, oqs) = start_kiosk(&cards, &lease);
    create_admin(&daemon);

    let card = InsertedCard::insert(&cards, NORMAL, lease.port, &daemon.root);
    pin_checkin(&oqs, &cards, NORMAL);
    let result = oqs.wait_screen("result");
    let id = result["check_in_id"]
        .as_str()
        .expect("check-in id")
        .to_owned();
    card.remove();

    // A check-in is 外来 until reception says otherwise.
    let today: serde_json::Value =
        serde_json::from_str(&oqs.ok(&["checkins"], None)).expect("checkins JSON");
    assert_eq!(today["check_ins"][0]["visit"], "outpatient", "{today}");

    let today_ymd = clock().today_jst().to_string();
    let (numbers, branch, views) = rt().block_on(async {
        let client = connect(&daemon).await;
        let session = login(&client, "admin", ADMIN_PW, None).await;
        let Response::ConsentedPatients { patients } = client
            .request(Request::ConsentedPatients {
                session: session.clone(),
            })
            .await
            .expect("consented patients")
        else {
            panic!("not a consented list")
        };
        let p = patients.first().expect("the patient consented");
        let numbers = (
            p.insurer_number.expose().to_owned(),
            p.symbol.expose().to_owned(),
            p.number.expose().to_owned(),
            p.birth_date.expose().replace('-', ""),
        );
        let branch = p.branch.expose().to_owned();
        let mut views = Vec::new();
        for visit in [Visit::Outpatient, Visit::HomeVisit, Visit::Online] {
            let answer = client
                .request(Request::SetVisit {
                    check_in_id: id.clone(),
                    visit,
                })
                .await
                .expect("set_visit");
            let Response::CheckIn { check_in } = answer else {
                panic!("{answer:?}")
            };
            assert_eq!(check_in.visit, visit);
            let shown = client
                .request(Request::MedicalInfo {
                    session: session.clone(),
                    patient_ref: p.patient_ref.clone(),
                    info: MedicalInfoKind::MedicationAndTreatment,
                    from: "2024-01-01".into(),
                    to: today_ymd.clone(),
                })
                .await
                .expect("medical info");
            assert!(matches!(shown, Response::MedicalInfo { .. }), "{shown:?}");
            views.push(visit);
        }
        // A check-in that does not exist is refused, not created.
        let (code, _) = refused(
            &client,
            Request::SetVisit {
                check_in_id: "face_nothing".into(),
                visit: Visit::Online,
            },
        )
        .await;
        assert_eq!(code, ErrorCode::NotFound);
        (numbers, branch, views)
    });
    assert_eq!(views.len(), 3);

    // The central service saw the three views with the flags of the three kinds of visit.
    let methods: Vec<String> = portal_entries(&central, &numbers, Some(&branch))
        .into_iter()
        .filter(|(_, items, _)| items.contains("薬剤情報"))
        .map(|(_, _, method)| method)
        .collect();
    for want in ["訪問診療等", "オンライン診療等"] {
        assert!(
            methods.iter().any(|m| m.contains(want)),
            "no view marked {want} in {methods:?}"
        );
    }
    assert!(
        methods.iter().any(|m| m == "閲覧同意（マイナ保険証）"),
        "no 外来 view in {methods:?}"
    );

    // The list shows the last tag, and the audit log names each change.
    let today: serde_json::Value =
        serde_json::from_str(&oqs.ok(&["checkins"], None)).expect("checkins JSON");
    assert_eq!(today["check_ins"][0]["visit"], "online", "{today}");
    let audit = e2e::staff::audit_rows(&daemon);
    let tags: Vec<_> = audit
        .iter()
        .filter(|r| r.entry.action == "visit_set")
        .collect();
    assert_eq!(tags.len(), 3, "{tags:?}");
}
