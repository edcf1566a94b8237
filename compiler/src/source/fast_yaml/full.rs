//! The full YAML parser: `yaml-rust2`'s marked events converted into a [`Doc`], the
//! representation the fast parser produces, so that one deserializer and one
//! source-map walker serve every text.
//!
//! Aliases are expanded by replaying the anchored node's events (with their
//! positions), bounded as `serde_norway` bounds them (no more alias expansions than
//! 100 times the document's events) and, against memory blow-up, to
//! [`MAX_EXPANDED_EVENTS`] replayed events in all. Tags are refused (`!x` is
//! not part of the config format), as are several documents and nesting deeper than
//! [`MAX_DEPTH`]. Nothing here recurses.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::declined::{unsupported, Declined, R};
use super::parser::{Doc, Raw, MAX_DEPTH};

/// Most events that alias expansion may add to a document (48 MiB of events).
pub const MAX_EXPANDED_EVENTS: usize = 1 << 22;

/// What a parse of the full parser gave: the events (up to the problem, if any) and
/// the problem.
pub(super) struct Parsed {
    pub(super) doc: Doc,
    pub(super) error: Option<Declined>,
}

/// Parses `text` (any YAML) into the events of its only document.
pub(super) fn parse(text: &str) -> Parsed {
    // libyaml (and so serde_norway) breaks lines at a lone carriage return, NEL
    // (U+0085), LS and PS (U+2028, U+2029), yaml-rust2 only at LF and CR LF: they
    // become LF, CR LF and ` ` CR LF, byte for byte, so offsets stay those of `text`
    // (the space is trailing white space, which YAML drops outside block scalars).
    let normalized = needs_normalizing(text).then(|| normalize_breaks(text));
    let text = normalized.as_deref().unwrap_or(text);
    let mut b = Builder::new(text);
    let error = b.run(text).err();
    Parsed { doc: b.doc, error }
}

/// One collection that is open.
struct Open {
    /// Index of its start event.
    at: usize,
    items: u32,
    anchor: usize,
    /// Deepest nesting of collections inside it.
    inner: usize,
    /// [`Builder::jumps`] when it started.
    jumps: usize,
}

/// An anchored node: its events, how deep it nests, how many alias expansions it holds.
#[derive(Clone, Copy)]
struct Anchor {
    from: usize,
    to: usize,
    depth: usize,
    jumps: usize,
}

struct Builder<'t> {
    text: &'t str,
    ascii: bool,
    /// (char index, byte offset) of the last position converted.
    cursor: (usize, usize),
    doc: Doc,
    open: Vec<Open>,
    anchors: HashMap<usize, Anchor>,
    /// Events of the document as written (aliases count one).
    written: usize,
    /// Alias expansions, nested ones included.
    jumps: usize,
    expanded: usize,
    documents: usize,
}

