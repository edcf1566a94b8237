//! Compiler throughput on synthetic fleets (`p4clone_compiler::synthetic`): parse
//! (YAML or JSON text → `Config`; the line:column source map is deferred until a
//! diagnostic needs it, so it is measured on its own as `source_map`), validate,
//! compile (intent) and lower (every device to P4Runtime updates), each phase; and,
//! from YAML and from JSON text, `check` (parse + validate + intent, what
//! `p4clone check` runs) and `total` (the same + lower, what `p4clone compile` runs
//! before rendering). At 1× (10,000 VSs × 8 pool members, 1,000 profiles × 4 clone
//! servers, 4 devices: 160,000 classify rules) and 2× (20,000 VSs, 2,000 profiles),
//! so linearity can be read off.
//!
//! The YAML text is `serde_norway`'s block-style output, the JSON text
//! `serde_json::to_string_pretty`'s (indented, as a person or tool would write it).
//! `source::load_string` parses that YAML with its fast path (`source::fast_yaml`);
//! `parse_yaml_fast_only` times that parser alone, and `parse_yaml_serde_only`,
//! `check_yaml_serde_norway` and `total_yaml_serde_norway` the same work with
//! `serde_norway` parsing instead, as it did before the fast path, for comparison.
//! `check_{yaml,json}_located` is `check` with the source map built and queried, as
//! on a config with a diagnostic to place; `source_map_{yaml,json}` the map alone.
//!
//! ```sh
//! cargo bench -p p4clone-compiler --bench compile -- \
//!     --measurement-time 5 --warm-up-time 1 --sample-size 10
//! ```
//! Two groups: `wall` (wall-clock time) and `cpu` (CPU time of the benchmarking
//! thread, which stays meaningful on a loaded machine: "time on one core"); run one
//! with a filter, e.g. `-- cpu/`. The allocator is mimalloc, as in the `p4clone`
//! binary. Every iteration also drops what it built, and that is timed too.
//! With `P4CLONE_FLEET_DIR=DIR` set, the inputs are also written to
//! `DIR/fleet-{1,2}x.{yaml,json}` (to time the CLI on them). Results: `BENCHMARKS.md`.

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion};
use mimalloc::MiMalloc;
use p4clone_compiler::config::Config;
use p4clone_compiler::intent::{compile, compile_model, Allocation, Intent};
use p4clone_compiler::lower::{lower_device, program_schema};
use p4clone_compiler::source::{fast_yaml, load_string, Format, Loaded, SourceMap};
use p4clone_compiler::{synthetic, validate};

/// The allocator the `p4clone` binary uses too.
#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

/// CPU time consumed by the calling thread.
struct ThreadCpuTime;

fn thread_cpu_now() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

static WALL: WallTime = WallTime;

impl Measurement for ThreadCpuTime {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        thread_cpu_now()
    }
    fn end(&self, start: Duration) -> Duration {
        thread_cpu_now().saturating_sub(start)
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, v: &Duration) -> f64 {
        v.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        WALL.formatter()
    }
}

struct Input {
    scale: usize,
    yaml: String,
    json: String,
    config: Config,
    intent: Intent,
}

fn inputs() -> Vec<Input> {
    [1usize, 2]
        .into_iter()
        .map(|scale| {
            let config = synthetic::default_fleet(scale);
            let yaml = serde_norway::to_string(&config).expect("serialize fleet");
            let json = serde_json::to_string_pretty(&config).expect("serialize fleet");
            // The YAML rows measure the fast path: it must take this text.
            assert_eq!(fast_yaml::from_str::<Config>(&yaml).expect("fast path takes the fleet"), config);
            let intent = compile(&config, &Allocation::default()).expect("fleet compiles");
            let rules: usize = intent.devices.iter().map(|d| d.rules.len()).sum();
            let members: usize = intent.devices.iter().map(|d| d.members.len()).sum();
            eprintln!(
                "{scale}x: {} VSs, {} profiles, YAML {} bytes, JSON {} bytes, {rules} classify rules, {members} members",
                config.virtual_services.len(),
                config.traffic_clone_profiles.len(),
                yaml.len(),
                json.len()
            );
            if let Some(dir) = std::env::var_os("P4CLONE_FLEET_DIR") {
                // For timing the CLI on the same inputs: `p4clone check DIR/fleet-1x.json`.
                let dir = std::path::Path::new(&dir);
                std::fs::write(dir.join(format!("fleet-{scale}x.yaml")), &yaml).expect("write fleet YAML");
                std::fs::write(dir.join(format!("fleet-{scale}x.json")), &json).expect("write fleet JSON");
            }
            Input { scale, yaml, json, config, intent }
        })
        .collect()
}

