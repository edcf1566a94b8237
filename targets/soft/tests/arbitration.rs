//! Client arbitration on `StreamChannel` (P4Runtime spec "Client Arbitration and
//! Controller Replication"), over real gRPC: primary / backup answers, the
//! notifications when the primary changes or leaves, who may write, and the
//! stream errors.

use std::time::Duration;

use p4clone_proto::p4::v1::p4_runtime_client::P4RuntimeClient;
use p4clone_proto::p4::v1::{
    self as p4, set_forwarding_pipeline_config_request::Action as CfgAction, stream_message_request::Update as Req,
    stream_message_response::Update as Resp, MasterArbitrationUpdate, StreamMessageRequest, StreamMessageResponse,
    Uint128,
};
use p4clone_proto::schema::P4Schema;
use p4clone_soft::server::{ServerHandle, SoftTarget};
use tokio::sync::mpsc;
use tonic::codegen::tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;
use tonic::{Code, Status, Streaming};

const DEVICE: u64 = 1;

fn u128_msg(v: u128) -> Uint128 {
    Uint128 { high: (v >> 64) as u64, low: v as u64 }
}

fn value(u: &Uint128) -> u128 {
    (u128::from(u.high) << 64) | u128::from(u.low)
}

async fn server() -> (SoftTarget, ServerHandle) {
    let target = SoftTarget::new(DEVICE);
    target.set_pipeline_in_process(SoftTarget::program_p4info(), None).unwrap();
    let handle = target.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    (target, handle)
}

async fn client(h: &ServerHandle) -> P4RuntimeClient<Channel> {
    P4RuntimeClient::connect(format!("http://{}", h.local_addr())).await.unwrap()
}

/// One controller: a client with its open stream.
struct Controller {
    client: P4RuntimeClient<Channel>,
    tx: mpsc::Sender<StreamMessageRequest>,
    rx: Streaming<StreamMessageResponse>,
}

/// What an arbitration answer says: status code and the election id it carries.
#[derive(Debug, PartialEq, Eq)]
struct Answer {
    code: Code,
    election: Option<u128>,
}

fn answer(code: Code, election: u128) -> Answer {
    Answer { code, election: Some(election) }
}

fn arbitration(device_id: u64, election: Option<u128>) -> StreamMessageRequest {
    StreamMessageRequest {
        update: Some(Req::Arbitration(MasterArbitrationUpdate {
            device_id,
            election_id: election.map(u128_msg),
            ..Default::default()
        })),
    }
}

impl Controller {
    async fn open(h: &ServerHandle) -> Self {
        let mut client = client(h).await;
        let (tx, rx) = mpsc::channel(8);
        let rx = client.stream_channel(ReceiverStream::new(rx)).await.unwrap().into_inner();
        Controller { client, tx, rx }
    }

    /// Opens a stream and sends one arbitration update.
    async fn connect(h: &ServerHandle, election: u128) -> Self {
        let c = Self::open(h).await;
        c.send(arbitration(DEVICE, Some(election))).await;
        c
    }

    async fn send(&self, m: StreamMessageRequest) {
        self.tx.send(m).await.unwrap();
    }

    async fn next(&mut self) -> Result<Option<StreamMessageResponse>, Status> {
        tokio::time::timeout(Duration::from_secs(5), self.rx.message()).await.expect("no stream message within 5 s")
    }

    async fn answer(&mut self) -> Answer {
        let msg = self.next().await.unwrap().expect("stream ended");
        let Some(Resp::Arbitration(a)) = msg.update else {
            panic!("expected an arbitration update, got {msg:?}");
        };
        assert_eq!(a.device_id, DEVICE);
        assert!(a.role.is_none());
        Answer { code: Code::from_i32(a.status.unwrap().code), election: a.election_id.as_ref().map(value) }
    }

    /// Asserts that nothing arrives for a moment.
    async fn silent(&mut self) {
        let r = tokio::time::timeout(Duration::from_millis(200), self.rx.message()).await;
        assert!(r.is_err(), "unexpected stream message: {r:?}");
    }

    /// The status the stream was terminated with.
    async fn terminated(&mut self) -> Status {
        loop {
            match self.next().await {
                Err(s) => return s,
                Ok(Some(_)) => continue,
                Ok(None) => panic!("the stream ended without an error"),
            }
        }
    }

