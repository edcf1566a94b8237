//! The `StreamChannel` RPC: arbitration updates go to the
//! [`Arbiter`](super::arbitration::Arbiter); packet-out,
//! digest acks and other messages are answered UNIMPLEMENTED.

use std::sync::Arc;

use p4clone_proto::p4::v1::{
    stream_error::Details, stream_message_request::Update as Req, stream_message_response::Update as Resp,
    DigestListAckError, PacketOutError, StreamError, StreamMessageRequest, StreamMessageResponse, StreamOtherError,
};
use tokio::sync::mpsc::unbounded_channel;
use tonic::codegen::tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::{Code, Status, Streaming};

use super::inner::{BoxStream, Inner};

fn stream_error(code: Code, message: &str, details: Details) -> StreamMessageResponse {
    StreamMessageResponse {
        update: Some(Resp::Error(StreamError {
            canonical_code: code as i32,
            message: message.to_string(),
            space: String::new(),
            code: 0,
            details: Some(details),
        })),
    }
}

/// Serves one `StreamChannel`: reads the client's messages in a task, answers on
/// the returned stream, and unregisters the client when either side ends.
pub(crate) fn stream_channel(
    inner: Arc<Inner>,
    mut incoming: Streaming<StreamMessageRequest>,
) -> BoxStream<StreamMessageResponse> {
    let (tx, rx) = unbounded_channel();
    let mut shutdown = inner.shutdown.subscribe();
    tokio::spawn(async move {
        let mut client: Option<u64> = None;
        loop {
            let msg = tokio::select! {
                m = incoming.message() => m,
                _ = shutdown.wait_for(|stop| *stop) => {
                    let _ = tx.send(Err(Status::unavailable("the P4Runtime server is shutting down")));
                    break;
                }
            };
            let Ok(Some(msg)) = msg else {
                break;
            };
            match msg.update {
                Some(Req::Arbitration(m)) => {
                    if let Err(status) = inner.arbiter.update(&mut client, &tx, &m) {
                        let _ = tx.send(Err(status));
                        break;
                    }
                }
                Some(Req::Packet(p)) => {
                    let _ = tx.send(Ok(stream_error(
                        Code::Unimplemented,
                        "packet-out is not supported (the program has no controller port)",
                        Details::PacketOut(PacketOutError { packet_out: Some(p) }),
                    )));
                }
                Some(Req::DigestAck(d)) => {
                    let _ = tx.send(Ok(stream_error(
                        Code::Unimplemented,
                        "digests are not supported (the program has none)",
                        Details::DigestListAck(DigestListAckError { digest_list_ack: Some(d) }),
                    )));
                }
                Some(Req::Other(o)) => {
                    let _ = tx.send(Ok(stream_error(
                        Code::Unimplemented,
                        "architecture-specific stream messages are not supported",
                        Details::Other(StreamOtherError { other: Some(o) }),
                    )));
                }
                None => {
                    let _ = tx.send(Err(Status::invalid_argument("a StreamMessageRequest must have its update set")));
                    break;
                }
            }
        }
        if let Some(id) = client {
            inner.arbiter.remove(id);
        }
        // `tx` (and the arbiter's clone) are dropped: the response stream ends.
    });
    Box::pin(UnboundedReceiverStream::new(rx))
}
