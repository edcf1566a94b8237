//! The P4Runtime client: connection (plain, TLS, mutual TLS), the StreamChannel
//! with primary/backup arbitration, reconnect with backoff, and the unary RPCs.
//!
//! ```no_run
//! # async fn f() -> Result<(), p4clone_runtime::ClientError> {
//! use p4clone_runtime::client::{Client, ConnectOptions};
//! let mut c = Client::connect(ConnectOptions::new("127.0.0.1:9559", 1)).await?;
//! assert!(c.is_primary());
//! # Ok(()) }
//! ```
//!
//! # Arbitration
//! [`Client::connect`] opens the StreamChannel, sends a `MasterArbitrationUpdate`
//! with the configured election id (default 1, never derived from the clock) and
//! waits for the device's answer: status `OK` means this controller is the
//! primary, anything else (`ALREADY_EXISTS` per the spec) that it is a backup; the
//! answer's election id is the primary's. A background task keeps reading the
//! stream, so later arbitration updates (e.g. the primary went away and this
//! controller was promoted) are reflected by [`Client::is_primary`]. A backup
//! never writes: [`Client::write`] and [`Client::set_pipeline`] fail with
//! [`ClientError::NotPrimary`] without sending anything.
//!
//! When the stream ends (device restart, network), the client is marked
//! disconnected; [`Client::reconnect`] opens a new channel and stream with
//! exponential backoff and arbitrates again.

use std::path::Path;
use std::time::Duration;

use p4clone_proto::p4::v1::p4_runtime_client::P4RuntimeClient;
use p4clone_proto::p4::v1::{
    get_forwarding_pipeline_config_request, set_forwarding_pipeline_config_request, stream_message_request,
    stream_message_response, write_request, CapabilitiesRequest, Entity, ForwardingPipelineConfig,
    GetForwardingPipelineConfigRequest, MasterArbitrationUpdate, ReadRequest, SetForwardingPipelineConfigRequest,
    StreamMessageRequest, Uint128, Update, WriteRequest, WriteResponse,
};
use p4clone_proto::p4clone::soft::v1::{MemberDiagnostics, ReadCloneDiagnosticsRequest, ReadCloneDiagnosticsResponse};
use p4clone_proto::{p4::v1::Error as P4Error, status};
use serde::Serialize;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::encode::{EncodedWriteRequest, UpdateList};
use crate::error::ClientError;

/// The gRPC method path of `p4.v1.P4Runtime.Write`.
const WRITE_PATH: &str = "/p4.v1.P4Runtime/Write";
/// The gRPC method path of `p4clone.soft.v1.CloneDiagnostics.Read`.
const DIAGNOSTICS_READ_PATH: &str = "/p4clone.soft.v1.CloneDiagnostics/Read";

/// Default P4Runtime port.
pub const DEFAULT_PORT: u16 = 9559;

/// TLS material, PEM encoded. `Debug` never shows the private key.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// CA certificate(s) to verify the device with; `None` = the public web PKI roots.
    pub ca: Option<Vec<u8>>,
    /// Client certificate chain, for mutual TLS (with `key`).
    pub cert: Option<Vec<u8>>,
    /// Client private key, for mutual TLS (with `cert`).
    pub key: Option<Vec<u8>>,
    /// Name to verify the device certificate against; default: the address's host.
    pub domain: Option<String>,
}

impl std::fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let len = |v: &Option<Vec<u8>>| v.as_ref().map(|b| format!("{} bytes", b.len()));
        f.debug_struct("TlsOptions")
            .field("ca", &len(&self.ca))
            .field("cert", &len(&self.cert))
            .field("key", &self.key.as_ref().map(|_| "(redacted)"))
            .field("domain", &self.domain)
            .finish()
    }
}

impl TlsOptions {
    /// Reads the PEM files (`--ca`, `--cert`, `--key`). Errors name the file.
    pub fn from_files(
        ca: Option<&Path>,
        cert: Option<&Path>,
        key: Option<&Path>,
    ) -> Result<TlsOptions, std::io::Error> {
        let read = |p: Option<&Path>| -> Result<Option<Vec<u8>>, std::io::Error> {
            p.map(|p| {
                std::fs::read(p).map_err(|e| std::io::Error::new(e.kind(), format!("cannot read {}: {e}", p.display())))
            })
            .transpose()
        };
        Ok(TlsOptions { ca: read(ca)?, cert: read(cert)?, key: read(key)?, domain: None })
    }
}

