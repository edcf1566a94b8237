//! A client of the `Bindings` service (what `p4clone bindings` runs): add,
//! remove, list, and [`BindingsClient::feed`], which streams JSON lines to
//! `Apply` in batches.

use std::io::BufRead;
use std::time::Duration;

use p4clone_proto::p4clone::controller::v1 as pb;
use pb::bindings_client::BindingsClient as Grpc;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;
use tonic::transport::Channel;

use super::binding::{parse_binding, parse_key, protocol_name, Binding, FieldError};
use super::feed::parse_line;
use super::service::{to_proto, OP_INDEX_KEY};
use super::table::BindingOp;

/// Why a bindings call failed.
#[derive(Debug, thiserror::Error)]
pub enum BindingsClientError {
    /// The address is not usable or the controller cannot be reached.
    #[error("cannot reach the bindings service at {address}: {message}")]
    Connect {
        /// `host:port`.
        address: String,
        /// Why.
        message: String,
    },
    /// An argument does not parse.
    #[error(transparent)]
    Input(#[from] FieldError),
    /// The controller refused the call.
    #[error("{}: {}", code_name(.0.code()), .0.message())]
    Refused(tonic::Status),
    /// The controller refused the op of input line `line`.
    #[error("line {line}: {}: {}", code_name(.status.code()), .status.message())]
    RefusedLine {
        /// 1-based input line.
        line: usize,
        /// The controller's answer.
        status: tonic::Status,
    },
}

impl BindingsClientError {
    /// Whether the input was at fault (a field that does not parse, or
    /// INVALID_ARGUMENT from the controller), as opposed to the controller
    /// refusing or being unreachable.
    pub fn is_input(&self) -> bool {
        match self {
            BindingsClientError::Input(_) => true,
            BindingsClientError::Refused(s) | BindingsClientError::RefusedLine { status: s, .. } => {
                s.code() == tonic::Code::InvalidArgument
            }
            BindingsClientError::Connect { .. } => false,
        }
    }
}

fn code_name(c: tonic::Code) -> String {
    format!("{c:?}")
        .chars()
        .enumerate()
        .flat_map(|(i, ch)| {
            let up = ch.to_ascii_uppercase();
            (if i > 0 && ch.is_ascii_uppercase() { Some('_') } else { None }).into_iter().chain(std::iter::once(up))
        })
        .collect()
}

/// What a feed did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedReport {
    /// Ops sent.
    pub sent: u64,
    /// The controller's totals.
    pub added: u64,
    /// Removes of live bindings.
    pub removed: u64,
    /// Removes of endpoints with no live binding.
    pub not_found: u64,
    /// Lines that did not parse (skipped): `line N: field: message`.
    pub bad_lines: Vec<String>,
}

/// How a feed batches.
#[derive(Debug, Clone, Copy)]
pub struct FeedOptions {
    /// Ops per `Apply` message.
    pub batch: usize,
    /// A batch is sent when full or when its first op is this old.
    pub delay: Duration,
    /// Called with each bad line's report as it is met (besides
    /// [`FeedReport::bad_lines`]).
    pub on_bad_line: fn(&str),
}

impl Default for FeedOptions {
    fn default() -> Self {
        FeedOptions { batch: 1000, delay: Duration::from_millis(5), on_bad_line: |_| {} }
    }
}

/// A connected client.
#[derive(Debug, Clone)]
pub struct BindingsClient {
    grpc: Grpc<Channel>,
}

