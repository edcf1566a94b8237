//! `p4clone diff`: one input through two targets, outputs compared frame by
//! frame; or the stored test vectors through one or two targets, each output
//! compared with the vector's expected frames.
//!
//! - `p4clone diff CONFIG --pcap N=FILE ... [--a soft|bmv2] [--b soft|bmv2]`:
//!   runs the job of `run` on target A and on target B (default soft and bmv2)
//!   and compares every port's output, byte for byte and in order.
//! - `p4clone diff --vectors DIR [--a ...] [--b ...]`: DIR is one case
//!   (`config.yaml`, `in-<N>.pcap`, `expected-<N>.pcap`) or a directory of them
//!   (`tests/vectors`); each named target's output must equal
//!   `expected-<N>.pcap`, and a port without an expected file must send nothing.
//!
//! A difference report lists, per comparison and port, the frame count of both
//! sides and the first differing frames (`--max-diffs`): the frame index, a
//! decoded one-line summary of both frames (MACs, VLAN, IP addresses, protocol,
//! ports, TCP flags, length) and the differing byte ranges. Exit 0 when
//! everything is identical, 1 when anything differs (or a target fails), 2 on
//! bad input.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use clap::ValueEnum;
use p4clone_compiler::intent::DeviceIntent;
use p4clone_pipeline::wire::{self, EthernetFrame, ParserError, TcpHeader, UdpHeader, VlanTag, L3, L4};
use p4clone_soft::ports::pcap::read_all;
use serde_json::json;

use super::run::{self, Bmv2Args, PcapInput, RunTarget};
use super::{load_and_compile, Compiled};
use crate::embedded;
use crate::failure::{Failure, Outcome, EXIT_RUNTIME};
use crate::render::emit;

/// Output format of `diff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffOutput {
    /// A human-readable report.
    Table,
    /// One JSON object.
    Json,
}

const AFTER_HELP: &str = "\
Targets: soft is the in-process software target (as `p4clone run`), bmv2 is
BMv2 simple_switch_grpc in pcap-file mode (as `p4clone run --target bmv2`;
$P4CLONE_BMV2 or on PATH, with p4src/build/ compiled by p4c). A requested
BMv2 that is not installed is an error (exit 1).

With CONFIG, --a defaults to soft and --b to bmv2. With --vectors, every named
target (--a, and --b if given) is compared with each case's expected frames.

Frames are compared byte for byte, in order, per port; timestamps are not
compared. For each difference the report shows the port, the frame index, a
one-line decode of both frames and the differing byte ranges (offsets from
the start of the frame), and frame-count differences.

Exit codes: 0 identical, 1 different (or a target failed), 2 bad input.

Examples:
  p4clone diff examples/basic.yaml --pcap 1=examples/basic-port1.pcap \\
      --pcap 2=examples/basic-port2.pcap
  p4clone diff --vectors tests/vectors --a bmv2
  p4clone diff --vectors tests/vectors --a soft --b bmv2 --output json";

/// Run one input through two targets (or the stored test vectors through one
/// or two) and compare the outputs frame by frame.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// Config file (YAML, or JSON when it ends in .json); not with --vectors
    #[arg(required_unless_present = "vectors", conflicts_with = "vectors")]
    pub config: Option<PathBuf>,
    /// Frames arriving on device port N, a classic pcap file; repeat per port
    #[arg(long = "pcap", value_name = "N=FILE", required_unless_present = "vectors", conflicts_with = "vectors")]
    pub pcap: Vec<String>,
    /// Stored test vectors: one case directory or a directory of cases
    #[arg(long, value_name = "DIR")]
    pub vectors: Option<PathBuf>,
    /// Only this case of --vectors (repeatable)
    #[arg(long = "case", value_name = "NAME", requires = "vectors")]
    pub cases: Vec<String>,
    /// The first target
    #[arg(long, value_enum, default_value_t = RunTarget::Soft)]
    pub a: RunTarget,
    /// The second target [default: bmv2 with CONFIG, none with --vectors]
    #[arg(long, value_enum)]
    pub b: Option<RunTarget>,
    /// The device to run (default: the only device of the config)
    #[arg(long, value_name = "NAME", conflicts_with = "vectors")]
    pub device: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value_t = DiffOutput::Table)]
    pub output: DiffOutput,
    /// Differing frames shown per port
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub max_diffs: usize,
    /// Keep every target's outputs in DIR (DIR/[CASE/]<a|b>-<target>/port-<N>.pcap);
    /// default: a temporary directory, removed afterwards
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// BMv2 options.
    #[command(flatten)]
    pub bmv2: Bmv2Args,
}

