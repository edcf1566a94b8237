//! The software target in this process (what `run`, `diff` and `soft` share),
//! programmed either over real P4Runtime gRPC on a loopback port
//! ([`push_over_grpc`], what `run` does) or directly through the target's own
//! Write path ([`load_in_process`], what `soft --config` does); pcap output
//! directories. The per-clone-server statistics are read back over
//! P4Runtime with `p4clone_runtime::stats::read_device_report`.
//!
//! Both programming paths install the same things a `push` installs: the
//! program's P4Info with the soft target's pipeline cookie, and the runtime's
//! desired entities (the compiler's lowering with the runtime's `clone_rewrite`
//! metadata), so a later `p4clone push` of the same config against a `soft`
//! target finds it up to date, and `p4clone stats` reads it like any device.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use p4clone_compiler::config::Target;
use p4clone_compiler::intent::DeviceIntent;
use p4clone_compiler::lower::{self, write_request};
use p4clone_proto::p4::v1::update;
use p4clone_runtime::client::{Client, ConnectOptions};
use p4clone_runtime::pipeline::{self, PipelineArtifacts};
use p4clone_runtime::reconcile::{self, PushResult, Reconciler};
use p4clone_soft::engine::RunReport;
use p4clone_soft::ports::pcap::output_path;
use p4clone_soft::ports::MAX_PORT;
use p4clone_soft::server::{Dialect, ServeOptions, ServerHandle, SoftTarget};

use crate::jobs::error::JobError;

/// Parses `N` of a port spec: a decimal port number in `0..=MAX_PORT`.
pub fn parse_port_number(s: &str) -> Result<u16, String> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("port number {s:?} is not a decimal number (0..={MAX_PORT})"));
    }
    match s.parse::<u32>() {
        Ok(p) if p <= u32::from(MAX_PORT) => Ok(p as u16),
        _ => Err(format!("port number {s} is out of range 0..={MAX_PORT} (511 is the drop port)")),
    }
}

/// The port `N` if `path` is an output file `dir/port-<N>.pcap` of `dir`.
fn output_port_of(dir: &Path, path: &Path) -> Option<u16> {
    let dir = dir.canonicalize().ok()?;
    let path = path.canonicalize().ok()?;
    if path.parent()? != dir {
        return None;
    }
    let name = path.file_name()?.to_str()?;
    let n = name.strip_prefix("port-")?.strip_suffix(".pcap")?;
    parse_port_number(n).ok()
}

/// Makes `dir` ready for this run's `port-<N>.pcap` outputs: creates it, refuses
/// an input file that is one of its output names (it would be overwritten), and
/// removes the `port-<N>.pcap` files a previous run left there, so the directory
/// holds exactly the ports that sent frames this time. Returns how many old
/// files were removed.
pub fn prepare_output_dir(dir: &Path, inputs: &[(&str, &Path)]) -> Result<usize, JobError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| JobError::Input(format!("cannot create output directory {}: {e}", dir.display())))?;
    for (spec, input) in inputs {
        if let Some(n) = output_port_of(dir, input) {
            return Err(JobError::Input(format!(
                "{spec}: input {} is the output file of port {n} in {}; choose another output directory",
                input.display(),
                dir.display()
            )));
        }
    }
    let mut removed = 0;
    for n in 0..=MAX_PORT {
        let p = output_path(dir, n);
        if p.is_file() {
            std::fs::remove_file(&p)
                .map_err(|e| JobError::Input(format!("cannot remove the old output {}: {e}", p.display())))?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// The address a local client uses to reach a server bound to `addr` (the
/// loopback address when bound to the unspecified one).
pub fn connectable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port()),
        IpAddr::V6(ip) if ip.is_unspecified() => SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port()),
        _ => addr,
    }
}

/// A software target of this process, serving P4Runtime.
pub struct Embedded {
    handle: ServerHandle,
}

impl Embedded {
    /// Serves `target` on `listen` (port 0: an ephemeral port). Must run inside
    /// the tokio runtime. A bind failure is a [`JobError::Runtime`].
    pub async fn serve(target: &SoftTarget, listen: SocketAddr) -> Result<Embedded, JobError> {
        Self::serve_with(target, listen, &ServeOptions::default()).await
    }

    /// Like [`Embedded::serve`], with TLS and limits.
    pub async fn serve_with(
        target: &SoftTarget,
        listen: SocketAddr,
        opts: &ServeOptions,
    ) -> Result<Embedded, JobError> {
        let handle = target.serve_with(listen, opts).await.map_err(|e| JobError::Runtime(e.to_string()))?;
        Ok(Embedded { handle })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.handle.local_addr()
    }

