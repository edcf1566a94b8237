//! Writes the committed seed corpus of the `p4runtime_server` fuzz target
//! (`fuzz/corpus/p4runtime_server/seed-*`): valid requests built from the program's
//! P4Info and the entities of `examples/basic.yaml`, each behind the selector byte
//! the target reads (`fuzz/fuzz_targets/p4runtime_server.rs`). Ignored by default;
//! regenerate with `cargo test -p p4clone --test fuzz_seeds -- --ignored`.

use p4clone_compiler::intent::{self, Allocation};
use p4clone_compiler::lower::{lower_entities, program_schema};
use p4clone_compiler::source::{load_str, Format};
use p4clone_proto::p4::v1::entity::Entity as E;
use p4clone_proto::p4::v1::*;
use prost::Message;

fn frame(m: &[u8]) -> Vec<u8> {
    let mut f = vec![0];
    f.extend((m.len() as u32).to_be_bytes());
    f.extend(m);
    f
}

#[test]
#[ignore = "writes fuzz/corpus/p4runtime_server/seed-*; run on demand"]
fn write_p4runtime_server_seeds() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/p4runtime_server");
    std::fs::create_dir_all(&dir).unwrap();
    let put = |name: &str, sel: u8, body: Vec<u8>| {
        let mut v = vec![sel];
        v.extend(body);
        std::fs::write(dir.join(format!("seed-{name}")), v).unwrap();
    };
    let loaded = load_str(include_str!("../examples/basic.yaml"), Format::Yaml).unwrap();
    let intent = intent::compile(&loaded.config, &Allocation::default()).unwrap();
    let ents = lower_entities(&intent.devices[0], program_schema().unwrap()).unwrap();
    let p4info = p4clone_soft::server::SoftTarget::program_p4info();
    let up = |t: update::Type, e: &Entity| Update { r#type: t as i32, entity: Some(e.clone()) };
    let el = Some(Uint128 { high: 0, low: 7 });
    let w = |updates: Vec<Update>| {
        WriteRequest { device_id: 1, election_id: el, updates, ..Default::default() }.encode_to_vec()
    };
    let n = ents.len();
    // Deletes of some, re-inserts of others (ALREADY_EXISTS), a modify.
    let mut mixed: Vec<Update> = ents.iter().take(3).map(|e| up(update::Type::Delete, e)).collect();
    mixed.push(up(update::Type::Insert, &ents[n - 1]));
    mixed.push(up(update::Type::Modify, &ents[n / 2]));
    mixed.push(up(update::Type::Insert, &ents[0]));
    put("write-mixed", 4, w(mixed.clone()));
    put("write-mixed-noprimary", 0, w(mixed));
    put("write-reinsert-all", 4, w(ents.iter().map(|e| up(update::Type::Insert, e)).collect()));
    put("write-delete-all", 4, w(ents.iter().rev().map(|e| up(update::Type::Delete, e)).collect()));
    put("write-modify-all", 4, w(ents.iter().map(|e| up(update::Type::Modify, e)).collect()));
    let c = &p4info.counters[0];
    let ce = Entity {
        entity: Some(E::CounterEntry(CounterEntry {
            counter_id: c.preamble.as_ref().unwrap().id,
            index: Some(Index { index: 1 }),
            data: Some(CounterData { byte_count: 100, packet_count: 1 }),
        })),
    };
    let mut deep = vec![up(update::Type::Modify, &ce)];
    if let Some(r) = p4info.registers.first() {
        deep.push(up(
            update::Type::Modify,
            &Entity {
                entity: Some(E::RegisterEntry(RegisterEntry {
                    register_id: r.preamble.as_ref().unwrap().id,
                    index: Some(Index { index: 0 }),
                    data: Some(p4clone_proto::p4::v1::P4Data { data: Some(p4_data::Data::Bitstring(vec![1].into())) }),
                })),
            },
        ));
    }
    put("write-counters", 4, w(deep));
    put("write-raw-two-frames", 8 | 4, {
        let mut b = frame(&w(vec![up(update::Type::Insert, &ents[0])]));
        b.extend(frame(&w(vec![])));
        b
    });
    let mut all: Vec<Entity> = vec![
        Entity { entity: Some(E::TableEntry(TableEntry::default())) },
        Entity { entity: Some(E::PacketReplicationEngineEntry(PacketReplicationEngineEntry::default())) },
    ];
    all.extend(ents.iter().cloned());
    all.push(ce.clone());
    put("read-all", 1, ReadRequest { device_id: 1, entities: all, ..Default::default() }.encode_to_vec());
    let cfg = |cookie: u64, info: p4clone_proto::p4::config::v1::P4Info| {
        Some(ForwardingPipelineConfig {
            p4info: Some(info),
            p4_device_config: Default::default(),
            cookie: Some(forwarding_pipeline_config::Cookie { cookie }),
        })
    };
    for (name, a) in [("verify", 1), ("save", 2), ("commit-vc", 3), ("commit", 4), ("reconcile", 5)] {
        let req = SetForwardingPipelineConfigRequest {
            device_id: 1,
            election_id: el,
            action: a,
            config: if a == 4 { None } else { cfg(9, p4info.clone()) },
            ..Default::default()
        };
        put(&format!("setfpc-{name}"), 6, req.encode_to_vec());
    }
    let mut bad = p4info.clone();
    bad.tables[0].preamble.as_mut().unwrap().name.push('x');
    put(
        "setfpc-bad-p4info",
        6,
        SetForwardingPipelineConfigRequest {
            device_id: 1,
            election_id: el,
            action: 3,
            config: cfg(9, bad),
            ..Default::default()
        }
        .encode_to_vec(),
    );
    let arb = |low: u64| {
        StreamMessageRequest {
            update: Some(stream_message_request::Update::Arbitration(MasterArbitrationUpdate {
                device_id: 1,
                election_id: Some(Uint128 { high: 0, low }),
                ..Default::default()
            })),
        }
        .encode_to_vec()
    };
    put("stream-arbitration", 3, arb(5));
    let mut s = frame(&arb(5));
    s.extend(frame(&arb(9)));
    s.extend(frame(
        &StreamMessageRequest {
            update: Some(stream_message_request::Update::Packet(PacketOut {
                payload: vec![1, 2, 3].into(),
                metadata: vec![],
            })),
        }
        .encode_to_vec(),
    ));
    s.extend(frame(
        &StreamMessageRequest {
            update: Some(stream_message_request::Update::DigestAck(DigestListAck { digest_id: 1, list_id: 2 })),
        }
        .encode_to_vec(),
    ));
    s.extend(frame(&StreamMessageRequest { update: None }.encode_to_vec()));
    put("stream-raw-sequence", 3 | 8, s);
}
