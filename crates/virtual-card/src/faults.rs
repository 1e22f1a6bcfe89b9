//! Fault injection shared by the in-process and the vpcd card: removal mid-operation, slow and garbage answers.

use std::time::Duration;

/// What should go wrong, counted in command APDUs (control messages of vpcd are not counted).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// Answer this many APDUs, then the card is removed when the next one arrives (it gets no answer).
    pub remove_after: Option<usize>,
    /// Wait this long before every answer.
    pub delay: Option<Duration>,
    /// From this APDU on (1-based), answer one meaningless byte instead of a response.
    pub garbage_from: Option<usize>,
}

/// What to do with APDU number `n` (1-based).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Action {
    Answer,
    Remove,
    Garbage,
}

impl Faults {
    pub fn remove_after(n: usize) -> Self {
        Self {
            remove_after: Some(n),
            ..Self::default()
        }
    }

    pub(crate) fn action(&self, n: usize) -> Action {
        if self.remove_after.is_some_and(|limit| n > limit) {
            Action::Remove
        } else if self.garbage_from.is_some_and(|from| n >= from) {
            Action::Garbage
        } else {
            Action::Answer
        }
    }
}

/// The "garbage" answer: too short to hold a status word.
pub(crate) const GARBAGE: [u8; 1] = [0x42];
