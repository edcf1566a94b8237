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

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor};

/// Deepest nesting of collections accepted (the config model needs 6).
pub const MAX_DEPTH: usize = 64;

/// Longest mapping key accepted, in bytes from its start to its `:` (libyaml rejects
/// simple keys longer than 1024 characters).
pub const MAX_KEY_LEN: usize = 1000;

/// Why [`from_str`] gave no value: the text is to be parsed by `serde_norway`.
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
    fn unsupported(reason: &'static str) -> Declined {
        Declined { kind: DeclineKind::Unsupported, reason: Cow::Borrowed(reason) }
    }

    fn invalid(reason: &'static str) -> Declined {
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

type R<T> = Result<T, Declined>;

fn unsupported<T>(reason: &'static str) -> R<T> {
    Err(Declined::unsupported(reason))
}

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

/// One parse event as the deserializer sees it. Scalars borrow the text unless they
/// had escapes to resolve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ev<'a> {
    MapStart,
    MapEnd,
    /// A sequence and its number of items.
    SeqStart(u32),
    SeqEnd,
    /// A plain scalar (the only style that resolves to null, booleans, integers).
    Plain(&'a str),
    /// A quoted scalar without escapes, as it is in the text.
    Quoted(&'a str),
    /// A quoted scalar with escapes, resolved: index into [`Doc::owned`].
    Escaped(u32),
}

/// [`Ev`] as stored: scalars as byte ranges of the text, 12 bytes an event (a large
/// config has about a million).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Raw {
    MapStart,
    MapEnd,
    SeqStart(u32),
    SeqEnd,
    Plain(u32, u32),
    Quoted(u32, u32),
    Escaped(u32),
}

/// The events of one document.
#[derive(Debug, Default)]
struct Doc {
    events: Vec<Raw>,
    owned: Vec<String>,
}

/// A scalar as scanned, before it is pushed as an event: a byte range of the text,
/// or the resolved text of a quoted scalar with escapes.
enum Tok {
    Plain(usize, usize),
    Quoted(usize, usize),
    Escaped(String),
}

/// A line of the text holding something other than blanks and a comment.
#[derive(Debug, Clone, Copy)]
struct Line {
    /// Offset of its first byte.
    start: usize,
    /// Offset just past its content (before `\n` or `\r\n`).
    end: usize,
    /// Offset of the next line.
    next: usize,
    /// Number of leading spaces.
    indent: usize,
    /// A `---` or `...` document marker at column 0.
    marker: bool,
}

impl Line {
    /// The indentation for comparisons: a document marker is less indented than
    /// anything.
    fn level(&self) -> isize {
        if self.marker {
            -1
        } else {
            self.indent as isize
        }
    }
}

/// Checks that `text` has only characters whose handling is certain: printable
/// ASCII, LF, CR before LF, and non-ASCII characters that libyaml treats as ordinary
/// printable characters (not the NEL/LS/PS line breaks, not a byte-order mark, not C1
/// controls). Tabs are declined.
fn check_chars(text: &str) -> R<()> {
    let b = text.as_bytes();
    // Fast, vectorizable check for the usual case: printable ASCII and LF only.
    let ordinary = |c: &[u8]| c.iter().fold(true, |ok, &x| ok & ((0x20..0x7f).contains(&x) | (x == b'\n')));
    if b.chunks(256).all(ordinary) {
        return Ok(());
    }
    let mut non_ascii = false;
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'\n' | 0x20..=0x7e => {}
            b'\r' => {
                if b.get(i + 1) != Some(&b'\n') {
                    return unsupported("a carriage return not followed by a line feed");
                }
            }
            0x80.. => non_ascii = true,
            b'\t' => return unsupported("a tab"),
            _ => return unsupported("a control character"),
        }
    }
    if non_ascii {
        for ch in text.chars() {
            let v = ch as u32;
            let plain = v < 0x80
                || ((0xa0..=0xd7ff).contains(&v) && v != 0x2028 && v != 0x2029)
                || ((0xe000..=0xfffd).contains(&v) && v != 0xfeff)
                || v >= 0x10000;
            if !plain {
                return unsupported("a non-ASCII character libyaml treats specially");
            }
        }
    }
    Ok(())
}

