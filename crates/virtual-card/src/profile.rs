//! Card profiles: everything one virtual card holds, as a TOML file (`card-0001.toml` …), and the issuer
//! that makes them from a seed.
//!
//! A profile holds secrets (the card's private key, PINs, 照合番号B) and synthetic personal facts; it is
//! written with mode 0600 and its `Debug` shows none of them.
//!
//! Conventions shared with the mock central service:
//! - the certificate serial is [`card_serial`]`(seed, index)`, and is the key that links a card to the
//!   synthetic population;
//! - the certificate of a `revoked` card is valid in itself: revocation is decided by the central service's
//!   list, the profile only records the intent;
//! - the auth key is `mock_jpki::rsa_2048_from_seed("card-<index>", seed)`.

use std::path::Path;
use std::time::{Duration, SystemTime};

use base64::Engine;
use der::{Decode, DecodePem, Encode, EncodePem, pem::LineEnding};
use mock_jpki::MockJpkiCa;
use myna_card::ber;
use myna_card::session::tag;
use rsa::RsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::VirtualCardError;
use crate::card::{
    CardContents, PinKey, SignatureSide, VirtualCard, token_iphone, token_physical,
    token_smartphone,
};

/// The synthetic face photo shipped with the crate (120×160, JPEG 2000 made with `opj_compress`).
pub const SYNTHETIC_FACE_JP2: &[u8] = include_bytes!("../data/synthetic-face.jp2");

/// Profile file format version.
pub const PROFILE_FORMAT: u32 = 1;

const DAY: Duration = Duration::from_secs(86_400);

/// The kinds of card the issuer makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Variant {
    /// An ordinary card with a 4-digit PIN and a valid certificate.
    Normal,
    /// The authentication PIN is blocked (3 wrong tries).
    PinBlocked,
    /// 顔認証マイナンバーカード: no PIN set; VERIFY on the PIN EFs answers `6A88`.
    FaceOnly,
    /// The authentication certificate expired 30 days before issue.
    CertExpired,
    /// The authentication certificate expires 45 days after issue (within 3 months).
    CertExpiring,
    /// Flagged revoked; the mock central service decides by its revocation list.
    Revoked,
    /// The Android smartphone JPKI token (`JPKIAPGPSETOKEN`): the スマホ用電子証明書's own 4-digit PIN is
    /// entered on the kiosk.
    Smartphone,
    /// The iPhone JPKI token (`JPKIAPIOSTOKEN`): the phone authenticates its holder before the tap, so there
    /// is no PIN on the reader (VERIFY answers `6A88`) and the authentication key signs without one.
    Iphone,
}

impl Variant {
    pub const ALL: [Variant; 8] = [
        Variant::Normal,
        Variant::PinBlocked,
        Variant::FaceOnly,
        Variant::CertExpired,
        Variant::CertExpiring,
        Variant::Revoked,
        Variant::Smartphone,
        Variant::Iphone,
    ];
}

/// Synthetic holder facts (基本4情報 + kana). They link to the mock central population by certificate serial.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Holder {
    pub name: String,
    pub kana: String,
    /// `YYYY-MM-DD`
    pub birth_date: String,
    /// `male` | `female`
    pub sex: String,
    pub address: String,
}

/// Keys and certificates, PEM.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Certificates {
    pub auth_key_pem: String,
    pub auth_cert_pem: String,
    pub ca_cert_pem: String,
    /// The 署名用 side (key, certificate, its CA). Absent on a face-only card, and in profiles written
    /// before the card had it (they load as cards without a signature certificate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_key_pem: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_cert_pem: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_ca_cert_pem: Option<String>,
}

/// The face photo: JPEG 2000 bytes inline (base64) or a file next to the profile.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Photo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jp2_base64: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jp2_file: Option<String>,
}

