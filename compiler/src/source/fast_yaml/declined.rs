//! [`Declined`]: why no value came out of a YAML text, with where, when known.

use std::borrow::Cow;
use std::fmt;

use serde::de;

/// Why no value came out of a YAML text: the fast parser declined it (the full parser
/// is to read it), or the text is not YAML, or not a value of the requested type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Declined {
    /// Which kind of reason it is.
    pub kind: DeclineKind,
    /// What was found: for [`DeclineKind::Invalid`] and [`DeclineKind::Syntax`] a
    /// message for the user (`invalid type: string "two", expected u16`).
    pub reason: Cow<'static, str>,
    /// Byte offset in the text of the offending event ([`NOWHERE`]: not known); see
    /// [`Declined::at`]. A plain `u32` keeps the error (and every `Result` the
    /// deserializer returns) at 32 bytes.
    offset: u32,
}

/// [`Declined`]'s offset when it is not known.
const NOWHERE: u32 = u32::MAX;

/// The kinds of [`Declined`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeclineKind {
    /// The text uses YAML outside the fast parser's subset, or is not YAML that
    /// parser is sure of (a syntax error, odd indentation): the full parser reads it.
    Unsupported,
    /// The text is YAML, but not a value of the requested type (wrong type, unknown,
    /// missing or duplicate field, ...).
    Invalid,
    /// The full parser found the text is not YAML (or not YAML a config may use: a
    /// tag, several documents, aliases expanding too far, nesting too deep).
    Syntax,
}

impl Declined {
    pub(super) fn unsupported(reason: &'static str) -> Declined {
        Declined { kind: DeclineKind::Unsupported, reason: Cow::Borrowed(reason), offset: NOWHERE }
    }

    pub(super) fn invalid(reason: &'static str) -> Declined {
        Declined { kind: DeclineKind::Invalid, reason: Cow::Borrowed(reason), offset: NOWHERE }
    }

    pub(super) fn syntax(reason: impl Into<Cow<'static, str>>, at: u32) -> Declined {
        Declined { kind: DeclineKind::Syntax, reason: reason.into(), offset: at }
    }

    /// Byte offset in the text of the offending event, when known.
    pub fn at(&self) -> Option<u32> {
        (self.offset != NOWHERE).then_some(self.offset)
    }

    /// Sets the offset if none is set yet (the innermost one wins).
    #[cold]
    #[inline(never)]
    pub(super) fn or_at(mut self, at: Option<u32>) -> Declined {
        if self.offset == NOWHERE {
            self.offset = at.unwrap_or(NOWHERE);
        }
        self
    }
}

impl de::Error for Declined {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Declined { kind: DeclineKind::Invalid, reason: Cow::Owned(msg.to_string()), offset: NOWHERE }
    }
}

pub(super) type R<T> = Result<T, Declined>;

pub(super) fn unsupported<T>(reason: &'static str) -> R<T> {
    Err(Declined::unsupported(reason))
}
