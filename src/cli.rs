//! Command-line definitions (clap derive) and dispatch.
//!
//! To add a subcommand: write `commands/NAME.rs` with an `Args` struct (clap
//! `Args` derive, doc comments become the help) and `pub fn run(args: &Args) ->
//! Outcome`, declare it in `commands/mod.rs`, add a variant to [`Command`] (its doc
//! comment is the one-line summary in `p4clone --help`) and one arm to [`dispatch`].

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::commands;
use crate::failure::{Outcome, EXIT_OK};

const OVERVIEW: &str = "\
p4clone offloads load-balancer traffic cloning to P4 data planes: SPAN-style copies
of the traffic between a virtual service's service engines and its back-end pool,
sent to IDS or monitoring \"clone servers\". It compiles a declarative config (YAML
or JSON: tenants, networks, devices, SE groups, pools, virtual services, traffic
clone profiles, NAT bindings) into P4Runtime entities for one fixed P4 program
(wire entries, clone sessions, clone rewrites, NAT and classify entries) and keeps
devices (BMv2, Tofino, the p4clone software target) in sync with it.";

const AFTER_HELP: &str = "\
Exit codes:
  0  success
  1  runtime or device failure
  2  bad input: invalid config (every problem is listed), unknown device, bad
     flags, unreadable config or unwritable output file

Examples:
  p4clone check examples/basic.yaml
  p4clone compile examples/multi.yaml --device nic0 --output json -o nic0.json
  p4clone run examples/basic.yaml --pcap 1=examples/basic-port1.pcap --pcap 2=examples/basic-port2.pcap --out out/
  p4clone diff --vectors tests/vectors --a soft --b bmv2
  p4clone import avi examples/avi/export.json --site examples/avi/site.yaml -o c.yaml";

/// The `p4clone` command line.
#[derive(Debug, Parser)]
#[command(name = "p4clone", version, about = "Offload load-balancer traffic cloning to P4 data planes")]
#[command(long_about = OVERVIEW, after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands; each doc comment is its line in `p4clone --help`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate a config and summarise what it compiles to (entries per table per device)
    Check(commands::check::Args),
    /// Compile a config into one P4Runtime WriteRequest per device (text or JSON)
    Compile(commands::compile::Args),
    /// Run the main job (software target in this process, or BMv2): push over P4Runtime, replay pcaps, print clone stats
    Run(commands::run::Args),
    /// Compare two targets' outputs frame by frame (soft vs BMv2), or targets against the stored test vectors
    Diff(commands::diff::Args),
    /// Show what a push would write to each device (+ insert, ~ modify, - delete); writes nothing
    Plan(commands::plan::Args),
    /// Apply a config to its devices over P4Runtime (concurrently, minimal ordered writes)
    Push(commands::push::Args),
    /// Per-clone-server statistics from the devices' mirror counters (table, JSON, Prometheus)
    Stats(commands::stats::Args),
    /// Run the software target: a P4Runtime server with pcap / AF_PACKET ports
    Soft(commands::soft::Args),
    /// Write a p4clone config from another system's objects (`import avi`: the load balancer's export and a site file)
    Import(commands::import::Args),
    /// Keep every device of a config in sync, long-running: hold the P4Runtime stream, reconcile on start, reconnect, config change and every --resync seconds
    Controller(commands::controller::Args),
    /// Add, remove, list or feed (JSON lines) the live NAT bindings of a running controller
    Bindings(commands::bindings::Args),
}

/// Runs one parsed command line.
pub fn dispatch(cli: &Cli) -> Outcome {
    match &cli.command {
        Command::Check(args) => commands::check::run(args),
        Command::Compile(args) => commands::compile::run(args),
        Command::Run(args) => commands::run::run(args),
        Command::Diff(args) => commands::diff::run(args),
        Command::Plan(args) => commands::plan::run(args),
        Command::Push(args) => commands::push::run(args),
        Command::Stats(args) => commands::stats::run(args),
        Command::Soft(args) => commands::soft::run(args),
        Command::Import(args) => commands::import::run(args),
        Command::Controller(args) => commands::controller::run(args),
        Command::Bindings(args) => commands::bindings::run(args),
    }
}

/// Parses the process arguments, runs the subcommand and maps the outcome to an
/// exit code. Flag errors exit 2 (clap's own convention, matching "bad input").
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(&cli) {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(f) => {
            f.report();
            f.exit_code()
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
