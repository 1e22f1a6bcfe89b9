//! File names of the req/res/face folders: `<prefix><function><seq>{req|res}_<id>.<ext>`.
//!
//! Example: `OQSsiquc01req_20240401093000123.xml` is a single eligibility check request with id
//! `20240401093000123`; its result is `OQSsiquc01res_20240401093000123.xml` and, when the request is rejected,
//! `OQSsiquc01req_20240401093000123.err` describes why (docs/file-interface.md, G3/G4).

use serde::Serialize;

use crate::error::FileNameError;

/// What a file is about, from the `<prefix><function><seq>` part of its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum MessageKind {
    /// `OQSsiquc01`: 資格確認 single check (also the schema of `face/` check-in results).
    SingleCheck,
    /// `OQSmuquc01`: 一括照会 upload (result: upload receipt with `ReceptionNumber`).
    BulkUpload,
    /// `OQSmuquc02`: 一括照会 result download by `ReceptionNumber`.
    BulkDownload,
    /// `OQSsiimm01`: 照会番号 registration, one person.
    RefNumberSingle,
    /// `OQSmuimm01`: 照会番号 registration, several persons: the upload (result: receipt with
    /// `ReceptionNumber`, as R reads it).
    RefNumberBulk,
    /// `OQSmuimm02`: the registration results of an `OQSmuimm01` upload, by `ReceptionNumber`.
    RefNumberBulkDownload,
    /// `YZKsiquc01`: 薬剤情報 / 診療情報.
    Medication,
    /// `TKKsiquc01`: 特定健診情報.
    Checkup,
    /// `OQSmutic01` / `OQSmuhvq01` / `OQSmuonq01`: a bulk query by period (result: receipt with
    /// `ReceptionNumber`), as OQSDrug sends them (reference/oqs-clients.md §6).
    BulkQueryUpload(BulkQuery),
    /// `OQSmutic02` / `OQSmuhvq02` / `OQSmuonq02`: the result of such a query, by `ReceptionNumber`.
    BulkQueryDownload(BulkQuery),
}

/// The bulk queries by period (一括照会 of the facility's own patients).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum BulkQuery {
    /// `OQSmutic`: 医療扶助, by `MedicalTreatmentMonth`.
    MedicalAid,
    /// `OQSmuhvq`: 訪問診療, by consent dates (`MedicalTreatmentFlag` 2).
    HomeVisit,
    /// `OQSmuonq`: オンライン診療, by consent or examination dates (`MedicalTreatmentFlag` 3).
    Online,
}

impl BulkQuery {
    /// The three, in file-name order.
    pub const ALL: [BulkQuery; 3] = [Self::MedicalAid, Self::HomeVisit, Self::Online];

    /// `OQSmutic`, `OQSmuhvq` or `OQSmuonq`.
    pub fn prefix(self) -> &'static str {
        match self {
            Self::MedicalAid => "OQSmutic",
            Self::HomeVisit => "OQSmuhvq",
            Self::Online => "OQSmuonq",
        }
    }
}

impl MessageKind {
    /// All kinds, in file-name order.
    pub const ALL: [MessageKind; 14] = [
        Self::SingleCheck,
        Self::BulkUpload,
        Self::BulkDownload,
        Self::RefNumberSingle,
        Self::RefNumberBulk,
        Self::RefNumberBulkDownload,
        Self::Medication,
        Self::Checkup,
        Self::BulkQueryUpload(BulkQuery::MedicalAid),
        Self::BulkQueryDownload(BulkQuery::MedicalAid),
        Self::BulkQueryUpload(BulkQuery::HomeVisit),
        Self::BulkQueryDownload(BulkQuery::HomeVisit),
        Self::BulkQueryUpload(BulkQuery::Online),
        Self::BulkQueryDownload(BulkQuery::Online),
    ];

    /// The `<prefix><function><seq>` part of the file name, e.g. `OQSsiquc01`.
    pub fn code(self) -> &'static str {
        match self {
            Self::SingleCheck => "OQSsiquc01",
            Self::BulkUpload => "OQSmuquc01",
            Self::BulkDownload => "OQSmuquc02",
            Self::RefNumberSingle => "OQSsiimm01",
            Self::RefNumberBulk => "OQSmuimm01",
            Self::RefNumberBulkDownload => "OQSmuimm02",
            Self::Medication => "YZKsiquc01",
            Self::Checkup => "TKKsiquc01",
            Self::BulkQueryUpload(BulkQuery::MedicalAid) => "OQSmutic01",
            Self::BulkQueryDownload(BulkQuery::MedicalAid) => "OQSmutic02",
            Self::BulkQueryUpload(BulkQuery::HomeVisit) => "OQSmuhvq01",
            Self::BulkQueryDownload(BulkQuery::HomeVisit) => "OQSmuhvq02",
            Self::BulkQueryUpload(BulkQuery::Online) => "OQSmuonq01",
            Self::BulkQueryDownload(BulkQuery::Online) => "OQSmuonq02",
        }
    }

    /// The kind named by a `<prefix><function><seq>` code, if the terminal supports it.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// Request (`req`, written by the receipt computer) or result (`res`, written by the terminal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Direction {
    /// `req`
    Request,
    /// `res`
    Response,
}

