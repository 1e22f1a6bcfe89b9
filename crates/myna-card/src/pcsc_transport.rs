//! The PC/SC transport over the `pcsc` crate: shared mode, and a PC/SC transaction around each operation.

use std::ffi::{CStr, CString};

use pcsc::{Card, Context, Disposition, MAX_BUFFER_SIZE_EXTENDED, Protocols, Scope, ShareMode};
use zeroize::Zeroizing;

use crate::{CardError, Transport};

/// A card connected through pcscd.
pub struct PcscTransport {
    card: Card,
    reader: CString,
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

fn transmit_on(card: &Card, command: &[u8]) -> Result<Zeroizing<Vec<u8>>, CardError> {
    let mut buf = Zeroizing::new(vec![0u8; MAX_BUFFER_SIZE_EXTENDED]);
    let resp = card.transmit(command, &mut buf)?;
    Ok(Zeroizing::new(resp.to_vec()))
}

struct InTransaction<'a>(&'a Card);

impl Transport for InTransaction<'_> {
    fn transmit(&mut self, command: &[u8]) -> Result<Zeroizing<Vec<u8>>, CardError> {
        transmit_on(self.0, command)
    }
}

impl Transport for PcscTransport {
    fn transmit(&mut self, command: &[u8]) -> Result<Zeroizing<Vec<u8>>, CardError> {
        transmit_on(&self.card, command)
    }

    fn transaction(
        &mut self,
        body: &mut dyn FnMut(&mut dyn Transport) -> Result<(), CardError>,
    ) -> Result<(), CardError> {
        let tx = self.card.transaction()?;
        let result = body(&mut InTransaction(&tx));
        match tx.end(Disposition::LeaveCard) {
            // The body's own error (e.g. CardRemoved) says more than the failure to end the transaction.
            Err((_, e)) if result.is_ok() => Err(CardError::from(e)),
            _ => result,
        }
    }
}
