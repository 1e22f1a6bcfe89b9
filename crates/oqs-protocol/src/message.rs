//! [`Message`] (every kind and direction), and reading and writing whole files.

use serde::{Deserialize, Serialize};

use crate::codes::CharacterCodeIdentifier;
use crate::encoding::{self, Encoding};
use crate::error::{ReadError, UnencodableChar, WriteError};
use crate::filename::{Direction, FileName, MessageKind};
use crate::medical::{CheckupResult, MedicalInfoRequest, MedicationResult};
use crate::qualification::*;

/// Any message the terminal exchanges. `RefNumber*` cover both the single and the bulk form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub enum Message {
    /// `OQSsiquc01req`
    SingleCheckRequest(SingleCheckRequest),
    /// `OQSsiquc01res` and `face/` results
    SingleCheckResult(SingleCheckResult),
    /// `OQSmuquc01req`
    BulkUploadRequest(BulkUploadRequest),
    /// `OQSmuquc01res`
    BulkUploadReceipt(BulkUploadReceipt),
    /// `OQSmuquc02req` (also `OQSmuimm02req` and the `…02req` of the bulk queries)
    BulkDownloadRequest(BulkDownloadRequest),
    /// `OQSmutic01req` / `OQSmuhvq01req` / `OQSmuonq01req` (their receipt is a
    /// [`Message::BulkUploadReceipt`], their result a [`Message::BulkResult`])
    BulkQueryRequest(BulkQueryRequest),
    /// `OQSmuquc02res`
    BulkResult(BulkResult),
    /// `OQSsiimm01req` / `OQSmuimm01req`
    RefNumberRequest(RefNumberRequest),
    /// `OQSsiimm01res` (`OQSmuimm01res` is a [`Message::BulkUploadReceipt`], `OQSmuimm02req` a
    /// [`Message::BulkDownloadRequest`])
    RefNumberResult(RefNumberResult),
    /// `OQSmuimm02res`
    RefNumberBulkResult(RefNumberBulkResult),
    /// `YZKsiquc01req`
    MedicationRequest(MedicalInfoRequest),
    /// `YZKsiquc01res` (XML)
    MedicationResult(MedicationResult),
    /// `TKKsiquc01req`
    CheckupRequest(MedicalInfoRequest),
    /// `TKKsiquc01res` (XML)
    CheckupResult(CheckupResult),
}

/// A message read from a file, with the encoding the file was in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decoded {
    /// The message.
    pub message: Message,
    /// The file's encoding.
    pub encoding: Encoding,
}

impl Message {
    /// The DV・虐待 restriction on every person of a 資格確認 result (single, `face/` or bulk): see
    /// [`crate::apply_disclosure_restriction`]. Other kinds carry no qualification. Returns whether any
    /// person was restricted.
    pub fn apply_disclosure_restriction(&mut self) -> bool {
        match self {
            Message::SingleCheckResult(r) => r.apply_disclosure_restriction(),
            Message::BulkResult(r) => r.apply_disclosure_restriction(),
            _ => false,
        }
    }

