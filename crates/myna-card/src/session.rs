//! [`CardSession`]: the operations the daemon runs on a My Number Card, each one a PC/SC transaction.
//!
//! The three applications used (reference §1.2, §1.4, §1.5):
//! - JPKI AP: identify the card, read the user-authentication certificate, PIN counter and VERIFY, sign.
//! - Face AP (券面AP): unlock with 照合番号B and read the photo.
//! - Card-info AP (券面事項入力補助AP): the four facts (EF 0002) behind its own PIN. EF 0001 of this AP is the
//!   個人番号; this module has no way to name it, so it is never selected or read.

use std::fmt;

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::apdu::{Apdu, Response, StatusWords};
use crate::{CardError, Pin, Transport, VerificationCodeB, ber};

/// Application identifiers (reference §5; four public code bases agree on each).
pub mod aid {
    /// 公的個人認証AP (JPKI).
    pub const JPKI: [u8; 10] = [0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01];
    /// 券面AP / 券面事項確認AP (card face, photo).
    pub const FACE: [u8; 10] = [0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x02];
    /// 券面事項入力補助AP (card-info input support).
    pub const CARD_INFO: [u8; 10] = [0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x08];
}

/// File identifiers this crate uses. The 個人番号 EF (card-info AP `0001`) is deliberately absent.
pub mod fid {
    /// JPKI: token info, 32 bytes ASCII.
    pub const JPKI_TOKEN_INFO: [u8; 2] = [0x00, 0x06];
    /// JPKI: 利用者証明用電子証明書 (user-authentication certificate), readable without a PIN.
    pub const JPKI_AUTH_CERT: [u8; 2] = [0x00, 0x0A];
    /// JPKI: user-authentication private key (RSA-2048).
    pub const JPKI_AUTH_KEY: [u8; 2] = [0x00, 0x17];
    /// JPKI: user-authentication PIN, 4 digits, 3 tries.
    pub const JPKI_AUTH_PIN: [u8; 2] = [0x00, 0x18];
    /// Face AP: 照合番号B key.
    pub const FACE_CODE_B: [u8; 2] = [0x00, 0x12];
    /// Face AP: the card-face record (tag FF20) holding the photo (DF27).
    pub const FACE_RECORD: [u8; 2] = [0x00, 0x02];
    /// Card-info AP: its 4-digit PIN.
    pub const CARD_INFO_PIN: [u8; 2] = [0x00, 0x11];
    /// Card-info AP: the four facts (基本4情報), tag FF20.
    pub const CARD_INFO_FOUR_FACTS: [u8; 2] = [0x00, 0x02];
}

/// Tags inside the card's constructed records (private class: FF20 holds DF21…).
pub mod tag {
    pub const RECORD: u32 = 0xFF20;
    pub const FACE_PHOTO: u32 = 0xDF27;
    pub const INFO_NAME: u32 = 0xDF22;
    pub const INFO_ADDRESS: u32 = 0xDF23;
    pub const INFO_BIRTH_DATE: u32 = 0xDF24;
    pub const INFO_SEX: u32 = 0xDF25;
}

/// DER prefix of a SHA-256 DigestInfo (RFC 8017 §9.2 note 1); the card adds PKCS#1 v1.5 padding itself.
pub const SHA256_DIGEST_INFO_PREFIX: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// The SHA-256 DigestInfo of `message`, as sent to COMPUTE DIGITAL SIGNATURE.
pub fn sha256_digest_info(message: &[u8]) -> Vec<u8> {
    let mut out = SHA256_DIGEST_INFO_PREFIX.to_vec();
    out.extend_from_slice(&Sha256::digest(message));
    out
}

/// Largest EF this crate will read; above it READ BINARY offsets no longer fit P1-P2.
const MAX_EF_LEN: usize = 0x7FFF;

/// What kind of JPKI token answered (EF 0006 of the JPKI AP).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// `JPKIAPICCTOKEN2` (or the older `JPKIAPICCTOKEN`): a physical My Number Card.
    PhysicalCard,
    /// `JPKIAPGPSETOKEN`: the JPKI function on an Android smartphone.
    SmartphoneAndroid,
    /// `JPKIAPIOSTOKEN`: the JPKI function on an iPhone.
    SmartphoneIos,
    /// Something else; the text is the card's (not personal data).
    Unknown(String),
}

