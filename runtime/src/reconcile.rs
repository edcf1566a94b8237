//! Reconcile: read what the program owns on a device, diff it against the
//! compiled intent, and write the minimal set of updates in dependency order.
//!
//! # What is read
//! One Read with a wildcard `TableEntry` per table of the program's P4Info and a
//! wildcard `CloneSessionEntry` (every clone session: the program owns the
//! packet replication engine's clone sessions), plus one Read of the tables'
//! default entries (skipped if the device cannot read default entries). All of
//! it belongs to this program: entries the intent does not have are deleted.
//!
//! # Diff
//! Identity: table + match (canonical bytestrings, fields sorted by id) +
//! priority for table entries, session id for clone sessions, table for default
//! entries. Change: action and parameters, or metadata (table entries); replicas,
//! class of service, packet length (sessions). Same identity, different content
//! → `MODIFY`; only in the intent → `INSERT`; only on the device → `DELETE`.
//!
//! # Order (every phase its own Write RPCs; batches never span phases, because
//! a device may reorder the updates of one batch)
//! 1. deletes, dependents first: `clone_classify_*`, then `nat_*`,
//!    `clone_rewrite`, then clone sessions, then `wire`;
//! 2. modifies and inserts, dependencies first: `wire`, clone sessions,
//!    `clone_rewrite`, `nat_*`, then `clone_classify_*` (per level: modifies,
//!    then inserts), so a classify entry never selects a member whose session
//!    or rewrite is not there yet; then default entries;
//! 3. counter resets (after the new configuration is in place).
//!
//! Within a phase the updates are independent, so up to
//! [`ReconcileOptions::in_flight`] Write RPCs of [`ReconcileOptions::batch_size`]
//! updates are outstanding at once; the next phase starts when all of them
//! have answered.
//!
//! # Member ids across edits (allocation recovery)
//! The compiler's lowering writes `clone_rewrite` metadata as
//! `<profile config digest hex>\0<profile>\0<se>` ([`lower::rewrite_metadata`]),
//! the same bytes `p4clone compile` prints. [`allocation`] reads it back into an [`Allocation`] (block =
//! `(member − 1) / 10`), which the next compile takes as hints, so a
//! (profile, SE) keeps its member ids — and its counters — across edits, with no
//! local state file.
//!
//! # Counter resets
//! A member's `clones_requested` / `clones_emitted` cells are reset when its
//! `clone_rewrite` entry on the device is missing (a new member: the cells may
//! hold a former occupant's counts) or carries another profile digest or owner
//! (the profile's configuration changed: "any configuration change of a clone
//! profile resets its stats"). [`Reconciler::plan`] then reads those cells and
//! keeps only the non-zero ones, so a push writes no reset that changes nothing
//! (and [`crate::fleet`] skips the read after installing a pipeline: its
//! counters start at zero).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::OnceLock;

use p4clone_compiler::intent::{Allocation, CloneMember, DeviceIntent, BLOCK_WIDTH, MAX_BLOCKS};
use p4clone_compiler::lower;
use p4clone_proto::bytestring;
use p4clone_proto::p4::v1::{
    action, entity, field_match, table_action, update, CloneSessionEntry, Entity, FieldMatch, TableEntry, Update,
};
use p4clone_proto::schema::P4Schema;
use prost::Message;
use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::counters;
use crate::describe;
use crate::error::{ClientError, ReconcileError};
use crate::pipeline::PipelineStatus;
use crate::replication;
use crate::tables;
use crate::write::{self, UpdateError, DEFAULT_BATCH_SIZE};

/// Name of the `clone_rewrite` table.
pub const REWRITE_TABLE: &str = "clone_rewrite";
/// Name of the requested-clones counter.
pub const REQUESTED_COUNTER: &str = "clones_requested";
/// Name of the emitted-clones counter.
pub const EMITTED_COUNTER: &str = "clones_emitted";

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

fn table_entry(e: &Entity) -> Option<&TableEntry> {
    match &e.entity {
        Some(entity::Entity::TableEntry(t)) => Some(t),
        _ => None,
    }
}

/// The member id (exact `member` key) of a `clone_rewrite` entry.
fn rewrite_member(e: &TableEntry) -> Option<u16> {
    match e.r#match.first()?.field_match_type.as_ref()? {
        field_match::FieldMatchType::Exact(x) => bytestring::decode(&x.value).ok().and_then(|v| u16::try_from(v).ok()),
        _ => None,
    }
}

/// Ids the reconciler needs, resolved once from the schema.
#[derive(Debug, Clone)]
struct Ids {
    rewrite: Option<u32>,
    requested: Option<u32>,
    emitted: Option<u32>,
    levels: HashMap<u32, u8>,
}

/// Level of clone sessions in the dependency order.
const SESSION_LEVEL: u8 = 1;
/// Level of default entries (after everything else).
const DEFAULT_LEVEL: u8 = 5;

