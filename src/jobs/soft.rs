//! The software-target job of `run` and `diff`: the target in this process,
//! programmed over P4Runtime gRPC on a loopback port exactly as `push` programs
//! a device, pcap inputs replayed in timestamp order, counters read back.

use std::path::Path;

use p4clone_compiler::config::Config;
use p4clone_compiler::intent::DeviceIntent;
use p4clone_runtime::stats::StatsReport;
use p4clone_soft::engine::{Engine, RunReport};
use p4clone_soft::server::SoftTarget;

use crate::jobs::embedded::{self, Embedded};
use crate::jobs::error::JobError;
use crate::jobs::inputs::{self, PcapInput};
use crate::jobs::runtime::{async_runtime, Workers};
use crate::jobs::Progress;

/// What one run on the software target produced.
pub struct SoftRun {
    /// The device's name.
    pub device: String,
    /// Its P4Runtime device id.
    pub device_id: u64,
    /// The loopback address the target served P4Runtime on.
    pub address: String,
    /// Entities inserted or modified by the push.
    pub written: usize,
    /// The engine's per-port and per-member counters.
    pub report: RunReport,
    /// The per-clone-server statistics read back over P4Runtime.
    pub stats: StatsReport,
}

/// The software-target job: prepares `out`, serves the target on a loopback
/// port, pushes `device` of `config` over gRPC, replays `inputs` into
/// `out/port-<N>.pcap` and reads the counters back. `progress` gets the
/// start line once the device is programmed.
pub fn run_soft(
    config: &Config,
    device: &DeviceIntent,
    inputs: &[PcapInput],
    out: &Path,
    progress: Progress<'_>,
) -> Result<SoftRun, JobError> {
    embedded::prepare_output_dir(out, &inputs::named(inputs))?;
    let ports = inputs::open_inputs(inputs, out)?;

    let rt = async_runtime(Workers::InProcessTarget)?;
    let target = SoftTarget::new_as(device.device_id, embedded::soft_stand_in(device.target).0);
    let (server, mut client, pushed) = rt.block_on(async {
        let server = Embedded::serve(&target, "127.0.0.1:0".parse().expect("address")).await?;
        let address = server.local_addr().to_string();
        match embedded::push_over_grpc(&address, device).await {
            Ok((client, pushed)) => Ok((server, client, pushed)),
            Err(e) => {
                server.shutdown().await;
                Err(e)
            }
        }
    })?;
    let address = server.local_addr().to_string();
    progress(&format!(
        "p4clone run: in-process software target, device {} (id {}), P4Runtime {address}: {}{} entities written",
        device.name,
        device.device_id,
        pushed.pipeline.map(|p| format!("{p}; ")).unwrap_or_default(),
        pushed.inserted + pushed.modified
    ));

    let mut engine = Engine::new(target.pipeline(), ports).with_output_dir(out);
    let replayed = engine.run_until_drained();
    let report = engine.report();
    drop(engine);

    let stats = rt.block_on(async {
        let s = p4clone_runtime::stats::read_device_report(&mut client, config, &device.name).await;
        drop(client);
        server.shutdown().await;
        s
    });
    replayed?;

    Ok(SoftRun {
        device: device.name.clone(),
        device_id: device.device_id,
        address,
        written: pushed.inserted + pushed.modified,
        report,
        stats,
    })
}

/// Clones that were requested but never left, one message per member and kind
/// (for `warning: ` lines on stderr).
pub fn clone_warnings(report: &RunReport) -> Vec<String> {
    let mut out = Vec::new();
    for m in &report.members {
        if m.no_session.packets > 0 {
            out.push(format!(
                "member {}: {} clone(s) requested with no clone session (clone_no_session)",
                m.member, m.no_session.packets
            ));
        }
        if m.rewrite_miss.packets > 0 {
            out.push(format!(
                "member {}: {} clone(s) dropped by clone_rewrite_miss (no rewrite entry)",
                m.member, m.rewrite_miss.packets
            ));
        }
        if m.alloc_failed + m.driver_failed > 0 {
            out.push(format!(
                "member {}: {} clone(s) not sent ({} no buffer, {} driver)",
                m.member,
                m.alloc_failed + m.driver_failed,
                m.alloc_failed,
                m.driver_failed
            ));
        }
    }
    out
}
