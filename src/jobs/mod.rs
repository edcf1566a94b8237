//! The jobs behind the commands, one module each, shared by the `p4clone`
//! command line and the tests. Every failure is a typed [`error::JobError`];
//! nothing here exits the process.

pub mod bmv2;
pub mod compare;
pub mod embedded;
pub mod error;
pub mod inputs;
pub mod runtime;
pub mod soft;
pub mod vectors;