/// Reconnect backoff: `initial`, doubled after every failed attempt up to `max`,
/// for at most `attempts` attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// First delay.
    pub initial: Duration,
    /// Largest delay.
    pub max: Duration,
    /// Attempts before giving up (at least 1).
    pub attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { initial: Duration::from_millis(100), max: Duration::from_secs(5), attempts: 8 }
    }
}

/// How to reach and arbitrate with one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectOptions {
    /// `host:port` (a missing port means 9559).
    pub address: String,
    /// P4Runtime device id.
    pub device_id: u64,
    /// Election id (default 1). Higher wins; equal ids are refused by the device.
    pub election_id: u128,
    /// TLS (server-authenticated) or mutual TLS; `None` = plaintext.
    pub tls: Option<TlsOptions>,
    /// Connect and arbitration timeout.
    pub timeout: Duration,
    /// Timeout of each RPC (a whole Read, one Write batch).
    pub rpc_timeout: Duration,
    /// Reconnect policy.
    pub backoff: Backoff,
    /// Open the StreamChannel and arbitrate (default). `false` makes a
    /// read-only client: no stream, no election id taken on the device (so it
    /// never competes with a controller), every write refused locally.
    pub arbitrate: bool,
}

impl ConnectOptions {
    /// Plaintext, election id 1, 5 s connect timeout, 120 s RPC timeout.
    pub fn new(address: impl Into<String>, device_id: u64) -> ConnectOptions {
        ConnectOptions {
            address: address.into(),
            device_id,
            election_id: 1,
            tls: None,
            timeout: Duration::from_secs(5),
            rpc_timeout: Duration::from_secs(120),
            backoff: Backoff::default(),
            arbitrate: true,
        }
    }

    /// The same options for a read-only client (see [`ConnectOptions::arbitrate`]).
    pub fn read_only(mut self) -> ConnectOptions {
        self.arbitrate = false;
        self
    }
}

/// What the device last said about arbitration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Arbitration {
    /// The StreamChannel is open.
    pub connected: bool,
    /// This controller is the primary.
    pub primary: bool,
    /// Our election id.
    pub election_id: u128,
    /// The primary's election id, as reported by the device (ours if primary).
    pub primary_election_id: Option<u128>,
}

/// A connected, arbitrated P4Runtime client for one device.
pub struct Client {
    opts: ConnectOptions,
    rpc: P4RuntimeClient<Channel>,
    /// The same connection, for RPCs sent with our own codec (pre-encoded
    /// Write batches).
    grpc: tonic::client::Grpc<Channel>,
    arb: watch::Receiver<Arbitration>,
    // Held so the request side of the stream stays open; dropping it ends the
    // stream (the device then forgets this controller).
    stream_tx: Option<mpsc::Sender<StreamMessageRequest>>,
    reader: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("address", &self.opts.address)
            .field("device_id", &self.opts.device_id)
            .field("arbitration", &*self.arb.borrow())
            .finish()
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.close_stream();
    }
}

fn uint128(v: u128) -> Uint128 {
    Uint128 { high: (v >> 64) as u64, low: v as u64 }
}

fn from_uint128(v: &Uint128) -> u128 {
    (u128::from(v.high) << 64) | u128::from(v.low)
}

/// `host:port` with the default port added when missing.
pub fn normalize_address(address: &str) -> Result<String, ClientError> {
    let bad = |m: &str| ClientError::BadAddress { address: address.to_string(), message: m.to_string() };
    let a = address.trim();
    let a = a.strip_prefix("http://").or_else(|| a.strip_prefix("https://")).unwrap_or(a);
    if a.is_empty() {
        return Err(bad("empty"));
    }
    if a.contains('/') {
        return Err(bad("expected host:port"));
    }
    // [v6]:port, v6 without brackets (no port), host:port, host.
    if a.starts_with('[') {
        return if a.contains("]:") {
            Ok(a.to_string())
        } else if a.ends_with(']') {
            Ok(format!("{a}:{DEFAULT_PORT}"))
        } else {
            Err(bad("unterminated `[`"))
        };
    }
    match a.matches(':').count() {
        0 => Ok(format!("{a}:{DEFAULT_PORT}")),
        1 => {
            let (_, port) = a.rsplit_once(':').unwrap_or((a, ""));
            port.parse::<u16>().map_err(|_| bad(&format!("port `{port}` is not a number in 0..65535")))?;
            Ok(a.to_string())
        }
        _ => Ok(format!("[{a}]:{DEFAULT_PORT}")),
    }
}

