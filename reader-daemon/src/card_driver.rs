//! The card side of the kiosk: PC/SC on blocking threads, talking to the async kiosk through channels.
//!
//! - The [`myna_card::ReaderMonitor`] runs on its own thread (it blocks in `SCardGetStatusChange`); a
//!   forwarding thread turns its events into [`CardReport::Reader`] on the kiosk's channel, keeping only the
//!   readers the configuration names.
//! - Each inserted card gets one [`CardSession`] on its own thread ([`spawn_session`]). The kiosk sends it
//!   [`CardCommand`]s and gets one [`CardReport`] per command. The thread owns the PIN from the moment the
//!   command arrives until the card has seen it; [`myna_card::Pin`] zeroizes itself when dropped.
//!
//! Reports carry the session number they belong to, so an answer from a card that has since been removed
//! (and perhaps replaced) is recognised as stale and dropped.
//!
//! The cards come from a [`CardSource`]: PC/SC, or in test builds (feature `virtual-reader`) the folder of
//! [`crate::virtual_reader`]. Both end in a [`SessionTransport`]; nothing above it knows which.

use std::sync::mpsc as std_mpsc;

use myna_card::{
    CardError, CardSession, PcscTransport, PinState, ReaderEvent, ReaderMonitor, Transport,
};
use std::sync::Arc;
use tracing::{debug, info_span, warn};
use zeroize::Zeroizing;

/// Where the daemon's cards come from.
#[derive(Clone)]
pub enum CardSource {
    /// The PC/SC readers: pcscd on Linux, the Smart Card service (winscard) on Windows.
    Pcsc,
    /// Test builds only: the readers and cards of a folder ([`crate::virtual_reader`]).
    #[cfg(feature = "virtual-reader")]
    Virtual(Arc<crate::virtual_reader::VirtualReaders>),
}

impl std::fmt::Debug for CardSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Pcsc => "PC/SC",
            #[cfg(feature = "virtual-reader")]
            Self::Virtual(_) => "virtual readers",
        })
    }
}

impl CardSource {
    fn connect(&self, reader: &str) -> Result<SessionTransport, CardError> {
        match self {
            Self::Pcsc => PcscTransport::open(reader).map(SessionTransport::Pcsc),
            #[cfg(feature = "virtual-reader")]
            Self::Virtual(readers) => readers.connect(reader).map(SessionTransport::Virtual),
        }
    }
}

/// A card session's connection, whichever the source.
pub enum SessionTransport {
    Pcsc(PcscTransport),
    #[cfg(feature = "virtual-reader")]
    Virtual(crate::virtual_reader::VirtualTransport),
}

impl Transport for SessionTransport {
    fn transmit(&mut self, command: &[u8]) -> Result<Zeroizing<Vec<u8>>, CardError> {
        match self {
            Self::Pcsc(t) => t.transmit(command),
            #[cfg(feature = "virtual-reader")]
            Self::Virtual(t) => t.transmit(command),
        }
    }

    fn transaction(
        &mut self,
        body: &mut dyn FnMut(&mut dyn Transport) -> Result<(), CardError>,
    ) -> Result<(), CardError> {
        match self {
            // PC/SC's exclusive access (SCardBeginTransaction) must not be lost on the way.
            Self::Pcsc(t) => t.transaction(body),
            #[cfg(feature = "virtual-reader")]
            Self::Virtual(t) => t.transaction(body),
        }
    }
}

impl SessionTransport {
    fn disconnect(self) -> Result<(), CardError> {
        match self {
            Self::Pcsc(t) => t.disconnect(),
            #[cfg(feature = "virtual-reader")]
            Self::Virtual(_) => Ok(()),
        }
    }
}

/// The running reader watcher; it stops when dropped.
pub enum Monitor {
    Pcsc(ReaderMonitor),
    #[cfg(feature = "virtual-reader")]
    Virtual(crate::virtual_reader::VirtualWatch),
}

/// Where reports go: returns false once nobody listens any more.
pub type ReportSink = Arc<dyn Fn(CardReport) -> bool + Send + Sync>;

/// What the kiosk asks of a card session.
pub enum CardCommand {
    /// SELECT the JPKI AP, read the token kind, the PIN state and the authentication certificate; on a
    /// face-capable reader also ask its card-face scanner whether it can read 照合番号B.
    Identify { probe_scanner: bool },
    /// Have the scanner read 照合番号B, unlock the face AP with it and read the photo. The code never
    /// leaves this thread; the photo goes to the face worker only.
    ReadFacePhoto,
    /// Read the PIN retry counter (no try used).
    ReadPinCounter,
    /// VERIFY the PIN once, then sign each challenge with the authentication key.
    VerifyPinAndSign {
        pin: myna_card::Pin,
        challenges: Vec<Vec<u8>>,
    },
    /// Sign each challenge on a token that authenticated its holder itself (an iPhone): no PIN.
    SignOnDevice { challenges: Vec<Vec<u8>> },
}