fn parse(text: &str) -> R<Doc> {
    if u32::try_from(text.len()).is_err() {
        return unsupported("a text of 4 GiB or more");
    }
    check_chars(text)?;
    let mut p = Parser {
        s: text,
        b: text.as_bytes(),
        // Configs have about one event per 5 bytes; unused capacity is never touched.
        doc: Doc { events: Vec::with_capacity(text.len() / 5 + 16), owned: Vec::new() },
        depth: 0,
    };
    p.document()?;
    Ok(p.doc)
}

struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    doc: Doc,
    depth: usize,
}

impl<'a> Parser<'a> {
    /// The byte at `i` if `i < end` (the end of the line being read).
    #[inline]
    fn at(&self, i: usize, end: usize) -> Option<u8> {
        if i < end {
            self.b.get(i).copied()
        } else {
            None
        }
    }

    fn slice(&self, from: usize, to: usize) -> R<&'a str> {
        match self.s.get(from..to) {
            Some(s) => Ok(s),
            None => unsupported("internal: bad slice"),
        }
    }

    /// A byte range of the text as it is stored in an event (the text is shorter than
    /// 4 GiB, checked in [`parse`]).
    fn range(from: usize, to: usize) -> (u32, u32) {
        (from as u32, to as u32)
    }

    #[inline]
    fn skip_spaces(&self, mut i: usize, end: usize) -> usize {
        while self.at(i, end) == Some(b' ') {
            i += 1;
        }
        i
    }

    /// The line starting at `start`, whatever it holds.
    fn line_at(&self, start: usize) -> Line {
        let rest = self.b.get(start..).unwrap_or(&[]);
        let (mut end, next) = match rest.iter().position(|&c| c == b'\n') {
            Some(k) => (start + k, start + k + 1),
            None => (self.b.len(), self.b.len()),
        };
        if end > start && self.b.get(end - 1) == Some(&b'\r') {
            end -= 1;
        }
        let indent = self.skip_spaces(start, end) - start;
        Line { start, end, next, indent, marker: false }
    }

    /// The first line at or after `start` that is not blank or only a comment.
    fn next_line(&self, mut start: usize) -> Option<Line> {
        while start < self.b.len() {
            let mut l = self.line_at(start);
            let content = l.start + l.indent;
            if content == l.end || self.at(content, l.end) == Some(b'#') {
                start = l.next;
                continue;
            }
            if l.indent == 0 {
                let head = self.b.get(l.start..l.start + 3);
                if (head == Some(b"---") || head == Some(b"..."))
                    && matches!(self.at(l.start + 3, l.end), None | Some(b' '))
                {
                    l.marker = true;
                }
            }
            return Some(l);
        }
        None
    }

    /// Whether only spaces and possibly a comment follow `q` on its line.
    fn rest_empty(&self, q: usize, end: usize) -> R<()> {
        let r = self.skip_spaces(q, end);
        match self.at(r, end) {
            None => Ok(()),
            Some(b'#') if r > q => Ok(()),
            Some(_) => unsupported("unexpected text after a value"),
        }
    }

    /// If a mapping-value `:` (followed by a space or the end of the line) comes
    /// after `q`, possibly after spaces: the offset just past it.
    fn colon_after(&self, q: usize, end: usize) -> Option<usize> {
        let r = self.skip_spaces(q, end);
        if self.at(r, end) == Some(b':') && matches!(self.at(r + 1, end), None | Some(b' ')) {
            Some(r + 1)
        } else {
            None
        }
    }

    fn is_seq_entry(&self, line: &Line, col: usize) -> bool {
        let p = line.start + col;
        self.at(p, line.end) == Some(b'-') && matches!(self.at(p + 1, line.end), None | Some(b' '))
    }

    fn enter(&mut self) -> R<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return unsupported("nesting too deep");
        }
        Ok(())
    }

    #[inline]
    fn push_scalar(&mut self, tok: Tok) -> R<()> {
        let ev = match tok {
            Tok::Plain(a, b) => {
                let (a, b) = Self::range(a, b);
                Raw::Plain(a, b)
            }
            Tok::Quoted(a, b) => {
                let (a, b) = Self::range(a, b);
                Raw::Quoted(a, b)
            }
            Tok::Escaped(s) => {
                let Ok(i) = u32::try_from(self.doc.owned.len()) else {
                    return unsupported("too many escaped scalars");
                };
                self.doc.owned.push(s);
                Raw::Escaped(i)
            }
        };
        self.doc.events.push(ev);
        Ok(())
    }

    fn document(&mut self) -> R<()> {
        let Some(mut first) = self.next_line(0) else {
            return unsupported("an empty document");
        };
        if first.marker {
            if self.b.get(first.start) != Some(&b'-') {
                return unsupported("a document end marker before any content");
            }
            self.rest_empty(first.start + 3, first.end)?;
            first = match self.next_line(first.next) {
                Some(l) if !l.marker => l,
                _ => return unsupported("an empty document"),
            };
        }
        let next = self.block_node(first, first.indent, -1)?;
        match next {
            None => Ok(()),
            Some(l) if l.marker && self.b.get(l.start) == Some(&b'.') => {
                self.rest_empty(l.start + 3, l.end)?;
                match self.next_line(l.next) {
                    None => Ok(()),
                    Some(_) => unsupported("content after the document end marker"),
                }
            }
            Some(l) if l.marker => unsupported("more than one document"),
            Some(_) => unsupported("content after the top-level node"),
        }
    }

    /// The line after an inline value that ends `line`, which must not be indented
    /// more than `parent` (that would continue a multi-line scalar, or be an error).
    fn after_inline(&self, line: &Line, parent: isize) -> R<Option<Line>> {
        let next = self.next_line(line.next);
        match next {
            Some(l) if l.level() > parent => unsupported("a more indented line after a value"),
            _ => Ok(next),
        }
    }

    /// A node in block context starting at column `col` of `line`, inside a
    /// collection of indentation `parent`. Returns the next line after the node.
    fn block_node(&mut self, line: Line, col: usize, parent: isize) -> R<Option<Line>> {
        let p = line.start + col;
        match self.at(p, line.end) {
            None => unsupported("internal: empty node"),
            Some(b'-') if matches!(self.at(p + 1, line.end), None | Some(b' ')) => self.block_seq(line, col),
            Some(b'[' | b'{') => {
                let q = self.flow_node(p, line.end)?;
                self.rest_empty(q, line.end)?;
                self.after_inline(&line, parent)
            }
            Some(_) => {
                let (tok, q) = self.scalar(p, line.end, false)?;
                if let Some(v) = self.colon_after(q, line.end) {
                    return self.block_map(line, col, tok, v);
                }
                self.rest_empty(q, line.end)?;
                self.push_scalar(tok)?;
                self.after_inline(&line, parent)
            }
        }
    }

    /// A block mapping of indentation `n` whose first key `key` starts at column `n`
    /// of `line` and whose `:` ends just before `v`.
    fn block_map(&mut self, mut line: Line, n: usize, mut key: Tok, mut v: usize) -> R<Option<Line>> {
        self.enter()?;
        self.doc.events.push(Raw::MapStart);
        let level = n as isize;
        let next = loop {
            if v.saturating_sub(line.start + n) > MAX_KEY_LEN {
                return unsupported("a key too long");
            }
            self.push_scalar(key)?;
            let r = self.skip_spaces(v, line.end);
            let next = match self.at(r, line.end) {
                None | Some(b'#') => {
                    // The value is on the following lines, or empty.
                    let after = self.next_line(line.next);
                    match after {
                        Some(l) if l.level() > level => self.block_node(l, l.indent, level)?,
                        Some(l) if l.level() == level && self.is_seq_entry(&l, n) => self.block_seq(l, n)?,
                        _ => {
                            self.doc.events.push(Raw::Plain(0, 0));
                            after
                        }
                    }
                }
                Some(c) => {
                    let q = if c == b'[' || c == b'{' {
                        self.flow_node(r, line.end)?
                    } else {
                        let (tok, q) = self.scalar(r, line.end, false)?;
                        self.push_scalar(tok)?;
                        q
                    };
                    self.rest_empty(q, line.end)?;
                    self.after_inline(&line, level)?
                }
            };
            match next {
                Some(l) if l.level() == level => {
                    let p = l.start + n;
                    let (tok, q) = self.scalar(p, l.end, false)?;
                    let Some(after_colon) = self.colon_after(q, l.end) else {
                        return unsupported("a line in a mapping that is not a key");
                    };
                    line = l;
                    key = tok;
                    v = after_colon;
                }
                Some(l) if l.level() > level => return unsupported("a line indented more than its mapping"),
                other => break other,
            }
        };
        self.doc.events.push(Raw::MapEnd);
        self.depth -= 1;
        Ok(next)
    }

    /// A block sequence of indentation `n` whose first `-` is at column `n` of `line`.
    fn block_seq(&mut self, mut line: Line, n: usize) -> R<Option<Line>> {
        self.enter()?;
        let at = self.doc.events.len();
        self.doc.events.push(Raw::SeqStart(0));
        let level = n as isize;
        let mut count: u32 = 0;
        let next = loop {
            count = count.saturating_add(1);
            let r = self.skip_spaces(line.start + n + 1, line.end);
            let next = match self.at(r, line.end) {
                None | Some(b'#') => {
                    let after = self.next_line(line.next);
                    match after {
                        Some(l) if l.level() > level => self.block_node(l, l.indent, level)?,
                        _ => {
                            self.doc.events.push(Raw::Plain(0, 0));
                            after
                        }
                    }
                }
                Some(_) => self.block_node(line, r.saturating_sub(line.start), level)?,
            };
            match next {
                Some(l) if l.level() == level && self.is_seq_entry(&l, n) => line = l,
                Some(l) if l.level() > level => return unsupported("a line indented more than its sequence"),
                other => break other,
            }
        };
        if let Some(ev) = self.doc.events.get_mut(at) {
            *ev = Raw::SeqStart(count);
        }
        self.doc.events.push(Raw::SeqEnd);
        self.depth -= 1;
        Ok(next)
    }

    /// A flow collection or scalar starting at `p` and ending before `end` (flow
    /// collections must be on one line). Returns the offset just past it.
    fn flow_node(&mut self, p: usize, end: usize) -> R<usize> {
        match self.at(p, end) {
            Some(b'[') => {
                self.enter()?;
                let at = self.doc.events.len();
                self.doc.events.push(Raw::SeqStart(0));
                let mut count: u32 = 0;
                let mut i = self.skip_spaces(p + 1, end);
                if self.at(i, end) != Some(b']') {
                    loop {
                        i = self.flow_node(i, end)?;
                        count = count.saturating_add(1);
                        i = self.skip_spaces(i, end);
                        match self.at(i, end) {
                            Some(b',') => {
                                i = self.skip_spaces(i + 1, end);
                                if self.at(i, end) == Some(b']') {
                                    return unsupported("a trailing comma in a flow sequence");
                                }
                            }
                            Some(b']') => break,
                            None => return unsupported("a flow sequence that does not end on its line"),
                            Some(_) => return unsupported("unexpected text in a flow sequence"),
                        }
                    }
                }
                if let Some(ev) = self.doc.events.get_mut(at) {
                    *ev = Raw::SeqStart(count);
                }
                self.doc.events.push(Raw::SeqEnd);
                self.depth -= 1;
                Ok(i + 1)
            }
            Some(b'{') => {
                self.enter()?;
                self.doc.events.push(Raw::MapStart);
                let mut i = self.skip_spaces(p + 1, end);
                if self.at(i, end) != Some(b'}') {
                    loop {
                        if matches!(self.at(i, end), None | Some(b'[' | b'{')) {
                            return unsupported("a complex key or unterminated flow mapping");
                        }
                        let (key, q) = self.scalar(i, end, true)?;
                        let r = self.skip_spaces(q, end);
                        if r.saturating_sub(i) > MAX_KEY_LEN {
                            return unsupported("a key too long");
                        }
                        self.push_scalar(key)?;
                        if !(self.at(r, end) == Some(b':') && self.at(r + 1, end) == Some(b' ')) {
                            return unsupported("a flow mapping key without `: `");
                        }
                        i = self.skip_spaces(r + 1, end);
                        if matches!(self.at(i, end), Some(b',' | b'}')) {
                            self.doc.events.push(Raw::Plain(0, 0));
                        } else {
                            i = self.flow_node(i, end)?;
                        }
                        i = self.skip_spaces(i, end);
                        match self.at(i, end) {
                            Some(b',') => {
                                i = self.skip_spaces(i + 1, end);
                                if self.at(i, end) == Some(b'}') {
                                    return unsupported("a trailing comma in a flow mapping");
                                }
                            }
                            Some(b'}') => break,
                            None => return unsupported("a flow mapping that does not end on its line"),
                            Some(_) => return unsupported("unexpected text in a flow mapping"),
                        }
                    }
                }
                self.doc.events.push(Raw::MapEnd);
                self.depth -= 1;
                Ok(i + 1)
            }
            Some(_) => {
                let (tok, q) = self.scalar(p, end, true)?;
                self.push_scalar(tok)?;
                Ok(q)
            }
            None => unsupported("a missing flow value"),
        }
    }

    /// A scalar starting at `p` (plain, single- or double-quoted), in flow or block
    /// context; returns it and the offset just past it (past the closing quote, or
    /// past the last non-space character of a plain scalar).
    fn scalar(&self, p: usize, end: usize, flow: bool) -> R<(Tok, usize)> {
        match self.at(p, end) {
            Some(b'"') => self.double_quoted(p, end),
            Some(b'\'') => self.single_quoted(p, end),
            _ => self.plain(p, end, flow),
        }
    }

    fn plain(&self, p: usize, end: usize, flow: bool) -> R<(Tok, usize)> {
        let Some(c) = self.at(p, end) else {
            return unsupported("internal: empty plain scalar");
        };
        match c {
            b' ' | b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!' | b'|' | b'>' | b'\'' | b'"' | b'%'
            | b'@' | b'`' => return unsupported("an indicator (anchor, alias, tag, block scalar, ...)"),
            b'-' | b'?' | b':' => {
                let Some(n) = self.at(p + 1, end) else {
                    return unsupported("an indicator followed by nothing");
                };
                if n == b' ' {
                    return unsupported("an indicator where a value was expected");
                }
                if flow && (c != b'-' || !(n.is_ascii_alphanumeric() || n == b'.')) {
                    return unsupported("an indicator in a flow collection");
                }
            }
            _ => {}
        }
        let mut i = p;
        let mut last = p;
        let line = self.b.get(..end).unwrap_or(&[]);
        while let Some(&c) = line.get(i) {
            if !SPECIAL[c as usize] {
                // The common case: a character that is part of the scalar.
                i += 1;
                last = i;
                continue;
            }
            match c {
                b' ' => {}
                b'#' if i > p && self.b.get(i - 1) == Some(&b' ') => break,
                b':' => match self.at(i + 1, end) {
                    None | Some(b' ') => break,
                    Some(n) => {
                        if flow && !(n.is_ascii_alphanumeric() || matches!(n, b':' | b'/' | b'.' | b'_' | b'-')) {
                            return unsupported("a `:` in a flow scalar");
                        }
                        last = i + 1;
                    }
                },
                b'[' | b']' | b'{' | b'}' | b',' if flow => break,
                b'[' | b']' | b'{' | b'}' => return unsupported("a bracket in a plain scalar"),
                _ => last = i + 1,
            }
            i += 1;
        }
        Ok((Tok::Plain(p, last), last))
    }

    fn single_quoted(&self, p: usize, end: usize) -> R<(Tok, usize)> {
        let start = p + 1;
        let mut i = start;
        loop {
            match self.at(i, end) {
                None => return unsupported("a quoted scalar that does not end on its line"),
                Some(b'\'') if self.at(i + 1, end) == Some(b'\'') => break,
                Some(b'\'') => return Ok((Tok::Quoted(start, i), i + 1)),
                Some(_) => i += 1,
            }
        }
        let mut out = String::from(self.slice(start, i)?);
        loop {
            match self.at(i, end) {
                None => return unsupported("a quoted scalar that does not end on its line"),
                Some(b'\'') if self.at(i + 1, end) == Some(b'\'') => {
                    out.push('\'');
                    i += 2;
                }
                Some(b'\'') => return Ok((Tok::Escaped(out), i + 1)),
                Some(_) => {
                    let j = self.b.get(i..end).and_then(|r| r.iter().position(|&c| c == b'\'')).map_or(end, |k| i + k);
                    out.push_str(self.slice(i, j)?);
                    i = j;
                }
            }
        }
    }

    fn double_quoted(&self, p: usize, end: usize) -> R<(Tok, usize)> {
        let start = p + 1;
        let mut i = start;
        loop {
            match self.at(i, end) {
                None => return unsupported("a quoted scalar that does not end on its line"),
                Some(b'\\') => break,
                Some(b'"') => return Ok((Tok::Quoted(start, i), i + 1)),
                Some(_) => i += 1,
            }
        }
        let mut out = String::from(self.slice(start, i)?);
        loop {
            match self.at(i, end) {
                None => return unsupported("a quoted scalar that does not end on its line"),
                Some(b'"') => return Ok((Tok::Escaped(out), i + 1)),
                Some(b'\\') => {
                    let Some(e) = self.at(i + 1, end) else {
                        return unsupported("an escaped line break");
                    };
                    i += 2;
                    let ch = match e {
                        b'a' => '\x07',
                        b'b' => '\x08',
                        b't' => '\t',
                        b'n' => '\n',
                        b'v' => '\x0b',
                        b'f' => '\x0c',
                        b'r' => '\r',
                        b'e' => '\x1b',
                        b' ' => ' ',
                        b'"' => '"',
                        b'/' => '/',
                        b'\\' => '\\',
                        b'N' => '\u{85}',
                        b'_' => '\u{a0}',
                        b'L' => '\u{2028}',
                        b'P' => '\u{2029}',
                        b'x' | b'u' | b'U' => {
                            let len = match e {
                                b'x' => 2,
                                b'u' => 4,
                                _ => 8,
                            };
                            if i + len > end {
                                return unsupported("a short hexadecimal escape");
                            }
                            let hex = self.b.get(i..i + len).unwrap_or(&[]);
                            if hex.len() != len || !hex.iter().all(u8::is_ascii_hexdigit) {
                                return unsupported("a bad hexadecimal escape");
                            }
                            let v = hex.iter().fold(0u32, |acc, &h| (acc << 4) | (h as char).to_digit(16).unwrap_or(0));
                            i += len;
                            match char::from_u32(v) {
                                Some(ch) if v != 0 => ch,
                                _ => return unsupported("a NUL or invalid escaped character"),
                            }
                        }
                        _ => return unsupported("an unknown or NUL escape"),
                    };
                    out.push(ch);
                }
                Some(_) => {
                    let j = self
                        .b
                        .get(i..end)
                        .and_then(|r| r.iter().position(|&c| c == b'"' || c == b'\\'))
                        .map_or(end, |k| i + k);
                    out.push_str(self.slice(i, j)?);
                    i = j;
                }
            }
        }
    }
}

