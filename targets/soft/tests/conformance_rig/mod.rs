//! The rig the P4Runtime conformance tests share: a software target serving on
//! 127.0.0.1 (ephemeral port), a primary client, and request builders.
#![allow(dead_code)]

use std::time::Duration;

use p4clone_proto::bytestring::encode;
use p4clone_proto::p4::config::v1::P4Info;
use p4clone_proto::p4::v1::p4_runtime_client::P4RuntimeClient;
use p4clone_proto::p4::v1::{
    self as p4, entity::Entity as E, field_match::FieldMatchType as Fm, forwarding_pipeline_config::Cookie,
    get_forwarding_pipeline_config_request::ResponseType, packet_replication_engine_entry::Type as PreType,
    replica::PortKind, set_forwarding_pipeline_config_request::Action as CfgAction,
    stream_message_request::Update as Req, stream_message_response::Update as Resp, table_action::Type as TaType,
    update::Type as Ty, Entity, FieldMatch, ForwardingPipelineConfig, MasterArbitrationUpdate, ReadRequest,
    StreamMessageRequest, TableAction, TableEntry, Uint128, Update, WriteRequest,
};
use p4clone_proto::schema::P4Schema;
use p4clone_proto::status;
use p4clone_soft::server::{Dialect, ServeOptions, ServerHandle, SoftTarget};
use tokio::sync::mpsc;
use tonic::codegen::tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;
use tonic::{Code, Status};

pub const DEVICE: u64 = 1;
pub const PRIMARY: u128 = 10;

pub fn schema() -> P4Schema {
    P4Schema::new(SoftTarget::program_p4info()).unwrap()
}

pub fn u128_msg(v: u128) -> Uint128 {
    Uint128 { high: (v >> 64) as u64, low: v as u64 }
}

/// A server, a client that is primary (election id 10) and the schema.
pub struct Rig {
    pub target: SoftTarget,
    pub handle: Option<ServerHandle>,
    pub client: P4RuntimeClient<Channel>,
    // Keeps the arbitration stream open.
    pub _stream: (mpsc::Sender<StreamMessageRequest>, tonic::Streaming<p4::StreamMessageResponse>),
    pub s: P4Schema,
}

pub async fn rig_without_pipeline() -> Rig {
    rig_without_pipeline_with(&ServeOptions::default()).await
}

/// [`rig_without_pipeline`] served with `opts` (limits, TLS).
pub async fn rig_without_pipeline_with(opts: &ServeOptions) -> Rig {
    serve(SoftTarget::new(DEVICE), opts).await
}

/// A [`rig`] whose target behaves like `dialect`'s device, with that device's
/// program set as the pipeline.
pub async fn rig_as(dialect: Dialect) -> Rig {
    let target = SoftTarget::new_as(DEVICE, dialect);
    let p4info = target.p4info().clone();
    let mut r = serve(target, &ServeOptions::default()).await;
    r.s = P4Schema::new(p4info.clone()).unwrap();
    r.set_config(CfgAction::VerifyAndCommit, Some(config(p4info, 7))).await.unwrap();
    r
}

async fn serve(target: SoftTarget, opts: &ServeOptions) -> Rig {
    let handle = target.serve_with("127.0.0.1:0".parse().unwrap(), opts).await.unwrap();
    let mut client = P4RuntimeClient::connect(format!("http://{}", handle.local_addr()))
        .await
        .unwrap()
        .max_decoding_message_size(256 << 20);
    let stream = arbitrate(&mut client, PRIMARY).await;
    Rig { target, handle: Some(handle), client, _stream: stream, s: schema() }
}

pub async fn rig() -> Rig {
    rig_with(&ServeOptions::default()).await
}

/// [`rig`] served with `opts` (limits; plaintext only).
pub async fn rig_with(opts: &ServeOptions) -> Rig {
    let mut r = rig_without_pipeline_with(opts).await;
    r.set_config(CfgAction::VerifyAndCommit, Some(config(SoftTarget::program_p4info(), 7))).await.unwrap();
    r
}

