//! The card itself: every application and EF a My Number Card has (reference §1.2, §1.4-§1.6), PIN
//! counters, two signing keys, and an APDU interpreter that answers like the card.
//!
//! Behaviour modelled, and why:
//! - SELECT DF (`00 A4 04 0C`) clears every verified state, as ISO 7816-4 allows a card to do; the card layer
//!   must therefore not re-select the JPKI AP between VERIFY and signing.
//! - VERIFY without data answers `63Cx` (tries left, none used), `63C0` when blocked, `6A88` when the key has
//!   no PIN set (the face-only card: this is the project's convention, see `myna-card`'s crate docs).
//!   VERIFY with data on a blocked key answers `6984`; a wrong PIN decrements and answers `63Cx`; a right one
//!   resets the counter and answers `9000`.
//! - READ BINARY past the end answers `6B00`; protected EFs answer `6982` until one of their keys is verified.
//!   READ BINARY also takes a short EF identifier (P1 bit 8 set, SFI = the FID's low byte), which selects it.
//! - Signing (`80 2A 00 80`) pads the DigestInfo with PKCS#1 v1.5 and signs with the selected key EF: the
//!   利用者証明用 key `0017` after PIN `0018` (4 digits, 3 tries), the 署名用 key `001A` after the signature
//!   password `001B` (6-16 upper-case letters and digits, 5 tries).
//! - READ RECORD (`00 B2`) serves the record of the 共通AP (reference §1.6).
//!
//! **The 個人番号 guard.** The card-info AP's EF `0001` holds the 個人番号, and its 照合番号A key (`0014`),
//! like the face AP's (`0013`) and the face AP's rendered number image (`0005`), carries the same number.
//! The virtual card holds an invalid all-nines placeholder there and records every command that names one of
//! those EFs while their AP is selected, however it is encoded (SELECT by FID or by path with any P1/P2,
//! READ BINARY or READ RECORD by short EF identifier, the odd-INS READ BINARY with a FID in P1-P2, a VERIFY
//! or signing key reference in P2, any class byte), whether or not the card then answers it. Tests read
//! [`VirtualCard::my_number_accesses`] and assert it stays empty. The same FIDs in other APs (JPKI `0001` is
//! the signature certificate) are ordinary EFs.

use std::collections::BTreeMap;

use myna_card::session::{aid, fid};
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use zeroize::Zeroizing;

/// The ATR listed for the JPKI card in OpenSC's `card-jpki.c`. Only for realism: the card layer identifies
/// cards by SELECT, never by ATR.
pub const ATR: [u8; 9] = [0x3B, 0xE0, 0x00, 0xFF, 0x81, 0x31, 0xFE, 0x45, 0x14];

/// The 共通AP (reference §1.6: myna calls it "unknown", myna-card 共通AP / 住基AP).
pub const AID_COMMON: [u8; 10] = [0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x01, 0x00];

/// EFs the card layer (`myna_card::session::fid`) does not name, by AP (reference §5).
pub mod ef {
    /// JPKI: CA certificate of the authentication certificate.
    pub const JPKI_AUTH_CA: [u8; 2] = [0x00, 0x0B];
    /// JPKI: 署名用電子証明書 (names the holder; behind the signature password).
    pub const JPKI_SIGN_CERT: [u8; 2] = [0x00, 0x01];
    /// JPKI: CA certificate of the signature certificate.
    pub const JPKI_SIGN_CA: [u8; 2] = [0x00, 0x02];
    /// JPKI: which certificates the card carries (3 bytes).
    pub const JPKI_CERT_MAP: [u8; 2] = [0x00, 0x08];
    /// JPKI: terminal CA key reference of the proprietary `80 A2` command.
    pub const JPKI_TERMINAL_CA: [u8; 2] = [0x00, 0x16];
    /// JPKI: 署名用秘密鍵.
    pub const JPKI_SIGN_KEY: [u8; 2] = [0x00, 0x1A];
    /// JPKI: signature password, 6-16 upper-case letters and digits, 5 tries.
    pub const JPKI_SIGN_PIN: [u8; 2] = [0x00, 0x1B];

    /// Card-info AP: **個人番号** (never read by the product).
    pub const INFO_MY_NUMBER: [u8; 2] = [0x00, 0x01];
    /// Card-info AP: digests of the 個人番号 and the attributes, and a signature.
    pub const INFO_SIGNATURE: [u8; 2] = [0x00, 0x03];
    /// Card-info AP: this AP's certificate.
    pub const INFO_AP_CERT: [u8; 2] = [0x00, 0x04];
    /// Card-info AP: basic info (AP id, key id), open.
    pub const INFO_BASIC: [u8; 2] = [0x00, 0x05];
    /// Card-info AP: a key reference found blocked on every examined card.
    pub const INFO_BLOCKED_KEY: [u8; 2] = [0x00, 0x12];
    /// Card-info AP: 照合番号A key (= the 個人番号; never used by the product).
    pub const INFO_CODE_A: [u8; 2] = [0x00, 0x14];
    /// Card-info AP: 照合番号B key.
    pub const INFO_CODE_B: [u8; 2] = [0x00, 0x15];

    /// Face AP: the age record, opened by the birth-date key.
    pub const FACE_AGE: [u8; 2] = [0x00, 0x01];
    /// Face AP: AP basic data, open.
    pub const FACE_BASIC: [u8; 2] = [0x00, 0x03];
    /// Face AP: AP certificate, open.
    pub const FACE_AP_CERT: [u8; 2] = [0x00, 0x04];
    /// Face AP: the 個人番号 rendered as an image (照合番号A only; never read by the product).
    pub const FACE_MY_NUMBER_IMAGE: [u8; 2] = [0x00, 0x05];
    /// Face AP: birth-date key (和暦 YYMMDD).
    pub const FACE_BIRTH_KEY: [u8; 2] = [0x00, 0x11];
    /// Face AP: 照合番号A key (= the 個人番号; never used by the product).
    pub const FACE_CODE_A: [u8; 2] = [0x00, 0x13];
}

