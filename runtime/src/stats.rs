//! Per-clone-server statistics in the reference layout, from the mirror
//! counters, and their renderings (aligned table, JSON, Prometheus text).
//!
//! # Where the numbers come from
//! For each device, one Read returns the `clone_rewrite` entries (whose metadata
//! names the (profile, SE) of every member, see [`crate::reconcile`]), a second
//! one the members' `clones_requested` / `clones_emitted` cells. For each virtual service with
//! a clone profile, each SE of its SE group on a device that was read, and each
//! clone server `i` of the profile, member `first + i` of the (profile, SE) block
//! gives:
//! - `num_total_pkts_cloned` = `clones_requested` packets,
//! - `num_total_bytes_cloned` = `clones_requested` bytes (the originals' ingress
//!   lengths, as every counter of the program counts them),
//! - `num_succeeded` = `clones_emitted` packets (less send failures, where known),
//! - `truncated_mtu` = `truncated_mtu` packets: encapsulated clones cut to fit
//!   the egress network's MTU (always 0 for a clone server without `encap`),
//! - `num_mbuf_alloc_failed`, `num_driver_failures`: no P4 counter holds them (a
//!   pipeline never sees its port fail to send). The p4clone software target
//!   counts them per member and serves them through its own gRPC service beside
//!   P4Runtime (`p4clone.soft.v1.CloneDiagnostics`, a third Read); there they are
//!   shown, and `num_succeeded` is `clones_emitted` minus them. BMv2 and switches
//!   do not serve it (UNIMPLEMENTED): `None`, rendered `-`, never a made-up 0.
//!   [`DeviceCounters::set_drops`] fills them by hand for other sources.
//!
//! Per SE (profile block), where the profile has filters or sampling: the
//! `skipped_by_filter` and `not_sampled` packets of the block (cells indexed by
//! its first member).
//!
//! `PROC_Aggregate` sums each column over the VS's SEs; it is `None` when any
//! SE's value is unknown.
//!
//! # Prometheus
//! ```text
//! # TYPE p4clone_clone_packets_total counter
//! p4clone_clone_packets_total{vs="vs-web",tenant="admin",profile="ids",clone_server="192.168.50.10",device="nic0",se="se-1",kind="requested"} 12
//! p4clone_clone_packets_total{...,kind="emitted"} 12
//! p4clone_clone_bytes_total{...,kind="requested"} 1536
//! p4clone_clone_truncated_mtu_total{vs,tenant,profile,clone_server,device,se}
//! p4clone_clone_mbuf_alloc_failed_total{vs,tenant,profile,clone_server,device,se}   (only where known)
//! p4clone_clone_driver_failures_total{vs,tenant,profile,clone_server,device,se}     (only where known)
//! p4clone_profile_skipped_by_filter_total{vs,tenant,profile,device,se}   (filters or sampling)
//! p4clone_profile_not_sampled_total{vs,tenant,profile,device,se}
//! p4clone_device_up{device}   1 if the device's counters were read, else 0
//! ```
//! One series per SE (device); no aggregate series (sum them in PromQL).
//! `clone_server` is the clone server's IP as configured (for an `encap` clone
//! server, its `remote`).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use p4clone_compiler::config::Config;
use p4clone_compiler::intent::BLOCK_WIDTH;
use p4clone_proto::p4::v1::entity;
use p4clone_proto::schema::P4Schema;
use serde::Serialize;

use p4clone_proto::p4clone::soft::v1::MemberDiagnostics;

use crate::client::Client;
use crate::counters::{self, CounterValue};

use crate::error::ClientError;
use crate::reconcile::{
    parse_rewrite_metadata, RewriteOwner, EMITTED_COUNTER, REQUESTED_COUNTER, REWRITE_TABLE, TRUNCATED_MTU_COUNTER,
};
use crate::tables;
use p4clone_proto::program::counters as counters_of_program;

/// Name of the aggregate row.
pub const AGGREGATE: &str = "PROC_Aggregate";

