//! The card itself: a DF/EF map, PIN counters, a signing key, and an APDU interpreter that answers like a
//! My Number Card (reference §1).
//!
//! Behaviour modelled, and why:
//! - SELECT DF (`00 A4 04 0C`) clears every verified state, as ISO 7816-4 allows a card to do; the card layer
//!   must therefore not re-select the JPKI AP between VERIFY and signing.
//! - VERIFY without data answers `63Cx` (tries left, none used), `63C0` when blocked, `6A88` when the key has
//!   no PIN set (the face-only card: this is the project's convention, see `myna-card`'s crate docs).
//!   VERIFY with data on a blocked key answers `6984`; a wrong PIN decrements and answers `63Cx`; a right one
//!   resets the counter and answers `9000`.
//! - READ BINARY past the end answers `6B00`; protected EFs answer `6982` until their key is verified.
//! - Signing (`80 2A 00 80`) pads the DigestInfo with PKCS#1 v1.5 and signs with the card's RSA-2048 key.

use std::collections::BTreeMap;

use myna_card::session::{aid, fid};
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use zeroize::Zeroizing;

/// The ATR listed for the JPKI card in OpenSC's `card-jpki.c`. Only for realism: the card layer identifies
/// cards by SELECT, never by ATR.
pub const ATR: [u8; 9] = [0x3B, 0xE0, 0x00, 0xFF, 0x81, 0x31, 0xFE, 0x45, 0x14];

/// 個人番号 EF of the card-info AP. The virtual card has it (holding an invalid all-nines placeholder) only so
/// that tests can prove the card layer never selects it.
pub const FID_MY_NUMBER: [u8; 2] = [0x00, 0x01];

const SW_OK: u16 = 0x9000;
const SW_WRONG_LENGTH: u16 = 0x6700;
const SW_SECURITY: u16 = 0x6982;
const SW_BLOCKED: u16 = 0x6984;
const SW_NOT_ALLOWED: u16 = 0x6986;
const SW_INCORRECT_DATA: u16 = 0x6A80;
const SW_NOT_FOUND: u16 = 0x6A82;
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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Guard {
    Open,
    /// Needs the key EF with this FID (in the same DF) to have been verified.
    Key([u8; 2]),
}

#[derive(Clone)]
enum Ef {
    Binary {
        data: Zeroizing<Vec<u8>>,
        guard: Guard,
    },
    Pin(PinKey),
    SigningKey {
        key: Box<RsaPrivateKey>,
        guard: Guard,
    },
}