/// What the card told us when it was identified. The certificate identifies the card, not the patient by
/// name; it is still never logged.
#[derive(Clone)]
pub struct IdentifiedCard {
    pub smartphone: bool,
    /// An iPhone's JPKI: the phone authenticated its holder before the tap; no PIN on the reader.
    pub device_authenticates: bool,
    /// The reader's card-face scanner read 照合番号B from this card.
    pub face_scanner: bool,
    pub pin: PinState,
    pub auth_certificate: Vec<u8>,
}

impl std::fmt::Debug for IdentifiedCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentifiedCard")
            .field("smartphone", &self.smartphone)
            .field("device_authenticates", &self.device_authenticates)
            .field("face_scanner", &self.face_scanner)
            .field("pin", &self.pin)
            .finish_non_exhaustive()
    }
}

/// Everything the card side tells the kiosk.
#[derive(Debug)]
pub enum CardReport {
    Reader(ReaderEvent),
    Identified {
        reader: String,
        session: u64,
        result: Result<IdentifiedCard, CardError>,
    },
    PinCounter {
        reader: String,
        session: u64,
        result: Result<u8, CardError>,
    },
    Signed {
        reader: String,
        session: u64,
        result: Result<Vec<Vec<u8>>, CardError>,
    },
    FacePhoto {
        reader: String,
        session: u64,
        result: Result<myna_card::FacePhoto, CardError>,
    },
}

/// Starts watching the readers of `source` and forwards the events for the readers in `names` (all when
/// empty). The returned monitor stops when dropped.
pub fn start_monitor(
    source: &CardSource,
    names: Vec<String>,
    reports: ReportSink,
) -> Result<Monitor, CardError> {
    match source {
        CardSource::Pcsc => {}
        #[cfg(feature = "virtual-reader")]
        CardSource::Virtual(readers) => {
            let wanted = move |reader: &str| names.is_empty() || names.iter().any(|n| n == reader);
            return readers
                .watch(move |event| !is_for(&event, &wanted) || reports(CardReport::Reader(event)))
                .map(Monitor::Virtual);
        }
    }
    let (monitor, events) = ReaderMonitor::start()?;
    std::thread::Builder::new()
        .name("pcsc-forward".into())
        .spawn(move || {
            let wanted = |reader: &str| names.is_empty() || names.iter().any(|n| n == reader);
            while let Ok(event) = events.recv() {
                if is_for(&event, &wanted) && !reports(CardReport::Reader(event)) {
                    break;
                }
            }
        })
        .map_err(|_| CardError::Internal("could not start the reader event thread"))?;
    Ok(Monitor::Pcsc(monitor))
}

/// Whether `event` concerns a reader the configuration names (events of the whole stack always do).
fn is_for(event: &ReaderEvent, wanted: &impl Fn(&str) -> bool) -> bool {
    match event {
        ReaderEvent::ReaderAdded { reader }
        | ReaderEvent::ReaderRemoved { reader }
        | ReaderEvent::CardInserted { reader, .. }
        | ReaderEvent::CardRemoved { reader } => wanted(reader),
        ReaderEvent::PcscdLost | ReaderEvent::PcscdBack => true,
    }
}

/// A card session thread. Dropping the handle ends the session (the thread disconnects and exits).
pub struct SessionHandle {
    pub id: u64,
    commands: std_mpsc::Sender<CardCommand>,
}

impl SessionHandle {
    /// Sends a command; false if the session thread is gone (the card was removed or unreadable).
    pub fn send(&self, command: CardCommand) -> bool {
        self.commands.send(command).is_ok()
    }
}

/// Connects to the card in `reader` on a new thread and runs the commands sent to it.
pub fn spawn_session(
    source: CardSource,
    reader: String,
    id: u64,
    reports: ReportSink,
) -> Result<SessionHandle, CardError> {
    let (tx, rx) = std_mpsc::channel::<CardCommand>();
    std::thread::Builder::new()
        .name(format!("card-session-{id}"))
        .spawn(move || run_session(&source, reader, id, rx, reports))
        .map_err(|_| CardError::Internal("could not start a card session thread"))?;
    Ok(SessionHandle { id, commands: tx })
}

