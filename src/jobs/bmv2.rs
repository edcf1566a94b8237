//! The BMv2 job of `run --target bmv2` and `diff`: BMv2 `simple_switch_grpc`
//! in pcap-file mode (the `p4clone-bmv2` crate), one `-i N@...` per port of the
//! device, the pipeline (`p4src/build/traffic_clone.json` + P4Info) and the
//! entities pushed over P4Runtime inside its start-up window, outputs collected
//! once they stop changing, lost frames accounted per port.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use p4clone_bmv2::launch::{Bmv2, LaunchOptions, PortOutput};
use p4clone_bmv2::loss::{self, Losses, PortAccount};
use p4clone_bmv2::{artifacts, locate, push};
use p4clone_compiler::config::{Config, Target};
use p4clone_compiler::intent::DeviceIntent;
use p4clone_runtime::pipeline::{default_p4src_dir, PipelineArtifacts};
use p4clone_runtime::stats::StatsReport;

use crate::jobs::embedded;
use crate::jobs::error::JobError;
use crate::jobs::inputs::{self, PcapInput};
use crate::jobs::runtime::{async_runtime, Workers};
use crate::jobs::Progress;

/// How long BMv2 gets for each phase.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bmv2Options {
    /// Seconds from setting the pipeline until BMv2 reads its inputs
    /// (`--use-files`); `None`: 4 + 1 per 500 entities.
    pub window: Option<u32>,
    /// The outputs are complete once they have not grown for this long.
    pub settle: Duration,
    /// Fail if the outputs are still growing this long after processing starts.
    pub timeout: Duration,
}

/// What one BMv2 run produced.
pub struct Bmv2Run {
    /// The device's name.
    pub device: String,
    /// Its P4Runtime device id.
    pub device_id: u64,
    /// BMv2's P4Runtime address.
    pub address: String,
    /// BMv2's command line.
    pub command: String,
    /// Entities inserted or modified by the push.
    pub written: usize,
    /// Frames in per port (every port opened).
    pub frames_in: BTreeMap<u16, u64>,
    /// What each port sent.
    pub outputs: Vec<PortOutput>,
    /// Per port: frames it should have sent (from the inputs and
    /// `clones_requested`) and what it wrote.
    pub accounts: Vec<PortAccount>,
    /// The per-clone-server statistics read back over P4Runtime.
    pub stats: StatsReport,
}

impl Bmv2Run {
    /// Frames out per second from BMv2's own send timestamps (first to last
    /// frame over all ports); `None` with fewer than two frames.
    pub fn rate(&self) -> Option<f64> {
        let first = self.outputs.iter().filter_map(|p| p.first_ts_ns).min()?;
        let last = self.outputs.iter().filter_map(|p| p.last_ts_ns).max()?;
        let n: u64 = self.outputs.iter().map(|p| p.frames).sum();
        (n >= 2 && last > first).then(|| (n - 1) as f64 / ((last - first) as f64 / 1e9))
    }

    /// Frames out over all ports.
    pub fn frames_out(&self) -> u64 {
        self.outputs.iter().map(|p| p.frames).sum()
    }

    /// The frame account of `port`.
    pub fn account(&self, port: u16) -> Option<&PortAccount> {
        self.accounts.iter().find(|a| a.port == port)
    }

    /// The ports where BMv2 lost frames (its file mode drops frames when an
    /// egress queue overflows); empty when every frame came out.
    pub fn losses(&self) -> Losses {
        loss::losses(&self.accounts)
    }

    /// [`JobError::Bmv2Lost`] naming every port that lost frames: not a
    /// data-plane difference, so its outputs cannot be compared.
    pub fn lossless(&self) -> Result<(), JobError> {
        let l = self.losses();
        if l.is_empty() {
            Ok(())
        } else {
            Err(JobError::Bmv2Lost(l))
        }
    }

    /// Seconds of BMv2 send time from the first to the last frame (0 if unknown).
    pub fn span_s(&self) -> f64 {
        let first = self.outputs.iter().filter_map(|p| p.first_ts_ns).min();
        let last = self.outputs.iter().filter_map(|p| p.last_ts_ns).max();
        match (first, last) {
            (Some(a), Some(b)) if b > a => (b - a) as f64 / 1e9,
            _ => 0.0,
        }
    }
}

/// Fails early if BMv2 cannot run: `simple_switch_grpc` not found or
/// `p4src/build/` not compiled.
pub fn require_bmv2() -> Result<(), JobError> {
    locate::find_bmv2()?;
    artifacts::check_artifacts(&default_p4src_dir())?;
    Ok(())
}

/// The device ports of `device` in `cfg`: both ends of every wire, and every
/// interface of the service engines on it.
pub fn device_ports(cfg: &Config, device: &DeviceIntent) -> BTreeSet<u16> {
    let mut ports: BTreeSet<u16> = BTreeSet::new();
    for w in &device.wires {
        ports.extend([w.0, w.1].into_iter().filter_map(|p| u16::try_from(p).ok()));
    }
    for se in cfg.se_groups.iter().flat_map(|g| &g.service_engines).filter(|s| s.device == device.name) {
        ports.extend(se.interfaces.iter().filter_map(|i| u16::try_from(i.port).ok()));
    }
    ports.extend(device.members.iter().filter_map(|m| u16::try_from(m.egress_port).ok()));
    ports
}

