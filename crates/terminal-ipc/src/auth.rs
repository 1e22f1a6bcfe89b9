//! Who may talk to the daemon: the token kept in the OS keyring, and the peer's OS identity.

use std::fmt;

use os_keyring::{Keyring, SecretBytes};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::IpcError;

/// The keyring entry holding the token (service [`os_keyring::SERVICE`]).
pub const TOKEN_KEYRING_NAME: &str = "ipc-token";
const TOKEN_BYTES: usize = 32;

/// The shared secret a client presents in its hello. Hex text of 32 random bytes; zeroized on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct IpcToken {
    text: String,
    /// Unix: the owner of the token file it was read from, i.e. the daemon's user when the daemon runs as a
    /// system service; the client trusts a socket owned by that user as well as root's and its own.
    issuer_uid: Option<u32>,
}

impl IpcToken {
    /// The daemon's side: the token in the keyring, created on first start.
    pub fn load_or_create(keyring: &Keyring) -> Result<Self, IpcError> {
        let bytes = keyring.get_or_create(TOKEN_KEYRING_NAME, TOKEN_BYTES)?;
        Ok(Self::from_secret(&bytes))
    }

    /// The client's side: the token the daemon left in the keyring.
    pub fn load(keyring: &Keyring) -> Result<Self, IpcError> {
        match keyring.get(TOKEN_KEYRING_NAME)? {
            Some(bytes) => Ok(Self::from_secret(&bytes)),
            None => Err(IpcError::NoToken),
        }
    }

    /// A fresh random token (tests, and daemons that rotate the token).
    pub fn generate() -> Result<Self, IpcError> {
        Ok(Self::from_secret(&SecretBytes::random(TOKEN_BYTES)?))
    }

    /// A token given as text (e.g. passed to a helper process).
    pub fn from_text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            issuer_uid: None,
        }
    }

    /// The token in a file the daemon wrote (`[ipc] token_file`, for clients in the daemon's group).
    pub fn read_file(path: &std::path::Path) -> std::io::Result<Self> {
        let file = std::fs::File::open(path)?;
        #[cfg(unix)]
        let issuer_uid = Some(std::os::unix::fs::MetadataExt::uid(&file.metadata()?));
        #[cfg(not(unix))]
        let issuer_uid = None;
        let mut text = zeroize::Zeroizing::new(String::new());
        std::io::Read::read_to_string(&mut &file, &mut text)?;
        Ok(Self {
            text: text.trim().to_owned(),
            issuer_uid,
        })
    }

    /// The owner of the token file this token came from (see [`IpcToken::read_file`]).
    pub fn issuer_uid(&self) -> Option<u32> {
        self.issuer_uid
    }

    fn from_secret(bytes: &SecretBytes) -> Self {
        let mut hex = String::with_capacity(bytes.expose().len() * 2);
        for b in bytes.expose() {
            hex.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            hex.push(char::from(b"0123456789abcdef"[usize::from(b & 0xf)]));
        }
        Self {
            text: hex,
            issuer_uid: None,
        }
    }

    pub fn expose(&self) -> &str {
        &self.text
    }

    /// Constant-time comparison, so the time to refuse a guess says nothing about how close it was.
    pub fn matches(&self, presented: &str) -> bool {
        self.text.as_bytes().ct_eq(presented.as_bytes()).into()
    }
}

impl fmt::Debug for IpcToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IpcToken(<secret>)")
    }
}

/// The OS identity of a connected peer, as the kernel reports it for the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerIdentity {
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub pid: Option<i32>,
}

/// Which OS users may connect: the daemon's own user, and members of one optional group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerPolicy {
    pub uid: u32,
    pub group: Option<u32>,
}

impl PeerPolicy {
    /// Only the user this process runs as.
    #[cfg(unix)]
    pub fn same_user() -> Self {
        Self {
            uid: rustix::process::geteuid().as_raw(),
            group: None,
        }
    }

    /// Whether `peer` may connect. Group membership counts the primary group and, read from
    /// `/proc/<pid>/status` on Linux, the supplementary groups.
    pub fn admits(&self, peer: &PeerIdentity) -> bool {
        let Some(uid) = peer.uid else { return false };
        if uid == self.uid {
            return true;
        }
        let Some(group) = self.group else {
            return false;
        };
        if peer.gid == Some(group) {
            return true;
        }
        peer.pid
            .is_some_and(|pid| supplementary_groups(pid).contains(&group))
    }
}

