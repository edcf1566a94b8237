//! [`Declined`]: why the fast path gave no value, so the text goes to `serde_norway`.

use std::borrow::Cow;
use std::fmt;

use serde::de;

/// Why [`super::from_str`] gave no value: the text is to be parsed by `serde_norway`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declined {
    /// Which kind of reason it is.
    pub kind: DeclineKind,
    /// What was found (for tests and debugging; not a user-facing message).
    pub reason: Cow<'static, str>,
}

/// The two kinds of [`Declined`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeclineKind {
    /// The text uses YAML outside the subset, or is not YAML this parser is sure of
    /// (a syntax error, odd indentation).
    Unsupported,
    /// The text is in the subset, but is not a value of the requested type (wrong
    /// type, unknown, missing or duplicate field, ...).
    Invalid,
}

impl Declined {
    pub(super) fn unsupported(reason: &'static str) -> Declined {
        Declined { kind: DeclineKind::Unsupported, reason: Cow::Borrowed(reason) }
    }

    pub(super) fn invalid(reason: &'static str) -> Declined {
        Declined { kind: DeclineKind::Invalid, reason: Cow::Borrowed(reason) }
    }
}

impl fmt::Display for Declined {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            DeclineKind::Unsupported => "unsupported",
            DeclineKind::Invalid => "invalid",
        };
        write!(f, "{kind}: {}", self.reason)
    }
}

impl std::error::Error for Declined {}

impl de::Error for Declined {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Declined { kind: DeclineKind::Invalid, reason: Cow::Owned(msg.to_string()) }
    }
}

pub(super) type R<T> = Result<T, Declined>;

pub(super) fn unsupported<T>(reason: &'static str) -> R<T> {
    Err(Declined::unsupported(reason))
}
