//! plan / push / re-plan against an in-process software target over gRPC.

mod common;

use common::{assert_device_equals_intent, push, read_only, Device, Model};
use p4clone_compiler::lower;
use p4clone_runtime::client::{Client, ConnectOptions};
use p4clone_runtime::counters::{self, CounterValue};
use p4clone_runtime::fleet::{self, DeviceTarget};
use p4clone_runtime::reconcile::{self, Plan, ResetReason};

async fn plan_of(cfg: &p4clone_compiler::config::Config) -> Plan {
    let p = fleet::plan(cfg, &DeviceTarget::from_config(cfg), &common::opts()).await.unwrap();
    assert!(p.ok(), "{p}");
    p.devices.into_iter().next().unwrap().plan.unwrap()
}

fn two_profiles() -> Model {
    Model::new().profile("ids", 2).profile("probe", 1).vs("vs-a", Some(0), 2).vs("vs-b", Some(1), 1).vs("vs-c", None, 1)
}

/// Member ids of (profile, se) on the device, from the clone_rewrite metadata.
async fn members(addr: &str, profile: &str) -> Vec<u16> {
    let schema = lower::program_schema().unwrap();
    let mut c = read_only(addr).await;
    let state = reconcile::read_state(&mut c, schema).await.unwrap();
    let rewrite = schema.table(reconcile::REWRITE_TABLE).unwrap().id;
    let mut ids: Vec<u16> = state
        .entries
        .iter()
        .filter(|e| e.table_id == rewrite)
        .filter(|e| reconcile::parse_rewrite_metadata(&e.metadata).is_some_and(|o| o.profile == profile))
        .map(|e| {
            let p4clone_proto::p4::v1::field_match::FieldMatchType::Exact(x) =
                e.r#match[0].field_match_type.as_ref().unwrap()
            else {
                panic!()
            };
            p4clone_proto::bytestring::decode(&x.value).unwrap() as u16
        })
        .collect();
    ids.sort_unstable();
    ids
}

async fn set_counters(addr: &str, ids: &[u16], packets: u64) {
    let schema = lower::program_schema().unwrap();
    let req = schema.counter("clones_requested").unwrap().id;
    let emi = schema.counter("clones_emitted").unwrap().id;
    let cut = schema.counter("truncated_mtu").unwrap().id;
    let mut c = Client::connect(ConnectOptions::new(addr, 1)).await.unwrap();
    let mut ups = Vec::new();
    for &i in ids {
        let v = CounterValue { packets, bytes: packets * 100 };
        ups.push(counters::set_update(req, i64::from(i), v));
        ups.push(counters::set_update(emi, i64::from(i), v));
        ups.push(counters::set_update(cut, i64::from(i), v));
    }
    let errs = c.write(ups).await.unwrap();
    assert!(errs.is_empty(), "{errs:?}");
}

/// `truncated_mtu` packets of `ids`.
async fn truncated_packets(addr: &str, ids: &[u16]) -> Vec<u64> {
    let cut = lower::program_schema().unwrap().counter("truncated_mtu").unwrap().id;
    let mut c = read_only(addr).await;
    let want: Vec<(u32, i64)> = ids.iter().map(|&i| (cut, i64::from(i))).collect();
    let cells = counters::read_cells(&mut c, &want).await.unwrap();
    ids.iter().map(|&i| cells.iter().find(|(_, j, _)| *j == i64::from(i)).map_or(0, |(_, _, v)| v.packets)).collect()
}

