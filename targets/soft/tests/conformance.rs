//! P4Runtime conformance of the software target's server, over real gRPC on
//! 127.0.0.1 (ephemeral port): status codes, read-after-write, wildcard reads,
//! counters, default actions, batches, pipeline configs, robustness.

use std::time::{Duration, Instant};

use p4clone_pipeline::{EmitBatch, RxFrame};
use p4clone_pipeline::{WorkerState, CLONE_REWRITE};
use p4clone_proto::bytestring::encode;
use p4clone_proto::p4::config::v1::P4Info;
use p4clone_proto::p4::v1::p4_runtime_client::P4RuntimeClient;
use p4clone_proto::p4::v1::{
    self as p4, entity::Entity as E, field_match::FieldMatchType as Fm, forwarding_pipeline_config::Cookie,
    get_forwarding_pipeline_config_request::ResponseType, packet_replication_engine_entry::Type as PreType,
    replica::PortKind, set_forwarding_pipeline_config_request::Action as CfgAction,
    stream_message_request::Update as Req, stream_message_response::Update as Resp, table_action::Type as TaType,
    update::Type as Ty, write_request::Atomicity, Entity, FieldMatch, ForwardingPipelineConfig,
    MasterArbitrationUpdate, ReadRequest, StreamMessageRequest, TableAction, TableEntry, Uint128, Update, WriteRequest,
};
use p4clone_proto::schema::P4Schema;
use p4clone_proto::status;
use p4clone_soft::server::{ServerHandle, SoftTarget};
use tokio::sync::mpsc;
use tonic::codegen::tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;
use tonic::{Code, Status};

const DEVICE: u64 = 1;
const PRIMARY: u128 = 10;

fn schema() -> P4Schema {
    P4Schema::new(SoftTarget::program_p4info()).unwrap()
}

fn u128_msg(v: u128) -> Uint128 {
    Uint128 { high: (v >> 64) as u64, low: v as u64 }
}

/// A server, a client that is primary (election id 10) and the schema.
struct Rig {
    target: SoftTarget,
    handle: Option<ServerHandle>,
    client: P4RuntimeClient<Channel>,
    // Keeps the arbitration stream open.
    _stream: (mpsc::Sender<StreamMessageRequest>, tonic::Streaming<p4::StreamMessageResponse>),
    s: P4Schema,
}

async fn rig_without_pipeline() -> Rig {
    let target = SoftTarget::new(DEVICE);
    let handle = target.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let mut client = P4RuntimeClient::connect(format!("http://{}", handle.local_addr()))
        .await
        .unwrap()
        .max_decoding_message_size(256 << 20);
    let stream = arbitrate(&mut client, PRIMARY).await;
    Rig { target, handle: Some(handle), client, _stream: stream, s: schema() }
}

async fn rig() -> Rig {
    let mut r = rig_without_pipeline().await;
    r.set_config(CfgAction::VerifyAndCommit, Some(config(SoftTarget::program_p4info(), 7))).await.unwrap();
    r
}

/// Opens a stream, becomes primary with `election`, checks the OK answer.
async fn arbitrate(
    client: &mut P4RuntimeClient<Channel>,
    election: u128,
) -> (mpsc::Sender<StreamMessageRequest>, tonic::Streaming<p4::StreamMessageResponse>) {
    let (tx, rx) = mpsc::channel(8);
    tx.send(StreamMessageRequest {
        update: Some(Req::Arbitration(MasterArbitrationUpdate {
            device_id: DEVICE,
            election_id: Some(u128_msg(election)),
            ..Default::default()
        })),
    })
    .await
    .unwrap();
    let mut resp = client.stream_channel(ReceiverStream::new(rx)).await.unwrap().into_inner();
    let msg = tokio::time::timeout(Duration::from_secs(5), resp.message()).await.unwrap().unwrap().unwrap();
    let Some(Resp::Arbitration(a)) = msg.update else {
        panic!("expected an arbitration answer, got {msg:?}");
    };
    assert_eq!(a.status.unwrap().code, Code::Ok as i32);
    (tx, resp)
}

fn config(p4info: P4Info, cookie: u64) -> ForwardingPipelineConfig {
    ForwardingPipelineConfig {
        p4info: Some(p4info),
        p4_device_config: b"opaque device config".to_vec().into(),
        cookie: Some(Cookie { cookie }),
    }
}

fn ent(e: E) -> Entity {
    Entity { entity: Some(e) }
}

fn upd(ty: Ty, e: E) -> Update {
    Update { r#type: ty as i32, entity: Some(ent(e)) }
}

fn ins(te: TableEntry) -> Update {
    upd(Ty::Insert, E::TableEntry(te))
}

fn codes(status: &Status) -> Vec<Code> {
    assert_eq!(status.code(), Code::Unknown, "{status:?}");
    status::write_errors(status).unwrap().iter().map(|e| Code::from_i32(e.canonical_code)).collect()
}

/// The single per-update code of a one-update batch that failed.
fn code1(r: Result<(), Status>) -> (Code, String) {
    let status = r.expect_err("the write should fail");
    let errors = status::write_errors(&status).unwrap();
    assert_eq!(errors.len(), 1, "{status:?}");
    (Code::from_i32(errors[0].canonical_code), errors[0].message.clone())
}

impl Rig {
    async fn set_config(&mut self, action: CfgAction, config: Option<ForwardingPipelineConfig>) -> Result<(), Status> {
        self.client
            .set_forwarding_pipeline_config(p4::SetForwardingPipelineConfigRequest {
                device_id: DEVICE,
                election_id: Some(u128_msg(PRIMARY)),
                action: action as i32,
                config,
                ..Default::default()
            })
            .await
            .map(|_| ())
    }

    async fn get_config(&mut self, ty: ResponseType) -> Option<ForwardingPipelineConfig> {
        self.client
            .get_forwarding_pipeline_config(p4::GetForwardingPipelineConfigRequest {
                device_id: DEVICE,
                response_type: ty as i32,
            })
            .await
            .unwrap()
            .into_inner()
            .config
    }

    async fn write_as(&mut self, election: Option<u128>, updates: Vec<Update>) -> Result<(), Status> {
        self.client
            .write(WriteRequest {
                device_id: DEVICE,
                election_id: election.map(u128_msg),
                updates,
                ..Default::default()
            })
            .await
            .map(|_| ())
    }

    async fn write(&mut self, updates: Vec<Update>) -> Result<(), Status> {
        self.write_as(Some(PRIMARY), updates).await
    }

    async fn read_req(&mut self, entities: Vec<Entity>) -> Result<(Vec<Entity>, usize), Status> {
        let mut stream =
            self.client.read(ReadRequest { device_id: DEVICE, entities, ..Default::default() }).await?.into_inner();
        let mut out = Vec::new();
        let mut messages = 0;
        while let Some(r) = stream.message().await? {
            messages += 1;
            out.extend(r.entities);
        }
        Ok((out, messages))
    }

    async fn read(&mut self, e: E) -> Vec<Entity> {
        self.read_req(vec![ent(e)]).await.unwrap().0
    }

    async fn read_tables(&mut self, te: TableEntry) -> Vec<TableEntry> {
        self.read(E::TableEntry(te))
            .await
            .into_iter()
            .map(|e| match e.entity {
                Some(E::TableEntry(t)) => t,
                other => panic!("not a table entry: {other:?}"),
            })
            .collect()
    }

    fn tid(&self, table: &str) -> u32 {
        self.s.table(table).unwrap().id
    }

    fn aid(&self, action: &str) -> u32 {
        self.s.action(action).unwrap().id
    }

    fn fid(&self, table: &str, field: &str) -> u32 {
        self.s.match_field(table, field).unwrap().id
    }

    fn exact(&self, table: &str, field: &str, v: u128) -> FieldMatch {
        FieldMatch {
            field_id: self.fid(table, field),
            field_match_type: Some(Fm::Exact(p4::field_match::Exact { value: encode(v).into() })),
        }
    }

    fn tern(&self, table: &str, field: &str, v: u128, m: u128) -> FieldMatch {
        FieldMatch {
            field_id: self.fid(table, field),
            field_match_type: Some(Fm::Ternary(p4::field_match::Ternary {
                value: encode(v).into(),
                mask: encode(m).into(),
            })),
        }
    }

    fn action(&self, name: &str, params: &[(&str, u128)]) -> TableAction {
        TableAction {
            r#type: Some(TaType::Action(p4::Action {
                action_id: self.aid(name),
                params: params
                    .iter()
                    .map(|(p, v)| p4::action::Param {
                        param_id: self.s.action_param(name, p).unwrap().id,
                        value: encode(*v).into(),
                    })
                    .collect(),
            })),
        }
    }

    fn wire(&self, port: u128, to: u128) -> TableEntry {
        TableEntry {
            table_id: self.tid("wire"),
            r#match: vec![self.exact("wire", "ingress_port", port)],
            action: Some(self.action("wire_forward", &[("port", to)])),
            ..Default::default()
        }
    }

    /// A `clone_classify_v4` entry on `src`/32 and TCP.
    fn classify(&self, src: u32, priority: i32, first_member: u128) -> TableEntry {
        let t = "clone_classify_v4";
        TableEntry {
            table_id: self.tid(t),
            r#match: vec![self.tern(t, "src_addr", src.into(), 0xffff_ffff), self.tern(t, "protocol", 6, 0xff)],
            action: Some(
                self.action("classify_hit", &[("first_member", first_member), ("member_count", 1), ("mode", 0)]),
            ),
            priority,
            ..Default::default()
        }
    }

    fn rewrite(&self, member: u128) -> TableEntry {
        TableEntry {
            table_id: self.tid("clone_rewrite"),
            r#match: vec![self.exact("clone_rewrite", "member", member)],
            action: Some(self.action(
                "clone_rewrite_set",
                &[
                    ("dst_mac", 0x02_00_00_00_00_01),
                    ("src_mac", 0x02_00_00_00_00_02),
                    ("vlan_id", 0),
                    ("truncate_len", 0),
                    ("nat_restore", 0),
                ],
            )),
            ..Default::default()
        }
    }

    fn session(&self, id: u32, port: u32, instance: u32) -> E {
        #[allow(deprecated)]
        E::PacketReplicationEngineEntry(p4::PacketReplicationEngineEntry {
            r#type: Some(PreType::CloneSessionEntry(p4::CloneSessionEntry {
                session_id: id,
                replicas: vec![p4::Replica {
                    port_kind: Some(PortKind::EgressPort(port)),
                    instance,
                    backup_replicas: vec![],
                }],
                ..Default::default()
            })),
        })
    }

    fn counter(&self, name: &str, index: Option<i64>, data: Option<(i64, i64)>) -> E {
        E::CounterEntry(p4::CounterEntry {
            counter_id: if name.is_empty() { 0 } else { self.s.counter(name).unwrap().id },
            index: index.map(|index| p4::Index { index }),
            data: data.map(|(packet_count, byte_count)| p4::CounterData { byte_count, packet_count }),
        })
    }
}

