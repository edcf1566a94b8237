//! [`RunReport`]: what a run did, per port and per member, built the same way
//! for every packet loop ([`RunReport::collect`]).

use std::fmt;
use std::time::Duration;

use p4clone_pipeline::table::PORT_COUNT;
use p4clone_pipeline::{Counter, CounterValue, Diag, Pipeline, PortStats, COUNTER_SIZE};

use super::stats::{IoStats, PortIo};
use crate::ports::port::BackendStats;

/// Per-port line of a [`RunReport`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortReport {
    /// Port number.
    pub port: u16,
    /// The backend ([`Port::describe`](crate::ports::Port::describe)), if the port has one.
    pub backend: Option<String>,
    /// The engine's I/O counters.
    pub io: PortIo,
    /// The pipeline's counters (rx, tx as emitted, drop = wire miss / drop).
    pub pipeline: PortStats,
    /// The backend's own counters.
    pub backend_stats: BackendStats,
}

/// Per-member line of a [`RunReport`] (members with any non-zero counter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberReport {
    /// Member id (clone session / `egress_rid`).
    pub member: u16,
    /// `clones_requested` (ingress).
    pub requested: CounterValue,
    /// `clones_emitted` (egress, `clone_rewrite` hit).
    pub emitted: CounterValue,
    /// Clones a backend actually sent (engine count).
    pub sent: u64,
    /// `alloc_failed` diagnostic.
    pub alloc_failed: u64,
    /// `driver_failed` diagnostic.
    pub driver_failed: u64,
    /// `clone_no_session` diagnostic (classify hit, no clone session).
    pub no_session: CounterValue,
    /// `clone_rewrite_miss` diagnostic (clone dropped by the rewrite default).
    pub rewrite_miss: CounterValue,
}

/// What a run did: per-port and per-member counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunReport {
    /// Every port with a backend or any traffic, ascending.
    pub ports: Vec<PortReport>,
    /// Every member with a non-zero counter, ascending.
    pub members: Vec<MemberReport>,
    /// Time spent in the loop.
    pub elapsed: Duration,
}

impl RunReport {
    /// The report of a run of `pipeline` whose I/O counters are `io` (all workers
    /// summed): every port with a backend or any traffic, every member with a
    /// non-zero counter. `backend(n)` gives port `n`'s backend
    /// ([`Port::describe`](crate::ports::Port::describe) and
    /// [`Port::backend_stats`](crate::ports::Port::backend_stats)), `None` if it has
    /// none; it is called once per port number.
    pub(crate) fn collect(
        pipeline: &Pipeline,
        io: &IoStats,
        elapsed: Duration,
        mut backend: impl FnMut(u16) -> Option<(String, BackendStats)>,
    ) -> RunReport {
        let p = pipeline;
        let mut ports = Vec::new();
        for n in 0..PORT_COUNT as u16 {
            let backend = backend(n);
            let pio = io.port(n);
            let pst = p.port_stats(n);
            if backend.is_none() && pio == PortIo::default() && pst == PortStats::default() {
                continue;
            }
            let (desc, bst) = match backend {
                Some((d, s)) => (Some(d), s),
                None => (None, BackendStats::default()),
            };
            ports.push(PortReport { port: n, backend: desc, io: pio, pipeline: pst, backend_stats: bst });
        }
        let req = p.counters(Counter::ClonesRequested);
        let emi = p.counters(Counter::ClonesEmitted);
        let nos = p.counters(Counter::CloneNoSession);
        let miss = p.counters(Counter::CloneRewriteMiss);
        let zero = CounterValue::default();
        let mut members = Vec::new();
        for m in 0..COUNTER_SIZE {
            let id = m as u16;
            let r = MemberReport {
                member: id,
                requested: req[m],
                emitted: emi[m],
                sent: io.clones_sent(id),
                alloc_failed: p.diag(Diag::AllocFailed, id),
                driver_failed: p.diag(Diag::DriverFailed, id),
                no_session: nos[m],
                rewrite_miss: miss[m],
            };
            if r.requested != zero
                || r.emitted != zero
                || r.sent != 0
                || r.alloc_failed != 0
                || r.driver_failed != 0
                || r.no_session != zero
                || r.rewrite_miss != zero
            {
                members.push(r);
            }
        }
        RunReport { ports, members, elapsed }
    }

    /// Frames received on all ports.
    pub fn frames_in(&self) -> u64 {
        self.ports.iter().map(|p| p.io.rx_frames).sum()
    }

    /// Frames sent on all ports.
    pub fn frames_out(&self) -> u64 {
        self.ports.iter().map(|p| p.io.tx_frames).sum()
    }

    /// The line of `port`, if listed.
    pub fn port(&self, port: u16) -> Option<&PortReport> {
        self.ports.iter().find(|p| p.port == port)
    }

    /// The line of `member`, if listed.
    pub fn member(&self, member: u16) -> Option<&MemberReport> {
        self.members.iter().find(|m| m.member == member)
    }
}

impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:>4}  {:>10}  {:>10}  {:>10}  {:>10}  {:>9}  {:>9}  {:>9}  {:>9}  backend",
            "port", "rx", "tx", "tx_clones", "wire_drop", "tx_failed", "no_buffer", "no_port", "zero_len"
        )?;
        for p in &self.ports {
            writeln!(
                f,
                "{:>4}  {:>10}  {:>10}  {:>10}  {:>10}  {:>9}  {:>9}  {:>9}  {:>9}  {}",
                p.port,
                p.io.rx_frames,
                p.io.tx_frames,
                p.io.tx_clones,
                p.pipeline.drop.packets,
                p.io.tx_failed,
                p.io.tx_alloc_failed,
                p.io.tx_no_port,
                p.io.rx_zero_length,
                p.backend.as_deref().unwrap_or("(none)")
            )?;
        }
        if !self.members.is_empty() {
            writeln!(
                f,
                "{:>6}  {:>10}  {:>10}  {:>10}  {:>12}  {:>13}  {:>10}  {:>12}",
                "member", "requested", "emitted", "sent", "alloc_failed", "driver_failed", "no_session", "rewrite_miss"
            )?;
            for m in &self.members {
                writeln!(
                    f,
                    "{:>6}  {:>10}  {:>10}  {:>10}  {:>12}  {:>13}  {:>10}  {:>12}",
                    m.member,
                    m.requested.packets,
                    m.emitted.packets,
                    m.sent,
                    m.alloc_failed,
                    m.driver_failed,
                    m.no_session.packets,
                    m.rewrite_miss.packets
                )?;
            }
        }
        let secs = self.elapsed.as_secs_f64();
        let rate = if secs > 0.0 { self.frames_in() as f64 / secs } else { 0.0 };
        write!(
            f,
            "{} frames in, {} out in {:.3} s ({:.0} frames/s in)",
            self.frames_in(),
            self.frames_out(),
            secs,
            rate
        )
    }
}
