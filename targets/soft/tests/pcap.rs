//! pcap backend: reader/writer round trips, corrupt files, pcapng, the k-way merge
//! of the inputs of all ports, lazy outputs, and the shared test vectors.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use p4clone_soft::ports::pcap::{output_path, read_all, PcapFormat, PcapPort, PcapReader, PcapWriter};
use p4clone_soft::ports::{InputKind, PcapReplay, Port, PortError, RxBatch};

mod common;
use common::TempDir;

/// A temporary directory removed on drop.
fn frame(tag: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| tag.wrapping_add(i as u8)).collect()
}

/// Builds a pcap file by hand (independent of `PcapWriter`).
fn raw_pcap(big_endian: bool, nanos: bool, linktype: u32, records: &[(u32, u32, u32, &[u8])]) -> Vec<u8> {
    let p32 = |v: u32| if big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
    let p16 = |v: u16| if big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
    let mut b = Vec::new();
    b.extend_from_slice(&p32(if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }));
    b.extend_from_slice(&p16(2));
    b.extend_from_slice(&p16(4));
    b.extend_from_slice(&p32(0));
    b.extend_from_slice(&p32(0));
    b.extend_from_slice(&p32(65535));
    b.extend_from_slice(&p32(linktype));
    for &(sec, frac, orig, data) in records {
        b.extend_from_slice(&p32(sec));
        b.extend_from_slice(&p32(frac));
        b.extend_from_slice(&p32(data.len() as u32));
        b.extend_from_slice(&p32(orig));
        b.extend_from_slice(data);
    }
    b
}

fn write_file(dir: &TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn err_text(r: Result<impl std::fmt::Debug, PortError>) -> String {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.to_string(),
    }
}

fn read_err(path: &Path) -> String {
    match PcapReader::open(path) {
        Err(e) => e.to_string(),
        Ok(mut r) => {
            let mut buf = Vec::new();
            loop {
                match r.next_record(&mut buf) {
                    Ok(Some(_)) => {}
                    Ok(None) => panic!("{} read without error", path.display()),
                    Err(e) => return e.to_string(),
                }
            }
        }
    }
}

#[test]
fn round_trip_every_format() {
    let dir = common::tempdir("pcap");
    let frames: Vec<(u64, Vec<u8>)> = vec![
        (1_700_000_000_123_456_789, frame(1, 60)),
        (1_700_000_000_123_456_789, frame(2, 1514)),
        (1_700_000_001_000_000_001, frame(3, 14)),
        (5, frame(4, 0)),
        (1_700_000_002_999_999_999, frame(5, 9000)),
    ];
    for big_endian in [false, true] {
        for nanos in [false, true] {
            let fmt = PcapFormat { big_endian, nanos };
            let path = dir.path().join(format!("rt-{big_endian}-{nanos}.pcap"));
            let mut w = PcapWriter::create_with(&path, fmt).unwrap();
            for (ts, f) in &frames {
                w.write(*ts, f).unwrap();
            }
            w.flush().unwrap();
            assert_eq!(w.records(), frames.len() as u64);
            drop(w);

            let bytes = std::fs::read(&path).unwrap();
            let magic: [u8; 4] = match (big_endian, nanos) {
                (false, false) => [0xd4, 0xc3, 0xb2, 0xa1],
                (false, true) => [0x4d, 0x3c, 0xb2, 0xa1],
                (true, false) => [0xa1, 0xb2, 0xc3, 0xd4],
                (true, true) => [0xa1, 0xb2, 0x3c, 0x4d],
            };
            assert_eq!(bytes[..4], magic);

            let r = PcapReader::open(&path).unwrap();
            assert_eq!(r.format(), fmt);
            assert_eq!(r.snaplen(), 65535);
            let back = read_all(&path).unwrap();
            assert_eq!(back.len(), frames.len());
            for ((ts, f), (ts2, f2)) in frames.iter().zip(&back) {
                assert_eq!(f, f2);
                let want = if nanos { *ts } else { ts / 1_000 * 1_000 };
                assert_eq!(*ts2, want, "format {fmt:?}");
            }
        }
    }
}

