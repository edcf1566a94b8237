//! A fast, strict deserializer for the subset of YAML that config files are written in.
//!
//! [`from_str`] reads block mappings and block sequences by indentation (including
//! `- key: value` items, `- - x` nested items and sequences not indented under their
//! key), single-line flow sequences and mappings (`[1, 2]`, `{ip: a, port: 80}`,
//! nested), plain, single-quoted and double-quoted scalars on one line (with every
//! escape double quotes allow), comments, blank lines, CRLF line endings, an optional
//! leading `---` and trailing `...`. It parses the text into a flat list of compact
//! events (a scalar is a byte range of the text unless it had escapes), then
//! implements `serde::Deserializer` over them, handing scalars to serde borrowed from
//! the text.
//!
//! Scalars resolve exactly as in `serde_norway` (whose resolution code this mirrors):
//! a string field takes any scalar as written (`name: 123` is `"123"`, `name: ~` is
//! `"~"`, `name:` is `""`); integers must be plain and are read as by serde_norway
//! (`0x50`, `0o120`, `0b1010000`, `+80`; `080` and `"80"` are not integers); booleans
//! must be plain `true`/`True`/`TRUE`/`false`/`False`/`FALSE` (`yes` is not a
//! boolean); an option is `None` for a plain `~`, `null`, `Null`, `NULL` or empty
//! value and `Some` otherwise; an empty plain value is an empty sequence or mapping
//! where one is expected; a unit enum variant is any scalar naming it.
//!
//! It never guesses. Anything outside the subset — anchors and aliases, tags, block
//! scalars (`|`, `>`), multi-line plain or quoted scalars, multi-line flow
//! collections, complex keys (`?`), directives (`%`), several documents, tabs, control
//! characters, line breaks other than LF and CRLF, nesting deeper than
//! [`MAX_DEPTH`], keys longer than [`MAX_KEY_LEN`] — and any error at all (bad
//! indentation, a value of the wrong type, an unknown or missing field) make it
//! return [`Declined`] instead of a value. [`crate::source`] then parses the text with
//! `serde_norway`, so those texts load (or fail, with the same message and position)
//! exactly as they would without the fast path. So the only promise this module has
//! to keep is: whenever it returns `Ok(value)`, `serde_norway::from_str` returns
//! `Ok` with an equal value. It does not panic and uses no recursion deeper than
//! [`MAX_DEPTH`] collections.
//!
//! Only the types the config model uses are supported (strings, unsigned integers,
//! booleans, options, unit enum variants, sequences, fixed-size arrays, structs);
//! asking for any other type (`deserialize_any`, signed integers, floats, ...)
//! declines.

mod declined;
mod deserializer;
mod parser;
mod scalars;

pub use declined::{DeclineKind, Declined};
pub use parser::{MAX_DEPTH, MAX_KEY_LEN};

use serde::de;

use deserializer::EventDe;
use parser::parse;

/// Deserializes a `T` from YAML `text` if the text is in the supported subset and is
/// a valid `T`; otherwise says why not (see the module docs). A leading byte-order
/// mark is not skipped (declined): strip it first.
pub fn from_str<'a, T: de::Deserialize<'a>>(text: &'a str) -> Result<T, Declined> {
    let doc = parse(text)?;
    let mut de = EventDe { text, events: &doc.events, owned: &doc.owned, pos: 0 };
    let value = T::deserialize(&mut de)?;
    if de.pos != doc.events.len() {
        return Err(Declined::invalid("trailing events"));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::parser::{view, Ev, Raw};
    use super::scalars::parse_unsigned_int;
    use super::*;

    fn events(text: &str) -> Vec<Ev<'_>> {
        let doc = parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        doc.events.iter().map(|raw| view(text, *raw).unwrap()).collect()
    }

    #[test]
    fn block_and_flow_events() {
        use Ev::*;
        assert_eq!(
            events("a:\n- - 1\n  - 2\n- [x, 'y']\nb: {k: \"v\\n\", e: }\n"),
            vec![
                MapStart,
                Plain("a"),
                SeqStart(2),
                SeqStart(2),
                Plain("1"),
                Plain("2"),
                SeqEnd,
                SeqStart(2),
                Plain("x"),
                Quoted("y"),
                SeqEnd,
                SeqEnd,
                Plain("b"),
                MapStart,
                Plain("k"),
                Escaped(0),
                Plain("e"),
                Plain(""),
                MapEnd,
                MapEnd,
            ]
        );
        assert_eq!(
            events("---\n- n: 1 # c\n  m:\n    - 'it''s'\n-\n  x: ~\n...\n"),
            vec![
                SeqStart(2),
                MapStart,
                Plain("n"),
                Plain("1"),
                Plain("m"),
                SeqStart(1),
                Escaped(0),
                SeqEnd,
                MapEnd,
                MapStart,
                Plain("x"),
                Plain("~"),
                MapEnd,
                SeqEnd,
            ]
        );
    }

    #[test]
    fn events_are_small() {
        assert!(std::mem::size_of::<Raw>() <= 12);
    }

    #[test]
    fn unsigned_ints_as_serde_norway() {
        for (s, want) in [
            ("80", Some(80)),
            ("+80", Some(80)),
            ("0x50", Some(80)),
            ("0o120", Some(80)),
            ("0b1010000", Some(80)),
            ("080", None),
            ("0", Some(0)),
            ("-1", None),
            ("0x+5", None),
            ("++5", None),
            ("0x", None),
            ("1_000", None),
            ("", None),
        ] {
            assert_eq!(parse_unsigned_int(s), want, "{s:?}");
        }
    }
}
