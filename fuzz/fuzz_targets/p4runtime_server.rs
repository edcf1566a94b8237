//! The software target's P4Runtime request handling from arbitrary bytes: the
//! bytes are the gRPC request body of `Write`, `Read`,
//! `SetForwardingPipelineConfig` or `StreamChannel`, served in-process by the
//! target's tonic service (`SoftTarget::service`, called as a tower service: the
//! same decoding, checks and translation as over a socket, without one).
//!
//! Input: byte 0 selects
//! - bits 0-1: the RPC (0 Write, 1 Read, 2 SetForwardingPipelineConfig, 3 StreamChannel);
//! - bit 2: structure-aware mode: the rest is decoded as the request message and,
//!   if it decodes, its device id, role and election id are set to those of a
//!   primary client that arbitrates first (so the request gets past the checks);
//! - bit 3: the rest is the HTTP/2 body as is (the fuzzer writes the gRPC
//!   length-prefixed framing); otherwise it is one message, framed here.
//!
//! Every input starts from a target holding a pipeline config (cookie 1) and the
//! entities of `examples/basic.yaml` (wire, classify, rewrite entries, clone
//! sessions): a fresh one, or the previous input's when that input left it
//! untouched (checked by reading it back; fresh targets cost a counter reset). The
//! state of a fresh target, read back once, is the "before" of every input.
//! Checked on every input:
//! - no panic, and every answer is well formed (a `grpc-status`, gRPC frames that
//!   decode as the RPC's response type);
//! - a refused `Write` or `SetForwardingPipelineConfig` (any status but OK and, for
//!   Write, UNKNOWN = per-update errors) leaves the device state read back (every
//!   table's entries and default entries, clone sessions, direct counters, the
//!   committed config's cookie; counters and registers too when the request names
//!   them) exactly as it was;
//! - a `Write` answered UNKNOWN has one `p4.v1.Error` per update, and its accepted
//!   updates alone, applied to a fresh target, all succeed and give the same state:
//!   a refused update left nothing behind;
//! - a `Write` answered OK, applied to a fresh target, gives the same state
//!   (deterministic);
//! - a `Read` changes nothing; a `StreamChannel` ends when its request body ends,
//!   leaving no primary behind.
#![no_main]

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody};
use libfuzzer_sys::fuzz_target;
use p4clone_compiler::intent::{self, Allocation};
use p4clone_compiler::lower::{lower_entities, program_schema};
use p4clone_compiler::source::{load_str, Format};
use p4clone_proto::p4::config::v1::P4Info;
use p4clone_proto::p4::v1::p4_runtime_server::P4RuntimeServer;
use p4clone_proto::p4::v1::{
    entity::Entity as E, packet_replication_engine_entry, stream_message_request, stream_message_response,
    update::Type as UpdateType, CounterEntry, Entity, GetForwardingPipelineConfigRequest,
    GetForwardingPipelineConfigResponse, MasterArbitrationUpdate, PacketReplicationEngineEntry, ReadRequest,
    ReadResponse, RegisterEntry, SetForwardingPipelineConfigRequest, StreamMessageRequest, StreamMessageResponse,
    TableEntry, Uint128, Update, WriteRequest,
};
use p4clone_soft::server::{Service, SoftTarget};
use prost::Message;
use tonic::codegen::Service as _;
use tonic::Code;

const DEVICE: u64 = 1;
const ELECTION: Uint128 = Uint128 { high: 0, low: 7 };

fn rt() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap())
}

/// The base state: the program's P4Info and the inserts of `examples/basic.yaml`.
struct Base {
    p4info: P4Info,
    inserts: Vec<Update>,
    table_ids: Vec<u32>,
}

