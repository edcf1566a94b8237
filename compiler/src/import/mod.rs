//! Importers: configurations of other systems turned into a p4clone [`crate::config::Config`].
//!
//! Pure conversions (JSON values and text in, a config and warnings out); the
//! `p4clone import` command does the file I/O.

pub mod avi;
