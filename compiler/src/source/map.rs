//! [`SourceMap`]: object path -> line:column, built from the events of the one YAML
//! reader ([`fast_yaml::parse_lenient`]: the fast parser's, or the full parser's for
//! texts outside its subset, JSON included since JSON is YAML), lazily.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

use super::fast_yaml::{self, Doc, Ev};
use crate::diag::{Diagnostic, Location};

/// Object path -> 1-based line:column in the source text.
///
/// Paths are written as in diagnostics: keys joined with `.`, sequence items as
/// `[i]`, e.g. `se_groups[0].service_engines[0].interfaces[1].port`. A scalar
/// value is located at the value itself; a mapping or sequence under a key at the
/// key; a sequence item that is a mapping at its first key; other sequence items at
/// their start. Only the first document is mapped. An alias is expanded as the
/// deserializer sees it, so what it stands for is located where the anchored node is.
///
/// A map made by [`SourceMap::deferred`] (as [`super::load_str`] does) holds only the text
/// until it is first queried, and is built then, once (thread-safe).
#[derive(Clone, Default)]
pub struct SourceMap {
    /// The text to walk when the map is first needed (`None`: nothing to walk).
    text: Option<Arc<String>>,
    entries: OnceLock<HashMap<String, Location>>,
}

impl fmt::Debug for SourceMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceMap").field("entries", self.entries()).finish()
    }
}

impl PartialEq for SourceMap {
    /// Maps are equal when they locate the same paths at the same places.
    fn eq(&self, other: &Self) -> bool {
        self.entries() == other.entries()
    }
}

impl Eq for SourceMap {}

impl SourceMap {
    /// Builds the map by walking `text` (YAML or JSON) once, now. Best effort: text
    /// the walker cannot parse yields the entries found before the problem.
    pub fn from_text(text: &str) -> SourceMap {
        SourceMap { text: None, entries: OnceLock::from(walk(text)) }
    }

    /// A map of `text` that is built (as by [`SourceMap::from_text`]) only when first
    /// queried. Clones share the text.
    pub fn deferred(text: String) -> SourceMap {
        SourceMap { text: Some(Arc::new(text)), entries: OnceLock::new() }
    }

    /// Whether the map has been built (a deferred map that was never queried has not).
    pub fn is_built(&self) -> bool {
        self.entries.get().is_some()
    }

    /// The entries, building them first if this map is deferred and not built yet.
    fn entries(&self) -> &HashMap<String, Location> {
        self.entries.get_or_init(|| self.text.as_deref().map(|t| walk(t)).unwrap_or_default())
    }

    /// Where `path` is; when `path` itself is absent (a field left to its default,
    /// say), the location of its nearest parent that is present. `None` only when
    /// no prefix of the path is known.
    pub fn locate(&self, path: &str) -> Option<Location> {
        let entries = self.entries();
        let mut p = path;
        loop {
            if let Some(l) = entries.get(p) {
                return Some(*l);
            }
            p = parent_path(p)?;
        }
    }

    /// Whether the map knows exactly this path (no parent fallback).
    pub fn contains(&self, path: &str) -> bool {
        self.entries().contains_key(path)
    }

    /// Number of located paths.
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    /// Whether nothing was located (empty or unparsable text).
    pub fn is_empty(&self) -> bool {
        self.entries().is_empty()
    }

    /// Fills in the `location` of every diagnostic that has none, from its path.
    /// Builds a deferred map only if some diagnostic needs a location.
    pub fn annotate(&self, diags: &mut [Diagnostic]) {
        for d in diags.iter_mut() {
            if d.location.is_none() {
                d.location = self.locate(&d.path);
            }
        }
    }
}

/// Walks `text` once (the fast parser's events, or the full parser's when the text
/// is outside the fast subset) and records every path.
fn walk(text: &str) -> HashMap<String, Location> {
    walk_doc(text, &fast_yaml::parse_lenient(text))
}

/// Records every path of `doc`, the events of `text`.
fn walk_doc(text: &str, doc: &Doc) -> HashMap<String, Location> {
    let lines = Lines::new(text);
    let mut walker = Walker::default();
    for i in 0..doc.len() {
        let Some((ev, at)) = doc.get(text, i) else { break };
        let at = at.map(|a| lines.locate(a));
        match ev {
            Ev::Plain(s) | Ev::Quoted(s) => walker.scalar(s, at.unwrap_or(ORIGIN)),
            Ev::MapStart => walker.start(at.unwrap_or(ORIGIN), true),
            Ev::SeqStart(_) => walker.start(at.unwrap_or(ORIGIN), false),
            Ev::MapEnd | Ev::SeqEnd => walker.end(),
        }
    }
    walker.entries
}

