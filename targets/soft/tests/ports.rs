//! Port specs and the receive batch.

use std::path::{Path, PathBuf};

use p4clone_soft::ports::pcap::PcapWriter;
use p4clone_soft::ports::{open_ports, parse_port_specs, BackendSpec, InputKind, PortError, PortSpec, RxBatch};

mod common;
use common::TempDir;

fn empty_pcap(dir: &TempDir, name: &str) -> PathBuf {
    let p = dir.path().join(name);
    PcapWriter::create(&p).unwrap().flush().unwrap();
    p
}

fn spec_err(s: &str) -> String {
    match PortSpec::parse(s) {
        Ok(v) => panic!("{s:?} parsed as {v:?}"),
        Err(e) => {
            assert!(matches!(e, PortError::Spec { .. }), "{e:?}");
            e.to_string()
        }
    }
}

#[test]
fn parses_valid_specs() {
    let dir = common::tempdir("ports");
    let pcap = empty_pcap(&dir, "in:odd=name.pcap");
    let s = PortSpec::parse(&format!("1={}", format_args!("pcap:{}", pcap.display()))).unwrap();
    assert_eq!(s.port, 1);
    assert_eq!(s.backend, BackendSpec::Pcap(pcap.clone()));

    let s: PortSpec = "510=afpacket:veth0".parse().unwrap();
    assert_eq!((s.port, s.backend.clone()), (510, BackendSpec::AfPacket("veth0".into())));
    assert_eq!(s.to_string(), "510=afpacket:veth0");

    let s = PortSpec::parse("0=dpdk:0000:03:00.0").unwrap();
    assert_eq!((s.port, s.backend), (0, BackendSpec::Dpdk("0000:03:00.0".into())));
}

#[test]
fn bad_specs_are_named() {
    let e = spec_err("pcap:x.pcap");
    assert!(e.contains("\"pcap:x.pcap\"") && e.contains("expected N=BACKEND:ARG"), "{e}");
    let e = spec_err("511=afpacket:eth0");
    assert!(e.contains("\"511=afpacket:eth0\"") && e.contains("out of range 0..=510"), "{e}");
    let e = spec_err("70000=afpacket:eth0");
    assert!(e.contains("out of range"), "{e}");
    let e = spec_err("-1=afpacket:eth0");
    assert!(e.contains("not a decimal number"), "{e}");
    let e = spec_err("x=afpacket:eth0");
    assert!(e.contains("\"x\""), "{e}");
    let e = spec_err("1=eth0");
    assert!(e.contains("expected BACKEND:ARG"), "{e}");
    let e = spec_err("1=netmap:eth0");
    assert!(e.contains("unknown backend \"netmap\"") && e.contains("pcap, afpacket or dpdk"), "{e}");
    let e = spec_err("1=pcap:/nonexistent/dir/in.pcap");
    assert!(e.contains("\"1=pcap:/nonexistent/dir/in.pcap\"") && e.contains("does not exist"), "{e}");
    let e = spec_err("1=pcap:");
    assert!(e.contains("missing pcap file"), "{e}");
    let e = spec_err("1=afpacket:");
    assert!(e.contains("missing interface"), "{e}");
    let e = spec_err("1=afpacket:a-name-way-too-long-for-linux");
    assert!(e.contains("not a valid interface name"), "{e}");
    let e = spec_err("1=pcap:/");
    assert!(e.contains("not a regular file"), "{e}");
}

#[test]
fn duplicate_ports_are_refused() {
    let e = parse_port_specs(&["1=afpacket:a", "2=afpacket:b", "1=afpacket:c"]).unwrap_err().to_string();
    assert!(e.contains("\"1=afpacket:c\"") && e.contains("already given by \"1=afpacket:a\""), "{e}");
    let m = parse_port_specs(&["2=afpacket:b", "1=afpacket:a"]).unwrap();
    assert_eq!(m.keys().copied().collect::<Vec<_>>(), [1, 2]);
}

#[test]
fn open_pcap_and_dpdk() {
    let dir = common::tempdir("ports");
    let pcap = empty_pcap(&dir, "a.pcap");
    let specs = parse_port_specs(&[format!("4=pcap:{}", pcap.display())]).unwrap();
    let mut ports = open_ports(&specs, dir.path()).unwrap();
    let p = ports.get_mut(&4).unwrap();
    assert_eq!(p.input_kind(), InputKind::Replay);
    assert!(p.describe().contains("port-4.pcap"), "{}", p.describe());

    let dpdk = PortSpec::parse("3=dpdk:0").unwrap();
    let e = dpdk.open(dir.path()).err().unwrap().to_string();
    assert!(e.contains("\"3=dpdk:0\"") && e.contains("not built"), "{e}");
}

#[cfg(target_os = "linux")]
#[test]
fn afpacket_missing_interface_is_named() {
    let s = PortSpec::parse("2=afpacket:nosuchif0").unwrap();
    let e = s.open(Path::new(".")).err().unwrap().to_string();
    assert!(e.contains("nosuchif0"), "{e}");
    // Without privilege the socket fails first; with it, the lookup does.
    assert!(e.contains("no such interface") || e.contains("needs root or CAP_NET_RAW"), "{e}");
}

#[test]
fn rx_batch_copies_and_reuses() {
    let mut b = RxBatch::new(3);
    assert_eq!((b.capacity(), b.len(), b.room()), (3, 0, 3));
    assert!(b.push(10, &[1, 2, 3]));
    assert!(b.push(11, &[]));
    let ok: Result<bool, ()> = b.push_with(12, 4, |buf| {
        buf.copy_from_slice(&[9, 9, 9, 9]);
        Ok(())
    });
    assert!(ok.unwrap());
    assert!(!b.push(13, &[0]), "full");
    b.stamp_port(1, 7);
    let got: Vec<(u16, u64, Vec<u8>)> = b.iter().map(|(p, t, d)| (p, t, d.to_vec())).collect();
    assert_eq!(got, vec![(0, 10, vec![1, 2, 3]), (7, 11, vec![]), (7, 12, vec![9, 9, 9, 9])]);
    assert_eq!(b.frame(99), &[] as &[u8]);
    b.clear();
    assert!(b.is_empty());

    // A failed fill appends nothing.
    let r: Result<bool, &str> = b.push_with(1, 8, |_| Err("short read"));
    assert_eq!(r, Err("short read"));
    assert!(b.is_empty());

    // In-place fills (recvmmsg style).
    let region = b.spare(2 * 16);
    region[0..4].copy_from_slice(&[1, 1, 1, 1]);
    region[16..18].copy_from_slice(&[2, 2]);
    assert!(b.commit_spare(5, 0, 4));
    assert!(b.commit_spare(6, 16, 2));
    b.advance_spare(32);
    assert!(b.push(7, &[3]));
    assert_eq!(b.frame(0), &[1, 1, 1, 1]);
    assert_eq!(b.frame(1), &[2, 2]);
    assert_eq!(b.frame(2), &[3]);
}

#[test]
fn rx_batch_external_buffers() {
    static BUF: [u8; 5] = [5, 4, 3, 2, 1];
    let mut b = RxBatch::new(2);
    // SAFETY: a static buffer outlives the batch.
    assert!(unsafe { b.push_external(1, BUF.as_ptr(), BUF.len(), 0xdead) });
    assert!(b.push(2, &[7]));
    assert!(b.is_external(0) && !b.is_external(1));
    assert_eq!(b.frame(0), &BUF);
    assert_eq!((b.token(0), b.token(1)), (0xdead, 0));
}
