//! The HTTP server of `stats --listen ADDR` (hyper, HTTP/1.1):
//!
//! | path | answer |
//! |---|---|
//! | `GET /metrics` | the Prometheus text produced by a callback, called on every scrape (so every scrape reads the devices afresh); 503 with the message if it fails |
//! | `GET /healthz` | a [`Health`] as JSON (`{"status":"ok"}` by default); 200 when healthy, else 503 |
//! | `GET /` | a one-line pointer to `/metrics` |
//!
//! `HEAD` works wherever `GET` does; anything else is 404. One request per
//! connection (`Connection: close`).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE as CONTENT_TYPE_HEADER};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Content type of the Prometheus text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

const TEXT: &str = "text/plain; charset=utf-8";
const JSON: &str = "application/json";
/// How long a client may take to send the request head.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// What `/healthz` answers: a JSON object with `status` and any further fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Health {
    /// `ok` answers 200, anything else 503.
    pub status: String,
    /// Further fields of the object (e.g. a controller's state).
    #[serde(flatten)]
    pub details: serde_json::Map<String, serde_json::Value>,
}

impl Health {
    /// `{"status":"ok"}`.
    pub fn ok() -> Health {
        Health { status: "ok".into(), details: serde_json::Map::new() }
    }

    /// Whether `/healthz` answers 200.
    pub fn is_ok(&self) -> bool {
        self.status == "ok"
    }

    /// Adds the field `key` to the object.
    pub fn with(mut self, key: impl Into<String>, value: impl Into<serde_json::Value>) -> Health {
        self.details.insert(key.into(), value.into());
        self
    }
}

impl Default for Health {
    fn default() -> Health {
        Health::ok()
    }
}

type RenderFuture = Pin<Box<dyn Future<Output = Result<String, String>> + Send>>;

/// The handlers behind the routes.
struct Routes {
    metrics: Box<dyn Fn() -> RenderFuture + Send + Sync>,
    health: Box<dyn Fn() -> Health + Send + Sync>,
}

/// A running metrics server; stopped when dropped or by [`MetricsServer::shutdown`].
#[derive(Debug)]
pub struct MetricsServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl MetricsServer {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting connections.
    pub fn shutdown(self) {
        self.task.abort();
    }

    /// Waits until the server stops (it only stops when aborted).
    pub async fn wait(mut self) {
        let _ = (&mut self.task).await;
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds `addr` and serves `render()` at `/metrics` and [`Health::ok`] at
/// `/healthz`. `render` returning `Err(message)` answers 503 with the message.
pub async fn serve<F, Fut>(addr: &str, render: F) -> std::io::Result<MetricsServer>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<String, String>> + Send + 'static,
{
    serve_with_health(addr, render, Health::ok).await
}

/// [`serve`], with `health()` answering `/healthz` (called on every request).
pub async fn serve_with_health<F, Fut, H>(addr: &str, render: F, health: H) -> std::io::Result<MetricsServer>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<String, String>> + Send + 'static,
    H: Fn() -> Health + Send + Sync + 'static,
{
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))?;
    let local = listener.local_addr()?;
    let routes =
        Arc::new(Routes { metrics: Box::new(move || Box::pin(render()) as RenderFuture), health: Box::new(health) });
    let task = tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let routes = Arc::clone(&routes);
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let routes = Arc::clone(&routes);
                    async move { Ok::<_, Infallible>(route(&routes, &req).await) }
                });
                let _ = http1::Builder::new()
                    .keep_alive(false)
                    .title_case_headers(true)
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_READ_TIMEOUT)
                    .serve_connection(TokioIo::new(sock), service)
                    .await;
            });
        }
    });
    Ok(MetricsServer { addr: local, task })
}

/// The answer to one request (hyper leaves out the body of a `HEAD` answer).
async fn route(routes: &Routes, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return not_found();
    }
    match req.uri().path() {
        "/metrics" => match (routes.metrics)().await {
            Ok(text) => respond(StatusCode::OK, CONTENT_TYPE, text),
            Err(e) => respond(StatusCode::SERVICE_UNAVAILABLE, TEXT, format!("{e}\n")),
        },
        "/healthz" => {
            let h = (routes.health)();
            let status = if h.is_ok() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
            let body = serde_json::to_string(&h).unwrap_or_else(|_| r#"{"status":"unknown"}"#.into());
            respond(status, JSON, body + "\n")
        }
        "/" => respond(StatusCode::OK, TEXT, "p4clone: metrics at /metrics\n".into()),
        _ => not_found(),
    }
}