// ---------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------

fn mac(m: [u8; 6]) -> String {
    m.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

fn tcp_flags(b: u8) -> String {
    // tcpdump's order: SYN, FIN, RST, PSH, URG, then ACK as `.`
    let names = [(0x02, 'S'), (0x01, 'F'), (0x04, 'R'), (0x08, 'P'), (0x20, 'U'), (0x10, '.')];
    let s: String = names.iter().filter(|(m, _)| b & m != 0).map(|(_, c)| *c).collect();
    if s.is_empty() {
        "none".into()
    } else {
        s
    }
}

/// A one-line decode of a frame: MACs, VLAN, IP addresses, protocol, ports,
/// TCP flags, length. Never panics, whatever the bytes.
pub fn summarize(frame: &[u8]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let Ok(eth) = EthernetFrame::new_checked(frame) else {
        return format!("{} bytes (shorter than an Ethernet header)", frame.len());
    };
    parts.push(format!("{} > {}", mac(eth.src()), mac(eth.dst())));
    let p = wire::parse(frame);
    let mut etype = eth.ethertype();
    if p.vlan {
        if let Ok(tag) = VlanTag::new_checked(&frame[wire::ETHERNET_HEADER_LEN..]) {
            parts.push(if tag.pcp() != 0 {
                format!("vlan {} pcp {}", tag.vid(), tag.pcp())
            } else {
                format!("vlan {}", tag.vid())
            });
            etype = tag.ethertype();
        }
    }
    match p.l3 {
        L3::Ipv4 { .. } => match wire::ipv4_addrs(frame, &p) {
            Some((s, d)) => parts.push(format!("IPv4 {} > {}", Ipv4Addr::from(s), Ipv4Addr::from(d))),
            None => parts.push("IPv4".into()),
        },
        L3::Ipv6 { .. } => match wire::ipv6_addrs(frame, &p) {
            Some((s, d)) => parts.push(format!("IPv6 {} > {}", Ipv6Addr::from(s), Ipv6Addr::from(d))),
            None => parts.push("IPv6".into()),
        },
        L3::None if p.ethernet && p.error.is_none() => parts.push(format!("ethertype 0x{etype:04x}")),
        L3::None => {}
    }
    let l4 = frame.get(usize::from(p.l4_offset)..).unwrap_or_default();
    match p.l4 {
        L4::Tcp => {
            if let Ok(t) = TcpHeader::new_checked(l4) {
                parts.push(format!("TCP {} > {} [{}]", t.src_port(), t.dst_port(), tcp_flags(t.header_bytes()[13])));
            }
        }
        L4::Udp => {
            if let Ok(u) = UdpHeader::new_checked(l4) {
                parts.push(format!("UDP {} > {}", u.src_port(), u.dst_port()));
            }
        }
        L4::None if !matches!(p.l3, L3::None) && p.error.is_none() => parts.push(format!("proto {}", p.ip_proto)),
        L4::None => {}
    }
    match p.error {
        Some(ParserError::PacketTooShort) => parts.push("(parser: packet too short)".into()),
        Some(ParserError::HeaderVerify) => parts.push("(parser: header verify failed)".into()),
        None => {}
    }
    parts.push(format!("{} bytes", frame.len()));
    parts.join(", ")
}

/// Ranges `[start, end]` (inclusive) of byte offsets where `a` and `b` differ,
/// over the common length; bytes only one of them has form a last range.
pub fn differing_ranges(a: &[u8], b: &[u8]) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        if x != y {
            match out.last_mut() {
                Some(r) if r.1 + 1 == i => r.1 = i,
                _ => out.push((i, i)),
            }
        }
    }
    let (short, long) = (a.len().min(b.len()), a.len().max(b.len()));
    if long > short {
        match out.last_mut() {
            Some(r) if r.1 + 1 == short => r.1 = long - 1,
            _ => out.push((short, long - 1)),
        }
    }
    out
}