fn run_session(
    source: &CardSource,
    reader: String,
    id: u64,
    commands: std_mpsc::Receiver<CardCommand>,
    reports: ReportSink,
) {
    let span = info_span!("card_session", session = id, reader = %reader);
    let _enter = span.enter();
    let mut session: Option<CardSession<SessionTransport>> = None;
    let mut connect_error: Option<CardError> = None;
    while let Ok(command) = commands.recv() {
        if session.is_none() && connect_error.is_none() {
            match source.connect(&reader) {
                Ok(t) => session = Some(CardSession::new(t)),
                Err(e) => connect_error = Some(e),
            }
        }
        let report = match (&mut session, &connect_error, command) {
            (Some(s), _, CardCommand::Identify { probe_scanner }) => CardReport::Identified {
                reader: reader.clone(),
                session: id,
                result: identify(s, probe_scanner),
            },
            (Some(s), _, CardCommand::ReadFacePhoto) => CardReport::FacePhoto {
                reader: reader.clone(),
                session: id,
                result: read_face_photo(s),
            },
            (Some(s), _, CardCommand::ReadPinCounter) => CardReport::PinCounter {
                reader: reader.clone(),
                session: id,
                result: s.pin_tries_left(),
            },
            (Some(s), _, CardCommand::VerifyPinAndSign { pin, challenges }) => {
                let result = s.verify_pin(&pin).and_then(|()| {
                    challenges
                        .iter()
                        .map(|c| s.sign_challenge(c))
                        .collect::<Result<Vec<_>, _>>()
                });
                drop(pin);
                CardReport::Signed {
                    reader: reader.clone(),
                    session: id,
                    result,
                }
            }
            (Some(s), _, CardCommand::SignOnDevice { challenges }) => {
                // Selecting the JPKI AP again (identify) puts the session where signing starts; the token
                // says again whether it authenticates its holder itself.
                let result = s.identify().and_then(|identity| {
                    if identity.token != myna_card::TokenKind::SmartphoneIos {
                        return Err(CardError::SecurityStatusNotSatisfied);
                    }
                    challenges
                        .iter()
                        .map(|c| s.sign_challenge(c))
                        .collect::<Result<Vec<_>, _>>()
                });
                CardReport::Signed {
                    reader: reader.clone(),
                    session: id,
                    result,
                }
            }
            (None, error, command) => {
                let e = error
                    .clone()
                    .unwrap_or(CardError::Internal("no card session"));
                match command {
                    CardCommand::Identify { .. } => CardReport::Identified {
                        reader: reader.clone(),
                        session: id,
                        result: Err(e),
                    },
                    CardCommand::ReadPinCounter => CardReport::PinCounter {
                        reader: reader.clone(),
                        session: id,
                        result: Err(e),
                    },
                    CardCommand::VerifyPinAndSign { .. } | CardCommand::SignOnDevice { .. } => {
                        CardReport::Signed {
                            reader: reader.clone(),
                            session: id,
                            result: Err(e),
                        }
                    }
                    CardCommand::ReadFacePhoto => CardReport::FacePhoto {
                        reader: reader.clone(),
                        session: id,
                        result: Err(e),
                    },
                }
            }
        };
        if !reports(report) {
            break;
        }
    }
    if let Some(s) = session {
        if let Err(e) = s.into_transport().disconnect() {
            debug!(error = %e, "disconnect after the session");
        }
    }
    debug!("card session ended");
}

fn identify(
    s: &mut CardSession<SessionTransport>,
    probe_scanner: bool,
) -> Result<IdentifiedCard, CardError> {
    let identity = s.identify()?;
    let auth_certificate = s.auth_certificate().inspect_err(|e| {
        warn!(error = %e, "the authentication certificate could not be read");
    })?;
    // The scanner's answer is only looked at, not kept: the code is read again when the photo is.
    let face_scanner = probe_scanner
        && match s.scan_card_face() {
            Ok(code) => code.is_some(),
            Err(e) if e.is_card_gone() => return Err(e),
            Err(e) => {
                warn!(error = %e, "the card-face scanner gave no 照合番号B");
                false
            }
        };
    Ok(IdentifiedCard {
        smartphone: identity.token.is_smartphone(),
        device_authenticates: identity.token == myna_card::TokenKind::SmartphoneIos,
        face_scanner,
        pin: identity.auth_pin,
        auth_certificate,
    })
}

fn read_face_photo(
    s: &mut CardSession<SessionTransport>,
) -> Result<myna_card::FacePhoto, CardError> {
    let code = s
        .scan_card_face()?
        .ok_or(CardError::NotFound("照合番号B from the card-face scanner"))?;
    s.read_face_photo(&code)
}