/// One card.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CardProfile {
    pub format: u32,
    pub index: u32,
    pub seed: u64,
    pub variant: Variant,
    /// Authentication certificate serial, uppercase hex.
    pub serial: String,
    /// Absent on a face-only card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_pin: Option<String>,
    pub auth_pin_tries_left: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_info_pin: Option<String>,
    /// 署名用パスワード: 6-16 upper-case letters and digits (absent with the signature side).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_pin: Option<String>,
    #[serde(default = "five")]
    pub sign_pin_tries_left: u8,
    /// 照合番号B: era birth date YYMMDD + card expiry year + security code.
    pub code_b: String,
    pub card_expiry_year: u32,
    pub revoked: bool,
    pub holder: Holder,
    pub certificates: Certificates,
    pub photo: Photo,
}

impl std::fmt::Debug for CardProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardProfile")
            .field("index", &self.index)
            .field("variant", &self.variant)
            .field("serial", &self.serial)
            .finish_non_exhaustive()
    }
}

fn five() -> u8 {
    5
}

/// The certificate serial of card `index` issued from `seed`: `4A` ‖ 3 seed-derived bytes ‖ index (u32 BE).
pub fn card_serial(seed: u64, index: u32) -> Vec<u8> {
    let h = Sha256::digest([b"oqs-card-serial".as_slice(), &seed.to_be_bytes()].concat());
    let mut s = vec![0x4A, h[0], h[1], h[2]];
    s.extend_from_slice(&index.to_be_bytes());
    s
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// (year, month, day) to days since 1970-01-01.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Year within the Japanese era (和暦) of a date: Reiwa from 2019-05-01, Heisei from 1989-01-08, Showa from
/// 1926-12-25, Taisho before.
pub fn era_year(y: i64, m: u32, d: u32) -> i64 {
    let key = (y, m, d);
    if key >= (2019, 5, 1) {
        y - 2018
    } else if key >= (1989, 1, 8) {
        y - 1988
    } else if key >= (1926, 12, 25) {
        y - 1925
    } else {
        y - 1911
    }
}

const FAMILY: [(&str, &str); 10] = [
    ("佐藤", "サトウ"),
    ("鈴木", "スズキ"),
    ("高橋", "タカハシ"),
    ("田中", "タナカ"),
    ("伊藤", "イトウ"),
    ("渡辺", "ワタナベ"),
    ("山本", "ヤマモト"),
    ("中村", "ナカムラ"),
    ("小林", "コバヤシ"),
    ("加藤", "カトウ"),
];
const GIVEN_MALE: [(&str, &str); 5] = [
    ("太郎", "タロウ"),
    ("翔", "ショウ"),
    ("健一", "ケンイチ"),
    ("大輔", "ダイスケ"),
    ("蓮", "レン"),
];
const GIVEN_FEMALE: [(&str, &str); 5] = [
    ("花子", "ハナコ"),
    ("陽菜", "ヒナ"),
    ("美咲", "ミサキ"),
    ("恵子", "ケイコ"),
    ("結衣", "ユイ"),
];
const PLACES: [&str; 5] = [
    "東京都千代田区霞が関一丁目2番2号",
    "大阪府大阪市北区中之島一丁目3番20号",
    "愛知県名古屋市中区三の丸三丁目1番1号",
    "福岡県福岡市中央区天神一丁目8番1号",
    "北海道札幌市中央区北一条西二丁目",
];

/// Options for [`issue`].
#[derive(Clone)]
pub struct IssueOptions {
    pub seed: u64,
    pub index: u32,
    pub variant: Variant,
    /// Validity windows are placed relative to this instant.
    pub issued_at: SystemTime,
    /// JPEG 2000 photo; the synthetic face when `None`.
    pub photo_jp2: Option<Vec<u8>>,
}

/// Issues card `index`: a key, a certificate from `ca`, PINs, 照合番号B, holder facts and photo, and the
/// 署名用 side from `ca`'s [`MockJpkiCa::signature_ca`] (derived here; use [`issue_with`] to issue many
/// cards without deriving it each time).
pub fn issue(ca: &MockJpkiCa, o: &IssueOptions) -> Result<CardProfile, VirtualCardError> {
    issue_with(ca, &ca.signature_ca()?, o)
}

/// As [`issue`], with the signature CA given.
pub fn issue_with(
    ca: &MockJpkiCa,
    sign_ca: &MockJpkiCa,
    o: &IssueOptions,
) -> Result<CardProfile, VirtualCardError> {
    let mut rng = {
        let h = Sha256::digest(
            [
                b"oqs-card-facts".as_slice(),
                &o.seed.to_be_bytes(),
                &o.index.to_be_bytes(),
            ]
            .concat(),
        );
        u64::from_be_bytes([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]])
    };
    let mut next = |n: u64| {
        // xorshift64*: cheap, deterministic, good enough for picking synthetic facts
        rng ^= rng >> 12;
        rng ^= rng << 25;
        rng ^= rng >> 27;
        rng.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    };
    let key = mock_jpki::rsa_2048_from_seed(&format!("card-{}", o.index), o.seed)?;
    let serial = card_serial(o.seed, o.index);
    let (nb, na) = match o.variant {
        Variant::CertExpired => (o.issued_at - 5 * 365 * DAY, o.issued_at - 30 * DAY),
        Variant::CertExpiring => (
            o.issued_at - 5 * 365 * DAY + 75 * DAY,
            o.issued_at + 45 * DAY,
        ),
        _ => (o.issued_at - 365 * DAY, o.issued_at + 4 * 365 * DAY),
    };
    let cert_der = ca.issue_auth_cert(&serial, &key.to_public_key(), nb, na)?;

    let male = next(2) == 0;
    let (family, family_kana) = FAMILY[next(FAMILY.len() as u64) as usize];
    let given_list = if male { GIVEN_MALE } else { GIVEN_FEMALE };
    let (given, given_kana) = given_list[next(given_list.len() as u64) as usize];
    let birth_days = days_from_civil(1940, 1, 1) + next(75 * 365) as i64;
    let (by, bm, bd) = civil_from_days(birth_days);
    let issued_days = o
        .issued_at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| (d.as_secs() / 86_400) as i64)
        .unwrap_or(0);
    let (iy, _, _) = civil_from_days(issued_days);
    let card_expiry_year = u32::try_from(iy + 10).unwrap_or(2099);
    let security_code = format!("{:04}", next(10_000));
    let code_b = format!(
        "{:02}{bm:02}{bd:02}{card_expiry_year:04}{security_code}",
        era_year(by, bm, bd).rem_euclid(100)
    );
    let pin = |next: &mut dyn FnMut(u64) -> u64| format!("{:04}", next(10_000));
    let (auth_pin, card_info_pin) = if o.variant == Variant::FaceOnly {
        (None, None)
    } else if o.variant == Variant::Iphone {
        (None, Some(pin(&mut next)))
    } else {
        (Some(pin(&mut next)), Some(pin(&mut next)))
    };
    let photo = o.photo_jp2.as_deref().unwrap_or(SYNTHETIC_FACE_JP2);
    let name = format!("{family}\u{3000}{given}");
    let address = PLACES[next(PLACES.len() as u64) as usize].to_owned();
    // A 顔認証マイナンバーカード has no signature certificate (reference §4.6).
    let signature = if o.variant == Variant::FaceOnly {
        None
    } else {
        let sign_key = mock_jpki::rsa_2048_from_seed(&format!("card-sign-{}", o.index), o.seed)?;
        let sign_cert =
            sign_ca.issue_sign_cert(&serial, &sign_key.to_public_key(), nb, na, &name, &address)?;
        // Two upper-case letters and six digits: the rule asks for both kinds in 6-16 characters.
        let letters: String = (0..2).map(|_| char::from(b'A' + next(26) as u8)).collect();
        let password = format!("{letters}{:06}", next(1_000_000));
        Some((sign_key, sign_cert, password))
    };
    Ok(CardProfile {
        format: PROFILE_FORMAT,
        index: o.index,
        seed: o.seed,
        variant: o.variant,
        serial: mock_jpki::hex_upper(&serial),
        auth_pin,
        auth_pin_tries_left: if o.variant == Variant::PinBlocked {
            0
        } else {
            3
        },
        card_info_pin,
        sign_pin: signature.as_ref().map(|(_, _, p)| p.clone()),
        sign_pin_tries_left: 5,
        code_b,
        card_expiry_year,
        revoked: o.variant == Variant::Revoked,
        holder: Holder {
            name,
            kana: format!("{family_kana}\u{3000}{given_kana}"),
            birth_date: format!("{by:04}-{bm:02}-{bd:02}"),
            sex: if male { "male" } else { "female" }.to_owned(),
            address,
        },
        certificates: Certificates {
            auth_key_pem: key
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(|e| VirtualCardError::Profile(e.to_string()))?
                .to_string(),
            auth_cert_pem: der_to_pem(&cert_der)?,
            ca_cert_pem: der_to_pem(ca.ca_cert_der())?,
            sign_key_pem: signature
                .as_ref()
                .map(|(k, _, _)| k.to_pkcs8_pem(LineEnding::LF).map(|p| p.to_string()))
                .transpose()
                .map_err(|e| VirtualCardError::Profile(e.to_string()))?,
            sign_cert_pem: signature
                .as_ref()
                .map(|(_, c, _)| der_to_pem(c))
                .transpose()?,
            sign_ca_cert_pem: signature
                .as_ref()
                .map(|_| der_to_pem(sign_ca.ca_cert_der()))
                .transpose()?,
        },
        photo: Photo {
            jp2_base64: Some(base64::engine::general_purpose::STANDARD.encode(photo)),
            jp2_file: None,
        },
    })
}