impl Direction {
    /// `req` or `res`.
    pub fn code(self) -> &'static str {
        match self {
            Self::Request => "req",
            Self::Response => "res",
        }
    }
}

/// A parsed file name. The id is free text chosen by the client (timestamps, patient ids…).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct FileName {
    kind: MessageKind,
    direction: Direction,
    id: String,
    extension: String,
}

impl FileName {
    /// Parses a bare file name (no directory part).
    pub fn parse(name: &str) -> Result<Self, FileNameError> {
        let parts = split(name)?;
        let kind =
            MessageKind::from_code(parts.code).ok_or_else(|| FileNameError::UnsupportedKind {
                name: name.to_owned(),
                kind: parts.code.to_owned(),
            })?;
        Ok(Self {
            kind,
            direction: parts.direction,
            id: parts.id.to_owned(),
            extension: parts.extension.to_owned(),
        })
    }

    /// Builds a name from its parts (the id must not contain path separators).
    pub fn new(
        kind: MessageKind,
        direction: Direction,
        id: &str,
        extension: &str,
    ) -> Result<Self, FileNameError> {
        Self::parse(&format!(
            "{}{}_{id}.{extension}",
            kind.code(),
            direction.code()
        ))
    }

    /// What the file is about.
    pub fn kind(&self) -> MessageKind {
        self.kind
    }

    /// Request or result.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// The free part between `_` and the extension.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The extension without the dot (`xml`, `pdf`, `zip`, `err`).
    pub fn extension(&self) -> &str {
        &self.extension
    }

    /// The name without the extension, e.g. `OQSsiquc01req_0001`.
    pub fn stem(&self) -> String {
        format!("{}{}_{}", self.kind.code(), self.direction.code(), self.id)
    }

    /// The result file name for this request: `req` → `res`, same id and extension.
    pub fn result_name(&self) -> Result<String, FileNameError> {
        match self.direction {
            Direction::Request => Ok(format!(
                "{}res_{}.{}",
                self.kind.code(),
                self.id,
                self.extension
            )),
            Direction::Response => Err(FileNameError::NotARequest {
                name: self.to_string(),
            }),
        }
    }

    /// The `.err` file written next to a rejected file: same stem, extension `err`.
    pub fn err_name(&self) -> String {
        format!("{}.err", self.stem())
    }
}

impl std::fmt::Display for FileName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.stem(), self.extension)
    }
}

/// The parts of a name before the kind is looked up.
struct Parts<'a> {
    code: &'a str,
    direction: Direction,
    id: &'a str,
    extension: &'a str,
}

fn split(name: &str) -> Result<Parts<'_>, FileNameError> {
    let bad = |reason: &str| FileNameError::BadFileName {
        name: name.to_owned(),
        reason: reason.to_owned(),
    };
    if name.contains(['/', '\\']) {
        return Err(bad("it contains a path separator; pass the bare file name"));
    }
    if name.chars().any(char::is_control) {
        return Err(bad("it contains a control character"));
    }
    let bytes = name.as_bytes();
    // The reference writes "4-char function", but every known name has 5 (`siquc`, `muquc`, `siimm`):
    // 3 + 5 + 2 + 3 + '_' = 14 ASCII bytes before the id.
    if bytes.len() < 14 || !name.is_char_boundary(14) {
        return Err(bad(
            "it is too short to hold <prefix(3)><function(5)><seq(2)>{req|res}_",
        ));
    }
    if !bytes[..8].iter().all(u8::is_ascii_alphabetic) {
        return Err(bad(
            "the first 8 characters must be letters (e.g. OQSsiquc)",
        ));
    }
    if !bytes[8..10].iter().all(u8::is_ascii_digit) {
        return Err(bad(
            "characters 9-10 must be a 2-digit sequence number (e.g. 01)",
        ));
    }
    // Bytes, not `&name[10..13]`: a multi-byte character there (`OQSsiquc01rあ_x.xml`) would make a
    // string slice panic, and a name is whatever the receipt computer dropped.
    let direction = match &bytes[10..13] {
        b"req" => Direction::Request,
        b"res" => Direction::Response,
        _ => return Err(bad("characters 11-13 must be `req` or `res`")),
    };
    if bytes[13] != b'_' {
        return Err(bad("an underscore `_` must follow req/res"));
    }
    let Some((id, extension)) = name[14..].rsplit_once('.') else {
        return Err(bad("there is no extension (e.g. .xml)"));
    };
    if id.is_empty() {
        return Err(bad("the id after `_` is empty"));
    }
    if extension.is_empty() || !extension.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(bad("the extension must be letters or digits (e.g. xml)"));
    }
    Ok(Parts {
        code: &name[..10],
        direction,
        id,
        extension,
    })
}

