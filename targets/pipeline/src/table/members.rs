//! What the clone path reads by member id: `clone_rewrite` (keyed by `egress_rid`)
//! and the clone sessions of the replication engine (not in the P4Info).

use super::contract::{
    check_port, exact_value, from_value, range_err, ActionValues, EntryOp, MatchValues, Schema, Table, TableError,
    TableId,
};
use super::member_keyed::{self, MemberKeyed};
use super::store::{Change, ReadCtx, Stored, WriteCtx};
use crate::mem::HugeBuf;
use crate::sizes::{Port, DROP_PORT, MAX_SESSION_ID, REWRITE_SIZE};
use crate::state::CounterValue;

/// Number of `clone_rewrite` keys (`bit<16>`).
const REWRITE_KEYS: usize = 65_536;
/// Number of clone session ids.
const SESSION_IDS: usize = 32_768;

/// Parameters of `clone_rewrite_set`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RewriteParams {
    /// New destination MAC (the clone server's).
    pub dst_mac: [u8; 6],
    /// New source MAC (the SE interface's).
    pub src_mac: [u8; 6],
    /// 0 = leave untagged, 1..=4095 = leave with that VID.
    pub vlan_id: u16,
    /// 0 = whole frame, otherwise cut to this many bytes (counting a pushed tag).
    pub truncate_len: u16,
    /// Look the clone up in the `nat_*` tables.
    pub nat_restore: bool,
}

/// Action of `clone_rewrite`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RewriteAction {
    /// `clone_rewrite_set(...)`.
    Set(RewriteParams),
    /// `clone_rewrite_miss`: `mark_to_drop`.
    Miss,
}

/// An entry of `clone_rewrite`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewriteEntry {
    /// Key: `member` (`egress_rid`).
    pub member: u16,
    /// Action.
    pub action: RewriteAction,
    /// Opaque `TableEntry.metadata`.
    pub metadata: Vec<u8>,
}

/// The `clone_rewrite` table (see [`CLONE_REWRITE`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RewriteTable;

/// `clone_rewrite`.
pub const CLONE_REWRITE: RewriteTable = RewriteTable;

static SCHEMA: Schema = Schema {
    name: "clone_rewrite",
    ternary: false,
    fields: &[("member", 16)],
    actions: &[
        (
            "clone_rewrite_set",
            &[("dst_mac", 48), ("src_mac", 48), ("vlan_id", 12), ("truncate_len", 16), ("nat_restore", 1)],
        ),
        ("clone_rewrite_miss", &[]),
    ],
    default_action: 1,
    direct_counter: false,
};

/// One replica of a clone session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Replica {
    /// Port the copy leaves on.
    pub egress_port: Port,
    /// `instance`, seen in egress as `egress_rid` (the `clone_rewrite` key).
    pub instance: u16,
}

/// A clone session (packet replication engine, not in the P4Info).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct CloneSession {
    /// Replicas, emitted in this order.
    pub replicas: Vec<Replica>,
    /// 0 = whole clone, otherwise the emitted clone is cut to at most this many bytes
    /// after the egress rewrite (BMv2 refuses non-zero, the software target honours it).
    pub packet_length_bytes: u32,
}

/// A clone session with its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloneSessionEntry {
    /// Session id, 0..=[`MAX_SESSION_ID`].
    pub session_id: u16,
    /// The session.
    pub session: CloneSession,
}

/// A write to the clone sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionOp {
    /// INSERT of a clone session.
    Insert(CloneSessionEntry),
    /// MODIFY of a clone session.
    Modify(CloneSessionEntry),
    /// DELETE of the clone session with this id.
    Delete(u16),
}

/// The hot-path view of a clone session: 12 bytes, no pointer to chase for the
/// usual single replica. More replicas are read from [`MemberStore::sessions`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionFast {
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
pub struct MemberFast {
    /// `clone_rewrite` entry (None = no entry).
    pub rewrite: Option<RewriteAction>,
    /// Clone session (only for ids < 32768).
    pub session: SessionFast,
}