impl Ids {
    fn new(schema: &P4Schema) -> Ids {
        let levels = schema
            .tables()
            .iter()
            .map(|t| {
                let n = t.name.trim_start_matches('.');
                let short = n.rsplit('.').next().unwrap_or(n);
                let level = if short == "wire" {
                    0
                } else if short == REWRITE_TABLE {
                    2
                } else if short.starts_with("clone_classify") {
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
            levels,
        }
    }

    fn level(&self, table_id: u32) -> u8 {
        self.levels.get(&table_id).copied().unwrap_or(3)
    }
}

/// The (profile, SE) → block allocation recorded on a device (see the module
/// docs), keyed under `device`, to pass as hints to
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

// ---------------------------------------------------------------------------------
// canonical forms

fn push_bytes(out: &mut Vec<u8>, b: &[u8]) {
    let first = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    let c: &[u8] = if first == b.len() { &[0] } else { &b[first..] };
    out.extend_from_slice(&(c.len() as u32).to_be_bytes());
    out.extend_from_slice(c);
}

fn is_zero(b: &[u8]) -> bool {
    b.iter().all(|&x| x == 0)
}

/// Identity of a table entry: table, canonical match (fields by id, all-zero
/// ternary masks dropped), priority, default flag.
pub fn entry_key(e: &TableEntry) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + e.r#match.len() * 24);
    out.extend_from_slice(&e.table_id.to_be_bytes());
    out.extend_from_slice(&e.priority.to_be_bytes());
    out.push(u8::from(e.is_default_action));
    if e.r#match.windows(2).all(|w| w[0].field_id <= w[1].field_id) {
        key_matches(&mut out, e.r#match.iter());
    } else {
        let mut fms: Vec<&FieldMatch> = e.r#match.iter().collect();
        fms.sort_by_key(|f| f.field_id);
        key_matches(&mut out, fms.into_iter());
    }
    out
}

fn key_matches<'a>(out: &mut Vec<u8>, fms: impl Iterator<Item = &'a FieldMatch>) {
    use field_match::FieldMatchType as T;
    for fm in fms {
        match &fm.field_match_type {
            Some(T::Ternary(x)) if is_zero(&x.mask) => continue,
            Some(T::Lpm(x)) if x.prefix_len == 0 => continue,
            _ => {}
        }
        out.extend_from_slice(&fm.field_id.to_be_bytes());
        match &fm.field_match_type {
            Some(T::Exact(x)) => {
                out.push(1);
                push_bytes(out, &x.value);
            }
            Some(T::Ternary(x)) => {
                out.push(2);
                if bytestring::is_masked(&x.value, &x.mask) {
                    push_bytes(out, &x.value);
                } else {
                    push_bytes(out, &bytestring::apply_mask(&x.value, &x.mask));
                }
                push_bytes(out, &x.mask);
            }
            Some(T::Lpm(x)) => {
                out.push(3);
                push_bytes(out, &x.value);
                out.extend_from_slice(&x.prefix_len.to_be_bytes());
            }
            Some(T::Range(x)) => {
                out.push(4);
                push_bytes(out, &x.low);
                push_bytes(out, &x.high);
            }
            Some(T::Optional(x)) => {
                out.push(5);
                push_bytes(out, &x.value);
            }
            Some(other) => {
                out.push(6);
                out.extend_from_slice(format!("{other:?}").as_bytes());
            }
            None => out.push(0),
        }
    }
}

/// Content of a table entry: canonical action (params by id) and metadata.
pub fn entry_value(e: &TableEntry) -> Vec<u8> {
    let mut out = Vec::with_capacity(48 + e.metadata.len());
    match e.action.as_ref().and_then(|a| a.r#type.as_ref()) {
        Some(table_action::Type::Action(a)) => {
            out.push(1);
            out.extend_from_slice(&a.action_id.to_be_bytes());
            let mut push = |p: &action::Param| {
                out.extend_from_slice(&p.param_id.to_be_bytes());
                push_bytes(&mut out, &p.value);
            };
            if a.params.windows(2).all(|w| w[0].param_id <= w[1].param_id) {
                a.params.iter().for_each(&mut push);
            } else {
                let mut ps: Vec<&action::Param> = a.params.iter().collect();
                ps.sort_by_key(|p| p.param_id);
                ps.into_iter().for_each(&mut push);
            }
        }
        Some(other) => {
            out.push(2);
            let ta = p4clone_proto::p4::v1::TableAction { r#type: Some(other.clone()) };
            out.extend_from_slice(&ta.encode_to_vec());
        }
        None => out.push(0),
    }
    out.push(0xff);
    out.extend_from_slice(&e.metadata);
    out
}

/// Content of a clone session: sorted (port, instance) replicas, class of
/// service, packet length.
pub fn session_value(c: &CloneSessionEntry) -> Vec<u8> {
    let mut r: Vec<(u64, u32)> =
        c.replicas.iter().map(|r| (describe::replica_port(r).unwrap_or(u64::MAX), r.instance)).collect();
    r.sort_unstable();
    let mut out = Vec::with_capacity(16 + r.len() * 12);
    for (p, i) in r {
        out.extend_from_slice(&p.to_be_bytes());
        out.extend_from_slice(&i.to_be_bytes());
    }
    out.extend_from_slice(&c.class_of_service.to_be_bytes());
    out.extend_from_slice(&c.packet_length_bytes.to_be_bytes());
    out
}

/// Bytes without leading zeros (the canonical form, `[]` for zero).
fn significant(b: &[u8]) -> &[u8] {
    let first = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    &b[first..]
}

/// `entry_value(a) == entry_value(b)`, without allocating in the usual case
/// (one direct action, parameters in the same order).
fn same_content(a: &TableEntry, b: &TableEntry) -> bool {
    if a.metadata != b.metadata {
        return false;
    }
    match (a.action.as_ref().and_then(|x| x.r#type.as_ref()), b.action.as_ref().and_then(|x| x.r#type.as_ref())) {
        (Some(table_action::Type::Action(x)), Some(table_action::Type::Action(y)))
            if x.params.len() == y.params.len() =>
        {
            x.action_id == y.action_id
                && (x
                    .params
                    .iter()
                    .zip(&y.params)
                    .all(|(p, q)| p.param_id == q.param_id && significant(&p.value) == significant(&q.value))
                    || entry_value(a) == entry_value(b))
        }
        _ => entry_value(a) == entry_value(b),
    }
}

/// FxHash-style hasher for the diff's identity keys (short byte strings from
/// the device; no attacker-chosen collisions to fear, and much faster than SipHash).
#[derive(Clone, Copy, Default)]
struct FastHash;

impl std::hash::BuildHasher for FastHash {
    type Hasher = FastHasher;
    fn build_hasher(&self) -> FastHasher {
        FastHasher(0)
    }
}

struct FastHasher(u64);

impl std::hash::Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }
}

