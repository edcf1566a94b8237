//! `p4clone bindings add|remove|list|feed --controller ADDR`: a client of the
//! controller's live NAT bindings service (the logic, including the JSON-lines
//! format and the batching of `feed`, is in
//! `p4clone_runtime::controller::bindings`).

use std::io::Write;
use std::time::Duration;

use p4clone::jobs::runtime::{async_runtime, Workers};
use p4clone_runtime::controller::bindings::client::FeedOptions;
use p4clone_runtime::controller::bindings::{feed, BindingsClient, BindingsClientError};

use crate::failure::{Failure, Outcome, EXIT_INPUT};

const AFTER_HELP: &str = "\
A binding says that the SE-side address:port an SE used towards the pool stands
for a client address:port (and protocol): the meaning of the config's
nat_bindings. The controller (started with --bindings-listen ADDR) writes it,
batched, to the devices whose SEs own the SE address, and keeps it there.

feed reads JSON lines from stdin, one op a line:
  {\"op\":\"add\",\"se\":\"10.0.0.5:40001\",\"client\":\"198.51.100.7:51515\",\"protocol\":\"tcp\"}
  {\"op\":\"remove\",\"se\":\"10.0.0.5:40001\",\"protocol\":\"tcp\"}
(op defaults to add, protocol to tcp; IPv6 endpoints are [addr]:port). It sends
them through one Apply call, in batches of --batch ops, each sent at the latest
--delay-ms after its first line was read. A line that does not parse is
reported with its number and skipped (exit 2 at the end). An op the controller
refuses ends the feed, naming its line (every op before it was accepted).
list prints the live bindings in the same form, so `list | feed` restores them.

Errors: INVALID_ARGUMENT names the field (a malformed address, port 0, mixed
families, an SE address no SE owns); FAILED_PRECONDITION: the endpoint is bound
by the config file; RESOURCE_EXHAUSTED: a device's NAT table is full (nothing
accepted before is lost). Exit 0 ok, 1 refused or unreachable, 2 bad input.

Examples:
  p4clone bindings add --controller 127.0.0.1:9600 10.0.0.5:40001 198.51.100.7:51515
  p4clone bindings remove --controller 127.0.0.1:9600 10.0.0.5:40001 --protocol udp
  p4clone bindings list --controller 127.0.0.1:9600 > bindings.jsonl
  p4clone bindings feed --controller 127.0.0.1:9600 < bindings.jsonl";

/// Add, remove and list the controller's live NAT bindings, or feed them as JSON lines.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub op: Op,
}

/// The controller's bindings service.
#[derive(Debug, Clone, clap::Args)]
pub struct ControllerArg {
    /// The controller's --bindings-listen address HOST:PORT
    #[arg(long, value_name = "HOST:PORT")]
    pub controller: String,
}

/// A bindings operation.
#[derive(Debug, clap::Subcommand)]
pub enum Op {
    /// Add a binding (or refresh it, or bind the SE endpoint to another client)
    Add {
        #[command(flatten)]
        controller: ControllerArg,
        /// SE-side address:port
        se: String,
        /// Client address:port
        client: String,
        /// tcp or udp
        #[arg(long, default_value = "tcp")]
        protocol: String,
    },
    /// Remove the binding of an SE endpoint
    Remove {
        #[command(flatten)]
        controller: ControllerArg,
        /// SE-side address:port
        se: String,
        /// tcp or udp
        #[arg(long, default_value = "tcp")]
        protocol: String,
    },
    /// Print the live bindings as JSON lines (the feed format)
    List {
        #[command(flatten)]
        controller: ControllerArg,
    },
    /// Send JSON lines from stdin through one Apply call, in batches
    Feed {
        #[command(flatten)]
        controller: ControllerArg,
        /// Ops per Apply message
        #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
        batch: u64,
        /// Send a partial batch once its first op is this old (milliseconds)
        #[arg(long, value_name = "MS", default_value_t = 5)]
        delay_ms: u64,
    },
}

fn failure(e: BindingsClientError) -> Failure {
    if e.is_input() {
        Failure::Input(e.to_string())
    } else {
        Failure::Runtime(e.to_string())
    }
}

/// Runs `bindings`.
pub fn run(args: &Args) -> Outcome {
    let rt = async_runtime(Workers::InProcessTarget)?;
    rt.block_on(async {
        let addr = match &args.op {
            Op::Add { controller, .. }
            | Op::Remove { controller, .. }
            | Op::List { controller }
            | Op::Feed { controller, .. } => controller.controller.as_str(),
        };
        let mut c = BindingsClient::connect(addr).await.map_err(failure)?;
        match &args.op {
            Op::Add { se, client, protocol, .. } => {
                let devices = c.add(se, client, protocol).await.map_err(failure)?;
                println!("added {se} -> {client} ({protocol}): devices {}", devices.join(", "));
            }
            Op::Remove { se, protocol, .. } => {
                let was = c.remove(se, protocol).await.map_err(failure)?;
                println!("removed {se} ({protocol}) -> {was}");
            }
            Op::List { .. } => {
                let all = c.list().await.map_err(failure)?;
                let mut out = std::io::BufWriter::new(std::io::stdout().lock());
                for b in &all {
                    writeln!(out, "{}", feed::line_of(b)).map_err(|e| Failure::Runtime(format!("stdout: {e}")))?;
                }
                out.flush().map_err(|e| Failure::Runtime(format!("stdout: {e}")))?;
            }
            Op::Feed { batch, delay_ms, .. } => {
                let opts = FeedOptions {
                    batch: usize::try_from(*batch).unwrap_or(1000),
                    delay: Duration::from_millis(*delay_ms),
                    on_bad_line: |l| eprintln!("error: {l}"),
                };
                let stdin = std::io::BufReader::new(std::io::stdin());
                let r = c.feed(stdin, opts).await.map_err(failure)?;
                println!("sent {}: added {}, removed {}, {} not bound", r.sent, r.added, r.removed, r.not_found);
                if !r.bad_lines.is_empty() {
                    eprintln!("error: {} bad line(s) skipped", r.bad_lines.len());
                    return Err(Failure::Reported(EXIT_INPUT));
                }
            }
        }
        Ok(())
    })
}
