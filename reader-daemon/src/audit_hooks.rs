//! Audit rows for actions owned by other parts of the daemon: the staff visual check (目視確認) at the kiosk,
//! and the audit verdict as clients see it.

use facility_store::{AuditEntry, ChainVerdict};
use terminal_ipc::{AuditVerdictView, KioskAction, PeerInfo};

use crate::accounts::Accounts;

/// The audit row for a staff visual-check action, or `None` for other kiosk actions. The actor is the
/// session's account when the session is valid, otherwise the connecting client as it named itself.
pub async fn visual_check_entry(
    accounts: &Accounts,
    peer: &PeerInfo,
    action: &KioskAction,
) -> Option<AuditEntry> {
    let (session, action, detail) = match action {
        KioskAction::StartStaffVisualCheck { session } => (
            session,
            "visual_check_started",
            "staff visual check (目視確認) started",
        ),
        KioskAction::ConfirmStaffVisualCheck {
            session,
            same_person,
        } => (
            session,
            "visual_check_override",
            if *same_person {
                "staff confirmed the patient is the card holder"
            } else {
                "staff did not confirm the patient"
            },
        ),
        _ => return None,
    };
    let actor = match accounts.session(peer, session).await {
        Ok(user) => user.login().to_string(),
        Err(_) => format!("client:{} (no staff login)", peer.client),
    };
    Some(AuditEntry {
        actor,
        action: action.into(),
        method: Some("staff_visual".into()),
        detail: Some(detail.into()),
        ..AuditEntry::default()
    })
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
