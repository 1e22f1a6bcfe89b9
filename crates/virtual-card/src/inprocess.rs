//! The virtual card as an in-process [`Transport`], for tests without pcscd.

use myna_card::{CardError, Transport};
use zeroize::Zeroizing;

use crate::card::VirtualCard;
use crate::faults::{Action, Faults, GARBAGE};

/// A virtual card plugged straight into the card layer. Records every command it receives.
pub struct InProcessCard {
    card: VirtualCard,
    faults: Faults,
    count: usize,
    removed: bool,
    log: Vec<Zeroizing<Vec<u8>>>,
}

impl InProcessCard {
    pub fn new(card: VirtualCard) -> Self {
        Self::with_faults(card, Faults::default())
    }

    pub fn with_faults(card: VirtualCard, faults: Faults) -> Self {
        Self {
            card,
            faults,
            count: 0,
            removed: false,
            log: Vec::new(),
        }
    }

    /// Every command APDU received, in order (including the one that found the card removed).
    pub fn log(&self) -> &[Zeroizing<Vec<u8>>] {
        &self.log
    }

    pub fn card(&self) -> &VirtualCard {
        &self.card
    }

    pub fn apdu_count(&self) -> usize {
        self.count
    }

    /// Puts the card back (power-on state) and clears the fault plan.
    pub fn reinsert(&mut self) {
        self.removed = false;
        self.faults = Faults::default();
        self.card.reset();
    }
}

impl Transport for InProcessCard {
    fn transmit(&mut self, command: &[u8]) -> Result<Zeroizing<Vec<u8>>, CardError> {
        if self.removed {
            return Err(CardError::CardRemoved);
        }
        self.count += 1;
        self.log.push(Zeroizing::new(command.to_vec()));
        match self.faults.action(self.count) {
            Action::Remove => {
                self.removed = true;
                self.card.reset();
                Err(CardError::CardRemoved)
            }
            Action::Garbage => Ok(Zeroizing::new(GARBAGE.to_vec())),
            Action::Answer => {
                if let Some(d) = self.faults.delay {
                    std::thread::sleep(d);
                }
                Ok(self.card.process(command))
            }
        }
    }
}
