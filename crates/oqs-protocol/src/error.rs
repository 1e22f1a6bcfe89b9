//! The crate's single error type.
//!
//! Every variant carries a project error code (`OQS-E1xxx`, see `docs/file-interface.md` §G1) and a message in
//! Japanese and English that a receipt-computer vendor can act on. Messages never contain patient identifiers,
//! so they can be logged and copied into `.err` files as they are.

use crate::encoding::Encoding;

/// One character that cannot be written in the requested encoding, and the element that holds it.
#[derive(Clone, PartialEq, Eq)]
pub struct UnencodableChar {
    /// Element path, e.g. `/XmlMsg/MessageBody/ResultList/ResultOfQualificationConfirmation/Name`.
    pub element: String,
    /// The offending character.
    pub ch: char,
}

impl std::fmt::Debug for UnencodableChar {
    // The character alone is not an identifier, but keep Debug terse and code-point based.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "U+{:04X} in {}", u32::from(self.ch), self.element)
    }
}

fn list_unencodable(chars: &[UnencodableChar]) -> String {
    chars
        .iter()
        .map(|c| format!("'{}' (U+{:04X}) in {}", c.ch, u32::from(c.ch), c.element))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Everything that can go wrong when naming, reading or writing an OQS file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// The file name does not follow `<prefix><function><seq>{req|res}_<id>.<ext>`.
    #[error(
        "OQS-E1001 ファイル名が規則 <接頭辞3><機能5><連番2>{{req|res}}_<任意>.<拡張子> に合いません / file name `{name}` does not match <prefix><function><seq>{{req|res}}_<id>.<ext> (e.g. OQSsiquc01req_0001.xml): {reason}"
    )]
    BadFileName { name: String, reason: String },
    /// The name is well formed but names a kind this terminal does not handle.
    #[error(
        "OQS-E1002 この端末では扱わないファイル種別です / file kind `{kind}` in `{name}` is not supported (supported: OQSsiquc01, OQSmuquc01, OQSmuquc02, OQSsiimm01, OQSmuimm01, OQSmuimm02, OQSmutic01, OQSmutic02, OQSmuhvq01, OQSmuhvq02, OQSmuonq01, OQSmuonq02, YZKsiquc01, TKKsiquc01)"
    )]
    UnsupportedKind { name: String, kind: String },
    /// A result name was asked for a file that is itself a result.
    #[error(
        "OQS-E1003 結果ファイル名は要求ファイル(req)からのみ作れます / `{name}` is already a result (res) file; a result name is derived from a request (req) name"
    )]
    NotARequest { name: String },
    /// The file is empty.
    #[error("OQS-E1100 ファイルが空です / the file is empty (0 bytes)")]
    Empty,
    /// The XML declaration names an encoding other than UTF-8 and Shift_JIS, or the file is UTF-16.
    #[error(
        "OQS-E1101 対応していない文字コードです / unsupported character encoding `{label}`: write the file in UTF-8 or Shift_JIS and declare it in the XML declaration"
    )]
    UnsupportedEncoding { label: String },
    /// The bytes are not valid in the encoding the file declares.
    #[error(
        "OQS-E1102 宣言された文字コード {encoding} で読めません(バイト位置 {offset}) / the file declares {encoding} but byte offset {offset} is not valid {encoding}{hint}"
    )]
    Undecodable {
        encoding: Encoding,
        offset: usize,
        hint: &'static str,
    },
    /// `CharacterCodeIdentifier` contradicts the encoding the file is really in.
    #[error(
        "OQS-E1103 CharacterCodeIdentifier({code}) がファイルの文字コード {actual} と一致しません / /XmlMsg/MessageHeader/CharacterCodeIdentifier is `{code}` ({declared}) but the file is encoded in {actual}"
    )]
    EncodingMismatch {
        code: String,
        declared: Encoding,
        actual: Encoding,
    },
    /// The XML is not well formed.
    #[error(
        "OQS-E1104 XMLの構文が正しくありません(バイト位置 {offset}) / XML syntax error at byte offset {offset}: {detail}"
    )]
    XmlSyntax { offset: u64, detail: String },
    /// The document ends while elements are still open.
    #[error(
        "OQS-E1105 ファイルが途中で終わっています(<{open}> が閉じていません) / the file ends before </{open}> is closed: it looks truncated"
    )]
    Truncated { open: String },
    /// The root element is not `XmlMsg`.
    #[error(
        "OQS-E1106 ルート要素が XmlMsg ではありません / the root element is <{found}>, expected <XmlMsg>"
    )]
    WrongRoot { found: String },
    /// The XML is well formed but does not fit the message structure.
    #[error(
        "OQS-E1107 電文の構造が正しくありません / the message does not fit the {kind} structure: {detail}"
    )]
    Structure { kind: &'static str, detail: String },
    /// Some characters cannot be written in Shift_JIS (Windows-31J).
    #[error(
        "OQS-E1301 Shift_JIS(Windows-31J)で表せない文字があります / these characters cannot be encoded in Shift_JIS (Windows-31J); write the file in UTF-8 instead: {}",
        list_unencodable(.chars)
    )]
    Unencodable { chars: Vec<UnencodableChar> },
    /// The serializer failed (should not happen for well-formed messages).
    #[error("OQS-E1302 電文を書き出せません / the message could not be serialized: {detail}")]
    Serialize { detail: String },
}

impl ProtocolError {
    /// The project error code (`OQS-E1xxx`), for `.err` files and the reception screen.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadFileName { .. } => "OQS-E1001",
            Self::UnsupportedKind { .. } => "OQS-E1002",
            Self::NotARequest { .. } => "OQS-E1003",
            Self::Empty => "OQS-E1100",
            Self::UnsupportedEncoding { .. } => "OQS-E1101",
            Self::Undecodable { .. } => "OQS-E1102",
            Self::EncodingMismatch { .. } => "OQS-E1103",
            Self::XmlSyntax { .. } => "OQS-E1104",
            Self::Truncated { .. } => "OQS-E1105",
            Self::WrongRoot { .. } => "OQS-E1106",
            Self::Structure { .. } => "OQS-E1107",
            Self::Unencodable { .. } => "OQS-E1301",
            Self::Serialize { .. } => "OQS-E1302",
        }
    }
}

/// Errors of [`crate::FileName`] (the crate has one error type; the alias keeps call sites readable).
pub type FileNameError = ProtocolError;
/// Errors of [`crate::read_message`] and [`crate::read_file`].
pub type ReadError = ProtocolError;
/// Errors of [`crate::write_message`].
pub type WriteError = ProtocolError;