/// The `--use-files` window when none is given: 4 s, plus 1 s per 500 entities.
fn default_window(device: &DeviceIntent) -> u32 {
    let entities = p4clone_compiler::lower::program_schema()
        .ok()
        .and_then(|schema| p4clone_runtime::reconcile::desired_entities(device, schema).ok())
        .map_or(0, |e| e.len());
    4 + (entities as u32).div_ceil(500)
}

/// A fresh work directory for BMv2 under the system temporary directory.
fn bmv2_work_dir() -> PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    std::env::temp_dir().join(format!("p4clone-bmv2-{}-{nanos:09}", std::process::id()))
}

/// The BMv2 job: finds `simple_switch_grpc`, checks `p4src/build/`, prepares
/// `out`, starts BMv2 on every port of the device plus the inputs' and
/// `extra_ports`, pushes over P4Runtime inside the start-up window, waits for
/// the outputs to settle, reads the counters, stops BMv2 and writes
/// `out/port-<N>.pcap` for every port that sent frames. `progress` gets a
/// line when BMv2 has started and one when the device is programmed.
pub fn run_bmv2(
    config: &Config,
    device: &DeviceIntent,
    inputs: &[PcapInput],
    out: &Path,
    opts: &Bmv2Options,
    extra_ports: &BTreeSet<u16>,
    progress: Progress<'_>,
) -> Result<Bmv2Run, JobError> {
    let binary = locate::find_bmv2()?;
    let p4src = default_p4src_dir();
    artifacts::check_artifacts(&p4src)?;
    let arts = PipelineArtifacts::for_target(Target::Bmv2, Some(&p4src))
        .map_err(|e| JobError::Runtime(format!("BMv2 artifacts: {e}")))?;
    embedded::prepare_output_dir(out, &inputs::named(inputs))?;

    let mut lo = LaunchOptions::new(binary, device.device_id, bmv2_work_dir());
    lo.ports = device_ports(config, device);
    lo.ports.extend(extra_ports);
    lo.inputs = inputs.iter().map(|i| (i.port, i.path.clone())).collect();
    lo.window_s = opts.window.unwrap_or_else(|| default_window(device));
    let mut bmv2 = Bmv2::launch(&lo)?;
    let address = bmv2.address().to_string();
    let kept = |e: JobError, b: &Bmv2| e.keeping(b.work_dir().to_path_buf());
    progress(&format!(
        "p4clone run: BMv2 {}, device {} (id {}), P4Runtime {address}, ports {:?}, start-up window {} s",
        lo.binary.display(),
        device.name,
        device.device_id,
        bmv2.ports(),
        lo.window_s
    ));

    let rt = async_runtime(Workers::InProcessTarget)?;
    let pushed = rt.block_on(push::program(&address, device, &arts, Duration::from_secs(10)));
    let mut programmed = match pushed {
        Ok(p) => p,
        Err(e) => {
            let tail = bmv2.log_tails();
            return Err(kept(JobError::Runtime(format!("{e}\n  end of BMv2's output:\n{tail}")), &bmv2));
        }
    };
    let written = programmed.result.inserted + programmed.result.modified;
    let settle = (|| {
        bmv2.check_window(programmed.pipeline_started, programmed.done)?;
        progress(&format!(
            "p4clone run: {}; {written} entities written in {:.2} s; BMv2 reads its inputs {} s after the pipeline was set",
            programmed.pipeline,
            programmed.done.duration_since(programmed.pipeline_started).as_secs_f64(),
            lo.window_s
        ));
        let start = bmv2.processing_start(programmed.pipeline_set);
        bmv2.wait_settled(start, opts.settle, opts.timeout)
    })();
    let counters = rt.block_on(async {
        let s = match &settle {
            Ok(_) => Some(push::read_counters(&mut programmed.client).await),
            Err(_) => None,
        };
        drop(programmed);
        s
    });
    settle.map_err(|e| kept(e.into(), &bmv2))?;
    let counters = counters.unwrap_or_else(|| Err("not read".into()));
    bmv2.stop(Duration::from_secs(5)).map_err(|e| kept(e.into(), &bmv2))?;
    let outputs = bmv2.collect(out).map_err(|e| kept(e.into(), &bmv2))?;
    let requested: HashMap<u16, u64> = match &counters {
        Ok(c) => c.members.iter().map(|(&id, m)| (id, m.requested.map_or(0, |v| v.packets))).collect(),
        Err(e) => {
            return Err(kept(
                JobError::Runtime(format!(
                    "cannot read clones_requested back from BMv2 ({e}), so its outputs cannot be checked for lost \
                     frames"
                )),
                &bmv2,
            ))
        }
    };
    let sent: BTreeMap<u16, u64> = outputs.iter().map(|p| (p.port, p.frames)).collect();
    let accounts = loss::account(device, bmv2.frames_in(), &requested, &sent);
    let stats = push::stats_report(config, &device.name, counters);
    let run = Bmv2Run {
        device: device.name.clone(),
        device_id: device.device_id,
        address,
        command: bmv2.command_line(),
        written,
        frames_in: bmv2.frames_in().clone(),
        outputs,
        accounts,
        stats,
    };
    bmv2.cleanup();
    Ok(run)
}
