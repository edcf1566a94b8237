//! The config YAML reader: two parsers that produce one event representation
//! ([`Doc`]: compact events with byte offsets), one `serde::Deserializer` over it
//! ([`deserialize`]), from which [`crate::source`] also builds the source map.
//!
//! The fast parser ([`from_str`] alone, or the first step of [`parse`]) reads block
//! mappings and block sequences by indentation (including `- key: value` items,
//! `- - x` nested items and sequences not indented under their key), single-line
//! flow sequences and mappings (`[1, 2]`, `{ip: a, port: 80}`, nested), plain,
//! single-quoted and double-quoted scalars on one line (with every escape double
//! quotes allow), comments, blank lines, CRLF line endings, an optional leading `---`
//! and trailing `...`. Scalars are byte ranges of the text unless they had escapes.
//! It never guesses: anything outside the subset — anchors and aliases, tags, block
//! scalars (`|`, `>`), multi-line plain or quoted scalars, multi-line flow
//! collections, complex keys (`?`), directives (`%`), several documents, tabs,
//! control characters, line breaks other than LF and CRLF, nesting deeper than
//! [`MAX_DEPTH`], keys longer than [`MAX_KEY_LEN`] — makes it decline
//! ([`DeclineKind::Unsupported`]), and [`parse`] hands the text to the full parser
//! ([`full`]: `yaml-rust2`'s marked events converted into the same events, aliases
//! expanded, tags refused).
//!
//! Scalars resolve exactly as in `serde_norway` (whose resolution code this mirrors):
//! a string field takes any scalar as written (`name: 123` is `"123"`, `name: ~` is
//! `"~"`, `name:` is `""`); integers must be plain and are read as by serde_norway
//! (`0x50`, `0o120`, `0b1010000`, `+80`; `080` and `"80"` are not integers); booleans
//! must be plain `true`/`True`/`TRUE`/`false`/`False`/`FALSE` (`yes` is not a
//! boolean); an option is `None` for a plain `~`, `null`, `Null`, `NULL` or empty
//! value and `Some` otherwise; an empty plain value is an empty sequence or mapping
//! where one is expected; a unit enum variant is any scalar naming it. Errors are
//! serde's messages (`invalid type: string "two", expected u16`) with the byte offset
//! of the offending event. `serde_norway` is the differential oracle
//! (`compiler/tests/fast_yaml.rs`, the `config_yaml` fuzz target): the same value, or
//! both refuse, except for the differences RELIABILITY.md documents.
//!
//! Only the types the config model uses are supported (strings, unsigned integers,
//! booleans, options, unit enum variants, sequences, fixed-size arrays, structs);
//! asking for any other type (`deserialize_any`, signed integers, floats, ...) is an
//! error. Nothing here panics or recurses deeper than [`MAX_DEPTH`] collections.

mod declined;
mod deserializer;
pub mod full;
mod parser;
mod scalars;

pub use declined::{DeclineKind, Declined};
pub use parser::{Doc, Ev, MAX_DEPTH, MAX_KEY_LEN};

use serde::de::DeserializeOwned;

use deserializer::EventDe;

/// Deserializes a `T` from YAML `text` if the text is in the fast parser's subset and
/// is a valid `T`; otherwise says why not (see the module docs). A leading byte-order
/// mark is not skipped (declined): strip it first.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, Declined> {
    let doc = parser::parse(text)?;
    deserialize(text, &doc)
}

/// The events of `text`: the fast parser's if the text is in its subset, else the
/// full parser's. An error is a [`DeclineKind::Syntax`] one, located.
pub fn parse(text: &str) -> Result<Doc, Declined> {
    match parser::parse(text) {
        Ok(doc) => Ok(doc),
        Err(_) => {
            let full = full::parse(text);
            match full.error {
                None => Ok(full.doc),
                Some(e) => Err(e),
            }
        }
    }
}

/// [`parse`], best effort: the events up to the first problem (for the source map,
/// which locates what it can).
pub fn parse_lenient(text: &str) -> Doc {
    match parser::parse(text) {
        Ok(doc) => doc,
        Err(_) => full::parse(text).doc,
    }
}

/// The full parser's events of `text` alone, best effort (what [`parse_lenient`] gives
/// for texts outside the fast subset; for tests comparing the two parsers).
pub fn parse_full_lenient(text: &str) -> Doc {
    full::parse(text).doc
}

/// Reads a `T` from the events of `text` (see [`parse`]). Errors carry the byte
/// offset of the event they are about.
pub fn deserialize<T: DeserializeOwned>(text: &str, doc: &Doc) -> Result<T, Declined> {
    let mut de = EventDe::new(text, doc);
    let value = T::deserialize(&mut de)?;
    if de.pos != doc.events.len() {
        return Err(Declined::invalid("trailing events"));
    }
    Ok(value)
}

/// [`deserialize`], also tracking the object path, for the error message
/// (`pools[0].servers[1].port`; `None` at the top level).
pub fn deserialize_tracked<T: DeserializeOwned>(text: &str, doc: &Doc) -> Result<T, (Option<String>, Declined)> {
    let mut de = EventDe::new(text, doc);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let path = (path != "." && !path.is_empty()).then_some(path);
        (path, e.into_inner())
    })?;
    if de.pos != doc.events.len() {
        return Err((None, Declined::invalid("trailing events")));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::parser::{view, Raw};
    use super::scalars::parse_unsigned_int;
    use super::*;

    fn events(text: &str) -> Vec<Ev<'static>> {
        let doc = parser::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        let evs: Vec<Ev<'_>> = doc.events.iter().map(|raw| view(text, &doc.owned, *raw).unwrap()).collect();
        // Leaked for the comparison's convenience (tests only).
        let evs: Vec<Ev<'static>> = evs
            .into_iter()
            .map(|e| match e {
                Ev::Plain(s) => Ev::Plain(String::leak(s.to_string())),
                Ev::Quoted(s) => Ev::Quoted(String::leak(s.to_string())),
                Ev::MapStart => Ev::MapStart,
                Ev::MapEnd => Ev::MapEnd,
                Ev::SeqStart(n) => Ev::SeqStart(n),
                Ev::SeqEnd => Ev::SeqEnd,
            })
            .collect();
        evs
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
                Quoted("v\n"),
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
                Quoted("it's"),
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
        assert!(std::mem::size_of::<Declined>() <= 32);
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