impl BindingsClient {
    /// Connects to `address` (`host:port`).
    pub async fn connect(address: &str) -> Result<BindingsClient, BindingsClientError> {
        let err = |m: String| BindingsClientError::Connect { address: address.to_string(), message: m };
        let ep = Channel::from_shared(format!("http://{address}"))
            .map_err(|e| err(e.to_string()))?
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true);
        let ch = ep.connect().await.map_err(|e| err(format!("{e}: {}", source_chain(&e))))?;
        Ok(BindingsClient { grpc: Grpc::new(ch).max_decoding_message_size(64 << 20) })
    }

    /// Adds one binding; returns the devices it goes to.
    pub async fn add(&mut self, se: &str, client: &str, protocol: &str) -> Result<Vec<String>, BindingsClientError> {
        let b = parse_binding("", se, client, protocol)?;
        let r = self.grpc.add(pb::AddBindingRequest { binding: Some(to_proto(&b)) }).await;
        Ok(r.map_err(BindingsClientError::Refused)?.into_inner().devices)
    }

    /// Removes the binding of an SE endpoint; returns the client it had.
    pub async fn remove(&mut self, se: &str, protocol: &str) -> Result<String, BindingsClientError> {
        let k = parse_key("", se, protocol)?;
        let req = pb::RemoveBindingRequest { se: k.se.to_string(), protocol: protocol_name(k.protocol).into() };
        Ok(self.grpc.remove(req).await.map_err(BindingsClientError::Refused)?.into_inner().client)
    }

    /// Every live binding.
    pub async fn list(&mut self) -> Result<Vec<Binding>, BindingsClientError> {
        let mut s =
            self.grpc.list(pb::ListBindingsRequest {}).await.map_err(BindingsClientError::Refused)?.into_inner();
        let mut out = Vec::new();
        while let Some(m) = s.next().await {
            for b in m.map_err(BindingsClientError::Refused)?.bindings {
                out.push(parse_binding("", &b.se, &b.client, &b.protocol)?);
            }
        }
        Ok(out)
    }

    /// Sends `ops` as one `Apply` call of batches of `batch`.
    pub async fn apply(&mut self, ops: &[BindingOp], batch: usize) -> Result<pb::ApplyResponse, BindingsClientError> {
        let msgs: Vec<pb::ApplyRequest> =
            ops.chunks(batch.max(1)).map(|c| pb::ApplyRequest { ops: c.iter().map(op_to_proto).collect() }).collect();
        let r = self.grpc.apply(tokio_stream::iter(msgs)).await;
        Ok(r.map_err(BindingsClientError::Refused)?.into_inner())
    }

    /// Streams the JSON lines of `input` (see [`super::feed`]) to one `Apply`
    /// call: batches of `opts.batch` ops, each sent at the latest `opts.delay`
    /// after its first op was read (so a slow writer's lines are not held).
    /// Blank lines are skipped; a line that does not parse is reported in
    /// [`FeedReport::bad_lines`] and skipped. A refused op ends the feed with
    /// [`BindingsClientError::RefusedLine`] (every op before it was accepted).
    pub async fn feed(
        &mut self,
        input: impl BufRead + Send + 'static,
        opts: FeedOptions,
    ) -> Result<FeedReport, BindingsClientError> {
        // A thread reads and parses; ops come with their line numbers.
        let (line_tx, mut lines) = mpsc::channel::<(usize, Result<BindingOp, String>)>(opts.batch.max(1) * 4);
        std::thread::spawn(move || {
            for (i, l) in input.lines().enumerate() {
                let parsed = match l {
                    Ok(t) if t.trim().is_empty() => continue,
                    Ok(t) => parse_line(&t).map_err(|e| e.to_string()),
                    Err(e) => Err(format!("cannot read: {e}")),
                };
                let stop = parsed.as_ref().is_err_and(|e| e.starts_with("cannot read"));
                if line_tx.blocking_send((i + 1, parsed)).is_err() || stop {
                    break;
                }
            }
        });
        let (req_tx, req_rx) = mpsc::channel::<pb::ApplyRequest>(4);
        let mut grpc = self.grpc.clone();
        let call = tokio::spawn(async move { grpc.apply(ReceiverStream::new(req_rx)).await });
        let mut report = FeedReport::default();
        // (first op index, its line): a new segment after every skipped line.
        let mut segments: Vec<(u64, usize)> = Vec::new();
        let mut last_line = 0usize;
        let mut batch: Vec<pb::BindingOp> = Vec::with_capacity(opts.batch);
        let mut deadline: Option<tokio::time::Instant> = None;
        loop {
            let next = match deadline {
                Some(d) => match tokio::time::timeout_at(d, lines.recv()).await {
                    Ok(n) => n,
                    Err(_) => {
                        deadline = None;
                        if !send(&req_tx, &mut batch).await {
                            break;
                        }
                        continue;
                    }
                },
                None => lines.recv().await,
            };
            let Some((line, parsed)) = next else { break };
            match parsed {
                Ok(op) => {
                    if line != last_line + 1 || segments.is_empty() {
                        segments.push((report.sent, line));
                    }
                    last_line = line;
                    batch.push(op_to_proto(&op));
                    report.sent += 1;
                    deadline.get_or_insert_with(|| tokio::time::Instant::now() + opts.delay);
                    if batch.len() >= opts.batch {
                        deadline = None;
                        if !send(&req_tx, &mut batch).await {
                            break;
                        }
                    }
                }
                Err(e) => {
                    let msg = format!("line {line}: {e}");
                    (opts.on_bad_line)(&msg);
                    report.bad_lines.push(msg);
                }
            }
        }
        if !batch.is_empty() {
            send(&req_tx, &mut batch).await;
        }
        drop(req_tx);
        drop(lines);
        let r = call.await.map_err(|e| BindingsClientError::Connect {
            address: String::new(),
            message: format!("the Apply call failed: {e}"),
        })?;
        match r {
            Ok(resp) => {
                let resp = resp.into_inner();
                report.added = resp.added;
                report.removed = resp.removed;
                report.not_found = resp.not_found;
                Ok(report)
            }
            Err(status) => {
                let index = status.metadata().get(OP_INDEX_KEY).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
                match index.and_then(|i| line_of_op(&segments, i)) {
                    Some(line) => Err(BindingsClientError::RefusedLine { line, status }),
                    None => Err(BindingsClientError::Refused(status)),
                }
            }
        }
    }
}