fn key_only(e: &TableEntry) -> TableEntry {
    TableEntry { table_id: e.table_id, r#match: e.r#match.clone(), priority: e.priority, ..Default::default() }
}

// ---------------------------------------------------------------------------------
// plan

/// Insert, modify or delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// `+ insert`.
    Insert,
    /// `~ modify`.
    Modify,
    /// `- delete`.
    Delete,
}

impl Op {
    fn update_type(self) -> update::Type {
        match self {
            Op::Insert => update::Type::Insert,
            Op::Modify => update::Type::Modify,
            Op::Delete => update::Type::Delete,
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Op::Insert => "+ insert",
            Op::Modify => "~ modify",
            Op::Delete => "- delete",
        }
    }
}

/// One planned write. Its one-line form ([`Change::entity`]) is made on first
/// use, so planning 100,000 inserts costs no formatting until shown.
#[derive(Clone)]
pub struct Change {
    /// Table name, or `clone_session` (borrowed from the program's P4Info).
    pub table: Cow<'static, str>,
    /// For a modify: what changes, from the device's current state.
    pub was: Option<String>,
    /// The entity sent.
    pub update: Entity,
    text: OnceLock<String>,
    schema: &'static P4Schema,
    level: u8,
}

impl Change {
    fn new(
        schema: &'static P4Schema,
        table: impl Into<Cow<'static, str>>,
        update: Entity,
        was: Option<String>,
        level: u8,
    ) -> Change {
        Change { table: table.into(), was, update, text: OnceLock::new(), schema, level }
    }

    fn with_text(mut self, text: String) -> Change {
        self.text = OnceLock::from(text);
        self
    }

    /// The entity (key → action) as it will be on the device (deletes: as it is).
    pub fn entity(&self) -> &str {
        self.text.get_or_init(|| describe::entity(self.schema, &self.update))
    }
}

impl fmt::Debug for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Change")
            .field("table", &self.table)
            .field("entity", &self.entity())
            .field("was", &self.was)
            .finish()
    }
}

impl PartialEq for Change {
    fn eq(&self, o: &Change) -> bool {
        self.table == o.table && self.was == o.was && self.update == o.update && self.level == o.level
    }
}

impl Serialize for Change {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Change", 3)?;
        st.serialize_field("table", &self.table)?;
        st.serialize_field("entity", self.entity())?;
        if let Some(w) = &self.was {
            st.serialize_field("was", w)?;
        } else {
            st.skip_field("was")?;
        }
        st.end()
    }
}

/// Why a member's counters are reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResetReason {
    /// The member is new on the device (its cells may hold old counts).
    NewMember,
    /// Its profile's configuration (digest) or owner changed.
    ProfileChanged,
}

/// A member whose `clones_requested` and `clones_emitted` cells are reset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CounterReset {
    /// Member id = counter index.
    pub member: u16,
    /// Clone profile.
    pub profile: String,
    /// Service engine.
    pub se: String,
    /// Why.
    pub reason: ResetReason,
}

/// The writes that bring one device to its intent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// Device name.
    pub device: String,
    /// `host:port`.
    pub address: String,
    /// Pipeline status (set by the fleet functions; `None` when not checked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<PipelineStatus>,
    /// Entities to insert, in apply order.
    pub inserts: Vec<Change>,
    /// Entities to modify, in apply order.
    pub modifies: Vec<Change>,
    /// Entities to delete, in apply order.
    pub deletes: Vec<Change>,
    /// Members whose counters are reset.
    pub counter_resets: Vec<CounterReset>,
}