/// The contents of one virtual card.
#[derive(Clone)]
pub struct CardContents {
    pub token_info: Vec<u8>,
    pub auth_cert_der: Vec<u8>,
    pub ca_cert_der: Vec<u8>,
    pub auth_key: RsaPrivateKey,
    pub auth_pin: PinKey,
    pub card_info_pin: PinKey,
    pub code_b: PinKey,
    /// The whole face record EF (FF20 …), photo included.
    pub face_record: Vec<u8>,
    /// The whole four-facts EF (FF20 …).
    pub four_facts_record: Vec<u8>,
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

impl VirtualCard {
    pub fn new(c: CardContents) -> Self {
        let bin = |data: Vec<u8>, guard| Ef::Binary {
            data: Zeroizing::new(data),
            guard,
        };
        let mut jpki = BTreeMap::new();
        jpki.insert(fid::JPKI_TOKEN_INFO, bin(c.token_info, Guard::Open));
        jpki.insert(fid::JPKI_AUTH_CERT, bin(c.auth_cert_der, Guard::Open));
        jpki.insert([0x00, 0x0B], bin(c.ca_cert_der, Guard::Open));
        jpki.insert(
            fid::JPKI_AUTH_KEY,
            Ef::SigningKey {
                key: Box::new(c.auth_key),
                guard: Guard::Key(fid::JPKI_AUTH_PIN),
            },
        );
        jpki.insert(fid::JPKI_AUTH_PIN, Ef::Pin(c.auth_pin));

        let mut face = BTreeMap::new();
        face.insert(fid::FACE_CODE_B, Ef::Pin(c.code_b));
        face.insert(
            fid::FACE_RECORD,
            bin(c.face_record, Guard::Key(fid::FACE_CODE_B)),
        );

        let mut info = BTreeMap::new();
        info.insert(fid::CARD_INFO_PIN, Ef::Pin(c.card_info_pin));
        info.insert(
            fid::CARD_INFO_FOUR_FACTS,
            bin(c.four_facts_record, Guard::Key(fid::CARD_INFO_PIN)),
        );
        info.insert(
            FID_MY_NUMBER,
            bin(
                myna_card::ber::encode(0x10, b"999999999999"),
                Guard::Key(fid::CARD_INFO_PIN),
            ),
        );

        let mut dfs = BTreeMap::new();
        dfs.insert(aid::JPKI, jpki);
        dfs.insert(aid::FACE, face);
        dfs.insert(aid::CARD_INFO, info);
        Self {
            dfs,
            current_df: None,
            current_ef: None,
            verified: Vec::new(),
            card_face_scanner: true,
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

    /// Tries left on 照合番号B (for tests).
    pub fn code_b_tries(&self) -> Option<u8> {
        self.pin(aid::FACE, fid::FACE_CODE_B)
            .map(PinKey::tries_left)
    }

    /// Answers one command APDU with response data ‖ SW1 SW2. Never panics, whatever the bytes.
    pub fn process(&mut self, apdu: &[u8]) -> Zeroizing<Vec<u8>> {
        let (data, sw) = match self.dispatch(apdu) {
            Ok(data) => (data, SW_OK),
            Err(sw) => (Vec::new(), sw),
        };
        let mut out = Zeroizing::new(data);
        out.extend_from_slice(&sw.to_be_bytes());
        out
    }

    fn dispatch(&mut self, apdu: &[u8]) -> Result<Vec<u8>, u16> {
        let cmd = Command::parse(apdu).ok_or(SW_WRONG_LENGTH)?;
        match (cmd.cla, cmd.ins) {
            (0x00, 0xA4) => self.select(&cmd),
            (0x00, 0xB0) => self.read_binary(&cmd),
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
                let df = self.current_df.ok_or(SW_NOT_FOUND)?;
                let efs = self.dfs.get(&df).ok_or(SW_NOT_FOUND)?;
                if efs.contains_key(&fid) {
                    self.current_ef = Some(fid);
                    Ok(Vec::new())
                } else {
                    Err(SW_NOT_FOUND)
                }
            }
            _ => Err(SW_WRONG_P1P2),
        }
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
        if cmd.p1 & 0x80 != 0 {
            // Short-EF-identifier addressing is not offered by this card model.
            return Err(SW_WRONG_P1P2);
        }
        let offset = usize::from(u16::from_be_bytes([cmd.p1, cmd.p2]));
        let le = match cmd.le {
            Some(0) | None => 256,
            Some(n) => usize::from(n),
        };
        let verified = self.verified.clone();
        let (data, guard) = match self.current()? {
            Ef::Binary { data, guard } => (data.clone(), *guard),
            _ => return Err(SW_NOT_ALLOWED),
        };
        let ok = match guard {
            Guard::Open => true,
            Guard::Key(k) => verified.contains(&k),
        };
        if !ok {
            return Err(SW_SECURITY);
        }
        if offset >= data.len() {
            return Err(SW_WRONG_P1P2);
        }
        let end = (offset + le).min(data.len());
        Ok(data[offset..end].to_vec())
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
        let ok = match *guard {
            Guard::Open => true,
            Guard::Key(k) => verified.contains(&k),
        };
        if !ok {
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
            auth_key: key,
            auth_pin: PinKey::new(Some("1234"), 3),
            card_info_pin: PinKey::new(Some("1234"), 3),
            code_b: PinKey::new(Some("55021720352285"), 10),
            face_record: myna_card::ber::encode(0xFF20, &[]),
            four_facts_record: myna_card::ber::encode(0xFF20, &[]),
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
        assert_eq!(sw(&c.process(&[0x00, 0xB0, 0x81, 0x00, 0x10])), 0x6B00);
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