    /// The variant name, e.g. `SingleCheckResult`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::SingleCheckRequest(_) => "SingleCheckRequest",
            Self::SingleCheckResult(_) => "SingleCheckResult",
            Self::BulkUploadRequest(_) => "BulkUploadRequest",
            Self::BulkUploadReceipt(_) => "BulkUploadReceipt",
            Self::BulkDownloadRequest(_) => "BulkDownloadRequest",
            Self::BulkQueryRequest(_) => "BulkQueryRequest",
            Self::BulkResult(_) => "BulkResult",
            Self::RefNumberRequest(_) => "RefNumberRequest",
            Self::RefNumberResult(_) => "RefNumberResult",
            Self::RefNumberBulkResult(_) => "RefNumberBulkResult",
            Self::MedicationRequest(_) => "MedicationRequest",
            Self::MedicationResult(_) => "MedicationResult",
            Self::CheckupRequest(_) => "CheckupRequest",
            Self::CheckupResult(_) => "CheckupResult",
        }
    }

    /// Request or result.
    pub fn direction(&self) -> Direction {
        match self {
            Self::SingleCheckRequest(_)
            | Self::BulkUploadRequest(_)
            | Self::BulkDownloadRequest(_)
            | Self::BulkQueryRequest(_)
            | Self::RefNumberRequest(_)
            | Self::MedicationRequest(_)
            | Self::CheckupRequest(_) => Direction::Request,
            _ => Direction::Response,
        }
    }

    /// `MessageHeader/CharacterCodeIdentifier` of a result (requests have none).
    pub fn character_code(&self) -> Option<&CharacterCodeIdentifier> {
        match self {
            Self::SingleCheckResult(m) => m.message_header.character_code_identifier.as_ref(),
            Self::BulkUploadReceipt(m) => m.message_header.character_code_identifier.as_ref(),
            Self::BulkResult(m) => m.message_header.character_code_identifier.as_ref(),
            Self::RefNumberResult(m) => m.message_header.character_code_identifier.as_ref(),
            Self::RefNumberBulkResult(m) => m.message_header.character_code_identifier.as_ref(),
            Self::MedicationResult(m) => m.message_header.character_code_identifier.as_ref(),
            Self::CheckupResult(m) => m.message_header.character_code_identifier.as_ref(),
            _ => None,
        }
    }

    /// Sets `CharacterCodeIdentifier` of a result to match `encoding` (no-op for requests).
    pub fn set_character_code(&mut self, encoding: Encoding) {
        let code = Some(encoding.character_code());
        match self {
            Self::SingleCheckResult(m) => m.message_header.character_code_identifier = code,
            Self::BulkUploadReceipt(m) => m.message_header.character_code_identifier = code,
            Self::BulkResult(m) => m.message_header.character_code_identifier = code,
            Self::RefNumberResult(m) => m.message_header.character_code_identifier = code,
            Self::RefNumberBulkResult(m) => m.message_header.character_code_identifier = code,
            Self::MedicationResult(m) => m.message_header.character_code_identifier = code,
            Self::CheckupResult(m) => m.message_header.character_code_identifier = code,
            _ => {}
        }
    }

    fn to_xml(&self) -> Result<String, quick_xml::SeError> {
        match self {
            Self::SingleCheckRequest(m) => serialize(m),
            Self::SingleCheckResult(m) => serialize(m),
            Self::BulkUploadRequest(m) => serialize(m),
            Self::BulkUploadReceipt(m) => serialize(m),
            Self::BulkDownloadRequest(m) => serialize(m),
            Self::BulkQueryRequest(m) => serialize(m),
            Self::BulkResult(m) => serialize(m),
            Self::RefNumberRequest(m) => serialize(m),
            Self::RefNumberResult(m) => serialize(m),
            Self::RefNumberBulkResult(m) => serialize(m),
            Self::MedicationRequest(m) => serialize(m),
            Self::MedicationResult(m) => serialize(m),
            Self::CheckupRequest(m) => serialize(m),
            Self::CheckupResult(m) => serialize(m),
        }
    }
}

fn serialize<T: Serialize>(value: &T) -> Result<String, quick_xml::SeError> {
    let mut out = String::new();
    let mut ser = quick_xml::se::Serializer::with_root(&mut out, Some("XmlMsg"))?;
    ser.indent(' ', 2);
    value.serialize(ser)?;
    Ok(out)
}

fn parse<T: for<'de> Deserialize<'de>>(text: &str, kind: &'static str) -> Result<T, ReadError> {
    quick_xml::de::from_str(text).map_err(|e| ReadError::Structure {
        kind,
        detail: e.to_string(),
    })
}

/// Checks well-formedness, the root element and truncation before the typed parse, so that these common
/// faults get a specific message (the serde layer would only say "unexpected end").
fn check_document(text: &str) -> Result<(), ReadError> {
    use quick_xml::errors::{Error as XmlError, SyntaxError};
    use quick_xml::events::Event;

    let mut reader = quick_xml::Reader::from_str(text);
    let mut open: Vec<String> = Vec::new();
    let mut root_seen = false;
    loop {
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(XmlError::Syntax(
                SyntaxError::UnclosedTag
                | SyntaxError::UnclosedCData
                | SyntaxError::UnclosedComment
                | SyntaxError::UnclosedDoctype
                | SyntaxError::UnclosedPI
                | SyntaxError::UnclosedXmlDecl
                | SyntaxError::UnclosedSingleQuotedAttributeValue
                | SyntaxError::UnclosedDoubleQuotedAttributeValue,
            )) => {
                return Err(ReadError::Truncated {
                    open: open.last().cloned().unwrap_or_else(|| "XmlMsg".to_owned()),
                });
            }
            Err(e) => {
                return Err(ReadError::XmlSyntax {
                    offset: reader.error_position(),
                    detail: e.to_string(),
                });
            }
        };
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                if open.is_empty() {
                    if root_seen {
                        return Err(ReadError::XmlSyntax {
                            offset: reader.buffer_position(),
                            detail: format!(
                                "a second top-level element <{name}> follows </XmlMsg>"
                            ),
                        });
                    }
                    if name != "XmlMsg" {
                        return Err(ReadError::WrongRoot { found: name });
                    }
                    root_seen = true;
                }
                if matches!(event, Event::Start(_)) {
                    open.push(name);
                }
            }
            Event::End(_) => {
                open.pop();
            }
            Event::Text(ref t) if open.is_empty() && !t.iter().all(u8::is_ascii_whitespace) => {
                return Err(ReadError::XmlSyntax {
                    offset: reader.buffer_position(),
                    detail: "text outside the root element".to_owned(),
                });
            }
            Event::Eof => {
                if let Some(last) = open.pop() {
                    return Err(ReadError::Truncated { open: last });
                }
                if !root_seen {
                    return Err(ReadError::Truncated {
                        open: "XmlMsg".to_owned(),
                    });
                }
                return Ok(());
            }
            _ => {}
        }
    }
}