fn counter_data(e: &Entity) -> (i64, i64, i64) {
    match &e.entity {
        Some(E::CounterEntry(c)) => {
            let d = c.data.unwrap();
            (c.index.unwrap().index, d.packet_count, d.byte_count)
        }
        other => panic!("not a counter entry: {other:?}"),
    }
}

/// Ethernet + IPv4 + TCP, 60 bytes.
fn tcp_frame(src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 0xaa]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 0xbb]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f[14] = 0x45;
    f[16..18].copy_from_slice(&40u16.to_be_bytes());
    f[22] = 64;
    f[23] = 6;
    f[26..30].copy_from_slice(&src);
    f[30..34].copy_from_slice(&dst);
    f[34..36].copy_from_slice(&40000u16.to_be_bytes());
    f[36..38].copy_from_slice(&80u16.to_be_bytes());
    f[46] = 0x50;
    f
}

// ---------------------------------------------------------------- capabilities

#[tokio::test]
async fn capabilities_report_the_api_version() {
    let mut r = rig_without_pipeline().await;
    let v = r.client.capabilities(p4::CapabilitiesRequest::default()).await.unwrap().into_inner();
    assert_eq!(v.p4runtime_api_version, "1.4.1");
    r.handle.take().unwrap().shutdown().await;
}

// ------------------------------------------------------------ pipeline config

#[tokio::test]
async fn before_a_pipeline_write_and_read_are_failed_precondition() {
    let mut r = rig_without_pipeline().await;
    assert_eq!(r.get_config(ResponseType::All).await, None);
    let w = r.write(vec![ins(r.wire(1, 2))]).await.unwrap_err();
    assert_eq!(w.code(), Code::FailedPrecondition, "{w:?}");
    let rd = r.read_req(vec![ent(E::TableEntry(TableEntry::default()))]).await.unwrap_err();
    assert_eq!(rd.code(), Code::FailedPrecondition);
    assert!(!r.target.has_pipeline());
}

#[tokio::test]
async fn the_cookie_is_kept_and_returned_for_every_response_type() {
    let mut r = rig().await;
    let p4info = SoftTarget::program_p4info();
    let all = r.get_config(ResponseType::All).await.unwrap();
    assert_eq!(all.cookie, Some(Cookie { cookie: 7 }));
    assert_eq!(all.p4info.as_ref(), Some(&p4info));
    assert_eq!(all.p4_device_config.as_ref(), b"opaque device config");
    let c = r.get_config(ResponseType::CookieOnly).await.unwrap();
    assert_eq!((c.cookie, c.p4info, c.p4_device_config.len()), (Some(Cookie { cookie: 7 }), None, 0));
    let c = r.get_config(ResponseType::P4infoAndCookie).await.unwrap();
    assert_eq!((c.cookie, c.p4info, c.p4_device_config.len()), (Some(Cookie { cookie: 7 }), Some(p4info), 0));
    let c = r.get_config(ResponseType::DeviceConfigAndCookie).await.unwrap();
    assert_eq!(c.p4info, None);
    assert_eq!(c.p4_device_config.as_ref(), b"opaque device config");
    assert_eq!(r.target.cookie(), Some(7));
}

#[tokio::test]
async fn a_modified_p4info_is_invalid_argument_naming_the_first_difference() {
    let mut r = rig().await;
    r.write(vec![ins(r.wire(1, 2))]).await.unwrap();
    let mut p4info = SoftTarget::program_p4info();
    let t = p4info.tables.iter_mut().find(|t| t.preamble.as_ref().unwrap().name == "clone_rewrite").unwrap();
    t.match_fields[0].bitwidth = 9;
    for action in [CfgAction::Verify, CfgAction::VerifyAndCommit, CfgAction::ReconcileAndCommit] {
        let e = r.set_config(action, Some(config(p4info.clone(), 99))).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument);
        assert!(
            e.message().contains("table clone_rewrite (id 0x02000004): match field 1 bitwidth 9, expected 16"),
            "{}",
            e.message()
        );
    }
    let mut p4info = SoftTarget::program_p4info();
    p4info.actions.pop();
    let e = r.set_config(CfgAction::VerifyAndCommit, Some(config(p4info, 99))).await.unwrap_err();
    assert!(e.message().contains("action nat_miss (id 0x01000009) is missing"), "{}", e.message());
    let e = r.set_config(CfgAction::VerifyAndCommit, Some(ForwardingPipelineConfig::default())).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let e = r.set_config(CfgAction::VerifyAndCommit, None).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let e = r.set_config(CfgAction::Unspecified, None).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    // Nothing changed.
    assert_eq!(r.target.cookie(), Some(7));
    assert_eq!(r.read_tables(TableEntry::default()).await.len(), 1);
}

#[tokio::test]
async fn verify_save_and_commit_follow_the_spec() {
    let mut r = rig_without_pipeline().await;
    let cfg = |c| Some(config(SoftTarget::program_p4info(), c));
    r.set_config(CfgAction::Verify, cfg(1)).await.unwrap();
    assert!(!r.target.has_pipeline());
    let e = r.set_config(CfgAction::Commit, None).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");
    r.set_config(CfgAction::VerifyAndSave, cfg(2)).await.unwrap();
    // A saved config already governs Read / Write.
    r.write(vec![ins(r.wire(1, 2))]).await.unwrap();
    assert_eq!(r.get_config(ResponseType::CookieOnly).await, None);
    let e = r.set_config(CfgAction::Commit, cfg(2)).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    r.set_config(CfgAction::Commit, None).await.unwrap();
    assert_eq!(r.target.cookie(), Some(2));
    // COMMIT replays what was written since the save: the entry is still there.
    assert_eq!(r.read_tables(TableEntry::default()).await.len(), 1);
    let e = r.set_config(CfgAction::Commit, None).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
}

