//! The `p4clone.controller.v1.Bindings` gRPC service over a [`BindingTable`]
//! and its server ([`serve`]).

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use p4clone_proto::p4clone::controller::v1 as pb;
use pb::bindings_server::{Bindings, BindingsServer};
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

use super::binding::{parse_binding, parse_key, protocol_name, Binding, FieldError};
use super::table::{BindingError, BindingOp, BindingTable};

/// The gRPC metadata key of a refused `Apply`: the index, over the whole
/// stream, of the refused op (every op before it was accepted).
pub const OP_INDEX_KEY: &str = "p4clone-op-index";

/// Ops of one `List` response.
const LIST_CHUNK: usize = 4096;

/// Largest request or response message (an `Apply` batch of 100,000 ops fits).
const MAX_MESSAGE_BYTES: usize = 64 << 20;

/// The service.
#[derive(Debug, Clone)]
pub struct BindingsService {
    table: Arc<BindingTable>,
}

impl BindingsService {
    /// A service over `table`.
    pub fn new(table: Arc<BindingTable>) -> BindingsService {
        BindingsService { table }
    }

    /// The tonic server of it.
    pub fn into_server(self) -> BindingsServer<BindingsService> {
        BindingsServer::new(self)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
    }
}

/// The wire form of a binding.
pub fn to_proto(b: &Binding) -> pb::Binding {
    pb::Binding {
        se: b.key.se.to_string(),
        client: b.client.to_string(),
        protocol: protocol_name(b.key.protocol).to_string(),
    }
}

fn field_status(e: &FieldError) -> Status {
    Status::invalid_argument(e.to_string())
}

/// The status of a refused op; `se_field` names the SE field for an unknown SE.
fn status_of(e: &BindingError, se_field: &str) -> Status {
    match e {
        BindingError::UnknownSe(_) => Status::invalid_argument(format!("{se_field}: {e}")),
        BindingError::ConfigBound(_) => Status::failed_precondition(e.to_string()),
        BindingError::Full { .. } => Status::resource_exhausted(e.to_string()),
        BindingError::NotFound(_) => Status::not_found(e.to_string()),
        BindingError::NotPrimary(_) => Status::unavailable(e.to_string()),
    }
}

fn binding_of(prefix: &str, b: Option<&pb::Binding>) -> Result<Binding, FieldError> {
    let b = b.ok_or_else(|| FieldError::new(prefix.trim_end_matches('.'), "missing"))?;
    parse_binding(prefix, &b.se, &b.client, &b.protocol)
}

/// One op of an `Apply` batch; fields named `ops[i].binding.…`.
fn op_of(i: usize, op: &pb::BindingOp) -> Result<BindingOp, FieldError> {
    let prefix = format!("ops[{i}].binding.");
    match pb::binding_op::Kind::try_from(op.op) {
        Ok(pb::binding_op::Kind::Add) => binding_of(&prefix, op.binding.as_ref()).map(BindingOp::Add),
        Ok(pb::binding_op::Kind::Remove) => {
            let b = op.binding.as_ref().ok_or_else(|| FieldError::new(format!("ops[{i}].binding"), "missing"))?;
            parse_key(&prefix, &b.se, &b.protocol).map(BindingOp::Remove)
        }
        Err(_) => Err(FieldError::new(format!("ops[{i}].op"), format!("{} is not ADD (0) or REMOVE (1)", op.op))),
    }
}

type ListStream = Pin<Box<dyn Stream<Item = Result<pb::ListBindingsResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Bindings for BindingsService {
    async fn add(&self, req: Request<pb::AddBindingRequest>) -> Result<Response<pb::AddBindingResponse>, Status> {
        let b = binding_of("binding.", req.get_ref().binding.as_ref()).map_err(|e| field_status(&e))?;
        self.table.add(b).map_err(|e| status_of(&e, "binding.se"))?;
        let devices = self.table.devices_of(b.key.se.ip()).unwrap_or_default();
        Ok(Response::new(pb::AddBindingResponse { devices }))
    }

    async fn remove(
        &self,
        req: Request<pb::RemoveBindingRequest>,
    ) -> Result<Response<pb::RemoveBindingResponse>, Status> {
        let r = req.get_ref();
        let key = parse_key("", &r.se, &r.protocol).map_err(|e| field_status(&e))?;
        let client = self.table.remove(&key).map_err(|e| status_of(&e, "se"))?;
        Ok(Response::new(pb::RemoveBindingResponse { client: client.to_string() }))
    }

    async fn apply(&self, req: Request<Streaming<pb::ApplyRequest>>) -> Result<Response<pb::ApplyResponse>, Status> {
        let mut stream = req.into_inner();
        let mut total = pb::ApplyResponse::default();
        let mut seen = 0usize;
        let mut batch_no = 0usize;
        while let Some(msg) = stream.next().await {
            let msg = msg?;
            // Parse the whole batch first; apply the ops before a bad one.
            let mut ops = Vec::with_capacity(msg.ops.len());
            let mut bad = None;
            for (i, op) in msg.ops.iter().enumerate() {
                match op_of(i, op) {
                    Ok(o) => ops.push(o),
                    Err(e) => {
                        bad = Some((i, field_status(&e)));
                        break;
                    }
                }
            }
            let (done, refused) = self.table.apply(&ops);
            total.added += done.added;
            total.removed += done.removed;
            total.not_found += done.not_found;
            let refused = refused.map(|(i, e)| {
                let field = format!("ops[{i}].binding.se");
                (i, status_of(&e, &field))
            });
            if let Some((i, s)) = refused.or(bad) {
                let index = seen + i;
                let mut st = Status::new(
                    s.code(),
                    format!("batch {batch_no}, {}; the {index} ops before it were accepted", s.message()),
                );
                if let Ok(v) = index.to_string().parse() {
                    st.metadata_mut().insert(OP_INDEX_KEY, v);
                }
                return Err(st);
            }
            seen += msg.ops.len();
            batch_no += 1;
        }
        Ok(Response::new(total))
    }

    type ListStream = ListStream;

    async fn list(&self, _req: Request<pb::ListBindingsRequest>) -> Result<Response<ListStream>, Status> {
        let all = self.table.list();
        let chunks: Vec<Result<pb::ListBindingsResponse, Status>> = all
            .chunks(LIST_CHUNK)
            .map(|c| Ok(pb::ListBindingsResponse { bindings: c.iter().map(to_proto).collect() }))
            .collect();
        Ok(Response::new(Box::pin(tokio_stream::iter(chunks))))
    }
}

/// A running bindings server; [`BindingsServerHandle::shutdown`] stops it.
#[derive(Debug)]
pub struct BindingsServerHandle {
    local_addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
}

impl BindingsServerHandle {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting calls and waits (at most 2 s) for the calls in
    /// flight to end.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(());
        if tokio::time::timeout(std::time::Duration::from_secs(2), &mut self.task).await.is_err() {
            self.task.abort();
        }
    }
}

/// Binds `addr` (`host:port`; port 0: an ephemeral port) and serves the
/// bindings service of `table` in a spawned task.
pub async fn serve(addr: &str, table: Arc<BindingTable>) -> std::io::Result<BindingsServerHandle> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen for the bindings service on {addr}: {e}")))?;
    let local_addr = listener.local_addr()?;
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = BindingsService::new(table).into_server();
    let task = tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(server)
            .serve_with_incoming_shutdown(incoming, async {
                let _ = stop_rx.await;
            })
            .await
    });
    Ok(BindingsServerHandle { local_addr, stop, task })
}
