//! The jobs behind the commands, one module each, shared by the `p4clone`
//! command line and the tests. Every failure is a typed [`error::JobError`];
//! nothing here exits the process or prints an error; progress lines go to a
//! [`Progress`] the caller gives.

pub mod bmv2;
pub mod compare;
pub mod embedded;
pub mod error;
pub mod inputs;
pub mod runtime;
pub mod soft;
pub mod vectors;

/// Where a job reports its progress, one line per step, for people (the command
/// line prints them on stderr; `&|_| {}` discards them).
pub type Progress<'a> = &'a dyn Fn(&str);
