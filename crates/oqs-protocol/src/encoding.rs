//! Character encodings of OQS files: UTF-8 and Shift_JIS.
//!
//! "Shift_JIS" in the field means Microsoft's code page 932 (Windows-31J): the Windows tools that write these
//! files use it, including NEC and IBM extension characters such as 髙 and 﨑. `encoding_rs::SHIFT_JIS` is the
//! WHATWG "Shift_JIS" encoding, which is exactly that superset, so it is what this crate uses for both reading
//! and writing. Characters outside it (e.g. 𠮷 U+20BB7) cannot be written in Shift_JIS at all; see
//! [`crate::write_message`].
//!
//! Reading decides the encoding by, in order: a byte-order mark, the XML declaration, and UTF-8 (the XML
//! default). `CharacterCodeIdentifier` is then cross-checked against it by the reader.

use serde::Serialize;

use crate::codes::CharacterCodeIdentifier;
use crate::error::ReadError;

/// An encoding the terminal reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Encoding {
    /// UTF-8 (`CharacterCodeIdentifier` 0).
    #[serde(rename = "UTF-8")]
    Utf8,
    /// Shift_JIS, i.e. Windows-31J / CP932 (`CharacterCodeIdentifier` 1).
    #[serde(rename = "Shift_JIS")]
    ShiftJis,
}

impl Encoding {
    /// The label written in the XML declaration.
    pub fn label(self) -> &'static str {
        match self {
            Self::Utf8 => "UTF-8",
            Self::ShiftJis => "Shift_JIS",
        }
    }

    /// The matching `CharacterCodeIdentifier` (OQSCD005).
    pub fn character_code(self) -> CharacterCodeIdentifier {
        match self {
            Self::Utf8 => CharacterCodeIdentifier::Utf8,
            Self::ShiftJis => CharacterCodeIdentifier::ShiftJis,
        }
    }

    /// The encoding a known `CharacterCodeIdentifier` stands for.
    pub fn from_character_code(code: &CharacterCodeIdentifier) -> Option<Self> {
        match code {
            CharacterCodeIdentifier::Utf8 => Some(Self::Utf8),
            CharacterCodeIdentifier::ShiftJis => Some(Self::ShiftJis),
            CharacterCodeIdentifier::Unknown(_) => None,
        }
    }

    /// Maps an XML-declaration label (case-insensitive; the common aliases of both encodings).
    pub fn from_label(label: &str) -> Option<Self> {
        match label.trim().to_ascii_lowercase().as_str() {
            "utf-8" | "utf8" => Some(Self::Utf8),
            "shift_jis" | "shift-jis" | "sjis" | "x-sjis" | "windows-31j" | "cp932" | "ms932"
            | "ms_kanji" | "csshiftjis" => Some(Self::ShiftJis),
            _ => None,
        }
    }

    /// Whether `ch` can be written in this encoding.
    pub fn can_encode(self, ch: char) -> bool {
        match self {
            Self::Utf8 => true,
            Self::ShiftJis => {
                let mut buf = [0u8; 4];
                let (_, _, unmappable) = encoding_rs::SHIFT_JIS.encode(ch.encode_utf8(&mut buf));
                !unmappable
            }
        }
    }
}

impl std::fmt::Display for Encoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Finds the `encoding="…"` pseudo-attribute of a leading XML declaration. The declaration is ASCII in both
/// supported encodings, so it can be read from the raw bytes.
fn declared_label(bytes: &[u8]) -> Option<String> {
    if !bytes.starts_with(b"<?xml") {
        return None;
    }
    let end = bytes.windows(2).take(512).position(|w| w == b"?>")?;
    let decl = std::str::from_utf8(&bytes[..end]).ok()?;
    let at = decl.find("encoding")?;
    let rest = decl[at + "encoding".len()..]
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let inner = &rest[1..];
    let close = inner.find(quote)?;
    Some(inner[..close].to_owned())
}

