//! How a subcommand fails, and the exit code each kind maps to (README, "Commands"):
//! 0 ok, 1 runtime/device failure, 2 bad input (config, flags, files).

use std::fmt;
use std::process::ExitCode;

use p4clone::JobError;

/// Exit code for success.
pub const EXIT_OK: u8 = 0;
/// Exit code for a runtime or device failure.
pub const EXIT_RUNTIME: u8 = 1;
/// Exit code for bad input: config, flags, unreadable or unwritable files.
pub const EXIT_INPUT: u8 = 2;

/// Why a subcommand failed.
#[derive(Debug)]
pub enum Failure {
    /// Bad input (exit 2); the message is printed as `error: {message}`.
    Input(String),
    /// A runtime or device failure (exit 1); printed as `error: {message}`.
    Runtime(String),
    /// Already reported on stderr (e.g. a list of diagnostics); just exit with the code.
    Reported(u8),
}

impl Failure {
    /// The process exit code.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            Failure::Input(_) => EXIT_INPUT,
            Failure::Runtime(_) => EXIT_RUNTIME,
            Failure::Reported(code) => *code,
        })
    }

    /// Prints the failure on stderr (nothing for [`Failure::Reported`]).
    pub fn report(&self) {
        match self {
            Failure::Input(m) | Failure::Runtime(m) => eprintln!("error: {m}"),
            Failure::Reported(_) => {}
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Input(m) | Failure::Runtime(m) => f.write_str(m),
            Failure::Reported(code) => write!(f, "failed (exit {code})"),
        }
    }
}

impl From<JobError> for Failure {
    /// A job's bad input exits 2, anything else 1; the message is the error's text.
    fn from(e: JobError) -> Failure {
        if e.is_input() {
            Failure::Input(e.to_string())
        } else {
            Failure::Runtime(e.to_string())
        }
    }
}

/// The result of a subcommand.
pub type Outcome = Result<(), Failure>;
