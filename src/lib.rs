//! The `p4clone` library: the jobs of the command line (running a config on the
//! in-process software target or on BMv2, comparing outputs frame by frame,
//! reading the packet test vectors), with typed errors, so the `p4clone` binary
//! (`src/main.rs`, a thin command line over it) and the tests share them.

#![warn(missing_docs)]

pub mod jobs;

pub use jobs::error::JobError;