fn not_found() -> Response<Full<Bytes>> {
    respond(StatusCode::NOT_FOUND, TEXT, "not found\n".into())
}

fn respond(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE_HEADER, HeaderValue::from_static(content_type));
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// The whole answer to one raw HTTP/1.1 request (the server closes the connection).
    async fn request(addr: SocketAddr, method: &str, path: &str) -> String {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(format!("{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    fn split(resp: &str) -> (&str, &str) {
        resp.split_once("\r\n\r\n").unwrap()
    }

    const TEXT_BODY: &str = "# HELP p4clone_x x\n# TYPE p4clone_x gauge\np4clone_x{device=\"nic0\"} 1\n";

    #[tokio::test]
    async fn metrics_body_is_the_rendered_text_byte_for_byte() {
        let server = serve("127.0.0.1:0", || async { Ok(TEXT_BODY.to_string()) }).await.unwrap();
        let addr = server.local_addr();
        let r = request(addr, "GET", "/metrics?x=1").await;
        let (head, body) = split(&r);
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.contains(&format!("Content-Type: {CONTENT_TYPE}\r\n")), "{head}");
        assert!(head.contains(&format!("Content-Length: {}\r\n", TEXT_BODY.len())), "{head}");
        assert!(head.contains("Connection: close"), "{head}");
        assert_eq!(body, TEXT_BODY);

        let r = request(addr, "HEAD", "/metrics").await;
        let (head, body) = split(&r);
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.contains(&format!("Content-Length: {}\r\n", TEXT_BODY.len())), "{head}");
        assert_eq!(body, "");

        let r = request(addr, "GET", "/").await;
        assert_eq!(split(&r).1, "p4clone: metrics at /metrics\n");
        for (method, path) in [("GET", "/nope"), ("POST", "/metrics"), ("GET", "/metrics/x")] {
            let r = request(addr, method, path).await;
            assert!(r.starts_with("HTTP/1.1 404 Not Found\r\n"), "{method} {path}: {r}");
            assert_eq!(split(&r).1, "not found\n");
        }
        server.shutdown();
    }

    #[tokio::test]
    async fn a_failed_render_answers_503_with_the_message() {
        let server = serve("127.0.0.1:0", || async { Err("no device answered".to_string()) }).await.unwrap();
        let r = request(server.local_addr(), "GET", "/metrics").await;
        assert!(r.starts_with("HTTP/1.1 503 Service Unavailable\r\n"), "{r}");
        assert_eq!(split(&r).1, "no device answered\n");
    }

    #[tokio::test]
    async fn healthz_answers_json() {
        let server = serve("127.0.0.1:0", || async { Ok(String::new()) }).await.unwrap();
        let r = request(server.local_addr(), "GET", "/healthz").await;
        let (head, body) = split(&r);
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.contains("Content-Type: application/json\r\n"), "{head}");
        assert_eq!(body, "{\"status\":\"ok\"}\n");

        let server = serve_with_health(
            "127.0.0.1:0",
            || async { Ok(String::new()) },
            || Health { status: "degraded".into(), ..Health::ok() }.with("devices_up", 1),
        )
        .await
        .unwrap();
        let r = request(server.local_addr(), "GET", "/healthz").await;
        assert!(r.starts_with("HTTP/1.1 503 Service Unavailable\r\n"), "{r}");
        assert_eq!(split(&r).1, "{\"status\":\"degraded\",\"devices_up\":1}\n");
    }

    #[tokio::test]
    async fn a_busy_port_is_an_error_naming_the_address() {
        let first = serve("127.0.0.1:0", || async { Ok(String::new()) }).await.unwrap();
        let addr = first.local_addr().to_string();
        let e = serve(&addr, || async { Ok(String::new()) }).await.unwrap_err();
        assert!(e.to_string().contains(&format!("cannot listen on {addr}")), "{e}");
    }
}
