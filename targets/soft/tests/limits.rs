//! The server's resource limits (`Limits`), over real gRPC on 127.0.0.1: an
//! oversized message and an oversized Write batch → RESOURCE_EXHAUSTED with
//! nothing applied; a full table → RESOURCE_EXHAUSTED for the update past its
//! size; connections past the limit are closed; streams per connection are
//! bounded; a connection that sends nothing is closed after the idle timeout
//! while an idle but live client (answering keepalive pings) stays.

mod conformance_rig;

use std::time::Duration;

use conformance_rig::*;
use p4clone_proto::p4::v1::p4_runtime_client::P4RuntimeClient;
use p4clone_proto::p4::v1::{entity::Entity as E, CapabilitiesRequest, TableEntry};
use p4clone_soft::server::{Limits, ServeOptions};
use tokio::io::AsyncReadExt;
use tonic::Code;

fn opts(limits: Limits) -> ServeOptions {
    ServeOptions { tls: None, limits }
}

/// `n` clone_rewrite inserts, members `from..from+n`.
fn rewrites(r: &Rig, from: u32, n: u32) -> Vec<p4clone_proto::p4::v1::Update> {
    (from..from + n).map(|m| ins(r.rewrite(u128::from(m)))).collect()
}

async fn rewrite_count(r: &mut Rig) -> usize {
    r.read_tables(TableEntry { table_id: r.tid("clone_rewrite"), ..Default::default() }).await.len()
}

async fn client(addr: std::net::SocketAddr) -> Result<P4RuntimeClient<tonic::transport::Channel>, String> {
    let ch = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_timeout(Duration::from_secs(2))
        .connect()
        .await
        .map_err(|e| e.to_string())?;
    Ok(P4RuntimeClient::new(ch))
}

async fn capabilities(c: &mut P4RuntimeClient<tonic::transport::Channel>) -> Result<(), tonic::Status> {
    tokio::time::timeout(Duration::from_secs(2), c.capabilities(CapabilitiesRequest::default()))
        .await
        .map_err(|_| tonic::Status::deadline_exceeded("no answer in 2 s"))?
        .map(|_| ())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_message_is_resource_exhausted_and_changes_nothing() {
    let mut r = rig_with(&opts(Limits { max_message_bytes: 16 << 10, ..Limits::default() })).await;
    // ~500 updates of ~60 bytes: well over 16 KiB.
    let big = rewrites(&r, 1, 500);
    let e = r.write(big).await.unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
    assert!(e.message().contains("limit of 16384 bytes"), "{}", e.message());
    assert_eq!(rewrite_count(&mut r).await, 0);
    // Under the limit, on the same client: applied.
    r.write(rewrites(&r, 1, 50)).await.unwrap();
    assert_eq!(rewrite_count(&mut r).await, 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_over_the_limit_is_resource_exhausted_and_changes_nothing() {
    let mut r = rig_with(&opts(Limits { max_batch_updates: 10, ..Limits::default() })).await;
    let e = r.write(rewrites(&r, 1, 11)).await.unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
    assert!(e.message().contains("11 updates") && e.message().contains("limit of 10"), "{}", e.message());
    assert_eq!(rewrite_count(&mut r).await, 0);
    r.write(rewrites(&r, 1, 10)).await.unwrap();
    assert_eq!(rewrite_count(&mut r).await, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_table_is_resource_exhausted_for_the_update_past_its_size() {
    let mut r = rig().await;
    let size = p4clone_pipeline::sizes::REWRITE_SIZE as u32;
    let mut from = 1;
    while from <= size {
        let n = 8192.min(size + 1 - from);
        r.write(rewrites(&r, from, n)).await.unwrap();
        from += n;
    }
    let (code, message) = code1(r.write(rewrites(&r, size + 1, 1)).await);
    assert_eq!(code, Code::ResourceExhausted, "{message}");
    assert_eq!(rewrite_count(&mut r).await, size as usize);
    // A modify of an existing entry still goes through.
    let mut m = r.rewrite(1);
    m.priority = 0;
    r.write(vec![upd(p4clone_proto::p4::v1::update::Type::Modify, E::TableEntry(m))]).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_limit_are_closed() {
    // The rig's own client holds one of the two connections.
    let r = rig_with(&opts(Limits { max_connections: 2, ..Limits::default() })).await;
    let addr = r.handle.as_ref().unwrap().local_addr();
    let mut second = client(addr).await.unwrap();
    capabilities(&mut second).await.unwrap();
    // The third is accepted and closed at once: its RPC fails.
    let third = match client(addr).await {
        Ok(mut c) => capabilities(&mut c).await.err().map(|s| s.to_string()),
        Err(e) => Some(e),
    };
    assert!(third.is_some(), "a third connection was served");
    // A slot frees when a client leaves.
    drop(second);
    let mut ok = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if let Ok(mut c) = client(addr).await {
            if capabilities(&mut c).await.is_ok() {
                ok = true;
                break;
            }
        }
    }
    assert!(ok, "no connection slot came free");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_streams_per_connection_are_bounded() {
    let mut r = rig_with(&opts(Limits { max_concurrent_streams: 2, ..Limits::default() })).await;
    // The rig's StreamChannel is one stream; a second StreamChannel makes two.
    let mut c = r.client.clone();
    let extra = arbitrate(&mut c, PRIMARY + 1).await;
    // A third RPC on the connection waits for a free stream.
    let e = capabilities(&mut r.client).await.unwrap_err();
    assert_eq!(e.code(), Code::DeadlineExceeded, "{e:?}");
    drop(extra);
    tokio::time::sleep(Duration::from_millis(200)).await;
    capabilities(&mut r.client).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_connection_is_closed_and_a_live_idle_client_stays() {
    let idle = Duration::from_millis(600);
    let mut r = rig_with(&opts(Limits { idle_timeout: idle, ..Limits::default() })).await;
    let addr = r.handle.as_ref().unwrap().local_addr();
    // Connects and never sends a byte (no HTTP/2 preface).
    let mut raw = tokio::net::TcpStream::connect(addr).await.unwrap();
    let t0 = std::time::Instant::now();
    let mut buf = [0u8; 64];
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match raw.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {} // the server's HTTP/2 settings
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the silent connection was not closed");
    assert!(t0.elapsed() >= idle - Duration::from_millis(50), "closed after {:?}", t0.elapsed());

    // The rig's client held its stream open, sending nothing itself, for
    // three idle timeouts: the keepalive pings kept it; it is still primary.
    tokio::time::sleep(idle * 3).await;
    r.write(rewrites(&r, 1, 1)).await.unwrap();
    assert_eq!(rewrite_count(&mut r).await, 1);
}
