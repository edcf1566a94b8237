//! Loading config text (YAML or JSON) into a [`Config`], plus a [`SourceMap`] from
//! object paths (`traffic_clone_profiles[0].clone_servers[2].subnet`) to 1-based
//! line:column positions, so that validation diagnostics can point into the file.
//!
//! Parsing is done by serde (`serde_norway` for YAML, `serde_json` for JSON); syntax
//! and type errors (wrong type, unknown field, missing field) become a [`LoadError`]
//! carrying the position and, where known, the object path. YAML is tried first with
//! [`fast_yaml`], a strict parser of the YAML subset configs are written in (seven
//! to eight times faster than `serde_norway`); on any text it is not sure of (a
//! construct outside the subset, or any error) it declines and `serde_norway` parses
//! the text, so the result, error messages included, is always what `serde_norway`
//! gives.
//!
//! The source map is built separately, by walking the text with `yaml-rust2`'s
//! marked event parser; JSON is YAML, so the same walker serves both formats. The
//! walk costs two to three times as much as a `serde_norway` parse, and a valid,
//! clean config never needs it, so [`load_str`] and [`load_file`] only keep the
//! text: the map is built the first time something asks for a location
//! ([`SourceMap::locate`], [`SourceMap::annotate`] with a diagnostic to place, ...),
//! at most once.
//!
//! Nothing here panics on bad input: every failure is a [`LoadError`], and a text
//! the walker cannot follow merely yields a partial (or empty) source map.

pub mod fast_yaml;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use serde::Deserialize as _;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

use crate::config::Config;
use crate::diag::{Diagnostic, Location};
use crate::validate;

/// The syntax of a config text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// YAML (the default; JSON is accepted too since JSON is YAML).
    Yaml,
    /// JSON, parsed with `serde_json` for sharper error messages.
    Json,
}

impl Format {
    /// Guesses the format from a file name: `.json` (any case) is JSON, anything
    /// else YAML.
    pub fn from_path(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("json") => Format::Json,
            _ => Format::Yaml,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Yaml => "YAML",
            Format::Json => "JSON",
        })
    }
}

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read (missing, permissions, ...).
    #[error("{}: cannot read config: {source}", path.display())]
    Read {
        /// The file that was asked for.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The text is not a config: a syntax error, a value of the wrong type, an
    /// unknown or missing field, or bytes that are not UTF-8.
    #[error("{}", parse_display(file.as_deref(), *location, message))]
    Parse {
        /// The file the text came from (`None` for [`load_str`]).
        file: Option<PathBuf>,
        /// The syntax the text was parsed as.
        format: Format,
        /// Where the problem was found, when the parser knows.
        location: Option<Location>,
        /// What is wrong, including the object path when known
        /// (`traffic_clone_profiles[0]: unknown field ...`).
        message: String,
    },
}

impl LoadError {
    /// The line and column of the problem, when known.
    pub fn location(&self) -> Option<Location> {
        match self {
            LoadError::Read { .. } => None,
            LoadError::Parse { location, .. } => *location,
        }
    }

    /// Attaches the file name to a parse error (read errors already have one).
    fn with_file(self, path: &Path) -> Self {
        match self {
            LoadError::Parse { file: None, format, location, message } => {
                LoadError::Parse { file: Some(path.to_path_buf()), format, location, message }
            }
            other => other,
        }
    }
}

/// `file:line:col: message`, leaving out whatever is unknown.
fn parse_display(file: Option<&Path>, location: Option<Location>, message: &str) -> String {
    let mut out = String::new();
    if let Some(f) = file {
        out.push_str(&f.display().to_string());
        out.push(':');
    }
    if let Some(l) = location {
        out.push_str(&format!("{}:{}:", l.line, l.column));
    }
    if !out.is_empty() {
        out.push(' ');
    }
    out.push_str(message);
    out
}

/// A parsed config and where its objects are in the source text.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// The configuration (not yet validated: see [`Loaded::check`]).
    pub config: Config,
    /// Object path -> line:column in the text the config came from.
    pub source_map: SourceMap,
}

impl Loaded {
    /// Runs [`validate::validate`] on the config and fills in every diagnostic's
    /// source location.
    pub fn check(&self) -> Vec<Diagnostic> {
        self.check_resolved().diagnostics
    }

    /// [`Loaded::check`], keeping the resolved model ([`validate::check`]) so that
    /// [`crate::intent::compile_model`] compiles it without resolving the config again.
    pub fn check_resolved(&self) -> validate::Checked<'_> {
        let mut checked = validate::check(&self.config);
        self.source_map.annotate(&mut checked.diagnostics);
        checked
    }
}

/// The byte-order mark some editors put at the start of a file.
const BOM: char = '\u{feff}';

