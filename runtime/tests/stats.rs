//! Stats: frames through the soft pipeline → mirror counters → reference layout,
//! table / JSON / Prometheus renderings, and the `/metrics` server.

mod common;

use std::sync::Arc;

use common::{push, Device, Model};
use p4clone_pipeline::{Diag, EmitBatch, RxFrame, WorkerState, BURST};
use p4clone_runtime::fleet::{self, DeviceTarget, StatsCollector};
use p4clone_runtime::{metrics, stats};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// An Ethernet/IPv4/TCP frame `src:sport → dst:dport`.
fn tcp_frame(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
    let mut f = Vec::with_capacity(64);
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02, 0x08, 0x00]);
    let total: u16 = 20 + 20 + 6;
    f.extend_from_slice(&[0x45, 0, (total >> 8) as u8, total as u8, 0, 1, 0x40, 0, 64, 6, 0, 0]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
    f.extend_from_slice(b"hello!");
    f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_after_traffic_match_the_pipeline_counters() {
    let dev = Device::start().await;
    let addr = dev.address();
    let mut m = Model::new()
        .profile("ids", 2)
        .profile("probe", 1)
        .vs("vs-a", Some(0), 1)
        .vs("vs-b", Some(1), 1)
        .vs("vs-c", None, 1);
    m.two_ses = true;
    let cfg = m.config(&addr);
    let r = push(&cfg).await;
    assert!(r.ok(), "{r}");

    // 10 frames se-1 → vs-a's pool member (forward rule), entering on the SE
    // side (port 2, wired to 1), and 3 frames pool member → se-1 for vs-b.
    let pipeline = dev.target.pipeline();
    let a: Vec<Vec<u8>> = (0..10).map(|i| tcp_frame([10, 20, 0, 5], [10, 20, 1, 10], 40000 + i, 8080)).collect();
    let b: Vec<Vec<u8>> = (0..3).map(|i| tcp_frame([10, 20, 2, 10], [10, 20, 0, 5], 8080, 50000 + i)).collect();
    let frames: Vec<RxFrame> =
        a.iter().map(|d| RxFrame { port: 2, data: d }).chain(b.iter().map(|d| RxFrame { port: 1, data: d })).collect();
    let mut out = EmitBatch::with_capacity(BURST);
    pipeline.process_burst(&frames, &mut WorkerState::new(), &mut out);
    assert_eq!(out.len(), 26, "13 originals + 13 clones");

    // The ports failed to send some of the clones of vs-a's first clone server on
    // se-1: 2 found no buffer, 1 the driver refused (the software target's
    // CloneDiagnostics service reports them).
    let schema = p4clone_compiler::lower::program_schema().unwrap();
    let mut c = common::read_only(&addr).await;
    let before = stats::read_device_counters(&mut c, schema).await.unwrap();
    let mut ids_se1: Vec<u16> = before
        .members
        .iter()
        .filter(|(_, m)| m.owner.as_ref().is_some_and(|o| o.profile == "ids" && o.se == "se-1"))
        .map(|(&id, _)| id)
        .collect();
    ids_se1.sort_unstable();
    let m0 = ids_se1[0];
    pipeline.add_diag(Diag::AllocFailed, m0, 2);
    pipeline.add_diag(Diag::DriverFailed, m0, 1);

    let report = fleet::stats(&cfg, &DeviceTarget::from_config(&cfg), &common::opts(), None).await;
    assert!(report.errors.is_empty(), "{report:?}");
    assert_eq!(report.virtual_services.len(), 2, "vs-c has no profile");
    let va = &report.virtual_services[0];
    assert_eq!((va.vs.as_str(), va.profile.as_str(), va.tenant.as_str()), ("vs-a", "ids", "admin"));
    let names: Vec<&str> = va.se_stats.iter().map(|s| s.se.as_str()).collect();
    assert_eq!(names, ["se-1", "se-2", "PROC_Aggregate"]);
    let se1 = &va.se_stats[0].clone_srvr_stats;
    assert_eq!(se1[0].ip, "192.168.50.10");
    assert_eq!(se1[1].ip, "192.168.50.11");
    // round robin over two members
    assert_eq!((se1[0].num_total_pkts_cloned, se1[1].num_total_pkts_cloned), (Some(5), Some(5)));
    assert_eq!((se1[0].num_succeeded, se1[1].num_succeeded), (Some(2), Some(5)), "failed sends did not succeed");
    assert_eq!((se1[0].num_mbuf_alloc_failed, se1[0].num_driver_failures), (Some(2), Some(1)));
    assert_eq!((se1[1].num_mbuf_alloc_failed, se1[1].num_driver_failures), (Some(0), Some(0)));
    let se2 = &va.se_stats[1].clone_srvr_stats;
    assert_eq!(se2[0].num_total_pkts_cloned, Some(0));
    let agg = &va.se_stats[2].clone_srvr_stats;
    assert_eq!(agg[0].num_total_pkts_cloned, Some(5));
    assert_eq!(agg[1].num_succeeded, Some(5));
    assert_eq!(
        (agg[0].num_succeeded, agg[0].num_mbuf_alloc_failed, agg[0].num_driver_failures),
        (Some(2), Some(2), Some(1))
    );
    let vb = &report.virtual_services[1];
    assert_eq!(vb.se_stats[0].clone_srvr_stats[0].num_total_pkts_cloned, Some(3));

    // The numbers are the pipeline's own counters.
    let counters = stats::read_device_counters(&mut c, schema).await.unwrap();
    let total: u64 = counters.members.values().filter_map(|m| m.requested).map(|v| v.packets).sum();
    assert_eq!(total, 13);

    let table = stats::render_table(&report);
    assert!(table.contains("vs-a (tenant admin, profile ids)"), "{table}");
    assert!(table.contains("num_total_pkts_cloned"), "{table}");
    let line = table.lines().find(|l| l.contains("se-1") && l.contains("192.168.50.10")).unwrap();
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(cols, ["se-1", "nic0", "[0]", "192.168.50.10", "5", "300", "2", "1", "2", "0"], "{table}");
    assert!(table.contains("PROC_Aggregate"));

    let json: serde_json::Value = serde_json::from_str(&stats::render_json(&report)).unwrap();
    let s0 = &json["virtual_services"][0]["se_stats"][0]["clone_srvr_stats"][0];
    assert_eq!(s0["num_total_pkts_cloned"], 5);
    assert_eq!(
        (&s0["num_mbuf_alloc_failed"], &s0["num_driver_failures"], &s0["num_succeeded"]),
        (&2.into(), &1.into(), &2.into())
    );

    let prom = stats::render_prometheus(&report);
    assert!(prom.contains("# TYPE p4clone_clone_packets_total counter"), "{prom}");
    assert!(prom.contains(
        "p4clone_clone_packets_total{vs=\"vs-a\",tenant=\"admin\",profile=\"ids\",clone_server=\"192.168.50.10\",device=\"nic0\",se=\"se-1\",kind=\"requested\"} 5"
    ), "{prom}");
    assert!(prom.contains("p4clone_device_up{device=\"nic0\"} 1"), "{prom}");
    assert!(!prom.contains("PROC_Aggregate"));
    assert!(prom.contains(
        "p4clone_clone_mbuf_alloc_failed_total{vs=\"vs-a\",tenant=\"admin\",profile=\"ids\",clone_server=\"192.168.50.10\",device=\"nic0\",se=\"se-1\"} 2"
    ), "{prom}");

    // --vs filter; a profile edit resets that VS's numbers.
    let only = fleet::stats(&cfg, &DeviceTarget::from_config(&cfg), &common::opts(), Some("vs-b")).await;
    assert_eq!(only.virtual_services.len(), 1);
    m.profiles[0].truncate = 64;
    let cfg2 = m.config(&addr);
    assert!(push(&cfg2).await.ok());
    let after = fleet::stats(&cfg2, &DeviceTarget::from_config(&cfg2), &common::opts(), None).await;
    let se1 = &after.virtual_services[0].se_stats[0].clone_srvr_stats;
    assert_eq!(se1[0].num_total_pkts_cloned, Some(0));
    assert_eq!(
        (se1[0].num_mbuf_alloc_failed, se1[0].num_driver_failures),
        (Some(0), Some(0)),
        "reset with the profile"
    );
    assert_eq!(
        after.virtual_services[1].se_stats[0].clone_srvr_stats[0].num_total_pkts_cloned,
        Some(3),
        "probe's stats survive an edit of ids"
    );
}

/// A P4Runtime device that does not serve `p4clone.soft.v1.CloneDiagnostics`
/// (as BMv2 and switches): the failure counts are unknown, shown `-`, not
/// exported, and `num_succeeded` is `clones_emitted` as counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_unknown_where_the_device_does_not_count_them() {
    let target = p4clone_soft::server::SoftTarget::new(1);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let service = target.service();
    let task = tokio::spawn(async move {
        let _ = tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await;
    });
    let cfg = Model::new().profile("ids", 1).vs("vs-a", Some(0), 1).config(&addr);
    assert!(push(&cfg).await.ok());
    let pipeline = target.pipeline();
    let frames: Vec<Vec<u8>> = (0..4).map(|i| tcp_frame([10, 20, 0, 5], [10, 20, 1, 10], 40000 + i, 8080)).collect();
    let rx: Vec<RxFrame> = frames.iter().map(|d| RxFrame { port: 2, data: d }).collect();
    let mut out = EmitBatch::with_capacity(BURST);
    pipeline.process_burst(&rx, &mut WorkerState::new(), &mut out);
    for m in 1..=32_767 {
        pipeline.add_diag(Diag::DriverFailed, m, 1);
    }

    let mut c = common::read_only(&addr).await;
    assert_eq!(c.read_clone_diagnostics(Vec::new()).await.unwrap(), None);
    let report = fleet::stats(&cfg, &DeviceTarget::from_config(&cfg), &common::opts(), None).await;
    assert!(report.errors.is_empty(), "{report:?}");
    let row = &report.virtual_services[0].se_stats[0].clone_srvr_stats[0];
    assert_eq!((row.num_total_pkts_cloned, row.num_succeeded), (Some(4), Some(4)));
    assert_eq!((row.num_mbuf_alloc_failed, row.num_driver_failures), (None, None));
    let table = stats::render_table(&report);
    let line = table.lines().find(|l| l.contains("192.168.50.10") && l.contains("se-1")).unwrap();
    assert_eq!(line.split_whitespace().collect::<Vec<_>>()[4..], ["4", "240", "-", "-", "4", "0"], "{table}");
    assert!(!stats::render_prometheus(&report).contains("mbuf"), "unknown values are not exported");
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_endpoint_serves_prometheus_text() {
    let dev = Device::start().await;
    let cfg = Model::new().profile("ids", 2).vs("vs-a", Some(0), 1).config(&dev.address());
    assert!(push(&cfg).await.ok());
    let collector =
        Arc::new(tokio::sync::Mutex::new(StatsCollector::new(DeviceTarget::from_config(&cfg), common::opts())));
    let cfg = Arc::new(cfg);
    let server = metrics::serve("127.0.0.1:0", move || {
        let (collector, cfg) = (Arc::clone(&collector), Arc::clone(&cfg));
        async move {
            let report = collector.lock().await.collect(&cfg, None).await;
            Ok(stats::render_prometheus(&report))
        }
    })
    .await
    .unwrap();
    let get = |path: &'static str| {
        let addr = server.local_addr();
        async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes()).await.unwrap();
            let mut body = String::new();
            s.read_to_string(&mut body).await.unwrap();
            body
        }
    };
    for _ in 0..2 {
        let r = get("/metrics").await;
        assert!(r.starts_with("HTTP/1.1 200 OK"), "{r}");
        assert!(r.contains("text/plain; version=0.0.4"), "{r}");
        assert!(r.contains("kind=\"emitted\"} 0"), "{r}");
        assert!(r.contains("p4clone_device_up{device=\"nic0\"} 1"), "{r}");
    }
    assert!(get("/nope").await.starts_with("HTTP/1.1 404"));
    server.shutdown();
}

