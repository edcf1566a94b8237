//! `p4clone`: compile load-balancer traffic-clone configs into P4Runtime entities,
//! push them to P4 data planes, run them on the software target or BMv2, and read
//! the clone statistics back.
//!
//! Layout: [`cli`] holds the clap definitions and the dispatch; each subcommand lives
//! in its own module under [`commands`]; [`render`] has the aligned-table and output
//! helpers; [`failure`] the error type that maps to exit codes.

mod cli;
mod commands;
mod embedded;
mod failure;
mod render;

/// mimalloc: large configs lower to hundreds of thousands of small protobuf
/// buffers, which the system allocator handles slowly (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
