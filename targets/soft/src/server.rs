//! The embedded P4Runtime server: the software target answers P4Runtime like a
//! switch, so the runtime (or any third-party client such as `p4runtime-shell`)
//! drives it exactly like BMv2.
//!
//! [`SoftTarget`] owns the [`Pipeline`] and the P4Runtime state (arbitration,
//! forwarding pipeline config, read-back metadata). It is cheap to clone. The packet
//! engine gets the pipeline with [`SoftTarget::pipeline`]; [`SoftTarget::serve`]
//! starts the gRPC server; [`SoftTarget::apply_write`] and
//! [`SoftTarget::set_pipeline_in_process`] program it without gRPC, through the
//! same validation path.
//!
//! Sub-modules, by concern:
//! - `inner`: the state every RPC shares (device, pipeline, arbiter, configs);
//! - `arbitration`: primary / backup election of the `StreamChannel` clients;
//! - `stream`: the `StreamChannel` RPC;
//! - `pipeline_config`: `Set/GetForwardingPipelineConfig`, P4Info comparison;
//! - `write`: the `Write` RPC (one atomic pipeline batch per request);
//! - `read`: the `Read` RPC (wildcards, streamed in chunks);
//! - `diagnostics`: the `CloneDiagnostics` service (clone send failures);
//! - `tls`: TLS / mutual TLS material ([`ServerTls`]);
//! - `limits`: message size, batch size, connections, streams, idle timeout ([`Limits`]).
//!
//! # Spec decisions (P4Runtime v1.4)
//! - **Arbitration**: default role only (a role name → UNIMPLEMENTED, a role config
//!   → INVALID_ARGUMENT). The primary is the live stream with the highest non-zero
//!   election id; an unset or zero election id makes a backup that never becomes
//!   primary. Each update is answered with the primary's election id and status OK
//!   (primary), ALREADY_EXISTS (backup) or NOT_FOUND (no primary); when the primary
//!   changes or leaves every client is notified. Like PI (BMv2), the next highest
//!   live stream is promoted when the primary leaves (spec v1.4 would wait for a new
//!   arbitration update). Device id mismatch → NOT_FOUND (first update) or
//!   FAILED_PRECONDITION (later change); an election id already used by another
//!   live stream → INVALID_ARGUMENT. PacketOut / digest acks → `StreamError`
//!   UNIMPLEMENTED (the program has no packet I/O).
//! - **Write / SetForwardingPipelineConfig**: device id → NOT_FOUND, role → NOT_FOUND,
//!   not primary (election id ≠ the primary's, or no primary) → PERMISSION_DENIED,
//!   no pipeline → FAILED_PRECONDITION. Only CONTINUE_ON_ERROR (ROLLBACK_ON_ERROR,
//!   DATAPLANE_ATOMIC → UNIMPLEMENTED, as PI); every request is still published to
//!   the data plane as one atomic batch.
//! - **Pipeline config**: COMMIT without a saved config → NOT_FOUND, with a config →
//!   INVALID_ARGUMENT; a P4Info differing from the program → INVALID_ARGUMENT naming
//!   the first difference; the device config bytes are ignored and kept.
//! - **Limits** ([`Limits`]): a request message over `max_message_bytes` or a
//!   Write of more than `max_batch_updates` updates → RESOURCE_EXHAUSTED (nothing
//!   applied); a full table → RESOURCE_EXHAUSTED for that update.
//! - Per-update / per-read-request failures: gRPC UNKNOWN with one `p4.v1.Error` per
//!   update in the `google.rpc.Status` details (see [`crate::translate`] for codes).

mod arbitration;
mod diagnostics;
mod inner;
mod limits;
mod pipeline_config;
mod read;
mod stream;
mod tls;
mod write;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use p4clone_pipeline::Pipeline;
use p4clone_proto::p4::config::v1::P4Info;
use p4clone_proto::p4::v1::p4_runtime_server::{P4Runtime, P4RuntimeServer};
use p4clone_proto::p4::v1::{
    CapabilitiesRequest, CapabilitiesResponse, GetForwardingPipelineConfigRequest, GetForwardingPipelineConfigResponse,
    ReadRequest, ReadResponse, SetForwardingPipelineConfigRequest, SetForwardingPipelineConfigResponse,
    StreamMessageRequest, StreamMessageResponse, WriteRequest, WriteResponse,
};
use tonic::{Request, Response, Status, Streaming};