/// Parses config text in the given format.
///
/// Errors carry the line:column the parser reports and, where known, the object
/// path of the offending value; they carry no file name (see [`load_file`]).
/// The source map keeps a copy of the text; [`load_string`] takes it instead.
pub fn load_str(text: &str, format: Format) -> Result<Loaded, LoadError> {
    let text = text.strip_prefix(BOM).unwrap_or(text);
    let config = parse(text, format)?;
    Ok(Loaded { config, source_map: SourceMap::deferred(text.to_owned()) })
}

/// [`load_str`] for text the caller owns: the source map keeps `text` itself, no
/// copy.
pub fn load_string(mut text: String, format: Format) -> Result<Loaded, LoadError> {
    if text.starts_with(BOM) {
        text.drain(..BOM.len_utf8());
    }
    let config = parse(&text, format)?;
    Ok(Loaded { config, source_map: SourceMap::deferred(text) })
}

fn parse(text: &str, format: Format) -> Result<Config, LoadError> {
    match format {
        Format::Yaml => parse_yaml(text),
        Format::Json => parse_json(text),
    }
}

/// Reads and parses a config file; the format comes from the extension
/// ([`Format::from_path`]). Errors name the file.
pub fn load_file(path: &Path) -> Result<Loaded, LoadError> {
    let bytes = std::fs::read(path).map_err(|source| LoadError::Read { path: path.to_path_buf(), source })?;
    let format = Format::from_path(path);
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        // The valid prefix is UTF-8 by definition, so this never loses anything.
        let prefix = String::from_utf8_lossy(valid);
        LoadError::Parse {
            file: Some(path.to_path_buf()),
            format,
            location: Some(end_location(&prefix)),
            message: format!("not UTF-8 text (invalid byte at offset {})", valid.len()),
        }
    })?;
    load_string(text, format).map_err(|e| e.with_file(path))
}

/// The 1-based position just after `text`.
fn end_location(text: &str) -> Location {
    let line = text.matches('\n').count() + 1;
    let last = text.rsplit('\n').next().unwrap_or("");
    Location { line, column: last.chars().count() + 1 }
}

/// Removes the ` at line L column C` that the serde libraries put into their
/// messages, since the location is reported separately.
fn strip_position(message: String, line: usize, column: usize) -> String {
    let needle = format!(" at line {line} column {column}");
    match message.find(&needle) {
        Some(i) => format!("{}{}", &message[..i], &message[i + needle.len()..]),
        None => message,
    }
}

fn parse_yaml(text: &str) -> Result<Config, LoadError> {
    // Fast path: the strict subset parser. Whenever it declines (a construct outside
    // its subset, or any error), serde_norway parses the text, as it always did.
    if let Ok(config) = fast_yaml::from_str::<Config>(text) {
        return Ok(config);
    }
    serde_norway::from_str::<Config>(text).map_err(|e| {
        let location = e.location().map(|l| Location { line: l.line(), column: l.column() });
        LoadError::Parse {
            file: None,
            format: Format::Yaml,
            location,
            // serde_norway already prefixes the object path (`pools[0]: ...`).
            message: match location {
                Some(l) => strip_position(e.to_string(), l.line, l.column),
                None => e.to_string(),
            },
        }
    })
}

fn parse_json(text: &str) -> Result<Config, LoadError> {
    // Fast path: plain serde_json. Only when that fails is the text parsed again with
    // object-path tracking, which costs on every value, to build the error message.
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = Config::deserialize(&mut de).and_then(|config| de.end().map(|()| config));
    match parsed {
        Ok(config) => Ok(config),
        Err(_) => parse_json_tracked(text),
    }
}

/// [`parse_json`] with the object path of the failure (`pools[0].servers: ...`).
fn parse_json_tracked(text: &str) -> Result<Config, LoadError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let config: Config = serde_path_to_error::deserialize(&mut de).map_err(|e| json_error(&e))?;
    de.end().map_err(|e| json_error_inner(&e, None))?;
    Ok(config)
}

fn json_error(e: &serde_path_to_error::Error<serde_json::Error>) -> LoadError {
    let path = e.path().to_string();
    let path = (path != "." && !path.is_empty()).then_some(path);
    json_error_inner(e.inner(), path)
}

fn json_error_inner(e: &serde_json::Error, path: Option<String>) -> LoadError {
    let location = (e.line() > 0).then_some(Location { line: e.line(), column: e.column().max(1) });
    let message = strip_position(e.to_string(), e.line(), e.column());
    let message = match path {
        Some(p) => format!("{p}: {message}"),
        None => message,
    };
    LoadError::Parse { file: None, format: Format::Json, location, message }
}

/// Object path -> 1-based line:column in the source text.
///
/// Paths are written as in diagnostics: keys joined with `.`, sequence items as
/// `[i]`, e.g. `se_groups[0].service_engines[0].interfaces[1].port`. A scalar
/// value is located at the value itself; a mapping or sequence under a key at the
/// key; a sequence item that is a mapping at its first key; other sequence items at
/// their start. Only the first document is mapped; aliases are located at the
/// alias (their contents fall back to it).
///
/// A map made by [`SourceMap::deferred`] (as [`load_str`] does) holds only the text
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

