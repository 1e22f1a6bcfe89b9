//! Command and response APDUs (ISO/IEC 7816-4, short form only) and the status words the card answers.
//!
//! Every command this crate sends is one of the forms in `reference/my-number-card.md` §1.1, which the
//! public implementations (jpki/myna, OpenSC `card-jpki.c`, jpki-rs, myna-card) agree on.

use std::fmt;

use zeroize::Zeroizing;

use crate::CardError;

/// Instruction bytes used with the My Number Card.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Ins {
    /// SELECT (ISO 7816-4 §11.1.1): `A4`.
    Select = 0xA4,
    /// READ BINARY with an offset in P1-P2 (ISO 7816-4 §11.2.3): `B0`.
    ReadBinary = 0xB0,
    /// VERIFY against the current EF's key (ISO 7816-4 §11.5.6): `20`. Without data it only reads the counter.
    Verify = 0x20,
    /// COMPUTE DIGITAL SIGNATURE (proprietary CLA `80`, JPKI): `2A`.
    ComputeDigitalSignature = 0x2A,
    /// SCAN CARD FACE (this project's reader pseudo-APDU, CLA `FF` as PC/SC part 3 reserves for the
    /// reader): `C6`. A reader with a card-face scanner answers the 14 digits of 照合番号B it read from the
    /// card front (OCR); a plain reader passes it to the card, which refuses the class (`6E00`) or the
    /// instruction (`6D00`). Certified face readers expose their scanner through vendor SDKs; the virtual
    /// reader of the tests and the demo answers this command.
    ScanCardFace = 0xC6,
}

impl Ins {
    pub fn from_byte(b: u8) -> Option<Self> {
        match b {
            0xA4 => Some(Self::Select),
            0xB0 => Some(Self::ReadBinary),
            0x20 => Some(Self::Verify),
            0x2A => Some(Self::ComputeDigitalSignature),
            0xC6 => Some(Self::ScanCardFace),
            _ => None,
        }
    }
}

/// A command APDU. Its data may be a PIN, so it zeroizes on drop and `Debug` never shows the data of VERIFY.
#[derive(Clone, PartialEq, Eq)]
pub struct Apdu {
    pub cla: u8,
    pub ins: Ins,
    pub p1: u8,
    pub p2: u8,
    data: Zeroizing<Vec<u8>>,
    /// Expected response length; `Some(0)` means 256.
    pub le: Option<u8>,
}

impl Apdu {
    pub fn new(cla: u8, ins: Ins, p1: u8, p2: u8) -> Self {
        Self {
            cla,
            ins,
            p1,
            p2,
            data: Zeroizing::new(Vec::new()),
            le: None,
        }
    }

    /// Attaches command data (at most 255 bytes in the short form).
    pub fn with_data(mut self, data: &[u8]) -> Result<Self, CardError> {
        if data.len() > 255 {
            return Err(CardError::Internal("command data longer than 255 bytes"));
        }
        self.data = Zeroizing::new(data.to_vec());
        Ok(self)
    }

    pub fn with_le(mut self, le: u8) -> Self {
        self.le = Some(le);
        self
    }

    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// `FF C6 00 00 0E`: ask the reader's card-face scanner for 照合番号B ([`Ins::ScanCardFace`]).
    pub fn scan_card_face() -> Self {
        Self::new(0xFF, Ins::ScanCardFace, 0x00, 0x00).with_le(14)
    }

    /// `00 A4 04 0C 0A <AID>`: select an application by DF name, no FCI returned.
    pub fn select_df(aid: &[u8]) -> Result<Self, CardError> {
        Self::new(0x00, Ins::Select, 0x04, 0x0C).with_data(aid)
    }

    /// `00 A4 02 0C 02 <FID>`: select an EF under the current DF, no FCI returned.
    pub fn select_ef(fid: [u8; 2]) -> Self {
        Self {
            data: Zeroizing::new(fid.to_vec()),
            ..Self::new(0x00, Ins::Select, 0x02, 0x0C)
        }
    }

    /// `00 B0 <offset> <len>`: read the current EF. Offsets above 0x7FFF would switch P1 to SFI mode.
    pub fn read_binary(offset: u16, len: u8) -> Result<Self, CardError> {
        if offset > 0x7FFF {
            return Err(CardError::Internal("READ BINARY offset above 0x7FFF"));
        }
        let [p1, p2] = offset.to_be_bytes();
        Ok(Self::new(0x00, Ins::ReadBinary, p1, p2).with_le(len))
    }

