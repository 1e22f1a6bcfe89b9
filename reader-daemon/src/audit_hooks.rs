//! Audit rows for actions owned by other parts of the daemon: the staff visual check (目視確認) at the kiosk,
//! and the audit verdict as clients see it.
//!
//! A visual check is one row, written by the kiosk task before the kiosk moves and naming the staff account
//! that did it: if the row cannot be written, the override does not happen.

use facility_store::{AuditEntry, ChainVerdict};
use terminal_ipc::{AuditVerdictView, ErrorBody, ErrorCode, KioskAction, PeerInfo};

use crate::accounts::Accounts;

/// The staff account behind a visual-check action: `Ok(None)` for other kiosk actions, an
/// `unauthenticated` refusal when a visual-check action comes without a valid staff session of this
/// connection. The kiosk task writes the audit row with this account as its actor
/// ([`visual_check_row`]), before the kiosk moves.
pub async fn visual_check_staff(
    accounts: &Accounts,
    peer: &PeerInfo,
    action: &KioskAction,
) -> Result<Option<String>, ErrorBody> {
    let session = match action {
        KioskAction::StartStaffVisualCheck { session }
        | KioskAction::ConfirmStaffVisualCheck { session, .. } => session,
        _ => return Ok(None),
    };
    match accounts.session(peer, session).await {
        Ok(user) => Ok(Some(user.login().to_string())),
        Err(_) => Err(ErrorBody::new(
            ErrorCode::Unauthenticated,
            "目視確認には職員のログインが必要です。Log in as staff (this connection) before the visual check.",
        )),
    }
}

/// The audit row of one visual-check step (`visual_check_started`, `visual_check_confirmed`,
/// `visual_check_declined`) on `reader`, by `staff`; `refused` is the kiosk's reason when the step does not
/// fit its state (the row then records the attempt, and nothing else happens).
pub fn visual_check_row(
    staff: Option<&str>,
    action: &str,
    reader: &str,
    refused: Option<&str>,
) -> AuditEntry {
    let what = match action {
        "visual_check_started" => "staff visual check (目視確認) started",
        "visual_check_confirmed" => "staff confirmed the patient is the card holder",
        "visual_check_declined" => "staff did not confirm the patient",
        other => other,
    };
    let detail = match refused {
        None => format!("reader {reader}: {what}"),
        Some(reason) => format!("reader {reader}: {what}; refused by the kiosk: {reason}"),
    };
    AuditEntry {
        // Requests without a staff session are refused before they reach the kiosk (`visual_check_staff`).
        actor: staff.unwrap_or("staff (local socket)").to_string(),
        action: if refused.is_some() {
            format!("{action}_refused")
        } else {
            action.to_string()
        },
        method: Some("staff_visual".into()),
        detail: Some(detail),
        ..AuditEntry::default()
    }
}

pub fn verdict_view(verdict: &ChainVerdict) -> AuditVerdictView {
    match verdict {
        ChainVerdict::Intact { rows } => AuditVerdictView {
            intact: true,
            rows: *rows,
            broken_row: None,
            problem: None,
        },
        ChainVerdict::Broken(b) => AuditVerdictView {
            intact: false,
            rows: 0,
            broken_row: Some(b.row_id),
            problem: Some(b.problem.clone()),
        },
    }
}