#[tokio::test]
async fn verify_and_commit_clears_state_and_reconcile_keeps_it() {
    let mut r = rig().await;
    let member = 5;
    r.write(vec![
        ins(r.wire(1, 2)),
        ins(r.classify(0x0a00_0001, 10, member)),
        upd(Ty::Insert, r.session(5, 3, 5)),
        upd(Ty::Modify, r.counter("clones_requested", Some(5), Some((4, 400)))),
        upd(
            Ty::Modify,
            E::RegisterEntry(p4::RegisterEntry {
                register_id: r.s.register("rr_cursor").unwrap().id,
                index: Some(p4::Index { index: 5 }),
                data: Some(p4::P4Data { data: Some(p4::p4_data::Data::Bitstring(vec![1].into())) }),
            }),
        ),
    ])
    .await
    .unwrap();
    let cfg = |c| Some(config(SoftTarget::program_p4info(), c));
    r.set_config(CfgAction::ReconcileAndCommit, cfg(8)).await.unwrap();
    assert_eq!(r.target.cookie(), Some(8));
    assert_eq!(r.read_tables(TableEntry::default()).await.len(), 2);
    r.set_config(CfgAction::VerifyAndCommit, cfg(9)).await.unwrap();
    assert_eq!(r.target.cookie(), Some(9));
    assert!(r.read_tables(TableEntry::default()).await.is_empty());
    assert!(r.read(r.session(0, 0, 0)).await.is_empty());
    let c = r.read(r.counter("clones_requested", Some(5), None)).await;
    assert_eq!(counter_data(&c[0]), (5, 0, 0));
    assert_eq!(r.target.pipeline().rr_cursor(5).unwrap(), 0);
}

