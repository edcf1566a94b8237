//! What the program owns on a device: reading it ([`read_state`]), the names
//! and ids the reconciler needs, and the member allocation recorded in
//! `clone_rewrite` metadata ([`allocation`]).

use p4clone_proto::program;
use std::collections::{HashMap, HashSet};

use p4clone_compiler::intent::{Allocation, CloneMember, DeviceIntent, BLOCK_WIDTH, MAX_BLOCKS};
use p4clone_compiler::lower;
use p4clone_proto::bytestring;
use p4clone_proto::p4::v1::{entity, field_match, CloneSessionEntry, Entity, TableEntry};
use p4clone_proto::schema::P4Schema;
use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::error::{ClientError, ReconcileError};
use crate::replication;
use crate::tables;

/// Name of the `clone_rewrite` table.
pub const REWRITE_TABLE: &str = program::tables::CLONE_REWRITE.name;
/// Name of the requested-clones counter.
pub const REQUESTED_COUNTER: &str = program::counters::CLONES_REQUESTED.name;
/// Name of the emitted-clones counter.
pub const EMITTED_COUNTER: &str = program::counters::CLONES_EMITTED.name;
/// Name of the counter of encapsulated clones cut to the MTU.
pub const TRUNCATED_MTU_COUNTER: &str = program::counters::TRUNCATED_MTU.name;

/// What the program owns on a device, as read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeviceState {
    /// Non-default entries of the program's tables.
    pub entries: Vec<TableEntry>,
    /// Default entries; `None` when the device could not read them.
    pub defaults: Option<Vec<TableEntry>>,
    /// Clone sessions.
    pub sessions: Vec<CloneSessionEntry>,
}

impl DeviceState {
    /// Number of table entries and clone sessions.
    pub fn len(&self) -> usize {
        self.entries.len() + self.sessions.len()
    }

    /// Whether the device holds nothing of the program.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Who a `clone_rewrite` entry belongs to (its metadata).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewriteOwner {
    /// The profile's config digest.
    pub digest: String,
    /// Clone profile name.
    pub profile: String,
    /// Service engine name.
    pub se: String,
}

/// The metadata of a member's `clone_rewrite` entry: the compiler's
/// [`lower::rewrite_metadata`] form (`<digest hex>\0<profile>\0<se>`), one format for
/// `compile`, `push` and `stats`.
pub fn rewrite_metadata(m: &CloneMember) -> Vec<u8> {
    lower::rewrite_metadata(m)
}

/// Parses [`rewrite_metadata`]; `None` for anything else (e.g. a bare digest).
pub fn parse_rewrite_metadata(b: &[u8]) -> Option<RewriteOwner> {
    let (digest, profile, se) = lower::parse_rewrite_metadata(b)?;
    Some(RewriteOwner { digest, profile, se })
}

pub(super) fn table_entry(e: &Entity) -> Option<&TableEntry> {
    match &e.entity {
        Some(entity::Entity::TableEntry(t)) => Some(t),
        _ => None,
    }
}

/// The member id (exact `member` key) of a `clone_rewrite` entry.
pub(super) fn rewrite_member(e: &TableEntry) -> Option<u16> {
    match e.r#match.first()?.field_match_type.as_ref()? {
        field_match::FieldMatchType::Exact(x) => bytestring::decode(&x.value).ok().and_then(|v| u16::try_from(v).ok()),
        _ => None,
    }
}

/// A counter reset with a member (see [`Ids::reset_counters`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ResetCounter {
    /// Counter id.
    pub(super) id: u32,
    /// Its name.
    pub(super) name: &'static str,
    /// Indexed by a block's first member (`skipped_by_filter`, `not_sampled`):
    /// reset only at such a member.
    pub(super) block: bool,
}

impl ResetCounter {
    /// Whether this counter has a cell to reset for `member`.
    pub(super) fn applies_to(&self, member: u16) -> bool {
        !self.block || member.wrapping_sub(1).is_multiple_of(BLOCK_WIDTH)
    }
}

/// Ids the reconciler needs, resolved once from the schema.
#[derive(Debug, Clone)]
pub(super) struct Ids {
    pub(super) rewrite: Option<u32>,
    pub(super) requested: Option<u32>,
    pub(super) emitted: Option<u32>,
    pub(super) truncated: Option<u32>,
    /// `skipped_by_filter` and `not_sampled` (per block: reset with its first member).
    pub(super) block_counters: [Option<u32>; 2],
    levels: HashMap<u32, u8>,
}

/// Level of clone sessions in the dependency order.
pub(super) const SESSION_LEVEL: u8 = 1;
/// Level of default entries (after everything else).
pub(super) const DEFAULT_LEVEL: u8 = 5;

impl Ids {
    pub(super) fn new(schema: &P4Schema) -> Ids {
        let levels = schema
            .tables()
            .iter()
            .map(|t| {
                let n = t.name.trim_start_matches('.');
                let short = n.rsplit('.').next().unwrap_or(n);
                let level = if short == program::tables::WIRE.name {
                    0
                } else if short == REWRITE_TABLE {
                    2
                } else if [program::tables::CLASSIFY_V4.name, program::tables::CLASSIFY_V6.name].contains(&short) {
                    4
                } else {
                    3
                };
                (t.id, level)
            })
            .collect();
        Ids {
            rewrite: schema.table(REWRITE_TABLE).ok().map(|t| t.id),
            requested: schema.counter(REQUESTED_COUNTER).ok().map(|c| c.id),
            emitted: schema.counter(EMITTED_COUNTER).ok().map(|c| c.id),
            truncated: schema.counter(TRUNCATED_MTU_COUNTER).ok().map(|c| c.id),
            block_counters: [
                schema.counter(program::counters::SKIPPED_BY_FILTER.name).ok().map(|c| c.id),
                schema.counter(program::counters::NOT_SAMPLED.name).ok().map(|c| c.id),
            ],
            levels,
        }
    }