fn der_to_pem(der: &[u8]) -> Result<String, VirtualCardError> {
    x509_cert::Certificate::from_der(der)
        .and_then(|c| c.to_pem(LineEnding::LF))
        .map_err(|e| VirtualCardError::Profile(e.to_string()))
}

fn pem_to_der(pem: &str) -> Result<Vec<u8>, VirtualCardError> {
    x509_cert::Certificate::from_pem(pem.as_bytes())
        .and_then(|c| c.to_der())
        .map_err(|e| VirtualCardError::Profile(format!("bad certificate PEM: {e}")))
}

impl CardProfile {
    /// Reads a profile; a relative `photo.jp2_file` is resolved against the profile's directory.
    pub fn load(path: &Path) -> Result<Self, VirtualCardError> {
        let text = std::fs::read_to_string(path).map_err(|source| VirtualCardError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut p: CardProfile = toml::from_str(&text)
            .map_err(|e| VirtualCardError::Profile(format!("{}: {e}", path.display())))?;
        if p.format != PROFILE_FORMAT {
            return Err(VirtualCardError::Profile(format!(
                "{}: profile format {} is not supported (expected {PROFILE_FORMAT})",
                path.display(),
                p.format
            )));
        }
        if let (None, Some(file)) = (&p.photo.jp2_base64, &p.photo.jp2_file) {
            let photo_path = path.parent().unwrap_or(Path::new(".")).join(file);
            let bytes = std::fs::read(&photo_path).map_err(|source| VirtualCardError::Io {
                path: photo_path.clone(),
                source,
            })?;
            p.photo.jp2_base64 = Some(base64::engine::general_purpose::STANDARD.encode(bytes));
        }
        Ok(p)
    }

    /// Writes the profile as TOML with mode 0600 (it holds a private key and PINs).
    pub fn save(&self, path: &Path) -> Result<(), VirtualCardError> {
        let text = toml::to_string(self).map_err(|e| VirtualCardError::Profile(e.to_string()))?;
        crate::write_private(path, text.as_bytes())
    }

    /// The JPEG 2000 photo bytes.
    pub fn photo_jp2(&self) -> Result<Vec<u8>, VirtualCardError> {
        let b64 = self
            .photo
            .jp2_base64
            .as_deref()
            .ok_or_else(|| VirtualCardError::Profile("the profile has no photo".into()))?;
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| VirtualCardError::Profile(format!("photo is not base64: {e}")))
    }