/// Where nothing better is known.
const ORIGIN: Location = Location { line: 1, column: 1 };

/// Byte offset -> 1-based line:column (columns count characters).
struct Lines<'t> {
    text: &'t str,
    /// Offset of the first byte of every line.
    starts: Vec<u32>,
    ascii: bool,
}

impl<'t> Lines<'t> {
    fn new(text: &'t str) -> Lines<'t> {
        let mut starts = vec![0u32];
        starts.extend(text.bytes().enumerate().filter(|&(_, b)| b == b'\n').map(|(i, _)| (i + 1) as u32));
        Lines { text, starts, ascii: text.is_ascii() }
    }

    fn locate(&self, at: u32) -> Location {
        let line = self.starts.partition_point(|&s| s <= at).max(1);
        let start = self.starts.get(line - 1).copied().unwrap_or(0) as usize;
        let at = (at as usize).max(start);
        let column =
            if self.ascii { at - start } else { self.text.get(start..at).map_or(at - start, |s| s.chars().count()) };
        Location { line, column: column + 1 }
    }
}

/// `a.b[2].c` -> `a.b[2]` -> `a.b` -> `a` -> `None`.
fn parent_path(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    if path.ends_with(']') {
        if let Some(i) = path.rfind('[') {
            return Some(&path[..i]);
        }
    }
    match path.rfind(['.', '[']) {
        Some(i) => Some(&path[..i]),
        None => Some(""),
    }
}

/// One open collection while walking the event stream. `path` is `None` inside
/// something that has no path (a complex mapping key).
#[derive(Debug)]
enum Frame {
    Map {
        path: Option<String>,
        /// The key whose value comes next, with its position.
        key: Option<(String, Location)>,
        /// The map's own entry still awaits the position of its first key.
        locate_at_first_key: bool,
    },
    Seq {
        path: Option<String>,
        next: usize,
    },
}

#[derive(Debug, Default)]
struct Walker {
    stack: Vec<Frame>,
    entries: HashMap<String, Location>,
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

impl Walker {
    /// Whether the innermost open collection is a mapping waiting for a key.
    fn expecting_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map { key: None, .. }))
    }

    /// The path and position of the value that starts at `at`.
    fn value_slot(&self, at: Location) -> (Option<String>, Location) {
        match self.stack.last() {
            None => (Some(String::new()), at),
            Some(Frame::Map { path, key, .. }) => match (path, key) {
                (Some(p), Some((k, key_loc))) => (Some(join(p, k)), *key_loc),
                _ => (None, at),
            },
            Some(Frame::Seq { path, next }) => (path.as_ref().map(|p| format!("{p}[{next}]")), at),
        }
    }

    /// A value just finished: the parent moves on to its next key or item.
    fn advance(&mut self) {
        match self.stack.last_mut() {
            Some(Frame::Map { key, .. }) => *key = None,
            Some(Frame::Seq { next, .. }) => *next += 1,
            None => {}
        }
    }

    fn record(&mut self, path: &Option<String>, at: Location) {
        if let Some(p) = path {
            if !p.is_empty() {
                self.entries.entry(p.clone()).or_insert(at);
            }
        }
    }

    fn key(&mut self, text: &str, at: Location) {
        let mut fix = None;
        if let Some(Frame::Map { path, key, locate_at_first_key }) = self.stack.last_mut() {
            if *locate_at_first_key {
                *locate_at_first_key = false;
                fix = path.clone();
            }
            *key = Some((text.to_string(), at));
        }
        if let Some(p) = fix.filter(|p| !p.is_empty()) {
            self.entries.insert(p, at);
        }
    }

    fn scalar(&mut self, text: &str, here: Location) {
        if self.expecting_key() {
            self.key(text, here);
            return;
        }
        let (path, slot) = self.value_slot(here);
        // A scalar under a key is located at the scalar itself, not at its key.
        let at = if matches!(self.stack.last(), Some(Frame::Map { .. })) { here } else { slot };
        self.record(&path, at);
        self.advance();
    }

    fn start(&mut self, here: Location, is_map: bool) {
        let (path, at) = if self.expecting_key() {
            // A complex key (`? [a, b]`): nothing inside it has a path.
            (None, here)
        } else {
            self.value_slot(here)
        };
        self.record(&path, at);
        let keyed = matches!(self.stack.last(), Some(Frame::Map { .. }));
        self.stack.push(if is_map {
            Frame::Map { path, key: None, locate_at_first_key: !keyed }
        } else {
            Frame::Seq { path, next: 0 }
        });
    }

    fn end(&mut self) {
        self.stack.pop();
        match self.stack.last_mut() {
            // The collection that just ended was a complex key.
            Some(Frame::Map { key: key @ None, .. }) => *key = Some(("?".to_string(), ORIGIN)),
            _ => self.advance(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents() {
        assert_eq!(parent_path("a.b[2].c"), Some("a.b[2]"));
        assert_eq!(parent_path("a.b[2]"), Some("a.b"));
        assert_eq!(parent_path("a.b"), Some("a"));
        assert_eq!(parent_path("a"), Some(""));
        assert_eq!(parent_path(""), None);
    }

    #[test]
    fn walker_locates_keys_values_and_items() {
        let text = "a:\n  - name: x\n    v: [1, 2]\n  - {k: 1, z: }\nq: 'str'\n";
        let m = SourceMap::from_text(text);
        let at = |p: &str| m.locate(p).map(|l| (l.line, l.column));
        assert_eq!(at("a"), Some((1, 1)));
        assert_eq!(at("a[0]"), Some((2, 5)));
        assert_eq!(at("a[0].name"), Some((2, 11)));
        assert_eq!(at("a[0].v"), Some((3, 5)));
        assert_eq!(at("a[0].v[1]"), Some((3, 12)));
        assert_eq!(at("a[1]"), Some((4, 6)));
        assert_eq!(at("a[1].z"), Some((4, 13)));
        assert_eq!(at("q"), Some((5, 4)));
        assert_eq!(at("a[0].missing"), Some((2, 5)));
        assert_eq!(at("nothing"), None);
    }

    #[test]
    fn walker_handles_json_and_complex_keys() {
        let m = SourceMap::from_text("{\n  \"b\": [\n    {\"x\": 1},\n    {\"x\": 2}\n  ]\n}");
        assert_eq!(m.locate("b[1].x"), Some(Location { line: 4, column: 11 }));
        let m = SourceMap::from_text("{\n\t\"b\": [\n\t\t{\"x\": 1}\n\t]\n}");
        assert_eq!(m.locate("b[0].x"), Some(Location { line: 3, column: 9 }));
        let m = SourceMap::from_text("? [a, b]\n: 1\nc: 2\n");
        assert_eq!(m.locate("c"), Some(Location { line: 3, column: 4 }));
    }

    /// The fast parser's events locate every path exactly where the full parser's do.
    #[test]
    fn fast_and_full_events_locate_alike() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
        let mut texts: Vec<String> = ["basic.yaml", "multi.yaml", "ssl-tandem.yaml"]
            .iter()
            .map(|n| std::fs::read_to_string(root.join(n)).unwrap())
            .collect();
        texts.push(serde_norway::to_string(&crate::synthetic::fleet(7, 3, 2, 4, 3)).unwrap());
        texts.push("a:\n  - name: x\n    v: [1, 2]\n  - {k: 1, z: }\nq: 'str'\ns: \"e\\n\"\nt:\n  - ''\n".into());
        texts.push("k: [a, {b: c, d: }, [é, 'x''y']]\nl: é\n".into());
        for text in texts {
            let fast = fast_yaml::parse(&text).unwrap();
            let full = fast_yaml::parse_full_lenient(&text);
            assert_eq!(walk_doc(&text, &fast), walk_doc(&text, &full), "{text}");
            assert!(!walk_doc(&text, &fast).is_empty());
        }
        // Empty block values: at their `:` or `-` (yaml-rust2 put them at the next
        // token, often on the next line).
        let m = SourceMap::from_text("r:\ns: 1\nt:\n  -\n  - x\n");
        assert_eq!(m.locate("r"), Some(Location { line: 1, column: 2 }));
        assert_eq!(m.locate("t[0]"), Some(Location { line: 4, column: 3 }));
    }
}
