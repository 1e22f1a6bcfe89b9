//! pcscd, the card readers, an optional card test, and the camera.

use std::ffi::CString;
use std::time::{Duration, Instant};

use myna_card::{CardSession, PcscTransport, TokenKind};
use pcsc::{Context, ReaderState, Scope, State};

use crate::Item;

const FIX_PCSCD_JA: &str = "PC/SC サービス (pcscd) を起動してください (Linux: sudo systemctl enable --now pcscd.socket / Windows: スマートカード サービスを「自動」にする)。";
const FIX_PCSCD_EN: &str = "Start the PC/SC service (Linux: sudo systemctl enable --now pcscd.socket; Windows: set the Smart Card service to Automatic).";

pub(crate) fn check(names: &[String], card_test: Option<Duration>) -> Vec<Item> {
    let pcscd = Item::named("pcscd", "PC/SC サービス (pcscd)", "PC/SC service (pcscd)");
    let readers = Item::named("readers", "カードリーダー", "Card readers");
    let card = Item::named("card-test", "カードの読み取りテスト", "Card test");
    let ctx = match Context::establish(Scope::User) {
        Ok(ctx) => ctx,
        Err(e) => {
            let mut items = vec![
                pcscd.fail(
                    format!("cannot reach pcscd: {e}"),
                    FIX_PCSCD_JA,
                    FIX_PCSCD_EN,
                ),
                readers.skip("pcscd is not running"),
            ];
            if card_test.is_some() {
                items.push(card.skip("pcscd is not running"));
            }
            return items;
        }
    };
    let mut items = vec![pcscd.pass("pcscd answers")];
    let found: Vec<CString> = match ctx.list_readers_owned() {
        Ok(list) => list,
        Err(pcsc::Error::NoReadersAvailable) => Vec::new(),
        Err(e) => {
            items.push(readers.fail(
                format!("pcscd cannot list readers: {e}"),
                FIX_PCSCD_JA,
                FIX_PCSCD_EN,
            ));
            return items;
        }
    };
    let all: Vec<String> = found
        .iter()
        .map(|r| r.to_string_lossy().into_owned())
        .collect();
    let usable: Vec<CString> = found
        .into_iter()
        .filter(|r| names.is_empty() || names.iter().any(|n| n.as_bytes() == r.as_bytes()))
        .collect();
    let fix_ja = "カードリーダーを USB で接続し、ドライバーを導入してください。[readers] names でリーダーを指定している場合は、その名前が接続中のリーダー名と一致しているか確認してください。";
    let fix_en = "Connect the card reader over USB and install its driver. If [readers] names lists readers, check that the names match the connected readers.";
    if usable.is_empty() {
        let detail = if names.is_empty() {
            "no card reader is connected".to_owned()
        } else {
            format!(
                "none of the configured readers ({}) is connected; connected: {}",
                names.join(", "),
                if all.is_empty() {
                    "none".to_owned()
                } else {
                    all.join(", ")
                }
            )
        };
        items.push(readers.fail(detail, fix_ja, fix_en));
        if card_test.is_some() {
            items.push(card.skip("no reader"));
        }
        return items;
    }
    items.push(
        readers.pass(
            usable
                .iter()
                .map(|r| r.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(", "),
        ),
    );
    if let Some(wait) = card_test {
        items.push(test_card(&ctx, &usable, wait, card));
    }
    items
}

/// Waits (on PC/SC events, up to `wait`) for a card in any of `readers`, then asks it for the JPKI AP.
/// Any card that answers passes: the point is that reader and card talk.
fn test_card(ctx: &Context, readers: &[CString], wait: Duration, item: crate::ItemBuilder) -> Item {
    let fix_ja = "カードをリーダーにしっかり置いてから、もう一度実行してください。読み取れない場合はリーダーの接続とドライバーを確認してください。";
    let fix_en = "Place a card firmly on the reader and run the check again. If it still fails, check the reader's connection and driver.";
    let deadline = Instant::now() + wait;
    let mut states: Vec<ReaderState> = readers
        .iter()
        .map(|r| ReaderState::new(r.clone(), State::UNAWARE))
        .collect();
    let reader = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match ctx.get_status_change(left, &mut states) {
            Ok(()) => {}
            Err(pcsc::Error::Timeout) => {
                return item.fail(
                    format!("no card was inserted within {} s", wait.as_secs()),
                    fix_ja,
                    fix_en,
                );
            }
            Err(e) => return item.fail(format!("waiting for a card failed: {e}"), fix_ja, fix_en),
        }
        if let Some(s) = states
            .iter()
            .find(|s| s.event_state().contains(State::PRESENT))
        {
            break s.name().to_owned();
        }
        for s in &mut states {
            s.sync_current_state();
        }
        if Instant::now() >= deadline {
            return item.fail(
                format!("no card was inserted within {} s", wait.as_secs()),
                fix_ja,
                fix_en,
            );
        }
    };
    let name = reader.to_string_lossy().into_owned();
    let transport = match PcscTransport::connect(ctx, &reader) {
        Ok(t) => t,
        Err(e) => {
            return item.fail(
                format!("{name}: cannot talk to the card: {e}"),
                fix_ja,
                fix_en,
            );
        }
    };
    let mut session = CardSession::new(transport);
    match session.identify() {
        Ok(identity) => item.pass(format!(
            "{name}: a My Number Card answered ({})",
            match identity.token {
                TokenKind::PhysicalCard => "card".to_owned(),
                TokenKind::SmartphoneAndroid | TokenKind::SmartphoneIos => "smartphone".to_owned(),
                TokenKind::Unknown(t) => format!("token {t}"),
            }
        )),
        Err(e) if e.is_card_gone() => item.fail(
            format!("{name}: the card was removed during the test"),
            fix_ja,
            fix_en,
        ),
        Err(_) => item.pass(format!(
            "{name}: a card answered (not a My Number Card; reader and card talk)"
        )),
    }
}

/// A camera for face matching: a warning only, PIN and staff visual check work without one.
pub(crate) fn camera() -> Item {
    let item = Item::named("camera", "カメラ (顔認証)", "Camera (face matching)");
    let cameras: Vec<String> = std::fs::read_dir("/dev")
        .map(|dir| {
            dir.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("video"))
                .collect()
        })
        .unwrap_or_default();
    if cameras.is_empty() {
        item.warn(
            "no camera (/dev/video*) found",
            "顔認証を使う場合は、顔認証付きカードリーダーのカメラを接続してください。暗証番号と目視確認はカメラなしで使えます。",
            "Connect the face-authentication reader's camera to offer face matching; PIN and staff visual check work without one.",
        )
    } else {
        let mut cameras = cameras;
        cameras.sort();
        item.pass(format!("/dev/{}", cameras.join(", /dev/")))
    }
}