/// Reads a message of a known kind and direction from the raw bytes of a file.
///
/// The encoding comes from the BOM, then the XML declaration (default UTF-8); a result's
/// `CharacterCodeIdentifier` must agree with it. Missing elements and wrong values are *not* read errors:
/// call [`Message::validate`] for those.
pub fn read_message(
    bytes: &[u8],
    kind: MessageKind,
    direction: Direction,
) -> Result<Decoded, ReadError> {
    let (text, encoding) = encoding::decode(bytes)?;
    check_document(&text)?;
    use Direction::{Request as Req, Response as Res};
    use MessageKind as K;
    let message = match (kind, direction) {
        (K::SingleCheck, Req) => Message::SingleCheckRequest(parse(&text, "OQSsiquc01 request")?),
        (K::SingleCheck, Res) => Message::SingleCheckResult(parse(&text, "OQSsiquc01 result")?),
        (K::BulkUpload, Req) => Message::BulkUploadRequest(parse(&text, "OQSmuquc01 request")?),
        (K::BulkUpload, Res) => Message::BulkUploadReceipt(parse(&text, "OQSmuquc01 receipt")?),
        (K::BulkDownload, Req) => Message::BulkDownloadRequest(parse(&text, "OQSmuquc02 request")?),
        (K::BulkDownload, Res) => Message::BulkResult(parse(&text, "OQSmuquc02 result")?),
        (K::RefNumberSingle | K::RefNumberBulk, Req) => {
            Message::RefNumberRequest(parse(&text, "OQSsiimm01/OQSmuimm01 request")?)
        }
        (K::RefNumberSingle, Res) => Message::RefNumberResult(parse(&text, "OQSsiimm01 result")?),
        (K::RefNumberBulk, Res) => Message::BulkUploadReceipt(parse(&text, "OQSmuimm01 receipt")?),
        (K::RefNumberBulkDownload, Req) => {
            Message::BulkDownloadRequest(parse(&text, "OQSmuimm02 request")?)
        }
        (K::RefNumberBulkDownload, Res) => {
            Message::RefNumberBulkResult(parse(&text, "OQSmuimm02 result")?)
        }
        (K::Medication, Req) => Message::MedicationRequest(parse(&text, "YZKsiquc01 request")?),
        (K::Medication, Res) => Message::MedicationResult(parse(&text, "YZKsiquc01 result")?),
        (K::Checkup, Req) => Message::CheckupRequest(parse(&text, "TKKsiquc01 request")?),
        (K::Checkup, Res) => Message::CheckupResult(parse(&text, "TKKsiquc01 result")?),
        (K::BulkQueryUpload(_), Req) => {
            Message::BulkQueryRequest(parse(&text, "bulk query (…01) request")?)
        }
        (K::BulkQueryUpload(_), Res) => {
            Message::BulkUploadReceipt(parse(&text, "bulk query (…01) receipt")?)
        }
        (K::BulkQueryDownload(_), Req) => {
            Message::BulkDownloadRequest(parse(&text, "bulk query (…02) request")?)
        }
        (K::BulkQueryDownload(_), Res) => {
            Message::BulkResult(parse(&text, "bulk query (…02) result")?)
        }
    };
    let message = empty_as_absent(message)?;
    if let Some(code) = message.character_code() {
        if let Some(declared) = Encoding::from_character_code(code) {
            if declared != encoding {
                return Err(ReadError::EncodingMismatch {
                    code: code.code().to_owned(),
                    declared,
                    actual: encoding,
                });
            }
        }
    }
    Ok(Decoded { message, encoding })
}

