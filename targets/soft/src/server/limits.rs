//! Resource limits of the P4Runtime server, so that a large, slow or stuck
//! client cannot exhaust it:
//!
//! - [`Limits::max_message_bytes`]: a request message larger than this is
//!   refused with RESOURCE_EXHAUSTED as soon as its gRPC length prefix is seen
//!   ([`MessageSizeLimit`], before the message is buffered);
//! - [`Limits::max_batch_updates`]: a `Write` with more updates is refused
//!   whole with RESOURCE_EXHAUSTED (nothing applied);
//! - [`Limits::max_connections`]: connections past this are closed at once
//!   ([`Incoming`]);
//! - [`Limits::max_concurrent_streams`]: HTTP/2 streams (RPCs) per connection;
//! - [`Limits::idle_timeout`]: a connection from which nothing arrives for this
//!   long is closed, from the TCP accept on (a client that never finishes the
//!   TLS handshake, stops mid-message or vanishes). The server pings every
//!   connection (HTTP/2 keepalive) at a third of it, so a live client with an
//!   idle stream always answers in time.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Buf;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};
use tonic::body::Body;
use tonic::codegen::tokio_stream::Stream;
use tonic::server::NamedService;
use tonic::transport::server::{Connected, TcpConnectInfo};
use tonic::Status;

/// The server's limits (see the module docs). [`Limits::default`] is what
/// `p4clone soft` uses unless told otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest request message (bytes); larger → RESOURCE_EXHAUSTED.
    pub max_message_bytes: usize,
    /// Most updates in one `Write`; more → RESOURCE_EXHAUSTED.
    pub max_batch_updates: usize,
    /// Most open connections; more are closed when accepted.
    pub max_connections: usize,
    /// Most concurrent HTTP/2 streams (RPCs) per connection.
    pub max_concurrent_streams: u32,
    /// A connection that sends nothing for this long is closed.
    pub idle_timeout: Duration,
}

impl Limits {
    /// 64 MiB messages.
    pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 64 << 20;
    /// 100,000 updates per `Write` (the runtime sends 1,000).
    pub const DEFAULT_MAX_BATCH_UPDATES: usize = 100_000;
    /// 64 connections.
    pub const DEFAULT_MAX_CONNECTIONS: usize = 64;
    /// 128 streams per connection.
    pub const DEFAULT_MAX_CONCURRENT_STREAMS: u32 = 128;
    /// 120 s without a byte from the client.
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(120);

    /// The HTTP/2 keepalive ping interval (and ack timeout): a third of the
    /// idle timeout, at least 100 ms.
    pub fn keepalive_interval(&self) -> Duration {
        (self.idle_timeout / 3).max(Duration::from_millis(100))
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: Self::DEFAULT_MAX_MESSAGE_BYTES,
            max_batch_updates: Self::DEFAULT_MAX_BATCH_UPDATES,
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            max_concurrent_streams: Self::DEFAULT_MAX_CONCURRENT_STREAMS,
            idle_timeout: Self::DEFAULT_IDLE_TIMEOUT,
        }
    }
}

/// Wraps a gRPC service so that every request message longer than the limit
/// fails with RESOURCE_EXHAUSTED when its length prefix arrives (tonic itself
/// would answer OUT_OF_RANGE; the gRPC spec and other servers say
/// RESOURCE_EXHAUSTED).
#[derive(Debug, Clone)]
pub struct MessageSizeLimit<S> {
    inner: S,
    limit: usize,
}

impl<S> MessageSizeLimit<S> {
    /// `inner`, refusing request messages over `limit` bytes.
    pub fn new(inner: S, limit: usize) -> Self {
        MessageSizeLimit { inner, limit }
    }
}

impl<S: NamedService> NamedService for MessageSizeLimit<S> {
    const NAME: &'static str = S::NAME;
}

impl<S> tower_service::Service<http::Request<Body>> for MessageSizeLimit<S>
where
    S: tower_service::Service<http::Request<Body>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let limit = self.limit;
        self.inner.call(req.map(|body| Body::new(LimitedBody::new(body, limit))))
    }
}

/// A request body that follows the gRPC framing (1 flag byte, 4 length bytes,
/// the message) and fails when a frame announces more than `limit` bytes.
struct LimitedBody {
    inner: Body,
    limit: usize,
    /// The length prefix being read.
    header: [u8; 5],
    have: usize,
    /// Message bytes still to come in the current frame.
    remaining: u64,
    failed: bool,
}

impl LimitedBody {
    fn new(inner: Body, limit: usize) -> Self {
        LimitedBody { inner, limit, header: [0; 5], have: 0, remaining: 0, failed: false }
    }