/// Clone failures a target may count per member (not P4Runtime-visible).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DropCounts {
    /// Clones dropped because no buffer could be allocated.
    pub mbuf_alloc_failed: Option<u64>,
    /// Clones the driver failed to send.
    pub driver_failures: Option<u64>,
}

/// One member's counters on a device.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberCounters {
    /// Owner from the `clone_rewrite` metadata.
    pub owner: Option<RewriteOwner>,
    /// `clones_requested[member]`.
    pub requested: Option<CounterValue>,
    /// `clones_emitted[member]`.
    pub emitted: Option<CounterValue>,
    /// `truncated_mtu[member]` (`None` where the program has no such counter).
    pub truncated_mtu: Option<CounterValue>,
    /// `skipped_by_filter[member]` (meaningful for a block's first member).
    pub skipped_by_filter: Option<CounterValue>,
    /// `not_sampled[member]` (meaningful for a block's first member).
    pub not_sampled: Option<CounterValue>,
    /// Target-specific failure counts (see [`DeviceCounters::set_drops`]).
    pub drops: DropCounts,
}

/// The counters of one device, per member that has a `clone_rewrite` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceCounters {
    /// Member id → counters.
    pub members: HashMap<u16, MemberCounters>,
}

impl DeviceCounters {
    /// The hook for targets that measure clone failures: sets them for a member.
    pub fn set_drops(&mut self, member: u16, drops: DropCounts) {
        self.members.entry(member).or_default().drops = drops;
    }

    /// Sets the failure counts of every member to `f(member)` (e.g. explicitly
    /// unknown for a target that cannot count them, whatever it answered).
    pub fn fill_drops(&mut self, f: impl Fn(u16) -> DropCounts) {
        for (&id, m) in &mut self.members {
            m.drops = f(id);
        }
    }

    /// Takes a software target's per-member send failures
    /// (`p4clone.soft.v1.CloneDiagnostics`, listing only members with failures):
    /// every member gets known counts (0 if unlisted), and `clones_emitted` is
    /// reduced by them, since a clone the pipeline emitted but its port failed to
    /// send never reached its clone server (`num_succeeded`).
    pub fn apply_diagnostics(&mut self, diags: &[MemberDiagnostics]) {
        let by_member: HashMap<u32, &MemberDiagnostics> = diags.iter().map(|d| (d.member, d)).collect();
        for (&id, m) in &mut self.members {
            let (alloc, driver) = by_member.get(&u32::from(id)).map_or((0, 0), |d| (d.alloc_failed, d.driver_failed));
            m.drops = DropCounts { mbuf_alloc_failed: Some(alloc), driver_failures: Some(driver) };
            if let Some(e) = m.emitted.as_mut() {
                e.packets = e.packets.saturating_sub(alloc.saturating_add(driver));
            }
        }
    }

    /// (profile, SE) → member ids, sorted.
    fn blocks(&self) -> HashMap<(&str, &str), Vec<u16>> {
        let mut out: HashMap<(&str, &str), Vec<u16>> = HashMap::new();
        for (&id, m) in &self.members {
            if let Some(o) = &m.owner {
                out.entry((o.profile.as_str(), o.se.as_str())).or_default().push(id);
            }
        }
        for ids in out.values_mut() {
            ids.sort_unstable();
        }
        out
    }
}

