//! Client: TLS and mutual TLS, primary/backup arbitration, reconnect,
//! unreachable devices.

mod common;

use std::time::Duration;

use common::{push_with, Device, Model};
use p4clone_runtime::client::{Client, ConnectOptions, TlsOptions};
use p4clone_runtime::error::ClientError;
use p4clone_runtime::fleet::{self, DeviceTarget};
use p4clone_soft::server::SoftTarget;
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};

struct Pki {
    ca: String,
    server_cert: String,
    server_key: String,
    client_cert: String,
    client_key: String,
}

fn pki() -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "p4clone test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);

    let server_key = KeyPair::generate().unwrap();
    let mut sp = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    sp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_cert = sp.signed_by(&server_key, &issuer).unwrap();

    let client_key = KeyPair::generate().unwrap();
    let mut cp = CertificateParams::new(vec!["controller".to_string()]).unwrap();
    cp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_cert = cp.signed_by(&client_key, &issuer).unwrap();
    Pki {
        ca: ca_cert.pem(),
        server_cert: server_cert.pem(),
        server_key: server_key.serialize_pem(),
        client_cert: client_cert.pem(),
        client_key: client_key.serialize_pem(),
    }
}

/// The soft target's P4Runtime service behind a TLS (optionally mTLS) server.
async fn tls_device(p: &Pki, mutual: bool) -> (SoftTarget, String, tokio::task::JoinHandle<()>) {
    let target = SoftTarget::new(1);
    let mut tls = ServerTlsConfig::new().identity(Identity::from_pem(&p.server_cert, &p.server_key));
    if mutual {
        tls = tls.client_ca_root(Certificate::from_pem(&p.ca));
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let service = target.service();
    let task = tokio::spawn(async move {
        let _ = Server::builder()
            .tls_config(tls)
            .unwrap()
            .add_service(service)
            .serve_with_incoming(TcpListenerStream::new(listener))
            .await;
    });
    (target, addr, task)
}

fn tls_opts(p: &Pki, with_client_cert: bool) -> TlsOptions {
    TlsOptions {
        ca: Some(p.ca.clone().into_bytes()),
        cert: with_client_cert.then(|| p.client_cert.clone().into_bytes()),
        key: with_client_cert.then(|| p.client_key.clone().into_bytes()),
        domain: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_push_and_wrong_ca_is_refused() {
    let p = pki();
    let (_t, addr, task) = tls_device(&p, false).await;
    let cfg = Model::new().profile("ids", 2).vs("vs-a", Some(0), 1).config(&addr);
    let mut o = common::opts();
    o.tls = Some(tls_opts(&p, false));
    let r = push_with(&cfg, &o).await;
    assert!(r.ok(), "{r}");
    assert!(r.devices[0].inserted > 0);
    assert_eq!(push_with(&cfg, &o).await.writes(), 0);

    // A CA that did not sign the server's certificate.
    let other = pki();
    let mut co = ConnectOptions::new(addr.clone(), 1);
    co.tls = Some(tls_opts(&other, false));
    co.timeout = Duration::from_secs(3);
    let e = Client::connect(co).await.unwrap_err();
    assert!(e.to_string().contains(&addr), "{e}");
    // Plaintext against a TLS server fails too, naming the address.
    let mut co = ConnectOptions::new(addr.clone(), 1);
    co.timeout = Duration::from_secs(3);
    let e = Client::connect(co).await.unwrap_err();
    assert!(e.to_string().contains(&addr), "{e}");
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_needs_the_client_certificate() {
    let p = pki();
    let (_t, addr, task) = tls_device(&p, true).await;
    let mut co = ConnectOptions::new(addr.clone(), 1);
    co.tls = Some(tls_opts(&p, true));
    let c = Client::connect(co).await.unwrap();
    assert!(c.is_primary());
    drop(c);

    let mut co = ConnectOptions::new(addr.clone(), 1);
    co.tls = Some(tls_opts(&p, false));
    co.timeout = Duration::from_secs(3);
    let e = Client::connect(co).await.unwrap_err();
    assert!(e.to_string().contains(&addr), "{e}");

    // cert without key is a local error
    let mut co = ConnectOptions::new(addr.clone(), 1);
    let mut t = tls_opts(&p, true);
    t.key = None;
    co.tls = Some(t);
    let e = Client::connect(co).await.unwrap_err();
    assert!(matches!(e, ClientError::Tls { .. }), "{e}");
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_never_writes_and_takes_over_when_the_primary_leaves() {
    let mut dev = Device::start().await;
    let addr = dev.address();
    let mut po = ConnectOptions::new(addr.clone(), 1);
    po.election_id = 2;
    let primary = Client::connect(po.clone()).await.unwrap();
    assert!(primary.is_primary());
    let mut backup = Client::connect(ConnectOptions::new(addr.clone(), 1)).await.unwrap();
    assert!(!backup.is_primary());
    assert_eq!(backup.arbitration().primary_election_id, Some(2));

    let e = backup.write(vec![Default::default()]).await.unwrap_err();
    let m = e.to_string();
    assert!(matches!(e, ClientError::NotPrimary(_)), "{m}");
    assert!(m.contains("backup") && m.contains("election id 1") && m.contains("2"), "{m}");

    // A whole push as backup: refused before anything is written. (The same
    // election id twice is refused by the device, so `backup` steps aside.)
    drop(backup);
    let cfg = Model::new().profile("ids", 1).vs("vs-a", Some(0), 1).config(&addr);
    let r = common::push(&cfg).await;
    assert!(!r.ok());
    assert_eq!(r.devices[0].errors[0].code, "NOT_PRIMARY", "{r}");
    assert_eq!(r.writes(), 0);
    assert!(!dev.target.has_pipeline(), "the backup did not set the pipeline");
    // Reading is fine as backup (plan).
    let plan = fleet::plan(&cfg, &DeviceTarget::from_config(&cfg), &common::opts()).await.unwrap();
    assert!(plan.ok(), "{plan}");

    // The primary goes away: the device promotes the backup.
    let mut backup = Client::connect(ConnectOptions::new(addr.clone(), 1)).await.unwrap();
    assert!(!backup.is_primary());
    drop(primary);
    assert!(backup.wait_primary(Duration::from_secs(3)).await, "{:?}", backup.arbitration());
    let errs = backup.write(Vec::new()).await.unwrap();
    assert!(errs.is_empty());

    // The device restarts: the stream drops; reconnect re-arbitrates.
    dev.restart().await;
    let t0 = std::time::Instant::now();
    while backup.is_connected() && t0.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!backup.is_connected() && !backup.is_primary(), "the stream ended with the server");
    let e = backup.write(Vec::new()).await.unwrap_err();
    assert!(matches!(e, ClientError::Disconnected { .. }), "{e}");
    backup.reconnect().await.unwrap();
    assert!(backup.is_primary());
    drop(backup);

    // ... and the next run, with the lower election id, pushes.
    let r = common::push(&cfg).await;
    assert!(r.ok(), "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_devices_are_named_and_do_not_stop_the_others() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = l.local_addr().unwrap().to_string();
    drop(l);
    let e = Client::connect(ConnectOptions::new(dead.clone(), 1)).await.unwrap_err();
    assert_eq!(e.to_string(), format!("cannot reach P4Runtime device at {dead}: connection refused"));
    assert!(e.is_connection());

    let dev = Device::start().await;
    let mut cfg = Model::new().profile("ids", 1).vs("vs-a", Some(0), 1).config(&dev.address());
    let mut other = cfg.devices[0].clone();
    other.name = "nic1".into();
    other.address = dead.clone();
    cfg.devices.push(other);
    let r = common::push(&cfg).await;
    assert_eq!(r.devices.len(), 2);
    assert!(r.devices[0].ok(), "{r}");
    assert!(r.devices[0].inserted > 0);
    assert_eq!(r.devices[1].errors[0].code, "UNREACHABLE");
    assert!(r.to_string().contains(&format!("cannot reach P4Runtime device at {dead}: connection refused")), "{r}");
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["devices"][1]["device"], "nic1");
    assert_eq!(json["devices"][1]["inserted"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_cookie_decides_whether_to_set_it() {
    use p4clone_compiler::config::Target;
    use p4clone_runtime::pipeline::{self, PipelineArtifacts, PipelineStatus};
    let dev = Device::start().await;
    let mut c = Client::connect(ConnectOptions::new(dev.address(), 1)).await.unwrap();
    assert_eq!(pipeline::device_cookie(&mut c).await.unwrap(), None);
    let a = PipelineArtifacts::for_target(Target::Soft, None).unwrap();
    let s = pipeline::ensure_pipeline(&mut c, &a).await.unwrap();
    assert_eq!(s, PipelineStatus::Installed { previous: None, cookie: a.cookie });
    assert_eq!(dev.target.cookie(), Some(a.cookie));
    let s = pipeline::ensure_pipeline(&mut c, &a).await.unwrap();
    assert_eq!(s, PipelineStatus::Unchanged { cookie: a.cookie });
    let got = pipeline::device_pipeline(&mut c).await.unwrap().unwrap();
    assert_eq!(got.p4info.as_ref(), Some(&a.p4info));
}