    /// `00 20 00 80`: ask the current key's retry counter without using a try.
    pub fn verify_status() -> Self {
        Self::new(0x00, Ins::Verify, 0x00, 0x80)
    }

    /// `00 20 00 80 <Lc> <ASCII digits>`: present a PIN to the current key EF.
    pub fn verify(secret: &[u8]) -> Result<Self, CardError> {
        Self::new(0x00, Ins::Verify, 0x00, 0x80).with_data(secret)
    }

    /// `80 2A 00 80 <Lc> <DigestInfo> 00`: sign with the current key EF (card applies PKCS#1 v1.5 padding).
    pub fn compute_signature(digest_info: &[u8]) -> Result<Self, CardError> {
        Ok(Self::new(0x80, Ins::ComputeDigitalSignature, 0x00, 0x80)
            .with_data(digest_info)?
            .with_le(0))
    }

    /// Serialises to the bytes sent to the card (zeroized when dropped).
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(6 + self.data.len()));
        out.extend_from_slice(&[self.cla, self.ins as u8, self.p1, self.p2]);
        if !self.data.is_empty() {
            // with_data() guarantees len <= 255
            out.push(self.data.len() as u8);
            out.extend_from_slice(&self.data);
        }
        if let Some(le) = self.le {
            out.push(le);
        }
        out
    }
}

impl fmt::Debug for Apdu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Apdu");
        d.field("cla", &format_args!("{:02X}", self.cla))
            .field("ins", &self.ins)
            .field("p1", &format_args!("{:02X}", self.p1))
            .field("p2", &format_args!("{:02X}", self.p2));
        match self.ins {
            Ins::Select => d.field("data", &format_args!("{}", hex(&self.data))),
            _ => d.field("data_len", &self.data.len()),
        };
        d.field("le", &self.le).finish()
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// Status words (SW1-SW2) with a meaning for this card.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StatusWords {
    /// `9000`
    Success,
    /// `63Cx` with x > 0: wrong PIN, or the answer to a counter query; `tries` left.
    VerifyFail { tries: u8 },
    /// `63C0` or `6983`/`6984`: the key is blocked (only the municipal office can unlock it).
    Blocked,
    /// `6982`: security status not satisfied (e.g. signing before VERIFY).
    SecurityNotSatisfied,
    /// `6A82`: file or application not found.
    NotFound,
    /// `6A88`: referenced data not found. The virtual card answers this when no PIN is set (face-only card).
    ReferencedDataNotFound,
    /// `6700`: wrong length.
    WrongLength,
    /// `6B00`: wrong P1-P2 (e.g. offset beyond the end of the EF).
    WrongParameters,
    /// `6986`: command not allowed (e.g. no current EF).
    NotAllowed,
    /// `6D00`: instruction not supported.
    InsNotSupported,
    /// `6E00`: class not supported.
    ClaNotSupported,
    /// `6A80`: incorrect data in the command.
    IncorrectData,
    /// Anything else, raw.
    Other(u16),
}

impl StatusWords {
    pub fn from_u16(sw: u16) -> Self {
        match sw {
            0x9000 => Self::Success,
            0x63C0 | 0x6983 | 0x6984 => Self::Blocked,
            0x63C1..=0x63CF => Self::VerifyFail {
                tries: (sw & 0x0F) as u8,
            },
            0x6982 => Self::SecurityNotSatisfied,
            0x6A82 => Self::NotFound,
            0x6A88 => Self::ReferencedDataNotFound,
            0x6700 => Self::WrongLength,
            0x6B00 => Self::WrongParameters,
            0x6986 => Self::NotAllowed,
            0x6D00 => Self::InsNotSupported,
            0x6E00 => Self::ClaNotSupported,
            0x6A80 => Self::IncorrectData,
            other => Self::Other(other),
        }
    }