#[test]
fn default_output_format_matches_the_vectors() {
    let dir = common::tempdir("pcap");
    let path = dir.path().join("o.pcap");
    let mut w = PcapWriter::create(&path).unwrap();
    w.write(1_000_002_000, &frame(9, 60)).unwrap();
    w.flush().unwrap();
    let b = std::fs::read(&path).unwrap();
    // LE µs magic, 2.4, zone 0, sigfigs 0, snaplen 65535, LINKTYPE_ETHERNET.
    assert_eq!(b[..24], [0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0]);
    // ts 1 s + 2 µs, caplen = len = 60.
    assert_eq!(b[24..40], [1, 0, 0, 0, 2, 0, 0, 0, 60, 0, 0, 0, 60, 0, 0, 0]);
    assert_eq!(b.len(), 24 + 16 + 60);
}

#[test]
fn reads_hand_built_files_in_both_byte_orders() {
    let dir = common::tempdir("pcap");
    let a = frame(7, 64);
    let b = frame(8, 100);
    for big in [false, true] {
        for nanos in [false, true] {
            let p = write_file(
                &dir,
                &format!("h-{big}-{nanos}.pcap"),
                &raw_pcap(big, nanos, 1, &[(10, 20, 64, &a), (11, 999, 100, &b)]),
            );
            let got = read_all(&p).unwrap();
            let mul = if nanos { 1 } else { 1_000 };
            assert_eq!(got, vec![(10_000_000_000 + 20 * mul, a.clone()), (11_000_000_000 + 999 * mul, b.clone())]);
        }
    }
}

#[test]
fn short_captures_yield_the_captured_bytes() {
    let dir = common::tempdir("pcap");
    let data = frame(1, 40);
    let p = write_file(&dir, "snap.pcap", &raw_pcap(false, false, 1, &[(1, 0, 1500, &data)]));
    let mut r = PcapReader::open(&p).unwrap();
    let mut buf = Vec::new();
    let info = r.next_record(&mut buf).unwrap().unwrap();
    assert_eq!(info.caplen, 40);
    assert_eq!(info.orig_len, 1500);
    assert_eq!(buf, data);
    assert!(r.next_record(&mut buf).unwrap().is_none());
    assert!(r.is_done());
}

#[test]
fn pcapng_is_refused_with_a_hint() {
    let dir = common::tempdir("pcap");
    // Section header block start.
    let mut ng = vec![0x0a, 0x0d, 0x0d, 0x0a, 0x1c, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a];
    ng.extend_from_slice(&[0; 16]);
    let p = write_file(&dir, "capture.pcapng", &ng);
    let e = err_text(PcapReader::open(&p));
    assert!(e.contains("capture.pcapng"), "{e}");
    assert!(e.contains("pcapng is not supported"), "{e}");
    assert!(e.contains("editcap -F pcap"), "{e}");
}

#[test]
fn corrupt_and_truncated_files_name_file_and_record() {
    let dir = common::tempdir("pcap");
    let a = frame(1, 60);
    let good = raw_pcap(false, false, 1, &[(1, 0, 60, &a), (2, 0, 60, &a), (3, 0, 60, &a)]);

    let p = write_file(&dir, "empty.pcap", &[]);
    let e = read_err(&p);
    assert!(e.contains("empty.pcap") && e.contains("truncated file header"), "{e}");

    let p = write_file(&dir, "short-header.pcap", &good[..10]);
    let e = read_err(&p);
    assert!(e.contains("short-header.pcap") && e.contains("10 of 24"), "{e}");

    let p = write_file(&dir, "magic.pcap", &[0x12; 40]);
    let e = read_err(&p);
    assert!(e.contains("magic.pcap") && e.contains("not a pcap file"), "{e}");

    let p = write_file(&dir, "linktype.pcap", &raw_pcap(false, false, 101, &[]));
    let e = read_err(&p);
    assert!(e.contains("linktype.pcap") && e.contains("link type 101") && e.contains("LINKTYPE_ETHERNET"), "{e}");

    let mut version = good.clone();
    version[4] = 3;
    let p = write_file(&dir, "version.pcap", &version);
    let e = read_err(&p);
    assert!(e.contains("unsupported pcap version 3.4"), "{e}");

    // Record 3's header cut after 7 bytes.
    let cut = 24 + 2 * 76 + 7;
    let p = write_file(&dir, "cut-header.pcap", &good[..cut]);
    let e = read_err(&p);
    assert!(e.contains("cut-header.pcap") && e.contains("record 3") && e.contains("truncated record header"), "{e}");

    // Record 2's data cut after 30 of 60 bytes.
    let cut = 24 + 76 + 16 + 30;
    let p = write_file(&dir, "cut-data.pcap", &good[..cut]);
    let e = read_err(&p);
    assert!(e.contains("cut-data.pcap") && e.contains("record 2") && e.contains("60 bytes, file has 30"), "{e}");

    // Record 1 claims 1 GB.
    let mut huge = good.clone();
    huge[24 + 8..24 + 12].copy_from_slice(&0x4000_0000u32.to_le_bytes());
    let p = write_file(&dir, "huge.pcap", &huge);
    let e = read_err(&p);
    assert!(e.contains("huge.pcap") && e.contains("record 1") && e.contains("exceeds"), "{e}");
}