    async fn write_wire(&mut self, election: Option<u128>, port: u8) -> Result<(), Status> {
        let s = P4Schema::new(SoftTarget::program_p4info()).unwrap();
        let entry = p4::TableEntry {
            table_id: s.table("wire").unwrap().id,
            r#match: vec![p4::FieldMatch {
                field_id: 1,
                field_match_type: Some(p4::field_match::FieldMatchType::Exact(p4::field_match::Exact {
                    value: vec![port].into(),
                })),
            }],
            action: Some(p4::TableAction {
                r#type: Some(p4::table_action::Type::Action(p4::Action {
                    action_id: s.action("wire_drop").unwrap().id,
                    params: vec![],
                })),
            }),
            ..Default::default()
        };
        self.client
            .write(p4::WriteRequest {
                device_id: DEVICE,
                election_id: election.map(u128_msg),
                updates: vec![p4::Update {
                    r#type: p4::update::Type::Insert as i32,
                    entity: Some(p4::Entity { entity: Some(p4::entity::Entity::TableEntry(entry)) }),
                }],
                ..Default::default()
            })
            .await
            .map(|_| ())
    }
}

#[tokio::test]
async fn the_highest_election_id_is_primary_and_backups_are_told() {
    let (_t, h) = server().await;
    let mut a = Controller::connect(&h, 10).await;
    assert_eq!(a.answer().await, answer(Code::Ok, 10));
    // A lower id: backup; only the newcomer is answered, with the primary's id.
    let mut b = Controller::connect(&h, 5).await;
    assert_eq!(b.answer().await, answer(Code::AlreadyExists, 10));
    a.silent().await;
    // A higher id takes over: everybody is told.
    let mut c = Controller::connect(&h, 1 << 70).await;
    assert_eq!(c.answer().await, answer(Code::Ok, 1 << 70));
    assert_eq!(a.answer().await, answer(Code::AlreadyExists, 1 << 70));
    assert_eq!(b.answer().await, answer(Code::AlreadyExists, 1 << 70));
    h.shutdown().await;
}

