//! The parsing side: YAML text (the supported subset) to a flat list of compact
//! events, each scalar a byte range of the text unless it had escapes.

use super::declined::{unsupported, Declined, R};

/// Deepest nesting of collections accepted (the config model needs 6).
pub const MAX_DEPTH: usize = 64;

/// Longest mapping key accepted, in bytes from its start to its `:` (libyaml rejects
/// simple keys longer than 1024 characters).
pub const MAX_KEY_LEN: usize = 1000;

/// One parse event as the deserializer and the source-map walker see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ev<'a> {
    /// The start of a mapping.
    MapStart,
    /// The end of a mapping.
    MapEnd,
    /// The start of a sequence, with its number of items.
    SeqStart(u32),
    /// The end of a sequence.
    SeqEnd,
    /// A plain scalar (the only style that resolves to null, booleans, integers).
    Plain(&'a str),
    /// A quoted (or block) scalar, its escapes resolved.
    Quoted(&'a str),
}

/// [`Ev`] as stored, with its byte offset in the text: scalars as byte ranges of the
/// text (the offset is where the scalar or its opening quote starts) or as indexes
/// into [`Doc::owned`] with their offset. 12 bytes an event (a large config has about
/// a million).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Raw {
    /// At the offset.
    MapStart(u32),
    MapEnd,
    /// Items, offset.
    SeqStart(u32, u32),
    SeqEnd,
    /// A plain scalar: a byte range of the text.
    Plain(u32, u32),
    /// A quoted scalar without escapes: the byte range between the quotes.
    Quoted(u32, u32),
    /// A quoted or block scalar: index into [`Doc::owned`], offset.
    Owned(u32, u32),
    /// A plain scalar the full parser folded: index into [`Doc::owned`], offset.
    OwnedPlain(u32, u32),
}

impl Raw {
    /// The byte offset of the event in the text (`None` for ends).
    #[inline]
    pub(super) fn offset(self) -> Option<u32> {
        match self {
            Raw::MapStart(at)
            | Raw::SeqStart(_, at)
            | Raw::Plain(at, _)
            | Raw::Owned(_, at)
            | Raw::OwnedPlain(_, at) => Some(at),
            Raw::Quoted(a, _) => Some(a.saturating_sub(1)),
            Raw::MapEnd | Raw::SeqEnd => None,
        }
    }
}

/// The events of one YAML document, from the fast parser or the full one
/// ([`super::full`]): what the deserializer reads and the source map is built from.
#[derive(Debug, Default)]
pub struct Doc {
    pub(super) events: Vec<Raw>,
    pub(super) owned: Vec<String>,
}

impl Doc {
    /// Number of events.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether there are no events.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Event `i` of the document parsed from `text`, with its byte offset in `text`
    /// (`None` for the end of a collection).
    pub fn get<'a>(&'a self, text: &'a str, i: usize) -> Option<(Ev<'a>, Option<u32>)> {
        let raw = *self.events.get(i)?;
        Some((view(text, &self.owned, raw).ok()?, raw.offset()))
    }
}

/// A scalar as scanned, before it is pushed as an event: a byte range of the text,
/// or the resolved text of a quoted scalar with escapes.
pub(super) enum Tok {
    Plain(usize, usize),
    Quoted(usize, usize),
    /// The resolved text and the offset of the opening quote.
    Escaped(String, usize),
}

/// A line of the text holding something other than blanks and a comment.
#[derive(Debug, Clone, Copy)]
pub(super) struct Line {
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
pub(super) fn check_chars(text: &str) -> R<()> {
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

pub(super) fn parse(text: &str) -> R<Doc> {
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

pub(super) struct Parser<'a> {
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

    /// A byte offset as stored in an event (the text is shorter than 4 GiB).
    #[inline]
    fn offset(at: usize) -> u32 {
        at as u32
    }

    /// An empty plain value, located at `at`.
    #[inline]
    fn push_empty(&mut self, at: usize) {
        let at = Self::offset(at);
        self.doc.events.push(Raw::Plain(at, at));
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
            Tok::Escaped(s, at) => {
                let Ok(i) = u32::try_from(self.doc.owned.len()) else {
                    return unsupported("too many escaped scalars");
                };
                self.doc.owned.push(s);
                Raw::Owned(i, at as u32)
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
        self.doc.events.push(Raw::MapStart(Self::offset(line.start + n)));
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
                            self.push_empty(v - 1);
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
        let start = Self::offset(line.start + n);
        self.doc.events.push(Raw::SeqStart(0, start));
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
                            self.push_empty(line.start + n);
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
            *ev = Raw::SeqStart(count, start);
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
                self.doc.events.push(Raw::SeqStart(0, Self::offset(p)));
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
                    *ev = Raw::SeqStart(count, Self::offset(p));
                }
                self.doc.events.push(Raw::SeqEnd);
                self.depth -= 1;
                Ok(i + 1)
            }
            Some(b'{') => {
                self.enter()?;
                self.doc.events.push(Raw::MapStart(Self::offset(p)));
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
                            self.push_empty(r);
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
                Some(b'\'') => return Ok((Tok::Escaped(out, p), i + 1)),
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
                Some(b'"') => return Ok((Tok::Escaped(out, p), i + 1)),
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
pub(super) const SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    let special = b" #:[]{},";
    let mut i = 0;
    while i < special.len() {
        t[special[i] as usize] = true;
        i += 1;
    }
    t
};

#[inline]
pub(super) fn view<'a>(text: &'a str, owned: &'a [String], raw: Raw) -> R<Ev<'a>> {
    let scalar = |a: u32, b: u32| match text.get(a as usize..b as usize) {
        Some(s) => Ok(s),
        None => Err(Declined::invalid("internal: bad scalar range")),
    };
    let owned = |i: u32| match owned.get(i as usize) {
        Some(s) => Ok(s.as_str()),
        None => Err(Declined::invalid("internal: bad scalar index")),
    };
    Ok(match raw {
        Raw::MapStart(_) => Ev::MapStart,
        Raw::MapEnd => Ev::MapEnd,
        Raw::SeqStart(n, _) => Ev::SeqStart(n),
        Raw::SeqEnd => Ev::SeqEnd,
        Raw::Plain(a, b) => Ev::Plain(scalar(a, b)?),
        Raw::Quoted(a, b) => Ev::Quoted(scalar(a, b)?),
        Raw::Owned(i, _) => Ev::Quoted(owned(i)?),
        Raw::OwnedPlain(i, _) => Ev::Plain(owned(i)?),
    })
}