impl TokenKind {
    pub fn parse(ef: &[u8]) -> Self {
        let text: String = ef
            .iter()
            .take_while(|b| **b != 0 && **b != 0xFF)
            .map(|b| {
                if b.is_ascii_graphic() || *b == b' ' {
                    *b as char
                } else {
                    '?'
                }
            })
            .collect();
        match text.trim_end() {
            "JPKIAPICCTOKEN2" | "JPKIAPICCTOKEN" => Self::PhysicalCard,
            "JPKIAPGPSETOKEN" => Self::SmartphoneAndroid,
            "JPKIAPIOSTOKEN" => Self::SmartphoneIos,
            other => Self::Unknown(other.to_owned()),
        }
    }

    pub fn is_smartphone(&self) -> bool {
        matches!(self, Self::SmartphoneAndroid | Self::SmartphoneIos)
    }
}

/// State of a PIN as read from its counter, without using a try.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinState {
    TriesLeft(u8),
    Blocked,
    /// The card has no PIN (顔認証マイナンバーカード). The virtual card answers `6A88`; see crate docs.
    NotSet,
}

/// What `identify()` learned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardIdentity {
    pub token: TokenKind,
    pub auth_pin: PinState,
}

/// The face photo (JPEG 2000 bytes) from the card face record. It identifies a person: zeroized on drop,
/// never printed.
pub struct FacePhoto(Zeroizing<Vec<u8>>);

impl FacePhoto {
    pub fn jpeg2000(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for FacePhoto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FacePhoto({} bytes)", self.0.len())
    }
}

/// Sex as coded on the card (ISO 5218).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sex {
    Male,
    Female,
    NotApplicable,
    NotKnown,
}

/// 基本4情報 from the card-info AP: name, address, birth date (`YYYYMMDD`), sex. Debug shows none of it.
pub struct FourFacts {
    name: Zeroizing<String>,
    address: Zeroizing<String>,
    birth_date: Zeroizing<String>,
    pub sex: Sex,
}

impl FourFacts {
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn address(&self) -> &str {
        &self.address
    }
    /// `YYYYMMDD` (Gregorian).
    pub fn birth_date(&self) -> &str {
        &self.birth_date
    }

    /// Parses the EF 0002 record (FF20 containing DF21 header, DF22 name, DF23 address, DF24 birth, DF25 sex).
    pub fn parse(record: &[u8]) -> Result<Self, CardError> {
        let inner = ber::find(record, tag::RECORD)?.ok_or(CardError::MalformedResponse(
            "the four-facts record has no FF20",
        ))?;
        let text = |t: u32| -> Result<Zeroizing<String>, CardError> {
            let v = ber::find(inner, t)?.ok_or(CardError::MalformedResponse(
                "the four-facts record misses a field",
            ))?;
            let s = std::str::from_utf8(v)
                .map_err(|_| CardError::MalformedResponse("a four-facts field is not UTF-8"))?;
            Ok(Zeroizing::new(s.to_owned()))
        };
        let sex = match text(tag::INFO_SEX)?.as_str() {
            "1" => Sex::Male,
            "2" => Sex::Female,
            "9" => Sex::NotApplicable,
            _ => Sex::NotKnown,
        };
        let birth_date = text(tag::INFO_BIRTH_DATE)?;
        if birth_date.len() != 8 || !birth_date.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CardError::MalformedResponse(
                "the birth date on the card is not YYYYMMDD",
            ));
        }
        Ok(Self {
            name: text(tag::INFO_NAME)?,
            address: text(tag::INFO_ADDRESS)?,
            birth_date,
            sex,
        })
    }
}

impl fmt::Debug for FourFacts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FourFacts(<redacted>)")
    }
}

/// Which application the card currently has selected, as far as this session knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ap {
    Jpki,
    Face,
    CardInfo,
}

impl Ap {
    fn aid(self) -> &'static [u8; 10] {
        match self {
            Ap::Jpki => &aid::JPKI,
            Ap::Face => &aid::FACE,
            Ap::CardInfo => &aid::CARD_INFO,
        }
    }
}