/// Decodes a file to text. Returns the text (without BOM) and the encoding it was in.
pub(crate) fn decode(bytes: &[u8]) -> Result<(String, Encoding), ReadError> {
    if bytes.is_empty() {
        return Err(ReadError::Empty);
    }
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return Err(ReadError::UnsupportedEncoding {
            label: "UTF-16 (byte-order mark)".to_owned(),
        });
    }
    let (body, bom) = match bytes.strip_prefix(UTF8_BOM) {
        Some(rest) => (rest, true),
        None => (bytes, false),
    };
    let declared = match declared_label(body) {
        Some(label) => {
            Some(Encoding::from_label(&label).ok_or(ReadError::UnsupportedEncoding { label })?)
        }
        None => None,
    };
    let encoding = match (bom, declared) {
        (true, Some(Encoding::ShiftJis)) => {
            return Err(ReadError::UnsupportedEncoding {
                label: "Shift_JIS declared in a file that starts with a UTF-8 byte-order mark"
                    .to_owned(),
            });
        }
        (true, _) => Encoding::Utf8,
        (false, declared) => declared.unwrap_or(Encoding::Utf8),
    };
    let text = match encoding {
        Encoding::Utf8 => match std::str::from_utf8(body) {
            Ok(text) => text.to_owned(),
            Err(e) => {
                return Err(ReadError::Undecodable {
                    encoding,
                    offset: e.valid_up_to() + if bom { UTF8_BOM.len() } else { 0 },
                    hint: if encoding_rs::SHIFT_JIS
                        .decode_without_bom_handling_and_without_replacement(body)
                        .is_some()
                    {
                        " (the bytes look like Shift_JIS: fix the XML declaration)"
                    } else {
                        ""
                    },
                });
            }
        },
        Encoding::ShiftJis => decode_shift_jis(body)?,
    };
    Ok((text, encoding))
}

fn decode_shift_jis(body: &[u8]) -> Result<String, ReadError> {
    let mut decoder = encoding_rs::SHIFT_JIS.new_decoder_without_bom_handling();
    let mut text = String::with_capacity(body.len() * 3 / 2 + 16);
    let mut consumed = 0;
    loop {
        let (result, read) =
            decoder.decode_to_string_without_replacement(&body[consumed..], &mut text, true);
        consumed += read;
        match result {
            encoding_rs::DecoderResult::InputEmpty => return Ok(text),
            encoding_rs::DecoderResult::OutputFull => {
                text.reserve(body.len() - consumed + 16);
            }
            encoding_rs::DecoderResult::Malformed(bad, extra) => {
                let offset = consumed.saturating_sub(usize::from(bad) + usize::from(extra));
                return Err(ReadError::Undecodable {
                    encoding: Encoding::ShiftJis,
                    offset,
                    hint: if std::str::from_utf8(body).is_ok() {
                        " (the bytes look like UTF-8: fix the XML declaration)"
                    } else {
                        ""
                    },
                });
            }
        }
    }
}

/// Encodes text that has already been checked to be representable.
pub(crate) fn encode(text: &str, encoding: Encoding) -> Vec<u8> {
    match encoding {
        Encoding::Utf8 => text.as_bytes().to_vec(),
        Encoding::ShiftJis => encoding_rs::SHIFT_JIS.encode(text).0.into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_bom_then_declaration_then_default() {
        let (t, e) = decode(b"\xEF\xBB\xBF<a/>").unwrap();
        assert_eq!((t.as_str(), e), ("<a/>", Encoding::Utf8));
        let sjis = b"<?xml version='1.0' encoding='Shift_JIS'?><a>\x8E\x52</a>";
        let (t, e) = decode(sjis).unwrap();
        assert_eq!(e, Encoding::ShiftJis);
        assert!(t.ends_with("<a>山</a>"));
        assert_eq!(decode(b"<a/>").unwrap().1, Encoding::Utf8);
    }

    #[test]
    fn declared_encoding_that_does_not_decode_is_an_error() {
        let err = decode(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><a>\x8E\x52</a>").unwrap_err();
        assert!(
            matches!(
                err,
                ReadError::Undecodable {
                    encoding: Encoding::Utf8,
                    offset: 41,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("look like Shift_JIS"));
        let err = decode(b"<?xml version=\"1.0\" encoding=\"EUC-JP\"?><a/>").unwrap_err();
        assert!(matches!(err, ReadError::UnsupportedEncoding { .. }));
    }

    #[test]
    fn windows_31j_extensions_and_non_jis_characters() {
        // 髙 (IBM extension) and 﨑 (NEC-selected IBM extension) are in Windows-31J; 𠮷 and 𩸽 are not.
        assert!(Encoding::ShiftJis.can_encode('髙'));
        assert!(Encoding::ShiftJis.can_encode('﨑'));
        assert!(Encoding::ShiftJis.can_encode('①'));
        assert!(!Encoding::ShiftJis.can_encode('𠮷'));
        assert!(!Encoding::ShiftJis.can_encode('𩸽'));
        assert!(Encoding::Utf8.can_encode('𠮷'));
    }
}