/// The host part of a normalized `host:port` (brackets removed).
fn host_of(address: &str) -> String {
    let h = address.rsplit_once(':').map_or(address, |(h, _)| h);
    h.trim_start_matches('[').trim_end_matches(']').to_string()
}

/// The most useful description of a transport error: the innermost I/O error
/// (`connection refused`), else the innermost cause.
fn transport_reason(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut last = e.to_string();
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
                std::io::ErrorKind::TimedOut => "connection timed out".to_string(),
                std::io::ErrorKind::ConnectionReset => "connection reset".to_string(),
                _ => io.to_string(),
            };
        }
        let s = err.to_string();
        if !s.is_empty() {
            last = s;
        }
        cur = err.source();
    }
    last
}

impl Client {
    /// Connects, opens the StreamChannel and arbitrates (see the module docs).
    pub async fn connect(opts: ConnectOptions) -> Result<Client, ClientError> {
        let mut opts = opts;
        opts.address = normalize_address(&opts.address)?;
        // A controller that just left with the same election id may not be
        // gone from the device yet (its stream end is still in flight): the
        // device refuses the id (INVALID_ARGUMENT) for that moment. Retry for
        // up to about a second before reporting it.
        let mut delay = Duration::from_millis(20);
        let mut waited = Duration::ZERO;
        loop {
            match open(&opts).await {
                Ok((rpc, grpc, arb, tx, reader)) => {
                    return Ok(Client { opts, rpc, grpc, arb, stream_tx: Some(tx), reader: Some(reader) })
                }
                Err(ClientError::Arbitration { message, .. })
                    if message.starts_with("INVALID_ARGUMENT") && waited < Duration::from_secs(1) =>
                {
                    tokio::time::sleep(delay).await;
                    waited += delay;
                    delay = (delay * 2).min(Duration::from_millis(250));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Ends the StreamChannel and waits (at most a second) until the device has
    /// closed it too, so the election id is free again when this returns.
    /// Dropping a client also ends the stream, without waiting.
    pub async fn close(mut self) {
        self.stream_tx = None;
        if let Some(mut r) = self.reader.take() {
            if tokio::time::timeout(Duration::from_secs(1), &mut r).await.is_err() {
                r.abort();
            }
        }
    }

    /// The options this client was made with (address normalized).
    pub fn options(&self) -> &ConnectOptions {
        &self.opts
    }

    /// `host:port` of the device.
    pub fn address(&self) -> &str {
        &self.opts.address
    }

    /// P4Runtime device id.
    pub fn device_id(&self) -> u64 {
        self.opts.device_id
    }

    /// The latest arbitration state.
    pub fn arbitration(&self) -> Arbitration {
        *self.arb.borrow()
    }

    /// A receiver of the arbitration state, notified on every change (role,
    /// stream end); it closes when the stream's reader stops.
    pub fn arbitration_watch(&self) -> watch::Receiver<Arbitration> {
        self.arb.clone()
    }

    /// Whether this controller is currently the primary (and its stream is open).
    pub fn is_primary(&self) -> bool {
        let a = self.arb.borrow();
        a.connected && a.primary
    }

    /// Whether the StreamChannel is open.
    pub fn is_connected(&self) -> bool {
        self.arb.borrow().connected
    }

    /// Waits until this controller is primary, the stream closes, or `timeout`.
    /// Returns whether it is primary.
    pub async fn wait_primary(&mut self, timeout: Duration) -> bool {
        let mut rx = self.arb.clone();
        let fut = async move {
            loop {
                {
                    let a = rx.borrow_and_update();
                    if a.connected && a.primary {
                        return true;
                    }
                    if !a.connected {
                        return false;
                    }
                }
                if rx.changed().await.is_err() {
                    return false;
                }
            }
        };
        tokio::time::timeout(timeout, fut).await.unwrap_or(false)
    }

    /// Closes the current stream and connects again, with exponential backoff
    /// (see [`ConnectOptions::backoff`]). Arbitrates again with the same
    /// election id.
    pub async fn reconnect(&mut self) -> Result<(), ClientError> {
        self.close_stream();
        let b = self.opts.backoff;
        let mut delay = b.initial;
        let mut last = None;
        for attempt in 0..b.attempts.max(1) {
            if attempt > 0 {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(b.max);
            }
            match open(&self.opts).await {
                Ok((rpc, grpc, arb, tx, reader)) => {
                    self.rpc = rpc;
                    self.grpc = grpc;
                    self.arb = arb;
                    self.stream_tx = Some(tx);
                    self.reader = Some(reader);
                    return Ok(());
                }
                Err(e) if e.is_connection() => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| ClientError::Unreachable {
            address: self.opts.address.clone(),
            reason: "no attempt made".into(),
        }))
    }

    /// Ends the StreamChannel (the device forgets this controller).
    pub fn close_stream(&mut self) {
        self.stream_tx = None;
        if let Some(r) = self.reader.take() {
            r.abort();
        }
    }

    /// `Ok` if this client may write (it is primary with an open stream), else
    /// the [`ClientError::NotPrimary`] / [`ClientError::Disconnected`] a write
    /// would fail with.
    pub fn ensure_primary(&self) -> Result<(), ClientError> {
        if !self.opts.arbitrate {
            return Err(ClientError::NotPrimary(format!(
                "P4Runtime device at {} (device id {}): this is a read-only connection (no arbitration); it never writes",
                self.opts.address, self.opts.device_id
            )));
        }
        let a = *self.arb.borrow();
        if !a.connected {
            return Err(ClientError::Disconnected {
                address: self.opts.address.clone(),
                reason: "stream ended".into(),
            });
        }
        if !a.primary {
            let other = match a.primary_election_id {
                Some(p) if p != a.election_id => format!(", primary has a higher one: {p}"),
                _ => ", primary has a higher one".to_string(),
            };
            return Err(ClientError::NotPrimary(format!(
                "P4Runtime device at {} (device id {}): this controller is backup (election id {}{other}); a backup never writes",
                self.opts.address, self.opts.device_id, a.election_id
            )));
        }
        Ok(())
    }

    fn rpc_error(&self, op: &'static str, s: &tonic::Status) -> ClientError {
        rpc_error(&self.opts.address, op, s)
    }

    async fn timed<T>(
        &self,
        what: &'static str,
        fut: impl std::future::Future<Output = Result<T, ClientError>>,
    ) -> Result<T, ClientError> {
        match tokio::time::timeout(self.opts.rpc_timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(ClientError::Timeout {
                address: self.opts.address.clone(),
                what: what.to_string(),
                timeout: self.opts.rpc_timeout,
            }),
        }
    }

    /// One Write RPC (`CONTINUE_ON_ERROR`, the only atomicity PI accepts).
    ///
    /// `Ok(errors)` lists the updates the device refused, as `(index in
    /// updates, p4.v1.Error)`; empty means all applied. `Err` is a batch-level
    /// failure (nothing known to be applied), or [`ClientError::NotPrimary`].
    pub async fn write(&mut self, updates: Vec<Update>) -> Result<Vec<(usize, P4Error)>, ClientError> {
        self.write_detached(updates)?.await
    }

    /// [`Client::write`] as a future that does not borrow the client, so several
    /// batches can be in flight at once (as batched writes keep them).
    /// The primary check happens now; a backup gets the error at once.
    pub fn write_detached(
        &self,
        updates: Vec<Update>,
    ) -> Result<
        impl std::future::Future<Output = Result<Vec<(usize, P4Error)>, ClientError>> + Send + 'static,
        ClientError,
    > {
        self.write_encoded_detached(updates.as_slice(), 0..updates.len())
    }

    /// [`Client::write_detached`] for `updates[range]` of any [`UpdateList`]: the
    /// request is encoded now, from the borrowed entities, and the future owns
    /// only its bytes.
    pub fn write_encoded_detached(
        &self,
        updates: &(impl UpdateList + ?Sized),
        range: std::ops::Range<usize>,
    ) -> Result<
        impl std::future::Future<Output = Result<Vec<(usize, P4Error)>, ClientError>> + Send + 'static,
        ClientError,
    > {
        self.ensure_primary()?;
        let n = range.len();
        let header = WriteRequest {
            device_id: self.opts.device_id,
            election_id: Some(uint128(self.opts.election_id)),
            atomicity: write_request::Atomicity::ContinueOnError as i32,
            ..Default::default()
        };
        let req = EncodedWriteRequest::encode(&header, updates, range);
        let mut grpc = self.grpc.clone();
        let arb = self.arb.clone();
        let (address, device_id, election_id, timeout) =
            (self.opts.address.clone(), self.opts.device_id, self.opts.election_id, self.opts.rpc_timeout);
        Ok(async move {
            if n == 0 {
                return Ok(Vec::new());
            }
            let call = unary::<_, WriteResponse>(&mut grpc, WRITE_PATH, req);
            let r = match tokio::time::timeout(timeout, call).await {
                Ok(r) => r,
                Err(_) => return Err(ClientError::Timeout { address, what: "Write".into(), timeout }),
            };
            match r {
                Ok(_) => Ok(Vec::new()),
                Err(s) => {
                    let per_update = status::write_errors(&s).unwrap_or_default();
                    if per_update.len() == n {
                        Ok(per_update.into_iter().enumerate().filter(|(_, e)| !status::is_ok(e)).collect())
                    } else if s.code() == tonic::Code::PermissionDenied && !arb.borrow().connected {
                        Err(ClientError::Disconnected {
                            address,
                            reason: format!("the device no longer knows this controller: {}", s.message()),
                        })
                    } else if s.code() == tonic::Code::PermissionDenied {
                        Err(ClientError::NotPrimary(format!(
                            "P4Runtime device at {address} (device id {device_id}) refused the write: not primary (election id {election_id}): {}",
                            s.message()
                        )))
                    } else {
                        Err(rpc_error(&address, "Write", &s))
                    }
                }
            }
        })
    }

    /// Reads the per-member send failures of a p4clone software target
    /// (`p4clone.soft.v1.CloneDiagnostics`; empty `members`: every member with a
    /// failure). `Ok(None)`: the device does not serve it (UNIMPLEMENTED), as BMv2
    /// and switches do not: those counts are unknown there.
    pub async fn read_clone_diagnostics(
        &mut self,
        members: Vec<u32>,
    ) -> Result<Option<Vec<MemberDiagnostics>>, ClientError> {
        let req = ReadCloneDiagnosticsRequest { device_id: self.opts.device_id, members };
        let mut grpc = self.grpc.clone();
        let addr = self.opts.address.clone();
        self.timed("CloneDiagnostics.Read", async move {
            match unary::<_, ReadCloneDiagnosticsResponse>(&mut grpc, DIAGNOSTICS_READ_PATH, req).await {
                Ok(r) => Ok(Some(r.into_inner().members)),
                Err(s) if s.code() == tonic::Code::Unimplemented => Ok(None),
                Err(s) => Err(rpc_error(&addr, "CloneDiagnostics.Read", &s)),
            }
        })
        .await
    }

    /// One Read RPC; all response messages collected.
    pub async fn read(&mut self, entities: Vec<Entity>) -> Result<Vec<Entity>, ClientError> {
        let req = ReadRequest { device_id: self.opts.device_id, entities, ..Default::default() };
        let mut rpc = self.rpc.clone();
        let addr = self.opts.address.clone();
        self.timed("Read", async move {
            let mut stream = rpc.read(req).await.map_err(|s| rpc_error(&addr, "Read", &s))?.into_inner();
            let mut out = Vec::new();
            loop {
                match stream.message().await {
                    Ok(Some(resp)) => {
                        if out.is_empty() {
                            out = resp.entities;
                        } else {
                            out.extend(resp.entities);
                        }
                    }
                    Ok(None) => break,
                    Err(s) => return Err(rpc_error(&addr, "Read", &s)),
                }
            }
            Ok(out)
        })
        .await
    }

    /// GetForwardingPipelineConfig. `Ok(None)` when the device has no pipeline
    /// (it answers `FAILED_PRECONDITION`/`NOT_FOUND`, or an empty config).
    pub async fn get_pipeline(&mut self, with_p4info: bool) -> Result<Option<ForwardingPipelineConfig>, ClientError> {
        use get_forwarding_pipeline_config_request::ResponseType;
        let req = GetForwardingPipelineConfigRequest {
            device_id: self.opts.device_id,
            response_type: if with_p4info { ResponseType::P4infoAndCookie } else { ResponseType::CookieOnly } as i32,
        };
        let mut rpc = self.rpc.clone();
        let r = self
            .timed("GetForwardingPipelineConfig", async move { Ok(rpc.get_forwarding_pipeline_config(req).await) })
            .await?;
        match r {
            Ok(resp) => {
                let cfg = resp.into_inner().config;
                Ok(cfg.filter(|c| c.cookie.is_some() || c.p4info.is_some()))
            }
            Err(s) if matches!(s.code(), tonic::Code::FailedPrecondition | tonic::Code::NotFound) => Ok(None),
            Err(s) => Err(self.rpc_error("GetForwardingPipelineConfig", &s)),
        }
    }

    /// SetForwardingPipelineConfig with `VERIFY_AND_COMMIT`.
    pub async fn set_pipeline(&mut self, config: ForwardingPipelineConfig) -> Result<(), ClientError> {
        self.ensure_primary()?;
        let req = SetForwardingPipelineConfigRequest {
            device_id: self.opts.device_id,
            election_id: Some(uint128(self.opts.election_id)),
            action: set_forwarding_pipeline_config_request::Action::VerifyAndCommit as i32,
            config: Some(config),
            ..Default::default()
        };
        let mut rpc = self.rpc.clone();
        let r = self
            .timed("SetForwardingPipelineConfig", async move { Ok(rpc.set_forwarding_pipeline_config(req).await) })
            .await?;
        r.map(|_| ()).map_err(|s| self.rpc_error("SetForwardingPipelineConfig", &s))
    }
}

pub(crate) fn rpc_error(address: &str, op: &'static str, s: &tonic::Status) -> ClientError {
    if s.code() == tonic::Code::Unavailable {
        let reason = std::error::Error::source(s).map(transport_reason).unwrap_or_else(|| s.message().to_string());
        return ClientError::Unreachable {
            address: address.to_string(),
            reason: if reason.is_empty() { format!("{op}: unavailable") } else { reason },
        };
    }
    ClientError::Rpc { address: address.to_string(), op, code: s.code(), message: s.message().to_string() }
}

/// One unary RPC on `grpc` at `path` with prost encoding, for the calls the
/// generated `P4RuntimeClient` cannot make (pre-encoded Write batches, p4clone's
/// own services).
async fn unary<Req, Resp>(
    grpc: &mut tonic::client::Grpc<Channel>,
    path: &'static str,
    req: Req,
) -> Result<tonic::Response<Resp>, tonic::Status>
where
    Req: prost::Message + Send + Sync + 'static,
    Resp: prost::Message + Default + Send + Sync + 'static,
{
    grpc.ready().await.map_err(|e| tonic::Status::unavailable(format!("connection not ready: {e}")))?;
    let codec = tonic_prost::ProstCodec::<Req, Resp>::default();
    grpc.unary(tonic::Request::new(req), tonic::codegen::http::uri::PathAndQuery::from_static(path), codec).await
}

type Opened = (
    P4RuntimeClient<Channel>,
    tonic::client::Grpc<Channel>,
    watch::Receiver<Arbitration>,
    mpsc::Sender<StreamMessageRequest>,
    JoinHandle<()>,
);

async fn channel(opts: &ConnectOptions) -> Result<Channel, ClientError> {
    let address = &opts.address;
    let scheme = if opts.tls.is_some() { "https" } else { "http" };
    let mut ep = Endpoint::from_shared(format!("{scheme}://{address}"))
        .map_err(|e| ClientError::BadAddress { address: address.clone(), message: e.to_string() })?
        .connect_timeout(opts.timeout)
        .tcp_nodelay(true)
        .http2_adaptive_window(true);
    if let Some(tls) = &opts.tls {
        let tls_err = |m: String| ClientError::Tls { address: address.clone(), message: m };
        let mut cfg = ClientTlsConfig::new().domain_name(tls.domain.clone().unwrap_or_else(|| host_of(address)));
        match &tls.ca {
            Some(ca) => cfg = cfg.ca_certificate(Certificate::from_pem(ca)),
            None => cfg = cfg.with_webpki_roots(),
        }
        match (&tls.cert, &tls.key) {
            (Some(c), Some(k)) => cfg = cfg.identity(Identity::from_pem(c, k)),
            (None, None) => {}
            _ => return Err(tls_err("mutual TLS needs both a client certificate and its key".into())),
        }
        ep = ep.tls_config(cfg).map_err(|e| tls_err(transport_reason(&e)))?;
    }
    let ch = match tokio::time::timeout(opts.timeout + Duration::from_millis(100), ep.connect()).await {
        Ok(Ok(ch)) => ch,
        Ok(Err(e)) => return Err(ClientError::Unreachable { address: address.clone(), reason: transport_reason(&e) }),
        Err(_) => {
            return Err(ClientError::Timeout {
                address: address.clone(),
                what: "connect".into(),
                timeout: opts.timeout,
            })
        }
    };
    check_accepted(&ch, address, opts.tls.as_ref(), opts.timeout).await?;
    Ok(ch)
}

/// One `Capabilities` call right after connecting, so that a connection the
/// device accepts at the TCP level but not at the TLS / HTTP/2 level is
/// reported as what it most likely is, not as a later RPC's transport error:
/// - TLS: with TLS 1.3 a server that refuses the client's certificate (or its
///   lack) says so only after the client considers the handshake done; the
///   first RPC then just sees the connection fail → [`ClientError::Tls`];
/// - plaintext against a TLS server: the answer is not HTTP/2 →
///   [`ClientError::Unreachable`] suggesting `--ca`.
///
/// Any answer, even an error status, means the session was accepted.
async fn check_accepted(
    ch: &Channel,
    address: &str,
    tls: Option<&TlsOptions>,
    timeout: Duration,
) -> Result<(), ClientError> {
    let mut probe = P4RuntimeClient::new(ch.clone());
    let Ok(Err(status)) = tokio::time::timeout(timeout, probe.capabilities(CapabilitiesRequest::default())).await
    else {
        return Ok(());
    };
    match tls {
        Some(tls) if transport_failure(&status) => {
            let message = if tls.cert.is_some() {
                "the connection failed right after the TLS handshake: the device does not accept the client \
                 certificate given (--cert; not signed by its client CA?)"
            } else {
                "the connection failed right after the TLS handshake: the device probably requires mutual \
                 TLS (a client certificate signed by its client CA: --cert and --key)"
            };
            Err(ClientError::Tls { address: address.to_string(), message: message.to_string() })
        }
        None if transport_failure(&status) => Err(ClientError::Unreachable {
            address: address.to_string(),
            reason: format!(
                "no plaintext HTTP/2 answer ({}): the device may require TLS (--ca FILE)",
                std::error::Error::source(&status).map(transport_reason).unwrap_or_else(|| status.message().into())
            ),
        }),
        _ => Ok(()),
    }
}

/// Whether an RPC failed below gRPC (connection, HTTP/2), not with a status
/// the device sent.
fn transport_failure(s: &tonic::Status) -> bool {
    let mut cur = std::error::Error::source(s);
    while let Some(e) = cur {
        if e.is::<hyper::Error>() || e.is::<std::io::Error>() {
            return true;
        }
        cur = e.source();
    }
    false
}

fn arbitration_request(opts: &ConnectOptions) -> StreamMessageRequest {
    StreamMessageRequest {
        update: Some(stream_message_request::Update::Arbitration(MasterArbitrationUpdate {
            device_id: opts.device_id,
            election_id: Some(uint128(opts.election_id)),
            ..Default::default()
        })),
    }
}

/// Applies an arbitration answer to `state`.
fn apply_arbitration(state: &mut Arbitration, m: &MasterArbitrationUpdate) {
    let ok = m.status.as_ref().is_none_or(|s| s.code == 0);
    state.primary = ok;
    state.primary_election_id = m.election_id.as_ref().map(from_uint128);
    if ok && state.primary_election_id.is_none() {
        state.primary_election_id = Some(state.election_id);
    }
}

async fn open(opts: &ConnectOptions) -> Result<Opened, ClientError> {
    let address = opts.address.clone();
    let ch = channel(opts).await?;
    let grpc = tonic::client::Grpc::new(ch.clone())
        .max_decoding_message_size(usize::MAX)
        .max_encoding_message_size(usize::MAX);
    let mut rpc = P4RuntimeClient::new(ch).max_decoding_message_size(usize::MAX).max_encoding_message_size(usize::MAX);
    if !opts.arbitrate {
        let (wtx, wrx) = watch::channel(Arbitration {
            connected: false,
            primary: false,
            election_id: opts.election_id,
            primary_election_id: None,
        });
        // No stream: keep the sender alive in a task that ends with the client.
        let (tx, mut rx) = mpsc::channel::<StreamMessageRequest>(1);
        let reader = tokio::spawn(async move {
            while rx.recv().await.is_some() {}
            drop(wtx);
        });
        return Ok((rpc, grpc, wrx, tx, reader));
    }
    let (tx, rx) = mpsc::channel::<StreamMessageRequest>(16);
    tx.send(arbitration_request(opts)).await.map_err(|_| ClientError::Protocol {
        address: address.clone(),
        message: "stream request queue closed".into(),
    })?;
    let timeout = opts.timeout;
    let first = async {
        let mut stream = rpc
            .stream_channel(ReceiverStream::new(rx))
            .await
            .map_err(|s| rpc_error(&address, "StreamChannel", &s))?
            .into_inner();
        loop {
            match stream.message().await {
                Ok(Some(msg)) => match msg.update {
                    Some(stream_message_response::Update::Arbitration(m)) => {
                        return Ok((stream, m));
                    }
                    Some(stream_message_response::Update::Error(e)) => {
                        return Err(ClientError::Arbitration {
                            address: address.clone(),
                            message: format!("{}: {}", crate::describe::code_name(e.canonical_code), e.message),
                        });
                    }
                    _ => continue,
                },
                Ok(None) => {
                    return Err(ClientError::Arbitration {
                        address: address.clone(),
                        message: "the device closed the stream without answering".into(),
                    })
                }
                Err(s) if s.code() == tonic::Code::Unavailable => return Err(rpc_error(&address, "StreamChannel", &s)),
                Err(s) => {
                    return Err(ClientError::Arbitration {
                        address: address.clone(),
                        message: format!("{}: {}", crate::describe::code_name(s.code() as i32), s.message()),
                    })
                }
            }
        }
    };
    let (mut stream, m) = match tokio::time::timeout(timeout, first).await {
        Ok(r) => r?,
        Err(_) => return Err(ClientError::Timeout { address, what: "arbitration".into(), timeout }),
    };
    let mut state =
        Arbitration { connected: true, primary: false, election_id: opts.election_id, primary_election_id: None };
    apply_arbitration(&mut state, &m);
    let (wtx, wrx) = watch::channel(state);
    let reader = tokio::spawn(async move {
        loop {
            match stream.message().await {
                Ok(Some(msg)) => {
                    if let Some(stream_message_response::Update::Arbitration(m)) = msg.update {
                        wtx.send_modify(|s| apply_arbitration(s, &m));
                    }
                }
                Ok(None) | Err(_) => {
                    wtx.send_modify(|s| {
                        s.connected = false;
                        s.primary = false;
                    });
                    break;
                }
            }
        }
    });
    Ok((rpc, grpc, wrx, tx, reader))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(normalize_address("127.0.0.1").unwrap(), "127.0.0.1:9559");
        assert_eq!(normalize_address("h:1").unwrap(), "h:1");
        assert_eq!(normalize_address("::1").unwrap(), "[::1]:9559");
        assert_eq!(normalize_address("[::1]:7").unwrap(), "[::1]:7");
        assert!(normalize_address("h:x").is_err());
        assert_eq!(host_of("[::1]:7"), "::1");
        assert_eq!(host_of("localhost:7"), "localhost");
    }

    #[test]
    fn uint128_roundtrip() {
        let v = (5u128 << 64) | 7;
        assert_eq!(from_uint128(&uint128(v)), v);
    }
}