/// The bytes a plain scalar scan must look at: everything else is just content.
const SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    let special = b" #:[]{},";
    let mut i = 0;
    while i < special.len() {
        t[special[i] as usize] = true;
        i += 1;
    }
    t
};

// ---------------------------------------------------------------------------------
// Scalar resolution, as serde_norway 0.9 does it (`de.rs`: `parse_null`,
// `parse_bool`, `parse_unsigned_int`, `digits_but_not_number`).

fn is_null(s: &str) -> bool {
    matches!(s, "null" | "Null" | "NULL" | "~")
}

fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// Leading zero(s) followed by digits is a string (YAML 1.2).
fn digits_but_not_number(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    s.len() > 1 && s.starts_with('0') && s.bytes().skip(1).all(|b| b.is_ascii_digit())
}

fn parse_unsigned_int(s: &str) -> Option<u64> {
    let unpositive = s.strip_prefix('+').unwrap_or(s);
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(rest) = unpositive.strip_prefix(prefix) {
            if rest.starts_with(['+', '-']) {
                return None;
            }
            if let Ok(n) = u64::from_str_radix(rest, radix) {
                return Some(n);
            }
        }
    }
    if unpositive.starts_with(['+', '-']) || digits_but_not_number(s) {
        return None;
    }
    unpositive.parse::<u64>().ok()
}