async fn counter_packets(addr: &str, ids: &[u16]) -> Vec<(u64, u64)> {
    let schema = lower::program_schema().unwrap();
    let req = schema.counter("clones_requested").unwrap().id;
    let emi = schema.counter("clones_emitted").unwrap().id;
    let mut c = read_only(addr).await;
    let mut want = Vec::new();
    for &i in ids {
        want.push((req, i64::from(i)));
        want.push((emi, i64::from(i)));
    }
    let cells = counters::read_cells(&mut c, &want).await.unwrap();
    ids.iter()
        .map(|&i| {
            let get = |cid| {
                cells
                    .iter()
                    .find(|(c, idx, _)| *c == cid && *idx == i64::from(i))
                    .map_or(u64::MAX, |(_, _, v)| v.packets)
            };
            (get(req), get(emi))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_push_plan_and_push_twice_writes_nothing() {
    let dev = Device::start().await;
    let cfg = two_profiles().config(&dev.address());

    let p = plan_of(&cfg).await;
    assert!(p.pipeline.unwrap().installed(), "fresh device needs the pipeline");
    assert!(!p.inserts.is_empty() && p.modifies.is_empty() && p.deletes.is_empty());
    let text = p.to_string();
    assert!(text.contains("+ insert clone_classify_v4 src_addr=10.20.0.5 dst_addr=10.20.1.10"), "{text}");
    assert!(text.contains("→ classify_hit(first_member="), "{text}");
    let json = serde_json::to_value(&p).unwrap();
    assert_eq!(json["inserts"].as_array().unwrap().len(), p.inserts.len());
    // wire 2 pairs × 2 + ids 2 members × (session + rewrite) + probe 1 × 2 +
    // classify: vs-a 2 members × 2 directions, vs-b 1 × 2 (vs-c uncloned)
    assert_eq!(p.inserts.len(), 4 + 4 + 2 + 4 + 2);

    let r = push(&cfg).await;
    assert!(r.ok(), "{r}");
    let d = &r.devices[0];
    assert_eq!(d.inserted, p.inserts.len());
    assert_eq!((d.modified, d.deleted, d.counters_reset), (0, 0, 0));
    assert_device_equals_intent(&cfg, &dev.address()).await;

    let again = plan_of(&cfg).await;
    assert!(again.is_empty(), "{again}");
    assert!(again.to_string().contains("up to date"));

    let r2 = push(&cfg).await;
    assert!(r2.ok(), "{r2}");
    assert_eq!(r2.writes(), 0, "{r2}");
    assert!(r2.to_string().contains("nothing written"), "{r2}");
    let json = serde_json::to_value(&r2).unwrap();
    assert_eq!(json["devices"][0]["inserted"], 0);
    assert!(json["devices"][0]["errors"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_edits_give_minimal_diffs_and_reset_only_that_profiles_counters() {
    let dev = Device::start().await;
    let addr = dev.address();
    let mut m = two_profiles();
    let cfg = m.config(&addr);
    assert!(push(&cfg).await.ok());
    let ids0 = members(&addr, "ids").await;
    let probe = members(&addr, "probe").await;
    assert_eq!((ids0.len(), probe.len()), (2, 1));

    // 1. add a clone server to `ids`
    set_counters(&addr, &ids0, 7).await;
    set_counters(&addr, &probe, 9).await;
    m.profiles[0].servers = 3;
    let cfg = m.config(&addr);
    let p = plan_of(&cfg).await;
    // new member: its session + rewrite entry; the two old rewrites change
    // (metadata digest); vs-a's 4 classify entries change (member_count, digest)
    assert_eq!(p.inserts.len(), 2, "{p}");
    assert_eq!(p.modifies.len(), 2 + 4, "{p}");
    assert!(p.deletes.is_empty(), "{p}");
    assert!(
        p.modifies.iter().chain(&p.inserts).all(|c| !c.entity().contains("dst_addr=10.20.2.")),
        "vs-b untouched: {p}"
    );
    assert_eq!(p.counter_resets.len(), 2, "only the non-zero old members: {p}");
    assert!(p.counter_resets.iter().all(|r| r.profile == "ids" && r.reason == ResetReason::ProfileChanged));
    let r = push(&cfg).await;
    assert!(r.ok(), "{r}");
    assert_eq!(
        r.devices[0].counters_reset, 8,
        "2 members x (clones_requested, clones_emitted, truncated_mtu), and at the block's first member its \
         skipped_by_filter and not_sampled"
    );
    let ids1 = members(&addr, "ids").await;
    assert_eq!(&ids1[..2], &ids0[..], "member ids stay");
    assert_eq!(counter_packets(&addr, &ids1).await, vec![(0, 0); 3]);
    assert_eq!(truncated_packets(&addr, &ids1).await, vec![0; 3], "truncated_mtu reset with them");
    assert_eq!(counter_packets(&addr, &probe).await, vec![(9, 9)]);
    assert_device_equals_intent(&cfg, &addr).await;

    // 2. change truncate
    set_counters(&addr, &ids1, 3).await;
    m.profiles[0].truncate = 128;
    let cfg = m.config(&addr);
    let p = plan_of(&cfg).await;
    assert_eq!((p.inserts.len(), p.modifies.len(), p.deletes.len()), (0, 3 + 4, 0), "{p}");
    assert!(p.to_string().contains("truncate_len=128"), "{p}");
    assert!(push(&cfg).await.ok());
    assert_eq!(counter_packets(&addr, &ids1).await, vec![(0, 0); 3]);
    assert_eq!(counter_packets(&addr, &probe).await, vec![(9, 9)]);

    // 3. switch distribution
    set_counters(&addr, &ids1, 5).await;
    m.profiles[0].flow_hash = true;
    let cfg = m.config(&addr);
    let p = plan_of(&cfg).await;
    assert_eq!((p.inserts.len(), p.modifies.len(), p.deletes.len()), (0, 3 + 4, 0), "{p}");
    assert!(p.to_string().contains("mode=1"), "{p}");
    assert!(push(&cfg).await.ok());
    assert_eq!(counter_packets(&addr, &ids1).await, vec![(0, 0); 3]);
    assert_eq!(counter_packets(&addr, &probe).await, vec![(9, 9)]);
    assert_device_equals_intent(&cfg, &addr).await;
    assert_eq!(push(&cfg).await.writes(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_vs_removes_its_entries_and_sessions() {
    let dev = Device::start().await;
    let addr = dev.address();
    let mut m = two_profiles();
    let cfg = m.config(&addr);
    assert!(push(&cfg).await.ok());
    set_counters(&addr, &members(&addr, "ids").await, 4).await;

    // vs-b is the only user of `probe`: its classify entries, the member's
    // rewrite entry and clone session all go.
    m.vss.remove(1);
    let cfg = m.config(&addr);
    let p = plan_of(&cfg).await;
    assert!(p.inserts.is_empty() && p.modifies.is_empty(), "{p}");
    assert_eq!(p.deletes.len(), 2 + 1 + 1, "{p}");
    let text = p.to_string();
    assert!(text.contains("- delete clone_session"), "{text}");
    // dependents first: classify before rewrite before the session
    let pos = |s: &str| text.find(s).unwrap();
    assert!(pos("- delete clone_classify_v4") < pos("- delete clone_rewrite"));
    assert!(pos("- delete clone_rewrite") < pos("- delete clone_session"));
    let r = push(&cfg).await;
    assert!(r.ok(), "{r}");
    assert_eq!(r.devices[0].deleted, 4);
    assert_eq!(r.devices[0].counters_reset, 0, "ids untouched");
    assert!(members(&addr, "probe").await.is_empty());
    assert_device_equals_intent(&cfg, &addr).await;

    // everything away
    let empty = Model::new().config(&addr);
    let r = push(&empty).await;
    assert!(r.ok(), "{r}");
    assert_device_equals_intent(&empty, &addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_and_stale_entries_are_removed_and_changed_ones_restored() {
    let dev = Device::start().await;
    let addr = dev.address();
    let cfg = two_profiles().config(&addr);
    assert!(push(&cfg).await.ok());
    // Somebody else adds a clone session and changes a wire entry.
    let schema = lower::program_schema().unwrap();
    let mut c = Client::connect(ConnectOptions::new(addr.clone(), 1)).await.unwrap();
    let extra = p4clone_runtime::replication::entity_of(p4clone_runtime::replication::clone_session(999, 7, 999));
    let mut state = reconcile::read_state(&mut c, schema).await.unwrap();
    let wire = schema.table("wire").unwrap().id;
    let mut w = state.entries.iter_mut().find(|e| e.table_id == wire).unwrap().clone();
    w.metadata = p4clone_proto::Bytes::from_static(b"tampered");
    let errs = c
        .write(vec![
            p4clone_runtime::tables::update_of(p4clone_proto::p4::v1::update::Type::Insert, extra),
            p4clone_runtime::tables::update_of(
                p4clone_proto::p4::v1::update::Type::Modify,
                p4clone_runtime::tables::entity_of(w),
            ),
        ])
        .await
        .unwrap();
    assert!(errs.is_empty(), "{errs:?}");
    drop(c);
    let p = plan_of(&cfg).await;
    assert_eq!((p.inserts.len(), p.modifies.len(), p.deletes.len()), (0, 1, 1), "{p}");
    assert!(p.to_string().contains("metadata tampered → wire:"), "{p}");
    assert!(push(&cfg).await.ok());
    assert_device_equals_intent(&cfg, &addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_update_errors_are_reported_with_the_device_error() {
    let dev = Device::start().await;
    let addr = dev.address();
    let cfg = two_profiles().config(&addr);
    assert!(push(&cfg).await.ok());
    let mut c = Client::connect(ConnectOptions::new(addr.clone(), 1)).await.unwrap();
    let schema = lower::program_schema().unwrap();
    let state = reconcile::read_state(&mut c, schema).await.unwrap();
    let dup = p4clone_runtime::tables::entity_of(state.entries[0].clone());
    let errs = c
        .write(vec![
            p4clone_runtime::tables::update_of(p4clone_proto::p4::v1::update::Type::Modify, dup.clone()),
            p4clone_runtime::tables::update_of(p4clone_proto::p4::v1::update::Type::Insert, dup),
        ])
        .await
        .unwrap();
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].0, 1);
    assert_eq!(errs[0].1.canonical_code, tonic::Code::AlreadyExists as i32);
    let mut sent = 0;
    let report = p4clone_runtime::write::write_batched(
        &mut c,
        &[p4clone_runtime::tables::update_of(
            p4clone_proto::p4::v1::update::Type::Insert,
            p4clone_runtime::tables::entity_of(state.entries[0].clone()),
        )][..],
        10,
        1,
        &|_| "the entry".to_string(),
        &mut |d, _| sent = d,
    )
    .await
    .unwrap();
    assert_eq!(sent, 1);
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].code, "ALREADY_EXISTS");
    assert!(report.errors[0].to_string().contains("update 0 (insert the entry): ALREADY_EXISTS"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batched_write_stops_at_a_batch_boundary() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let dev = Device::start().await;
    let addr = dev.address();
    let cfg = two_profiles().config(&addr);
    assert!(push(&cfg).await.ok());
    let mut c = Client::connect(ConnectOptions::new(addr.clone(), 1)).await.unwrap();
    let schema = lower::program_schema().unwrap();
    let state = reconcile::read_state(&mut c, schema).await.unwrap();
    assert!(state.entries.len() >= 10, "{} entries", state.entries.len());
    let deletes: Vec<_> = state
        .entries
        .iter()
        .take(10)
        .map(|e| {
            p4clone_runtime::tables::update_of(
                p4clone_proto::p4::v1::update::Type::Delete,
                p4clone_runtime::tables::entity_of(e.clone()),
            )
        })
        .collect();
    // Batches of 2, one in flight: asked before each batch, stop holds after two.
    let batches = AtomicUsize::new(0);
    let report = p4clone_runtime::write::write_batched_until(
        &mut c,
        &deletes[..],
        2,
        1,
        &|_| "an entry".to_string(),
        &mut |_, _| {
            batches.fetch_add(1, Ordering::SeqCst);
        },
        &|| batches.load(Ordering::SeqCst) >= 2,
    )
    .await
    .unwrap();
    assert_eq!((report.sent, report.applied), (4, 4), "{report:?}");
    assert!(report.errors.is_empty());
    let after = reconcile::read_state(&mut c, schema).await.unwrap();
    assert_eq!(after.entries.len(), state.entries.len() - 4);
}
