//! Diagnostics: one problem in a config, naming the object path and, where the
//! source is YAML/JSON text, the line and column.

use std::fmt;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The config is still valid; the user should look.
    Warning,
    /// The config is rejected.
    Error,
}

/// A 1-based line and column in the config source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

/// One problem found in a config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Object path, e.g. `traffic_clone_profiles[0].clone_servers[2].subnet`.
    pub path: String,
    /// What is wrong, for people.
    pub message: String,
    /// Where in the source, when known.
    pub location: Option<Location>,
}

impl Diagnostic {
    /// An error at `path`.
    pub fn error(path: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Error, path: path.into(), message: message.into(), location: None }
    }

    /// A warning at `path`.
    pub fn warning(path: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Warning, path: path.into(), message: message.into(), location: None }
    }
}

impl fmt::Display for Diagnostic {
    /// `error: traffic_clone_profiles[0].clone_servers[2].subnet (line 12, column 9): message`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{sev}: {}", self.path)?;
        if let Some(l) = self.location {
            write!(f, " (line {}, column {})", l.line, l.column)?;
        }
        write!(f, ": {}", self.message)
    }
}