/// The result name of a request of a kind the terminal does not support (`OQSxxxxx01req_<id>.<ext>` →
/// `OQSxxxxx01res_<id>.<ext>`), so that its error result lands where a client waits; `None` when the name is
/// not a request name at all (then only the `.err` can be written).
pub fn unsupported_result_name(name: &str) -> Option<String> {
    let parts = split(name).ok()?;
    (parts.direction == Direction::Request)
        .then(|| format!("{}res_{}.{}", parts.code, parts.id, parts.extension))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_supported_kind() {
        for kind in MessageKind::ALL {
            let name = format!("{}req_20240401-0001.xml", kind.code());
            let parsed = FileName::parse(&name).unwrap();
            assert_eq!(parsed.kind(), kind);
            assert_eq!(parsed.direction(), Direction::Request);
            assert_eq!(parsed.id(), "20240401-0001");
            assert_eq!(parsed.to_string(), name);
        }
    }

    #[test]
    fn derives_result_and_err_names() {
        let n = FileName::parse("OQSsiquc01req_clinic.001.xml").unwrap();
        assert_eq!(n.id(), "clinic.001");
        assert_eq!(n.result_name().unwrap(), "OQSsiquc01res_clinic.001.xml");
        assert_eq!(n.err_name(), "OQSsiquc01req_clinic.001.err");
        let r = FileName::parse("OQSsiquc01res_face_20240401093000123_0001.xml").unwrap();
        assert_eq!(r.direction(), Direction::Response);
        assert_eq!(r.id(), "face_20240401093000123_0001");
        assert!(matches!(
            r.result_name(),
            Err(FileNameError::NotARequest { .. })
        ));
    }

    #[test]
    fn rejects_names_that_do_not_match() {
        for bad in [
            "",
            "OQSsiquc01req.xml",
            "OQSsiquc01req_.xml",
            "OQSsiquc01req_abc",
            "OQSsiquc1req_abc.xml",
            "OQSsiquc01rex_abc.xml",
            "OQSsiquc01req-abc.xml",
            "dir/OQSsiquc01req_abc.xml",
            "ＯＱＳsiquc01req_abc.xml",
            "OQSsiquc01req_abc.",
        ] {
            assert!(
                matches!(FileName::parse(bad), Err(FileNameError::BadFileName { .. })),
                "{bad:?}"
            );
        }
        assert!(matches!(
            FileName::parse("OQSmuxyz01req_x.xml"),
            Err(FileNameError::UnsupportedKind { .. })
        ));
    }

    /// A request of a kind we do not support still has a result name a client waits for (D waits for
    /// `…res_<id>.xml` whatever the kind); a name that is not a request name has none.
    #[test]
    fn unsupported_kinds_have_a_result_name() {
        assert_eq!(
            unsupported_result_name("CIPsiquc01req_202604270001.xml").as_deref(),
            Some("CIPsiquc01res_202604270001.xml")
        );
        assert_eq!(
            unsupported_result_name("OQSsiquc01req_x.xml").as_deref(),
            Some("OQSsiquc01res_x.xml")
        );
        for none in [
            "CIPsiquc01res_1.xml",
            "OQSsiquc01request_1.xml",
            "notes.txt",
            "OQSsiquc01req_.xml",
        ] {
            assert_eq!(unsupported_result_name(none), None, "{none}");
        }
    }

    /// A name is whatever the receipt computer dropped: a multi-byte character anywhere is an error, never a
    /// panic (`OQSsiquc01rあ_x.xml` used to panic on a string slice, and the scan with it, every rescan).
    #[test]
    fn multi_byte_characters_anywhere_are_errors_not_panics() {
        let name = "OQSsiquc01req_abc.xml";
        for at in 0..=name.len() {
            for c in ['あ', 'é', '😀', '\u{a0}'] {
                let mut changed = name.to_owned();
                changed.insert(at, c);
                let _ = FileName::parse(&changed);
                let mut replaced: String = name.chars().take(at).collect();
                replaced.push(c);
                replaced.extend(name.chars().skip(at + 1));
                if let Ok(parsed) = FileName::parse(&replaced) {
                    assert_eq!(parsed.to_string(), replaced);
                }
            }
        }
        assert!(matches!(
            FileName::parse("OQSsiquc01rあ_x.xml"),
            Err(FileNameError::BadFileName { .. })
        ));
        let ok = FileName::parse("OQSsiquc01req_患者あ.xml").unwrap();
        assert_eq!(ok.result_name().unwrap(), "OQSsiquc01res_患者あ.xml");
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics_and_round_trips(name in "\\PC{0,40}", prefix in "(OQSsiquc01|YZKsiquc01|.{0,12})(req|res|.{0,3})_?") {
            for candidate in [name.clone(), format!("{prefix}{name}")] {
                if let Ok(parsed) = FileName::parse(&candidate) {
                    proptest::prop_assert_eq!(parsed.to_string(), candidate.clone());
                    if let Ok(result) = parsed.result_name() {
                        let back = FileName::parse(&result).unwrap();
                        proptest::prop_assert_eq!(back.id(), parsed.id());
                    }
                }
            }
        }
    }
}
