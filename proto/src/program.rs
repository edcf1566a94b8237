//! The one P4 program p4clone drives, `p4src/traffic_clone.p4`: its P4Info
//! (embedded here, and only here), the resolved [`P4Schema`], the name and id of
//! every P4Runtime-visible object, the program's limits, and how p4c builds it.
//!
//! The compiler, the runtime, the software target, the BMv2 harness and the CLI
//! take every program fact from this module; no other file names a table,
//! action, counter or register by a string literal. What each object does is in
//! `docs/dataplane.md`; how to add one is in `docs/architecture.md`. The
//! constants are checked against the embedded P4Info by this crate's tests
//! (`tests/program.rs`), so a P4Info edit that forgets them fails the build's
//! tests, not a device.
//!
//! ```
//! use p4clone_proto::program::{self, tables};
//! let schema = program::schema().unwrap();
//! assert_eq!(schema.table(tables::WIRE.name).unwrap().id, tables::WIRE.id);
//! ```

use std::sync::LazyLock;

use crate::p4::config::v1::P4Info;
use crate::schema::P4Schema;
use crate::Error;

/// The program's P4Info (`p4src/traffic_clone.p4info.txtpb`), protobuf text format.
pub const P4INFO_TEXT: &str = include_str!("../../p4src/traffic_clone.p4info.txtpb");

static SCHEMA: LazyLock<Result<P4Schema, String>> =
    LazyLock::new(|| P4Schema::from_text(P4INFO_TEXT).map_err(|e| e.to_string()));

/// The embedded program's schema, parsed on first use.
pub fn schema() -> Result<&'static P4Schema, Error> {
    SCHEMA.as_ref().map_err(|e| Error::Program(format!("embedded traffic_clone.p4info.txtpb: {e}")))
}

/// The embedded program's P4Info.
pub fn p4info() -> Result<&'static P4Info, Error> {
    schema().map(P4Schema::p4info)
}

/// A P4Runtime-visible object of the program: its P4Info id and name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Object {
    /// The P4Info id (the `@id` in the P4 source).
    pub id: u32,
    /// The P4Info name (which is also its alias).
    pub name: &'static str,
}

const fn object(id: u32, name: &'static str) -> Object {
    Object { id, name }
}

/// The match-action tables.
pub mod tables {
    use super::{object, Object};

    /// `wire`: ingress port → peer port (exact on `ingress_port`).
    pub const WIRE: Object = object(0x0200_0001, "wire");
    /// `clone_classify_v4`: VS back-end traffic over IPv4 (ternary, priority).
    pub const CLASSIFY_V4: Object = object(0x0200_0002, "clone_classify_v4");
    /// `clone_classify_v6`: the same over IPv6.
    pub const CLASSIFY_V6: Object = object(0x0200_0003, "clone_classify_v6");
    /// `clone_rewrite`: the egress rewrite of a clone, per member (exact on `member`).
    pub const CLONE_REWRITE: Object = object(0x0200_0004, "clone_rewrite");
    /// `nat_src_v4`: NAT restore of an IPv4 source (SE address:port → client).
    pub const NAT_SRC_V4: Object = object(0x0200_0005, "nat_src_v4");
    /// `nat_dst_v4`: NAT restore of an IPv4 destination.
    pub const NAT_DST_V4: Object = object(0x0200_0006, "nat_dst_v4");
    /// `nat_src_v6`: NAT restore of an IPv6 source.
    pub const NAT_SRC_V6: Object = object(0x0200_0007, "nat_src_v6");
    /// `nat_dst_v6`: NAT restore of an IPv6 destination.
    pub const NAT_DST_V6: Object = object(0x0200_0008, "nat_dst_v6");
    /// `clone_encap`: encapsulated delivery of a clone, per member (exact on `member`).
    pub const CLONE_ENCAP: Object = object(0x0200_0009, "clone_encap");
    /// Every table, in P4Info order.
    pub const ALL: [Object; 9] =
        [WIRE, CLASSIFY_V4, CLASSIFY_V6, CLONE_REWRITE, NAT_SRC_V4, NAT_DST_V4, NAT_SRC_V6, NAT_DST_V6, CLONE_ENCAP];
}

/// The actions.
pub mod actions {
    use super::{object, Object};