fn lower_all(intent: &Intent) -> usize {
    let schema = program_schema().expect("schema");
    intent.devices.iter().map(|d| lower_device(d, schema).expect("lowers").len()).sum()
}

/// How the text is loaded: `source::load_string` (for YAML: the fast path, falling
/// back to serde_norway), or, for comparison, YAML through `serde_norway` alone as
/// `load_string` did before the fast path.
#[derive(Clone, Copy)]
enum Loader {
    Source(Format),
    SerdeNorway,
}

fn load(text: String, loader: Loader) -> Loaded {
    match loader {
        Loader::Source(format) => load_string(text, format).expect("parses"),
        Loader::SerdeNorway => {
            let config = serde_norway::from_str::<Config>(&text).expect("parses");
            Loaded { config, source_map: SourceMap::deferred(text) }
        }
    }
}

/// parse + validate (with locations) + intent, as `p4clone check` does (the config
/// resolved once, `Loaded::check_resolved` then `intent::compile_model`); returns the
/// number of classify rules (everything is dropped here).
fn check(text: String, loader: Loader) -> usize {
    let loaded = load(text, loader);
    let checked = loaded.check_resolved();
    assert!(!validate::has_errors(&checked.diagnostics));
    let intent = compile_model(&checked.model, &Allocation::default()).expect("compiles");
    intent.devices.iter().map(|d| d.rules.len()).sum()
}

/// [`check`] of a config with one diagnostic to place: the same work (on the clean
/// fleet), plus building the source map and locating a deep path in it.
fn check_located(text: String, format: Format) -> usize {
    let loaded = load(text, Loader::Source(format));
    let checked = loaded.check_resolved();
    let at = loaded.source_map.locate("traffic_clone_profiles[999].clone_servers[3].mac").expect("located");
    let intent = compile_model(&checked.model, &Allocation::default()).expect("compiles");
    intent.devices.iter().map(|d| d.rules.len()).sum::<usize>() + at.line
}

/// parse + validate (with locations) + intent + lower, as `p4clone compile` does
/// before rendering, from the text of a file as `source::load_file` has it after
/// reading it; returns the number of updates (everything else is dropped here).
fn pipeline(text: String, loader: Loader) -> usize {
    let loaded = load(text, loader);
    let checked = loaded.check_resolved();
    assert!(!validate::has_errors(&checked.diagnostics));
    let intent = compile_model(&checked.model, &Allocation::default()).expect("compiles");
    lower_all(&intent)
}

/// `load_string`, dropping what it loaded; returns the number of VSs.
fn parse(text: String, format: Format) -> usize {
    load_string(black_box(text), format).expect("parses").config.virtual_services.len()
}