/// APDU helpers used inside one transaction.
struct Ops<'a> {
    t: &'a mut dyn Transport,
    selected: &'a mut Option<Ap>,
}

impl Ops<'_> {
    fn send(&mut self, apdu: &Apdu) -> Result<Response, CardError> {
        tracing::trace!(?apdu, "card command");
        let raw = self.t.transmit(&apdu.to_bytes())?;
        let resp = Response::parse(&raw)?;
        tracing::trace!(?resp, "card response");
        Ok(resp)
    }

    fn select_ap(&mut self, ap: Ap) -> Result<(), CardError> {
        *self.selected = None;
        let resp = self.send(&Apdu::select_df(ap.aid())?)?;
        match resp.sw {
            StatusWords::Success => {
                *self.selected = Some(ap);
                Ok(())
            }
            // A card without this application (or any reply but success) is not a My Number Card.
            _ => Err(CardError::NotMyNumberCard),
        }
    }

    fn ensure_ap(&mut self, ap: Ap) -> Result<(), CardError> {
        if *self.selected != Some(ap) {
            self.select_ap(ap)?;
        }
        Ok(())
    }

    fn select_ef(&mut self, fid: [u8; 2], what: &'static str) -> Result<(), CardError> {
        let resp = self.send(&Apdu::select_ef(fid))?;
        match resp.sw {
            StatusWords::Success => Ok(()),
            StatusWords::NotFound => Err(CardError::NotFound(what)),
            _ => Err(CardError::UnexpectedStatus {
                command: "SELECT EF",
                sw: resp.raw_sw,
            }),
        }
    }

    fn read_binary(&mut self, offset: usize, len: usize) -> Result<Response, CardError> {
        let offset = u16::try_from(offset).map_err(|_| CardError::Internal("offset"))?;
        let le = u8::try_from(len.min(255)).map_err(|_| CardError::Internal("length"))?;
        let resp = self.send(&Apdu::read_binary(offset, le)?)?;
        match resp.sw {
            StatusWords::Success => Ok(resp),
            StatusWords::SecurityNotSatisfied => Err(CardError::SecurityStatusNotSatisfied),
            _ => Err(CardError::UnexpectedStatus {
                command: "READ BINARY",
                sw: resp.raw_sw,
            }),
        }
    }

    /// Reads the current EF as one BER-TLV: 7 bytes for the header, then the rest in chunks of 255.
    fn read_tlv(&mut self) -> Result<Zeroizing<Vec<u8>>, CardError> {
        let head = self.read_binary(0, 7)?;
        let h = ber::parse_header(head.data())?;
        let total = h.total_len();
        if total > MAX_EF_LEN {
            return Err(CardError::MalformedResponse(
                "a data object on the card claims to be larger than an EF can be",
            ));
        }
        let mut out = Zeroizing::new(Vec::with_capacity(total));
        out.extend_from_slice(&head.data()[..head.data().len().min(total)]);
        while out.len() < total {
            let want = (total - out.len()).min(255);
            let chunk = self.read_binary(out.len(), want)?;
            if chunk.data().is_empty() {
                return Err(CardError::MalformedResponse(
                    "the card returned no data before the end of the object",
                ));
            }
            let take = chunk.data().len().min(want);
            out.extend_from_slice(&chunk.data()[..take]);
        }
        Ok(out)
    }

    /// VERIFY without data on the current key EF: tries left, no try used.
    fn key_state(&mut self) -> Result<PinState, CardError> {
        let resp = self.send(&Apdu::verify_status())?;
        match resp.sw {
            StatusWords::VerifyFail { tries } => Ok(PinState::TriesLeft(tries)),
            // Some cards answer 9000 to the counter query when the key is already verified.
            StatusWords::Success => Ok(PinState::TriesLeft(0xF)),
            StatusWords::Blocked => Ok(PinState::Blocked),
            StatusWords::ReferencedDataNotFound => Ok(PinState::NotSet),
            _ => Err(CardError::UnexpectedStatus {
                command: "VERIFY (counter)",
                sw: resp.raw_sw,
            }),
        }
    }

    /// VERIFY with a secret; returns the new state on failure.
    fn verify(&mut self, secret: &[u8]) -> Result<Result<(), PinState>, CardError> {
        let resp = self.send(&Apdu::verify(secret)?)?;
        match resp.sw {
            StatusWords::Success => Ok(Ok(())),
            StatusWords::VerifyFail { tries } => Ok(Err(PinState::TriesLeft(tries))),
            StatusWords::Blocked => Ok(Err(PinState::Blocked)),
            StatusWords::ReferencedDataNotFound => Ok(Err(PinState::NotSet)),
            _ => Err(CardError::UnexpectedStatus {
                command: "VERIFY",
                sw: resp.raw_sw,
            }),
        }
    }

    fn pin_state_checked(&mut self) -> Result<u8, CardError> {
        match self.key_state()? {
            PinState::TriesLeft(n) => Ok(n),
            PinState::Blocked => Err(CardError::PinBlocked),
            PinState::NotSet => Err(CardError::NoPinSet),
        }
    }

    /// Reads the counter first and refuses to use a try on a blocked key, then VERIFYs.
    fn verify_pin_checked(&mut self, pin: &Pin) -> Result<(), CardError> {
        self.pin_state_checked()?;
        match self.verify(pin.ascii())? {
            Ok(()) => Ok(()),
            Err(PinState::TriesLeft(n)) => Err(CardError::WrongPin { tries_left: n }),
            Err(PinState::Blocked) => Err(CardError::PinBlocked),
            Err(PinState::NotSet) => Err(CardError::NoPinSet),
        }
    }
}

