//! One copy of every table (the left-right scheme keeps two), and the resolved
//! operations that are applied to both copies.
//!
//! A [`Resolved`] operation has been validated against an identical copy and carries
//! everything decided on the way (direct-counter handle, insertion sequence number),
//! so replaying it on the other copy is deterministic and cannot fail.

use std::collections::HashMap;

use crate::mem::HugeBuf;

use super::fast_hash::FastBuild;
use super::ternary::{PackedV4, PackedV6, Slot, TernaryTable};
use super::{
    ClassifyAction, CloneSession, NatActionV4, NatActionV6, NatDir, NatKeyV4, NatKeyV6, Port, RewriteAction,
    WireAction, DROP_PORT, PORT_COUNT,
};

/// Number of `clone_rewrite` keys (`bit<16>`).
pub(crate) const REWRITE_KEYS: usize = 65_536;
/// Number of clone session ids.
pub(crate) const SESSION_IDS: usize = 32_768;

/// Resolved `wire` lookup for one ingress port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WireFast {
    /// `egress_spec` after the action (511 = drop).
    pub egress: Port,
    /// `wire.apply().hit`.
    pub hit: bool,
}

/// The hot-path view of a clone session: 12 bytes, no pointer to chase for the
/// usual single replica. More replicas are read from `Tables::sessions`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SessionFast {
    /// Number of replicas; 0 with `present` = a session without replicas.
    pub replicas: u16,
    /// The session exists.
    pub present: bool,
    /// First replica's egress port.
    pub port: Port,
    /// First replica's instance (`egress_rid`).
    pub instance: u16,
    /// `packet_length_bytes`.
    pub packet_length_bytes: u32,
}

/// What the clone path reads for one id: the `clone_rewrite` entry keyed by it (as
/// `egress_rid`) and the clone session with that id. Since the compiler uses
/// `instance = session id = member id`, one 32-byte record (half a cache line) serves
/// a whole clone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct MemberFast {
    /// `clone_rewrite` entry (None = no entry).
    pub rewrite: Option<RewriteAction>,
    /// Clone session (only for ids < 32768).
    pub session: SessionFast,
}

const _: () = assert!(std::mem::size_of::<MemberFast>() <= 32);

/// A validated operation, applied identically to both copies.
#[derive(Clone, Debug)]
pub(crate) enum Resolved {
    Wire(Port, Option<WireAction>),
    WireDefault(WireAction),
    V4Insert(PackedV4, PackedV4, Slot, u64),
    V4Modify(PackedV4, PackedV4, i32, ClassifyAction),
    V4Delete(PackedV4, PackedV4, i32),
    V4Default(ClassifyAction),
    V6Insert(PackedV6, PackedV6, Slot, u64),
    V6Modify(PackedV6, PackedV6, i32, ClassifyAction),
    V6Delete(PackedV6, PackedV6, i32),
    V6Default(ClassifyAction),
    Rewrite(u16, Option<RewriteAction>),
    RewriteDefault(RewriteAction),
    NatV4(NatDir, NatKeyV4, Option<NatActionV4>),
    NatV4Default(NatDir, NatActionV4),
    NatV6(NatDir, NatKeyV6, Option<NatActionV6>),
    NatV6Default(NatDir, NatActionV6),
    Session(u16, Option<CloneSession>),
}

/// One copy of all tables.
pub(crate) struct Tables {
    pub wire: Box<[Option<WireAction>]>,
    pub wire_fast: Box<[WireFast]>,
    pub wire_default: WireAction,
    pub wire_len: usize,
    pub classify_v4: TernaryTable<PackedV4>,
    pub classify_v4_default: ClassifyAction,
    pub classify_v6: TernaryTable<PackedV6>,
    pub classify_v6_default: ClassifyAction,
    /// By id: `clone_rewrite` entry and clone session (see [`MemberFast`]).
    pub members: HugeBuf<MemberFast>,
    pub rewrite_default: RewriteAction,
    pub rewrite_len: usize,
    pub nat_v4: [HashMap<NatKeyV4, NatActionV4, FastBuild>; 2],
    pub nat_v4_default: [NatActionV4; 2],
    pub nat_v6: [HashMap<NatKeyV6, NatActionV6, FastBuild>; 2],
    pub nat_v6_default: [NatActionV6; 2],
    pub sessions: Box<[Option<CloneSession>]>,
    pub sessions_len: usize,
}

fn wire_egress(a: WireAction) -> Port {
    match a {
        WireAction::Forward(p) => p,
        WireAction::Drop => DROP_PORT,
    }
}

