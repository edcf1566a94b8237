//! Compiler throughput on synthetic fleets (`p4clone_compiler::synthetic`): parse
//! (YAML text → `Config` + source map, and serde alone), validate, compile (intent)
//! and lower (every device to P4Runtime updates), each phase and the whole pipeline,
//! at 1× (10,000 VSs × 8 pool members, 1,000 profiles × 4 clone servers, 4 devices:
//! 160,000 classify rules) and 2× (20,000 VSs, 2,000 profiles) so linearity can be
//! read off.
//!
//! ```sh
//! cargo bench -p p4clone-compiler --bench compile -- \
//!     --measurement-time 5 --warm-up-time 1 --sample-size 10
//! ```
//! Two groups: `wall` (wall-clock time) and `cpu` (CPU time of the benchmarking
//! thread, which stays meaningful on a loaded machine: "time on one core"). The
//! allocator is mimalloc, as in the `p4clone` binary. Results: `BENCHMARKS.md`.

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use mimalloc::MiMalloc;
use p4clone_compiler::config::Config;
use p4clone_compiler::intent::{compile, Allocation, Intent};
use p4clone_compiler::lower::{lower_device, program_schema};
use p4clone_compiler::source::{load_str, Format};
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
    config: Config,
    intent: Intent,
}

fn inputs() -> Vec<Input> {
    [1usize, 2]
        .into_iter()
        .map(|scale| {
            let config = synthetic::default_fleet(scale);
            let yaml = serde_norway::to_string(&config).expect("serialize fleet");
            let intent = compile(&config, &Allocation::default()).expect("fleet compiles");
            let rules: usize = intent.devices.iter().map(|d| d.rules.len()).sum();
            let members: usize = intent.devices.iter().map(|d| d.members.len()).sum();
            eprintln!(
                "{scale}x: {} VSs, {} profiles, YAML {} bytes, {rules} classify rules, {members} members",
                config.virtual_services.len(),
                config.traffic_clone_profiles.len(),
                yaml.len()
            );
            Input { scale, yaml, config, intent }
        })
        .collect()
}

fn lower_all(intent: &Intent) -> usize {
    let schema = program_schema().expect("schema");
    intent.devices.iter().map(|d| lower_device(d, schema).expect("lowers").len()).sum()
}

fn phases<M: Measurement>(c: &mut Criterion<M>, group: &str, inputs: &[Input]) {
    let mut g = c.benchmark_group(group);
    for i in inputs {
        let s = format!("{}x", i.scale);
        g.bench_with_input(BenchmarkId::new("parse", &s), &i.yaml, |b, y| {
            b.iter(|| load_str(black_box(y), Format::Yaml).expect("parses"))
        });
        g.bench_with_input(BenchmarkId::new("parse_serde_only", &s), &i.yaml, |b, y| {
            b.iter(|| serde_norway::from_str::<Config>(black_box(y)).expect("parses"))
        });
        g.bench_with_input(BenchmarkId::new("validate", &s), &i.config, |b, c| {
            b.iter(|| validate::validate(black_box(c)))
        });
        g.bench_with_input(BenchmarkId::new("intent", &s), &i.config, |b, c| {
            b.iter(|| compile(black_box(c), &Allocation::default()).expect("compiles"))
        });
        g.bench_with_input(BenchmarkId::new("lower", &s), &i.intent, |b, it| b.iter(|| lower_all(black_box(it))));
        g.bench_with_input(BenchmarkId::new("total", &s), &i.yaml, |b, y| {
            b.iter(|| {
                let loaded = load_str(black_box(y), Format::Yaml).expect("parses");
                let diags = loaded.check();
                assert!(!validate::has_errors(&diags));
                let intent = compile(&loaded.config, &Allocation::default()).expect("compiles");
                lower_all(&intent)
            })
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