#[tokio::test]
async fn setting_the_pipeline_needs_the_primary() {
    let mut r = rig().await;
    for election in [None, Some(3), Some(11)] {
        let e = r
            .client
            .set_forwarding_pipeline_config(p4::SetForwardingPipelineConfigRequest {
                device_id: DEVICE,
                election_id: election.map(u128_msg),
                action: CfgAction::VerifyAndCommit as i32,
                config: Some(config(SoftTarget::program_p4info(), 1)),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied, "{election:?}");
    }
    let e = r
        .client
        .set_forwarding_pipeline_config(p4::SetForwardingPipelineConfigRequest {
            device_id: DEVICE + 1,
            election_id: Some(u128_msg(PRIMARY)),
            action: CfgAction::VerifyAndCommit as i32,
            config: Some(config(SoftTarget::program_p4info(), 1)),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    assert_eq!(r.target.cookie(), Some(7));
}

#[tokio::test]
async fn a_wrong_device_id_is_not_found() {
    let mut r = rig().await;
    let w = r
        .client
        .write(WriteRequest {
            device_id: 2,
            election_id: Some(u128_msg(PRIMARY)),
            updates: vec![ins(r.wire(1, 2))],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(w.code(), Code::NotFound);
    let rd = r.client.read(ReadRequest { device_id: 2, entities: vec![], ..Default::default() }).await.unwrap_err();
    assert_eq!(rd.code(), Code::NotFound);
    let g = r
        .client
        .get_forwarding_pipeline_config(p4::GetForwardingPipelineConfigRequest { device_id: 2, response_type: 0 })
        .await
        .unwrap_err();
    assert_eq!(g.code(), Code::NotFound);
    let role = r
        .client
        .write(WriteRequest {
            device_id: DEVICE,
            role: "sdn".into(),
            election_id: Some(u128_msg(PRIMARY)),
            updates: vec![ins(r.wire(1, 2))],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(role.code(), Code::NotFound);
}

// ---------------------------------------------------------------- write codes

#[tokio::test]
async fn a_duplicate_insert_is_already_exists() {
    let mut r = rig().await;
    r.write(vec![ins(r.wire(1, 2)), ins(r.classify(1, 5, 1)), upd(Ty::Insert, r.session(1, 2, 1))]).await.unwrap();
    let mut changed = r.wire(1, 3);
    changed.metadata = b"x".to_vec().into();
    let e =
        r.write(vec![ins(changed), ins(r.classify(1, 5, 2)), upd(Ty::Insert, r.session(1, 3, 1))]).await.unwrap_err();
    assert_eq!(codes(&e), [Code::AlreadyExists; 3]);
    // The existing entry is unchanged.
    assert_eq!(r.read_tables(r.wire(1, 0)).await, [r.wire(1, 2)]);
}

#[tokio::test]
async fn modify_and_delete_of_a_missing_entry_are_not_found() {
    let mut r = rig().await;
    let e = r
        .write(vec![
            upd(Ty::Modify, E::TableEntry(r.wire(1, 2))),
            upd(Ty::Delete, E::TableEntry(r.wire(1, 2))),
            upd(Ty::Modify, E::TableEntry(r.classify(1, 5, 1))),
            upd(Ty::Delete, E::TableEntry(r.classify(1, 5, 1))),
            upd(Ty::Modify, r.session(1, 2, 1)),
            upd(Ty::Delete, r.session(1, 2, 1)),
        ])
        .await
        .unwrap_err();
    assert_eq!(codes(&e), [Code::NotFound; 6]);
}

#[tokio::test]
async fn unknown_ids_are_invalid_argument() {
    let mut r = rig().await;
    let mut bad_table = r.wire(1, 2);
    bad_table.table_id = 0x0200_0099;
    let mut bad_field = r.wire(1, 2);
    bad_field.r#match[0].field_id = 7;
    let mut bad_action = r.wire(1, 2);
    bad_action.action =
        Some(TableAction { r#type: Some(TaType::Action(p4::Action { action_id: 0x0100_0099, params: vec![] })) });
    let mut foreign_action = r.wire(1, 2);
    foreign_action.action = Some(r.action("classify_miss", &[]));
    let mut bad_param = r.wire(1, 2);
    if let Some(TaType::Action(a)) = &mut bad_param.action.as_mut().unwrap().r#type {
        a.params[0].param_id = 9;
    }
    let updates = vec![ins(bad_table), ins(bad_field), ins(bad_action), ins(foreign_action), ins(bad_param)];
    let e = r.write(updates).await.unwrap_err();
    assert_eq!(codes(&e), [Code::InvalidArgument; 5]);
    let errors = status::write_errors(&e).unwrap();
    assert!(errors[0].message.contains("no table with id 0x02000099"), "{}", errors[0].message);
    assert!(errors[1].message.contains("no match field with id 7"), "{}", errors[1].message);
    assert!(errors[2].message.contains("no action with id 0x01000099"), "{}", errors[2].message);
    assert!(errors[3].message.contains("classify_miss is not an action of table wire"), "{}", errors[3].message);
    assert!(errors[4].message.contains("no parameter with id 9"), "{}", errors[4].message);
    let e = r
        .write(vec![
            upd(Ty::Modify, r.counter("", Some(1), Some((0, 0)))),
            upd(Ty::Modify, E::RegisterEntry(p4::RegisterEntry { register_id: 0x1600_0009, ..Default::default() })),
        ])
        .await
        .unwrap_err();
    assert_eq!(codes(&e), [Code::InvalidArgument; 2]);
}

#[tokio::test]
async fn a_value_wider_than_its_bitwidth_is_invalid_argument() {
    let mut r = rig().await;
    // ingress_port is bit<9>: 512 does not fit.
    let (code, msg) = code1(r.write(vec![ins(r.wire(512, 2))]).await);
    assert_eq!(code, Code::InvalidArgument);
    assert!(msg.contains("does not fit in 9 bits"), "{msg}");
    // vlan_id is bit<12>.
    let mut e = r.rewrite(1);
    if let Some(TaType::Action(a)) = &mut e.action.as_mut().unwrap().r#type {
        a.params[2].value = encode(4096).into();
    }
    let (code, msg) = code1(r.write(vec![ins(e)]).await);
    assert_eq!(code, Code::InvalidArgument);
    assert!(msg.contains("vlan_id"), "{msg}");
    // An empty bytestring is never valid.
    let mut e = r.wire(1, 2);
    e.r#match[0].field_match_type = Some(Fm::Exact(p4::field_match::Exact { value: vec![].into() }));
    assert_eq!(code1(r.write(vec![ins(e)]).await).0, Code::InvalidArgument);
}

#[tokio::test]
async fn a_non_canonical_bytestring_is_invalid_argument() {
    let mut r = rig().await;
    let mut e = r.wire(1, 2);
    e.r#match[0].field_match_type = Some(Fm::Exact(p4::field_match::Exact { value: vec![0, 1].into() }));
    let (code, msg) = code1(r.write(vec![ins(e.clone())]).await);
    assert_eq!(code, Code::InvalidArgument);
    assert!(msg.contains("not canonical"), "{msg}");
    // Spec/BMv2 leniency on request: padded strings whose value fits are accepted,
    // and read back canonical.
    r.target.set_accept_padded_bytestrings(true);
    r.write(vec![ins(e)]).await.unwrap();
    assert_eq!(r.read_tables(r.wire(1, 0)).await, [r.wire(1, 2)]);
}

#[tokio::test]
async fn a_ternary_entry_without_priority_is_invalid_argument() {
    let mut r = rig().await;
    let (code, msg) = code1(r.write(vec![ins(r.classify(1, 0, 1))]).await);
    assert_eq!(code, Code::InvalidArgument);
    assert!(msg.contains("need a non-zero priority"), "{msg}");
}

#[tokio::test]
async fn a_priority_on_an_exact_table_is_invalid_argument() {
    let mut r = rig().await;
    let mut e = r.wire(1, 2);
    e.priority = 3;
    let (code, msg) = code1(r.write(vec![ins(e)]).await);
    assert_eq!(code, Code::InvalidArgument);
    assert!(msg.contains("priority must be 0"), "{msg}");
}

#[tokio::test]
async fn ternary_bits_outside_the_mask_and_zero_masks_are_invalid_argument() {
    let mut r = rig().await;
    let t = "clone_classify_v4";
    let mut outside = r.classify(1, 5, 1);
    outside.r#match[0] = r.tern(t, "src_addr", 0x0a00_00ff, 0xffff_ff00);
    let mut zero = r.classify(1, 5, 1);
    zero.r#match[0] = r.tern(t, "src_addr", 0, 0);
    let e = r.write(vec![ins(outside), ins(zero)]).await.unwrap_err();
    assert_eq!(codes(&e), [Code::InvalidArgument; 2]);
    let errors = status::write_errors(&e).unwrap();
    assert!(errors[0].message.contains("bits outside mask"), "{}", errors[0].message);
    assert!(errors[1].message.contains("omit the field"), "{}", errors[1].message);
}

#[tokio::test]
async fn malformed_matches_and_actions_are_invalid_argument() {
    let mut r = rig().await;
    let t = "clone_classify_v4";
    let mut wrong_kind = r.classify(1, 5, 1);
    wrong_kind.r#match[1] = r.exact(t, "protocol", 6);
    let mut dup = r.classify(1, 5, 1);
    dup.r#match.push(r.tern(t, "protocol", 17, 0xff));
    let mut no_exact = r.wire(1, 2);
    no_exact.r#match.clear();
    let mut missing_param = r.wire(1, 2);
    missing_param.action = Some(TableAction {
        r#type: Some(TaType::Action(p4::Action { action_id: r.aid("wire_forward"), params: vec![] })),
    });
    let mut no_action = r.wire(1, 2);
    no_action.action = None;
    let mut member = r.wire(1, 2);
    member.action = Some(TableAction { r#type: Some(TaType::ActionProfileMemberId(1)) });
    let mut idle = r.wire(1, 2);
    idle.idle_timeout_ns = 5;
    let mut counter_on_wire = r.wire(1, 2);
    counter_on_wire.counter_data = Some(Box::default());
    let mut is_const = r.wire(1, 2);
    is_const.is_const = true;
    let updates = [wrong_kind, dup, no_exact, missing_param, no_action, member, idle, counter_on_wire, is_const]
        .into_iter()
        .map(ins)
        .chain([Update { r#type: Ty::Unspecified as i32, entity: Some(ent(E::TableEntry(r.wire(1, 2)))) }])
        .chain([Update { r#type: Ty::Insert as i32, entity: Some(Entity { entity: None }) }])
        .collect();
    let e = r.write(updates).await.unwrap_err();
    assert_eq!(codes(&e), [Code::InvalidArgument; 11]);
    assert!(r.read_tables(TableEntry::default()).await.is_empty());
}

#[tokio::test]
async fn a_non_primary_writer_is_permission_denied() {
    let mut r = rig().await;
    for election in [None, Some(0), Some(9), Some(11)] {
        let e = r.write_as(election, vec![ins(r.wire(1, 2))]).await.unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied, "{election:?}");
        assert!(e.details().is_empty() || status::write_errors(&e).unwrap().is_empty());
    }
    assert!(r.read_tables(TableEntry::default()).await.is_empty());
}

#[tokio::test]
async fn only_continue_on_error_atomicity_is_implemented() {
    let mut r = rig().await;
    for a in [Atomicity::RollbackOnError, Atomicity::DataplaneAtomic] {
        let e = r
            .client
            .write(WriteRequest {
                device_id: DEVICE,
                election_id: Some(u128_msg(PRIMARY)),
                updates: vec![ins(r.wire(1, 2))],
                atomicity: a as i32,
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::Unimplemented);
    }
}

#[tokio::test]
async fn a_partial_batch_reports_each_update_and_applies_the_good_ones() {
    let mut r = rig().await;
    r.write(vec![ins(r.wire(3, 4))]).await.unwrap();
    let e = r
        .write(vec![
            ins(r.wire(1, 2)),
            ins(r.wire(3, 4)),        // ALREADY_EXISTS
            ins(r.classify(1, 0, 1)), // INVALID_ARGUMENT (no priority)
            ins(r.classify(1, 5, 1)),
            upd(Ty::Delete, E::TableEntry(r.wire(9, 0))), // NOT_FOUND
            upd(Ty::Insert, r.session(40000, 1, 1)),      // INVALID_ARGUMENT
            upd(Ty::Insert, r.session(1, 1, 1)),
        ])
        .await
        .unwrap_err();
    assert_eq!(
        codes(&e),
        [
            Code::Ok,
            Code::AlreadyExists,
            Code::InvalidArgument,
            Code::Ok,
            Code::NotFound,
            Code::InvalidArgument,
            Code::Ok
        ]
    );
    let tables = r.read_tables(TableEntry::default()).await;
    assert_eq!(tables, [r.wire(1, 2), r.wire(3, 4), r.classify(1, 5, 1)]);
    assert_eq!(r.read(r.session(0, 0, 0)).await, [ent(r.session(1, 1, 1))]);
}

// ------------------------------------------------------------ read after write

#[tokio::test]
async fn every_table_reads_back_what_was_written() {
    let mut r = rig().await;
    let t4 = "clone_classify_v4";
    let t6 = "clone_classify_v6";
    let mut wire = r.wire(7, 8);
    wire.metadata = b"wire meta".to_vec().into();
    let mut v4 = TableEntry {
        table_id: r.tid(t4),
        r#match: vec![
            r.tern(t4, "src_addr", 0x0a00_0000, 0xff00_0000),
            r.tern(t4, "dst_addr", 0xc0a8_0101, 0xffff_ffff),
            r.tern(t4, "protocol", 17, 0xff),
            r.tern(t4, "l4_src_port", 0, 0xfc00),
            r.tern(t4, "l4_dst_port", 53, 0xffff),
        ],
        action: Some(r.action("classify_hit", &[("first_member", 100), ("member_count", 3), ("mode", 1)])),
        priority: 1000,
        metadata: vec![0, 1, 2, 255].into(),
        ..Default::default()
    };
    let v6 = TableEntry {
        table_id: r.tid(t6),
        r#match: vec![
            r.tern(t6, "src_addr", 0x2001_0db8 << 96, u128::MAX << 64),
            r.tern(t6, "next_header", 6, 0xff),
            r.tern(t6, "l4_dst_port", 443, 0xffff),
        ],
        action: Some(r.action("classify_miss", &[])),
        priority: 1,
        metadata: b"v6".to_vec().into(),
        ..Default::default()
    };
    let mut rewrite = r.rewrite(100);
    if let Some(TaType::Action(a)) = &mut rewrite.action.as_mut().unwrap().r#type {
        a.params[2].value = encode(4094).into();
        a.params[3].value = encode(64).into();
        a.params[4].value = encode(1).into();
    }
    let nat = |table: &str, action: &str, addr: u128, last: &str| TableEntry {
        table_id: r.tid(table),
        r#match: vec![r.exact(table, "addr", addr), r.exact(table, "port", 8080), r.exact(table, last, 6)],
        action: Some(r.action(action, &[("client_addr", addr + 1), ("client_port", 40000)])),
        ..Default::default()
    };
    let nats = [
        nat("nat_src_v4", "nat_set_v4", 0x0a00_0005, "protocol"),
        nat("nat_dst_v4", "nat_set_v4", 0x0a00_0006, "protocol"),
        nat("nat_src_v6", "nat_set_v6", 0xfd00 << 112, "next_header"),
        nat("nat_dst_v6", "nat_set_v6", (0xfd00 << 112) | 9, "next_header"),
    ];
    let mut all = vec![wire.clone(), v4.clone(), v6.clone(), rewrite.clone()];
    all.extend(nats.iter().cloned());
    r.write(all.iter().cloned().map(ins).collect()).await.unwrap();

    // One table at a time, exact key, and all tables at once (in P4Info order).
    for e in &all {
        let only_table = TableEntry { table_id: e.table_id, ..Default::default() };
        assert_eq!(&r.read_tables(only_table).await, std::slice::from_ref(e));
        let mut key = e.clone();
        key.action = None;
        key.metadata.clear();
        assert_eq!(&r.read_tables(key).await, std::slice::from_ref(e));
    }
    assert_eq!(r.read_tables(TableEntry::default()).await, all);

    // MODIFY replaces action and metadata.
    v4.action = Some(r.action("classify_hit", &[("first_member", 200), ("member_count", 1), ("mode", 0)]));
    v4.metadata = b"new".to_vec().into();
    r.write(vec![upd(Ty::Modify, E::TableEntry(v4.clone()))]).await.unwrap();
    let got = r.read_tables(TableEntry { table_id: r.tid(t4), ..Default::default() }).await;
    assert_eq!(got, [v4.clone()]);

    // DELETE needs only the key; other fields are ignored.
    let mut key = v4.clone();
    key.action = Some(TableAction { r#type: Some(TaType::ActionProfileGroupId(3)) });
    key.idle_timeout_ns = 77;
    r.write(vec![upd(Ty::Delete, E::TableEntry(key))]).await.unwrap();
    assert!(r.read_tables(TableEntry { table_id: r.tid(t4), ..Default::default() }).await.is_empty());
}

#[tokio::test]
async fn equal_priorities_and_a_classify_entry_without_session_are_accepted() {
    let mut r = rig().await;
    r.write(vec![
        ins(r.classify(1, 5, 4000)),
        ins(r.classify(2, 5, 4000)),
        ins(r.classify(1, 6, 4000)), // same key, other priority: another entry
    ])
    .await
    .unwrap();
    assert_eq!(r.read_tables(TableEntry { table_id: r.tid("clone_classify_v4"), ..Default::default() }).await.len(), 3);
}

#[tokio::test]
async fn clone_sessions_read_back_in_the_form_written() {
    let mut r = rig().await;
    let bytes_form = E::PacketReplicationEngineEntry(p4::PacketReplicationEngineEntry {
        r#type: Some(PreType::CloneSessionEntry(p4::CloneSessionEntry {
            session_id: 32767,
            replicas: vec![
                p4::Replica {
                    port_kind: Some(PortKind::Port(encode(300).into())),
                    instance: 65535,
                    backup_replicas: vec![],
                },
                p4::Replica { port_kind: Some(PortKind::Port(encode(5).into())), instance: 0, backup_replicas: vec![] },
            ],
            class_of_service: 0,
            packet_length_bytes: 128,
        })),
    });
    r.write(vec![upd(Ty::Insert, r.session(1, 3, 1)), upd(Ty::Insert, bytes_form.clone())]).await.unwrap();
    assert_eq!(r.read(r.session(0, 0, 0)).await, [ent(r.session(1, 3, 1)), ent(bytes_form.clone())]);
    assert_eq!(r.read(r.session(32767, 0, 0)).await, [ent(bytes_form)]);
    assert!(r.read(r.session(2, 0, 0)).await.is_empty());
    r.write(vec![upd(Ty::Modify, r.session(1, 4, 1))]).await.unwrap();
    assert_eq!(r.read(r.session(1, 0, 0)).await, [ent(r.session(1, 4, 1))]);
    let session = r.target.pipeline().clone_session(32767).unwrap();
    assert_eq!(session.packet_length_bytes, 128);

    // Ids 0 and 32768 (BMv2: "out of range") are INVALID_ARGUMENT; multicast is
    // UNIMPLEMENTED; an unknown port or an instance over 16 bits is INVALID_ARGUMENT.
    let mcast = E::PacketReplicationEngineEntry(p4::PacketReplicationEngineEntry {
        r#type: Some(PreType::MulticastGroupEntry(p4::MulticastGroupEntry {
            multicast_group_id: 1,
            ..Default::default()
        })),
    });
    let mut cos = r.session(9, 1, 9);
    if let E::PacketReplicationEngineEntry(p4::PacketReplicationEngineEntry {
        r#type: Some(PreType::CloneSessionEntry(c)),
    }) = &mut cos
    {
        c.class_of_service = 2;
    }
    let e = r
        .write(vec![
            upd(Ty::Insert, r.session(0, 1, 1)),
            upd(Ty::Insert, r.session(32768, 1, 1)),
            upd(Ty::Insert, mcast),
            upd(Ty::Insert, r.session(9, 512, 1)),
            upd(Ty::Insert, r.session(9, 1, 65536)),
            upd(Ty::Insert, cos),
            upd(Ty::Insert, r.session(1, 3, 1)),
        ])
        .await
        .unwrap_err();
    assert_eq!(
        codes(&e),
        [
            Code::InvalidArgument,
            Code::InvalidArgument,
            Code::Unimplemented,
            Code::InvalidArgument,
            Code::InvalidArgument,
            Code::InvalidArgument,
            Code::AlreadyExists
        ]
    );
    r.write(vec![upd(Ty::Delete, r.session(1, 0, 0))]).await.unwrap();
    assert_eq!(r.read(r.session(0, 0, 0)).await.len(), 1);
}

// -------------------------------------------------------------- wildcard reads

#[tokio::test]
async fn wildcard_reads_follow_the_spec_filters() {
    let mut r = rig().await;
    let mut a = r.classify(1, 5, 1);
    a.metadata = b"a".to_vec().into();
    let b = r.classify(2, 5, 2);
    let c = r.classify(1, 9, 3);
    let mut miss = r.classify(3, 9, 1);
    miss.action = Some(r.action("classify_miss", &[]));
    r.write(vec![ins(r.wire(1, 2)), ins(a.clone()), ins(b.clone()), ins(c.clone()), ins(miss.clone())]).await.unwrap();
    let t = r.tid("clone_classify_v4");
    let table = TableEntry { table_id: t, ..Default::default() };
    assert_eq!(r.read_tables(table.clone()).await, [a.clone(), b.clone(), c.clone(), miss.clone()]);
    assert_eq!(r.read_tables(TableEntry::default()).await.len(), 5);
    // Priority filter.
    let by_prio = TableEntry { priority: 9, ..table.clone() };
    assert_eq!(r.read_tables(by_prio).await, [c.clone(), miss.clone()]);
    // Match with priority 0 on a ternary table: every priority of that match.
    let mut by_match = a.clone();
    by_match.priority = 0;
    by_match.action = None;
    by_match.metadata.clear();
    assert_eq!(r.read_tables(by_match).await, [a.clone(), c.clone()]);
    // Action filter.
    let by_action = TableEntry {
        action: Some(TableAction {
            r#type: Some(TaType::Action(p4::Action { action_id: r.aid("classify_miss"), params: vec![] })),
        }),
        ..table.clone()
    };
    assert_eq!(r.read_tables(by_action).await, [miss.clone()]);
    // Metadata filter.
    let by_meta = TableEntry { metadata: b"a".to_vec().into(), ..table.clone() };
    assert_eq!(r.read_tables(by_meta).await, [a.clone()]);
    // A missing exact key reads nothing.
    assert!(r.read_tables(r.wire(9, 0)).await.is_empty());
    // table_id 0 with a match is INVALID_ARGUMENT.
    let mut bad = r.wire(1, 2);
    bad.table_id = 0;
    let e = r.read_req(vec![ent(E::TableEntry(bad))]).await.unwrap_err();
    assert_eq!(codes(&e), [Code::InvalidArgument]);
    // Direct counters come with the entries when asked for.
    let with_counters = TableEntry { counter_data: Some(Box::default()), ..table.clone() };
    let got = r.read_tables(with_counters).await;
    assert_eq!(got.len(), 4);
    assert!(got.iter().all(|e| e.counter_data == Some(Box::default())));
    assert!(r.read_tables(table.clone()).await.iter().all(|e| e.counter_data.is_none()));
    // Indexed counters: all counters, all cells.
    let all = r.read(r.counter("", None, None)).await;
    assert_eq!(all.len(), 2 * 32768);
    let one = r.read(r.counter("clones_emitted", None, None)).await;
    assert_eq!(one.len(), 32768);
    assert_eq!(counter_data(&one[32767]), (32767, 0, 0));
    // Registers: all cells.
    let regs = r.read(E::RegisterEntry(p4::RegisterEntry::default())).await;
    assert_eq!(regs.len(), 32768);
    // Direct counters: every entry of every table with one.
    let direct = r.read(E::DirectCounterEntry(Box::default())).await;
    assert_eq!(direct.len(), 4);
}

#[tokio::test]
async fn a_read_batch_reports_each_request() {
    let mut r = rig().await;
    r.write(vec![ins(r.wire(1, 2))]).await.unwrap();
    let (entities, _) = r.read_req(vec![ent(E::TableEntry(r.wire(1, 0)))]).await.unwrap();
    assert_eq!(entities.len(), 1);
    let mut stream = r
        .client
        .read(ReadRequest {
            device_id: DEVICE,
            entities: vec![
                ent(E::TableEntry(TableEntry { table_id: 0x0200_0077, ..Default::default() })),
                ent(E::TableEntry(r.wire(1, 0))),
                Entity { entity: None },
                ent(r.counter("clones_requested", Some(-1), None)),
                ent(r.counter("clones_requested", Some(32768), None)),
            ],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let first = stream.message().await.unwrap().unwrap();
    assert_eq!(first.entities.len(), 1);
    let e = stream.message().await.unwrap_err();
    assert_eq!(
        codes(&e),
        [Code::InvalidArgument, Code::Ok, Code::InvalidArgument, Code::InvalidArgument, Code::OutOfRange]
    );
}

// ---------------------------------------------------------------- counters

#[tokio::test]
async fn counters_count_packets_and_reset_via_modify() {
    let mut r = rig().await;
    let member = 7;
    r.write(vec![
        ins(r.wire(1, 2)),
        ins(r.classify(0x0a00_0001, 10, member)),
        ins(r.rewrite(member)),
        upd(Ty::Insert, r.session(member as u32, 3, member as u32)),
    ])
    .await
    .unwrap();
    let pipeline = r.target.pipeline();
    let frame = tcp_frame([10, 0, 0, 1], [10, 0, 0, 2]);
    let frames = [RxFrame { port: 1, data: &frame }];
    let mut out = EmitBatch::with_capacity(32);
    for _ in 0..3 {
        pipeline.process_burst(&frames, &mut WorkerState::new(), &mut out);
        assert_eq!(out.len(), 2, "clone + original");
    }
    let n = frame.len() as i64;
    for name in ["clones_requested", "clones_emitted"] {
        let c = r.read(r.counter(name, Some(member as i64), None)).await;
        assert_eq!(counter_data(&c[0]), (member as i64, 3, 3 * n), "{name}");
    }
    let classify = r.classify(0x0a00_0001, 10, member);
    let direct = |te: &TableEntry| {
        let mut key = te.clone();
        key.action = None;
        E::DirectCounterEntry(Box::new(p4::DirectCounterEntry { table_entry: Some(key), data: None }))
    };
    let d = r.read(direct(&classify)).await;
    let Some(E::DirectCounterEntry(dc)) = &d[0].entity else { panic!() };
    assert_eq!(dc.data, Some(p4::CounterData { byte_count: 3 * n, packet_count: 3 }));

    // Reset one cell, then every cell (index unset), then the direct counter.
    r.write(vec![upd(Ty::Modify, r.counter("clones_requested", Some(member as i64), Some((0, 0))))]).await.unwrap();
    let c = r.read(r.counter("clones_requested", Some(member as i64), None)).await;
    assert_eq!(counter_data(&c[0]), (member as i64, 0, 0));
    r.write(vec![upd(Ty::Modify, r.counter("clones_emitted", None, Some((0, 0))))]).await.unwrap();
    let c = r.read(r.counter("clones_emitted", Some(member as i64), None)).await;
    assert_eq!(counter_data(&c[0]), (member as i64, 0, 0));
    let mut set = direct(&classify);
    if let E::DirectCounterEntry(dc) = &mut set {
        dc.data = Some(p4::CounterData::default());
    }
    r.write(vec![upd(Ty::Modify, set)]).await.unwrap();
    let d = r.read(direct(&classify)).await;
    let Some(E::DirectCounterEntry(dc)) = &d[0].entity else { panic!() };
    assert_eq!(dc.data, Some(p4::CounterData::default()));
    // Counting goes on from zero.
    pipeline.process_burst(&frames, &mut WorkerState::new(), &mut out);
    let c = r.read(r.counter("clones_requested", Some(member as i64), None)).await;
    assert_eq!(counter_data(&c[0]), (member as i64, 1, n));
    // A counter value can be set, not only reset.
    r.write(vec![upd(Ty::Modify, r.counter("clones_requested", Some(1), Some((5, 500))))]).await.unwrap();
    let c = r.read(r.counter("clones_requested", Some(1), None)).await;
    assert_eq!(counter_data(&c[0]), (1, 5, 500));
}

#[tokio::test]
async fn counter_and_register_entries_check_type_and_index() {
    let mut r = rig().await;
    let register_id = r.s.register("rr_cursor").unwrap().id;
    let reg = |index: Option<i64>, data: Option<Vec<u8>>| {
        E::RegisterEntry(p4::RegisterEntry {
            register_id,
            index: index.map(|index| p4::Index { index }),
            data: data.map(|b| p4::P4Data { data: Some(p4::p4_data::Data::Bitstring(b.into())) }),
        })
    };
    let missing_direct = E::DirectCounterEntry(Box::new(p4::DirectCounterEntry {
        table_entry: Some(r.classify(1, 5, 1)),
        data: Some(p4::CounterData::default()),
    }));
    let e = r
        .write(vec![
            upd(Ty::Insert, r.counter("clones_requested", Some(1), Some((0, 0)))),
            upd(Ty::Delete, r.counter("clones_requested", Some(1), None)),
            upd(Ty::Modify, r.counter("clones_requested", Some(-1), Some((0, 0)))),
            upd(Ty::Modify, r.counter("clones_requested", Some(32768), Some((0, 0)))),
            upd(Ty::Modify, r.counter("clones_requested", Some(1), Some((-1, 0)))),
            upd(Ty::Insert, reg(Some(1), Some(vec![1]))),
            upd(Ty::Modify, reg(Some(32768), Some(vec![1]))),
            upd(Ty::Modify, reg(Some(1), Some(vec![1, 0, 0]))),
            upd(Ty::Modify, reg(Some(1), None)),
            upd(Ty::Modify, missing_direct),
            upd(Ty::Modify, reg(Some(3), Some(vec![2]))),
        ])
        .await
        .unwrap_err();
    assert_eq!(
        codes(&e),
        [
            Code::InvalidArgument,
            Code::InvalidArgument,
            Code::InvalidArgument,
            Code::OutOfRange,
            Code::InvalidArgument,
            Code::InvalidArgument,
            Code::OutOfRange,
            Code::InvalidArgument,
            Code::InvalidArgument,
            Code::NotFound,
            Code::Ok
        ]
    );
    assert_eq!(r.read(reg(Some(3), None)).await, [ent(reg(Some(3), Some(vec![2])))]);
    // Wildcard register write.
    r.write(vec![upd(Ty::Modify, reg(None, Some(vec![9])))]).await.unwrap();
    let cursors = r.target.pipeline().rr_cursors();
    assert!(cursors.iter().all(|&c| c == 9));
}

// ---------------------------------------------------------------- default entries

#[tokio::test]
async fn default_actions_can_be_modified_read_and_reset() {
    let mut r = rig().await;
    let t = r.tid("clone_rewrite");
    let default_key = TableEntry { table_id: t, is_default_action: true, ..Default::default() };
    let initial = r.read_tables(default_key.clone()).await;
    assert_eq!(initial, [TableEntry { action: Some(r.action("clone_rewrite_miss", &[])), ..default_key.clone() }]);
    let mut set = r.rewrite(0);
    set.r#match.clear();
    set.is_default_action = true;
    set.metadata = b"dflt".to_vec().into();
    r.write(vec![upd(Ty::Modify, E::TableEntry(set.clone()))]).await.unwrap();
    assert_eq!(r.read_tables(default_key.clone()).await, [set.clone()]);
    assert_eq!(
        r.target.pipeline().default_action(CLONE_REWRITE),
        p4clone_pipeline::RewriteAction::Set(p4clone_pipeline::RewriteParams {
            dst_mac: [2, 0, 0, 0, 0, 1],
            src_mac: [2, 0, 0, 0, 0, 2],
            ..Default::default()
        })
    );
    // All tables' defaults at once.
    let all = r.read_tables(TableEntry { is_default_action: true, ..Default::default() }).await;
    assert_eq!(all.len(), 8);
    // MODIFY without an action resets the default (and its metadata).
    r.write(vec![upd(Ty::Modify, E::TableEntry(default_key.clone()))]).await.unwrap();
    assert_eq!(r.read_tables(default_key.clone()).await, initial);
    // INSERT / DELETE of the default entry, or one with a match, are INVALID_ARGUMENT.
    let mut with_match = set.clone();
    with_match.r#match = vec![r.exact("clone_rewrite", "member", 1)];
    let e = r
        .write(vec![
            upd(Ty::Insert, E::TableEntry(set.clone())),
            upd(Ty::Delete, E::TableEntry(set.clone())),
            upd(Ty::Modify, E::TableEntry(with_match)),
        ])
        .await
        .unwrap_err();
    assert_eq!(codes(&e), [Code::InvalidArgument; 3]);
}

#[tokio::test]
async fn modify_without_action_keeps_the_action_and_sets_the_counter() {
    let mut r = rig().await;
    let e = r.classify(1, 5, 1);
    r.write(vec![ins(e.clone())]).await.unwrap();
    let mut m = e.clone();
    m.action = None;
    m.counter_data = Some(Box::new(p4::CounterData { byte_count: 10, packet_count: 1 }));
    r.write(vec![upd(Ty::Modify, E::TableEntry(m))]).await.unwrap();
    let got = r
        .read_tables(TableEntry { table_id: e.table_id, counter_data: Some(Default::default()), ..Default::default() })
        .await;
    assert_eq!(got[0].action, e.action);
    assert_eq!(got[0].counter_data, Some(Box::new(p4::CounterData { byte_count: 10, packet_count: 1 })));
    // INSERT with an initial counter value.
    let mut with_counter = r.classify(2, 5, 1);
    with_counter.counter_data = Some(Box::new(p4::CounterData { byte_count: 7, packet_count: 7 }));
    r.write(vec![ins(with_counter.clone())]).await.unwrap();
    let mut key = with_counter.clone();
    key.action = None;
    assert_eq!(r.read_tables(key).await, [with_counter]);
}

// ---------------------------------------------------------------- in-process

#[tokio::test]
async fn in_process_writes_use_the_same_validation() {
    let target = SoftTarget::new(3);
    let s = schema();
    let wire = TableEntry {
        table_id: s.table("wire").unwrap().id,
        r#match: vec![FieldMatch {
            field_id: 1,
            field_match_type: Some(Fm::Exact(p4::field_match::Exact { value: vec![1].into() })),
        }],
        action: Some(TableAction {
            r#type: Some(TaType::Action(p4::Action { action_id: s.action("wire_drop").unwrap().id, params: vec![] })),
        }),
        ..Default::default()
    };
    let req = |device_id, te: TableEntry| WriteRequest { device_id, updates: vec![ins(te)], ..Default::default() };
    assert_eq!(target.apply_write(&req(3, wire.clone())).unwrap_err().code(), Code::FailedPrecondition);
    let mut other = SoftTarget::program_p4info();
    other.tables.pop();
    assert_eq!(target.set_pipeline_in_process(other, None).unwrap_err().code(), Code::InvalidArgument);
    target.set_pipeline_in_process(SoftTarget::program_p4info(), Some(42)).unwrap();
    assert_eq!(target.cookie(), Some(42));
    assert_eq!(target.apply_write(&req(4, wire.clone())).unwrap_err().code(), Code::NotFound);
    target.apply_write(&req(3, wire.clone())).unwrap();
    let e = target.apply_write(&req(3, wire.clone())).unwrap_err();
    assert_eq!(codes(&e), [Code::AlreadyExists]);
    let mut bad = wire;
    bad.priority = 1;
    assert_eq!(codes(&target.apply_write(&req(3, bad)).unwrap_err()), [Code::InvalidArgument]);
    assert_eq!(target.pipeline().table_sizes().wire, 1);
}

// ---------------------------------------------------------------- robustness

/// xorshift64*: deterministic garbage.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn bytes(&mut self) -> Vec<u8> {
        let len = [0, 1, 1, 1, 2, 2, 4, 6, 16, 17][self.below(10) as usize];
        let mut v: Vec<u8> = (0..len).map(|_| self.next() as u8).collect();
        if self.below(3) == 0 && !v.is_empty() {
            v[0] = 0;
        }
        v
    }
    fn id(&mut self, valid: &[u32]) -> u32 {
        match self.below(4) {
            0 => self.next() as u32,
            1 => 0,
            _ => valid[self.below(valid.len() as u64) as usize],
        }
    }
}

fn garbage(rng: &mut Rng, s: &P4Schema) -> Update {
    let tables: Vec<u32> = s.tables().iter().map(|t| t.id).collect();
    let actions: Vec<u32> = s.actions().iter().map(|a| a.id).collect();
    let field = |rng: &mut Rng| FieldMatch {
        field_id: rng.below(7) as u32,
        field_match_type: match rng.below(6) {
            0 => None,
            1 | 2 => Some(Fm::Exact(p4::field_match::Exact { value: rng.bytes().into() })),
            3 | 4 => {
                Some(Fm::Ternary(p4::field_match::Ternary { value: rng.bytes().into(), mask: rng.bytes().into() }))
            }
            _ => Some(Fm::Lpm(p4::field_match::Lpm { value: rng.bytes().into(), prefix_len: rng.next() as i32 })),
        },
    };
    let entity = match rng.below(8) {
        0..=3 => E::TableEntry(TableEntry {
            table_id: rng.id(&tables),
            r#match: (0..rng.below(7)).map(|_| field(rng)).collect(),
            action: (rng.below(5) != 0).then(|| TableAction {
                r#type: Some(TaType::Action(p4::Action {
                    action_id: rng.id(&actions),
                    params: (0..rng.below(6))
                        .map(|_| p4::action::Param { param_id: rng.below(7) as u32, value: rng.bytes().into() })
                        .collect(),
                })),
            }),
            priority: [0, 1, -1, 5, i32::MAX, i32::MIN][rng.below(6) as usize],
            is_default_action: rng.below(8) == 0,
            metadata: rng.bytes().into(),
            counter_data: (rng.below(4) == 0)
                .then(|| Box::new(p4::CounterData { byte_count: rng.next() as i64, packet_count: rng.next() as i64 })),
            idle_timeout_ns: (rng.below(10) == 0) as i64,
            ..Default::default()
        }),
        4 =>
        {
            #[allow(deprecated)]
            E::PacketReplicationEngineEntry(p4::PacketReplicationEngineEntry {
                r#type: Some(PreType::CloneSessionEntry(p4::CloneSessionEntry {
                    session_id: [0, 1, 2, 32767, 32768, u32::MAX][rng.below(6) as usize],
                    replicas: (0..rng.below(3))
                        .map(|_| p4::Replica {
                            port_kind: match rng.below(3) {
                                0 => None,
                                1 => Some(PortKind::EgressPort(rng.below(600) as u32)),
                                _ => Some(PortKind::Port(rng.bytes().into())),
                            },
                            instance: rng.below(70000) as u32,
                            backup_replicas: vec![],
                        })
                        .collect(),
                    class_of_service: (rng.below(5) == 0) as u32,
                    packet_length_bytes: rng.next() as i32,
                })),
            })
        }
        5 => E::CounterEntry(p4::CounterEntry {
            counter_id: rng.id(&[0x1200_0001, 0x1200_0002]),
            index: (rng.below(3) != 0).then(|| p4::Index { index: rng.next() as i64 % 40000 }),
            data: (rng.below(3) != 0)
                .then(|| p4::CounterData { byte_count: rng.next() as i64, packet_count: rng.next() as i64 }),
        }),
        6 => E::RegisterEntry(p4::RegisterEntry {
            register_id: rng.id(&[0x1600_0001]),
            index: (rng.below(2) == 0).then(|| p4::Index { index: rng.next() as i64 % 40000 }),
            data: (rng.below(4) != 0)
                .then(|| p4::P4Data { data: Some(p4::p4_data::Data::Bitstring(rng.bytes().into())) }),
        }),
        _ => E::DirectCounterEntry(Box::new(p4::DirectCounterEntry {
            table_entry: Some(TableEntry {
                table_id: rng.id(&tables),
                r#match: (0..rng.below(6)).map(|_| field(rng)).collect(),
                priority: rng.below(3) as i32,
                ..Default::default()
            }),
            data: Some(p4::CounterData::default()),
        })),
    };
    Update { r#type: rng.below(5) as i32, entity: Some(ent(entity)) }
}

#[tokio::test]
async fn garbage_never_crashes_the_server_or_corrupts_its_state() {
    let mut r = rig().await;
    let sentinel = TableEntry {
        table_id: r.tid("clone_classify_v6"),
        r#match: vec![r.tern("clone_classify_v6", "src_addr", 0x1234_5678_9abc_def0 << 64, u128::MAX)],
        action: Some(r.action("classify_miss", &[])),
        priority: 77,
        metadata: b"sentinel".to_vec().into(),
        ..Default::default()
    };
    r.write(vec![ins(sentinel.clone())]).await.unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let s = schema();
    let mut applied = 0;
    for _ in 0..60 {
        let updates: Vec<Update> = (0..40).map(|_| garbage(&mut rng, &s)).collect();
        let n = updates.len();
        match r.write(updates).await {
            Ok(()) => applied += n,
            Err(e) => {
                let errors = status::write_errors(&e).unwrap();
                assert_eq!(errors.len(), n, "{e:?}");
                applied += errors.iter().filter(|e| status::is_ok(e)).count();
            }
        }
        // Garbage reads too.
        let reads: Vec<Entity> = (0..5).map(|_| garbage(&mut rng, &s).entity.unwrap()).collect();
        if let Err(e) = r.read_req(reads).await {
            assert_eq!(e.code(), Code::Unknown, "{e:?}");
        }
    }
    assert!(applied > 0, "the generator should produce some valid updates");
    // The server still answers, the sentinel is intact, and everything it holds
    // reads back as entries it accepts again (MODIFY with itself succeeds).
    let mut key = sentinel.clone();
    key.action = None;
    key.metadata.clear();
    assert_eq!(r.read_tables(key).await, [sentinel]);
    let all = r.read_tables(TableEntry::default()).await;
    let sessions = r.read(r.session(0, 0, 0)).await;
    let mut again: Vec<Update> = all.into_iter().map(|e| upd(Ty::Modify, E::TableEntry(e))).collect();
    again.extend(sessions.into_iter().map(|e| Update { r#type: Ty::Modify as i32, entity: Some(e) }));
    r.write(again).await.unwrap();
}

#[tokio::test]
async fn a_160k_entry_table_reads_back_in_chunks() {
    let r0 = rig().await;
    let mut r = r0;
    let t = "clone_classify_v4";
    const N: u32 = 160_000;
    let start = Instant::now();
    for batch in 0..(N / 10_000) {
        let updates: Vec<Update> = (batch * 10_000..(batch + 1) * 10_000)
            .map(|i| {
                ins(TableEntry {
                    table_id: r.tid(t),
                    r#match: vec![
                        r.tern(t, "src_addr", 0x0a00_0000 | u128::from(i), 0xffff_ffff),
                        r.tern(t, "l4_dst_port", 80, 0xffff),
                    ],
                    action: Some(r.action("classify_hit", &[("first_member", 1), ("member_count", 2), ("mode", 1)])),
                    priority: 10,
                    ..Default::default()
                })
            })
            .collect();
        let req = WriteRequest { device_id: DEVICE, updates, ..Default::default() };
        r.target.apply_write(&req).unwrap();
    }
    let wrote = start.elapsed();
    let start = Instant::now();
    let (entities, messages) =
        r.read_req(vec![ent(E::TableEntry(TableEntry { table_id: r.tid(t), ..Default::default() }))]).await.unwrap();
    let read = start.elapsed();
    eprintln!("160k classify entries: write {wrote:?}, gRPC read {read:?} in {messages} messages");
    assert_eq!(entities.len(), N as usize);
    assert_eq!(messages, N as usize / 1000);
    // Debug builds are slow; this only guards against pathological behaviour.
    assert!(read < Duration::from_secs(60), "read took {read:?}");
}

/// `p4clone.soft.v1.CloneDiagnostics` beside P4Runtime: the ports' per-member
/// send failures, with the same device-id check as P4Runtime, range-checked
/// member ids, and reset by a P4Runtime reset of the member's `clones_emitted`.
#[tokio::test]
async fn clone_diagnostics_report_send_failures_and_reset_with_clones_emitted() {
    use p4clone_proto::p4clone::soft::v1::clone_diagnostics_client::CloneDiagnosticsClient;
    use p4clone_proto::p4clone::soft::v1::{MemberDiagnostics, ReadCloneDiagnosticsRequest};

    let mut r = rig().await;
    let addr = r.handle.as_ref().unwrap().local_addr();
    let mut diag = CloneDiagnosticsClient::connect(format!("http://{addr}")).await.unwrap();
    let read = |members: Vec<u32>| ReadCloneDiagnosticsRequest { device_id: DEVICE, members };
    let d = |member, alloc_failed, driver_failed| MemberDiagnostics { member, alloc_failed, driver_failed };

    // Nothing failed yet: an empty answer; named members are listed with zeros.
    assert_eq!(diag.read(read(vec![])).await.unwrap().into_inner().members, vec![]);
    assert_eq!(diag.read(read(vec![9, 3, 9])).await.unwrap().into_inner().members, vec![d(3, 0, 0), d(9, 0, 0)]);

    let pipeline = r.target.pipeline();
    pipeline.add_diag(p4clone_pipeline::Diag::AllocFailed, 7, 4);
    pipeline.add_diag(p4clone_pipeline::Diag::DriverFailed, 7, 1);
    pipeline.add_diag(p4clone_pipeline::Diag::DriverFailed, 32_767, 2);
    let all = diag.read(read(vec![])).await.unwrap().into_inner().members;
    assert_eq!(all, vec![d(7, 4, 1), d(32_767, 0, 2)]);

    // Bad requests: the device id as P4Runtime checks it, member ids 1..32767.
    let e = diag.read(ReadCloneDiagnosticsRequest { device_id: 2, members: vec![] }).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");
    for bad in [0, 32_768, u32::MAX] {
        let e = diag.read(read(vec![7, bad])).await.unwrap_err();
        assert_eq!(e.code(), Code::OutOfRange, "{bad}: {e:?}");
        assert!(e.message().contains(&bad.to_string()), "{e:?}");
    }

    // A P4Runtime reset of clones_requested leaves them; of clones_emitted, clears
    // that member's (a nonzero write does not).
    r.write(vec![upd(Ty::Modify, r.counter("clones_requested", Some(7), Some((0, 0))))]).await.unwrap();
    r.write(vec![upd(Ty::Modify, r.counter("clones_emitted", Some(32_767), Some((9, 0))))]).await.unwrap();
    assert_eq!(diag.read(read(vec![])).await.unwrap().into_inner().members, all);
    r.write(vec![upd(Ty::Modify, r.counter("clones_emitted", Some(7), Some((0, 0))))]).await.unwrap();
    assert_eq!(diag.read(read(vec![])).await.unwrap().into_inner().members, vec![d(32_767, 0, 2)]);
    r.write(vec![upd(Ty::Modify, r.counter("clones_emitted", None, Some((0, 0))))]).await.unwrap();
    assert_eq!(diag.read(read(vec![])).await.unwrap().into_inner().members, vec![]);
}