impl Plan {
    /// Whether nothing would be written (pipeline included).
    pub fn is_empty(&self) -> bool {
        self.write_count() == 0 && !self.pipeline.is_some_and(|p| p.installed())
    }

    /// Number of updates the plan writes (each counter reset is two).
    pub fn write_count(&self) -> usize {
        self.inserts.len() + self.modifies.len() + self.deletes.len() + 2 * self.counter_resets.len()
    }

    /// The updates in apply order, split in phases (see the module docs).
    /// `ids` gives (requested, emitted) counter ids. Planned changes are sent
    /// from where they are (no copy of their entities).
    fn phases(&self, counter_ids: (Option<u32>, Option<u32>)) -> Vec<Phase<'_>> {
        let mut phases = Vec::new();
        fn group<'a>(phases: &mut Vec<Phase<'a>>, changes: &'a [Change], op: Op, levels: &[u8]) {
            for &l in levels {
                let sel: Vec<&Change> = changes.iter().filter(|c| c.level == l).collect();
                if sel.is_empty() {
                    continue;
                }
                phases.push(Phase::Changes { op, changes: sel });
            }
        }
        group(&mut phases, &self.deletes, Op::Delete, &[4, 3, 2, SESSION_LEVEL, 0]);
        for l in [0, SESSION_LEVEL, 2, 3, 4, DEFAULT_LEVEL] {
            group(&mut phases, &self.modifies, Op::Modify, &[l]);
            group(&mut phases, &self.inserts, Op::Insert, &[l]);
        }
        let mut updates = Vec::new();
        let mut names = Vec::new();
        for r in &self.counter_resets {
            for (c, n) in [(counter_ids.0, REQUESTED_COUNTER), (counter_ids.1, EMITTED_COUNTER)] {
                if let Some(c) = c {
                    updates.push(counters::reset_update(c, i64::from(r.member)));
                    names.push(format!("{n}[{}]", r.member));
                }
            }
        }
        if !updates.is_empty() {
            phases.push(Phase::Resets { updates, names });
        }
        phases
    }
}

/// One dependency phase of a push: its own Write RPCs.
enum Phase<'a> {
    /// Planned changes, sent as `op` updates of their entities (no copy).
    Changes { op: Op, changes: Vec<&'a Change> },
    /// Counter-reset updates (MODIFY to zero) and their names.
    Resets { updates: Vec<Update>, names: Vec<String> },
}

impl Phase<'_> {
    fn name(&self, i: usize) -> String {
        match self {
            Phase::Changes { changes, .. } => changes.get(i).map(|c| c.entity().to_string()).unwrap_or_default(),
            Phase::Resets { names, .. } => names.get(i).cloned().unwrap_or_default(),
        }
    }
}

impl write::UpdateList for Phase<'_> {
    fn len(&self) -> usize {
        match self {
            Phase::Changes { changes, .. } => changes.len(),
            Phase::Resets { updates, .. } => updates.len(),
        }
    }

    fn get(&self, i: usize) -> (i32, Option<&Entity>) {
        match self {
            Phase::Changes { op, changes } => (op.update_type() as i32, Some(&changes[i].update)),
            Phase::Resets { updates, .. } => write::UpdateList::get(updates.as_slice(), i),
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.device, self.address)?;
        if self.is_empty() {
            return writeln!(f, ": up to date, nothing to write");
        }
        writeln!(
            f,
            ": {} to insert, {} to modify, {} to delete, {} counter reset{}",
            self.inserts.len(),
            self.modifies.len(),
            self.deletes.len(),
            self.counter_resets.len(),
            if self.counter_resets.len() == 1 { "" } else { "s" }
        )?;
        if let Some(p) = &self.pipeline {
            if p.installed() {
                writeln!(f, "  ! {p}")?;
            }
        }
        for (changes, op) in [(&self.deletes, Op::Delete), (&self.modifies, Op::Modify), (&self.inserts, Op::Insert)] {
            for c in changes {
                match &c.was {
                    Some(w) => writeln!(f, "  {} {} ({w})", op.symbol(), c.entity())?,
                    None => writeln!(f, "  {} {}", op.symbol(), c.entity())?,
                }
            }
        }
        for r in &self.counter_resets {
            writeln!(
                f,
                "  0 reset {REQUESTED_COUNTER}[{m}] {EMITTED_COUNTER}[{m}] (profile {}, se {}: {})",
                r.profile,
                r.se,
                match r.reason {
                    ResetReason::NewMember => "new member",
                    ResetReason::ProfileChanged => "profile changed",
                },
                m = r.member
            )?;
        }
        Ok(())
    }
}

