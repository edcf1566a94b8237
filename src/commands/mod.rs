//! One module per subcommand. A command uses the library (`p4clone::jobs`), the
//! shared flags ([`crate::flags`]), config loading ([`crate::compiled`]) and
//! output helpers ([`crate::render`]); commands never import each other.

pub mod bindings;
pub mod check;
pub mod compile;
pub mod controller;
pub mod diff;
pub mod import;
pub mod plan;
pub mod push;
pub mod run;
pub mod soft;
pub mod stats;