fn ranges_text(r: &[(usize, usize)]) -> String {
    const SHOWN: usize = 8;
    let mut s: Vec<String> =
        r.iter().take(SHOWN).map(|&(a, b)| if a == b { format!("{a}") } else { format!("{a}-{b}") }).collect();
    if r.len() > SHOWN {
        s.push(format!("… ({} ranges)", r.len()));
    }
    s.join(", ")
}

// ---------------------------------------------------------------------------------------
// Comparing
// ---------------------------------------------------------------------------------------

/// One differing frame.
#[derive(Debug, Clone)]
pub struct FrameDiff {
    /// 0-based index in the port's output.
    pub index: usize,
    /// Side A's frame (`None`: A has no frame at this index).
    pub a: Option<Vec<u8>>,
    /// Side B's frame.
    pub b: Option<Vec<u8>>,
}

/// One port's comparison.
#[derive(Debug, Clone)]
pub struct PortDiff {
    /// The port.
    pub port: u16,
    /// Frames on side A.
    pub a_frames: usize,
    /// Frames on side B.
    pub b_frames: usize,
    /// Indices present on both sides whose frames differ.
    pub differing: usize,
    /// The first differences (mismatches, then frames only one side has).
    pub shown: Vec<FrameDiff>,
    /// What a count difference looks like, when it is simple.
    pub note: Option<String>,
}

impl PortDiff {
    /// Whether the port's outputs are identical.
    pub fn identical(&self) -> bool {
        self.differing == 0 && self.a_frames == self.b_frames
    }
}

/// Compares two ports' frame lists; `max` bounds [`PortDiff::shown`].
///
/// When one side is the other plus a run of extra frames (a frame lost or
/// added, everything else equal and in order), only those frames are shown;
/// otherwise frames are compared index by index.
pub fn compare_port(port: u16, a: &[Vec<u8>], b: &[Vec<u8>], a_name: &str, b_name: &str, max: usize) -> PortDiff {
    let common = a.len().min(b.len());
    let first = a.iter().zip(b).position(|(x, y)| x != y);
    if a.len() != b.len() {
        let (long, short, ln) = if a.len() > b.len() { (a, b, a_name) } else { (b, a, b_name) };
        let d = long.len() - short.len();
        let i = first.unwrap_or(common);
        if long[i + d..] == short[i..] {
            let a_long = a.len() > b.len();
            let shown = (i..i + d)
                .take(max)
                .map(|k| FrameDiff {
                    index: k,
                    a: if a_long { Some(long[k].clone()) } else { None },
                    b: if a_long { None } else { Some(long[k].clone()) },
                })
                .collect();
            let note = if d == 1 {
                format!("{ln} has one frame more: its frame {i}; all others match in order")
            } else {
                format!("{ln} has {d} frames more: its frames {i}..={}; all others match in order", i + d - 1)
            };
            return PortDiff { port, a_frames: a.len(), b_frames: b.len(), differing: 0, shown, note: Some(note) };
        }
    }
    let mut shown = Vec::new();
    let mut differing = 0;
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        if x != y {
            differing += 1;
            if shown.len() < max {
                shown.push(FrameDiff { index: i, a: Some(x.clone()), b: Some(y.clone()) });
            }
        }
    }
    if a.len() != b.len() && shown.len() < max {
        shown.push(FrameDiff { index: common, a: a.get(common).cloned(), b: b.get(common).cloned() });
    }
    let note = (a.len() != b.len())
        .then(|| format!("frame counts differ ({a_name} {}, {b_name} {}) and frames differ besides", a.len(), b.len()));
    PortDiff { port, a_frames: a.len(), b_frames: b.len(), differing, shown, note }
}

