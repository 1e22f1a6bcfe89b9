//! How APDUs reach a card: a small trait, so the APDU logic runs the same over PC/SC and in-process cards.

use zeroize::Zeroizing;

use crate::CardError;

/// A channel to one card.
pub trait Transport {
    /// Sends one command APDU and returns the raw response (data ‖ SW1 SW2).
    fn transmit(&mut self, command: &[u8]) -> Result<Zeroizing<Vec<u8>>, CardError>;

    /// Runs `body` with exclusive access to the card, so no other program can change the selected
    /// application or EF between the APDUs of one operation. The default has no one to exclude.
    fn transaction(
        &mut self,
        body: &mut dyn FnMut(&mut dyn Transport) -> Result<(), CardError>,
    ) -> Result<(), CardError>
    where
        Self: Sized,
    {
        body(self)
    }
}

impl<T: Transport + ?Sized> Transport for &mut T {
    fn transmit(&mut self, command: &[u8]) -> Result<Zeroizing<Vec<u8>>, CardError> {
        (**self).transmit(command)
    }
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn transmit(&mut self, command: &[u8]) -> Result<Zeroizing<Vec<u8>>, CardError> {
        (**self).transmit(command)
    }
}