/// The EFs that hold or are keyed by the 個人番号, by AP: any command naming one is recorded.
pub const MY_NUMBER_EFS: [([u8; 10], [u8; 2]); 4] = [
    (aid::CARD_INFO, ef::INFO_MY_NUMBER),
    (aid::CARD_INFO, ef::INFO_CODE_A),
    (aid::FACE, ef::FACE_CODE_A),
    (aid::FACE, ef::FACE_MY_NUMBER_IMAGE),
];

/// The placeholder in place of a 個人番号: twelve nines, which fails the number's check digit.
const MY_NUMBER_PLACEHOLDER: &[u8; 12] = b"999999999999";

const SW_OK: u16 = 0x9000;
const SW_WRONG_LENGTH: u16 = 0x6700;
const SW_SECURITY: u16 = 0x6982;
const SW_BLOCKED: u16 = 0x6984;
const SW_NOT_ALLOWED: u16 = 0x6986;
const SW_INCORRECT_DATA: u16 = 0x6A80;
const SW_FUNC_NOT_SUPPORTED: u16 = 0x6A81;
const SW_NOT_FOUND: u16 = 0x6A82;
const SW_RECORD_NOT_FOUND: u16 = 0x6A83;
const SW_NO_REFERENCE: u16 = 0x6A88;
const SW_WRONG_P1P2: u16 = 0x6B00;
const SW_INS: u16 = 0x6D00;
const SW_CLA: u16 = 0x6E00;

/// A key EF holding a secret with a retry counter.
#[derive(Clone)]
pub struct PinKey {
    /// `None`: no PIN set on this card (face-only card).
    secret: Option<Zeroizing<Vec<u8>>>,
    tries_left: u8,
    max_tries: u8,
}

impl PinKey {
    pub fn new(secret: Option<&str>, max_tries: u8) -> Self {
        Self {
            secret: secret.map(|s| Zeroizing::new(s.as_bytes().to_vec())),
            tries_left: max_tries,
            max_tries,
        }
    }

    pub fn blocked(mut self) -> Self {
        self.tries_left = 0;
        self
    }

    pub fn tries_left(&self) -> u8 {
        self.tries_left
    }
}

/// Which verified state an EF needs before it can be read or used.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Guard {
    Open,
    /// Needs one of these key EFs (in the same DF) to have been verified since the DF was selected.
    AnyOf(Vec<[u8; 2]>),
}

impl Guard {
    fn key(k: [u8; 2]) -> Self {
        Self::AnyOf(vec![k])
    }

    fn allows(&self, verified: &[[u8; 2]]) -> bool {
        match self {
            Guard::Open => true,
            Guard::AnyOf(keys) => keys.iter().any(|k| verified.contains(k)),
        }
    }
}

#[derive(Clone)]
enum Ef {
    Binary {
        data: Zeroizing<Vec<u8>>,
        guard: Guard,
    },
    Records {
        records: Vec<Vec<u8>>,
        guard: Guard,
    },
    Pin(PinKey),
    SigningKey {
        key: Box<RsaPrivateKey>,
        guard: Guard,
    },
}

/// The 署名用 side of the JPKI AP: certificate, its CA, key and the signature password.
#[derive(Clone)]
pub struct SignatureSide {
    pub cert_der: Vec<u8>,
    pub ca_cert_der: Vec<u8>,
    pub key: RsaPrivateKey,
    /// 6-16 upper-case letters and digits, 5 tries.
    pub password: PinKey,
}

/// The contents of one virtual card.
#[derive(Clone)]
pub struct CardContents {
    pub token_info: Vec<u8>,
    pub auth_cert_der: Vec<u8>,
    pub ca_cert_der: Vec<u8>,
    pub auth_key: RsaPrivateKey,
    pub auth_pin: PinKey,
    /// The holder was authenticated by the device itself (the iPhone's JPKI: Face ID or the phone's passcode
    /// before the tap), so the authentication key signs without a VERIFY from the reader.
    pub auth_by_device: bool,
    /// `None` on a card without a signature certificate (a 顔認証マイナンバーカード): its signature
    /// password EF exists with no password set.
    pub signature: Option<SignatureSide>,
    pub card_info_pin: PinKey,
    /// 照合番号B (14 digits): the face AP's key and the card-info AP's, each with its own counter of 10.
    pub code_b: PinKey,
    /// The whole face record EF (FF20 …), photo included.
    pub face_record: Vec<u8>,
    /// The whole four-facts EF (FF20 …).
    pub four_facts_record: Vec<u8>,
    /// The card's manufacture serial, served by the 共通AP's record 1.
    pub card_serial: Vec<u8>,
}

/// How a command named one of the [`MY_NUMBER_EFS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessKind {
    /// SELECT by file identifier (P1 `00` or `02`), any P2.
    SelectByFid,
    /// SELECT by path (P1 `08` or `09`) ending in the EF.
    SelectByPath,
    /// READ BINARY (`B0`) with the EF's short identifier in P1.
    ReadBinaryBySfi,
    /// READ BINARY with the odd INS (`B1`) and the EF's identifier in P1-P2.
    ReadBinaryOddIns,
    /// READ RECORD (`B2`) with the EF's short identifier in P2.
    ReadRecordBySfi,
    /// A command on the current EF while it is one of them (READ BINARY, VERIFY, …).
    CurrentEf,
    /// VERIFY, CHANGE REFERENCE DATA or a signature with the EF as key reference in P2.
    KeyReference,
}

/// One recorded command naming a 個人番号 EF (the command's bytes are not kept: a VERIFY of 照合番号A
/// would carry the number).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MyNumberAccess {
    pub aid: [u8; 10],
    pub fid: [u8; 2],
    pub ins: u8,
    pub kind: AccessKind,
}

