//! Typed messages of the OQS (オンライン資格確認) file interface between a receipt computer / EHR and the
//! facility terminal: what goes into `req/`, comes back in `res/`, and appears in `face/`.
//!
//! - [`FileName`]: `<prefix><function><seq>{req|res}_<id>.<ext>` → [`MessageKind`], [`Direction`], id;
//!   result (`req`→`res`) and `.err` names.
//! - [`Message`]: every kind and direction — 資格確認 single and bulk, 照会番号 registration, 薬剤・診療情報
//!   (`YZKsiquc01`) and 特定健診情報 (`TKKsiquc01`) — as serde structs whose fields are the interface's element
//!   names; code tables ([`codes`]) keep unknown codes instead of failing.
//! - [`read_message`] / [`read_file`] / [`write_message`]: UTF-8 and Shift_JIS (Windows-31J) files, encoding
//!   detected from BOM and XML declaration and cross-checked with `CharacterCodeIdentifier`.
//! - [`Message::validate`]: every problem, each with the element path and the rule in Japanese and English.
//!
//! Patient identifiers are held as [`Pii`], whose `Debug` is redacted. No I/O happens here. Conventions for
//! what the public interface leaves open are in `docs/file-interface.md`; the reference is
//! `oqs-file-interface.md` of the project's shared references.
//!
//! ```
//! use oqs_protocol::{read_file, write_message, Encoding, Message};
//! let xml = "<XmlMsg><MessageHeader><QualificationConfirmationDate>20240401</QualificationConfirmationDate>\
//!   <MedicalInstitutionCode>1311111111</MedicalInstitutionCode></MessageHeader><MessageBody>\
//!   <QualificationConfirmSearchInfo><InsurerNumber>  138057</InsurerNumber>\
//!   <InsuredIdentificationNumber>4260</InsuredIdentificationNumber><Birthdate>20010327</Birthdate>\
//!   <LimitApplicationCertificateRelatedConsFlg>1</LimitApplicationCertificateRelatedConsFlg>\
//!   </QualificationConfirmSearchInfo></MessageBody></XmlMsg>";
//! let decoded = read_file("OQSsiquc01req_0001.xml", xml.as_bytes()).unwrap();
//! assert!(decoded.message.validate().is_empty());
//! let sjis = write_message(&decoded.message, Encoding::ShiftJis).unwrap();
//! assert!(sjis.starts_with(b"<?xml version=\"1.0\" encoding=\"Shift_JIS\""));
//! ```

pub mod codes;
mod encoding;
mod error;
mod filename;
pub mod golden;
pub mod medical;
mod message;
mod pii;
pub mod qualification;
#[cfg(test)]
mod roundtrip_tests;
mod validate;

pub use codes::*;
pub use encoding::Encoding;
pub use error::{FileNameError, ProtocolError, ReadError, UnencodableChar, WriteError};
pub use filename::{BulkQuery, Direction, FileName, MessageKind, unsupported_result_name};
pub use medical::*;
pub use message::{
    Decoded, Message, SUBSTITUTE, read_file, read_message, write_message,
    write_message_substituting,
};
pub use pii::Pii;
pub use qualification::*;
pub use validate::{CodeTable, ValidationIssue, insurer_check_digit, render_err_file};