/// Reads the `clone_rewrite` entries, then the mirror counter cells of their
/// members (by index when they are few, else every cell): two Reads.
pub async fn read_device_counters(client: &mut Client, schema: &P4Schema) -> Result<DeviceCounters, ClientError> {
    let proto = |m: String| ClientError::Protocol { address: client.address().to_string(), message: m };
    let rewrite = schema.table(REWRITE_TABLE).map_err(|e| proto(e.to_string()))?.id;
    let requested = schema.counter(REQUESTED_COUNTER).map_err(|e| proto(e.to_string()))?.id;
    let emitted = schema.counter(EMITTED_COUNTER).map_err(|e| proto(e.to_string()))?.id;
    // Optional: a program older than encapsulated delivery has no such counter.
    let truncated = schema.counter(TRUNCATED_MTU_COUNTER).ok().map(|c| c.id);
    // Optional too: programs without filters and sampling (the TNA program) lack them.
    let skipped = schema.counter(counters_of_program::SKIPPED_BY_FILTER.name).ok().map(|c| c.id);
    let not_sampled = schema.counter(counters_of_program::NOT_SAMPLED.name).ok().map(|c| c.id);
    let ids = [Some(requested), Some(emitted), truncated, skipped, not_sampled];
    let entities = client.read(vec![tables::wildcard(rewrite)]).await?;
    let mut out = DeviceCounters::default();
    for e in &entities {
        if let Some(entity::Entity::TableEntry(t)) = &e.entity {
            if t.table_id != rewrite {
                continue;
            }
            let id = t.r#match.first().and_then(|m| match &m.field_match_type {
                Some(p4clone_proto::p4::v1::field_match::FieldMatchType::Exact(x)) => {
                    p4clone_proto::bytestring::decode(&x.value).ok()
                }
                _ => None,
            });
            if let Some(id) = id.and_then(|v| u16::try_from(v).ok()) {
                out.members.entry(id).or_default().owner = parse_rewrite_metadata(&t.metadata);
            }
        }
    }
    // Few members: read their cells by index; many: every cell (wildcard).
    let size = schema.counter_by_id(requested).map_or(32_768, |c| c.size.max(1) as usize);
    let cells = if out.members.len() * 4 <= size {
        let want: Vec<(u32, i64)> =
            out.members.keys().flat_map(|&id| ids.into_iter().flatten().map(move |c| (c, i64::from(id)))).collect();
        counters::read_cells(client, &want).await?
    } else {
        let e = client.read(ids.into_iter().flatten().map(|c| counters::entity_of(c, None)).collect()).await?;
        counters::cells(&e)
    };
    for (c, i, v) in cells {
        let Ok(i) = u16::try_from(i) else { continue };
        if let Some(m) = out.members.get_mut(&i) {
            if c == requested {
                m.requested = Some(v);
            } else if c == emitted {
                m.emitted = Some(v);
            } else if Some(c) == truncated {
                m.truncated_mtu = Some(v);
            } else if Some(c) == skipped {
                m.skipped_by_filter = Some(v);
            } else if Some(c) == not_sampled {
                m.not_sampled = Some(v);
            }
        }
    }
    // Members whose cells the device did not return are counted as unknown.
    // A p4clone software target also reports its send failures; elsewhere
    // they stay unknown.
    if !out.members.is_empty() {
        if let Some(diags) = client.read_clone_diagnostics(Vec::new()).await? {
            out.apply_diagnostics(&diags);
        }
    }
    Ok(out)
}

/// Statistics of one clone server, the reference's `clone_srvr_stats[i]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CloneServerStats {
    /// Clone server IP as configured (an `encap` clone server's `remote`).
    pub ip: String,
    /// Clones requested (packets).
    pub num_total_pkts_cloned: Option<u64>,
    /// Clones requested (bytes: the originals' ingress lengths).
    pub num_total_bytes_cloned: Option<u64>,
    /// Encapsulated clones cut to fit the egress network's MTU (packets).
    pub truncated_mtu: Option<u64>,
    /// Clones lost for lack of buffers (`None`: not measurable).
    pub num_mbuf_alloc_failed: Option<u64>,
    /// Clones the driver failed to send (`None`: not measurable).
    pub num_driver_failures: Option<u64>,
    /// Clones emitted (packets).
    pub num_succeeded: Option<u64>,
}

/// One SE (or `PROC_Aggregate`) of a VS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeStats {
    /// SE name, or `PROC_Aggregate`.
    pub se: String,
    /// Device the SE sits behind (`None` for the aggregate).
    pub device: Option<String>,
    /// Per clone server, in profile order.
    pub clone_srvr_stats: Vec<CloneServerStats>,
    /// Packets of the block a filter rule skipped (profiles with filters or
    /// sampling only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped_by_filter: Option<u64>,
    /// Packets of the block sampling left out (profiles with filters or sampling only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_sampled: Option<u64>,
}