impl std::fmt::Display for MyNumberAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ap = if self.aid == aid::CARD_INFO {
            "card-info AP"
        } else {
            "face AP"
        };
        write!(
            f,
            "{ap} EF {:02X}{:02X} by INS {:02X} ({:?})",
            self.fid[0], self.fid[1], self.ins, self.kind
        )
    }
}

/// A stateful virtual My Number Card.
#[derive(Clone)]
pub struct VirtualCard {
    dfs: BTreeMap<[u8; 10], BTreeMap<[u8; 2], Ef>>,
    current_df: Option<[u8; 10]>,
    current_ef: Option<[u8; 2]>,
    /// Key EFs verified since the DF was selected (cleared on any SELECT DF and on reset).
    verified: Vec<[u8; 2]>,
    /// The virtual reader holding the card has a card-face scanner (answers `FF C6`).
    card_face_scanner: bool,
    /// Every command that named a 個人番号 EF (kept across resets: it is the test's evidence).
    my_number_accesses: Vec<MyNumberAccess>,
}

impl std::fmt::Debug for VirtualCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualCard")
            .field("current_df", &self.current_df.map(|d| format!("{d:02X?}")))
            .field("current_ef", &self.current_ef)
            .finish_non_exhaustive()
    }
}

fn pad_token(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.resize(32, b' ');
    v
}

/// The token-info text of a physical card.
pub fn token_physical() -> Vec<u8> {
    pad_token("JPKIAPICCTOKEN2")
}

/// The token-info text of the Android smartphone JPKI.
pub fn token_smartphone() -> Vec<u8> {
    pad_token("JPKIAPGPSETOKEN")
}

/// The token-info text of the iPhone JPKI.
pub fn token_iphone() -> Vec<u8> {
    pad_token("JPKIAPIOSTOKEN")
}

/// The short EF identifier of a FID: its low five bits when the FID is `00 01`..`00 1E` (ISO 7816-4 §7.2.2
/// lets a card choose; this card follows the common convention).
fn sfi_of(fid: [u8; 2]) -> Option<u8> {
    (fid[0] == 0 && (1..=0x1E).contains(&fid[1])).then_some(fid[1])
}

impl VirtualCard {
    pub fn new(c: CardContents) -> Self {
        let bin = |data: Vec<u8>, guard| Ef::Binary {
            data: Zeroizing::new(data),
            guard,
        };
        let tlv = myna_card::ber::encode;

        // 公的個人認証AP (reference §1.2)
        let mut jpki = BTreeMap::new();
        jpki.insert(fid::JPKI_TOKEN_INFO, bin(c.token_info, Guard::Open));
        jpki.insert(fid::JPKI_AUTH_CERT, bin(c.auth_cert_der, Guard::Open));
        jpki.insert(ef::JPKI_AUTH_CA, bin(c.ca_cert_der, Guard::Open));
        jpki.insert(
            fid::JPKI_AUTH_KEY,
            Ef::SigningKey {
                key: Box::new(c.auth_key),
                guard: if c.auth_by_device {
                    Guard::Open
                } else {
                    Guard::key(fid::JPKI_AUTH_PIN)
                },
            },
        );
        jpki.insert(fid::JPKI_AUTH_PIN, Ef::Pin(c.auth_pin));
        let has_signature = c.signature.is_some();
        match c.signature {
            Some(sig) => {
                jpki.insert(
                    ef::JPKI_SIGN_CERT,
                    bin(sig.cert_der, Guard::key(ef::JPKI_SIGN_PIN)),
                );
                jpki.insert(ef::JPKI_SIGN_CA, bin(sig.ca_cert_der, Guard::Open));
                jpki.insert(
                    ef::JPKI_SIGN_KEY,
                    Ef::SigningKey {
                        key: Box::new(sig.key),
                        guard: Guard::key(ef::JPKI_SIGN_PIN),
                    },
                );
                jpki.insert(ef::JPKI_SIGN_PIN, Ef::Pin(sig.password));
            }
            None => {
                jpki.insert(ef::JPKI_SIGN_PIN, Ef::Pin(PinKey::new(None, 5)));
            }
        }
        // Synthetic: the layout of these two is documented by one source only (myna-card).
        jpki.insert(
            ef::JPKI_CERT_MAP,
            bin(vec![0x01, u8::from(has_signature), 0x01], Guard::Open),
        );
        jpki.insert(
            ef::JPKI_TERMINAL_CA,
            bin(tlv(0x04, b"OQS mock terminal CA key"), Guard::Open),
        );

        // 券面AP (reference §1.5). The birth-date key is the first six digits of 照合番号B.
        let birth_key = c
            .code_b
            .secret
            .as_ref()
            .and_then(|s| s.get(..6))
            .map(|s| String::from_utf8_lossy(s).into_owned());
        let mut face = BTreeMap::new();
        face.insert(fid::FACE_CODE_B, Ef::Pin(c.code_b.clone()));
        face.insert(
            ef::FACE_CODE_A,
            Ef::Pin(PinKey::new(
                Some(std::str::from_utf8(MY_NUMBER_PLACEHOLDER).unwrap_or_default()),
                10,
            )),
        );
        face.insert(
            ef::FACE_BIRTH_KEY,
            Ef::Pin(PinKey::new(birth_key.as_deref(), 10)),
        );
        face.insert(
            fid::FACE_RECORD,
            bin(
                c.face_record,
                Guard::AnyOf(vec![fid::FACE_CODE_B, ef::FACE_CODE_A]),
            ),
        );
        face.insert(
            ef::FACE_AGE,
            bin(
                tlv(0xFF20, &tlv(0xDF21, b"adult")),
                Guard::key(ef::FACE_BIRTH_KEY),
            ),
        );
        face.insert(
            ef::FACE_MY_NUMBER_IMAGE,
            bin(
                tlv(0xFF20, MY_NUMBER_PLACEHOLDER),
                Guard::key(ef::FACE_CODE_A),
            ),
        );
        face.insert(
            ef::FACE_BASIC,
            bin(tlv(0xFF20, &tlv(0xDF21, b"face AP")), Guard::Open),
        );
        face.insert(
            ef::FACE_AP_CERT,
            bin(tlv(0x30, b"OQS mock face AP certificate"), Guard::Open),
        );

        // 券面事項入力補助AP (reference §1.4)
        let info_keys = || Guard::AnyOf(vec![fid::CARD_INFO_PIN, ef::INFO_CODE_A, ef::INFO_CODE_B]);
        let mut code_b_info = c.code_b;
        code_b_info.tries_left = code_b_info.max_tries;
        let mut info = BTreeMap::new();
        info.insert(fid::CARD_INFO_PIN, Ef::Pin(c.card_info_pin));
        info.insert(
            ef::INFO_CODE_A,
            Ef::Pin(PinKey::new(
                Some(std::str::from_utf8(MY_NUMBER_PLACEHOLDER).unwrap_or_default()),
                10,
            )),
        );
        info.insert(ef::INFO_CODE_B, Ef::Pin(code_b_info));
        info.insert(
            ef::INFO_BLOCKED_KEY,
            Ef::Pin(PinKey::new(Some(""), 3).blocked()),
        );
        info.insert(
            fid::CARD_INFO_FOUR_FACTS,
            bin(c.four_facts_record, info_keys()),
        );
        info.insert(
            ef::INFO_MY_NUMBER,
            bin(tlv(0x10, MY_NUMBER_PLACEHOLDER), info_keys()),
        );
        info.insert(
            ef::INFO_SIGNATURE,
            bin(tlv(0x30, b"OQS mock digests and signature"), info_keys()),
        );
        info.insert(
            ef::INFO_AP_CERT,
            bin(tlv(0x30, b"OQS mock card-info AP certificate"), Guard::Open),
        );
        info.insert(
            ef::INFO_BASIC,
            bin(tlv(0xFF20, &tlv(0xDF21, b"card-info AP")), Guard::Open),
        );

        // 共通AP (reference §1.6): record 1 of SFI 1 is the card's serial.
        let mut common = BTreeMap::new();
        common.insert(
            [0x00, 0x01],
            Ef::Records {
                records: vec![c.card_serial],
                guard: Guard::Open,
            },
        );

        let mut dfs = BTreeMap::new();
        dfs.insert(aid::JPKI, jpki);
        dfs.insert(aid::FACE, face);
        dfs.insert(aid::CARD_INFO, info);
        dfs.insert(AID_COMMON, common);
        Self {
            dfs,
            current_df: None,
            current_ef: None,
            verified: Vec::new(),
            card_face_scanner: true,
            my_number_accesses: Vec::new(),
        }
    }

