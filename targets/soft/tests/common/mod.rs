//! What the soft target's integration tests share: temporary directories and the
//! clone pipeline most of them run.
//!
//! Each test file includes this with `mod common;` and uses what it needs.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use p4clone_pipeline::{
    ClassifyAction, ClassifyEntryV4, ClassifyKeyV4, CloneSession, CloneSessionEntry, Pipeline, Replica, RewriteAction,
    RewriteEntry, RewriteParams, Ternary, WireAction, WireEntry, MODE_ROUND_ROBIN,
};
use p4clone_pipeline::{CLASSIFY_V4, CLONE_REWRITE, WIRE};
use p4clone_soft::ports::pcap::{read_all, PcapWriter};
pub use tempfile::TempDir;

/// A fresh temporary directory `p4clone-<tag>-XXXXXX`, removed when dropped.
pub fn tempdir(tag: &str) -> TempDir {
    tempfile::Builder::new().prefix(&format!("p4clone-{tag}-")).tempdir().unwrap()
}

/// Writes `recs` (timestamp in ns, frame) as a pcap file.
pub fn write_pcap_at(path: &Path, recs: &[(u64, Vec<u8>)]) {
    let mut w = PcapWriter::create(path).unwrap();
    for (ts, f) in recs {
        w.write(*ts, f).unwrap();
    }
    w.flush().unwrap();
}

/// Writes `frames` as a pcap file, 1 µs apart from 2023-11-14.
pub fn write_pcap(path: &Path, frames: &[Vec<u8>]) {
    let mut w = PcapWriter::create(path).unwrap();
    for (i, f) in frames.iter().enumerate() {
        w.write(1_700_000_000_000_000_000 + i as u64 * 1_000, f).unwrap();
    }
    w.flush().unwrap();
}

/// The frames of pcap file `path`.
pub fn records(path: &Path) -> Vec<Vec<u8>> {
    read_all(path).unwrap_or_else(|e| panic!("{e}")).into_iter().map(|(_, f)| f).collect()
}

/// Destination MAC of the clones of [`clone_pipeline`].
pub const CLONE_MAC: [u8; 6] = [0x02, 0xc1, 0, 0, 0, 0x01];
/// Source MAC of the clones of [`clone_pipeline`].
pub const SE_MAC: [u8; 6] = [0x02, 0x5e, 0, 0, 0, 0x03];

/// Wire 1 <-> 2; TCP to `dst`, port 80, classified to member 1, whose clone
/// (session 1) leaves on port 3 with [`CLONE_MAC`] / [`SE_MAC`] and, unless
/// `vlan_id` is 0, a pushed VLAN tag.
pub fn clone_pipeline(dst: Ternary<u32>, vlan_id: u16) -> Arc<Pipeline> {
    let p = Pipeline::new();
    p.write(|b| {
        b.insert(WIRE, WireEntry { ingress_port: 1, action: WireAction::Forward(2), metadata: vec![] })?;
        b.insert(WIRE, WireEntry { ingress_port: 2, action: WireAction::Forward(1), metadata: vec![] })?;
        b.insert(
            CLASSIFY_V4,
            ClassifyEntryV4 {
                key: ClassifyKeyV4 {
                    src_addr: Ternary::<u32>::any(),
                    dst_addr: dst,
                    protocol: Ternary::<u8>::exact(6),
                    l4_src_port: Ternary::<u16>::any(),
                    l4_dst_port: Ternary::<u16>::exact(80),
                },
                priority: 1,
                action: ClassifyAction::Hit { first_member: 1, member_count: 1, mode: MODE_ROUND_ROBIN },
                metadata: vec![],
            },
        )?;
        b.insert_clone_session(CloneSessionEntry {
            session_id: 1,
            session: CloneSession { replicas: vec![Replica { egress_port: 3, instance: 1 }], packet_length_bytes: 0 },
        })?;
        b.insert(
            CLONE_REWRITE,
            RewriteEntry {
                member: 1,
                action: RewriteAction::Set(RewriteParams {
                    dst_mac: CLONE_MAC,
                    src_mac: SE_MAC,
                    vlan_id,
                    truncate_len: 0,
                    nat_restore: false,
                }),
                metadata: vec![],
            },
        )
    })
    .unwrap();
    Arc::new(p)
}