/// A file's frames (none if the file does not exist).
fn frames_of(path: &Path) -> Result<Vec<Vec<u8>>, Failure> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    read_all(path)
        .map(|v| v.into_iter().map(|r| r.1).collect())
        .map_err(|e| Failure::Runtime(format!("cannot read {}: {e}", path.display())))
}

/// Ports named `prefix<N>.pcap` in `dir`.
fn ports_with(dir: &Path, prefix: &str) -> BTreeSet<u16> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            embedded::parse_port_number(name.strip_prefix(prefix)?.strip_suffix(".pcap")?).ok()
        })
        .collect()
}

/// One comparison: side A against side B over every port either has.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// What was compared (config and device, or vector case).
    pub name: String,
    /// Side A's name (a target).
    pub a: String,
    /// Side B's name (a target or `expected`).
    pub b: String,
    /// Per port, ascending.
    pub ports: Vec<PortDiff>,
    /// A target failed instead of producing output.
    pub error: Option<String>,
}

impl Comparison {
    /// No port differs and no target failed.
    pub fn identical(&self) -> bool {
        self.error.is_none() && self.ports.iter().all(PortDiff::identical)
    }

    fn frames(&self) -> usize {
        self.ports.iter().map(|p| p.a_frames).sum()
    }
}

/// Compares `a_dir/port-<N>.pcap` with `b_file(N)` over `ports`.
fn compare_dirs(
    name: String,
    (a_name, a_dir): (&str, &Path),
    (b_name, b_file): (&str, &dyn Fn(u16) -> PathBuf),
    ports: &BTreeSet<u16>,
    max: usize,
) -> Result<Comparison, Failure> {
    let mut out = Vec::new();
    for &p in ports {
        let a = frames_of(&a_dir.join(format!("port-{p}.pcap")))?;
        let b = frames_of(&b_file(p))?;
        out.push(compare_port(p, &a, &b, a_name, b_name, max));
    }
    Ok(Comparison { name, a: a_name.into(), b: b_name.into(), ports: out, error: None })
}

// ---------------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------------

fn render_table(cs: &[Comparison]) -> String {
    let mut out = String::new();
    for c in cs {
        if let Some(e) = &c.error {
            let _ = writeln!(out, "{}: {} vs {}: FAILED: {e}", c.name, c.a, c.b);
            continue;
        }
        if c.identical() {
            let _ = writeln!(
                out,
                "{}: {} vs {}: identical ({} port{}, {} frames)",
                c.name,
                c.a,
                c.b,
                c.ports.len(),
                super::plural(c.ports.len()),
                c.frames()
            );
            continue;
        }
        let bad: Vec<&PortDiff> = c.ports.iter().filter(|p| !p.identical()).collect();
        let _ = writeln!(
            out,
            "{}: {} vs {}: DIFFERENT on {} of {} port{}",
            c.name,
            c.a,
            c.b,
            bad.len(),
            c.ports.len(),
            super::plural(c.ports.len())
        );
        let w = c.a.len().max(c.b.len());
        for p in bad {
            let _ = write!(out, "  port {}: {} {} frames, {} {}", p.port, c.a, p.a_frames, c.b, p.b_frames);
            if p.differing > 0 {
                let _ = write!(
                    out,
                    "; {} frame{} differ{}",
                    p.differing,
                    if p.differing == 1 { "" } else { "s" },
                    if p.differing == 1 { "s" } else { "" }
                );
            }
            out.push('\n');
            if let Some(n) = &p.note {
                let _ = writeln!(out, "    {n}");
            }
            for d in &p.shown {
                let _ = writeln!(out, "    frame {}:", d.index);
                let side = |f: &Option<Vec<u8>>| f.as_deref().map_or_else(|| "(no frame)".to_string(), summarize);
                let _ = writeln!(out, "      {:w$}  {}", c.a, side(&d.a));
                let _ = writeln!(out, "      {:w$}  {}", c.b, side(&d.b));
                if let (Some(a), Some(b)) = (&d.a, &d.b) {
                    let _ = writeln!(out, "      {:w$}  bytes {}", "differ", ranges_text(&differing_ranges(a, b)));
                }
            }
            let total = if p.differing == 0 {
                p.a_frames.abs_diff(p.b_frames)
            } else {
                p.differing + usize::from(p.a_frames != p.b_frames)
            };
            let hidden = total.saturating_sub(p.shown.len());
            if hidden > 0 {
                let _ = writeln!(
                    out,
                    "    ({hidden} more difference{} not shown; --max-diffs)",
                    if hidden == 1 { "" } else { "s" }
                );
            }
        }
    }
    let n_bad = cs.iter().filter(|c| !c.identical()).count();
    if n_bad == 0 {
        let _ = writeln!(out, "result: identical ({} comparison{})", cs.len(), super::plural(cs.len()));
    } else {
        let verb = if n_bad == 1 { "differs" } else { "differ" };
        let _ =
            writeln!(out, "result: DIFFERENT ({n_bad} of {} comparison{} {verb})", cs.len(), super::plural(cs.len()));
    }
    out
}