#[test]
fn never_panics_on_any_truncation_or_byte_flip() {
    let dir = common::tempdir("pcap");
    let recs: Vec<Vec<u8>> = (0..4).map(|i| frame(i, 20 + i as usize * 7)).collect();
    let refs: Vec<(u32, u32, u32, &[u8])> =
        recs.iter().enumerate().map(|(i, r)| (i as u32, 0, r.len() as u32, r.as_slice())).collect();
    let good = raw_pcap(true, true, 1, &refs);
    let total_records = recs.len();
    for cut in 0..good.len() {
        let p = write_file(&dir, "t.pcap", &good[..cut]);
        let res = read_all(&p);
        if let Ok(v) = res {
            // Only clean record boundaries read without error.
            assert!(v.len() < total_records || cut == good.len());
        }
    }
    // Flip every byte in turn (header and records): Ok or Err, never a panic.
    for i in 0..good.len() {
        let mut b = good.clone();
        b[i] ^= 0xff;
        let p = write_file(&dir, "f.pcap", &b);
        let _ = read_all(&p);
    }
}

fn replay_port(path: &Path) -> Box<dyn Port> {
    Box::new(PcapPort::new(Some(path), None).unwrap())
}

/// Runs the merge over `inputs` (port -> records) and returns (port, ts, first byte).
fn merge(inputs: &[(u16, Vec<(u64, u8)>)], burst: usize) -> Vec<(u16, u64, u8)> {
    let dir = common::tempdir("pcap");
    let mut ports: BTreeMap<u16, Box<dyn Port>> = BTreeMap::new();
    for (port, recs) in inputs {
        let path = dir.path().join(format!("in-{port}.pcap"));
        let mut w = PcapWriter::create_with(&path, PcapFormat { big_endian: false, nanos: true }).unwrap();
        for (ts, tag) in recs {
            w.write(*ts, &frame(*tag, 20)).unwrap();
        }
        w.flush().unwrap();
        drop(w);
        ports.insert(*port, replay_port(&path));
    }
    let mut replay = PcapReplay::new(&ports, burst);
    let mut out = Vec::new();
    let mut batch = RxBatch::new(burst);
    loop {
        batch.clear();
        let n = replay.fill(&mut ports, &mut batch, burst).unwrap();
        if n == 0 {
            break;
        }
        for (port, ts, data) in batch.iter() {
            out.push((port, ts, data[0]));
        }
    }
    assert!(replay.is_drained());
    out
}

#[test]
fn merge_ties_go_to_the_lower_port() {
    for burst in [1, 2, 32] {
        let got = merge(
            &[(2, vec![(100, 20), (100, 21), (200, 22)]), (1, vec![(100, 10), (200, 11)]), (7, vec![(100, 70)])],
            burst,
        );
        assert_eq!(
            got,
            vec![(1, 100, 10), (2, 100, 20), (2, 100, 21), (7, 100, 70), (1, 200, 11), (2, 200, 22)],
            "burst {burst}"
        );
    }
}

#[test]
fn merge_interleaves_by_timestamp() {
    for burst in [1, 3, 32] {
        let got =
            merge(&[(1, vec![(1, 1), (4, 2), (5, 3), (9, 4)]), (2, vec![(2, 5), (3, 6), (6, 7), (10, 8)])], burst);
        let tags: Vec<u8> = got.iter().map(|g| g.2).collect();
        assert_eq!(tags, [1, 5, 6, 2, 3, 7, 4, 8], "burst {burst}");
    }
}

#[test]
fn merge_keeps_file_order_when_timestamps_go_backwards() {
    // As BMv2: only each file's next record competes.
    let got = merge(&[(1, vec![(10, 1), (5, 2), (30, 3)]), (2, vec![(7, 4), (20, 5)])], 32);
    let tags: Vec<u8> = got.iter().map(|g| g.2).collect();
    assert_eq!(tags, [4, 1, 2, 5, 3]);
}