// ---------------------------------------------------------------------------------
// The serde side: a Deserializer over the events.

struct EventDe<'a, 'p> {
    text: &'a str,
    events: &'p [Raw],
    owned: &'p [String],
    pos: usize,
}

/// The event `raw` of `text`.
#[inline]
fn view(text: &str, raw: Raw) -> R<Ev<'_>> {
    let scalar = |a: u32, b: u32| match text.get(a as usize..b as usize) {
        Some(s) => Ok(s),
        None => Err(Declined::invalid("internal: bad scalar range")),
    };
    Ok(match raw {
        Raw::MapStart => Ev::MapStart,
        Raw::MapEnd => Ev::MapEnd,
        Raw::SeqStart(n) => Ev::SeqStart(n),
        Raw::SeqEnd => Ev::SeqEnd,
        Raw::Plain(a, b) => Ev::Plain(scalar(a, b)?),
        Raw::Quoted(a, b) => Ev::Quoted(scalar(a, b)?),
        Raw::Escaped(i) => Ev::Escaped(i),
    })
}

impl<'a, 'p> EventDe<'a, 'p> {
    #[inline]
    fn peek(&self) -> R<Ev<'a>> {
        match self.events.get(self.pos) {
            Some(raw) => view(self.text, *raw),
            None => Err(Declined::invalid("unexpected end of events")),
        }
    }

    #[inline]
    fn next(&mut self) -> R<Ev<'a>> {
        let ev = self.peek()?;
        self.pos += 1;
        Ok(ev)
    }

    fn expect(&mut self, want: Ev<'static>) -> R<()> {
        if self.next()? == want {
            Ok(())
        } else {
            Err(Declined::invalid("unconsumed items"))
        }
    }
}