/// Windows: the identity of a pipe client, read from its process's token: the user's SID and the SIDs of
/// the groups enabled in the token (strings such as `S-1-5-21-…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SidIdentity {
    pub user: String,
    pub groups: Vec<String>,
    pub pid: u32,
}

/// Windows: which users may open the pipe, by SID: the daemon's own user, and members of one optional group
/// (e.g. a local group the installer makes for the reception PC's users).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SidPolicy {
    pub user: String,
    pub group: Option<String>,
}

impl SidPolicy {
    /// Whether `client` may talk to the daemon (SIDs compare without regard to case).
    pub fn admits(&self, client: &SidIdentity) -> bool {
        if client.user.is_empty() {
            return false;
        }
        client.user.eq_ignore_ascii_case(&self.user)
            || self
                .group
                .as_deref()
                .is_some_and(|g| client.groups.iter().any(|c| c.eq_ignore_ascii_case(g)))
    }
}

/// Whether `text` is a SID in its string form (`S-1-` then numbers joined by `-`), as `ipc.group` must be
/// on Windows.
pub fn is_sid(text: &str) -> bool {
    let Some(rest) = text
        .strip_prefix("S-1-")
        .or_else(|| text.strip_prefix("s-1-"))
    else {
        return false;
    };
    !rest.is_empty()
        && rest
            .split('-')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(target_os = "linux")]
fn supplementary_groups(pid: i32) -> Vec<u32> {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return Vec::new();
    };
    status
        .lines()
        .find_map(|line| line.strip_prefix("Groups:"))
        .map(|groups| {
            groups
                .split_whitespace()
                .filter_map(|g| g.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(not(target_os = "linux"))]
fn supplementary_groups(_pid: i32) -> Vec<u32> {
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sid_policy_admits_the_user_and_the_group_only() {
        let policy = SidPolicy {
            user: "S-1-5-18".into(),
            group: Some("S-1-5-21-1-2-3-1001".into()),
        };
        let client = |user: &str, groups: &[&str]| SidIdentity {
            user: user.into(),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            pid: 7,
        };
        assert!(policy.admits(&client("S-1-5-18", &[])));
        assert!(policy.admits(&client("s-1-5-18", &[])));
        assert!(policy.admits(&client(
            "S-1-5-21-1-2-3-1105",
            &["S-1-5-32-545", "S-1-5-21-1-2-3-1001"]
        )));
        assert!(!policy.admits(&client("S-1-5-21-1-2-3-1105", &["S-1-5-32-545"])));
        assert!(!policy.admits(&client("", &["S-1-5-21-1-2-3-1001"])));
        let alone = SidPolicy {
            group: None,
            ..policy
        };
        assert!(!alone.admits(&client("S-1-5-21-1-2-3-1105", &["S-1-5-21-1-2-3-1001"])));
    }

    #[test]
    fn sid_strings() {
        for ok in [
            "S-1-5-18",
            "S-1-5-32-545",
            "S-1-5-21-3623811015-3361044348-30300820-1013",
        ] {
            assert!(is_sid(ok), "{ok}");
        }
        for bad in [
            "",
            "S-1-",
            "S-1-5-",
            "S-1-5--1",
            "oqs-users",
            "S-1-5-x",
            "S-2-5-18",
        ] {
            assert!(!is_sid(bad), "{bad}");
        }
    }

    #[test]
    fn token_hex_and_compare() {
        let t = IpcToken::from_secret(&SecretBytes::new(vec![0x00, 0xab, 0xff]));
        assert_eq!(t.expose(), "00abff");
        assert!(t.matches("00abff"));
        assert!(!t.matches("00abfe"));
        assert!(!t.matches("00ab"));
        assert_eq!(format!("{t:?}"), "IpcToken(<secret>)");
    }

    #[test]
    fn policy() {
        let p = PeerPolicy {
            uid: 1000,
            group: Some(50),
        };
        let peer = |uid, gid| PeerIdentity {
            uid: Some(uid),
            gid: Some(gid),
            pid: None,
        };
        assert!(p.admits(&peer(1000, 1000)));
        assert!(p.admits(&peer(1001, 50)));
        assert!(!p.admits(&peer(1001, 1001)));
        assert!(
            !PeerPolicy {
                uid: 1000,
                group: None
            }
            .admits(&peer(1001, 50))
        );
        assert!(!p.admits(&PeerIdentity {
            uid: None,
            gid: None,
            pid: None
        }));
    }
}