/// The P4Info name of `table_id` (borrowed: the schema lives for the program).
fn table_name(schema: &'static P4Schema, table_id: u32) -> Cow<'static, str> {
    match schema.table_by_id(table_id) {
        Ok(t) => Cow::Borrowed(t.name.as_str()),
        Err(_) => Cow::Owned(describe::table_name(schema, table_id)),
    }
}

/// Diffs the intent of one device against its state (pure). Counter resets are
/// the candidates (see the module docs; [`Reconciler::plan`] drops the cells
/// that are already zero).
pub fn diff(
    d: &DeviceIntent,
    address: &str,
    state: &DeviceState,
    schema: &'static P4Schema,
) -> Result<Plan, ReconcileError> {
    let ids = Ids::new(schema);
    let desired = desired_entities(d, schema)?;
    let mut plan = Plan {
        device: d.name.clone(),
        address: address.to_string(),
        pipeline: None,
        inserts: Vec::new(),
        modifies: Vec::new(),
        deletes: Vec::new(),
        counter_resets: Vec::new(),
    };

    // table entries
    let mut on_device: HashMap<Vec<u8>, (usize, bool), FastHash> =
        HashMap::with_capacity_and_hasher(state.entries.len(), FastHash);
    for (i, e) in state.entries.iter().enumerate() {
        on_device.insert(entry_key(e), (i, false));
    }
    let mut sessions: HashMap<u32, (usize, bool)> =
        state.sessions.iter().enumerate().map(|(i, s)| (s.session_id, (i, false))).collect();
    // A device holding nothing (a cold push) needs no identities: all inserts.
    let device_empty = state.entries.is_empty() && state.sessions.is_empty();
    if device_empty {
        plan.inserts.reserve_exact(desired.len());
    }
    for e in desired {
        match &e.entity {
            Some(entity::Entity::TableEntry(t)) => {
                let level = ids.level(t.table_id);
                let found = if device_empty { None } else { on_device.get_mut(&entry_key(t)) };
                match found {
                    None => plan.inserts.push(Change::new(schema, table_name(schema, t.table_id), e, None, level)),
                    Some((i, seen)) => {
                        *seen = true;
                        let old = &state.entries[*i];
                        if !same_content(old, t) {
                            let was = modify_note(schema, old, t);
                            plan.modifies.push(Change::new(
                                schema,
                                table_name(schema, t.table_id),
                                e,
                                Some(was),
                                level,
                            ));
                        }
                    }
                }
            }
            _ => {
                let Some(c) = replication::as_clone_session(&e) else {
                    continue;
                };
                match sessions.get_mut(&c.session_id) {
                    None => plan.inserts.push(Change::new(schema, "clone_session", e, None, SESSION_LEVEL)),
                    Some((i, seen)) => {
                        *seen = true;
                        let old = &state.sessions[*i];
                        if session_value(old) != session_value(c) {
                            let was = Some(format!("was {}", describe::replicas(old)));
                            plan.modifies.push(Change::new(schema, "clone_session", e, was, SESSION_LEVEL));
                        }
                    }
                }
            }
        }
    }
    let mut stale: Vec<(usize, &TableEntry)> =
        on_device.values().filter(|(_, seen)| !seen).map(|&(i, _)| (i, &state.entries[i])).collect();
    stale.sort_unstable_by_key(|(i, _)| *i);
    for (_, t) in stale {
        let text = format!("{} → {}", describe::table_key(schema, t), describe::table_action(schema, t));
        plan.deletes.push(
            Change::new(
                schema,
                table_name(schema, t.table_id),
                tables::entity_of(key_only(t)),
                None,
                ids.level(t.table_id),
            )
            .with_text(text),
        );
    }
    let mut stale_sessions: Vec<usize> = sessions.values().filter(|(_, seen)| !seen).map(|&(i, _)| i).collect();
    stale_sessions.sort_unstable();
    for i in stale_sessions {
        let s = &state.sessions[i];
        let e = replication::entity_of(CloneSessionEntry { session_id: s.session_id, ..Default::default() });
        let text = format!("clone_session {} → {}", s.session_id, describe::replicas(s));
        plan.deletes.push(Change::new(schema, "clone_session", e, None, SESSION_LEVEL).with_text(text));
    }

    // default entries
    if let Some(defaults) = &state.defaults {
        let wanted = lower::default_action_entities(schema)
            .map_err(|e| ReconcileError::Lower { device: d.name.clone(), message: e.to_string() })?;
        let have: HashMap<u32, &TableEntry> = defaults.iter().map(|t| (t.table_id, t)).collect();
        for e in wanted {
            let Some(t) = table_entry(&e) else { continue };
            let Some(old) = have.get(&t.table_id) else {
                continue;
            };
            if old.action.is_none() {
                continue;
            }
            if entry_value(old) != entry_value(t) {
                let was = Some(format!("was {}", describe::table_action(schema, old)));
                let table = table_name(schema, t.table_id);
                plan.modifies.push(Change::new(schema, table, e.clone(), was, DEFAULT_LEVEL));
            }
        }
    }

    // counter reset candidates
    if let Some(rewrite) = ids.rewrite {
        let owners: HashMap<u16, Option<RewriteOwner>> = state
            .entries
            .iter()
            .filter(|e| e.table_id == rewrite)
            .filter_map(|e| Some((rewrite_member(e)?, parse_rewrite_metadata(&e.metadata))))
            .collect();
        for m in &d.members {
            let reason = match owners.get(&m.id.0) {
                None => Some(ResetReason::NewMember),
                Some(Some(o)) if o.digest == m.config_digest.to_string() && o.profile == m.profile && o.se == m.se => {
                    None
                }
                Some(_) => Some(ResetReason::ProfileChanged),
            };
            if let Some(reason) = reason {
                plan.counter_resets.push(CounterReset {
                    member: m.id.0,
                    profile: m.profile.clone(),
                    se: m.se.clone(),
                    reason,
                });
            }
        }
    }
    Ok(plan)
}

/// What a modify changes: `was <old action>` and/or `metadata <old> → <new>`.
fn modify_note(schema: &P4Schema, old: &TableEntry, new: &TableEntry) -> String {
    let mut parts = Vec::new();
    let (oa, na) = (describe::table_action(schema, old), describe::table_action(schema, new));
    if oa != na {
        parts.push(format!("was {oa}"));
    }
    if old.metadata != new.metadata {
        parts.push(format!("metadata {} → {}", short_metadata(&old.metadata), short_metadata(&new.metadata)));
    }
    if parts.is_empty() {
        parts.push("was encoded differently".into());
    }
    parts.join("; ")
}

fn short_metadata(m: &[u8]) -> String {
    if m.is_empty() {
        return "(none)".into();
    }
    if let Some(o) = parse_rewrite_metadata(m) {
        return o.digest;
    }
    let s = describe::metadata(m);
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(40).collect::<String>())
    } else {
        s
    }
}