    /// The canonical status word (Blocked maps to `6984`, the answer of a VERIFY to a blocked key).
    pub fn to_u16(self) -> u16 {
        match self {
            Self::Success => 0x9000,
            Self::VerifyFail { tries } => 0x63C0 | u16::from(tries.min(15)),
            Self::Blocked => 0x6984,
            Self::SecurityNotSatisfied => 0x6982,
            Self::NotFound => 0x6A82,
            Self::ReferencedDataNotFound => 0x6A88,
            Self::WrongLength => 0x6700,
            Self::WrongParameters => 0x6B00,
            Self::NotAllowed => 0x6986,
            Self::InsNotSupported => 0x6D00,
            Self::ClaNotSupported => 0x6E00,
            Self::IncorrectData => 0x6A80,
            Self::Other(sw) => sw,
        }
    }
}

/// A response APDU: data (zeroized on drop, never printed) and status words.
pub struct Response {
    data: Zeroizing<Vec<u8>>,
    pub sw: StatusWords,
    pub raw_sw: u16,
}

impl Response {
    /// Splits raw response bytes into data and SW1-SW2. Fewer than 2 bytes is a malformed answer.
    pub fn parse(raw: &[u8]) -> Result<Self, CardError> {
        let n = raw.len();
        if n < 2 {
            return Err(CardError::MalformedResponse(
                "the card answered fewer than 2 bytes",
            ));
        }
        let raw_sw = u16::from_be_bytes([raw[n - 2], raw[n - 1]]);
        Ok(Self {
            data: Zeroizing::new(raw[..n - 2].to_vec()),
            sw: StatusWords::from_u16(raw_sw),
            raw_sw,
        })
    }

    pub fn data(&self) -> &[u8] {
        &self.data
    }

    pub fn is_success(&self) -> bool {
        self.sw == StatusWords::Success
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("data_len", &self.data.len())
            .field("sw", &format_args!("{:04X}", self.raw_sw))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn encodes_reference_forms() {
        let aid = [0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01];
        let sel = Apdu::select_df(&aid).unwrap().to_bytes();
        assert_eq!(&sel[..5], &[0x00, 0xA4, 0x04, 0x0C, 0x0A]);
        assert_eq!(&sel[5..], &aid);
        assert_eq!(
            &*Apdu::select_ef([0x00, 0x18]).to_bytes(),
            &[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x18]
        );
        assert_eq!(
            &*Apdu::read_binary(0x0105, 7).unwrap().to_bytes(),
            &[0x00, 0xB0, 0x01, 0x05, 0x07]
        );
        assert!(Apdu::read_binary(0x8000, 1).is_err());
        assert_eq!(
            &*Apdu::verify_status().to_bytes(),
            &[0x00, 0x20, 0x00, 0x80]
        );
        assert_eq!(
            &*Apdu::verify(b"1234").unwrap().to_bytes(),
            &[0x00, 0x20, 0x00, 0x80, 0x04, 0x31, 0x32, 0x33, 0x34]
        );
        let sig = Apdu::compute_signature(&[1, 2, 3]).unwrap().to_bytes();
        assert_eq!(&*sig, &[0x80, 0x2A, 0x00, 0x80, 0x03, 1, 2, 3, 0x00]);
    }

    #[test]
    fn verify_debug_hides_pin() {
        let s = format!("{:?}", Apdu::verify(b"1234").unwrap());
        assert!(!s.contains("31") && !s.contains("1234"), "{s}");
    }

    #[test]
    fn status_words_decode() {
        assert_eq!(
            StatusWords::from_u16(0x63C2),
            StatusWords::VerifyFail { tries: 2 }
        );
        assert_eq!(StatusWords::from_u16(0x63C0), StatusWords::Blocked);
        assert_eq!(StatusWords::from_u16(0x6984), StatusWords::Blocked);
        assert_eq!(StatusWords::from_u16(0x6A82), StatusWords::NotFound);
        assert_eq!(StatusWords::from_u16(0x1234), StatusWords::Other(0x1234));
    }

    proptest! {
        #[test]
        fn response_parse_never_panics(raw in proptest::collection::vec(any::<u8>(), 0..300)) {
            match Response::parse(&raw) {
                Ok(r) => prop_assert_eq!(r.data().len() + 2, raw.len()),
                Err(_) => prop_assert!(raw.len() < 2),
            }
        }

        #[test]
        fn status_words_round_trip(sw in any::<u16>()) {
            let s = StatusWords::from_u16(sw);
            // Blocked has three encodings; every other variant round-trips exactly.
            if s != StatusWords::Blocked {
                prop_assert_eq!(s.to_u16(), sw);
            }
        }
    }
}
