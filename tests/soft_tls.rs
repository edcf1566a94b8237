//! `p4clone soft` as a secure service: TLS and mutual TLS on its P4Runtime
//! server (`--tls-cert`, `--tls-key`, `--tls-client-ca`), with `push`, `plan`,
//! `stats` and `controller` (`--ca`, `--cert`, `--key`) against it: the right CA
//! works; a wrong CA, a missing client certificate and a plaintext client are
//! refused with errors that say it is a certificate / TLS problem. Bad TLS files
//! exit 2 naming the file; plaintext on a non-loopback address warns.
//!
//! The certificates are made at test time (rcgen): a CA, a server certificate
//! for 127.0.0.1 / localhost, a client certificate, and a second, unrelated CA.

mod common;

use std::process::{Child, Command, Output, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use common::child::{self, collect_stderr};
use common::{assert_bad_input, p4clone, root};
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};

/// PEM files of a test PKI in a temporary directory.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: String| std::fs::write(dir.path().join(name), text).unwrap();
        let ca = |cn: &str| {
            let key = KeyPair::generate().unwrap();
            let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            p.distinguished_name.push(DnType::CommonName, cn);
            let cert = p.self_signed(&key).unwrap();
            (cert.pem(), Issuer::new(p, key))
        };
        let (ca_pem, issuer) = ca("p4clone test CA");
        write("ca.pem", ca_pem);
        let (other_pem, _) = ca("some other CA");
        write("other-ca.pem", other_pem);

        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        write("server.pem", p.signed_by(&key, &issuer).unwrap().pem());
        write("server.key", key.serialize_pem());

        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(vec!["controller".to_string()]).unwrap();
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        write("client.pem", p.signed_by(&key, &issuer).unwrap().pem());
        write("client.key", key.serialize_pem());
        Pki { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

/// Waits (20 s) for a stderr line containing `marker`.
fn line_with(rx: &mpsc::Receiver<String>, marker: &str, seen: &Arc<Mutex<Vec<String>>>) -> String {
    child::line_with(rx, marker, seen, Duration::from_secs(20))
}

/// A `p4clone soft` child, killed on drop.
struct Soft {
    child: Child,
    address: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Drop for Soft {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Soft {
    fn start(listen: &str, extra: &[String]) -> Soft {
        let mut child = Command::new(env!("CARGO_BIN_EXE_p4clone"))
            .current_dir(root())
            .args(["soft", "--p4rt", listen])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn p4clone soft");
        let (log, rx) = collect_stderr(&mut child);
        let l = line_with(&rx, "P4Runtime on ", &log);
        let address = l.split("P4Runtime on ").nth(1).unwrap().split(';').next().unwrap().trim().to_string();
        std::thread::spawn(move || while rx.recv().is_ok() {});
        Soft { child, address, log }
    }

    fn tls(pki: &Pki, mutual: bool) -> Soft {
        let mut args = vec!["--tls-cert".into(), pki.path("server.pem"), "--tls-key".into(), pki.path("server.key")];
        if mutual {
            args.extend(["--tls-client-ca".into(), pki.path("ca.pem")]);
        }
        Soft::start("127.0.0.1:0", &args)
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// `p4clone CMD examples/multi.yaml --device nic0 --address ADDR TLS...`.
fn run(cmd: &str, addr: &str, tls: &[String]) -> Output {
    let mut args = vec![cmd, "examples/multi.yaml", "--device", "nic0", "--address", addr];
    args.extend(tls.iter().map(String::as_str));
    p4clone(&args)
}

fn ok(cmd: &str, addr: &str, tls: &[String]) -> String {
    let o = run(cmd, addr, tls);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{cmd} failed:\n{out}\n{err}");
    out
}

/// Fails with exit 1, naming the address; returns the `error:` lines (`stats`
/// reports a device failure in its output, the others on stderr).
fn refused(cmd: &str, addr: &str, tls: &[String]) -> String {
    let o = run(cmd, addr, tls);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{cmd} should fail:\n{out}\n{err}");
    let errors: String = format!("{out}\n{err}").lines().filter(|l| l.contains("error")).collect::<Vec<_>>().join("\n");
    assert!(errors.contains(addr), "{cmd}: no error naming {addr}:\n{out}\n{err}");
    assert!(!err.contains("panicked"), "{err}");
    errors
}

fn says_certificate(err: &str) -> bool {
    let e = err.to_lowercase();
    e.contains("certificate") || e.contains("tls")
}

#[test]
fn tls_push_plan_stats_and_refusals() {
    let pki = Pki::new();
    let soft = Soft::tls(&pki, false);
    let addr = soft.address.clone();
    let ca = vec!["--ca".to_string(), pki.path("ca.pem")];

    let out = ok("plan", &addr, &ca);
    assert!(out.contains("nothing written"), "{out}");
    let out = ok("push", &addr, &[ca.clone(), vec!["--output".into(), "json".into()]].concat());
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert!(v["devices"][0]["inserted"].as_u64().unwrap() > 0, "{out}");
    let out = ok("plan", &addr, &ca);
    assert!(out.contains("nothing to do"), "{out}");
    let out = ok("stats", &addr, &ca);
    assert!(out.contains("PROC_Aggregate"), "{out}");

    // A CA that did not sign the server's certificate.
    for cmd in ["push", "plan", "stats"] {
        let err = refused(cmd, &addr, &["--ca".into(), pki.path("other-ca.pem")]);
        assert!(says_certificate(&err), "{cmd} with a wrong CA:\n{err}");
    }
    // A plaintext client against the TLS server.
    let err = refused("push", &addr, &[]);
    assert!(err.contains("TLS"), "{err}");
    assert!(!soft.log().contains("panicked"), "{}", soft.log());
}

#[test]
fn mutual_tls_needs_a_client_certificate_signed_by_the_client_ca() {
    let pki = Pki::new();
    let soft = Soft::tls(&pki, true);
    let addr = soft.address.clone();
    let full: Vec<String> =
        ["--ca", &pki.path("ca.pem"), "--cert", &pki.path("client.pem"), "--key", &pki.path("client.key")]
            .iter()
            .map(|s| s.to_string())
            .collect();
    let out = ok("push", &addr, &full);
    assert!(!out.contains("nothing written"), "{out}");
    let out = ok("plan", &addr, &full);
    assert!(out.contains("nothing to do"), "{out}");
    ok("stats", &addr, &full);

    // No client certificate: the server refuses the handshake.
    for cmd in ["push", "plan", "stats"] {
        let err = refused(cmd, &addr, &["--ca".into(), pki.path("ca.pem")]);
        assert!(says_certificate(&err), "{cmd} without a client certificate:\n{err}");
    }
    // A client certificate the client CA did not sign (the server's own, from
    // another PKI's point of view: a fresh PKI's client).
    let other = Pki::new();
    let err = refused(
        "push",
        &addr,
        &["--ca", &pki.path("ca.pem"), "--cert", &other.path("client.pem"), "--key", &other.path("client.key")]
            .map(String::from),
    );
    assert!(says_certificate(&err), "{err}");
    // Plaintext.
    refused("plan", &addr, &[]);

    // The controller: in sync with the client certificate; refused (and saying
    // why) without it.
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("controller.yaml");
    let text = std::fs::read_to_string(root().join("examples/basic.yaml")).unwrap();
    std::fs::write(&cfg, text.replacen("127.0.0.1:9559", &addr, 1)).unwrap();
    let controller = |tls: &[String]| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_p4clone"))
            .current_dir(root())
            .arg("controller")
            .arg(&cfg)
            .args(["--listen", "127.0.0.1:0"])
            .args(tls)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn p4clone controller");
        let (log, rx) = collect_stderr(&mut child);
        (child, log, rx)
    };
    let (mut c, log, rx) = controller(&full);
    line_with(&rx, "primary", &log);
    // Synced (the device held the multi.yaml entities: repaired).
    line_with(&rx, "repaired", &log);
    let _ = c.kill();
    let _ = c.wait();
    let (mut c, log, rx) = controller(&["--ca".to_string(), pki.path("ca.pem")]);
    let l = line_with(&rx, &addr, &log);
    let _ = c.kill();
    let _ = c.wait();
    let all = log.lock().unwrap().join("\n");
    assert!(says_certificate(&all) && !all.contains("primary"), "{l}\n{all}");
}

#[test]
fn bad_tls_files_exit_2_naming_the_file() {
    let pki = Pki::new();
    let soft = |args: &[&str]| {
        let mut a = vec!["soft", "--p4rt", "127.0.0.1:0"];
        a.extend_from_slice(args);
        p4clone(&a)
    };
    let (cert, key) = (pki.path("server.pem"), pki.path("server.key"));
    let missing = pki.path("missing.pem");
    let err = assert_bad_input(&soft(&["--tls-cert", &missing, "--tls-key", &key]));
    assert!(err.contains(&missing) && err.contains("TLS certificate"), "{err}");
    let err = assert_bad_input(&soft(&["--tls-cert", &cert, "--tls-key", &missing]));
    assert!(err.contains(&missing) && err.contains("TLS private key"), "{err}");
    // A key file that holds a certificate; a certificate file that holds a key.
    let err = assert_bad_input(&soft(&["--tls-cert", &cert, "--tls-key", &cert]));
    assert!(err.contains(&cert) && err.contains("private key"), "{err}");
    let err = assert_bad_input(&soft(&["--tls-cert", &key, "--tls-key", &key]));
    assert!(err.contains(&key) && err.contains("certificate"), "{err}");
    let garbage = pki.dir.path().join("garbage.pem");
    std::fs::write(&garbage, "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n").unwrap();
    let g = garbage.display().to_string();
    let err = assert_bad_input(&soft(&["--tls-cert", &cert, "--tls-key", &key, "--tls-client-ca", &g]));
    assert!(err.contains(&g) && err.contains("TLS client CA"), "{err}");
    // The key of another certificate.
    let err = assert_bad_input(&soft(&["--tls-cert", &cert, "--tls-key", &pki.path("client.key")]));
    assert!(err.contains(&cert) && err.contains("client.key"), "{err}");
    // --tls-cert without --tls-key is a usage error.
    let o = soft(&["--tls-cert", &cert]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn plaintext_on_a_non_loopback_address_warns() {
    let wants = "warning: serving P4Runtime in plaintext";
    let soft = Soft::start("0.0.0.0:0", &[]);
    std::thread::sleep(Duration::from_millis(200));
    assert!(soft.log().contains(wants), "{}", soft.log());
    drop(soft);
    let soft = Soft::start("127.0.0.1:0", &[]);
    std::thread::sleep(Duration::from_millis(200));
    assert!(!soft.log().contains(wants), "{}", soft.log());
    let pki = Pki::new();
    let args: Vec<String> =
        ["--tls-cert", &pki.path("server.pem"), "--tls-key", &pki.path("server.key")].map(String::from).to_vec();
    let soft = Soft::start("0.0.0.0:0", &args);
    std::thread::sleep(Duration::from_millis(200));
    assert!(!soft.log().contains(wants), "{}", soft.log());
}
