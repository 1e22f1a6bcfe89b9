//! The one error type of this crate. Messages are written for a reception clerk or an IT vendor.

/// Every way talking to a card or a reader can fail.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum CardError {
    #[error("the smart card service (pcscd) is not running or has stopped; start it and try again")]
    ServiceUnavailable,
    #[error("no card reader is connected")]
    NoReader,
    #[error("the card reader is no longer available")]
    ReaderUnavailable,
    #[error("there is no card in the reader")]
    NoCard,
    #[error("the card was removed while it was being read; ask the patient to place it again")]
    CardRemoved,
    #[error("the card was reset by another program; place the card again")]
    CardReset,
    #[error("the card does not respond; check that it is placed correctly")]
    Unresponsive,
    #[error("another program is using the card reader; close it and try again")]
    SharingViolation,
    #[error("this card is not a My Number Card")]
    NotMyNumberCard,
    #[error(
        "the PIN is locked; the card holder must have it reset at the municipal office (市区町村窓口)"
    )]
    PinBlocked,
    #[error(
        "this card has no PIN set (face-authentication-only card); use face or staff visual check"
    )]
    NoPinSet,
    #[error("wrong PIN; {tries_left} tries left")]
    WrongPin { tries_left: u8 },
    #[error("the PIN must be exactly 4 digits")]
    InvalidPinFormat,
    #[error("the card-face verification code (照合番号B) must be 14 digits")]
    InvalidVerificationCodeFormat,
    #[error(
        "the card-face verification code (照合番号B) was not accepted; {tries_left} tries left"
    )]
    WrongVerificationCode { tries_left: u8 },
    #[error("the card-face verification code (照合番号B) is locked on this card")]
    VerificationCodeBlocked,
    #[error("the card has no {0}")]
    NotFound(&'static str),
    #[error("the card refused the operation because its PIN was not verified")]
    SecurityStatusNotSatisfied,
    #[error("the card gave an answer that makes no sense: {0}")]
    MalformedResponse(&'static str),
    #[error("the card answered {sw:04X} to {command}")]
    UnexpectedStatus { command: &'static str, sw: u16 },
    #[error("the operation was cancelled")]
    Cancelled,
    #[error("card reader error: {0}")]
    Reader(String),
    #[error("internal error in the card layer: {0}")]
    Internal(&'static str),
}

impl CardError {
    /// True when the card left the reader (or was reset) mid-operation: the caller should go back to waiting
    /// for a card rather than show a retry.
    pub fn is_card_gone(&self) -> bool {
        matches!(self, Self::CardRemoved | Self::CardReset | Self::NoCard)
    }
}

impl From<pcsc::Error> for CardError {
    fn from(e: pcsc::Error) -> Self {
        use pcsc::Error as E;
        match e {
            E::NoService | E::ServiceStopped | E::InvalidHandle => Self::ServiceUnavailable,
            E::NoReadersAvailable => Self::NoReader,
            E::ReaderUnavailable | E::UnknownReader => Self::ReaderUnavailable,
            E::NoSmartcard => Self::NoCard,
            E::RemovedCard => Self::CardRemoved,
            E::ResetCard => Self::CardReset,
            E::UnresponsiveCard | E::UnpoweredCard | E::Timeout | E::UnsupportedCard => {
                Self::Unresponsive
            }
            E::SharingViolation => Self::SharingViolation,
            E::Cancelled => Self::Cancelled,
            other => Self::Reader(other.to_string()),
        }
    }
}