#[test]
fn merge_of_empty_and_missing_inputs() {
    assert!(merge(&[], 4).is_empty());
    let got = merge(&[(3, vec![]), (4, vec![(1, 9)])], 4);
    assert_eq!(got, vec![(4, 1, 9)]);
}

#[test]
fn merge_reports_a_corrupt_input() {
    let dir = common::tempdir("pcap");
    let a = frame(1, 60);
    let good = raw_pcap(false, false, 1, &[(1, 0, 60, &a), (2, 0, 60, &a)]);
    let p1 = write_file(&dir, "in-1.pcap", &good[..good.len() - 5]);
    let p2 = write_file(&dir, "in-2.pcap", &good);
    let mut ports: BTreeMap<u16, Box<dyn Port>> = BTreeMap::new();
    ports.insert(1, replay_port(&p1));
    ports.insert(2, replay_port(&p2));
    let mut replay = PcapReplay::new(&ports, 32);
    let mut batch = RxBatch::new(32);
    let e = err_text(replay.fill(&mut ports, &mut batch, 32));
    assert!(e.contains("in-1.pcap") && e.contains("record 2"), "{e}");
}

#[test]
fn outputs_are_created_lazily_or_on_request() {
    let dir = common::tempdir("pcap");
    let out = output_path(dir.path(), 3);
    assert_eq!(out, dir.path().join("port-3.pcap"));
    let mut p = PcapPort::output_only(out.clone());
    assert_eq!(p.input_kind(), InputKind::None);
    assert!(p.is_exhausted());
    p.flush().unwrap();
    assert!(!out.exists(), "created before anything was sent");
    p.open_output().unwrap();
    p.flush().unwrap();
    assert_eq!(std::fs::read(&out).unwrap().len(), 24);
    assert!(read_all(&out).unwrap().is_empty());
    p.close().unwrap();
}

#[test]
fn output_may_not_overwrite_the_input() {
    let dir = common::tempdir("pcap");
    let input = output_path(dir.path(), 1);
    std::fs::write(&input, raw_pcap(false, false, 1, &[])).unwrap();
    let e = err_text(PcapPort::new(Some(&input), Some(output_path(dir.path(), 1))));
    assert!(e.contains("is the input file"), "{e}");
}

#[test]
fn pcap_port_reads_in_bursts() {
    let dir = common::tempdir("pcap");
    let recs: Vec<Vec<u8>> = (0..5).map(|i| frame(i, 30)).collect();
    let refs: Vec<(u32, u32, u32, &[u8])> = recs.iter().map(|r| (1, 0, 30, r.as_slice())).collect();
    let p = write_file(&dir, "in.pcap", &raw_pcap(false, false, 1, &refs));
    let mut port = PcapPort::new(Some(&p), None).unwrap();
    assert_eq!(port.input_kind(), InputKind::Replay);
    let mut b = RxBatch::new(2);
    assert_eq!(port.recv_burst(&mut b).unwrap(), 2);
    assert_eq!(port.recv_burst(&mut b).unwrap(), 0, "a full batch takes nothing");
    b.clear();
    assert_eq!(port.recv_burst(&mut b).unwrap(), 2);
    assert!(!port.is_exhausted());
    b.clear();
    assert_eq!(port.recv_burst(&mut b).unwrap(), 1);
    assert_eq!(b.frame(0), recs[4].as_slice());
    assert!(port.is_exhausted());
    b.clear();
    assert_eq!(port.recv_burst(&mut b).unwrap(), 0);
}

/// Every pcap of the shared test vectors parses (the full replay needs the
/// compiler and the P4Runtime server, wired elsewhere).
#[test]
fn shared_vectors_parse() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors");
    let Ok(cases) = std::fs::read_dir(&root) else {
        eprintln!("no {} yet: skipping", root.display());
        return;
    };
    let mut files = 0;
    for case in cases {
        let case = case.unwrap().path();
        if !case.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&case).unwrap() {
            let f = f.unwrap().path();
            if f.extension().is_some_and(|e| e == "pcap") {
                let r = PcapReader::open(&f).unwrap();
                assert_eq!(r.format(), PcapFormat::default(), "{}", f.display());
                let recs = read_all(&f).unwrap_or_else(|e| panic!("{e}"));
                let name = f.file_name().unwrap().to_string_lossy().to_string();
                assert!(!recs.is_empty() || name.starts_with("expected-"), "{} is empty", f.display());
                files += 1;
            }
        }
    }
    assert!(files > 0, "no pcap under {}", root.display());
}