const _: () = assert!(std::mem::size_of::<MemberFast>() <= 32);

/// One copy of `clone_rewrite` and the clone sessions.
pub struct MemberStore {
    /// By id: `clone_rewrite` entry and clone session (see [`MemberFast`]).
    pub(crate) members: HugeBuf<MemberFast>,
    /// `clone_rewrite`'s default action.
    pub(crate) rewrite_default: RewriteAction,
    rewrite_len: usize,
    /// Clone sessions by id.
    pub(crate) sessions: Box<[Option<CloneSession>]>,
    sessions_len: usize,
}

impl MemberStore {
    /// No entries, default `clone_rewrite_miss`, no sessions.
    pub(crate) fn new() -> Self {
        MemberStore {
            members: HugeBuf::new(REWRITE_KEYS, MemberFast::default()),
            rewrite_default: RewriteAction::Miss,
            rewrite_len: 0,
            sessions: vec![None; SESSION_IDS].into_boxed_slice(),
            sessions_len: 0,
        }
    }

    fn set_rewrite(&mut self, member: u16, a: Option<RewriteAction>) {
        let i = usize::from(member);
        match (self.members[i].rewrite.is_some(), a.is_some()) {
            (false, true) => self.rewrite_len += 1,
            (true, false) => self.rewrite_len -= 1,
            _ => {}
        }
        self.members[i].rewrite = a;
    }

    fn rewrite_record(&self, ctx: &ReadCtx<'_>, member: u16) -> Option<RewriteEntry> {
        let action = self.members[usize::from(member)].rewrite?;
        Some(RewriteEntry { member, action, metadata: ctx.meta(&meta_key(member)) })
    }

    /// Applies a validated session write (both copies).
    pub(crate) fn set_session(&mut self, id: u16, s: Option<&CloneSession>) {
        let i = usize::from(id);
        match (self.sessions[i].is_some(), s.is_some()) {
            (false, true) => self.sessions_len += 1,
            (true, false) => self.sessions_len -= 1,
            _ => {}
        }
        self.sessions[i] = s.cloned();
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

    /// Number of clone sessions.
    pub(crate) fn sessions_len(&self) -> usize {
        self.sessions_len
    }

    /// Validates a session write; returns the session id and the session to set
    /// (`None`: delete).
    pub(crate) fn check_session_op(&self, op: SessionOp) -> Result<(u16, Option<CloneSession>), TableError> {
        let table = TableId::CloneSessions;
        let exists = |id: u16| self.sessions[usize::from(id)].is_some();
        match op {
            SessionOp::Insert(e) => {
                check_session(&e)?;
                if exists(e.session_id) {
                    return Err(TableError::AlreadyExists { table });
                }
                Ok((e.session_id, Some(e.session)))
            }
            SessionOp::Modify(e) => {
                check_session(&e)?;
                if !exists(e.session_id) {
                    return Err(TableError::NotFound { table });
                }
                Ok((e.session_id, Some(e.session)))
            }
            SessionOp::Delete(id) => {
                if id > MAX_SESSION_ID || !exists(id) {
                    return Err(TableError::NotFound { table });
                }
                Ok((id, None))
            }
        }
    }
}

fn check_session(e: &CloneSessionEntry) -> Result<(), TableError> {
    let table = TableId::CloneSessions;
    if e.session_id > MAX_SESSION_ID {
        return Err(range_err(table, "session_id", e.session_id.into(), MAX_SESSION_ID.into()));
    }
    for r in &e.session.replicas {
        check_port(table, "egress_port", r.egress_port)?;
    }
    Ok(())
}

fn meta_key(member: u16) -> (TableId, u128, u32) {
    (TableId::CloneRewrite, member.into(), 0)
}

fn check_action(a: &RewriteAction) -> Result<(), TableError> {
    if let RewriteAction::Set(p) = a {
        if p.vlan_id > 0x0FFF {
            return Err(range_err(TableId::CloneRewrite, "vlan_id", p.vlan_id.into(), 0x0FFF));
        }
    }
    Ok(())
}

fn mac(v: u128) -> [u8; 6] {
    let b = (v as u64).to_be_bytes();
    [b[2], b[3], b[4], b[5], b[6], b[7]]
}

fn mac_value(m: &[u8; 6]) -> u128 {
    m.iter().fold(0u128, |acc, &b| (acc << 8) | u128::from(b))
}

impl Table for RewriteTable {
    type Key = u16;
    type Action = RewriteAction;
    type Entry = RewriteEntry;
    type Record = RewriteEntry;