// ---------------------------------------------------------------------------------
// push

/// A failure reported for one device: a refused update, or a device-level error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PushError {
    /// The update's position in the push, for a refused update.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// `insert` / `modify` / `delete`, for a refused update.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub op: Option<&'static str>,
    /// The entity, for a refused update.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity: Option<String>,
    /// Canonical code (`ALREADY_EXISTS`, ...) or the error kind (`UNREACHABLE`,
    /// `NOT_PRIMARY`, `TIMEOUT`, `PIPELINE`, ...).
    pub code: String,
    /// The message.
    pub message: String,
}

impl fmt::Display for PushError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.op, &self.entity) {
            (Some(op), Some(e)) => write!(f, "{op} {e}: {}: {}", self.code, self.message),
            _ => write!(f, "{}", self.message),
        }
    }
}

impl From<UpdateError> for PushError {
    fn from(e: UpdateError) -> Self {
        PushError {
            index: Some(e.index),
            op: Some(e.op),
            entity: Some(e.entity),
            code: e.code.to_string(),
            message: e.message,
        }
    }
}

impl From<&ReconcileError> for PushError {
    fn from(e: &ReconcileError) -> Self {
        let code = match e {
            ReconcileError::Client(c) | ReconcileError::Pipeline(crate::error::PipelineError::Client(c)) => {
                client_code(c)
            }
            ReconcileError::Pipeline(_) => "PIPELINE",
            ReconcileError::Lower { .. } => "LOWER",
        };
        PushError { index: None, op: None, entity: None, code: code.to_string(), message: e.to_string() }
    }
}

fn client_code(c: &ClientError) -> &'static str {
    match c {
        ClientError::Unreachable { .. } => "UNREACHABLE",
        ClientError::Timeout { .. } => "TIMEOUT",
        ClientError::NotPrimary(_) => "NOT_PRIMARY",
        ClientError::Arbitration { .. } => "ARBITRATION",
        ClientError::Disconnected { .. } => "DISCONNECTED",
        ClientError::Rpc { code, .. } => describe::code_name(*code as i32),
        ClientError::Tls { .. } => "TLS",
        ClientError::BadAddress { .. } => "BAD_ADDRESS",
        ClientError::Protocol { .. } => "PROTOCOL",
    }
}

/// What a push did on one device.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PushResult {
    /// Device name.
    pub device: String,
    /// `host:port`.
    pub address: String,
    /// Pipeline status (`None` if not reached).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<PipelineStatus>,
    /// Entities inserted.
    pub inserted: usize,
    /// Entities modified.
    pub modified: usize,
    /// Entities deleted.
    pub deleted: usize,
    /// Counter cells reset (two per member).
    pub counters_reset: usize,
    /// Refused updates and device-level failures.
    pub errors: Vec<PushError>,
}

impl PushResult {
    /// An empty result for `device`.
    pub fn new(device: impl Into<String>, address: impl Into<String>) -> PushResult {
        PushResult {
            device: device.into(),
            address: address.into(),
            pipeline: None,
            inserted: 0,
            modified: 0,
            deleted: 0,
            counters_reset: 0,
            errors: Vec::new(),
        }
    }

    /// A result that failed before writing anything.
    pub fn failed(device: &str, address: &str, e: &ReconcileError) -> PushResult {
        let mut r = PushResult::new(device, address);
        r.errors.push(e.into());
        r
    }

    /// Whether everything succeeded.
    pub fn ok(&self) -> bool {
        self.errors.is_empty()
    }

    /// Updates applied (pipeline not counted).
    pub fn writes(&self) -> usize {
        self.inserted + self.modified + self.deleted + self.counters_reset
    }
}