/// An element with no text (`<BranchNumber/>`, `<InsuranceCardSymbol></InsuranceCardSymbol>`, or only
/// blanks) is read as absent: D writes the symbol and branch of a patient who has none that way, and the
/// clients trim values. Every text value of the message goes through JSON once, so no field is missed.
///
/// Every leaf of every message is an `Option` (code tables included, whose `Unknown` holds any text) and
/// every list holds structs or `Option`s, so turning a blank string into `null` always deserializes again; the property
/// test `the_empty_element_pass_never_fails` checks it on arbitrary messages. Should a future field break
/// that, the file is refused with a typed error rather than read without the pass.
pub(crate) fn empty_as_absent(message: Message) -> Result<Message, ReadError> {
    fn clear(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::String(s) if s.trim().is_empty() => *value = serde_json::Value::Null,
            serde_json::Value::Array(items) => items.iter_mut().for_each(clear),
            serde_json::Value::Object(map) => map.values_mut().for_each(clear),
            _ => {}
        }
    }
    let kind = message.name();
    let failed = |e: serde_json::Error| ReadError::Structure {
        kind,
        detail: format!("empty elements could not be read as absent: {e}"),
    };
    let mut value = serde_json::to_value(&message).map_err(failed)?;
    clear(&mut value);
    serde_json::from_value(value).map_err(failed)
}

/// Reads a file whose kind and direction are given by its (bare) file name.
pub fn read_file(name: &str, bytes: &[u8]) -> Result<Decoded, ReadError> {
    let name = FileName::parse(name)?;
    read_message(bytes, name.kind(), name.direction())
}

/// Writes a message as a complete file in `encoding`, with a matching XML declaration and (for results)
/// `CharacterCodeIdentifier`. Writing Shift_JIS fails with [`WriteError::Unencodable`] listing every
/// character outside Windows-31J and the element holding it.
pub fn write_message(msg: &Message, encoding: Encoding) -> Result<Vec<u8>, WriteError> {
    let mut msg = msg.clone();
    msg.set_character_code(encoding);
    let body = msg.to_xml().map_err(|e| WriteError::Serialize {
        detail: e.to_string(),
    })?;
    if encoding != Encoding::Utf8 {
        let chars = unencodable_chars(&body, encoding)?;
        if !chars.is_empty() {
            return Err(WriteError::Unencodable { chars });
        }
    }
    let text = format!(
        "<?xml version=\"1.0\" encoding=\"{}\" standalone=\"no\"?>\n{body}\n",
        encoding.label()
    );
    Ok(encoding::encode(&text, encoding))
}

/// The character written in place of one the file's encoding cannot hold (〓, the customary substitute; the
/// mock central service uses the same). docs/file-interface.md, "Encodings".
pub const SUBSTITUTE: char = '〓';

/// Writes a message like [`write_message`], but never changes the encoding: every character `encoding`
/// cannot hold is written as [`SUBSTITUTE`], and the characters replaced are returned (empty when none), so
/// the caller can flag the record for a name typed at the facility (外字). A file in another encoding than the
/// facility's would not be read at all by clients that insist on the site's encoding.
pub fn write_message_substituting(
    msg: &Message,
    encoding: Encoding,
) -> Result<(Vec<u8>, Vec<UnencodableChar>), WriteError> {
    match write_message(msg, encoding) {
        Ok(bytes) => Ok((bytes, Vec::new())),
        Err(WriteError::Unencodable { chars }) => {
            let mut msg = msg.clone();
            msg.set_character_code(encoding);
            let body = msg.to_xml().map_err(|e| WriteError::Serialize {
                detail: e.to_string(),
            })?;
            // Markup and escapes are ASCII: only text can hold these characters.
            let body: String = body
                .chars()
                .map(|c| {
                    if encoding.can_encode(c) {
                        c
                    } else {
                        SUBSTITUTE
                    }
                })
                .collect();
            let text = format!(
                "<?xml version=\"1.0\" encoding=\"{}\" standalone=\"no\"?>\n{body}\n",
                encoding.label()
            );
            Ok((encoding::encode(&text, encoding), chars))
        }
        Err(e) => Err(e),
    }
}

/// Every character of the serialized document's text that `encoding` cannot hold, with its element path.
/// Markup is ASCII and escapes are ASCII entities, so scanning raw text events finds them all.
fn unencodable_chars(xml: &str, encoding: Encoding) -> Result<Vec<UnencodableChar>, WriteError> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut path: Vec<String> = Vec::new();
    let mut found: Vec<UnencodableChar> = Vec::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                path.push(String::from_utf8_lossy(e.name().as_ref()).into_owned())
            }
            Ok(Event::End(_)) => {
                path.pop();
            }
            Ok(Event::Text(t)) => {
                let text = String::from_utf8_lossy(t.as_ref());
                for ch in text.chars().filter(|c| !encoding.can_encode(*c)) {
                    let item = UnencodableChar {
                        element: format!("/{}", path.join("/")),
                        ch,
                    };
                    if !found.contains(&item) {
                        found.push(item);
                    }
                }
            }
            Ok(Event::Eof) => return Ok(found),
            Ok(_) => {}
            Err(e) => {
                return Err(WriteError::Serialize {
                    detail: e.to_string(),
                });
            }
        }
    }
}