fn frame_json(f: &Option<Vec<u8>>) -> serde_json::Value {
    match f {
        None => serde_json::Value::Null,
        Some(f) => json!({ "len": f.len(), "summary": summarize(f) }),
    }
}

fn render_json(cs: &[Comparison]) -> serde_json::Value {
    let comparisons: Vec<serde_json::Value> = cs
        .iter()
        .map(|c| {
            let ports: Vec<serde_json::Value> = c
                .ports
                .iter()
                .map(|p| {
                    let diffs: Vec<serde_json::Value> = p
                        .shown
                        .iter()
                        .map(|d| {
                            let ranges = match (&d.a, &d.b) {
                                (Some(a), Some(b)) => {
                                    differing_ranges(a, b).into_iter().map(|(s, e)| json!([s, e])).collect()
                                }
                                _ => Vec::new(),
                            };
                            json!({ "frame": d.index, "a": frame_json(&d.a), "b": frame_json(&d.b), "ranges": ranges })
                        })
                        .collect();
                    json!({
                        "port": p.port,
                        "identical": p.identical(),
                        "a_frames": p.a_frames,
                        "b_frames": p.b_frames,
                        "differing_frames": p.differing,
                        "note": p.note,
                        "differences": diffs,
                    })
                })
                .collect();
            json!({
                "name": c.name,
                "a": c.a,
                "b": c.b,
                "identical": c.identical(),
                "error": c.error,
                "ports": ports,
            })
        })
        .collect();
    json!({ "identical": cs.iter().all(Comparison::identical), "comparisons": comparisons })
}

// ---------------------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------------------

/// Runs `target` on the compiled config's device `dev` with `inputs` into `out`.
fn run_target(
    target: RunTarget,
    (compiled, dev): (&Compiled, &DeviceIntent),
    inputs: &[PcapInput],
    out: &Path,
    bmv2: &Bmv2Args,
    extra_ports: &BTreeSet<u16>,
) -> Result<(), Failure> {
    match target {
        RunTarget::Soft => run::run_soft(compiled, dev, inputs, out, false).map(|_| ()),
        RunTarget::Bmv2 => run::run_bmv2(compiled, dev, inputs, out, bmv2, extra_ports, false)?.lossless(),
    }
}

/// Fails early (exit 1) if BMv2 is requested but cannot run.
fn require(targets: &[RunTarget]) -> Result<(), Failure> {
    if targets.contains(&RunTarget::Bmv2) {
        p4clone_bmv2::locate::find_bmv2().map_err(run::bmv2_failure)?;
        p4clone_bmv2::artifacts::check_artifacts(&p4clone_runtime::pipeline::default_p4src_dir())
            .map_err(run::bmv2_failure)?;
    }
    Ok(())
}

/// The work directory: `--out` (kept) or a fresh temporary one (removed).
struct Work {
    dir: PathBuf,
    remove: bool,
}