fn base() -> &'static Base {
    static BASE: OnceLock<Base> = OnceLock::new();
    BASE.get_or_init(|| {
        let loaded = load_str(include_str!("../../examples/basic.yaml"), Format::Yaml).expect("basic.yaml loads");
        let intent = intent::compile(&loaded.config, &Allocation::default()).expect("basic.yaml compiles");
        let schema = program_schema().expect("the built-in schema");
        let entities = lower_entities(&intent.devices[0], schema).expect("basic.yaml lowers");
        let inserts =
            entities.into_iter().map(|e| Update { r#type: UpdateType::Insert as i32, entity: Some(e) }).collect();
        let p4info = SoftTarget::program_p4info();
        let table_ids = p4info.tables.iter().filter_map(|t| t.preamble.as_ref().map(|p| p.id)).collect();
        Base { p4info, inserts, table_ids }
    })
}

/// A target with the pipeline config (cookie 1) and the base entities.
fn fresh() -> SoftTarget {
    let b = base();
    let t = SoftTarget::new(DEVICE);
    t.set_pipeline_in_process(b.p4info.clone(), Some(1)).expect("the program's P4Info commits");
    t.apply_write(&WriteRequest { device_id: DEVICE, updates: b.inserts.clone(), ..Default::default() })
        .expect("the base entities apply");
    t
}

fn frame(msg: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(msg.len() + 5);
    f.push(0);
    f.extend_from_slice(&(msg.len() as u32).to_be_bytes());
    f.extend_from_slice(msg);
    f
}

/// What a gRPC call answered.
struct Reply {
    status: tonic::Status,
    messages: Vec<Bytes>,
}

fn request<B>(method: &str, body: B) -> http::Request<B> {
    http::Request::builder()
        .method("POST")
        .uri(format!("http://localhost/p4.v1.P4Runtime/{method}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(body)
        .unwrap()
}

/// Splits a response body into gRPC messages; panics on bad framing.
fn messages(mut data: &[u8]) -> Vec<Bytes> {
    let mut out = Vec::new();
    while !data.is_empty() {
        assert!(data.len() >= 5, "a truncated gRPC frame header in a response");
        assert_eq!(data[0], 0, "a compressed response frame");
        let n = u32::from_be_bytes([data[1], data[2], data[3], data[4]]) as usize;
        assert!(data.len() >= 5 + n, "a truncated gRPC message in a response");
        out.push(Bytes::copy_from_slice(&data[5..5 + n]));
        data = &data[5 + n..];
    }
    out
}

async fn collect(resp: http::Response<tonic::body::Body>) -> Reply {
    let (parts, body) = resp.into_parts();
    // A trailers-only answer carries the status in the headers.
    if let Some(status) = tonic::Status::from_header_map(&parts.headers) {
        if status.code() != Code::Ok {
            return Reply { status, messages: Vec::new() };
        }
    }
    let collected = match tokio::time::timeout(Duration::from_secs(10), body.collect()).await {
        Err(_) => panic!("a response body did not end in 10 s"),
        Ok(Err(status)) => return Reply { status, messages: Vec::new() },
        Ok(Ok(c)) => c,
    };
    let trailers = collected.trailers().cloned();
    let data = collected.to_bytes();
    let status = trailers
        .as_ref()
        .and_then(tonic::Status::from_header_map)
        .or_else(|| tonic::Status::from_header_map(&parts.headers))
        .expect("an answer without grpc-status");
    Reply { status, messages: messages(&data) }
}

async fn call(svc: &mut P4RuntimeServer<Service>, method: &str, body: Vec<u8>) -> Reply {
    let resp = svc.call(request(method, Full::new(Bytes::from(body)))).await.expect("infallible");
    collect(resp).await
}

/// A primary client: a StreamChannel whose body stays open while this lives.
struct Primary {
    _tx: tokio::sync::mpsc::UnboundedSender<Result<http_body::Frame<Bytes>, std::convert::Infallible>>,
    _body: tonic::body::Body,
}

async fn arbitrate(svc: &mut P4RuntimeServer<Service>) -> Primary {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let msg = StreamMessageRequest {
        update: Some(stream_message_request::Update::Arbitration(MasterArbitrationUpdate {
            device_id: DEVICE,
            election_id: Some(ELECTION),
            ..Default::default()
        })),
    };
    tx.send(Ok(http_body::Frame::data(Bytes::from(frame(&msg.encode_to_vec()))))).unwrap();
    let body = StreamBody::new(tonic::codegen::tokio_stream::wrappers::UnboundedReceiverStream::new(rx));
    let resp = svc.call(request("StreamChannel", body)).await.expect("infallible");
    let mut body = resp.into_body();
    // The first answer: this client is the primary.
    let f = tokio::time::timeout(Duration::from_secs(10), body.frame())
        .await
        .expect("an arbitration answer in 10 s")
        .expect("an arbitration answer")
        .expect("a frame");
    let data = f.into_data().expect("a data frame");
    let m = StreamMessageResponse::decode(&messages(&data)[0][..]).expect("a StreamMessageResponse");
    match m.update {
        Some(stream_message_response::Update::Arbitration(a)) => {
            assert_eq!(a.status.map(|s| s.code), Some(0), "the only client is not primary")
        }
        other => panic!("unexpected first stream answer {other:?}"),
    }
    Primary { _tx: tx, _body: body }
}

/// What the device holds, read back over the service: sorted encoded entities,
/// and the committed cookie.
async fn snapshot(svc: &mut P4RuntimeServer<Service>, deep: bool) -> (Vec<Vec<u8>>, Option<u64>) {
    let b = base();
    let mut entities: Vec<Entity> = vec![
        Entity { entity: Some(E::TableEntry(TableEntry::default())) },
        Entity {
            entity: Some(E::PacketReplicationEngineEntry(PacketReplicationEngineEntry {
                r#type: Some(packet_replication_engine_entry::Type::CloneSessionEntry(Default::default())),
            })),
        },
        Entity { entity: Some(E::DirectCounterEntry(Box::default())) },
    ];
    for &id in &b.table_ids {
        entities.push(Entity {
            entity: Some(E::TableEntry(TableEntry { table_id: id, is_default_action: true, ..Default::default() })),
        });
    }
    if deep {
        entities.push(Entity { entity: Some(E::CounterEntry(CounterEntry::default())) });
        entities.push(Entity { entity: Some(E::RegisterEntry(RegisterEntry::default())) });
    }
    let req = ReadRequest { device_id: DEVICE, entities, ..Default::default() };
    let r = call(svc, "Read", frame(&req.encode_to_vec())).await;
    assert_eq!(r.status.code(), Code::Ok, "the state read failed: {:?}", r.status);
    let mut out: Vec<Vec<u8>> = r
        .messages
        .iter()
        .flat_map(|m| ReadResponse::decode(&m[..]).expect("a ReadResponse").entities)
        .map(|e| e.encode_to_vec())
        .collect();
    out.sort();
    let g = GetForwardingPipelineConfigRequest { device_id: DEVICE, response_type: 1 /* COOKIE_ONLY */ };
    let r = call(svc, "GetForwardingPipelineConfig", frame(&g.encode_to_vec())).await;
    assert_eq!(r.status.code(), Code::Ok, "{:?}", r.status);
    let cfg = GetForwardingPipelineConfigResponse::decode(&r.messages[0][..]).expect("a config response");
    (out, cfg.config.and_then(|c| c.cookie).map(|c| c.cookie))
}

type Snapshot = (Vec<Vec<u8>>, Option<u64>);

/// The state of a fresh target (every input starts from it): without and with
/// counters and registers.
async fn base_snapshot(deep: bool) -> &'static Snapshot {
    static BASE: OnceLock<[Snapshot; 2]> = OnceLock::new();
    if BASE.get().is_none() {
        let mut svc = fresh().service();
        let s = [snapshot(&mut svc, false).await, snapshot(&mut svc, true).await];
        let _ = BASE.set(s);
    }
    &BASE.get().unwrap()[usize::from(deep)]
}

/// Whether a Write names counters or registers (then the snapshot reads them).
fn deep(req: &WriteRequest) -> bool {
    req.updates.iter().any(|u| {
        matches!(
            u.entity.as_ref().and_then(|e| e.entity.as_ref()),
            Some(E::CounterEntry(_)) | Some(E::RegisterEntry(_))
        )
    })
}

/// A fresh target with `req` applied in-process: its state.
async fn replay(req: &WriteRequest, deep: bool) -> (Result<(), tonic::Status>, (Vec<Vec<u8>>, Option<u64>)) {
    let t = fresh();
    let r = t.apply_write(req);
    let mut svc = t.service();
    (r, snapshot(&mut svc, deep).await)
}

/// Checks a Write; returns whether the device is still in its base state.
async fn write(svc: &mut P4RuntimeServer<Service>, body: Vec<u8>, req: Option<WriteRequest>) -> bool {
    // A raw body is not decoded here: its counters and registers are not compared
    // (the target is not reused when such a Write may have applied).
    let deep = req.as_ref().is_some_and(deep);
    let before = base_snapshot(deep).await;
    let r = call(svc, "Write", body).await;
    let after = snapshot(svc, deep).await;
    match r.status.code() {
        Code::Ok => {
            assert!(r.messages.len() == 1, "a Write answered OK with {} messages", r.messages.len());
            if let Some(req) = req {
                let (res, state) = replay(&req, deep).await;
                assert!(res.is_ok(), "an accepted Write fails in-process: {res:?}");
                assert!(state == after, "an accepted Write is not deterministic");
            }
            false
        }
        Code::Unknown => {
            let Some(req) = req else { return false };
            let errors = p4clone_proto::status::write_errors(&r.status).expect("the per-update errors decode");
            assert_eq!(errors.len(), req.updates.len(), "one p4.v1.Error per update: {:?}", r.status);
            assert!(errors.iter().any(|e| !p4clone_proto::status::is_ok(e)), "UNKNOWN without a failed update");
            let accepted: Vec<Update> = req
                .updates
                .iter()
                .zip(&errors)
                .filter(|(_, e)| p4clone_proto::status::is_ok(e))
                .map(|(u, _)| u.clone())
                .collect();
            if accepted.is_empty() {
                assert!(*before == after, "a Write whose every update failed changed the device: {:?}", r.status);
                true
            } else {
                let only = WriteRequest { updates: accepted, ..req };
                let (res, state) = replay(&only, deep).await;
                assert!(res.is_ok(), "the accepted updates alone fail: {res:?} (first refusal: {:?})", r.status);
                assert!(state == after, "a refused update left something behind: {:?}", r.status);
                false
            }
        }
        _ => {
            assert!(*before == after, "a refused Write changed the device: {:?}", r.status);
            true
        }
    }
}

/// Waits until no client is primary (a Write with the primary's election id is
/// PERMISSION_DENIED): the StreamChannel task has seen its body end.
async fn assert_no_primary(svc: &mut P4RuntimeServer<Service>) {
    let w =
        frame(&WriteRequest { device_id: DEVICE, election_id: Some(ELECTION), ..Default::default() }.encode_to_vec());
    for _ in 0..1000 {
        let r = call(svc, "Write", w.clone()).await;
        if r.status.code() == Code::PermissionDenied {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("a primary outlived its stream");
}

/// A target in the base state, reused across inputs while nothing changes it.
static POOL: Mutex<Option<SoftTarget>> = Mutex::new(None);

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let structured = sel & 4 != 0;
    let raw = sel & 8 != 0;
    let target = POOL.lock().unwrap().take().unwrap_or_else(fresh);
    let mut svc = target.service();
    let reuse = rt().block_on(async {
        // Structure-aware: decode, aim at the device as its primary, re-encode.
        let mut primary = None;
        let body = |msg: Vec<u8>| if raw { rest.to_vec() } else { frame(&msg) };
        let reuse = match sel & 3 {
            0 => {
                let mut req = if raw { None } else { WriteRequest::decode(rest).ok() };
                if structured {
                    if let Some(r) = req.as_mut() {
                        r.device_id = DEVICE;
                        r.role.clear();
                        r.election_id = Some(ELECTION);
                        primary = Some(arbitrate(&mut svc).await);
                    }
                }
                let msg = req.as_ref().map_or_else(|| rest.to_vec(), Message::encode_to_vec);
                write(&mut svc, body(msg), req).await
            }
            1 => {
                let before = base_snapshot(false).await;
                let r = call(&mut svc, "Read", body(rest.to_vec())).await;
                for m in &r.messages {
                    ReadResponse::decode(&m[..]).expect("a ReadResponse");
                }
                assert!(*before == snapshot(&mut svc, false).await, "a Read changed the device");
                true
            }
            2 => {
                let mut msg = rest.to_vec();
                if structured {
                    if let Ok(mut req) = SetForwardingPipelineConfigRequest::decode(rest) {
                        req.device_id = DEVICE;
                        req.role.clear();
                        req.election_id = Some(ELECTION);
                        msg = req.encode_to_vec();
                        primary = Some(arbitrate(&mut svc).await);
                    }
                }
                let before = base_snapshot(false).await;
                let r = call(&mut svc, "SetForwardingPipelineConfig", body(msg)).await;
                if r.status.code() == Code::Ok {
                    false
                } else {
                    assert!(
                        *before == snapshot(&mut svc, false).await,
                        "a refused SetForwardingPipelineConfig changed the device: {:?}",
                        r.status
                    );
                    true
                }
            }
            _ => {
                let r = call(&mut svc, "StreamChannel", body(rest.to_vec())).await;
                for m in &r.messages {
                    StreamMessageResponse::decode(&m[..]).expect("a StreamMessageResponse");
                }
                true
            }
        };
        // The stream ended (or the primary left): nobody is primary any more.
        drop(primary);
        assert_no_primary(&mut svc).await;
        reuse
    });
    if reuse {
        *POOL.lock().unwrap() = Some(target);
    }
});