    /// `wire_forward(port)`.
    pub const WIRE_FORWARD: Object = object(0x0100_0001, "wire_forward");
    /// `wire_drop()`: the default action of `wire`.
    pub const WIRE_DROP: Object = object(0x0100_0002, "wire_drop");
    /// `classify_hit(first_member, member_count, mode)`.
    pub const CLASSIFY_HIT: Object = object(0x0100_0003, "classify_hit");
    /// `classify_miss()`: the default action of the classify tables.
    pub const CLASSIFY_MISS: Object = object(0x0100_0004, "classify_miss");
    /// `clone_rewrite_set(dst_mac, src_mac, vlan_id, truncate_len, nat_restore)`.
    pub const CLONE_REWRITE_SET: Object = object(0x0100_0005, "clone_rewrite_set");
    /// `clone_rewrite_miss()`: the default action of `clone_rewrite`.
    pub const CLONE_REWRITE_MISS: Object = object(0x0100_0006, "clone_rewrite_miss");
    /// `nat_set_v4(client_addr, client_port)`.
    pub const NAT_SET_V4: Object = object(0x0100_0007, "nat_set_v4");
    /// `nat_set_v6(client_addr, client_port)`.
    pub const NAT_SET_V6: Object = object(0x0100_0008, "nat_set_v6");
    /// `nat_miss()`: the default action of the NAT tables.
    pub const NAT_MISS: Object = object(0x0100_0009, "nat_miss");
    /// `clone_encap_vxlan_v4(src_addr, dst_addr, vni, mtu)`.
    pub const CLONE_ENCAP_VXLAN_V4: Object = object(0x0100_000A, "clone_encap_vxlan_v4");
    /// `clone_encap_gre_v4(src_addr, dst_addr, key, key_present, mtu)`.
    pub const CLONE_ENCAP_GRE_V4: Object = object(0x0100_000B, "clone_encap_gre_v4");
    /// `clone_encap_erspan_v4(src_addr, dst_addr, session_id, mtu)`.
    pub const CLONE_ENCAP_ERSPAN_V4: Object = object(0x0100_000C, "clone_encap_erspan_v4");
    /// `clone_encap_none()`: the default action of `clone_encap`.
    pub const CLONE_ENCAP_NONE: Object = object(0x0100_000D, "clone_encap_none");
    /// `classify_hit_sampled(first_member, member_count, mode, sample_mode, sample_arg)`:
    /// `classify_hit` of a profile that samples.
    pub const CLASSIFY_HIT_SAMPLED: Object = object(0x0100_000E, "classify_hit_sampled");
    /// `classify_skip(first_member)`: traffic a profile's filter skips (counted).
    pub const CLASSIFY_SKIP: Object = object(0x0100_000F, "classify_skip");
    /// Every action, in P4Info order.
    pub const ALL: [Object; 15] = [
        WIRE_FORWARD,
        WIRE_DROP,
        CLASSIFY_HIT,
        CLASSIFY_MISS,
        CLONE_REWRITE_SET,
        CLONE_REWRITE_MISS,
        NAT_SET_V4,
        NAT_SET_V6,
        NAT_MISS,
        CLONE_ENCAP_VXLAN_V4,
        CLONE_ENCAP_GRE_V4,
        CLONE_ENCAP_ERSPAN_V4,
        CLONE_ENCAP_NONE,
        CLASSIFY_HIT_SAMPLED,
        CLASSIFY_SKIP,
    ];
}

/// The indirect counters, indexed by member id.
pub mod counters {
    use super::{object, Object};

    /// `clones_requested`: clones the ingress asked for (packets and bytes).
    pub const CLONES_REQUESTED: Object = object(0x1200_0001, "clones_requested");
    /// `clones_emitted`: clones that left the egress.
    pub const CLONES_EMITTED: Object = object(0x1200_0002, "clones_emitted");
    /// `truncated_mtu`: encapsulated clones cut to fit the network's MTU.
    pub const TRUNCATED_MTU: Object = object(0x1200_0003, "truncated_mtu");
    /// `skipped_by_filter`: classified packets a filter rule skipped, per block
    /// (indexed by the block's first member id).
    pub const SKIPPED_BY_FILTER: Object = object(0x1200_0004, "skipped_by_filter");
    /// `not_sampled`: classified packets sampling left out, per block.
    pub const NOT_SAMPLED: Object = object(0x1200_0005, "not_sampled");
    /// Every indirect counter, in P4Info order.
    pub const ALL: [Object; 5] = [CLONES_REQUESTED, CLONES_EMITTED, TRUNCATED_MTU, SKIPPED_BY_FILTER, NOT_SAMPLED];
}