    /// The counters reset with a member: (id, name, only at a block's first member).
    pub(super) fn reset_counters(&self) -> Vec<ResetCounter> {
        let member = [(self.requested, REQUESTED_COUNTER), (self.emitted, EMITTED_COUNTER)]
            .into_iter()
            .chain([(self.truncated, TRUNCATED_MTU_COUNTER)])
            .filter_map(|(id, name)| Some(ResetCounter { id: id?, name, block: false }));
        let block = self
            .block_counters
            .iter()
            .zip([program::counters::SKIPPED_BY_FILTER.name, program::counters::NOT_SAMPLED.name]);
        member.chain(block.filter_map(|(id, name)| Some(ResetCounter { id: (*id)?, name, block: true }))).collect()
    }

    pub(super) fn level(&self, table_id: u32) -> u8 {
        self.levels.get(&table_id).copied().unwrap_or(3)
    }
}

/// The (profile, SE) → block allocation recorded on a device (see
/// [`crate::reconcile`]), keyed under `device`, to pass as hints to
/// [`p4clone_compiler::intent::compile`].
pub fn allocation(device: &str, state: &DeviceState, schema: &P4Schema) -> Allocation {
    let mut a = Allocation::default();
    let Some(rewrite) = Ids::new(schema).rewrite else {
        return a;
    };
    let mut seen: HashSet<(String, String)> = HashSet::new();
    for e in state.entries.iter().filter(|e| e.table_id == rewrite) {
        let (Some(id), Some(owner)) = (rewrite_member(e), parse_rewrite_metadata(&e.metadata)) else {
            continue;
        };
        if id == 0 {
            continue;
        }
        let block = (id - 1) / BLOCK_WIDTH;
        if block >= MAX_BLOCKS {
            continue;
        }
        if seen.insert((owner.profile.clone(), owner.se.clone())) {
            a.insert(device, &owner.profile, &owner.se, block);
        }
    }
    a
}

/// Merges `b` into `a`.
pub fn merge_allocation(a: &mut Allocation, b: &Allocation) {
    for (d, profiles) in &b.devices {
        for (p, ses) in profiles {
            for (s, &i) in ses {
                a.insert(d, p, s, i);
            }
        }
    }
}

/// The entities a device must hold for `d`, in apply order: exactly the compiler's
/// lowering (so `compile` output and what `push` writes are the same bytes).
pub fn desired_entities(d: &DeviceIntent, schema: &P4Schema) -> Result<Vec<Entity>, ReconcileError> {
    lower::lower_entities(d, schema)
        .map_err(|e| ReconcileError::Lower { device: d.name.clone(), message: e.to_string() })
}

/// Reads what the program owns on a device (see [`crate::reconcile`]).
pub async fn read_state(client: &mut Client, schema: &P4Schema) -> Result<DeviceState, ClientError> {
    let mut req: Vec<Entity> = schema.tables().iter().map(|t| tables::wildcard(t.id)).collect();
    req.push(replication::wildcard());
    let entities = client.read(req).await?;
    let mut state = DeviceState::default();
    let ours: HashSet<u32> = schema.tables().iter().map(|t| t.id).collect();
    for e in entities {
        if let Some(c) = replication::as_clone_session(&e) {
            state.sessions.push(c.clone());
            continue;
        }
        if let Some(entity::Entity::TableEntry(t)) = e.entity {
            if !t.is_default_action && ours.contains(&t.table_id) {
                state.entries.push(t);
            }
        }
    }
    state.defaults = tables::read_defaults(client, schema).await.ok().filter(|d| !d.is_empty());
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use p4clone_proto::p4::v1::FieldMatch;

    fn exact(field_id: u32, value: Vec<u8>) -> FieldMatch {
        FieldMatch {
            field_id,
            field_match_type: Some(field_match::FieldMatchType::Exact(field_match::Exact { value: value.into() })),
        }
    }

    #[test]
    fn rewrite_metadata_round_trips_and_bare_digests_are_not_owners() {
        let o = RewriteOwner { digest: "00112233aabbccdd".into(), profile: "p|x\"".into(), se: "se 1".into() };
        let b = [o.digest.as_bytes(), b"\0", o.profile.as_bytes(), b"\0", o.se.as_bytes()].concat();
        assert_eq!(parse_rewrite_metadata(&b), Some(o));
        assert_eq!(parse_rewrite_metadata(b"00112233aabbccdd"), None);
        assert_eq!(parse_rewrite_metadata(b"{garbage"), None);
    }

    #[test]
    fn allocation_is_recovered_from_rewrite_metadata() {
        let schema = lower::program_schema().unwrap();
        let rewrite = schema.table(REWRITE_TABLE).unwrap().id;
        let owner =
            |p: &str, s: &str| [b"00112233aabbccdd".as_slice(), b"\0", p.as_bytes(), b"\0", s.as_bytes()].concat();
        let mk = |member: u16, meta: Vec<u8>| TableEntry {
            table_id: rewrite,
            r#match: vec![exact(1, bytestring::encode(u128::from(member)))],
            metadata: meta.into(),
            ..Default::default()
        };
        let state = DeviceState {
            entries: vec![
                mk(11, owner("a", "s1")),
                mk(12, owner("a", "s1")),
                mk(31, owner("b", "s1")),
                mk(41, b"x".to_vec()),
            ],
            ..Default::default()
        };
        let a = allocation("dev", &state, schema);
        assert_eq!(a.get("dev", "a", "s1"), Some(1));
        assert_eq!(a.get("dev", "b", "s1"), Some(3));
        assert_eq!(a.len(), 2);
    }
}
