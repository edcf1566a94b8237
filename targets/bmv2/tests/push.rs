//! `push::program` and `push::read_stats`, the P4Runtime path of a BMv2 run,
//! against the in-process software target (CI) — the same code BMv2 users run
//! with the BMv2 artifacts.

use std::path::PathBuf;
use std::time::Duration;

use p4clone_bmv2::push;
use p4clone_compiler::config::Target;
use p4clone_compiler::intent::{self, Allocation};
use p4clone_compiler::source;
use p4clone_runtime::pipeline::PipelineArtifacts;
use p4clone_soft::server::SoftTarget;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn program_then_read_stats_on_the_software_target() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/basic.yaml");
    let loaded = source::load_file(&path).unwrap();
    let intent = intent::compile(&loaded.config, &Allocation::default()).unwrap();
    let device = &intent.devices[0];
    let target = SoftTarget::new(device.device_id);
    let server = target.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let address = server.local_addr().to_string();
    let artifacts = PipelineArtifacts::for_target(Target::Soft, None).unwrap();

    let mut p = push::program(&address, device, &artifacts, Duration::from_secs(10)).await.unwrap();
    assert!(p.pipeline.installed());
    assert!(p.result.inserted > 0, "{}", p.result);
    assert!(p.pipeline_started <= p.pipeline_set && p.pipeline_set <= p.done);

    let stats = push::read_stats(&mut p.client, &loaded.config, &device.name).await;
    assert!(stats.errors.is_empty(), "{:?}", stats.errors);
    let vs = &stats.virtual_services[0];
    let row = &vs.se_stats[0].clone_srvr_stats[0];
    assert_eq!(row.num_total_pkts_cloned, Some(0));
    assert_eq!(row.num_succeeded, Some(0));
    // what BMv2 cannot measure stays unknown
    assert_eq!(row.num_mbuf_alloc_failed, None);
    assert_eq!(row.num_driver_failures, None);
    drop(p);

    // A second push finds everything in place and writes nothing.
    let again = push::program(&address, device, &artifacts, Duration::from_secs(10)).await.unwrap();
    assert!(!again.pipeline.installed());
    assert_eq!(again.result.inserted + again.result.modified + again.result.deleted, 0, "{}", again.result);
    drop(again);
    server.shutdown().await;
}