/// One virtual service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VsStats {
    /// VS name.
    pub vs: String,
    /// Tenant.
    pub tenant: String,
    /// Clone profile.
    pub profile: String,
    /// Per SE, then `PROC_Aggregate` last.
    pub se_stats: Vec<SeStats>,
}

/// A device whose counters could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceFailure {
    /// Device name.
    pub device: String,
    /// Why.
    pub message: String,
}

/// The whole report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StatsReport {
    /// Per cloned VS, in config order.
    pub virtual_services: Vec<VsStats>,
    /// Devices that could not be read.
    pub errors: Vec<DeviceFailure>,
    /// Devices that were read (for `p4clone_device_up`).
    #[serde(skip)]
    pub devices_up: Vec<String>,
}

fn sum(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    Some(a?.saturating_add(b?))
}

/// The report of `cfg` for one device read over `client`
/// ([`read_device_counters`] with the P4Info of the program the device's target
/// runs, then [`build_report`]):
/// what `run` and `soft` print for the device they programmed. A read failure
/// becomes the report's error for that device.
pub async fn read_device_report(client: &mut Client, cfg: &Config, device: &str) -> StatsReport {
    let target =
        cfg.devices.iter().find(|d| d.name == device).map_or(p4clone_compiler::config::Target::Soft, |d| d.target);
    let read = match target.rules().schema() {
        Ok(schema) => read_device_counters(client, schema).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let mut reads = BTreeMap::new();
    reads.insert(device.to_string(), read);
    build_report(cfg, &reads, None)
}

/// Builds the report from the config and per-device reads (`device name →
/// counters or error`). Devices absent from `reads` are left out (their SEs
/// too, and VSs with no SE left); `vs` restricts to one virtual service.
pub fn build_report(
    cfg: &Config,
    reads: &BTreeMap<String, Result<DeviceCounters, String>>,
    vs: Option<&str>,
) -> StatsReport {
    let mut report = StatsReport::default();
    for (d, r) in reads {
        match r {
            Ok(_) => report.devices_up.push(d.clone()),
            Err(m) => report.errors.push(DeviceFailure { device: d.clone(), message: m.clone() }),
        }
    }
    let blocks: HashMap<&str, HashMap<(&str, &str), Vec<u16>>> =
        reads.iter().filter_map(|(d, r)| Some((d.as_str(), r.as_ref().ok()?.blocks()))).collect();
    let profiles: HashMap<&str, &p4clone_compiler::config::TrafficCloneProfile> =
        cfg.traffic_clone_profiles.iter().map(|p| (p.name.as_str(), p)).collect();
    let groups: HashMap<&str, Vec<(&str, &str)>> = cfg
        .se_groups
        .iter()
        .map(|g| (g.name.as_str(), g.service_engines.iter().map(|s| (s.name.as_str(), s.device.as_str())).collect()))
        .collect();
    for v in &cfg.virtual_services {
        if vs.is_some_and(|n| n != v.name) {
            continue;
        }
        let Some(pname) = &v.traffic_clone_profile else {
            continue;
        };
        let Some(profile) = profiles.get(pname.as_str()) else {
            continue;
        };
        let ips: Vec<&str> = profile
            .clone_servers
            .iter()
            .map(|c| c.encap.as_ref().map_or(c.ip.as_str(), |e| e.remote.as_str()))
            .collect();
        let filtered = !profile.filters.is_empty() || profile.sample.is_some();
        let mut se_stats = Vec::new();
        for &(se, device) in groups.get(v.se_group.as_str()).map_or(&[][..], |g| g.as_slice()) {
            let Some(read) = reads.get(device) else {
                continue;
            };
            let empty = Vec::new();
            let (ids, counters) = match read {
                Ok(c) => (blocks.get(device).and_then(|b| b.get(&(pname.as_str(), se))).unwrap_or(&empty), Some(c)),
                Err(_) => (&empty, None),
            };
            let first = ids.first().map(|&id| ((id - 1) / BLOCK_WIDTH) * BLOCK_WIDTH + 1);
            let rows = ips
                .iter()
                .enumerate()
                .map(|(i, ip)| {
                    let m = first.and_then(|f| {
                        let id = f + i as u16;
                        counters.and_then(|c| c.members.get(&id).filter(|_| ids.binary_search(&id).is_ok()))
                    });
                    CloneServerStats {
                        ip: (*ip).to_string(),
                        num_total_pkts_cloned: m.and_then(|m| m.requested).map(|c| c.packets),
                        num_total_bytes_cloned: m.and_then(|m| m.requested).map(|c| c.bytes),
                        truncated_mtu: m.and_then(|m| m.truncated_mtu).map(|c| c.packets),
                        num_mbuf_alloc_failed: m.and_then(|m| m.drops.mbuf_alloc_failed),
                        num_driver_failures: m.and_then(|m| m.drops.driver_failures),
                        num_succeeded: m.and_then(|m| m.emitted).map(|c| c.packets),
                    }
                })
                .collect();
            let block = |f: fn(&MemberCounters) -> Option<CounterValue>| {
                let first = counters.and_then(|c| c.members.get(&first?)).filter(|_| filtered);
                first.and_then(f).map(|c| c.packets)
            };
            se_stats.push(SeStats {
                se: se.to_string(),
                device: Some(device.to_string()),
                clone_srvr_stats: rows,
                skipped_by_filter: block(|m| m.skipped_by_filter),
                not_sampled: block(|m| m.not_sampled),
            });
        }
        if se_stats.is_empty() {
            // None of the VS's SEs is behind a device that was read.
            continue;
        }
        let aggregate = ips
            .iter()
            .enumerate()
            .map(|(i, ip)| {
                let col = |f: fn(&CloneServerStats) -> Option<u64>| {
                    se_stats
                        .iter()
                        .map(|s| f(&s.clone_srvr_stats[i]))
                        .try_fold(0u64, |acc, v| sum(Some(acc), v))
                        .filter(|_| !se_stats.is_empty())
                };
                CloneServerStats {
                    ip: (*ip).to_string(),
                    num_total_pkts_cloned: col(|s| s.num_total_pkts_cloned),
                    num_total_bytes_cloned: col(|s| s.num_total_bytes_cloned),
                    truncated_mtu: col(|s| s.truncated_mtu),
                    num_mbuf_alloc_failed: col(|s| s.num_mbuf_alloc_failed),
                    num_driver_failures: col(|s| s.num_driver_failures),
                    num_succeeded: col(|s| s.num_succeeded),
                }
            })
            .collect();
        let total = |f: fn(&SeStats) -> Option<u64>| {
            se_stats.iter().map(f).try_fold(0u64, |acc, v| sum(Some(acc), v)).filter(|_| filtered)
        };
        let (skipped_by_filter, not_sampled) = (total(|s| s.skipped_by_filter), total(|s| s.not_sampled));
        se_stats.push(SeStats {
            se: AGGREGATE.to_string(),
            device: None,
            clone_srvr_stats: aggregate,
            skipped_by_filter,
            not_sampled,
        });
        report.virtual_services.push(VsStats {
            vs: v.name.clone(),
            tenant: v.tenant.clone(),
            profile: pname.clone(),
            se_stats,
        });
    }
    report
}

fn cell(v: Option<u64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// The report as aligned text, one block per VS.
pub fn render_table(r: &StatsReport) -> String {
    let mut out = String::new();
    const HEAD: [&str; 10] = [
        "se",
        "device",
        "clone_srvr_stats",
        "ip",
        "num_total_pkts_cloned",
        "num_total_bytes_cloned",
        "num_mbuf_alloc_failed",
        "num_driver_failures",
        "num_succeeded",
        "truncated_mtu",
    ];
    for v in &r.virtual_services {
        let _ = writeln!(out, "{} (tenant {}, profile {})", v.vs, v.tenant, v.profile);
        let mut rows: Vec<[String; 10]> = vec![HEAD.map(String::from)];
        for s in &v.se_stats {
            for (i, c) in s.clone_srvr_stats.iter().enumerate() {
                rows.push([
                    s.se.clone(),
                    s.device.clone().unwrap_or_else(|| "-".into()),
                    format!("[{i}]"),
                    c.ip.clone(),
                    cell(c.num_total_pkts_cloned),
                    cell(c.num_total_bytes_cloned),
                    cell(c.num_mbuf_alloc_failed),
                    cell(c.num_driver_failures),
                    cell(c.num_succeeded),
                    cell(c.truncated_mtu),
                ]);
            }
        }
        let mut w = [0usize; 10];
        for row in &rows {
            for (k, c) in row.iter().enumerate() {
                w[k] = w[k].max(c.chars().count());
            }
        }
        for row in &rows {
            let mut line = String::from(" ");
            for (k, c) in row.iter().enumerate() {
                line.push(' ');
                if k >= 4 {
                    let _ = write!(line, "{c:>width$}", width = w[k]);
                } else {
                    let _ = write!(line, "{c:<width$}", width = w[k]);
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        for s in v.se_stats.iter().filter(|s| s.skipped_by_filter.is_some() || s.not_sampled.is_some()) {
            let _ = writeln!(
                out,
                "  {} skipped_by_filter {}, not_sampled {}",
                s.se,
                cell(s.skipped_by_filter),
                cell(s.not_sampled)
            );
        }
    }
    if r.virtual_services.is_empty() {
        out.push_str("no cloned virtual services\n");
    }
    for e in &r.errors {
        let _ = writeln!(out, "error: {}: {}", e.device, e.message);
    }
    out
}

/// The report as pretty JSON (unknown values are `null`).
pub fn render_json(r: &StatsReport) -> String {
    serde_json::to_string_pretty(r).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

fn label(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_label(&mut out, s);
    out
}

/// Appends `s` as a Prometheus label value (`\`, `"` and newlines escaped).
fn push_label(out: &mut String, s: &str) {
    if !s.contains(['\\', '"', '\n']) {
        out.push_str(s);
        return;
    }
    for ch in s.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Appends one sample line: `name{labels[,extra]} value`.
fn push_sample(out: &mut String, name: &str, labels: &str, extra: &str, value: u64) {
    out.push_str(name);
    out.push('{');
    out.push_str(labels);
    out.push_str(extra);
    out.push_str("} ");
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut v = value;
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    // ASCII digits only.
    out.push_str(std::str::from_utf8(&digits[i..]).unwrap_or("0"));
    out.push('\n');
}

/// The report in the Prometheus text exposition format (version 0.0.4); see
/// the module docs for the metric names.
pub fn render_prometheus(r: &StatsReport) -> String {
    let rows: usize = r.virtual_services.iter().flat_map(|v| &v.se_stats).map(|s| s.clone_srvr_stats.len()).sum();
    let mut out = String::with_capacity(rows * 4 * 180 + 1024);
    // One pass over the rows per metric family, each writing straight into `out`.
    let mut labels = String::with_capacity(160);
    let mut each_row = |out: &mut String, f: &dyn Fn(&mut String, &str, &CloneServerStats)| {
        for v in &r.virtual_services {
            for s in v.se_stats.iter().filter(|s| s.se != AGGREGATE) {
                for c in &s.clone_srvr_stats {
                    labels.clear();
                    for (i, (k, val)) in [
                        ("vs", v.vs.as_str()),
                        ("tenant", v.tenant.as_str()),
                        ("profile", v.profile.as_str()),
                        ("clone_server", c.ip.as_str()),
                        ("device", s.device.as_deref().unwrap_or("")),
                        ("se", s.se.as_str()),
                    ]
                    .into_iter()
                    .enumerate()
                    {
                        if i > 0 {
                            labels.push(',');
                        }
                        labels.push_str(k);
                        labels.push_str("=\"");
                        push_label(&mut labels, val);
                        labels.push('"');
                    }
                    f(out, &labels, c);
                }
            }
        }
    };
    out.push_str("# HELP p4clone_clone_packets_total Clone packets per clone server and SE: kind=\"requested\" (num_total_pkts_cloned) or \"emitted\" (num_succeeded).\n");
    out.push_str("# TYPE p4clone_clone_packets_total counter\n");
    each_row(&mut out, &|out, labels, c| {
        for (kind, val) in [(",kind=\"requested\"", c.num_total_pkts_cloned), (",kind=\"emitted\"", c.num_succeeded)] {
            if let Some(val) = val {
                push_sample(out, "p4clone_clone_packets_total", labels, kind, val);
            }
        }
    });
    out.push_str("# HELP p4clone_clone_bytes_total Clone bytes per clone server and SE (the originals' ingress lengths): kind=\"requested\" (num_total_bytes_cloned).\n");
    out.push_str("# TYPE p4clone_clone_bytes_total counter\n");
    each_row(&mut out, &|out, labels, c| {
        if let Some(val) = c.num_total_bytes_cloned {
            push_sample(out, "p4clone_clone_bytes_total", labels, ",kind=\"requested\"", val);
        }
    });
    let rows_of = |f: fn(&CloneServerStats) -> Option<u64>| {
        r.virtual_services
            .iter()
            .flat_map(|v| v.se_stats.iter().filter(|s| s.se != AGGREGATE))
            .flat_map(|s| &s.clone_srvr_stats)
            .any(|c| f(c).is_some())
    };
    if rows_of(|c| c.truncated_mtu) {
        out.push_str(
            "# HELP p4clone_clone_truncated_mtu_total Encapsulated clones cut to fit the egress network's MTU.\n",
        );
        out.push_str("# TYPE p4clone_clone_truncated_mtu_total counter\n");
        each_row(&mut out, &|out, labels, c| {
            if let Some(val) = c.truncated_mtu {
                push_sample(out, "p4clone_clone_truncated_mtu_total", labels, "", val);
            }
        });
    }
    if rows_of(|c| c.num_mbuf_alloc_failed) {
        out.push_str("# HELP p4clone_clone_mbuf_alloc_failed_total Clones lost for lack of packet buffers.\n");
        out.push_str("# TYPE p4clone_clone_mbuf_alloc_failed_total counter\n");
        each_row(&mut out, &|out, labels, c| {
            if let Some(val) = c.num_mbuf_alloc_failed {
                push_sample(out, "p4clone_clone_mbuf_alloc_failed_total", labels, "", val);
            }
        });
    }
    if rows_of(|c| c.num_driver_failures) {
        out.push_str("# HELP p4clone_clone_driver_failures_total Clones the driver failed to send.\n");
        out.push_str("# TYPE p4clone_clone_driver_failures_total counter\n");
        each_row(&mut out, &|out, labels, c| {
            if let Some(val) = c.num_driver_failures {
                push_sample(out, "p4clone_clone_driver_failures_total", labels, "", val);
            }
        });
    }
    let blocks: Vec<(&VsStats, &SeStats)> = r
        .virtual_services
        .iter()
        .flat_map(|v| v.se_stats.iter().filter(|s| s.se != AGGREGATE).map(move |s| (v, s)))
        .filter(|(_, s)| s.skipped_by_filter.is_some() || s.not_sampled.is_some())
        .collect();
    for (name, help, f) in [
        (
            "p4clone_profile_skipped_by_filter_total",
            "Packets a clone profile's filter rules skipped, per SE.",
            (|s: &SeStats| s.skipped_by_filter) as fn(&SeStats) -> Option<u64>,
        ),
        ("p4clone_profile_not_sampled_total", "Packets a clone profile's sampling left out, per SE.", |s| {
            s.not_sampled
        }),
    ] {
        if blocks.is_empty() {
            break;
        }
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for (v, s) in &blocks {
            if let Some(val) = f(s) {
                let labels = format!(
                    "vs=\"{}\",tenant=\"{}\",profile=\"{}\",device=\"{}\",se=\"{}\"",
                    label(&v.vs),
                    label(&v.tenant),
                    label(&v.profile),
                    label(s.device.as_deref().unwrap_or("")),
                    label(&s.se)
                );
                push_sample(&mut out, name, &labels, "", val);
            }
        }
    }
    out.push_str("# HELP p4clone_device_up Whether the device's counters could be read (1) or not (0).\n");
    out.push_str("# TYPE p4clone_device_up gauge\n");
    let mut devs: Vec<(&str, u8)> = r.devices_up.iter().map(|d| (d.as_str(), 1)).collect();
    devs.extend(r.errors.iter().map(|e| (e.device.as_str(), 0)));
    devs.sort_unstable();
    for (d, up) in devs {
        let _ = writeln!(out, "p4clone_device_up{{device=\"{}\"}} {up}", label(d));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_labels_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn prometheus_lines_are_exact() {
        let row = |ip: &str, v: Option<u64>| CloneServerStats {
            ip: ip.into(),
            num_total_pkts_cloned: v,
            num_total_bytes_cloned: None,
            truncated_mtu: None,
            num_mbuf_alloc_failed: v.map(|v| v / 2),
            num_driver_failures: None,
            num_succeeded: Some(0),
        };
        let r = StatsReport {
            virtual_services: vec![VsStats {
                vs: "vs \"a\"\\\n".into(),
                tenant: "t".into(),
                profile: "p".into(),
                se_stats: vec![
                    SeStats {
                        se: "se-1".into(),
                        device: Some("d".into()),
                        clone_srvr_stats: vec![row("10.0.0.1", Some(u64::MAX)), row("::1", None)],
                        skipped_by_filter: Some(7),
                        not_sampled: None,
                    },
                    SeStats {
                        se: AGGREGATE.into(),
                        device: None,
                        clone_srvr_stats: vec![row("x", Some(9))],
                        skipped_by_filter: Some(70),
                        not_sampled: None,
                    },
                ],
            }],
            errors: vec![DeviceFailure { device: "e".into(), message: "down".into() }],
            devices_up: vec!["d".into()],
        };
        let text = render_prometheus(&r);
        let l = r#"vs="vs \"a\"\\\n",tenant="t",profile="p""#;
        let samples: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            samples,
            [
                format!(
                    r#"p4clone_clone_packets_total{{{l},clone_server="10.0.0.1",device="d",se="se-1",kind="requested"}} 18446744073709551615"#
                ),
                format!(
                    r#"p4clone_clone_packets_total{{{l},clone_server="10.0.0.1",device="d",se="se-1",kind="emitted"}} 0"#
                ),
                format!(
                    r#"p4clone_clone_packets_total{{{l},clone_server="::1",device="d",se="se-1",kind="emitted"}} 0"#
                ),
                format!(
                    r#"p4clone_clone_mbuf_alloc_failed_total{{{l},clone_server="10.0.0.1",device="d",se="se-1"}} 9223372036854775807"#
                ),
                format!(r#"p4clone_profile_skipped_by_filter_total{{{l},device="d",se="se-1"}} 7"#),
                r#"p4clone_device_up{device="d"} 1"#.to_string(),
                r#"p4clone_device_up{device="e"} 0"#.to_string(),
            ]
        );
        assert!(!text.contains("driver_failures_total{"), "unknown everywhere: no series");
        assert!(!text.contains("not_sampled_total{"), "unknown everywhere: no series");
        let table = render_table(&r);
        assert!(table.contains("  se-1 skipped_by_filter 7, not_sampled -"), "{table}");
        assert!(table.contains("  PROC_Aggregate skipped_by_filter 70, not_sampled -"), "{table}");
    }

    #[test]
    fn aggregate_is_unknown_if_any_se_is() {
        assert_eq!(sum(Some(1), Some(2)), Some(3));
        assert_eq!(sum(Some(1), None), None);
    }
}