    /// Follows the framing over `data`; `Err` on an oversized message.
    fn scan(&mut self, mut data: &[u8]) -> Result<(), Status> {
        while !data.is_empty() {
            if self.remaining > 0 {
                let n = (self.remaining.min(data.len() as u64)) as usize;
                self.remaining -= n as u64;
                data = &data[n..];
                continue;
            }
            let n = (5 - self.have).min(data.len());
            self.header[self.have..self.have + n].copy_from_slice(&data[..n]);
            self.have += n;
            data = &data[n..];
            if self.have == 5 {
                self.have = 0;
                let len = u32::from_be_bytes([self.header[1], self.header[2], self.header[3], self.header[4]]);
                if len as usize > self.limit {
                    return Err(Status::resource_exhausted(format!(
                        "request message of {len} bytes is larger than this server's limit of {} bytes \
                         (p4clone soft --max-message-bytes); split the batch",
                        self.limit
                    )));
                }
                self.remaining = u64::from(len);
            }
        }
        Ok(())
    }
}

impl HttpBody for LimitedBody {
    type Data = bytes::Bytes;
    type Error = Status;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Self::Data>, Status>>> {
        if self.failed {
            return Poll::Ready(None);
        }
        let frame = match ready!(Pin::new(&mut self.inner).poll_frame(cx)) {
            Some(Ok(f)) => f,
            Some(Err(e)) => return Poll::Ready(Some(Err(e))),
            None => return Poll::Ready(None),
        };
        if let Some(data) = frame.data_ref() {
            if let Err(status) = self.scan(data.chunk()) {
                self.failed = true;
                return Poll::Ready(Some(Err(status)));
            }
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.failed || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The accepted connections of a listener, at most `max_connections` open at
/// once (more are closed as soon as accepted), each closed after
/// `idle_timeout` without a byte from the client.
pub(crate) struct Incoming {
    listener: TcpListener,
    slots: Arc<Semaphore>,
    idle_timeout: Duration,
    /// Set while accept failed for lack of file descriptors (retried later).
    backoff: Option<Pin<Box<Sleep>>>,
}

impl Incoming {
    pub(crate) fn new(listener: TcpListener, limits: &Limits) -> Self {
        Incoming {
            listener,
            slots: Arc::new(Semaphore::new(limits.max_connections.max(1))),
            idle_timeout: limits.idle_timeout,
            backoff: None,
        }
    }
}

impl Stream for Incoming {
    type Item = io::Result<Conn>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(b) = self.backoff.as_mut() {
                ready!(b.as_mut().poll(cx));
                self.backoff = None;
            }
            match ready!(self.listener.poll_accept(cx)) {
                Ok((stream, _peer)) => {
                    let Ok(permit) = self.slots.clone().try_acquire_owned() else {
                        drop(stream); // over the connection limit
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    return Poll::Ready(Some(Ok(Conn::new(stream, permit, self.idle_timeout))));
                }
                // Out of file descriptors (or another transient failure): the
                // server keeps running and tries again shortly.
                Err(e) if e.raw_os_error() == Some(libc::EMFILE) || e.raw_os_error() == Some(libc::ENFILE) => {
                    self.backoff = Some(Box::pin(tokio::time::sleep(Duration::from_millis(100))));
                }
                Err(e) => return Poll::Ready(Some(Err(e))),
            }
        }
    }
}

/// An accepted connection: holds its connection slot, and fails its reads
/// with `TimedOut` once nothing arrived for the idle timeout.
pub(crate) struct Conn {
    stream: TcpStream,
    _slot: OwnedSemaphorePermit,
    idle_timeout: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl Conn {
    fn new(stream: TcpStream, slot: OwnedSemaphorePermit, idle_timeout: Duration) -> Self {
        Conn { stream, _slot: slot, idle_timeout, deadline: Box::pin(tokio::time::sleep(idle_timeout)) }
    }
}

impl Connected for Conn {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.stream.connect_info()
    }
}

impl AsyncRead for Conn {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(r) => {
                if r.is_ok() && buf.filled().len() > before {
                    let next = Instant::now() + self.idle_timeout;
                    self.deadline.as_mut().reset(next);
                }
                Poll::Ready(r)
            }
            Poll::Pending => match self.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("nothing received for {:?}: connection closed", self.idle_timeout),
                ))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(len: u32) -> Vec<u8> {
        let mut v = vec![0u8];
        v.extend_from_slice(&len.to_be_bytes());
        v.extend(std::iter::repeat_n(7u8, len as usize));
        v
    }

    #[test]
    fn the_framing_is_followed_across_chunks() {
        let mut b = LimitedBody::new(Body::empty(), 10);
        let mut data = frame(10);
        data.extend(frame(3));
        data.extend(frame(0));
        // Any split of the stream into chunks is accepted.
        for cut in 0..data.len() {
            let mut b2 = LimitedBody::new(Body::empty(), 10);
            b2.scan(&data[..cut]).unwrap();
            b2.scan(&data[cut..]).unwrap();
            assert_eq!((b2.have, b2.remaining), (0, 0));
        }
        b.scan(&data).unwrap();
        // A header announcing 11 bytes fails, even split in two.
        let big = frame(11);
        b.scan(&big[..3]).unwrap();
        let e = b.scan(&big[3..]).unwrap_err();
        assert_eq!(e.code(), tonic::Code::ResourceExhausted);
        assert!(e.message().contains("11 bytes"), "{}", e.message());
    }
}