impl fmt::Display for PushResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): ", self.device, self.address)?;
        if self.writes() == 0 && self.errors.is_empty() && !self.pipeline.is_some_and(|p| p.installed()) {
            write!(f, "up to date, nothing written")?;
        } else {
            write!(
                f,
                "{} inserted, {} modified, {} deleted, {} counter cells reset",
                self.inserted, self.modified, self.deleted, self.counters_reset
            )?;
            if let Some(p) = self.pipeline.filter(|p| p.installed()) {
                write!(f, "; {p}")?;
            }
        }
        if !self.errors.is_empty() {
            write!(f, "; {} error{}", self.errors.len(), if self.errors.len() == 1 { "" } else { "s" })?;
            for e in &self.errors {
                write!(f, "\n  error: {e}")?;
            }
        }
        Ok(())
    }
}

/// Reconcile options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconcileOptions {
    /// Updates per Write RPC.
    pub batch_size: usize,
    /// Reset counters of changed / new members.
    pub reset_counters: bool,
    /// Write RPCs in flight at once within a phase (the updates of one phase
    /// never depend on each other).
    pub in_flight: usize,
}

impl Default for ReconcileOptions {
    fn default() -> Self {
        ReconcileOptions { batch_size: DEFAULT_BATCH_SIZE, reset_counters: true, in_flight: write::DEFAULT_IN_FLIGHT }
    }
}

/// Reads, plans and applies for one device over one [`Client`].
#[derive(Debug)]
pub struct Reconciler {
    client: Client,
    device: String,
    schema: &'static P4Schema,
    opts: ReconcileOptions,
}

impl Reconciler {
    /// A reconciler for device `device` (its name in the config), with the
    /// program's schema.
    pub fn new(client: Client, device: impl Into<String>) -> Result<Reconciler, ReconcileError> {
        let device = device.into();
        let schema = lower::program_schema()
            .map_err(|e| ReconcileError::Lower { device: device.clone(), message: e.to_string() })?;
        Ok(Reconciler { client, device, schema, opts: ReconcileOptions::default() })
    }

    /// Sets the options.
    pub fn with_options(mut self, opts: ReconcileOptions) -> Reconciler {
        self.opts = opts;
        self
    }

    /// The client.
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    /// The options, to change between calls.
    pub fn options_mut(&mut self) -> &mut ReconcileOptions {
        &mut self.opts
    }

    /// Gives the client back.
    pub fn into_client(self) -> Client {
        self.client
    }

    /// Device name.
    pub fn device(&self) -> &str {
        &self.device
    }

    /// The schema in use.
    pub fn schema(&self) -> &'static P4Schema {
        self.schema
    }

    /// Reads what the program owns on the device (see the module docs).
    pub async fn read_state(&mut self) -> Result<DeviceState, ReconcileError> {
        read_state(&mut self.client, self.schema).await.map_err(Into::into)
    }

    /// The allocation recorded on the device, as compile hints.
    pub fn allocation(&self, state: &DeviceState) -> Allocation {
        allocation(&self.device, state, self.schema)
    }

    /// [`diff`], then reads the counter cells of the reset candidates and keeps
    /// only members with a non-zero cell (if the read fails, all candidates stay).
    pub async fn plan(&mut self, intent: &DeviceIntent, state: &DeviceState) -> Result<Plan, ReconcileError> {
        let mut plan = diff(intent, self.client.address(), state, self.schema)?;
        if !self.opts.reset_counters {
            plan.counter_resets.clear();
        } else if !plan.counter_resets.is_empty() {
            let ids = Ids::new(self.schema);
            let mut want = Vec::with_capacity(plan.counter_resets.len() * 2);
            for r in &plan.counter_resets {
                for c in [ids.requested, ids.emitted].into_iter().flatten() {
                    want.push((c, i64::from(r.member)));
                }
            }
            if let Ok(cells) = counters::read_cells(&mut self.client, &want).await {
                let nonzero: HashSet<i64> =
                    cells.iter().filter(|(_, _, v)| v.packets != 0 || v.bytes != 0).map(|&(_, i, _)| i).collect();
                plan.counter_resets.retain(|r| nonzero.contains(&i64::from(r.member)));
            }
        }
        Ok(plan)
    }

    /// Applies `plan` in dependency order, in batches; `progress(done, total)`
    /// after every batch. Refused updates are collected and the push goes on; a
    /// device-level failure stops it and is reported in the result.
    pub async fn apply(&mut self, plan: &Plan, progress: &mut (dyn FnMut(usize, usize) + Send)) -> PushResult {
        let ids = Ids::new(self.schema);
        let mut result = PushResult::new(&plan.device, &plan.address);
        result.pipeline = plan.pipeline;
        let phases = plan.phases((ids.requested, ids.emitted));
        let total: usize = phases.iter().map(write::UpdateList::len).sum();
        let mut offset = 0;
        for phase in phases {
            let n = write::UpdateList::len(&phase);
            let op = match &phase {
                Phase::Changes { op, .. } => Some(*op),
                Phase::Resets { .. } => None,
            };
            let base = offset;
            let describe = |i: usize| phase.name(i);
            let mut cb = |done: usize, _: usize| progress(base + done, total);
            let r = write::write_batched(
                &mut self.client,
                &phase,
                self.opts.batch_size,
                self.opts.in_flight,
                &describe,
                &mut cb,
            )
            .await;
            let (report, fatal) = match r {
                Ok(rep) => (rep, None),
                Err((rep, e)) => (rep, Some(e)),
            };
            match op {
                None => result.counters_reset += report.applied,
                Some(Op::Insert) => result.inserted += report.applied,
                Some(Op::Modify) => result.modified += report.applied,
                Some(Op::Delete) => result.deleted += report.applied,
            }
            for mut e in report.errors {
                e.index += base;
                result.errors.push(e.into());
            }
            if let Some(e) = fatal {
                result.errors.push((&ReconcileError::Client(e)).into());
                return result;
            }
            offset += n;
        }
        result
    }
}

