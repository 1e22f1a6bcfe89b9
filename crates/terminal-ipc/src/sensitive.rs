//! Wrappers that keep patient identifiers and secrets out of `Debug` output and logs.
//!
//! Redaction is by type: a field that holds a name, an insurance number, a birth date, a PIN or a password is
//! declared with one of these types, so no `{:?}` of a message can print it. On the wire they are plain JSON
//! strings (`serde(transparent)`); the socket itself is the protected channel.

use std::fmt;

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A patient identifier (name, kana, insurance numbers, birth date). Printed as `<redacted>`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(transparent)]
pub struct Sensitive(String);

impl Sensitive {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Sensitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A password or TOTP code typed by a staff member. Zeroized on drop, printed as `<secret>`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

/// The 4-digit user-authentication PIN (利用者証明用電子証明書の暗証番号) typed at the kiosk.
///
/// Only four ASCII digits deserialize; anything else is a bad request before it reaches the daemon's card code.
/// Zeroized on drop, printed as `Pin(<secret>)`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(try_from = "String", into = "String")]
pub struct Pin(String);

/// Why a PIN was rejected before it reached the card.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the PIN must be exactly 4 digits")]
pub struct PinFormatError;

impl Pin {
    pub fn new(digits: impl Into<String>) -> Result<Self, PinFormatError> {
        let mut digits = digits.into();
        if digits.len() == 4 && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(digits))
        } else {
            digits.zeroize();
            Err(PinFormatError)
        }
    }

    pub fn digits(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Pin {
    type Error = PinFormatError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Pin::new(value)
    }
}

impl From<Pin> for String {
    fn from(pin: Pin) -> String {
        // serde needs an owned String; the Pin it came from is zeroized when dropped right after.
        pin.0.clone()
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(<secret>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_values() {
        assert_eq!(format!("{:?}", Sensitive::new("山田太郎")), "<redacted>");
        assert_eq!(format!("{:?}", Secret::new("pw")), "<secret>");
        assert_eq!(format!("{:?}", Pin::new("1234").unwrap()), "Pin(<secret>)");
    }

    #[test]
    fn pin_accepts_only_four_digits() {
        assert!(Pin::new("0000").is_ok());
        for bad in ["", "123", "12345", "12a4", "１２３４"] {
            assert_eq!(Pin::new(bad), Err(PinFormatError));
        }
        assert!(serde_json::from_str::<Pin>("\"12x4\"").is_err());
        assert_eq!(
            serde_json::to_string(&Pin::new("4321").unwrap()).unwrap(),
            "\"4321\""
        );
    }
}
