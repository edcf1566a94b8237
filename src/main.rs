//! `p4clone`: compile load-balancer traffic-clone configs into P4Runtime entities,
//! push them to P4 data planes, run them on the software target or BMv2, and read
//! the clone statistics back.
//!
//! A thin command line over the `p4clone` library (`src/lib.rs`, the jobs).
//! Layout: [`cli`] holds the clap definitions and the dispatch; each subcommand lives
//! in its own module under [`commands`]; [`flags`] has the flags several commands
//! share; [`serve_flags`] the software target's service flags (TLS, limits);
//! [`compiled`] loads and compiles a config for a command; [`render`] has the
//! aligned-table and output helpers; [`failure`] the error type that maps to exit
//! codes.

mod cli;
mod commands;
mod compiled;
mod failure;
mod flags;
mod render;
mod serve_flags;
mod signals;

/// mimalloc: large configs lower to hundreds of thousands of small protobuf
/// buffers, which the system allocator handles slowly (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
