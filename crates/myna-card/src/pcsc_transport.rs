//! The PC/SC transport over the `pcsc` crate: shared mode, and a PC/SC transaction around each operation.

use std::ffi::{CStr, CString};
use std::time::{Duration, Instant};

use pcsc::{
    Card, Context, Disposition, MAX_BUFFER_SIZE_EXTENDED, Protocols, ReaderState, Scope, ShareMode,
    State,
};
use zeroize::Zeroizing;

use crate::{CardError, Transport};

/// A card connected through pcscd.
pub struct PcscTransport {
    card: Card,
    reader: CString,
    ctx: Context,
}

impl std::fmt::Debug for PcscTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcscTransport")
            .field("reader", &self.reader)
            .finish()
    }
}

impl PcscTransport {
    /// Connects in shared mode (the kiosk and, say, a vendor tool may both watch the reader).
    pub fn connect(ctx: &Context, reader: &CStr) -> Result<Self, CardError> {
        let card = ctx.connect(reader, ShareMode::Shared, Protocols::ANY)?;
        Ok(Self {
            card,
            reader: reader.to_owned(),
            ctx: ctx.clone(),
        })
    }

    /// Establishes a fresh PC/SC context and connects to `reader`.
    pub fn open(reader: &str) -> Result<Self, CardError> {
        let ctx = Context::establish(Scope::User)?;
        let name = CString::new(reader).map_err(|_| CardError::ReaderUnavailable)?;
        Self::connect(&ctx, &name)
    }

    pub fn reader(&self) -> &CStr {
        &self.reader
    }

    /// The ATR as pcscd reports it now (for logs; never used to identify the card).
    pub fn atr(&self) -> Result<Vec<u8>, CardError> {
        Ok(self.card.status2_owned()?.atr().to_vec())
    }

    /// Disconnects, leaving the card powered for the next reader of it.
    pub fn disconnect(self) -> Result<(), CardError> {
        self.card
            .disconnect(Disposition::LeaveCard)
            .map_err(|(_, e)| CardError::from(e))
    }
}

/// How long to wait for pcscd to notice a removal after a transmit that looks like one. pcscd polls vpcd
/// and many readers every 400 ms.
const REMOVAL_SETTLE: Duration = Duration::from_millis(1000);

struct Link<'a> {
    card: &'a Card,
    ctx: &'a Context,
    reader: &'a CStr,
}

impl Link<'_> {
    fn transmit(&self, command: &[u8]) -> Result<Zeroizing<Vec<u8>>, CardError> {
        let mut buf = Zeroizing::new(vec![0u8; MAX_BUFFER_SIZE_EXTENDED]);
        match self.card.transmit(command, &mut buf) {
            Ok(resp) if resp.len() >= 2 => Ok(Zeroizing::new(resp.to_vec())),
            // A card pulled mid-command can surface as an empty answer or a transport error before
            // pcscd has noticed the removal; ask pcscd before calling it garbage.
            Ok(resp) => {
                let resp = Zeroizing::new(resp.to_vec());
                if self.card_gone() {
                    Err(CardError::CardRemoved)
                } else {
                    Ok(resp)
                }
            }
            Err(e @ (pcsc::Error::NotTransacted | pcsc::Error::CommError)) => {
                if self.card_gone() {
                    Err(CardError::CardRemoved)
                } else {
                    Err(CardError::from(e))
                }
            }
            Err(e) => Err(CardError::from(e)),
        }
    }

    /// Waits (on pcscd events, bounded by [`REMOVAL_SETTLE`]) to learn whether the card left the reader.
    fn card_gone(&self) -> bool {
        let mut rs = [ReaderState::new(self.reader.to_owned(), State::PRESENT)];
        let deadline = Instant::now() + REMOVAL_SETTLE;
        loop {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return false;
            };
            match self.ctx.get_status_change(Some(left), &mut rs) {
                Ok(()) => {
                    let ev = rs[0].event_state();
                    if ev.intersects(State::EMPTY | State::UNKNOWN | State::UNAVAILABLE) {
                        return true;
                    }
                    rs[0].sync_current_state();
                }
                Err(pcsc::Error::Timeout) => return false,
                Err(_) => return true,
            }
        }
    }
}

struct InTransaction<'a>(Link<'a>);

impl Transport for InTransaction<'_> {
    fn transmit(&mut self, command: &[u8]) -> Result<Zeroizing<Vec<u8>>, CardError> {
        self.0.transmit(command)
    }
}

impl Transport for PcscTransport {
    fn transmit(&mut self, command: &[u8]) -> Result<Zeroizing<Vec<u8>>, CardError> {
        Link {
            card: &self.card,
            ctx: &self.ctx,
            reader: &self.reader,
        }
        .transmit(command)
    }

    fn transaction(
        &mut self,
        body: &mut dyn FnMut(&mut dyn Transport) -> Result<(), CardError>,
    ) -> Result<(), CardError> {
        let (ctx, reader) = (&self.ctx, self.reader.as_c_str());
        let tx = self.card.transaction()?;
        let result = body(&mut InTransaction(Link {
            card: &tx,
            ctx,
            reader,
        }));
        match tx.end(Disposition::LeaveCard) {
            // The body's own error (e.g. CardRemoved) says more than the failure to end the transaction.
            Err((_, e)) if result.is_ok() => Err(CardError::from(e)),
            _ => result,
        }
    }
}