fn wrong_type<T>() -> R<T> {
    Err(Declined::invalid("a value of another type"))
}

fn unsupported_type<T>() -> R<T> {
    Err(Declined::unsupported("a type the fast path does not deserialize"))
}

macro_rules! decline_types {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'a>>(self, _visitor: V) -> R<V::Value> {
                unsupported_type()
            }
        )*
    };
}

impl<'a, 'p> de::Deserializer<'a> for &mut EventDe<'a, 'p> {
    type Error = Declined;

    decline_types! {
        deserialize_any deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
        deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char deserialize_bytes
        deserialize_byte_buf deserialize_unit deserialize_ignored_any
    }

    fn deserialize_bool<V: Visitor<'a>>(self, visitor: V) -> R<V::Value> {
        match self.next()? {
            Ev::Plain(s) => match parse_bool(s) {
                Some(b) => visitor.visit_bool(b),
                None => wrong_type(),
            },
            _ => wrong_type(),
        }
    }

    fn deserialize_u8<V: Visitor<'a>>(self, visitor: V) -> R<V::Value> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_u16<V: Visitor<'a>>(self, visitor: V) -> R<V::Value> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_u32<V: Visitor<'a>>(self, visitor: V) -> R<V::Value> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_u64<V: Visitor<'a>>(self, visitor: V) -> R<V::Value> {
        match self.next()? {
            // The visitor checks the range of narrower types, as with serde_norway.
            Ev::Plain(s) => match parse_unsigned_int(s) {
                Some(n) => visitor.visit_u64(n),
                None => wrong_type(),
            },
            _ => wrong_type(),
        }
    }

    fn deserialize_str<V: Visitor<'a>>(self, visitor: V) -> R<V::Value> {
        match self.next()? {
            Ev::Plain(s) | Ev::Quoted(s) => visitor.visit_borrowed_str(s),
            Ev::Escaped(i) => match self.owned.get(i as usize) {
                Some(s) => visitor.visit_str(s),
                None => Err(Declined::invalid("internal: bad escaped scalar")),
            },
            _ => wrong_type(),
        }
    }

    fn deserialize_string<V: Visitor<'a>>(self, visitor: V) -> R<V::Value> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'a>>(self, visitor: V) -> R<V::Value> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'a>>(self, visitor: V) -> R<V::Value> {
        match self.peek()? {
            Ev::Plain(s) if s.is_empty() || is_null(s) => {
                self.pos += 1;
                visitor.visit_none()
            }
            Ev::MapEnd | Ev::SeqEnd => wrong_type(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'a>>(self, _name: &'static str, _visitor: V) -> R<V::Value> {
        unsupported_type()
    }

    fn deserialize_newtype_struct<V: Visitor<'a>>(self, _name: &'static str, visitor: V) -> R<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'a>>(self, visitor: V) -> R<V::Value> {
        match self.next()? {
            Ev::SeqStart(len) => {
                let value = visitor.visit_seq(Seq { de: &mut *self, left: len })?;
                self.expect(Ev::SeqEnd)?;
                Ok(value)
            }
            // An empty plain value is an empty sequence (as in serde_norway).
            Ev::Plain("") => visitor.visit_seq(Empty),
            _ => wrong_type(),
        }
    }

    fn deserialize_tuple<V: Visitor<'a>>(self, _len: usize, visitor: V) -> R<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'a>>(self, _name: &'static str, _len: usize, visitor: V) -> R<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'a>>(self, visitor: V) -> R<V::Value> {
        match self.next()? {
            Ev::MapStart => {
                let value = visitor.visit_map(Map { de: &mut *self })?;
                self.expect(Ev::MapEnd)?;
                Ok(value)
            }
            Ev::Plain("") => visitor.visit_map(Empty),
            _ => wrong_type(),
        }
    }

    fn deserialize_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> R<V::Value> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'a>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> R<V::Value> {
        match self.peek()? {
            Ev::Plain(_) | Ev::Quoted(_) | Ev::Escaped(_) => visitor.visit_enum(UnitVariant { de: self }),
            _ => unsupported_type(),
        }
    }
}