/// Sends the batch; `false` when the call has ended (its status says why).
async fn send(tx: &mpsc::Sender<pb::ApplyRequest>, batch: &mut Vec<pb::BindingOp>) -> bool {
    if batch.is_empty() {
        return true;
    }
    let ops = std::mem::take(batch);
    tx.send(pb::ApplyRequest { ops }).await.is_ok()
}

fn line_of_op(segments: &[(u64, usize)], index: u64) -> Option<usize> {
    let i = segments.partition_point(|&(start, _)| start <= index).checked_sub(1)?;
    let (start, line) = segments[i];
    Some(line + usize::try_from(index - start).ok()?)
}

fn op_to_proto(op: &BindingOp) -> pb::BindingOp {
    match op {
        BindingOp::Add(b) => pb::BindingOp { op: pb::binding_op::Kind::Add as i32, binding: Some(to_proto(b)) },
        BindingOp::Remove(k) => pb::BindingOp {
            op: pb::binding_op::Kind::Remove as i32,
            binding: Some(pb::Binding {
                se: k.se.to_string(),
                client: String::new(),
                protocol: protocol_name(k.protocol).into(),
            }),
        },
    }
}

fn source_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = Vec::new();
    let mut s = e.source();
    while let Some(x) = s {
        parts.push(x.to_string());
        s = x.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn op_indices_map_to_lines_across_skipped_lines() {
        // ops 0..3 on lines 1..3, line 4 bad, ops 3.. from line 5.
        let seg = [(0, 1), (3, 5)];
        assert_eq!(line_of_op(&seg, 0), Some(1));
        assert_eq!(line_of_op(&seg, 2), Some(3));
        assert_eq!(line_of_op(&seg, 3), Some(5));
        assert_eq!(line_of_op(&seg, 10), Some(12));
        assert_eq!(code_name(tonic::Code::ResourceExhausted), "RESOURCE_EXHAUSTED");
    }
}