impl<'t> Builder<'t> {
    fn new(text: &'t str) -> Builder<'t> {
        Builder {
            text,
            ascii: text.is_ascii(),
            cursor: (0, 0),
            doc: Doc { events: Vec::with_capacity(text.len() / 8 + 16), owned: Vec::new() },
            open: Vec::new(),
            anchors: HashMap::new(),
            written: 0,
            jumps: 0,
            expanded: 0,
            documents: 0,
        }
    }

    fn run(&mut self, text: &str) -> R<()> {
        if u32::try_from(text.len()).is_err() {
            return unsupported("a text of 4 GiB or more");
        }
        // yaml-rust2 reads any character; YAML (and libyaml) only printable ones.
        if let Some((i, c)) = text.char_indices().find(|&(i, c)| !(printable(c) || (i == 0 && c == '\u{feff}'))) {
            let at = u32::try_from(i).unwrap_or(u32::MAX);
            return Err(Declined::syntax(format!("a control character (U+{:04X}) is not allowed", c as u32), at));
        }
        let mut parser = Parser::new_from_str(text);
        loop {
            let (ev, mark) = parser.next_token().map_err(|e| {
                let at = self.offset(e.marker());
                Declined::syntax(e.info().to_string(), at)
            })?;
            let at = self.offset(&mark);
            match ev {
                Event::StreamEnd => break,
                Event::Nothing | Event::StreamStart | Event::DocumentEnd => {}
                Event::DocumentStart => {
                    self.documents += 1;
                    if self.documents > 1 {
                        return Err(Declined::syntax("more than one YAML document (a config is one document)", at));
                    }
                }
                Event::Alias(id) => {
                    self.written += 1;
                    self.alias(id, at)?;
                }
                Event::Scalar(value, style, anchor, tag) => {
                    self.written += 1;
                    refuse_tag(tag.is_some(), at)?;
                    self.item();
                    let start = self.doc.events.len();
                    let i = self.own(value, at)?;
                    self.doc.events.push(match style {
                        TScalarStyle::Plain => Raw::OwnedPlain(i, at),
                        _ => Raw::Owned(i, at),
                    });
                    self.anchor(anchor, Anchor { from: start, to: start + 1, depth: 0, jumps: 0 });
                }
                Event::SequenceStart(anchor, ref tag) | Event::MappingStart(anchor, ref tag) => {
                    self.written += 1;
                    refuse_tag(tag.is_some(), at)?;
                    self.item();
                    if self.open.len() >= MAX_DEPTH {
                        return Err(Declined::syntax("nesting deeper than the config reader allows", at));
                    }
                    let start = self.doc.events.len();
                    self.doc.events.push(if matches!(ev, Event::MappingStart(..)) {
                        Raw::MapStart(at)
                    } else {
                        Raw::SeqStart(0, at)
                    });
                    self.open.push(Open { at: start, items: 0, anchor, inner: 0, jumps: self.jumps });
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    self.written += 1;
                    let Some(o) = self.open.pop() else {
                        return Err(Declined::syntax("internal: unbalanced events", at));
                    };
                    if let Some(Raw::SeqStart(n, _)) = self.doc.events.get_mut(o.at) {
                        *n = o.items;
                    }
                    self.doc.events.push(if matches!(ev, Event::MappingEnd) { Raw::MapEnd } else { Raw::SeqEnd });
                    let depth = o.inner + 1;
                    if let Some(parent) = self.open.last_mut() {
                        parent.inner = parent.inner.max(depth);
                    }
                    let anchor = Anchor { from: o.at, to: self.doc.events.len(), depth, jumps: self.jumps - o.jumps };
                    self.anchor(o.anchor, anchor);
                }
            }
        }
        if self.documents == 0 {
            // No document (only comments, or nothing): an empty value, as in
            // serde_norway (an empty config).
            let end = u32::try_from(text.len()).unwrap_or(u32::MAX);
            let content = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#'));
            if let Some(line) = content {
                // A lone `...` (libyaml wants a document before it).
                let at = u32::try_from(line.as_ptr() as usize - text.as_ptr() as usize).unwrap_or(end);
                return Err(Declined::syntax("a document end marker without a document", at));
            }
            self.doc.events.push(Raw::Plain(end, end));
        }
        // serde_norway's bound on alias expansions, checked once the document's size
        // is known.
        if self.jumps > self.written.saturating_mul(100) {
            return Err(Declined::syntax("aliases expand too far (repetition limit exceeded)", 0));
        }
        Ok(())
    }

    /// A node starts: it is one more item of the collection it is in.
    fn item(&mut self) {
        if let Some(o) = self.open.last_mut() {
            o.items = o.items.saturating_add(1);
        }
    }

    fn own(&mut self, value: String, at: u32) -> R<u32> {
        let Ok(i) = u32::try_from(self.doc.owned.len()) else {
            return Err(Declined::syntax("too many scalars", at));
        };
        self.doc.owned.push(value);
        Ok(i)
    }

    fn anchor(&mut self, id: usize, anchor: Anchor) {
        if id > 0 {
            self.anchors.insert(id, anchor);
        }
    }

    /// Replays the events of the node anchored as `id`.
    fn alias(&mut self, id: usize, at: u32) -> R<()> {
        let Some(a) = self.anchors.get(&id).copied() else {
            // yaml-rust2 refuses unknown anchors; an anchor not yet closed is an
            // alias inside its own node.
            return Err(Declined::syntax("an alias inside the node it refers to", at));
        };
        self.item();
        if self.open.len() + a.depth > MAX_DEPTH {
            return Err(Declined::syntax("an alias nesting deeper than the config reader allows", at));
        }
        let n = a.to - a.from;
        self.expanded = self.expanded.saturating_add(n);
        if self.expanded > MAX_EXPANDED_EVENTS {
            return Err(Declined::syntax("aliases expand to too many events", at));
        }
        self.jumps = self.jumps.saturating_add(1 + a.jumps);
        if let Some(parent) = self.open.last_mut() {
            parent.inner = parent.inner.max(a.depth);
        }
        self.doc.events.extend_from_within(a.from..a.to);
        Ok(())
    }

    /// The byte offset of a yaml-rust2 marker (which counts characters).
    fn offset(&mut self, mark: &Marker) -> u32 {
        let want = mark.index();
        let text = self.text;
        let byte = if self.ascii {
            want.min(text.len())
        } else {
            if want < self.cursor.0 {
                self.cursor = (0, 0);
            }
            let (mut ci, mut bi) = self.cursor;
            let rest = text.get(bi..).unwrap_or("");
            for ch in rest.chars() {
                if ci == want {
                    break;
                }
                ci += 1;
                bi += ch.len_utf8();
            }
            self.cursor = (ci, bi);
            bi
        };
        u32::try_from(byte).unwrap_or(u32::MAX)
    }
}

fn refuse_tag(tagged: bool, at: u32) -> R<()> {
    if tagged {
        return Err(Declined::syntax("a tag (`!...`): tags are not part of the config format", at));
    }
    Ok(())
}

/// YAML's printable characters as libyaml has them (no byte-order mark inside).
fn printable(c: char) -> bool {
    matches!(c as u32, 0x09 | 0x0a | 0x0d | 0x20..=0x7e | 0x85 | 0xa0..=0xd7ff | 0xe000..=0xfefe | 0xff00..=0xfffd | 0x10000..)
}

fn needs_normalizing(text: &str) -> bool {
    let b = text.as_bytes();
    if !b.iter().any(|&c| matches!(c, b'\r' | 0xc2 | 0xe2)) {
        return false;
    }
    let lone_cr = |i: usize| b.get(i + 1) != Some(&b'\n');
    text.char_indices().any(|(i, c)| matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}') || (c == '\r' && lone_cr(i)))
}

/// `text` with every lone carriage return made LF, every NEL CR LF, every LS and PS
/// ` ` CR LF.
fn normalize_breaks(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.char_indices() {
        match c {
            '\r' if b.get(i + 1) != Some(&b'\n') => out.push('\n'),
            '\u{85}' => out.push_str("\r\n"),
            '\u{2028}' | '\u{2029}' => out.push_str(" \r\n"),
            c => out.push(c),
        }
    }
    out
}