/// Walks `text` once with the marked event parser and records every path.
fn walk(text: &str) -> HashMap<String, Location> {
    let mut walker = Walker::default();
    let mut parser = Parser::new_from_str(text);
    // A scan error just ends the walk; what was recorded so far is kept.
    let _ = parser.load(&mut walker, false);
    walker.entries
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
    /// Set once the first document has ended; later documents are ignored.
    done: bool,
}

fn loc(mark: Marker) -> Location {
    // yaml-rust2 lines are 1-based, columns 0-based.
    Location { line: mark.line().max(1), column: mark.col() + 1 }
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

    /// The path and position of the value that starts at `mark`.
    fn value_slot(&self, mark: Marker) -> (Option<String>, Location) {
        match self.stack.last() {
            None => (Some(String::new()), loc(mark)),
            Some(Frame::Map { path, key, .. }) => match (path, key) {
                (Some(p), Some((k, key_loc))) => (Some(join(p, k)), *key_loc),
                _ => (None, loc(mark)),
            },
            Some(Frame::Seq { path, next }) => (path.as_ref().map(|p| format!("{p}[{next}]")), loc(mark)),
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

    fn key(&mut self, text: String, mark: Marker) {
        let at = loc(mark);
        let mut fix = None;
        if let Some(Frame::Map { path, key, locate_at_first_key }) = self.stack.last_mut() {
            if *locate_at_first_key {
                *locate_at_first_key = false;
                fix = path.clone();
            }
            *key = Some((text, at));
        }
        if let Some(p) = fix.filter(|p| !p.is_empty()) {
            self.entries.insert(p, at);
        }
    }

    fn scalar(&mut self, text: String, mark: Marker) {
        if self.expecting_key() {
            self.key(text, mark);
            return;
        }
        let (path, slot) = self.value_slot(mark);
        // A scalar under a key is located at the scalar itself, not at its key.
        let at = if matches!(self.stack.last(), Some(Frame::Map { .. })) { loc(mark) } else { slot };
        self.record(&path, at);
        self.advance();
    }

    fn start(&mut self, mark: Marker, is_map: bool) {
        let (path, at) = if self.expecting_key() {
            // A complex key (`? [a, b]`): nothing inside it has a path.
            (None, loc(mark))
        } else {
            self.value_slot(mark)
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
            Some(Frame::Map { key: key @ None, .. }) => *key = Some(("?".to_string(), Location { line: 1, column: 1 })),
            _ => self.advance(),
        }
    }
}

impl MarkedEventReceiver for Walker {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.done {
            return;
        }
        match ev {
            Event::Scalar(text, ..) => self.scalar(text, mark),
            Event::Alias(_) => self.scalar("*".to_string(), mark),
            Event::MappingStart(..) => self.start(mark, true),
            Event::SequenceStart(..) => self.start(mark, false),
            Event::MappingEnd | Event::SequenceEnd => self.end(),
            Event::DocumentEnd => self.done = true,
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentStart => {}
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
    fn source_map_is_built_only_when_needed() {
        let cfg = crate::synthetic::fleet(6, 2, 3, 2, 2);
        for (text, format) in [
            (serde_norway::to_string(&cfg).unwrap(), Format::Yaml),
            (serde_json::to_string_pretty(&cfg).unwrap(), Format::Json),
        ] {
            let loaded = load_str(&text, format).unwrap();
            assert_eq!(loaded.config, cfg);
            assert!(loaded.check().is_empty(), "{format}");
            assert!(!loaded.source_map.is_built(), "{format}: a clean config needs no source map");
            let eager = SourceMap::from_text(&text);
            assert!(eager.is_built());
            let at = loaded.source_map.locate("virtual_services[4].pool");
            assert!(loaded.source_map.is_built());
            assert_eq!(at, eager.locate("virtual_services[4].pool"));
            assert!(at.is_some());
            assert_eq!(loaded.source_map, eager);
            let mut diags = vec![Diagnostic::error("pools[1].servers[1].ip", "x")];
            let copy = loaded.clone();
            copy.source_map.annotate(&mut diags);
            assert_eq!(diags[0].location, eager.locate("pools[1].servers[1].ip"));
            // Owned text, with a byte-order mark: the same config and locations.
            let owned = load_string(format!("\u{feff}{text}"), format).unwrap();
            assert_eq!(owned.config, cfg);
            assert!(!owned.source_map.is_built());
            assert_eq!(owned.source_map.locate("virtual_services[4].pool"), at);
            assert_eq!(load_str(&format!("\u{feff}{text}"), format).unwrap(), owned);
        }
        assert!(SourceMap::default().is_empty());
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
}