    fn id(self) -> TableId {
        TableId::CloneRewrite
    }
    fn schema(self) -> &'static Schema {
        &SCHEMA
    }
    fn entry(member: u16, action: RewriteAction, metadata: Vec<u8>) -> RewriteEntry {
        RewriteEntry { member, action, metadata }
    }
    fn entry_parts(e: RewriteEntry) -> (u16, RewriteAction, Vec<u8>) {
        (e.member, e.action, e.metadata)
    }
    fn record_parts(r: RewriteEntry) -> (RewriteEntry, Option<CounterValue>) {
        (r, None)
    }
    fn key_from_values(v: &MatchValues) -> u16 {
        from_value(v.fields[0].0)
    }
    fn key_values(k: &u16) -> MatchValues {
        MatchValues { fields: vec![exact_value(*k)], priority: 0 }
    }
    fn action_from_values(v: &ActionValues) -> RewriteAction {
        let p = &v.params;
        match v.index {
            0 => RewriteAction::Set(RewriteParams {
                dst_mac: mac(p[0]),
                src_mac: mac(p[1]),
                vlan_id: from_value(p[2]),
                truncate_len: from_value(p[3]),
                nat_restore: p[4] != 0,
            }),
            _ => RewriteAction::Miss,
        }
    }
    fn action_values(a: &RewriteAction) -> ActionValues {
        match a {
            RewriteAction::Set(r) => ActionValues {
                index: 0,
                params: vec![
                    mac_value(&r.dst_mac),
                    mac_value(&r.src_mac),
                    r.vlan_id.into(),
                    r.truncate_len.into(),
                    u128::from(r.nat_restore),
                ],
            },
            RewriteAction::Miss => ActionValues { index: 1, params: vec![] },
        }
    }
}

impl Stored for RewriteTable {
    type Store = MemberStore;

    fn write(
        self,
        s: &MemberStore,
        ctx: &mut WriteCtx<'_>,
        op: EntryOp<Self>,
    ) -> Result<Option<Change<MemberStore>>, TableError> {
        let k = MemberKeyed {
            table: TableId::CloneRewrite,
            capacity: REWRITE_SIZE,
            len: s.rewrite_len,
            exists: |s: &MemberStore, m| s.members[usize::from(m)].rewrite.is_some(),
            check: check_action,
            set: MemberStore::set_rewrite,
            set_default: |s: &mut MemberStore, a| s.rewrite_default = a,
        };
        member_keyed::write::<Self, _>(k, s, ctx, op)
    }

    fn len(s: &MemberStore) -> usize {
        s.rewrite_len
    }
    fn default_action(s: &MemberStore) -> RewriteAction {
        s.rewrite_default
    }
    fn record(self, s: &MemberStore, ctx: &ReadCtx<'_>, key: &u16) -> Option<RewriteEntry> {
        s.rewrite_record(ctx, *key)
    }
    fn records(self, s: &MemberStore, ctx: &ReadCtx<'_>) -> Vec<RewriteEntry> {
        (0..=u16::MAX).filter_map(|m| s.rewrite_record(ctx, m)).collect()
    }
}
