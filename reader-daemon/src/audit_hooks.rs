//! Audit rows for actions owned by other parts of the daemon: the staff visual check (目視確認) at the kiosk,
//! and the audit verdict as clients see it.

use facility_store::{AuditEntry, ChainVerdict};
use terminal_ipc::{AuditVerdictView, KioskAction, PeerInfo};

use crate::accounts::Accounts;

/// The audit row naming the staff account behind a visual-check action, or `None` for other kiosk actions
/// and for requests without a valid staff session. The kiosk task logs the action itself (actor: the local
/// socket's user); this row adds who was logged in, so the override is attributable to a person.
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
            "visual_check_override_by",
            if *same_person {
                "staff confirmed the patient is the card holder"
            } else {
                "staff did not confirm the patient"
            },
        ),
        _ => return None,
    };
    let actor = accounts
        .session(peer, session)
        .await
        .ok()?
        .login()
        .to_string();
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
