//! # p4clone-bmv2: BMv2 as a p4clone target
//!
//! Everything p4clone needs to run its program on BMv2 `simple_switch_grpc`
//! and to check the p4c build, with none of it installed here: every entry
//! point finds the tools first and says exactly what is missing.
//!
//! | module | what |
//! |---|---|
//! | [`locate`] | `simple_switch_grpc` (`$P4CLONE_BMV2` or `PATH`) and p4c (`$P4CLONE_P4C`, `p4c-bm2-ss` or `p4c` on `PATH`) |
//! | [`artifacts`] | `p4src/build/` present and compiled from the current source (`SOURCE.sha256`) |
//! | [`launch`] | `simple_switch_grpc --use-files` on a free loopback port: start, wait, stop, collect outputs |
//! | [`push`] | program a device over P4Runtime (pipeline + entities) with timings; read the mirror counters |
//! | [`loss`] | frames BMv2 lost in file mode (queue overflow), accounted from the inputs and `clones_requested` |
//! | [`pcap`] | the pcap files BMv2 reads and writes (link type 0 outputs) |
//! | [`p4c`] | compile with the `p4src/README.md` command; warnings fail |
//! | [`p4info`] | semantic P4Info comparison (ids, names, fields, widths, sizes; order and annotations ignored) |
//!
//! A BMv2 run, as `p4clone run --target bmv2` does it:
//!
//! ```no_run
//! # async fn f(device: &p4clone_compiler::intent::DeviceIntent) -> p4clone_bmv2::Result<()> {
//! use std::time::Duration;
//! use p4clone_bmv2::{artifacts, launch::{Bmv2, LaunchOptions}, locate, push};
//! let binary = locate::find_bmv2()?;
//! artifacts::check_artifacts(std::path::Path::new("p4src"))?;
//! let mut opts = LaunchOptions::new(binary, device.device_id, "/tmp/work".into());
//! opts.ports = [1, 2, 3].into_iter().collect();
//! opts.inputs.insert(1, "in-1.pcap".into());
//! let mut bmv2 = Bmv2::launch(&opts)?;
//! let arts = p4clone_runtime::pipeline::PipelineArtifacts::for_target(
//!     p4clone_compiler::config::Target::Bmv2, None).unwrap();
//! let p = push::program(&bmv2.address().to_string(), device, &arts, Duration::from_secs(10)).await?;
//! bmv2.check_window(p.pipeline_started, p.done)?;
//! bmv2.wait_settled(bmv2.processing_start(p.pipeline_set), Duration::from_secs(1), Duration::from_secs(60))?;
//! bmv2.stop(Duration::from_secs(5))?;
//! let ports = bmv2.collect(std::path::Path::new("out"))?;
//! # Ok(()) }
//! ```

pub mod artifacts;
mod error;
pub mod launch;
pub mod locate;
pub mod loss;
pub mod p4c;
pub mod p4info;
pub mod pcap;
pub mod push;

pub use error::{Bmv2Error, Result};