impl Work {
    fn new(out: Option<&Path>) -> Result<Work, Failure> {
        let (dir, remove) = match out {
            Some(d) => (d.to_path_buf(), false),
            None => {
                let nanos =
                    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
                (std::env::temp_dir().join(format!("p4clone-diff-{}-{nanos:09}", std::process::id())), true)
            }
        };
        std::fs::create_dir_all(&dir)
            .map_err(|e| Failure::Input(format!("cannot create output directory {}: {e}", dir.display())))?;
        Ok(Work { dir, remove })
    }
}

impl Drop for Work {
    fn drop(&mut self) {
        if self.remove {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A failure of one target inside a comparison: bad input stops everything;
/// a run-time failure is recorded and the remaining comparisons go on.
fn recorded(e: Failure) -> Result<String, Failure> {
    match e {
        Failure::Runtime(m) => Ok(m),
        Failure::Reported(EXIT_RUNTIME) => Ok("failed (see above)".into()),
        other => Err(other),
    }
}

fn diff_config(args: &Args, config: &Path, work: &Work) -> Result<Vec<Comparison>, Failure> {
    let inputs = run::parse_pcap_inputs(&args.pcap)?;
    let b = args.b.unwrap_or(RunTarget::Bmv2);
    // Bad config or flags: exit 2 before anything runs.
    let compiled = load_and_compile(config)?;
    let dev = embedded::select_device(&compiled.intent, config, args.device.as_deref(), |_| None)?;
    let name = format!("{} (device {})", config.display(), dev.name);
    require(&[args.a, b])?;
    let (an, bn) = if args.a == b {
        (format!("{} (A)", args.a.name()), format!("{} (B)", b.name()))
    } else {
        (args.a.name().to_string(), b.name().to_string())
    };
    let a_dir = work.dir.join(format!("a-{}", args.a.name()));
    let b_dir = work.dir.join(format!("b-{}", b.name()));
    let none = BTreeSet::new();
    for (t, d) in [(args.a, &a_dir), (b, &b_dir)] {
        if let Err(e) = run_target(t, (&compiled, dev), &inputs, d, &args.bmv2, &none) {
            let m = recorded(e)?;
            return Ok(vec![Comparison {
                name,
                a: an,
                b: bn,
                ports: Vec::new(),
                error: Some(format!("{}: {m}", t.name())),
            }]);
        }
    }
    let ports: BTreeSet<u16> = ports_with(&a_dir, "port-").union(&ports_with(&b_dir, "port-")).copied().collect();
    let b_file = |p: u16| b_dir.join(format!("port-{p}.pcap"));
    compare_dirs(name, (&an, &a_dir), (&bn, &b_file), &ports, args.max_diffs).map(|c| vec![c])
}

/// The cases under `dir`: `dir` itself if it holds `config.yaml`, else its
/// subdirectories that do, sorted.
fn vector_cases(dir: &Path) -> Result<Vec<PathBuf>, Failure> {
    if dir.join("config.yaml").is_file() {
        return Ok(vec![dir.to_path_buf()]);
    }
    let rd = std::fs::read_dir(dir).map_err(|e| Failure::Input(format!("--vectors {}: {e}", dir.display())))?;
    let mut v: Vec<PathBuf> =
        rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.join("config.yaml").is_file()).collect();
    v.sort();
    if v.is_empty() {
        return Err(Failure::Input(format!(
            "--vectors {}: no test vector (a directory with config.yaml) found",
            dir.display()
        )));
    }
    Ok(v)
}

fn diff_vectors(args: &Args, dir: &Path, work: &Work) -> Result<Vec<Comparison>, Failure> {
    let mut cases = vector_cases(dir)?;
    if !args.cases.is_empty() {
        let known: BTreeSet<String> =
            cases.iter().filter_map(|c| c.file_name().map(|n| n.to_string_lossy().into_owned())).collect();
        for c in &args.cases {
            if !known.contains(c) {
                return Err(Failure::Input(format!("--case {c}: no such case in {}", dir.display())));
            }
        }
        cases.retain(|c| c.file_name().is_some_and(|n| args.cases.iter().any(|x| n == x.as_str())));
    }
    let mut targets = vec![args.a];
    if let Some(b) = args.b {
        if b != args.a {
            targets.push(b);
        }
    }
    require(&targets)?;
    let mut out = Vec::new();
    for case in &cases {
        let name = case.file_name().map_or_else(|| case.display().to_string(), |n| n.to_string_lossy().into_owned());
        let inputs: Vec<PcapInput> = ports_with(case, "in-")
            .into_iter()
            .map(|p| {
                let path = case.join(format!("in-{p}.pcap"));
                PcapInput { port: p, text: format!("{p}={}", path.display()), path }
            })
            .collect();
        let expected = ports_with(case, "expected-");
        let extra: BTreeSet<u16> = expected.iter().chain(inputs.iter().map(|i| &i.port)).copied().collect();
        let config = case.join("config.yaml");
        let compiled = match load_and_compile(&config) {
            Ok(c) => c,
            Err(e) => {
                out.push(Comparison {
                    name: name.clone(),
                    a: args.a.name().into(),
                    b: "expected".into(),
                    ports: Vec::new(),
                    error: Some(format!("{}: {e}", config.display())),
                });
                continue;
            }
        };
        let dev = embedded::select_device(&compiled.intent, &config, None, |_| None)?;
        for &t in &targets {
            let dir = work.dir.join(&name).join(t.name());
            if let Err(e) = run_target(t, (&compiled, dev), &inputs, &dir, &args.bmv2, &extra) {
                let m = recorded(e)?;
                out.push(Comparison {
                    name: name.clone(),
                    a: t.name().into(),
                    b: "expected".into(),
                    ports: Vec::new(),
                    error: Some(m),
                });
                continue;
            }
            let ports: BTreeSet<u16> = expected.union(&ports_with(&dir, "port-")).copied().collect();
            let b_file = |p: u16| case.join(format!("expected-{p}.pcap"));
            out.push(compare_dirs(name.clone(), (t.name(), &dir), ("expected", &b_file), &ports, args.max_diffs)?);
        }
    }
    Ok(out)
}

/// Runs `diff`.
pub fn run(args: &Args) -> Outcome {
    let work = Work::new(args.out.as_deref())?;
    let comparisons = match (&args.vectors, &args.config) {
        (Some(dir), _) => diff_vectors(args, dir, &work)?,
        (None, Some(config)) => diff_config(args, config, &work)?,
        (None, None) => return Err(Failure::Input("give CONFIG with --pcap, or --vectors DIR".into())),
    };
    let text = match args.output {
        DiffOutput::Table => render_table(&comparisons),
        DiffOutput::Json => {
            let mut s = serde_json::to_string_pretty(&render_json(&comparisons))
                .map_err(|e| Failure::Runtime(format!("cannot render JSON: {e}")))?;
            s.push('\n');
            s
        }
    };
    emit(&text, None)?;
    if comparisons.iter().all(Comparison::identical) {
        Ok(())
    } else {
        Err(Failure::Reported(EXIT_RUNTIME))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp_frame() -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(&[2, 0, 0, 0, 0x50, 0x10]); // dst
        f.extend_from_slice(&[2, 0, 0, 0, 0, 3]); // src
        f.extend_from_slice(&[0x81, 0x00, 0x00, 50, 0x08, 0x00]); // vlan 50, IPv4
        let mut ip = vec![0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 20, 0, 5, 10, 20, 1, 11];
        ip.extend_from_slice(&[0xa0, 0x29, 0x1f, 0x90, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x12, 0xff, 0xff, 0, 0, 0, 0]);
        f.extend_from_slice(&ip);
        f
    }

    #[test]
    fn summary_names_macs_vlan_ips_ports_flags_length() {
        let s = summarize(&tcp_frame());
        assert_eq!(
            s,
            "02:00:00:00:00:03 > 02:00:00:00:50:10, vlan 50, IPv4 10.20.0.5 > 10.20.1.11, TCP 41001 > 8080 [S.], 58 bytes"
        );
        assert_eq!(summarize(&[1, 2, 3]), "3 bytes (shorter than an Ethernet header)");
        let mut arp = vec![0xff; 12];
        arp.extend_from_slice(&[0x08, 0x06]);
        arp.resize(60, 0);
        assert!(summarize(&arp).contains("ethertype 0x0806, 60 bytes"), "{}", summarize(&arp));
        let mut short = tcp_frame();
        short.truncate(40);
        assert!(summarize(&short).contains("(parser: packet too short)"), "{}", summarize(&short));
    }

    #[test]
    fn ranges_merge_and_cover_length_differences() {
        assert_eq!(differing_ranges(&[1, 2, 3, 4], &[1, 9, 9, 4]), vec![(1, 2)]);
        assert_eq!(differing_ranges(&[1, 2, 3], &[0, 2, 4]), vec![(0, 0), (2, 2)]);
        assert_eq!(differing_ranges(&[1, 2], &[1, 2, 3, 4]), vec![(2, 3)]);
        assert_eq!(differing_ranges(&[1, 5], &[1, 2, 3]), vec![(1, 2)]);
        assert!(differing_ranges(&[1, 2], &[1, 2]).is_empty());
    }

    #[test]
    fn port_compare_finds_flipped_byte_and_dropped_frame() {
        let a: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 10]).collect();
        assert!(compare_port(1, &a, &a, "x", "y", 5).identical());

        let mut flipped = a.clone();
        flipped[3][7] ^= 0xff;
        let d = compare_port(1, &a, &flipped, "x", "y", 5);
        assert!(!d.identical());
        assert_eq!(d.differing, 1);
        assert_eq!(d.shown[0].index, 3);
        assert_eq!(differing_ranges(d.shown[0].a.as_ref().unwrap(), d.shown[0].b.as_ref().unwrap()), vec![(7, 7)]);

        let mut dropped = a.clone();
        dropped.remove(2);
        let d = compare_port(1, &a, &dropped, "soft", "bmv2", 5);
        assert_eq!((d.a_frames, d.b_frames, d.differing), (5, 4, 0));
        assert!(!d.identical());
        assert_eq!(d.note.as_deref(), Some("soft has one frame more: its frame 2; all others match in order"));
        assert_eq!(d.shown.len(), 1);
        assert_eq!((d.shown[0].index, d.shown[0].a.is_some(), d.shown[0].b.is_none()), (2, true, true));
        // dropped and altered: index by index
        dropped[3][0] = 99;
        let d = compare_port(1, &a, &dropped, "soft", "bmv2", 5);
        assert!(d.differing >= 2 && d.note.as_deref().unwrap().starts_with("frame counts differ"), "{d:?}");
        let d = compare_port(1, &a[..3], &a, "soft", "bmv2", 5);
        assert_eq!(d.note.as_deref(), Some("bmv2 has 2 frames more: its frames 3..=4; all others match in order"));
    }

    #[test]
    fn report_shows_port_frame_summaries_and_bytes() {
        let f = tcp_frame();
        let mut g = f.clone();
        g[5] = 0x11;
        let c = Comparison {
            name: "case".into(),
            a: "soft".into(),
            b: "bmv2".into(),
            ports: vec![compare_port(3, &[f.clone(), f.clone()], &[f.clone(), g], "soft", "bmv2", 5)],
            error: None,
        };
        let t = render_table(&[c]);
        assert!(t.contains("case: soft vs bmv2: DIFFERENT on 1 of 1 port"), "{t}");
        assert!(t.contains("port 3: soft 2 frames, bmv2 2; 1 frame differs"), "{t}");
        assert!(t.contains("frame 1:"), "{t}");
        assert!(t.contains("> 02:00:00:00:50:11, vlan 50"), "{t}");
        assert!(t.contains("bytes 5"), "{t}");
        assert!(t.contains("result: DIFFERENT"), "{t}");
    }
}
