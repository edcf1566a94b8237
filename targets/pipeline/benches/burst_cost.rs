//! A deterministic probe of the packet path's cost, for instruction counts:
//! 1,000 bursts of 32 64-byte TCP frames, `PCT`% of them matching, on the
//! 10,000-VS table (160,000 classify entries).
//!
//! ```text
//! cargo bench -p p4clone-pipeline --bench burst_cost --no-run
//! valgrind --tool=callgrind --toggle-collect='*process_burst*' target/release/deps/burst_cost-<hash> PCT [vxlan] [static|filters|sampled]
//! ```
//! With `vxlan`, every member also has a `clone_encap` VXLAN entry: every clone is
//! encapsulated (outer Ethernet + IPv4 + UDP + VXLAN, the flow hash as source port).
//! With `filters`, every profile has ten filter rules as the compiler folds them
//! (`common::Selection::Filters`: one of them a range on the SE's port, one more
//! ternary tuple); with `static`, ten rules the compiler decides per classify rule
//! (no extra entry); with `sampled`, `filters` plus flow sampling at 100%.
//! Instructions per frame = callgrind's `Ir` / 32,000.

mod common;

use common::*;
use p4clone_pipeline::*;

const POOL: usize = 8192;
const BURSTS: usize = 1000;

fn main() {
    let pct: u64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(10);
    let vxlan = std::env::args().skip(1).any(|a| a == "vxlan");
    let sel = if std::env::args().skip(1).any(|a| a == "sampled") {
        Selection::FiltersSampled
    } else if std::env::args().skip(1).any(|a| a == "filters") {
        Selection::Filters
    } else if std::env::args().skip(1).any(|a| a == "static") {
        Selection::StaticFilters
    } else {
        Selection::All
    };
    let p = Pipeline::new();
    load(&p, base_ops());
    load(&p, classify_ops_with(sel));
    if vxlan {
        load(&p, encap_ops());
    }
    let frames = frames(POOL, pct, 0xC0FFEE + pct);
    let rx = rx(&frames);
    let mut worker = WorkerState::new();
    let mut out = EmitBatch::with_capacity(BURST);
    let mut emitted = 0;
    for i in 0..BURSTS {
        let at = (i * BURST) % POOL;
        p.process_burst(&rx[at..at + BURST], &mut worker, &mut out);
        emitted += out.len();
    }
    let how = if vxlan { ", clones VXLAN-encapsulated" } else { "" };
    println!("{pct}% matching{how}, {sel:?}: {} frames in, {emitted} emitted", BURSTS * BURST);
}
