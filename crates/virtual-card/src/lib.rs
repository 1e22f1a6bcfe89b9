//! A stateful software My Number Card that answers the same APDUs as the real card, for tests and demos.
//!
//! - [`card::VirtualCard`]: every AP and EF of the reference (JPKI with both the 利用者証明用 and the 署名用
//!   side, face AP, card-info AP, 共通AP), READ BINARY with offsets or a short EF identifier, READ RECORD,
//!   PIN counters (authentication PIN: 3 tries; signature password: 5; card-info PIN: 3; 照合番号A/B and
//!   the birth-date key: 10; blocking, reset on success), RSA-2048 signing with either key, a JPEG 2000 face
//!   photo, and a record of every command that named a 個人番号 EF ([`VirtualCard::my_number_accesses`]).
//! - [`profile`]: card profiles (`card-0001.toml` …) issued from a seed by the mock JPKI CA, in seven
//!   [`Variant`]s: normal, PIN blocked, face-only (no PIN; VERIFY answers `6A88`), certificate expired,
//!   expiring within 3 months, revoked (a flag; the mock central decides), smartphone token.
//! - Serving: [`InProcessCard`] implements `myna_card::Transport` directly; [`VpcdCard`] inserts the card
//!   into a vsmartcard vpcd reader of a running pcscd, so the real PC/SC path is exercised.
//! - [`Faults`]: remove the card after the Nth APDU, answer slowly, answer garbage.
//!
//! The binary `oqs-virtual-card` issues profiles (`issue`) and inserts one into a vpcd reader (`serve`).
//! Nothing here belongs in a production path.

pub mod card;
mod faults;
mod inprocess;
pub mod profile;
pub mod vpcd;

use std::io::Write;
use std::path::{Path, PathBuf};

pub use card::VirtualCard;
pub use card::{AccessKind, MyNumberAccess};
pub use faults::Faults;
pub use inprocess::InProcessCard;
pub use profile::{CardProfile, IssueOptions, Variant, issue, issue_with};
pub use vpcd::VpcdCard;

/// Failures of the virtual card tools.
#[derive(Debug, thiserror::Error)]
pub enum VirtualCardError {
    #[error("could not read or write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("bad card profile: {0}")]
    Profile(String),
    #[error(transparent)]
    Pki(#[from] mock_jpki::PkiError),
    #[error("could not use the photo: {0}")]
    Photo(String),
    #[error(
        "could not reach the vpcd reader on 127.0.0.1:{port} (is pcscd running with the vpcd driver?): {source}"
    )]
    Vpcd { port: u16, source: std::io::Error },
}

pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<(), VirtualCardError> {
    let io = |source| VirtualCardError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io)?;
    }
    f.write_all(bytes).map_err(io)
}