use crate::translate;
use arbitration::Arbiter;
pub use diagnostics::DiagnosticsService;
use inner::{internal, BoxStream, Inner, State};
pub use limits::{Limits, MessageSizeLimit};
use p4clone_proto::p4clone::soft::v1::clone_diagnostics_server::CloneDiagnosticsServer;
pub use tls::{PemError, ServerTls, TlsError};

/// The P4Runtime API version this server implements (`Capabilities`).
pub const P4RUNTIME_API_VERSION: &str = "1.4.1";
/// The IANA P4Runtime port.
pub const DEFAULT_PORT: u16 = 9559;
/// Largest gRPC message sent (Read responses come in smaller chunks).
const MAX_RESPONSE_BYTES: usize = 64 << 20;

/// How [`SoftTarget::serve_with`] serves: plaintext or TLS, and the limits.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// TLS (with a client CA: mutual TLS); `None` = plaintext.
    pub tls: Option<ServerTls>,
    /// Resource limits.
    pub limits: Limits,
}

/// Which device the software target behaves like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
    /// BMv2 running the v1model program `p4src/traffic_clone.p4` (the default).
    #[default]
    V1model,
    /// A Tofino switch under Stratum running the TNA program
    /// `p4src/traffic_clone_tna.p4`: that P4Info, Stratum's clone-session rules
    /// and statuses, truncation by the session (`crate::translate`, `replication`).
    Tofino,
}

impl Dialect {
    fn program(self) -> &'static translate::Program {
        match self {
            Dialect::V1model => translate::program(),
            Dialect::Tofino => translate::tna_program(),
        }
    }
}

/// The software target: the pipeline plus its P4Runtime state. Clones share both.
#[derive(Clone)]
pub struct SoftTarget {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SoftTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftTarget").field("device_id", &self.inner.device_id).finish_non_exhaustive()
    }
}

impl SoftTarget {
    /// A target with device id `device_id`, an empty pipeline and no forwarding
    /// pipeline config yet (Read / Write answer FAILED_PRECONDITION until one is set).
    pub fn new(device_id: u64) -> Self {
        Self::with_pipeline(device_id, Arc::new(Pipeline::new()))
    }

    /// [`SoftTarget::new`] behaving like `dialect`'s device.
    pub fn new_as(device_id: u64, dialect: Dialect) -> Self {
        Self::with_pipeline_as(device_id, Arc::new(Pipeline::new()), dialect)
    }

    /// A target serving an existing pipeline.
    pub fn with_pipeline(device_id: u64, pipeline: Arc<Pipeline>) -> Self {
        Self::with_pipeline_as(device_id, pipeline, Dialect::V1model)
    }

    /// A target serving an existing pipeline, behaving like `dialect`'s device.
    pub fn with_pipeline_as(device_id: u64, pipeline: Arc<Pipeline>, dialect: Dialect) -> Self {
        SoftTarget {
            inner: Arc::new(Inner {
                device_id,
                pipeline,
                program: dialect.program(),
                arbiter: Arbiter::new(device_id),
                state: RwLock::new(State::default()),
                lenient_bytestrings: AtomicBool::new(false),
                max_batch_updates: AtomicUsize::new(Limits::DEFAULT_MAX_BATCH_UPDATES),
                shutdown: tokio::sync::watch::channel(false).0,
            }),
        }
    }