#[test]
fn unread_devices_are_left_out_and_failed_ones_show_dashes() {
    use std::collections::BTreeMap;
    let cfg = Model::new().profile("ids", 2).vs("vs-a", Some(0), 1).config("127.0.0.1:1");
    let none = stats::build_report(&cfg, &BTreeMap::new(), None);
    assert!(none.virtual_services.is_empty());
    let mut reads = BTreeMap::new();
    reads.insert(
        "nic0".to_string(),
        Err("cannot reach P4Runtime device at 127.0.0.1:1: connection refused".to_string()),
    );
    let r = stats::build_report(&cfg, &reads, None);
    assert_eq!(r.virtual_services.len(), 1);
    let rows = &r.virtual_services[0].se_stats[0].clone_srvr_stats;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].num_total_pkts_cloned, None);
    assert_eq!(r.virtual_services[0].se_stats[1].clone_srvr_stats[0].num_succeeded, None, "aggregate unknown");
    let table = stats::render_table(&r);
    assert!(table.contains("error: nic0: cannot reach"), "{table}");
    let prom = stats::render_prometheus(&r);
    assert!(prom.contains("p4clone_device_up{device=\"nic0\"} 0"), "{prom}");
    assert!(!prom.contains("p4clone_clone_packets_total{"), "{prom}");
}
