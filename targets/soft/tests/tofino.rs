//! The software target in Tofino mode (`Dialect::Tofino`, `p4clone soft --as
//! tofino`), over real gRPC: it runs the TNA program's P4Info only, takes clone
//! sessions by Stratum's rules with Stratum's statuses (INVALID_ARGUMENT, its
//! messages), reads them back as Stratum does (instance 0), keeps the member
//! for the egress by session id, and truncates by `packet_length_bytes`.

mod conformance_rig;

use conformance_rig::*;
use p4clone_proto::bytestring::encode;
use p4clone_proto::p4::v1::{
    self as p4, entity::Entity as E, packet_replication_engine_entry::Type as PreType, replica::PortKind,
    set_forwarding_pipeline_config_request::Action as CfgAction, update::Type as Ty,
};
use p4clone_proto::{program, program_tna, status};
use p4clone_soft::server::{Dialect, SoftTarget};
use tonic::Code;

fn session(id: u32, replicas: Vec<p4::Replica>, cos: u32, length: i32) -> E {
    E::PacketReplicationEngineEntry(p4::PacketReplicationEngineEntry {
        r#type: Some(PreType::CloneSessionEntry(p4::CloneSessionEntry {
            session_id: id,
            replicas,
            class_of_service: cos,
            packet_length_bytes: length,
        })),
    })
}

#[allow(deprecated)]
fn replica(port: u32, instance: u32) -> p4::Replica {
    p4::Replica { port_kind: Some(PortKind::EgressPort(port)), instance, backup_replicas: vec![] }
}

/// The messages of the failed updates of a Write.
fn messages(e: &tonic::Status) -> Vec<String> {
    status::write_errors(e).unwrap().into_iter().filter(|x| !status::is_ok(x)).map(|x| x.message).collect()
}

#[tokio::test]
async fn only_the_tna_program_is_accepted() {
    let mut r = rig_as(Dialect::Tofino).await;
    let e = r.set_config(CfgAction::VerifyAndCommit, Some(config(SoftTarget::program_p4info(), 8))).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("traffic_clone_tna.p4"), "{}", e.message());
    // ...and the v1model target refuses the TNA program.
    let mut v = rig().await;
    let tna = program_tna::p4info().unwrap().clone();
    let e = v.set_config(CfgAction::VerifyAndCommit, Some(config(tna, 9))).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("traffic_clone.p4"), "{}", e.message());
}

#[tokio::test]
async fn clone_sessions_follow_stratum() {
    let mut r = rig_as(Dialect::Tofino).await;
    #[allow(deprecated)]
    let bytes_port =
        p4::Replica { port_kind: Some(PortKind::Port(encode(3).into())), instance: 0, backup_replicas: vec![] };
    let e = r
        .write(vec![
            upd(Ty::Insert, session(1016, vec![replica(3, 0)], 0, 0)),
            upd(Ty::Insert, session(0, vec![replica(3, 0)], 0, 0)),
            upd(Ty::Insert, session(5, vec![replica(3, 0), replica(4, 0)], 0, 0)),
            upd(Ty::Insert, session(5, vec![replica(0, 0)], 0, 0)),
            upd(Ty::Insert, session(5, vec![bytes_port], 0, 0)),
            upd(Ty::Insert, session(5, vec![replica(3, 5)], 0, 0)),
            upd(Ty::Insert, session(5, vec![replica(3, 0)], 8, 0)),
            upd(Ty::Insert, session(5, vec![replica(3, 0)], 0, 65_536)),
            upd(Ty::Delete, session(2000, vec![], 0, 0)),
            upd(Ty::Insert, session(1015, vec![replica(3, 0)], 7, 65_535)),
            upd(Ty::Insert, session(5, vec![replica(4, 0)], 3, 128)),
        ])
        .await
        .unwrap_err();
    assert_eq!(codes(&e)[..9], [Code::InvalidArgument; 9]);
    assert_eq!(codes(&e)[9..], [Code::Ok, Code::Ok]);
    let m = messages(&e);
    for (i, want) in [
        "Invalid session id",
        "Invalid session id",
        "Multiple replicas are not supported",
        "Invalid egress port",
        "Invalid egress port",
        "Instances on Replicas are not supported",
        "Class of service must be smaller than 8",
        "Packet length exceeds maximum value",
        "Invalid session id",
    ]
    .iter()
    .enumerate()
    {
        assert!(m[i].contains(want), "update {i}: {:?} lacks {want:?}", m[i]);
    }

    // Read back as Stratum does: instance 0, class of service and length kept.
    assert_eq!(r.read(session(5, vec![], 0, 0)).await, [ent(session(5, vec![replica(4, 0)], 3, 128))]);
    assert_eq!(r.read(session(0, vec![], 0, 0)).await.len(), 2);
    // The pipeline's replica carries the member (= session id) for the egress,
    // and the session truncates.
    let s = r.target.pipeline().clone_session(5).unwrap();
    assert_eq!((s.replicas[0].egress_port, s.replicas[0].instance, s.packet_length_bytes), (4, 5, 128));
    // MODIFY follows the same rules; DELETE forgets the class of service.
    let e = r.write(vec![upd(Ty::Modify, session(5, vec![replica(4, 2)], 0, 0))]).await.unwrap_err();
    assert_eq!(codes(&e), [Code::InvalidArgument]);
    r.write(vec![upd(Ty::Delete, session(5, vec![], 0, 0))]).await.unwrap();
    r.write(vec![upd(Ty::Insert, session(5, vec![replica(4, 0)], 0, 0))]).await.unwrap();
    assert_eq!(r.read(session(5, vec![], 0, 0)).await, [ent(session(5, vec![replica(4, 0)], 0, 0))]);
}

#[tokio::test]
async fn the_classify_direct_counters_do_not_exist() {
    let mut r = rig_as(Dialect::Tofino).await;
    let e = r
        .read_req(vec![ent(E::DirectCounterEntry(Box::new(p4::DirectCounterEntry {
            table_entry: Some(p4::TableEntry { table_id: program::tables::CLASSIFY_V4.id, ..Default::default() }),
            ..Default::default()
        })))])
        .await
        .unwrap_err();
    assert_ne!(e.code(), Code::Ok);
}