    /// The authentication certificate, DER.
    pub fn auth_cert_der(&self) -> Result<Vec<u8>, VirtualCardError> {
        pem_to_der(&self.certificates.auth_cert_pem)
    }

    /// Builds the virtual card this profile describes.
    pub fn to_card(&self) -> Result<VirtualCard, VirtualCardError> {
        let auth_key = RsaPrivateKey::from_pkcs8_pem(&self.certificates.auth_key_pem)
            .map_err(|e| VirtualCardError::Profile(format!("bad auth key: {e}")))?;
        let mut auth_pin = PinKey::new(self.auth_pin.as_deref(), 3);
        if self.auth_pin_tries_left == 0 {
            auth_pin = auth_pin.blocked();
        }
        let birth: String = self
            .holder
            .birth_date
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        let sex_code = match self.holder.sex.as_str() {
            "male" => "1",
            "female" => "2",
            _ => "9",
        };
        let face_inner = [
            ber::encode(0xDF21, &[0x00, 0x01, 0x00, 0x00]),
            ber::encode(0xDF22, birth.as_bytes()),
            ber::encode(0xDF23, sex_code.as_bytes()),
            ber::encode(tag::FACE_PHOTO, &self.photo_jp2()?),
            ber::encode(0xDF29, self.card_expiry_year.to_string().as_bytes()),
        ]
        .concat();
        let facts_inner = [
            ber::encode(0xDF21, &[0x00, 0x01, 0x00, 0x00]),
            ber::encode(tag::INFO_NAME, self.holder.name.as_bytes()),
            ber::encode(tag::INFO_ADDRESS, self.holder.address.as_bytes()),
            ber::encode(tag::INFO_BIRTH_DATE, birth.as_bytes()),
            ber::encode(tag::INFO_SEX, sex_code.as_bytes()),
        ]
        .concat();
        let signature = match (
            &self.certificates.sign_key_pem,
            &self.certificates.sign_cert_pem,
            &self.certificates.sign_ca_cert_pem,
        ) {
            (Some(key), Some(cert), Some(ca)) => {
                let mut password = PinKey::new(self.sign_pin.as_deref(), 5);
                if self.sign_pin_tries_left == 0 {
                    password = password.blocked();
                }
                Some(SignatureSide {
                    cert_der: pem_to_der(cert)?,
                    ca_cert_der: pem_to_der(ca)?,
                    key: RsaPrivateKey::from_pkcs8_pem(key)
                        .map_err(|e| VirtualCardError::Profile(format!("bad sign key: {e}")))?,
                    password,
                })
            }
            (None, None, None) => None,
            _ => {
                return Err(VirtualCardError::Profile(
                    "the signature key, certificate and CA must be given together".into(),
                ));
            }
        };
        let card_serial =
            Sha256::digest(format!("oqs-card-manufacture/{}/{}", self.seed, self.index))[..8]
                .to_vec();
        Ok(VirtualCard::new(CardContents {
            token_info: match self.variant {
                Variant::Smartphone => token_smartphone(),
                Variant::Iphone => token_iphone(),
                _ => token_physical(),
            },
            auth_cert_der: self.auth_cert_der()?,
            ca_cert_der: pem_to_der(&self.certificates.ca_cert_pem)?,
            auth_key,
            auth_pin,
            auth_by_device: self.variant == Variant::Iphone,
            signature,
            card_info_pin: PinKey::new(self.card_info_pin.as_deref(), 3),
            code_b: PinKey::new(Some(&self.code_b), 10),
            face_record: ber::encode(tag::RECORD, &face_inner),
            four_facts_record: ber::encode(tag::RECORD, &facts_inner),
            card_serial,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_and_era() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        for z in [-10_000, 0, 11_017, 20_000] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        // reference §1.5 example: 1980-02-17 is Showa 55
        assert_eq!(era_year(1980, 2, 17), 55);
        assert_eq!(era_year(1989, 1, 7), 64);
        assert_eq!(era_year(1989, 1, 8), 1);
        assert_eq!(era_year(2019, 5, 1), 1);
    }

    #[test]
    fn serial_is_positive_and_distinct() {
        let a = card_serial(1, 1);
        assert_eq!(a.len(), 8);
        assert!(a[0] < 0x80);
        assert_ne!(a, card_serial(1, 2));
        assert_ne!(a, card_serial(2, 1));
    }
}