    /// The P4Info this target's program has (what `SetForwardingPipelineConfig`
    /// must be given).
    pub fn p4info(&self) -> &'static P4Info {
        self.inner.program.p4info()
    }

    /// The P4Runtime device id.
    pub fn device_id(&self) -> u64 {
        self.inner.device_id
    }

    /// The pipeline (the engine processes packets with it).
    pub fn pipeline(&self) -> Arc<Pipeline> {
        self.inner.pipeline.clone()
    }

    /// The program's P4Info: what `SetForwardingPipelineConfig` must be given.
    pub fn program_p4info() -> P4Info {
        translate::program_p4info()
    }

    /// Whether a forwarding pipeline config is set (committed or saved).
    pub fn has_pipeline(&self) -> bool {
        self.inner.read_state().has_pipeline()
    }

    /// The committed config's cookie.
    pub fn cookie(&self) -> Option<u64> {
        self.inner.read_state().committed.as_ref().and_then(|c| c.cookie)
    }

    /// By default a non-canonical bytestring (leading zero bytes) is refused with
    /// INVALID_ARGUMENT. `true` accepts any string whose value fits, as the spec
    /// and BMv2 do.
    pub fn set_accept_padded_bytestrings(&self, accept: bool) {
        self.inner.lenient_bytestrings.store(accept, Ordering::Relaxed);
    }

    /// The most updates one `Write` may carry (more → RESOURCE_EXHAUSTED);
    /// [`SoftTarget::serve_with`] sets it from its [`Limits`].
    pub fn set_max_batch_updates(&self, n: usize) {
        self.inner.max_batch_updates.store(n.max(1), Ordering::Relaxed);
    }

    /// Applies a `WriteRequest` in-process, through the same validation and
    /// translation as the `Write` RPC, without the arbitration check (the device id
    /// must still match, and a pipeline config must be set). Blocking: from async
    /// code call it inside `spawn_blocking`.
    pub fn apply_write(&self, req: &WriteRequest) -> Result<(), Status> {
        write::write(&self.inner, req, false)
    }

    /// Sets the forwarding pipeline config in-process (`VERIFY_AND_COMMIT`
    /// semantics: the P4Info must match the program; forwarding state is cleared).
    pub fn set_pipeline_in_process(&self, p4info: P4Info, cookie: Option<u64>) -> Result<(), Status> {
        pipeline_config::commit_in_process(&self.inner, p4info, cookie)
    }

    /// The tonic service, to mount in a server of one's own (requests up to
    /// [`Limits::DEFAULT_MAX_MESSAGE_BYTES`]; [`SoftTarget::serve_with`] mounts
    /// it behind a [`MessageSizeLimit`] that answers RESOURCE_EXHAUSTED).
    pub fn service(&self) -> P4RuntimeServer<Service> {
        self.service_with_limit(Limits::DEFAULT_MAX_MESSAGE_BYTES)
    }

    fn service_with_limit(&self, max_message_bytes: usize) -> P4RuntimeServer<Service> {
        P4RuntimeServer::new(Service { inner: self.inner.clone() })
            .max_decoding_message_size(max_message_bytes)
            .max_encoding_message_size(MAX_RESPONSE_BYTES)
    }

    /// The tonic `p4clone.soft.v1.CloneDiagnostics` service (per-member send
    /// failures), served beside [`SoftTarget::service`] by [`SoftTarget::serve`].
    pub fn diagnostics_service(&self) -> CloneDiagnosticsServer<DiagnosticsService> {
        CloneDiagnosticsServer::new(DiagnosticsService { inner: self.inner.clone() })
    }

    /// Binds `addr` (port 0: an ephemeral port) and serves P4Runtime on it in a
    /// spawned task, until [`ServerHandle::shutdown`]: plaintext, default limits.
    pub async fn serve(&self, addr: SocketAddr) -> Result<ServerHandle, ServeError> {
        self.serve_with(addr, &ServeOptions::default()).await
    }

    /// Like [`SoftTarget::serve`], with TLS (plaintext connections then fail
    /// their handshake) and the given limits (see [`Limits`]).
    pub async fn serve_with(&self, addr: SocketAddr, opts: &ServeOptions) -> Result<ServerHandle, ServeError> {
        let limits = opts.limits;
        let mut builder = tonic::transport::Server::builder();
        if let Some(tls) = &opts.tls {
            builder = builder
                .tls_config(tls.config())
                .map_err(|e| ServeError::Tls { origin: tls.origin().to_string(), message: e.to_string() })?;
        }
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|source| ServeError::Bind { addr, source })?;
        let local_addr = listener.local_addr().map_err(|source| ServeError::Bind { addr, source })?;
        let incoming = limits::Incoming::new(listener, &limits);
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        self.set_max_batch_updates(limits.max_batch_updates);
        let service =
            MessageSizeLimit::new(self.service_with_limit(limits.max_message_bytes), limits.max_message_bytes);
        let diagnostics = MessageSizeLimit::new(self.diagnostics_service(), limits.max_message_bytes);
        let keepalive = limits.keepalive_interval();
        let task = tokio::spawn(async move {
            builder
                .max_concurrent_streams(limits.max_concurrent_streams)
                .http2_keepalive_interval(Some(keepalive))
                .http2_keepalive_timeout(Some(keepalive))
                .http2_max_header_list_size(64 << 10)
                .http2_max_pending_accept_reset_streams(Some(64))
                .add_service(service)
                .add_service(diagnostics)
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = stop_rx.await;
                })
                .await
        });
        Ok(ServerHandle { local_addr, stop: stop_tx, task, inner: self.inner.clone() })
    }
}

