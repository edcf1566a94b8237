//! Loading config text (YAML or JSON) into a [`Config`], plus a [`SourceMap`] from
//! object paths (`traffic_clone_profiles[0].clone_servers[2].subnet`) to 1-based
//! line:column positions, so that validation diagnostics can point into the file.
//!
//! JSON is parsed by `serde_json`. YAML has one reader, [`fast_yaml`]: a text becomes
//! a flat list of compact events carrying byte offsets — from the fast parser of the
//! subset configs are written in (seven to eight times faster than a full YAML
//! parser) or, for anything outside it (anchors and aliases, block scalars,
//! multi-line scalars and flow collections, multi-line JSON, ...), from `yaml-rust2`'s
//! marked events converted into the same list ([`fast_yaml::full`]) — and one
//! deserializer reads the list, so scalars resolve the same way whichever parser ran.
//! Syntax and type errors (wrong type, unknown, missing or duplicate field) become a
//! [`LoadError`] with the line:column of the offending event and the object path
//! (`serde_path_to_error`, tracked only on a second read after a failure).
//! `serde_norway` is not on this path: it serializes (compile output, import) and is
//! the differential oracle of the tests and the `config_yaml` fuzz target.
//!
//! The [`SourceMap`] (`source/map.rs`) is built from the same events (JSON is YAML,
//! so it serves both formats). A valid, clean config never needs it, so [`load_str`]
//! and [`load_file`] only keep the text: the map is built the first time something
//! asks for a location ([`SourceMap::locate`], [`SourceMap::annotate`] with a
//! diagnostic to place, ...), at most once, by parsing the text again (the fast
//! parser's events cost a fraction of the walk).
//!
//! Nothing here panics on bad input: every failure is a [`LoadError`], and a text
//! the walker cannot follow merely yields a partial (or empty) source map.

pub mod fast_yaml;
mod map;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Deserialize as _;

pub use map::SourceMap;

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

/// Reads any `T` (a config, or another file of the tool such as `import avi`'s site
/// file) from YAML `text` through the one YAML reader: the fast parser's events, or
/// the full parser's outside its subset, read by one deserializer. An error carries
/// the object path and the line:column of the offending event.
pub fn yaml_from_str<T: DeserializeOwned>(text: &str) -> Result<T, LoadError> {
    parse_yaml(text)
}

fn parse_yaml<T: DeserializeOwned>(text: &str) -> Result<T, LoadError> {
    let error = |path: Option<String>, e: fast_yaml::Declined| LoadError::Parse {
        file: None,
        format: Format::Yaml,
        location: e.at().map(|at| offset_location(text, at)),
        message: match path {
            Some(p) => format!("{p}: {}", e.reason),
            None => e.reason.into_owned(),
        },
    };
    let doc = fast_yaml::parse(text).map_err(|e| error(None, e))?;
    match fast_yaml::deserialize::<T>(text, &doc) {
        Ok(value) => Ok(value),
        // Only a failure pays for tracking the object path: read the events again.
        Err(_) => fast_yaml::deserialize_tracked::<T>(text, &doc).map_err(|(path, e)| error(path, e)),
    }
}

/// The 1-based line:column of byte offset `at` in `text` (columns count characters).
fn offset_location(text: &str, at: u32) -> Location {
    let at = (at as usize).min(text.len());
    let mut at = at;
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    end_location(&text[..at])
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