    pub fn atr(&self) -> &'static [u8] {
        &ATR
    }

    /// Power cycle or reset: volatile state goes, counters stay (they live in the chip's EEPROM).
    pub fn reset(&mut self) {
        self.current_df = None;
        self.current_ef = None;
        self.verified.clear();
    }

    fn pin(&self, df: [u8; 10], ef: [u8; 2]) -> Option<&PinKey> {
        match self.dfs.get(&df)?.get(&ef)? {
            Ef::Pin(p) => Some(p),
            _ => None,
        }
    }

    /// The card as held by a plain reader: no card-face scanner, so `FF C6` is refused like any unknown
    /// class.
    pub fn without_card_face_scanner(mut self) -> Self {
        self.card_face_scanner = false;
        self
    }

    /// Tries left on the authentication PIN (for tests).
    pub fn auth_pin_tries(&self) -> Option<u8> {
        self.pin(aid::JPKI, fid::JPKI_AUTH_PIN)
            .map(PinKey::tries_left)
    }

    /// Tries left on the signature password (for tests).
    pub fn sign_pin_tries(&self) -> Option<u8> {
        self.pin(aid::JPKI, ef::JPKI_SIGN_PIN)
            .map(PinKey::tries_left)
    }

    /// Tries left on 照合番号B (for tests).
    pub fn code_b_tries(&self) -> Option<u8> {
        self.pin(aid::FACE, fid::FACE_CODE_B)
            .map(PinKey::tries_left)
    }

    /// Every command so far that named one of the [`MY_NUMBER_EFS`]. Tests assert this is empty.
    pub fn my_number_accesses(&self) -> &[MyNumberAccess] {
        &self.my_number_accesses
    }

    /// Answers one command APDU with response data ‖ SW1 SW2. Never panics, whatever the bytes.
    pub fn process(&mut self, apdu: &[u8]) -> Zeroizing<Vec<u8>> {
        self.audit(apdu);
        let (data, sw) = match self.dispatch(apdu) {
            Ok(data) => (data, SW_OK),
            Err(sw) => (Vec::new(), sw),
        };
        let mut out = Zeroizing::new(data);
        out.extend_from_slice(&sw.to_be_bytes());
        out
    }

    /// Records a command that names a 個人番号 EF of the selected AP. Works on the raw bytes (header and,
    /// for short or extended Lc, the data) so that no encoding slips past a stricter parser.
    fn audit(&mut self, apdu: &[u8]) {
        let Some(df) = self.current_df else { return };
        let [_cla, ins, p1, p2, body @ ..] = apdu else {
            return;
        };
        let (ins, p1, p2) = (*ins, *p1, *p2);
        let data: &[u8] = match body {
            [0, hi, lo, rest @ ..] if rest.len() >= usize::from(u16::from_be_bytes([*hi, *lo])) => {
                &rest[..usize::from(u16::from_be_bytes([*hi, *lo]))]
            }
            [lc, rest @ ..] if *lc != 0 && rest.len() >= usize::from(*lc) => {
                &rest[..usize::from(*lc)]
            }
            _ => &[],
        };
        let current = self.current_ef;
        let mut hits = Vec::new();
        for (ap, fid) in MY_NUMBER_EFS {
            if ap != df {
                continue;
            }
            let sfi = sfi_of(fid);
            let kind = match ins {
                0xA4 if matches!(p1, 0x00 | 0x02) && data == fid => Some(AccessKind::SelectByFid),
                0xA4 if matches!(p1, 0x08 | 0x09) && data.len() >= 2 && data.ends_with(&fid) => {
                    Some(AccessKind::SelectByPath)
                }
                0xB0 if p1 & 0x80 != 0 && Some(p1 & 0x1F) == sfi => {
                    Some(AccessKind::ReadBinaryBySfi)
                }
                0xB1 if [p1, p2] == fid => Some(AccessKind::ReadBinaryOddIns),
                0xB2 | 0xB3 if Some(p2 >> 3) == sfi => Some(AccessKind::ReadRecordBySfi),
                0x20 | 0x24 | 0x2C | 0x2A | 0x88
                    if p2 & 0x80 != 0 && p2 != 0x80 && Some(p2 & 0x1F) == sfi =>
                {
                    Some(AccessKind::KeyReference)
                }
                0xA4 => None,
                _ if current == Some(fid) => Some(AccessKind::CurrentEf),
                _ => None,
            };
            if let Some(kind) = kind {
                hits.push(MyNumberAccess {
                    aid: ap,
                    fid,
                    ins,
                    kind,
                });
            }
        }
        self.my_number_accesses.extend(hits);
    }

    fn dispatch(&mut self, apdu: &[u8]) -> Result<Vec<u8>, u16> {
        let cmd = Command::parse(apdu).ok_or(SW_WRONG_LENGTH)?;
        match (cmd.cla, cmd.ins) {
            (0x00, 0xA4) => self.select(&cmd),
            (0x00, 0xB0) => self.read_binary(&cmd),
            (0x00, 0xB2) => self.read_record(&cmd),
            (0x00, 0x20) => self.verify(&cmd),
            (0x80, 0x2A) => self.sign(&cmd),
            // The virtual reader's card-face scanner (myna_card::apdu::Ins::ScanCardFace): it "reads" the
            // printed 照合番号B of the card it holds.
            (0xFF, 0xC6) => self.scan_card_face(),
            (0x00 | 0x80, _) => Err(SW_INS),
            _ => Err(SW_CLA),
        }
    }

    /// The printed 照合番号B, as the reader's scanner would read it from the card front. A card without
    /// one (a smartphone token) gives the "class not supported" answer of a plain reader.
    fn scan_card_face(&self) -> Result<Vec<u8>, u16> {
        if !self.card_face_scanner {
            return Err(SW_CLA);
        }
        match self.pin(aid::FACE, fid::FACE_CODE_B) {
            Some(PinKey {
                secret: Some(code), ..
            }) => Ok(code.to_vec()),
            _ => Err(SW_CLA),
        }
    }

    fn select(&mut self, cmd: &Command<'_>) -> Result<Vec<u8>, u16> {
        match (cmd.p1, cmd.p2) {
            (0x04, 0x0C) => {
                // Any DF selection starts a fresh security state, even for the same DF.
                self.verified.clear();
                self.current_ef = None;
                let aid: [u8; 10] = cmd.data.try_into().map_err(|_| SW_NOT_FOUND)?;
                if self.dfs.contains_key(&aid) {
                    self.current_df = Some(aid);
                    Ok(Vec::new())
                } else {
                    self.current_df = None;
                    Err(SW_NOT_FOUND)
                }
            }
            (0x02, 0x0C) => {
                let fid: [u8; 2] = cmd.data.try_into().map_err(|_| SW_INCORRECT_DATA)?;
                self.select_ef(fid)
            }
            (0x00 | 0x02 | 0x04 | 0x08 | 0x09, _) => Err(SW_FUNC_NOT_SUPPORTED),
            _ => Err(SW_WRONG_P1P2),
        }
    }

    fn select_ef(&mut self, fid: [u8; 2]) -> Result<Vec<u8>, u16> {
        let df = self.current_df.ok_or(SW_NOT_FOUND)?;
        let efs = self.dfs.get(&df).ok_or(SW_NOT_FOUND)?;
        if efs.contains_key(&fid) {
            self.current_ef = Some(fid);
            Ok(Vec::new())
        } else {
            Err(SW_NOT_FOUND)
        }
    }

    /// The EF a short identifier names in the current DF.
    fn ef_by_sfi(&self, sfi: u8) -> Option<[u8; 2]> {
        let efs = self.dfs.get(&self.current_df?)?;
        efs.keys().copied().find(|f| sfi_of(*f) == Some(sfi))
    }

    fn current(&mut self) -> Result<&mut Ef, u16> {
        let df = self.current_df.ok_or(SW_NOT_ALLOWED)?;
        let ef = self.current_ef.ok_or(SW_NOT_ALLOWED)?;
        self.dfs
            .get_mut(&df)
            .and_then(|efs| efs.get_mut(&ef))
            .ok_or(SW_NOT_ALLOWED)
    }

    fn read_binary(&mut self, cmd: &Command<'_>) -> Result<Vec<u8>, u16> {
        let offset = if cmd.p1 & 0x80 != 0 {
            // Short EF identifier in P1 (bits 7-6 must be 0), offset in P2; the EF becomes current.
            if cmd.p1 & 0x60 != 0 {
                return Err(SW_WRONG_P1P2);
            }
            let fid = self.ef_by_sfi(cmd.p1 & 0x1F).ok_or(SW_NOT_FOUND)?;
            self.select_ef(fid)?;
            usize::from(cmd.p2)
        } else {
            usize::from(u16::from_be_bytes([cmd.p1, cmd.p2]))
        };
        let le = match cmd.le {
            Some(0) | None => 256,
            Some(n) => usize::from(n),
        };
        let verified = self.verified.clone();
        let (data, guard) = match self.current()? {
            Ef::Binary { data, guard } => (data.clone(), guard.clone()),
            _ => return Err(SW_NOT_ALLOWED),
        };
        if !guard.allows(&verified) {
            return Err(SW_SECURITY);
        }
        if offset >= data.len() {
            return Err(SW_WRONG_P1P2);
        }
        let end = (offset + le).min(data.len());
        Ok(data[offset..end].to_vec())
    }

    /// READ RECORD: P1 = record number (1-based), P2 = SFI << 3 | 4 (or `04`: the current EF).
    fn read_record(&mut self, cmd: &Command<'_>) -> Result<Vec<u8>, u16> {
        if cmd.p2 & 0x07 != 0x04 || cmd.p1 == 0 {
            return Err(SW_WRONG_P1P2);
        }
        let sfi = cmd.p2 >> 3;
        if sfi != 0 {
            let fid = self.ef_by_sfi(sfi).ok_or(SW_NOT_FOUND)?;
            self.select_ef(fid)?;
        }
        let verified = self.verified.clone();
        let Ef::Records { records, guard } = self.current()? else {
            return Err(SW_NOT_ALLOWED);
        };
        if !guard.allows(&verified) {
            return Err(SW_SECURITY);
        }
        records
            .get(usize::from(cmd.p1) - 1)
            .cloned()
            .ok_or(SW_RECORD_NOT_FOUND)
    }

    fn verify(&mut self, cmd: &Command<'_>) -> Result<Vec<u8>, u16> {
        if cmd.p1 != 0x00 || cmd.p2 != 0x80 {
            return Err(SW_WRONG_P1P2);
        }
        let ef = self.current_ef.ok_or(SW_NOT_ALLOWED)?;
        let Ef::Pin(pin) = self.current()? else {
            return Err(SW_NOT_ALLOWED);
        };
        let Some(secret) = pin.secret.as_ref() else {
            return Err(SW_NO_REFERENCE);
        };
        if cmd.data.is_empty() {
            return Err(0x63C0 | u16::from(pin.tries_left));
        }
        if pin.tries_left == 0 {
            return Err(SW_BLOCKED);
        }
        if secret.as_slice() == cmd.data {
            pin.tries_left = pin.max_tries;
            self.verified.push(ef);
            Ok(Vec::new())
        } else {
            pin.tries_left -= 1;
            Err(0x63C0 | u16::from(pin.tries_left))
        }
    }

    fn sign(&mut self, cmd: &Command<'_>) -> Result<Vec<u8>, u16> {
        if cmd.p1 != 0x00 || cmd.p2 != 0x80 {
            return Err(SW_WRONG_P1P2);
        }
        let verified = self.verified.clone();
        let Ef::SigningKey { key, guard } = self.current()? else {
            return Err(SW_NOT_ALLOWED);
        };
        if !guard.allows(&verified) {
            return Err(SW_SECURITY);
        }
        // The input is a DigestInfo; the card only pads it (PKCS#1 v1.5, "unprefixed" in `rsa` terms).
        if cmd.data.is_empty() || cmd.data.len() > 245 {
            return Err(SW_INCORRECT_DATA);
        }
        key.sign(Pkcs1v15Sign::new_unprefixed(), cmd.data)
            .map_err(|_| SW_INCORRECT_DATA)
    }

    #[cfg(test)]
    fn is_verified(&self, k: [u8; 2]) -> bool {
        self.verified.contains(&k)
    }
}