/// Opens a stream, becomes primary with `election`, checks the OK answer.
pub async fn arbitrate(
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

pub fn config(p4info: P4Info, cookie: u64) -> ForwardingPipelineConfig {
    ForwardingPipelineConfig {
        p4info: Some(p4info),
        p4_device_config: b"opaque device config".to_vec().into(),
        cookie: Some(Cookie { cookie }),
    }
}

pub fn ent(e: E) -> Entity {
    Entity { entity: Some(e) }
}

pub fn upd(ty: Ty, e: E) -> Update {
    Update { r#type: ty as i32, entity: Some(ent(e)) }
}

pub fn ins(te: TableEntry) -> Update {
    upd(Ty::Insert, E::TableEntry(te))
}

pub fn codes(status: &Status) -> Vec<Code> {
    assert_eq!(status.code(), Code::Unknown, "{status:?}");
    status::write_errors(status).unwrap().iter().map(|e| Code::from_i32(e.canonical_code)).collect()
}

/// The single per-update code of a one-update batch that failed.
pub fn code1(r: Result<(), Status>) -> (Code, String) {
    let status = r.expect_err("the write should fail");
    let errors = status::write_errors(&status).unwrap();
    assert_eq!(errors.len(), 1, "{status:?}");
    (Code::from_i32(errors[0].canonical_code), errors[0].message.clone())
}

impl Rig {
    pub async fn set_config(
        &mut self,
        action: CfgAction,
        config: Option<ForwardingPipelineConfig>,
    ) -> Result<(), Status> {
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

    pub async fn get_config(&mut self, ty: ResponseType) -> Option<ForwardingPipelineConfig> {
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

    pub async fn write_as(&mut self, election: Option<u128>, updates: Vec<Update>) -> Result<(), Status> {
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

    pub async fn write(&mut self, updates: Vec<Update>) -> Result<(), Status> {
        self.write_as(Some(PRIMARY), updates).await
    }

    pub async fn read_req(&mut self, entities: Vec<Entity>) -> Result<(Vec<Entity>, usize), Status> {
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

    pub async fn read(&mut self, e: E) -> Vec<Entity> {
        self.read_req(vec![ent(e)]).await.unwrap().0
    }

    pub async fn read_tables(&mut self, te: TableEntry) -> Vec<TableEntry> {
        self.read(E::TableEntry(te))
            .await
            .into_iter()
            .map(|e| match e.entity {
                Some(E::TableEntry(t)) => t,
                other => panic!("not a table entry: {other:?}"),
            })
            .collect()
    }

    pub fn tid(&self, table: &str) -> u32 {
        self.s.table(table).unwrap().id
    }

    pub fn aid(&self, action: &str) -> u32 {
        self.s.action(action).unwrap().id
    }

    pub fn fid(&self, table: &str, field: &str) -> u32 {
        self.s.match_field(table, field).unwrap().id
    }

    pub fn exact(&self, table: &str, field: &str, v: u128) -> FieldMatch {
        FieldMatch {
            field_id: self.fid(table, field),
            field_match_type: Some(Fm::Exact(p4::field_match::Exact { value: encode(v).into() })),
        }
    }

    pub fn tern(&self, table: &str, field: &str, v: u128, m: u128) -> FieldMatch {
        FieldMatch {
            field_id: self.fid(table, field),
            field_match_type: Some(Fm::Ternary(p4::field_match::Ternary {
                value: encode(v).into(),
                mask: encode(m).into(),
            })),
        }
    }

    pub fn action(&self, name: &str, params: &[(&str, u128)]) -> TableAction {
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

    pub fn wire(&self, port: u128, to: u128) -> TableEntry {
        TableEntry {
            table_id: self.tid("wire"),
            r#match: vec![self.exact("wire", "ingress_port", port)],
            action: Some(self.action("wire_forward", &[("port", to)])),
            ..Default::default()
        }
    }

    /// A `clone_classify_v4` entry on `src`/32 and TCP.
    pub fn classify(&self, src: u32, priority: i32, first_member: u128) -> TableEntry {
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

    pub fn rewrite(&self, member: u128) -> TableEntry {
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

    pub fn session(&self, id: u32, port: u32, instance: u32) -> E {
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

    pub fn counter(&self, name: &str, index: Option<i64>, data: Option<(i64, i64)>) -> E {
        E::CounterEntry(p4::CounterEntry {
            counter_id: if name.is_empty() { 0 } else { self.s.counter(name).unwrap().id },
            index: index.map(|index| p4::Index { index }),
            data: data.map(|(packet_count, byte_count)| p4::CounterData { byte_count, packet_count }),
        })
    }
}

pub fn counter_data(e: &Entity) -> (i64, i64, i64) {
    match &e.entity {
        Some(E::CounterEntry(c)) => {
            let d = c.data.unwrap();
            (c.index.unwrap().index, d.packet_count, d.byte_count)
        }
        other => panic!("not a counter entry: {other:?}"),
    }
}

/// Ethernet + IPv4 + TCP, 60 bytes.
pub fn tcp_frame(src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
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
