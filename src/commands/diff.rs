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
use std::path::{Path, PathBuf};

use clap::ValueEnum;
use p4clone::jobs::bmv2::{require_bmv2, run_bmv2};
use p4clone::jobs::compare::{compare_dirs, differing_ranges, summarize, Comparison, PortDiff};
use p4clone::jobs::inputs::{parse_pcap_inputs, PcapInput};
use p4clone::jobs::soft::run_soft;
use p4clone::jobs::vectors::{output_file, output_ports, vector_cases};
use p4clone::JobError;
use p4clone_compiler::intent::DeviceIntent;
use serde_json::json;

use crate::compiled::{load_and_compile, select_device, Compiled};
use crate::failure::{Failure, Outcome, EXIT_RUNTIME};
use crate::flags::{Bmv2Args, RunTarget};
use crate::render::{emit, plural, warn_clones};

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

/// The differing byte ranges, at most eight of them, as `a-b, c, ...`.
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
// Rendering
// ---------------------------------------------------------------------------------------

/// The human-readable report: per comparison a verdict line, then per differing
/// port its frame counts and first differences; a final result line.
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
                plural(c.ports.len()),
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
            plural(c.ports.len())
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
        let _ = writeln!(out, "result: identical ({} comparison{})", cs.len(), plural(cs.len()));
    } else {
        let verb = if n_bad == 1 { "differs" } else { "differ" };
        let _ = writeln!(out, "result: DIFFERENT ({n_bad} of {} comparison{} {verb})", cs.len(), plural(cs.len()));
    }
    out
}

/// A frame in the JSON report: its length and one-line decode.
fn frame_json(f: &Option<Vec<u8>>) -> serde_json::Value {
    match f {
        None => serde_json::Value::Null,
        Some(f) => json!({ "len": f.len(), "summary": summarize(f) }),
    }
}

/// The JSON report.
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
/// A BMv2 run that lost frames fails ([`JobError::Bmv2Lost`]).
fn run_target(
    target: RunTarget,
    (compiled, dev): (&Compiled, &DeviceIntent),
    inputs: &[PcapInput],
    out: &Path,
    bmv2: &Bmv2Args,
    extra_ports: &BTreeSet<u16>,
) -> Result<(), JobError> {
    match target {
        RunTarget::Soft => {
            let run = run_soft(&compiled.config, dev, inputs, out, &|_| {})?;
            warn_clones(&run.report);
            Ok(())
        }
        RunTarget::Bmv2 => {
            run_bmv2(&compiled.config, dev, inputs, out, &bmv2.options(), extra_ports, &|_| {})?.lossless()
        }
    }
}

/// Fails early (exit 1) if BMv2 is requested but cannot run.
fn require(targets: &[RunTarget]) -> Result<(), JobError> {
    if targets.contains(&RunTarget::Bmv2) {
        require_bmv2()?;
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
fn recorded(e: JobError) -> Result<String, Failure> {
    if e.is_input() {
        Err(e.into())
    } else {
        Ok(e.to_string())
    }
}

/// `diff CONFIG --pcap ...`: the input through targets A and B, every port compared.
fn diff_config(args: &Args, config: &Path, work: &Work) -> Result<Vec<Comparison>, Failure> {
    let inputs = parse_pcap_inputs(&args.pcap)?;
    let b = args.b.unwrap_or(RunTarget::Bmv2);
    // Bad config or flags: exit 2 before anything runs.
    let compiled = load_and_compile(config)?;
    let dev = select_device(&compiled.intent, config, args.device.as_deref(), |_| None)?;
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
    let ports: BTreeSet<u16> = output_ports(&a_dir).union(&output_ports(&b_dir)).copied().collect();
    let b_file = |p: u16| output_file(&b_dir, p);
    Ok(vec![compare_dirs(name, (&an, &a_dir), (&bn, &b_file), &ports, args.max_diffs)?])
}

/// `diff --vectors DIR`: each case through each named target, every port
/// compared with the case's expected frames.
fn diff_vectors(args: &Args, dir: &Path, work: &Work) -> Result<Vec<Comparison>, Failure> {
    let mut cases = vector_cases(dir).map_err(|e| Failure::Input(format!("--vectors {e}")))?;
    if !args.cases.is_empty() {
        let known: BTreeSet<String> =
            cases.iter().filter_map(|c| c.dir.file_name().map(|n| n.to_string_lossy().into_owned())).collect();
        for c in &args.cases {
            if !known.contains(c) {
                return Err(Failure::Input(format!("--case {c}: no such case in {}", dir.display())));
            }
        }
        cases.retain(|c| c.dir.file_name().is_some_and(|n| args.cases.iter().any(|x| n == x.as_str())));
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
        let name = case.name();
        let inputs: Vec<PcapInput> = case.inputs();
        let expected = case.expected_ports();
        let extra: BTreeSet<u16> = expected.iter().chain(inputs.iter().map(|i| &i.port)).copied().collect();
        let config = case.config();
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
        let dev = select_device(&compiled.intent, &config, None, |_| None)?;
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
            let ports: BTreeSet<u16> = expected.union(&output_ports(&dir)).copied().collect();
            let b_file = |p: u16| case.expected(p);
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
    use p4clone::jobs::compare::compare_port;

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