/// A parsed short command APDU.
struct Command<'a> {
    cla: u8,
    ins: u8,
    p1: u8,
    p2: u8,
    data: &'a [u8],
    le: Option<u8>,
}

impl<'a> Command<'a> {
    /// ISO 7816-4 short cases 1-4. Extended length is not used by the card layer.
    fn parse(b: &'a [u8]) -> Option<Self> {
        let (hdr, body) = b.split_at_checked(4)?;
        let (data, le) = match body.len() {
            0 => (&body[..0], None),
            1 => (&body[..0], Some(body[0])),
            n => {
                let lc = usize::from(body[0]);
                if lc == 0 {
                    return None;
                }
                if n == 1 + lc {
                    (&body[1..], None)
                } else if n == 2 + lc {
                    (&body[1..1 + lc], Some(body[1 + lc]))
                } else {
                    return None;
                }
            }
        };
        Some(Self {
            cla: hdr[0],
            ins: hdr[1],
            p1: hdr[2],
            p2: hdr[3],
            data,
            le,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn small_card() -> VirtualCard {
        static CARD: std::sync::OnceLock<VirtualCard> = std::sync::OnceLock::new();
        CARD.get_or_init(make_small_card).clone()
    }

    fn make_small_card() -> VirtualCard {
        // A small RSA key keeps this unit test fast; profiles use RSA-2048.
        let mut rng = rand_core_for_tests();
        let key = RsaPrivateKey::new(&mut rng, 1024).unwrap();
        VirtualCard::new(CardContents {
            token_info: token_physical(),
            auth_cert_der: myna_card::ber::encode(0x30, &[7; 600]),
            ca_cert_der: vec![0x30, 0],
            auth_key: key.clone(),
            auth_pin: PinKey::new(Some("1234"), 3),
            auth_by_device: false,
            signature: Some(SignatureSide {
                cert_der: myna_card::ber::encode(0x30, &[8; 300]),
                ca_cert_der: vec![0x30, 0],
                key: key.clone(),
                password: PinKey::new(Some("AB123456"), 5),
            }),
            card_info_pin: PinKey::new(Some("1234"), 3),
            code_b: PinKey::new(Some("55021720352285"), 10),
            face_record: myna_card::ber::encode(0xFF20, &[]),
            four_facts_record: myna_card::ber::encode(0xFF20, &[]),
            card_serial: vec![1, 2, 3, 4],
        })
    }

    #[test]
    fn card_face_scanner_reads_code_b_unless_the_reader_is_plain() {
        let scan = [0xFF, 0xC6, 0x00, 0x00, 0x0E];
        let answer = small_card().process(&scan);
        assert_eq!(&answer[..14], b"55021720352285");
        assert_eq!(sw(&answer), 0x9000);
        let mut plain = small_card().without_card_face_scanner();
        assert_eq!(sw(&plain.process(&scan)), SW_CLA);
    }

    fn rand_core_for_tests() -> impl rsa::rand_core::CryptoRngCore {
        use rsa::rand_core::SeedableRng;
        rand_chacha::ChaCha8Rng::seed_from_u64(1)
    }

    fn sw(r: &[u8]) -> u16 {
        u16::from_be_bytes([r[r.len() - 2], r[r.len() - 1]])
    }

    #[test]
    fn pin_counter_blocks_and_resets() {
        let mut c = small_card();
        let mut sel = vec![0x00, 0xA4, 0x04, 0x0C, 0x0A];
        sel.extend_from_slice(&aid::JPKI);
        assert_eq!(sw(&c.process(&sel)), 0x9000);
        assert_eq!(
            sw(&c.process(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x18])),
            0x9000
        );
        assert_eq!(sw(&c.process(&[0x00, 0x20, 0x00, 0x80])), 0x63C3);
        let wrong = [0x00, 0x20, 0x00, 0x80, 0x04, b'9', b'9', b'9', b'9'];
        let right = [0x00, 0x20, 0x00, 0x80, 0x04, b'1', b'2', b'3', b'4'];
        assert_eq!(sw(&c.process(&wrong)), 0x63C2);
        assert_eq!(sw(&c.process(&right)), 0x9000);
        assert!(c.is_verified(fid::JPKI_AUTH_PIN));
        assert_eq!(sw(&c.process(&[0x00, 0x20, 0x00, 0x80])), 0x63C3);
        for expect in [0x63C2, 0x63C1, 0x63C0] {
            assert_eq!(sw(&c.process(&wrong)), expect);
        }
        assert_eq!(sw(&c.process(&right)), 0x6984);
        assert_eq!(sw(&c.process(&[0x00, 0x20, 0x00, 0x80])), 0x63C0);
        // Selecting the DF again clears the verified state.
        assert_eq!(sw(&c.process(&sel)), 0x9000);
        assert!(!c.is_verified(fid::JPKI_AUTH_PIN));
    }

    #[test]
    fn read_binary_offsets_and_bounds() {
        let mut c = small_card();
        let mut sel = vec![0x00, 0xA4, 0x04, 0x0C, 0x0A];
        sel.extend_from_slice(&aid::JPKI);
        c.process(&sel);
        c.process(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x0A]);
        let r = c.process(&[0x00, 0xB0, 0x00, 0x00, 0x07]);
        assert_eq!(&r[..4], &[0x30, 0x82, 0x02, 0x58]);
        let r = c.process(&[0x00, 0xB0, 0x02, 0x5A, 0xFF]);
        assert_eq!(r.len(), 2 + 2);
        assert_eq!(sw(&c.process(&[0x00, 0xB0, 0x02, 0x5C, 0x10])), 0x6B00);
        // Short EF identifier 1 in the JPKI AP is the signature certificate: behind the password.
        assert_eq!(sw(&c.process(&[0x00, 0xB0, 0x81, 0x00, 0x10])), 0x6982);
        // SFI 0x0B (the open CA certificate) reads, and makes that EF current.
        let r = c.process(&[0x00, 0xB0, 0x8B, 0x00, 0x02]);
        assert_eq!(&r[..], &[0x30, 0x00, 0x90, 0x00]);
        assert!(
            c.my_number_accesses().is_empty(),
            "JPKI EF 0001 is not the 個人番号"
        );
    }

    fn select(c: &mut VirtualCard, aid: &[u8; 10]) {
        let mut sel = vec![0x00, 0xA4, 0x04, 0x0C, 0x0A];
        sel.extend_from_slice(aid);
        assert_eq!(sw(&c.process(&sel)), 0x9000);
    }

    #[test]
    fn signature_side_has_its_own_password_and_key() {
        let mut c = small_card();
        select(&mut c, &aid::JPKI);
        // The signature certificate is guarded, its CA is not.
        c.process(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x01]);
        assert_eq!(sw(&c.process(&[0x00, 0xB0, 0x00, 0x00, 0x04])), 0x6982);
        c.process(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x02]);
        assert_eq!(sw(&c.process(&[0x00, 0xB0, 0x00, 0x00, 0x02])), 0x9000);
        // The password EF counts 5; the authentication PIN does not open the signature key.
        c.process(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x1B]);
        assert_eq!(sw(&c.process(&[0x00, 0x20, 0x00, 0x80])), 0x63C5);
        c.process(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x18]);
        assert_eq!(
            sw(&c.process(&[0x00, 0x20, 0x00, 0x80, 0x04, b'1', b'2', b'3', b'4'])),
            0x9000
        );
        let mut sign = vec![0x80, 0x2A, 0x00, 0x80, 0x23];
        sign.extend_from_slice(&[0x30; 0x23]);
        sign.push(0x00);
        c.process(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x1A]);
        assert_eq!(sw(&c.process(&sign)), 0x6982);
        c.process(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x1B]);
        let mut wrong = vec![0x00, 0x20, 0x00, 0x80, 0x08];
        wrong.extend_from_slice(b"ZZ999999");
        assert_eq!(sw(&c.process(&wrong)), 0x63C4);
        let mut right = vec![0x00, 0x20, 0x00, 0x80, 0x08];
        right.extend_from_slice(b"AB123456");
        assert_eq!(sw(&c.process(&right)), 0x9000);
        assert_eq!(c.sign_pin_tries(), Some(5));
        c.process(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x1A]);
        assert_eq!(c.process(&sign).len(), 128 + 2);
    }

    #[test]
    fn every_encoding_naming_the_my_number_ef_is_recorded() {
        // (AP, command, how it names a 個人番号 EF)
        let cases: Vec<([u8; 10], Vec<u8>, AccessKind)> = vec![
            (
                aid::CARD_INFO,
                vec![0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x01],
                AccessKind::SelectByFid,
            ),
            (
                aid::CARD_INFO,
                vec![0x00, 0xA4, 0x00, 0x00, 0x02, 0x00, 0x01],
                AccessKind::SelectByFid,
            ),
            (
                aid::CARD_INFO,
                vec![0x00, 0xA4, 0x02, 0x04, 0x02, 0x00, 0x01, 0x00],
                AccessKind::SelectByFid,
            ),
            (
                aid::CARD_INFO,
                vec![0x0C, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x01],
                AccessKind::SelectByFid,
            ),
            (
                aid::CARD_INFO,
                vec![0x00, 0xA4, 0x09, 0x0C, 0x02, 0x00, 0x01],
                AccessKind::SelectByPath,
            ),
            (
                aid::CARD_INFO,
                vec![0x00, 0xA4, 0x02, 0x0C, 0x00, 0x00, 0x02, 0x00, 0x01],
                AccessKind::SelectByFid,
            ),
            (
                aid::CARD_INFO,
                vec![0x00, 0xB0, 0x81, 0x00, 0x11],
                AccessKind::ReadBinaryBySfi,
            ),
            (
                aid::CARD_INFO,
                vec![0x00, 0xB1, 0x00, 0x01, 0x00],
                AccessKind::ReadBinaryOddIns,
            ),
            (
                aid::CARD_INFO,
                vec![0x00, 0xB2, 0x01, 0x0C, 0x00],
                AccessKind::ReadRecordBySfi,
            ),
            (
                aid::CARD_INFO,
                vec![0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x14],
                AccessKind::SelectByFid,
            ),
            (
                aid::CARD_INFO,
                vec![0x00, 0x20, 0x00, 0x94],
                AccessKind::KeyReference,
            ),
            (
                aid::FACE,
                vec![0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x13],
                AccessKind::SelectByFid,
            ),
            (
                aid::FACE,
                vec![0x00, 0xB0, 0x85, 0x00, 0x00],
                AccessKind::ReadBinaryBySfi,
            ),
        ];
        for (ap, apdu, kind) in cases {
            let mut c = small_card();
            select(&mut c, &ap);
            c.process(&apdu);
            let got = c.my_number_accesses();
            assert_eq!(got.len(), 1, "{apdu:02X?}: {got:?}");
            assert_eq!(got[0].kind, kind, "{apdu:02X?}");
            assert_eq!(got[0].aid, ap);
        }
        // Once selected, every further command on it counts too, and nothing is read back.
        let mut c = small_card();
        select(&mut c, &aid::CARD_INFO);
        c.process(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x01]);
        let r = c.process(&[0x00, 0xB0, 0x00, 0x00, 0x11]);
        assert_eq!(sw(&r), 0x6982, "the EF needs the card-info PIN");
        assert_eq!(c.my_number_accesses()[1].kind, AccessKind::CurrentEf);
        // The same FIDs in the JPKI AP and the four facts of the card-info AP are not the 個人番号.
        let mut c = small_card();
        select(&mut c, &aid::JPKI);
        c.process(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x01]);
        c.process(&[0x00, 0xB0, 0x81, 0x00, 0x11]);
        select(&mut c, &aid::CARD_INFO);
        c.process(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x02]);
        c.process(&[0x00, 0xB0, 0x00, 0x00, 0x11]);
        assert!(c.my_number_accesses().is_empty());
    }

    #[test]
    fn common_ap_serves_its_record_and_other_aps_their_efs() {
        let mut c = small_card();
        select(&mut c, &AID_COMMON);
        let r = c.process(&[0x00, 0xB2, 0x01, 0x0C, 0x00]);
        assert_eq!(&r[..], &[1, 2, 3, 4, 0x90, 0x00]);
        assert_eq!(sw(&c.process(&[0x00, 0xB2, 0x02, 0x0C, 0x00])), 0x6A83);
        select(&mut c, &aid::CARD_INFO);
        c.process(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x12]);
        assert_eq!(sw(&c.process(&[0x00, 0x20, 0x00, 0x80])), 0x63C0);
        c.process(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x05]);
        assert_eq!(sw(&c.process(&[0x00, 0xB0, 0x00, 0x00, 0x00])), 0x9000);
        select(&mut c, &aid::FACE);
        c.process(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x11]);
        let mut birth = vec![0x00, 0x20, 0x00, 0x80, 0x06];
        birth.extend_from_slice(b"550217");
        assert_eq!(sw(&c.process(&birth)), 0x9000);
        c.process(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x01]);
        assert_eq!(sw(&c.process(&[0x00, 0xB0, 0x00, 0x00, 0x00])), 0x9000);
        // The birth-date key does not open the card face.
        c.process(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x02]);
        assert_eq!(sw(&c.process(&[0x00, 0xB0, 0x00, 0x00, 0x00])), 0x6982);
        assert!(c.my_number_accesses().is_empty());
    }

    proptest! {
        #[test]
        fn never_panics_on_any_apdu(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut c = small_card();
            let r = c.process(&bytes);
            prop_assert!(r.len() >= 2);
        }
    }
}