fn phases<M: Measurement>(c: &mut Criterion<M>, group: &str, inputs: &[Input]) {
    let mut g = c.benchmark_group(group);
    for i in inputs {
        let s = format!("{}x", i.scale);
        // Parsing starts from an owned copy of the text (made outside the timing), as
        // `load_file` has it; the parsed config is dropped inside the timing.
        g.bench_with_input(BenchmarkId::new("parse_yaml", &s), &i.yaml, |b, y| {
            b.iter_batched(|| y.clone(), |y| parse(y, Format::Yaml), BatchSize::PerIteration)
        });
        g.bench_with_input(BenchmarkId::new("parse_yaml_serde_only", &s), &i.yaml, |b, y| {
            b.iter(|| serde_norway::from_str::<Config>(black_box(y)).expect("parses"))
        });
        g.bench_with_input(BenchmarkId::new("parse_yaml_fast_only", &s), &i.yaml, |b, y| {
            b.iter(|| fast_yaml::from_str::<Config>(black_box(y)).expect("fast path"))
        });
        g.bench_with_input(BenchmarkId::new("parse_json", &s), &i.json, |b, j| {
            b.iter_batched(|| j.clone(), |j| parse(j, Format::Json), BatchSize::PerIteration)
        });
        g.bench_with_input(BenchmarkId::new("source_map_yaml", &s), &i.yaml, |b, y| {
            b.iter(|| SourceMap::from_text(black_box(y)))
        });
        g.bench_with_input(BenchmarkId::new("source_map_json", &s), &i.json, |b, j| {
            b.iter(|| SourceMap::from_text(black_box(j)))
        });
        g.bench_with_input(BenchmarkId::new("validate", &s), &i.config, |b, c| {
            b.iter(|| validate::validate(black_box(c)))
        });
        g.bench_with_input(BenchmarkId::new("intent", &s), &i.config, |b, c| {
            b.iter(|| compile(black_box(c), &Allocation::default()).expect("compiles"))
        });
        g.bench_with_input(BenchmarkId::new("lower", &s), &i.intent, |b, it| b.iter(|| lower_all(black_box(it))));
        g.bench_with_input(BenchmarkId::new("check_yaml", &s), &i.yaml, |b, y| {
            b.iter_batched(|| y.clone(), |y| check(y, Loader::Source(Format::Yaml)), BatchSize::PerIteration)
        });
        // What `check` costs on a config with a diagnostic to place: the source map
        // is built too.
        g.bench_with_input(BenchmarkId::new("check_yaml_located", &s), &i.yaml, |b, y| {
            b.iter_batched(|| y.clone(), |y| check_located(y, Format::Yaml), BatchSize::PerIteration)
        });
        g.bench_with_input(BenchmarkId::new("check_json_located", &s), &i.json, |b, j| {
            b.iter_batched(|| j.clone(), |j| check_located(j, Format::Json), BatchSize::PerIteration)
        });
        g.bench_with_input(BenchmarkId::new("check_yaml_serde_norway", &s), &i.yaml, |b, y| {
            b.iter_batched(|| y.clone(), |y| check(y, Loader::SerdeNorway), BatchSize::PerIteration)
        });
        g.bench_with_input(BenchmarkId::new("check_json", &s), &i.json, |b, j| {
            b.iter_batched(|| j.clone(), |j| check(j, Loader::Source(Format::Json)), BatchSize::PerIteration)
        });
        g.bench_with_input(BenchmarkId::new("total_yaml", &s), &i.yaml, |b, y| {
            b.iter_batched(|| y.clone(), |y| pipeline(y, Loader::Source(Format::Yaml)), BatchSize::PerIteration)
        });
        g.bench_with_input(BenchmarkId::new("total_yaml_serde_norway", &s), &i.yaml, |b, y| {
            b.iter_batched(|| y.clone(), |y| pipeline(y, Loader::SerdeNorway), BatchSize::PerIteration)
        });
        g.bench_with_input(BenchmarkId::new("total_json", &s), &i.json, |b, j| {
            b.iter_batched(|| j.clone(), |j| pipeline(j, Loader::Source(Format::Json)), BatchSize::PerIteration)
        });
    }
    g.finish();
}

fn wall(c: &mut Criterion) {
    phases(c, "wall", &inputs());
}

fn cpu(c: &mut Criterion<ThreadCpuTime>) {
    phases(c, "cpu", &inputs());
}

criterion_group!(wall_benches, wall);
criterion_group! {
    name = cpu_benches;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = cpu
}
criterion_main!(wall_benches, cpu_benches);
