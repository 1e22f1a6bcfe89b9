//! Secrets the patient types or the card face shows. Zeroized on drop; `Debug` never shows them.

use std::fmt;

use zeroize::Zeroizing;

use crate::CardError;

/// A 4-digit PIN (利用者証明用 or 券面事項入力補助用 暗証番号), held as ASCII digits as the card expects.
#[derive(Clone)]
pub struct Pin(Zeroizing<Vec<u8>>);

impl Pin {
    /// Accepts exactly 4 ASCII digits.
    pub fn new(digits: &str) -> Result<Self, CardError> {
        let b = digits.as_bytes();
        if b.len() != 4 || !b.iter().all(u8::is_ascii_digit) {
            return Err(CardError::InvalidPinFormat);
        }
        Ok(Self(Zeroizing::new(b.to_vec())))
    }

    pub(crate) fn ascii(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(****)")
    }
}

/// 照合番号B: birth date YYMMDD (Japanese era year) + expiry year YYYY + 4-digit security code, 14 digits.
#[derive(Clone)]
pub struct VerificationCodeB(Zeroizing<Vec<u8>>);

impl VerificationCodeB {
    pub fn new(digits: &str) -> Result<Self, CardError> {
        let b = digits.as_bytes();
        if b.len() != 14 || !b.iter().all(u8::is_ascii_digit) {
            return Err(CardError::InvalidVerificationCodeFormat);
        }
        Ok(Self(Zeroizing::new(b.to_vec())))
    }

    /// Builds it from its printed parts: birth date `YYMMDD` in the era year, expiry year, security code.
    pub fn from_parts(
        era_birth_yymmdd: &str,
        expiry_year: &str,
        security_code: &str,
    ) -> Result<Self, CardError> {
        let joined = Zeroizing::new(format!("{era_birth_yymmdd}{expiry_year}{security_code}"));
        Self::new(&joined)
    }

    pub(crate) fn ascii(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for VerificationCodeB {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VerificationCodeB(**************)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_redaction() {
        assert!(Pin::new("123").is_err());
        assert!(Pin::new("12a4").is_err());
        assert!(Pin::new("12345").is_err());
        let p = Pin::new("0123").unwrap();
        assert!(!format!("{p:?}").contains("0123"));
        let v = VerificationCodeB::from_parts("550217", "2035", "2285").unwrap();
        assert_eq!(v.ascii(), b"55021720352285");
        assert!(!format!("{v:?}").contains('5'));
        assert!(VerificationCodeB::new("1234").is_err());
    }
}