/// A session with one card. Each method is one PC/SC transaction; on any error the session forgets which
/// application is selected, so the next call starts clean.
pub struct CardSession<T: Transport> {
    transport: T,
    selected: Option<Ap>,
    auth_verified: bool,
    /// The token identified is an iPhone's JPKI, which authenticates its holder itself (Face ID or the
    /// passcode before the tap): its authentication key signs with no VERIFY from the reader.
    device_authenticates: bool,
}

impl<T: Transport> fmt::Debug for CardSession<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CardSession")
            .field("selected", &self.selected)
            .field("auth_verified", &self.auth_verified)
            .finish_non_exhaustive()
    }
}

impl<T: Transport> CardSession<T> {
    pub fn new(transport: T) -> Self {
        Self {
            transport,
            selected: None,
            auth_verified: false,
            device_authenticates: false,
        }
    }

    pub fn into_transport(self) -> T {
        self.transport
    }

    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    fn exclusive<R>(
        &mut self,
        f: impl FnOnce(&mut Ops<'_>) -> Result<R, CardError>,
    ) -> Result<R, CardError> {
        let mut f = Some(f);
        let mut out = None;
        let selected = &mut self.selected;
        let result = self.transport.transaction(&mut |t| {
            let f = f
                .take()
                .ok_or(CardError::Internal("transaction body ran twice"))?;
            out = Some(f(&mut Ops { t, selected })?);
            Ok(())
        });
        if let Err(e) = result {
            self.selected = None;
            self.auth_verified = false;
            return Err(e);
        }
        out.ok_or(CardError::Internal("transaction body did not run"))
    }

    /// Checks that this is a My Number Card (by SELECT of the JPKI AP, not by ATR) and reads the token kind
    /// and the authentication PIN's state (no try used).
    pub fn identify(&mut self) -> Result<CardIdentity, CardError> {
        self.auth_verified = false;
        self.device_authenticates = false;
        let identity = self.exclusive(|o| {
            o.select_ap(Ap::Jpki)?;
            o.select_ef(fid::JPKI_TOKEN_INFO, "JPKI token information")?;
            let token = TokenKind::parse(o.read_binary(0, 32)?.data());
            o.select_ef(fid::JPKI_AUTH_PIN, "user-authentication PIN")?;
            let auth_pin = o.key_state()?;
            Ok(CardIdentity { token, auth_pin })
        })?;
        self.device_authenticates = identity.token == TokenKind::SmartphoneIos;
        Ok(identity)
    }

    /// The user-authentication certificate (DER), read without a PIN.
    pub fn auth_certificate(&mut self) -> Result<Vec<u8>, CardError> {
        self.exclusive(|o| {
            o.ensure_ap(Ap::Jpki)?;
            o.select_ef(fid::JPKI_AUTH_CERT, "user-authentication certificate")?;
            let der = o.read_tlv()?;
            Ok(der.to_vec())
        })
    }

    /// Tries left on the authentication PIN (no try used). Blocked and no-PIN cards are errors.
    pub fn pin_tries_left(&mut self) -> Result<u8, CardError> {
        self.exclusive(|o| {
            o.ensure_ap(Ap::Jpki)?;
            o.select_ef(fid::JPKI_AUTH_PIN, "user-authentication PIN")?;
            o.pin_state_checked()
        })
    }

    /// VERIFY the authentication PIN once. Reads the counter first: a blocked card is reported as
    /// [`CardError::PinBlocked`] without sending the PIN. Never retries.
    pub fn verify_pin(&mut self, pin: &Pin) -> Result<(), CardError> {
        self.auth_verified = false;
        // Re-select the AP: a fresh security state, and the key EF is found under the right DF.
        let r = self.exclusive(|o| {
            o.select_ap(Ap::Jpki)?;
            o.select_ef(fid::JPKI_AUTH_PIN, "user-authentication PIN")?;
            o.verify_pin_checked(pin)
        });
        self.auth_verified = r.is_ok();
        r
    }

    /// Signs the SHA-256 DigestInfo of `challenge` with the authentication key. Needs a successful
    /// [`verify_pin`](Self::verify_pin) earlier in this session, or an iPhone token found by
    /// [`identify`](Self::identify) (the phone authenticated its holder); the result verifies as an
    /// RSASSA-PKCS1-v1_5 SHA-256 signature over `challenge`.
    pub fn sign_challenge(&mut self, challenge: &[u8]) -> Result<Vec<u8>, CardError> {
        if !(self.auth_verified || self.device_authenticates) || self.selected != Some(Ap::Jpki) {
            return Err(CardError::SecurityStatusNotSatisfied);
        }
        let digest_info = sha256_digest_info(challenge);
        self.exclusive(|o| {
            // Not re-selecting the AP: that could drop the verified state.
            o.select_ef(fid::JPKI_AUTH_KEY, "user-authentication key")?;
            let resp = o.send(&Apdu::compute_signature(&digest_info)?)?;
            match resp.sw {
                StatusWords::Success if resp.data().len() == 256 => Ok(resp.data().to_vec()),
                StatusWords::Success => Err(CardError::MalformedResponse(
                    "the signature is not 256 bytes long",
                )),
                StatusWords::SecurityNotSatisfied => Err(CardError::SecurityStatusNotSatisfied),
                _ => Err(CardError::UnexpectedStatus {
                    command: "COMPUTE DIGITAL SIGNATURE",
                    sw: resp.raw_sw,
                }),
            }
        })
    }

    /// VERIFY and sign in one transaction, so no other program can come between them.
    pub fn verify_pin_and_sign(
        &mut self,
        pin: &Pin,
        challenge: &[u8],
    ) -> Result<Vec<u8>, CardError> {
        self.verify_pin(pin)?;
        self.sign_challenge(challenge)
    }

    /// Asks the reader's card-face scanner for 照合番号B ([`crate::apdu::Ins::ScanCardFace`]). `Ok(None)`
    /// when the reader has no scanner (the command is refused); the code never leaves the caller.
    pub fn scan_card_face(&mut self) -> Result<Option<VerificationCodeB>, CardError> {
        self.exclusive(|o| {
            let resp = o.send(&Apdu::scan_card_face())?;
            if !resp.is_success() {
                return Ok(None);
            }
            let digits = std::str::from_utf8(resp.data()).map_err(|_| {
                CardError::MalformedResponse("the card-face scanner answered non-digits")
            })?;
            VerificationCodeB::new(digits).map(Some)
        })
    }

    /// Unlocks the face AP with 照合番号B and reads the photo (JPEG 2000). Reads the counter first.
    pub fn read_face_photo(&mut self, code: &VerificationCodeB) -> Result<FacePhoto, CardError> {
        self.auth_verified = false;
        self.exclusive(|o| {
            o.select_ap(Ap::Face)?;
            o.select_ef(fid::FACE_CODE_B, "照合番号B key")?;
            match o.key_state()? {
                PinState::Blocked => return Err(CardError::VerificationCodeBlocked),
                PinState::NotSet => return Err(CardError::NotFound("照合番号B key")),
                PinState::TriesLeft(_) => {}
            }
            match o.verify(code.ascii())? {
                Ok(()) => {}
                Err(PinState::TriesLeft(n)) => {
                    return Err(CardError::WrongVerificationCode { tries_left: n });
                }
                Err(PinState::Blocked) => return Err(CardError::VerificationCodeBlocked),
                Err(PinState::NotSet) => return Err(CardError::NotFound("照合番号B key")),
            }
            o.select_ef(fid::FACE_RECORD, "card-face record")?;
            let record = o.read_tlv()?;
            let inner = ber::find(&record, tag::RECORD)?.ok_or(CardError::MalformedResponse(
                "the card-face record has no FF20",
            ))?;
            let photo =
                ber::find(inner, tag::FACE_PHOTO)?.ok_or(CardError::NotFound("face photo"))?;
            Ok(FacePhoto(Zeroizing::new(photo.to_vec())))
        })
    }

    /// Tries left on 照合番号B (no try used).
    pub fn verification_code_b_state(&mut self) -> Result<PinState, CardError> {
        self.exclusive(|o| {
            o.ensure_ap(Ap::Face)?;
            o.select_ef(fid::FACE_CODE_B, "照合番号B key")?;
            o.key_state()
        })
    }

    /// Tries left on the card-info AP's own PIN (no try used).
    pub fn card_info_pin_tries_left(&mut self) -> Result<u8, CardError> {
        self.exclusive(|o| {
            o.ensure_ap(Ap::CardInfo)?;
            o.select_ef(fid::CARD_INFO_PIN, "card-info PIN")?;
            o.pin_state_checked()
        })
    }

    /// The four facts (name, address, birth date, sex) from EF 0002 of the card-info AP, behind its PIN.
    /// Never touches EF 0001 (the 個人番号).
    pub fn four_facts(&mut self, pin: &Pin) -> Result<FourFacts, CardError> {
        self.auth_verified = false;
        self.exclusive(|o| {
            o.select_ap(Ap::CardInfo)?;
            o.select_ef(fid::CARD_INFO_PIN, "card-info PIN")?;
            o.verify_pin_checked(pin)?;
            o.select_ef(fid::CARD_INFO_FOUR_FACTS, "four-facts record")?;
            let record = o.read_tlv()?;
            FourFacts::parse(&record)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_kinds() {
        let mut ef = b"JPKIAPICCTOKEN2".to_vec();
        ef.resize(32, b' ');
        assert_eq!(TokenKind::parse(&ef), TokenKind::PhysicalCard);
        assert_eq!(
            TokenKind::parse(b"JPKIAPGPSETOKEN\0\0"),
            TokenKind::SmartphoneAndroid
        );
        assert_eq!(
            TokenKind::parse(b"XYZ"),
            TokenKind::Unknown("XYZ".to_owned())
        );
    }

    #[test]
    fn digest_info_is_51_bytes() {
        let di = sha256_digest_info(b"abc");
        assert_eq!(di.len(), 51);
        assert_eq!(&di[..19], &SHA256_DIGEST_INFO_PREFIX);
    }

    proptest::proptest! {
        #[test]
        fn card_records_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let _ = TokenKind::parse(&bytes);
            let _ = FourFacts::parse(&bytes);
            let _ = ber::find(&bytes, tag::RECORD);
        }
    }

    #[test]
    fn four_facts_parse_and_redact() {
        let inner = [
            ber::encode(0xDF21, &[0; 4]),
            ber::encode(tag::INFO_NAME, "山田 太郎".as_bytes()),
            ber::encode(tag::INFO_ADDRESS, "東京都".as_bytes()),
            ber::encode(tag::INFO_BIRTH_DATE, b"19800217"),
            ber::encode(tag::INFO_SEX, b"1"),
        ]
        .concat();
        let rec = ber::encode(tag::RECORD, &inner);
        let f = FourFacts::parse(&rec).unwrap();
        assert_eq!(f.name(), "山田 太郎");
        assert_eq!(f.sex, Sex::Male);
        assert!(!format!("{f:?}").contains("山田"));
    }
}