/// Why [`SoftTarget::serve`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address could not be bound.
    #[error("cannot listen for P4Runtime on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The TLS material does not make a server configuration.
    #[error("cannot use the TLS material from {origin}: {message}")]
    Tls {
        /// The files it came from.
        origin: String,
        /// What rustls said.
        message: String,
    },
}

/// A running P4Runtime server. Dropping the handle leaves the server running.
#[derive(Debug)]
pub struct ServerHandle {
    local_addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner").field("device_id", &self.device_id).finish_non_exhaustive()
    }
}

impl ServerHandle {
    /// The address the server listens on (with the real port when 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting connections, ends the open `StreamChannel`s (UNAVAILABLE)
    /// and waits (at most 5 s) for the in-flight RPCs to finish.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        self.inner.shutdown.send_replace(true);
        let mut task = self.task;
        if tokio::time::timeout(Duration::from_secs(5), &mut task).await.is_err() {
            task.abort();
        }
        // The target may be served again later.
        self.inner.shutdown.send_replace(false);
    }
}

/// The tonic `P4Runtime` service of a [`SoftTarget`].
#[derive(Clone)]
pub struct Service {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service").field("device_id", &self.inner.device_id).finish()
    }
}

#[tonic::async_trait]
impl P4Runtime for Service {
    async fn write(&self, req: Request<WriteRequest>) -> Result<Response<WriteResponse>, Status> {
        let inner = self.inner.clone();
        let req = req.into_inner();
        tokio::task::spawn_blocking(move || write::write(&inner, &req, true)).await.map_err(internal)??;
        Ok(Response::new(WriteResponse {}))
    }

    type ReadStream = BoxStream<ReadResponse>;

    async fn read(&self, req: Request<ReadRequest>) -> Result<Response<Self::ReadStream>, Status> {
        let stream = read::read(self.inner.clone(), req.into_inner()).await?;
        Ok(Response::new(stream))
    }

    async fn set_forwarding_pipeline_config(
        &self,
        req: Request<SetForwardingPipelineConfigRequest>,
    ) -> Result<Response<SetForwardingPipelineConfigResponse>, Status> {
        let inner = self.inner.clone();
        let req = req.into_inner();
        tokio::task::spawn_blocking(move || pipeline_config::set(&inner, req)).await.map_err(internal)??;
        Ok(Response::new(SetForwardingPipelineConfigResponse {}))
    }

    async fn get_forwarding_pipeline_config(
        &self,
        req: Request<GetForwardingPipelineConfigRequest>,
    ) -> Result<Response<GetForwardingPipelineConfigResponse>, Status> {
        pipeline_config::get(&self.inner, &req.into_inner()).map(Response::new)
    }

    type StreamChannelStream = BoxStream<StreamMessageResponse>;

    async fn stream_channel(
        &self,
        req: Request<Streaming<StreamMessageRequest>>,
    ) -> Result<Response<Self::StreamChannelStream>, Status> {
        Ok(Response::new(stream::stream_channel(self.inner.clone(), req.into_inner())))
    }

    async fn capabilities(&self, req: Request<CapabilitiesRequest>) -> Result<Response<CapabilitiesResponse>, Status> {
        let device_id = req.into_inner().device_id;
        if device_id != 0 {
            self.inner.check_device(device_id)?;
        }
        Ok(Response::new(CapabilitiesResponse {
            p4runtime_api_version: P4RUNTIME_API_VERSION.to_string(),
            experimental: None,
        }))
    }
}