#[tokio::test]
async fn only_the_primary_may_write() {
    let (t, h) = server().await;
    let mut a = Controller::connect(&h, 10).await;
    a.answer().await;
    let mut b = Controller::connect(&h, 5).await;
    b.answer().await;
    let e = b.write_wire(Some(5), 1).await.unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    // A backup cannot borrow the primary's id either: the check is on the id, so
    // clients must keep their own (the spec trusts them to).
    a.write_wire(Some(10), 1).await.unwrap();
    let e = a.write_wire(None, 2).await.unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    // Reads need no arbitration.
    let n = b
        .client
        .read(p4::ReadRequest {
            device_id: DEVICE,
            entities: vec![p4::Entity { entity: Some(p4::entity::Entity::TableEntry(Default::default())) }],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .message()
        .await
        .unwrap()
        .unwrap()
        .entities
        .len();
    assert_eq!(n, 1);
    assert_eq!(t.pipeline().table_sizes().wire, 1);
    // The backup cannot set the pipeline.
    let e = b
        .client
        .set_forwarding_pipeline_config(p4::SetForwardingPipelineConfigRequest {
            device_id: DEVICE,
            election_id: Some(u128_msg(5)),
            action: CfgAction::VerifyAndCommit as i32,
            config: Some(p4::ForwardingPipelineConfig {
                p4info: Some(SoftTarget::program_p4info()),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn when_the_primary_leaves_the_backup_is_promoted_and_notified() {
    let (_t, h) = server().await;
    let mut a = Controller::connect(&h, 10).await;
    a.answer().await;
    let mut b = Controller::connect(&h, 5).await;
    assert_eq!(b.answer().await, answer(Code::AlreadyExists, 10));
    let mut c = Controller::connect(&h, 3).await;
    assert_eq!(c.answer().await, answer(Code::AlreadyExists, 10));
    // The primary's stream ends.
    drop(a);
    assert_eq!(b.answer().await, answer(Code::Ok, 5));
    assert_eq!(c.answer().await, answer(Code::AlreadyExists, 5));
    b.write_wire(Some(5), 1).await.unwrap();
    let e = c.write_wire(Some(10), 2).await.unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    // A backup leaving changes nothing for the others.
    drop(c);
    b.silent().await;
    // The last one leaving: nobody is primary, a newcomer without id is told so.
    drop(b);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut d = Controller::open(&h).await;
    d.send(arbitration(DEVICE, None)).await;
    assert_eq!(d.answer().await, Answer { code: Code::NotFound, election: Some(10) });
}

#[tokio::test]
async fn a_primary_lowering_its_id_is_demoted_and_everyone_is_told() {
    let (_t, h) = server().await;
    let mut a = Controller::connect(&h, 10).await;
    a.answer().await;
    let mut b = Controller::connect(&h, 5).await;
    b.answer().await;
    // Re-sending the same id is answered again, nothing changes.
    a.send(arbitration(DEVICE, Some(10))).await;
    assert_eq!(a.answer().await, answer(Code::Ok, 10));
    b.silent().await;
    a.send(arbitration(DEVICE, Some(2))).await;
    assert_eq!(a.answer().await, answer(Code::AlreadyExists, 5));
    assert_eq!(b.answer().await, answer(Code::Ok, 5));
}

#[tokio::test]
async fn an_unknown_device_id_ends_the_stream_with_not_found() {
    let (_t, h) = server().await;
    let mut a = Controller::open(&h).await;
    a.send(arbitration(DEVICE + 1, Some(1))).await;
    assert_eq!(a.terminated().await.code(), Code::NotFound);
    // Changing device on a live stream is FAILED_PRECONDITION.
    let mut b = Controller::connect(&h, 4).await;
    b.answer().await;
    b.send(arbitration(DEVICE + 1, Some(4))).await;
    assert_eq!(b.terminated().await.code(), Code::FailedPrecondition);
}

#[tokio::test]
async fn an_election_id_in_use_is_invalid_argument() {
    let (_t, h) = server().await;
    let mut a = Controller::connect(&h, 10).await;
    a.answer().await;
    let mut b = Controller::connect(&h, 10).await;
    assert_eq!(b.terminated().await.code(), Code::InvalidArgument);
    // The first client is unaffected.
    a.silent().await;
    a.write_wire(Some(10), 1).await.unwrap();
}

#[tokio::test]
async fn only_the_default_role_is_supported() {
    let (_t, h) = server().await;
    let mut a = Controller::open(&h).await;
    a.send(StreamMessageRequest {
        update: Some(Req::Arbitration(MasterArbitrationUpdate {
            device_id: DEVICE,
            election_id: Some(u128_msg(1)),
            role: Some(p4::Role { name: "sdn".into(), ..Default::default() }),
            ..Default::default()
        })),
    })
    .await;
    assert_eq!(a.terminated().await.code(), Code::Unimplemented);
    // An explicit but empty role is the default role.
    let mut b = Controller::open(&h).await;
    b.send(StreamMessageRequest {
        update: Some(Req::Arbitration(MasterArbitrationUpdate {
            device_id: DEVICE,
            election_id: Some(u128_msg(1)),
            role: Some(p4::Role::default()),
            ..Default::default()
        })),
    })
    .await;
    assert_eq!(b.answer().await, answer(Code::Ok, 1));
}

#[tokio::test]
async fn clients_without_election_id_are_backups() {
    let (_t, h) = server().await;
    let mut a = Controller::open(&h).await;
    a.send(arbitration(DEVICE, None)).await;
    assert_eq!(a.answer().await, Answer { code: Code::NotFound, election: None });
    let mut z = Controller::open(&h).await;
    z.send(arbitration(DEVICE, Some(0))).await;
    assert_eq!(z.answer().await.code, Code::NotFound);
    let e = a.write_wire(None, 1).await.unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    // A primary arriving is announced to everybody.
    let mut b = Controller::connect(&h, 3).await;
    assert_eq!(b.answer().await, answer(Code::Ok, 3));
    assert_eq!(a.answer().await, answer(Code::AlreadyExists, 3));
    assert_eq!(z.answer().await, answer(Code::AlreadyExists, 3));
}

#[tokio::test]
async fn packet_out_gets_a_stream_error_and_shutdown_ends_streams() {
    let (_t, h) = server().await;
    let mut a = Controller::connect(&h, 1).await;
    a.answer().await;
    a.send(StreamMessageRequest {
        update: Some(Req::Packet(p4::PacketOut { payload: vec![1, 2, 3].into(), metadata: vec![] })),
    })
    .await;
    let msg = a.next().await.unwrap().unwrap();
    let Some(Resp::Error(e)) = msg.update else {
        panic!("expected a stream error, got {msg:?}");
    };
    assert_eq!(e.canonical_code, Code::Unimplemented as i32);
    h.shutdown().await;
    assert_eq!(a.terminated().await.code(), Code::Unavailable);
}
