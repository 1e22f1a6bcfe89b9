//! [`Pii`]: a string that identifies a patient (name, kana, birth date, 記号・番号・枝番, address, 照会番号).
//!
//! It serializes as the plain string (files and `oqs file inspect` need the value) but its `Debug` output is
//! redacted, so a `tracing::debug!(?msg)` anywhere in the project cannot leak a patient identifier.

use serde::{Deserialize, Serialize};

/// A patient identifier. `Debug` prints only its length; use [`Pii::expose`] where the value is really needed.
#[derive(Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub struct Pii(String);

impl Pii {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself. The name is deliberately loud: every call site is a place where PII leaves the type.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Consumes the wrapper.
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl std::fmt::Debug for Pii {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pii(<redacted {} chars>)", self.0.chars().count())
    }
}

impl From<&str> for Pii {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl From<String> for Pii {
    fn from(value: String) -> Self {
        Self(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted_but_json_is_not() {
        let name = Pii::from("山田　太郎");
        let dbg = format!("{name:?}");
        assert!(!dbg.contains("山田"), "{dbg}");
        assert_eq!(dbg, "Pii(<redacted 5 chars>)");
        assert_eq!(serde_json::to_string(&name).unwrap(), "\"山田　太郎\"");
    }
}