struct Seq<'d, 'a, 'p> {
    de: &'d mut EventDe<'a, 'p>,
    left: u32,
}

impl<'a> SeqAccess<'a> for Seq<'_, 'a, '_> {
    type Error = Declined;

    fn next_element_seed<T: DeserializeSeed<'a>>(&mut self, seed: T) -> R<Option<T::Value>> {
        match self.de.peek()? {
            Ev::SeqEnd => Ok(None),
            Ev::MapEnd => Err(Declined::invalid("internal: unbalanced events")),
            _ => {
                self.left = self.left.saturating_sub(1);
                seed.deserialize(&mut *self.de).map(Some)
            }
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left as usize)
    }
}

struct Map<'d, 'a, 'p> {
    de: &'d mut EventDe<'a, 'p>,
}

impl<'a> MapAccess<'a> for Map<'_, 'a, '_> {
    type Error = Declined;

    fn next_key_seed<K: DeserializeSeed<'a>>(&mut self, seed: K) -> R<Option<K::Value>> {
        match self.de.peek()? {
            Ev::MapEnd => Ok(None),
            Ev::Plain(_) | Ev::Quoted(_) | Ev::Escaped(_) => seed.deserialize(&mut *self.de).map(Some),
            _ => Err(Declined::unsupported("a non-scalar key")),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'a>>(&mut self, seed: V) -> R<V::Value> {
        seed.deserialize(&mut *self.de)
    }
}

