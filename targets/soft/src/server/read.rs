//! The `Read` RPC: every request of the batch is validated and its selection
//! gathered under the state lock (so the batch sees one state between Writes),
//! then the entities are converted lazily and streamed, [`CHUNK`] per
//! `ReadResponse`. Requests that fail are reported after the entities, as gRPC
//! UNKNOWN with one `p4.v1.Error` per request (OK for the others).

use std::sync::Arc;

use p4clone_proto::p4::v1::{ReadRequest, ReadResponse};
use p4clone_proto::status;
use tonic::codegen::tokio_stream;
use tonic::Status;

use super::inner::{internal, BoxStream, Inner};
use crate::translate::{Budget, EntityIter};

/// Entities per `ReadResponse`.
pub(crate) const CHUNK: usize = 1000;

/// What a batch selected: the entities of each valid request, and the error
/// status if any request failed.
fn gather(inner: &Inner, req: &ReadRequest) -> Result<(Vec<EntityIter>, Option<Status>), Status> {
    let st = inner.read_state();
    if !st.has_pipeline() {
        return Err(Status::failed_precondition("no forwarding pipeline config set for this device"));
    }
    let parse = inner.parse();
    let mut parts = Vec::with_capacity(req.entities.len());
    let mut errors = Vec::with_capacity(req.entities.len());
    let mut failed = false;
    let mut budget = Budget::new();
    for e in &req.entities {
        match inner.program.read(e, &inner.pipeline, &st.side, parse, &mut budget) {
            Ok(it) => {
                parts.push(it);
                errors.push(status::ok());
            }
            Err(f) => {
                failed = true;
                errors.push(f.to_p4_error());
            }
        }
    }
    let tail = failed.then(|| {
        let mut s = status::write_status(&errors);
        s.message = s.message.replace("updates failed", "read requests failed");
        status::to_tonic(&s)
    });
    Ok((parts, tail))
}

/// Yields chunks of entities, then the error status (if any).
struct Chunks {
    parts: std::iter::Flatten<std::vec::IntoIter<EntityIter>>,
    tail: Option<Status>,
    sent: bool,
    done: bool,
}

impl Iterator for Chunks {
    type Item = Result<ReadResponse, Status>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let entities: Vec<_> = self.parts.by_ref().take(CHUNK).collect();
        if !entities.is_empty() {
            self.sent = true;
            return Some(Ok(ReadResponse { entities }));
        }
        self.done = true;
        match self.tail.take() {
            Some(status) => Some(Err(status)),
            // Like PI, answer at least one (empty) response.
            None if !self.sent => Some(Ok(ReadResponse::default())),
            None => None,
        }
    }
}

pub(crate) async fn read(inner: Arc<Inner>, req: ReadRequest) -> Result<BoxStream<ReadResponse>, Status> {
    inner.check_device(req.device_id)?;
    Inner::check_role(&req.role)?;
    let (parts, tail) = tokio::task::spawn_blocking(move || gather(&inner, &req)).await.map_err(internal)??;
    let chunks = Chunks { parts: parts.into_iter().flatten(), tail, sent: false, done: false };
    Ok(Box::pin(tokio_stream::iter(chunks)))
}
