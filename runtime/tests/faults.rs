//! The device restarts (state kept: the server goes away and comes back; or
//! state lost: a power cycle) between batches of a push; the next push must
//! converge to exactly the intent. Property test over random edit sequences of
//! a small config.

mod common;

use std::sync::Arc;

use common::{assert_device_equals_intent, Device, Model, Vs};
use p4clone_runtime::fleet::{self, DeviceTarget, ProgressFn, Stage};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Edit {
    Servers(usize, u8),
    FlowHash(usize),
    Truncate(usize, u32),
    AddVs(Option<usize>, u8),
    RemoveVs(usize),
    VsProfile(usize, Option<usize>),
    Members(usize, u8),
    TwoSes,
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (0..3usize, 1..5u8).prop_map(|(p, n)| Edit::Servers(p, n)),
        (0..3usize).prop_map(Edit::FlowHash),
        (0..3usize, prop_oneof![Just(0u32), Just(64), Just(128)]).prop_map(|(p, t)| Edit::Truncate(p, t)),
        (proptest::option::of(0..3usize), 1..4u8).prop_map(|(p, n)| Edit::AddVs(p, n)),
        (0..8usize).prop_map(Edit::RemoveVs),
        (0..8usize, proptest::option::of(0..3usize)).prop_map(|(v, p)| Edit::VsProfile(v, p)),
        (0..8usize, 1..4u8).prop_map(|(v, n)| Edit::Members(v, n)),
        Just(Edit::TwoSes),
    ]
}

fn base() -> Model {
    Model::new().profile("p0", 2).profile("p1", 1).profile("p2", 3).vs("v0", Some(0), 2).vs("v1", Some(1), 1).vs(
        "v2",
        Some(0),
        1,
    )
}

fn apply(m: &mut Model, e: &Edit, next: &mut usize) {
    match *e {
        Edit::Servers(p, n) => m.profiles[p].servers = n,
        Edit::FlowHash(p) => m.profiles[p].flow_hash = !m.profiles[p].flow_hash,
        Edit::Truncate(p, t) => m.profiles[p].truncate = t,
        Edit::AddVs(p, n) => {
            *next += 1;
            m.vss.push(Vs { name: format!("n{next}"), profile: p, members: n });
        }
        Edit::RemoveVs(i) if !m.vss.is_empty() => {
            let i = i % m.vss.len();
            m.vss.remove(i);
        }
        Edit::VsProfile(i, p) if !m.vss.is_empty() => {
            let i = i % m.vss.len();
            m.vss[i].profile = p;
        }
        Edit::Members(i, n) if !m.vss.is_empty() => {
            let i = i % m.vss.len();
            m.vss[i].members = n;
        }
        Edit::TwoSes => m.two_ses = !m.two_ses,
        _ => {}
    }
}

/// Pushes `cfg` with batches of 2 and restarts the device after `kill_after`
/// batches (if the push gets that far).
async fn push_and_kill(dev: &mut Device, cfg: &p4clone_compiler::config::Config, kill_after: usize, lose_state: bool) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let progress: ProgressFn = Arc::new(move |e| {
        if matches!(e.stage, Stage::Writing { .. }) {
            let _ = tx.send(());
        }
    });
    let mut o = common::opts();
    o.batch_size = 2;
    let cfg2 = cfg.clone();
    let task =
        tokio::spawn(async move { fleet::push(&cfg2, &DeviceTarget::from_config(&cfg2), &o, Some(progress)).await });
    let mut seen = 0;
    while seen < kill_after {
        if rx.recv().await.is_none() {
            break;
        }
        seen += 1;
    }
    if seen == kill_after {
        if lose_state {
            dev.power_cycle().await;
        } else {
            dev.restart().await;
        }
    }
    let r = task.await.unwrap().unwrap();
    if std::env::var_os("P4CLONE_TEST_VERBOSE").is_some() {
        eprintln!("kill after {kill_after} (seen {seen}, lose state {lose_state}): {r}");
    }
}

proptest! {
    // 8 cases by default; PROPTEST_CASES=N for more.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(8),
        max_shrink_iters: 16,
        ..ProptestConfig::default()
    })]

    #[test]
    fn restarts_between_batches_converge(
        edits in proptest::collection::vec(edit(), 1..4),
        kills in proptest::collection::vec((1..6usize, any::<bool>()), 4),
    ) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut dev = Device::start().await;
            let addr = dev.address();
            let mut m = base();
            let mut next = 0;
            let cfg = m.config(&addr);
            push_and_kill(&mut dev, &cfg, kills[0].0, kills[0].1).await;
            let r = common::push(&cfg).await;
            assert!(r.ok(), "{r}");
            assert_device_equals_intent(&cfg, &addr).await;
            for (i, e) in edits.iter().enumerate() {
                apply(&mut m, e, &mut next);
                let cfg = m.config(&addr);
                let (k, lose) = kills[(i + 1) % kills.len()];
                push_and_kill(&mut dev, &cfg, k, lose).await;
                let r = common::push(&cfg).await;
                assert!(r.ok(), "after {e:?}: {r}");
                assert_device_equals_intent(&cfg, &addr).await;
                let again = common::push(&cfg).await;
                assert_eq!(again.writes(), 0, "after {e:?}: {again}");
            }
        });
    }
}