/// Reads what the program owns on a device (see the module docs).
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
    use p4clone_proto::p4::v1::{Action, FieldMatch, TableAction};

    fn exact(field_id: u32, value: Vec<u8>) -> FieldMatch {
        FieldMatch {
            field_id,
            field_match_type: Some(field_match::FieldMatchType::Exact(field_match::Exact { value: value.into() })),
        }
    }

    fn ternary(field_id: u32, value: Vec<u8>, mask: Vec<u8>) -> FieldMatch {
        FieldMatch {
            field_id,
            field_match_type: Some(field_match::FieldMatchType::Ternary(field_match::Ternary {
                value: value.into(),
                mask: mask.into(),
            })),
        }
    }

    fn entry(m: Vec<FieldMatch>, params: Vec<Vec<u8>>, metadata: &[u8]) -> TableEntry {
        TableEntry {
            table_id: 7,
            r#match: m,
            priority: 10,
            action: Some(TableAction {
                r#type: Some(table_action::Type::Action(Action {
                    action_id: 3,
                    params: params
                        .into_iter()
                        .enumerate()
                        .map(|(i, value)| action::Param { param_id: i as u32 + 1, value: value.into() })
                        .collect(),
                })),
            }),
            metadata: metadata.to_vec().into(),
            ..Default::default()
        }
    }

    #[test]
    fn identity_ignores_padding_field_order_and_zero_masks() {
        let a = entry(vec![exact(1, vec![1]), ternary(2, vec![10, 0, 0, 0], vec![255, 0, 0, 0])], vec![vec![5]], b"m");
        let b = entry(
            vec![
                ternary(3, vec![0], vec![0]),
                ternary(2, vec![10, 0, 0, 0], vec![255, 0, 0, 0]),
                exact(1, vec![0, 0, 1]),
            ],
            vec![vec![0, 5]],
            b"m",
        );
        assert_eq!(entry_key(&a), entry_key(&b));
        assert_eq!(entry_value(&a), entry_value(&b));
        let mut c = b.clone();
        c.priority = 11;
        assert_ne!(entry_key(&a), entry_key(&c));
        let d = entry(vec![exact(1, vec![1])], vec![vec![5]], b"other");
        assert_ne!(entry_value(&a), entry_value(&d), "metadata is content");
        assert!(same_content(&a, &b));
        assert!(!same_content(&a, &d));
        let e = entry(vec![exact(1, vec![1])], vec![vec![6]], b"m");
        assert!(!same_content(&a, &e), "parameter values are content");
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

    #[test]
    fn phases_delete_dependents_first_and_insert_dependencies_first() {
        let schema = lower::program_schema().unwrap();
        let ch = |level: u8, name: &str| {
            Change::new(schema, name.to_string(), Entity::default(), None, level).with_text(name.to_string())
        };
        let plan = Plan {
            device: "d".into(),
            address: "a".into(),
            pipeline: None,
            inserts: vec![
                ch(4, "ins-classify"),
                ch(2, "ins-rewrite"),
                ch(SESSION_LEVEL, "ins-session"),
                ch(0, "ins-wire"),
            ],
            modifies: vec![ch(4, "mod-classify"), ch(SESSION_LEVEL, "mod-session")],
            deletes: vec![
                ch(0, "del-wire"),
                ch(SESSION_LEVEL, "del-session"),
                ch(2, "del-rewrite"),
                ch(4, "del-classify"),
            ],
            counter_resets: vec![CounterReset {
                member: 5,
                profile: "p".into(),
                se: "s".into(),
                reason: ResetReason::NewMember,
            }],
        };
        let order: Vec<String> = plan
            .phases((Some(1), Some(2)))
            .into_iter()
            .flat_map(|p| (0..write::UpdateList::len(&p)).map(move |i| p.name(i)).collect::<Vec<_>>())
            .collect();
        assert_eq!(
            order,
            [
                "del-classify",
                "del-rewrite",
                "del-session",
                "del-wire",
                "ins-wire",
                "mod-session",
                "ins-session",
                "ins-rewrite",
                "mod-classify",
                "ins-classify",
                "clones_requested[5]",
                "clones_emitted[5]"
            ]
        );
        assert_eq!(plan.write_count(), 4 + 2 + 4 + 2);
    }
}