/// The empty sequence or mapping an empty plain value stands for.
struct Empty;

impl<'a> SeqAccess<'a> for Empty {
    type Error = Declined;

    fn next_element_seed<T: DeserializeSeed<'a>>(&mut self, _seed: T) -> R<Option<T::Value>> {
        Ok(None)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(0)
    }
}

impl<'a> MapAccess<'a> for Empty {
    type Error = Declined;

    fn next_key_seed<K: DeserializeSeed<'a>>(&mut self, _seed: K) -> R<Option<K::Value>> {
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'a>>(&mut self, _seed: V) -> R<V::Value> {
        Err(Declined::invalid("internal: value without key"))
    }
}

/// A unit variant named by a scalar (serde_norway's `UnitVariantAccess`).
struct UnitVariant<'d, 'a, 'p> {
    de: &'d mut EventDe<'a, 'p>,
}

impl<'a> EnumAccess<'a> for UnitVariant<'_, 'a, '_> {
    type Error = Declined;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'a>>(self, seed: V) -> R<(V::Value, Self)> {
        let variant = seed.deserialize(&mut *self.de)?;
        Ok((variant, self))
    }
}

impl<'a> VariantAccess<'a> for UnitVariant<'_, 'a, '_> {
    type Error = Declined;

    fn unit_variant(self) -> R<()> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'a>>(self, _seed: T) -> R<T::Value> {
        wrong_type()
    }

    fn tuple_variant<V: Visitor<'a>>(self, _len: usize, _visitor: V) -> R<V::Value> {
        wrong_type()
    }

    fn struct_variant<V: Visitor<'a>>(self, _fields: &'static [&'static str], _visitor: V) -> R<V::Value> {
        wrong_type()
    }
}

#[cfg(test)]
mod tests {
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