    /// Stops the server (open streams end).
    pub async fn shutdown(self) {
        self.handle.shutdown().await;
    }
}

/// How the software target stands in for a device of kind `target`: the dialect
/// it runs and the target whose pipeline it is programmed with. A Tofino device
/// is played by the Tofino dialect (TNA P4Info, Stratum's clone-session rules);
/// a software or BMv2 device by the v1model program (with no device config).
pub fn soft_stand_in(target: Target) -> (Dialect, Target) {
    match target {
        Target::Tofino => (Dialect::Tofino, Target::Tofino),
        Target::Soft | Target::Bmv2 => (Dialect::V1model, Target::Soft),
    }
}

/// Programs the device at `address` with `device`'s intent over P4Runtime, the
/// way `push` does: connect and arbitrate (election id 1), install the soft
/// pipeline (`VERIFY_AND_COMMIT`, P4Info + cookie) unless it is there, read what
/// the device holds, diff, write the entities in ordered batches. Returns the
/// (primary) client for reading counters afterwards. Any failure is a runtime
/// failure ([`JobError::Runtime`]).
pub async fn push_over_grpc(address: &str, device: &DeviceIntent) -> Result<(Client, PushResult), JobError> {
    let fail = |e: &dyn std::fmt::Display| JobError::Runtime(format!("push to {} ({address}): {e}", device.name));
    let mut opts = ConnectOptions::new(address, device.device_id);
    opts.timeout = Duration::from_secs(10);
    let mut client = Client::connect(opts).await.map_err(|e| fail(&e))?;
    client.ensure_primary().map_err(|e| fail(&e))?;
    let artifacts = PipelineArtifacts::for_target(soft_stand_in(device.target).1, None).map_err(|e| fail(&e))?;
    let status = pipeline::ensure_pipeline(&mut client, &artifacts).await.map_err(|e| fail(&e))?;
    let mut rec = Reconciler::new(client, device.name.clone(), soft_stand_in(device.target).1).map_err(|e| fail(&e))?;
    let state = rec.read_state().await.map_err(|e| fail(&e))?;
    let mut plan = rec.plan(device, &state).await.map_err(|e| fail(&e))?;
    plan.pipeline = Some(status);
    let result = rec.apply(&plan, &mut |_, _| {}).await;
    if !result.ok() {
        return Err(JobError::Runtime(format!("push failed: {result}")));
    }
    Ok((rec.into_client(), result))
}

/// Programs `target` with `device`'s intent without gRPC, through the target's
/// own validation path: sets the soft pipeline (P4Info + cookie), then applies
/// all entities as one Write. Returns the number of entities written. Blocking.
pub fn load_in_process(target: &SoftTarget, device: &DeviceIntent) -> Result<usize, JobError> {
    let fail = |e: &dyn std::fmt::Display| JobError::Runtime(format!("loading device {}: {e}", device.name));
    let pipeline_target = soft_stand_in(device.target).1;
    let artifacts = PipelineArtifacts::for_target(pipeline_target, None).map_err(|e| fail(&e))?;
    target.set_pipeline_in_process(artifacts.p4info.clone(), Some(artifacts.cookie)).map_err(|e| fail(&e))?;
    let schema = pipeline_target.rules().schema().map_err(|e| fail(&e))?;
    let entities = reconcile::desired_entities(device, schema).map_err(|e| fail(&e))?;
    let n = entities.len();
    let req = write_request(target.device_id(), lower::updates(entities, update::Type::Insert));
    target.apply_write(&req).map_err(|s| {
        let per_update = p4clone_proto::status::write_errors(&s).unwrap_or_default();
        let first = per_update.iter().enumerate().find(|(_, e)| !p4clone_proto::status::is_ok(e));
        match first {
            Some((i, e)) => fail(&format!(
                "update {i} of {n} refused: {} ({} of {n} refused)",
                e.message,
                per_update.iter().filter(|e| !p4clone_proto::status::is_ok(e)).count()
            )),
            None => fail(&format!("{}: {}", s.code(), s.message())),
        }
    })?;
    Ok(n)
}

/// The output file of `port` in `dir` if the port sent frames.
pub fn sent_output(dir: &Path, report: &RunReport, port: u16) -> Option<PathBuf> {
    let p = report.port(port)?;
    (p.io.tx_frames > 0).then(|| output_path(dir, port))
}