impl Tables {
    /// Empty tables with the program's default actions.
    pub(crate) fn new(build: FastBuild) -> Self {
        Tables {
            wire: vec![None; PORT_COUNT].into_boxed_slice(),
            wire_fast: vec![WireFast { egress: DROP_PORT, hit: false }; PORT_COUNT].into_boxed_slice(),
            wire_default: WireAction::Drop,
            wire_len: 0,
            classify_v4: TernaryTable::new(build),
            classify_v4_default: ClassifyAction::Miss,
            classify_v6: TernaryTable::new(build),
            classify_v6_default: ClassifyAction::Miss,
            members: HugeBuf::new(REWRITE_KEYS, MemberFast::default()),
            rewrite_default: RewriteAction::Miss,
            rewrite_len: 0,
            nat_v4: [HashMap::with_hasher(build), HashMap::with_hasher(build)],
            nat_v4_default: [NatActionV4::Miss; 2],
            nat_v6: [HashMap::with_hasher(build), HashMap::with_hasher(build)],
            nat_v6_default: [NatActionV6::Miss; 2],
            sessions: vec![None; SESSION_IDS].into_boxed_slice(),
            sessions_len: 0,
        }
    }

    fn refresh_wire(&mut self, port: usize) {
        self.wire_fast[port] = match self.wire[port] {
            Some(a) => WireFast { egress: wire_egress(a), hit: true },
            None => WireFast { egress: wire_egress(self.wire_default), hit: false },
        };
    }

    /// Applies one resolved operation.
    pub(crate) fn apply(&mut self, op: &Resolved) {
        match op {
            Resolved::Wire(port, a) => {
                let p = usize::from(*port);
                match (self.wire[p].is_some(), a.is_some()) {
                    (false, true) => self.wire_len += 1,
                    (true, false) => self.wire_len -= 1,
                    _ => {}
                }
                self.wire[p] = *a;
                self.refresh_wire(p);
            }
            Resolved::WireDefault(a) => {
                self.wire_default = *a;
                for p in 0..PORT_COUNT {
                    self.refresh_wire(p);
                }
            }
            Resolved::V4Insert(m, k, s, seq) => self.classify_v4.insert(m, k, *s, *seq),
            Resolved::V4Modify(m, k, p, a) => {
                self.classify_v4.modify(m, k, *p, *a);
            }
            Resolved::V4Delete(m, k, p) => {
                self.classify_v4.remove(m, k, *p);
            }
            Resolved::V4Default(a) => self.classify_v4_default = *a,
            Resolved::V6Insert(m, k, s, seq) => self.classify_v6.insert(m, k, *s, *seq),
            Resolved::V6Modify(m, k, p, a) => {
                self.classify_v6.modify(m, k, *p, *a);
            }
            Resolved::V6Delete(m, k, p) => {
                self.classify_v6.remove(m, k, *p);
            }
            Resolved::V6Default(a) => self.classify_v6_default = *a,
            Resolved::Rewrite(member, a) => {
                let i = usize::from(*member);
                match (self.members[i].rewrite.is_some(), a.is_some()) {
                    (false, true) => self.rewrite_len += 1,
                    (true, false) => self.rewrite_len -= 1,
                    _ => {}
                }
                self.members[i].rewrite = *a;
            }
            Resolved::RewriteDefault(a) => self.rewrite_default = *a,
            Resolved::NatV4(dir, k, a) => {
                let t = &mut self.nat_v4[dir.idx()];
                match a {
                    Some(a) => {
                        t.insert(*k, *a);
                    }
                    None => {
                        t.remove(k);
                    }
                }
            }
            Resolved::NatV4Default(dir, a) => self.nat_v4_default[dir.idx()] = *a,
            Resolved::NatV6(dir, k, a) => {
                let t = &mut self.nat_v6[dir.idx()];
                match a {
                    Some(a) => {
                        t.insert(*k, *a);
                    }
                    None => {
                        t.remove(k);
                    }
                }
            }
            Resolved::NatV6Default(dir, a) => self.nat_v6_default[dir.idx()] = *a,
            Resolved::Session(id, s) => {
                let i = usize::from(*id);
                match (self.sessions[i].is_some(), s.is_some()) {
                    (false, true) => self.sessions_len += 1,
                    (true, false) => self.sessions_len -= 1,
                    _ => {}
                }
                self.sessions[i] = s.clone();
                self.members[i].session = match s {
                    None => SessionFast::default(),
                    Some(s) => {
                        let first = s.replicas.first();
                        SessionFast {
                            replicas: s.replicas.len().min(usize::from(u16::MAX)) as u16,
                            present: true,
                            port: first.map_or(DROP_PORT, |r| r.egress_port),
                            instance: first.map_or(0, |r| r.instance),
                            packet_length_bytes: s.packet_length_bytes,
                        }
                    }
                };
            }
        }
    }

    /// End of a batch: brings the ternary tables' tuple order up to date.
    pub(crate) fn finish(&mut self) {
        self.classify_v4.finish();
        self.classify_v6.finish();
    }
}
