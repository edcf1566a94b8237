//! The Tofino port of the program, `p4src/traffic_clone_tna.p4` (TNA, Tofino 1):
//! its P4Info (embedded here, and only here), the resolved [`P4Schema`], its
//! P4Runtime objects, the limits Stratum puts on it, and how it is built.
//!
//! Every object the TNA program shares with the v1model program
//! ([`crate::program`]) has the same id and name, and the same match fields and
//! parameters, so the same entities program both; the object lists below are
//! therefore the v1model program's [`Object`]s. What the TNA program lacks (the
//! classify direct counters and, for now, the encapsulation objects) and how it differs is in `docs/dataplane.md`, "The
//! TNA program"; `tests/program_tna.rs` checks all of it against both P4Infos.
//!
//! ```
//! use p4clone_proto::program_tna::{self, tables};
//! let schema = program_tna::schema().unwrap();
//! assert_eq!(schema.table(tables::WIRE.name).unwrap().id, tables::WIRE.id);
//! assert_eq!(schema.p4info().pkg_info.as_ref().unwrap().arch, "tna");
//! ```

use std::sync::LazyLock;

use crate::p4::config::v1::P4Info;
use crate::program::Object;
use crate::schema::P4Schema;
use crate::Error;

/// The TNA program's P4Info (`p4src/traffic_clone_tna.p4info.txtpb`), protobuf text format.
pub const P4INFO_TEXT: &str = include_str!("../../p4src/traffic_clone_tna.p4info.txtpb");

static SCHEMA: LazyLock<Result<P4Schema, String>> =
    LazyLock::new(|| P4Schema::from_text(P4INFO_TEXT).map_err(|e| e.to_string()));

/// The embedded TNA program's schema, parsed on first use.
pub fn schema() -> Result<&'static P4Schema, Error> {
    SCHEMA.as_ref().map_err(|e| Error::Program(format!("embedded traffic_clone_tna.p4info.txtpb: {e}")))
}

/// The embedded TNA program's P4Info.
pub fn p4info() -> Result<&'static P4Info, Error> {
    schema().map(P4Schema::p4info)
}

/// The match-action tables: the v1model program's, less `clone_encap` (the TNA
/// program has no encapsulated delivery yet).
pub mod tables {
    use super::Object;
    pub use crate::program::tables::{
        CLASSIFY_V4, CLASSIFY_V6, CLONE_REWRITE, NAT_DST_V4, NAT_DST_V6, NAT_SRC_V4, NAT_SRC_V6, WIRE,
    };

    /// Every table, in P4Info order.
    pub const ALL: [Object; 8] =
        [WIRE, CLASSIFY_V4, CLASSIFY_V6, CLONE_REWRITE, NAT_SRC_V4, NAT_DST_V4, NAT_SRC_V6, NAT_DST_V6];
}

/// The actions: the v1model program's, less the `clone_encap_*` ones and the
/// filter and sampling ones (`classify_hit_sampled`, `classify_skip`).
pub mod actions {
    use super::Object;
    pub use crate::program::actions::{
        CLASSIFY_HIT, CLASSIFY_MISS, CLONE_REWRITE_MISS, CLONE_REWRITE_SET, NAT_MISS, NAT_SET_V4, NAT_SET_V6,
        WIRE_DROP, WIRE_FORWARD,
    };

    /// Every action, in P4Info order.
    pub const ALL: [Object; 9] = [
        WIRE_FORWARD,
        WIRE_DROP,
        CLASSIFY_HIT,
        CLASSIFY_MISS,
        CLONE_REWRITE_SET,
        CLONE_REWRITE_MISS,
        NAT_SET_V4,
        NAT_SET_V6,
        NAT_MISS,
    ];
}

/// The indirect counters: the v1model program's, less `truncated_mtu` (nothing
/// is cut to an MTU without encapsulation), `skipped_by_filter` and `not_sampled`
/// (no filters or sampling yet).
pub mod counters {
    use super::Object;
    pub use crate::program::counters::{CLONES_EMITTED, CLONES_REQUESTED};

    /// Every indexed counter.
    pub const ALL: [Object; 2] = [CLONES_REQUESTED, CLONES_EMITTED];
}

/// The direct counters: none (TNA counts a direct counter only from its own
/// table's actions, and `classify_hit` is shared by both classify tables).
pub mod direct_counters {
    use super::Object;

    /// Every direct counter of the TNA program.
    pub const ALL: [Object; 0] = [];
}

/// The registers: the v1model program's `rr_cursor` (no `erspan_seq` or `sample_cursor`).
pub mod registers {
    use super::Object;
    pub use crate::program::registers::RR_CURSOR;

    /// Every register.
    pub const ALL: [Object; 1] = [RR_CURSOR];
}

/// The limits of the TNA program under Stratum (`docs/targets.md`, "Tofino").
pub mod limits {
    /// The highest clone session id Stratum accepts on Tofino
    /// (`kMaxCloneSessionId`); member ids are session ids, so this is also the
    /// highest member id.
    pub const MAX_CLONE_SESSION: u16 = 1015;
    /// Width of a mirror session id (`MirrorId_t`) on Tofino 1.
    pub const MIRROR_ID_BITS: u32 = 10;
    /// The largest `packet_length_bytes` of a clone session (Stratum: `UINT16_MAX`,
    /// written to `$mirror.cfg` as `$max_pkt_len`).
    pub const MAX_PACKET_LENGTH: u32 = 65_535;
    /// The highest `class_of_service` of a clone session (3 bits, `$ingress_cos`).
    pub const MAX_CLASS_OF_SERVICE: u32 = 7;
    /// The highest member count a profile may have: the hidden residue tables
    /// of the flow hash cover 1..=10.
    pub const MAX_MEMBER_COUNT: u16 = 10;
}

/// Building the TNA program, and where its outputs go under `p4src/`.
pub mod build {
    /// The P4 source, relative to `p4src/`.
    pub const SOURCE: &str = "traffic_clone_tna.p4";
    /// The hand-kept P4Info, relative to `p4src/`.
    pub const P4INFO: &str = "traffic_clone_tna.p4info.txtpb";
    /// The compiler command (Intel P4 Studio / open-p4studio `p4c` driver with
    /// the Tofino back end, bf-p4c), as run in `p4src/`. Its output directory
    /// holds the device config Stratum needs (see the README, "Running on Tofino").
    pub const P4C_COMMAND: &str = "p4c --target tofino --arch tna --p4runtime-force-std-externs --p4runtime-files build/tofino/traffic_clone_tna.p4info.txtpb -o build/tofino traffic_clone_tna.p4";
}