/// The direct counters.
pub mod direct_counters {
    use super::{object, Object};

    /// `classify_v4_hits`, on `clone_classify_v4`.
    pub const CLASSIFY_V4_HITS: Object = object(0x1300_0001, "classify_v4_hits");
    /// `classify_v6_hits`, on `clone_classify_v6`.
    pub const CLASSIFY_V6_HITS: Object = object(0x1300_0002, "classify_v6_hits");
    /// Every direct counter, in P4Info order.
    pub const ALL: [Object; 2] = [CLASSIFY_V4_HITS, CLASSIFY_V6_HITS];
}

/// The registers.
pub mod registers {
    use super::{object, Object};

    /// `rr_cursor`: the round-robin cursor per member block.
    pub const RR_CURSOR: Object = object(0x1600_0001, "rr_cursor");
    /// `erspan_seq`: the ERSPAN sequence number of each member's next copy.
    pub const ERSPAN_SEQ: Object = object(0x1600_0002, "erspan_seq");
    /// `sample_cursor`: the one-in-N sampling position per member block.
    pub const SAMPLE_CURSOR: Object = object(0x1600_0003, "sample_cursor");
    /// Every register.
    pub const ALL: [Object; 3] = [RR_CURSOR, ERSPAN_SEQ, SAMPLE_CURSOR];
}

/// The program's limits: what v1model and the P4Info allow.
pub mod limits {
    /// Port numbers are 9 bits in v1model: 0..=511.
    pub const PORT_COUNT: usize = 512;
    /// v1model's drop port: a frame sent there never leaves.
    pub const DROP_PORT: u16 = 511;
    /// The highest port a config or a port spec may name (every port but the drop port).
    pub const MAX_DEVICE_PORT: u16 = 510;
    /// The highest clone session id BMv2 accepts (32768 is refused); member ids
    /// are session ids, so this is also the highest member id.
    pub const MAX_CLONE_SESSION: u16 = 32_767;
    /// Cells of `clones_requested` / `clones_emitted` (indexed by member id).
    pub const COUNTER_SIZE: usize = 32_768;
    /// Cells of `rr_cursor`.
    pub const RR_CURSOR_SIZE: usize = 32_768;
    /// Cells of `sample_cursor` (indexed by a block's first member id).
    pub const SAMPLE_CURSOR_SIZE: usize = 32_768;
    /// Flow sampling buckets: the flow hash modulo this, compared with `sample_arg`.
    pub const SAMPLE_BUCKETS: u32 = 10_000;
    /// Cells of `erspan_seq` (indexed by member id).
    pub const ERSPAN_SEQ_SIZE: usize = 32_768;
    /// Entries of `clone_encap` (one per member).
    pub const CLONE_ENCAP_SIZE: usize = 32_768;
    /// The highest 802.1Q VLAN id a network may use (0 and 4095 are reserved).
    pub const MAX_VLAN: u16 = 4094;
}

/// Building the program with p4c, and where its outputs live under `p4src/`.
pub mod build {
    /// The P4 source, relative to `p4src/`.
    pub const SOURCE: &str = "traffic_clone.p4";
    /// The hand-kept P4Info, relative to `p4src/`.
    pub const P4INFO: &str = "traffic_clone.p4info.txtpb";
    /// The BMv2 JSON p4c writes, relative to `p4src/`.
    pub const BMV2_JSON: &str = "build/traffic_clone.json";
    /// The P4Info as p4c wrote it, relative to `p4src/`.
    pub const BUILD_P4INFO: &str = "build/traffic_clone.p4info.txtpb";
    /// The sha256 of the source the build came from, relative to `p4src/`.
    pub const SOURCE_SHA256: &str = "build/SOURCE.sha256";
    /// The p4c command that builds `p4src/build/`, as run in `p4src/` (the
    /// `p4c` driver; `p4c-bm2-ss` takes the same flags without `--target bmv2`
    /// and `-o` naming the JSON file).
    pub const P4C_COMMAND: &str =
        "p4c --target bmv2 --arch v1model --p4runtime-files build/traffic_clone.p4info.txtpb -o build traffic_clone.p4";
    /// The script that runs [`P4C_COMMAND`], checks the result and records
    /// [`SOURCE_SHA256`], from the repository root.
    pub const REBUILD_SCRIPT: &str = "scripts/p4c-check.sh --update";
}
