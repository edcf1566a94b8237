//! P4Runtime entities <-> pipeline operations, through the P4Info.
//!
//! The software target runs one fixed program, `p4src/traffic_clone.p4`, whose
//! P4Info ([`PROGRAM_P4INFO_TEXT`]) is embedded. [`Program`] indexes it with a
//! [`P4Schema`] and binds every table, action, counter and register the contract
//! (`docs/dataplane.md`) names to its pipeline counterpart, by **name**; ids, widths
//! and match kinds then come from the P4Info (and are checked against the contract
//! once, when the program is built).
//!
//! Validation follows the P4Runtime spec (v1.4, "P4 Entity Messages"); every
//! rejection is a [`Failure`] (canonical code + message) that the server reports as
//! the update's `p4.v1.Error`:
//!
//! | what | code |
//! |---|---|
//! | unknown table / action / field / parameter / counter / register id, action not in the table | INVALID_ARGUMENT |
//! | value wider than its bitwidth, empty or (strict mode) non-canonical bytestring | INVALID_ARGUMENT |
//! | ternary value bits outside the mask, all-zero mask, wrong match kind, duplicate or missing exact field | INVALID_ARGUMENT |
//! | zero priority on a ternary table, priority on an exact-only table | INVALID_ARGUMENT |
//! | INSERT/DELETE of a default entry, counter/register INSERT/DELETE | INVALID_ARGUMENT |
//! | clone session id 0 or > 32767, replica port ≥ 512, instance ≥ 2^16, class_of_service ≠ 0 | INVALID_ARGUMENT |
//! | counter / register index negative | INVALID_ARGUMENT |
//! | counter / register index ≥ size | OUT_OF_RANGE |
//! | multicast groups, action profiles, extern entries, backup replicas, deprecated `controller_metadata` | UNIMPLEMENTED |
//! | entry exists (INSERT) / missing (MODIFY, DELETE, direct counter) | ALREADY_EXISTS / NOT_FOUND |
//! | no such meter / value set / digest (the program has none) | INVALID_ARGUMENT |
//! | table full; a read batch selecting more than 2,000,000 entities | RESOURCE_EXHAUSTED |
//!
//! Modules, one per entity kind: `tables` (TableEntry), `replication` (clone
//! sessions), `counters` (CounterEntry, DirectCounterEntry), `registers`
//! (RegisterEntry).

mod counters;
mod registers;
mod replication;
mod tables;

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use p4clone_pipeline::{Pipeline, TableError, TableOp};
use p4clone_proto::bytestring;
use p4clone_proto::p4::config::v1::P4Info;
use p4clone_proto::p4::v1::{self as p4, entity::Entity as E, update::Type as UpdateType};
use p4clone_proto::schema::P4Schema;
use p4clone_proto::status;

pub(crate) use tables::TableDef;

/// The program's P4Info (`p4src/traffic_clone.p4info.txtpb`), in protobuf text format.
pub use p4clone_proto::program::P4INFO_TEXT as PROGRAM_P4INFO_TEXT;

static PROGRAM: LazyLock<Program> = LazyLock::new(|| {
    let p4info = p4clone_proto::program::p4info().expect("the embedded P4Info parses").clone();
    Program::new(p4info).expect("the embedded P4Info matches docs/dataplane.md")
});

/// The software target's program: the embedded P4Info, bound to the pipeline.
pub fn program() -> &'static Program {
    &PROGRAM
}

/// The software target's P4Info (what `SetForwardingPipelineConfig` must be given).
pub fn program_p4info() -> P4Info {
    program().p4info().clone()
}

/// Why an update or read request was refused: a canonical gRPC code and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Canonical code (`google.rpc.Code`).
    pub code: tonic::Code,
    /// What was wrong, naming the object.
    pub message: String,
}

impl Failure {
    /// A failure with `code`.
    pub fn new(code: tonic::Code, message: impl Into<String>) -> Self {
        Failure { code, message: message.into() }
    }
    /// INVALID_ARGUMENT.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(tonic::Code::InvalidArgument, message)
    }
    /// NOT_FOUND.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(tonic::Code::NotFound, message)
    }
    /// UNIMPLEMENTED.
    pub fn unimplemented(message: impl Into<String>) -> Self {
        Self::new(tonic::Code::Unimplemented, message)
    }
    /// OUT_OF_RANGE.
    pub fn out_of_range(message: impl Into<String>) -> Self {
        Self::new(tonic::Code::OutOfRange, message)
    }
    /// The per-update / per-request `p4.v1.Error`.
    pub fn to_p4_error(&self) -> p4::Error {
        status::error(self.code, self.message.clone())
    }
}

impl From<TableError> for Failure {
    fn from(e: TableError) -> Self {
        let code = match &e {
            TableError::AlreadyExists { .. } => tonic::Code::AlreadyExists,
            TableError::NotFound { .. } => tonic::Code::NotFound,
            TableError::TableFull { .. } => tonic::Code::ResourceExhausted,
            TableError::OutOfRange { table: p4clone_pipeline::TableId::State, .. } => tonic::Code::OutOfRange,
            _ => tonic::Code::InvalidArgument,
        };
        Failure::new(code, e.to_string())
    }
}

/// How bytestrings are checked (P4Runtime spec §8.4 "Bytestrings").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parse {
    /// Refuse non-canonical bytestrings (leading zero bytes) with INVALID_ARGUMENT.
    /// The spec (and BMv2) accept any string whose value fits; p4clone's default is
    /// strict, so a client that would break read-write symmetry is told at once.
    pub canonical_only: bool,
}

impl Default for Parse {
    fn default() -> Self {
        Parse { canonical_only: true }
    }
}

impl Parse {
    /// An unsigned value of `bitwidth` bits from a bytestring.
    pub(crate) fn uint(&self, bytes: &[u8], bitwidth: u32, what: &dyn Fn() -> String) -> Result<u128, Failure> {
        if bytes.is_empty() {
            return Err(Failure::invalid(format!("{}: empty bytestring (the value 0 is one zero byte)", what())));
        }
        if self.canonical_only && !bytestring::is_canonical(bytes) {
            return Err(Failure::invalid(format!(
                "{}: bytestring {} is not canonical (leading zero bytes; send the shortest encoding)",
                what(),
                hex(bytes)
            )));
        }
        if !bytestring::fits(bytes, bitwidth) {
            return Err(Failure::invalid(format!(
                "{}: value {} does not fit in {} bits",
                what(),
                hex(bytes),
                bitwidth
            )));
        }
        bytestring::decode(bytes).map_err(|e| Failure::invalid(format!("{}: {e}", what())))
    }
}

/// `0x0a0b` rendering of a bytestring, for messages (long ones abbreviated).
pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut s = String::from("0x");
    for b in bytes.iter().take(20) {
        s.push_str(&format!("{b:02x}"));
    }
    if bytes.len() > 20 {
        s.push_str("...");
    }
    s
}

/// Server-side state that the pipeline does not keep but P4Runtime reads back.
#[derive(Debug, Default, Clone)]
pub struct SideState {
    /// `metadata` of modified default entries, by table id.
    pub(crate) default_metadata: HashMap<u32, Vec<u8>>,
    /// Clone sessions whose replicas were written with the `port` bytes form
    /// (the others are read back with the deprecated `egress_port`).
    pub(crate) session_port_bytes: HashSet<u16>,
}

/// A change to [`SideState`] made when its update succeeds.
#[derive(Debug, Clone)]
pub(crate) enum SideEffect {
    DefaultMetadata(u32, Vec<u8>),
    SessionPortForm(u16, bool),
    SessionRemoved(u16),
}

impl SideState {
    pub(crate) fn apply(&mut self, e: SideEffect) {
        match e {
            SideEffect::DefaultMetadata(t, m) => {
                if m.is_empty() {
                    self.default_metadata.remove(&t);
                } else {
                    self.default_metadata.insert(t, m);
                }
            }
            SideEffect::SessionPortForm(s, bytes) => {
                if bytes {
                    self.session_port_bytes.insert(s);
                } else {
                    self.session_port_bytes.remove(&s);
                }
            }
            SideEffect::SessionRemoved(s) => {
                self.session_port_bytes.remove(&s);
            }
        }
    }
}

/// What one update does: pipeline operations (applied in order, in the Write's
/// batch; the first failure fails the update), then a wildcard fill, and
/// side-state changes kept when the update succeeds.
#[derive(Debug, Default)]
pub(crate) struct Planned {
    pub ops: Vec<TableOp>,
    /// A write of every cell of an array, expanded only while it is applied (a
    /// batch of many wildcard writes must not hold 32768 operations per update).
    pub fill: Option<Fill>,
    pub side: Vec<SideEffect>,
}

impl Planned {
    fn ops(ops: Vec<TableOp>) -> Self {
        Planned { ops, ..Default::default() }
    }

    fn fill(fill: Fill) -> Self {
        Planned { fill: Some(fill), ..Default::default() }
    }

    /// Every operation, the fill expanded lazily.
    pub fn into_ops(self) -> impl Iterator<Item = TableOp> {
        self.ops.into_iter().chain(self.fill.into_iter().flat_map(Fill::ops))
    }
}

/// The same value written to cells `0..cells` of a counter or register.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Fill {
    Counter { counter: p4clone_pipeline::Counter, value: p4clone_pipeline::CounterValue, cells: u32 },
    RrCursor { value: u16, cells: u32 },
}

impl Fill {
    fn ops(self) -> impl Iterator<Item = TableOp> {
        let cells = match self {
            Fill::Counter { cells, .. } | Fill::RrCursor { cells, .. } => cells,
        };
        (0..cells).map(move |index| match self {
            Fill::Counter { counter, value, .. } => TableOp::WriteCounter { counter, index, value },
            Fill::RrCursor { value, .. } => TableOp::WriteRrCursor { index, value },
        })
    }
}

/// Bounds what one ReadRequest may gather, so that a batch repeating wildcard
/// requests cannot exhaust memory. The whole program (every table full, every
/// counter, register and session) is about 0.7 million entities.
#[derive(Debug)]
pub(crate) struct Budget(usize);

impl Budget {
    /// Most entities per ReadRequest.
    pub const ENTITIES: usize = 2_000_000;

    pub fn new() -> Self {
        Budget(Self::ENTITIES)
    }

    /// Reserves `n` entities, or fails with RESOURCE_EXHAUSTED.
    pub fn spend(&mut self, n: usize) -> Result<(), Failure> {
        if n > self.0 {
            return Err(Failure::new(
                tonic::Code::ResourceExhausted,
                format!("the read batch selects more than {} entities: split it", Self::ENTITIES),
            ));
        }
        self.0 -= n;
        Ok(())
    }
}

/// Entities read for one request, converted lazily (a wildcard read of a large
/// table is streamed in chunks, not materialised as protobuf at once).
pub(crate) type EntityIter = Box<dyn Iterator<Item = p4::Entity> + Send>;

pub(crate) fn entity(e: E) -> p4::Entity {
    p4::Entity { entity: Some(e) }
}

/// The program: its P4Info, schema and the bindings of its objects.
#[derive(Debug)]
pub struct Program {
    schema: P4Schema,
    tables: Vec<TableDef>,
    counters: Vec<counters::CounterDef>,
    registers: Vec<registers::RegisterDef>,
}

impl Program {
    /// Binds a P4Info to the pipeline. Fails (naming the object) when the P4Info
    /// does not describe the contract of `docs/dataplane.md`.
    pub fn new(p4info: P4Info) -> Result<Self, String> {
        let schema = P4Schema::new(p4info).map_err(|e| e.to_string())?;
        let tables = tables::bind(&schema)?;
        let counters = counters::bind(&schema)?;
        let registers = registers::bind(&schema)?;
        Ok(Program { schema, tables, counters, registers })
    }

    /// The indexed P4Info.
    pub fn schema(&self) -> &P4Schema {
        &self.schema
    }

    /// The P4Info.
    pub fn p4info(&self) -> &P4Info {
        self.schema.p4info()
    }

    pub(crate) fn tables(&self) -> &[TableDef] {
        &self.tables
    }

    pub(crate) fn table(&self, id: u32) -> Result<&TableDef, Failure> {
        self.tables
            .iter()
            .find(|t| t.info.id == id)
            .ok_or_else(|| Failure::invalid(format!("no table with id {id:#010x} in the P4Info")))
    }

    /// Validates and translates one Write update.
    pub(crate) fn plan_update(
        &'static self,
        update: &p4::Update,
        pipeline: &Pipeline,
        parse: Parse,
    ) -> Result<Planned, Failure> {
        let ty = match UpdateType::try_from(update.r#type) {
            Ok(UpdateType::Insert) => UpdateType::Insert,
            Ok(UpdateType::Modify) => UpdateType::Modify,
            Ok(UpdateType::Delete) => UpdateType::Delete,
            _ => {
                return Err(Failure::invalid(format!("update type {} is not INSERT, MODIFY or DELETE", update.r#type)))
            }
        };
        let Some(e) = update.entity.as_ref().and_then(|e| e.entity.as_ref()) else {
            return Err(Failure::invalid("the update has no entity"));
        };
        match e {
            E::TableEntry(te) => tables::plan_write(self, ty, te, pipeline, parse),
            E::PacketReplicationEngineEntry(pre) => replication::plan_write(ty, pre, parse),
            E::CounterEntry(ce) => counters::plan_counter_write(self, ty, ce),
            E::DirectCounterEntry(dce) => counters::plan_direct_write(self, ty, dce, pipeline, parse),
            E::RegisterEntry(re) => registers::plan_write(self, ty, re, parse),
            other => Err(unsupported(other)),
        }
    }

    /// Validates one Read request and gathers what it selects.
    pub(crate) fn read(
        &'static self,
        e: &p4::Entity,
        pipeline: &Pipeline,
        side: &SideState,
        parse: Parse,
        budget: &mut Budget,
    ) -> Result<EntityIter, Failure> {
        let Some(e) = e.entity.as_ref() else {
            return Err(Failure::invalid("an entity in a ReadRequest must have its oneof set"));
        };
        match e {
            E::TableEntry(te) => tables::read(self, te, pipeline, side, parse, budget),
            E::PacketReplicationEngineEntry(pre) => replication::read(pre, pipeline, side, budget),
            E::CounterEntry(ce) => counters::read_counters(self, ce, pipeline, budget),
            E::DirectCounterEntry(dce) => counters::read_direct(self, dce, pipeline, parse, budget),
            E::RegisterEntry(re) => registers::read(self, re, pipeline, budget),
            // Wildcard reads of kinds the program has no object of: nothing.
            E::MeterEntry(m) if m.meter_id == 0 => Ok(Box::new(std::iter::empty())),
            E::DigestEntry(d) if d.digest_id == 0 => Ok(Box::new(std::iter::empty())),
            E::ValueSetEntry(v) if v.value_set_id == 0 => Ok(Box::new(std::iter::empty())),
            E::ExternEntry(x) if x.extern_type_id == 0 => Ok(Box::new(std::iter::empty())),
            E::ActionProfileMember(m) if m.action_profile_id == 0 => Ok(Box::new(std::iter::empty())),
            E::ActionProfileGroup(g) if g.action_profile_id == 0 => Ok(Box::new(std::iter::empty())),
            other => Err(unsupported(other)),
        }
    }

    /// Operations that bring the forwarding state back to the program's initial
    /// state: every entry and clone session deleted, default actions reset,
    /// indirect counters, diagnostics and registers zeroed.
    pub(crate) fn reset_ops(&self, pipeline: &Pipeline) -> Vec<TableOp> {
        let mut ops = Vec::new();
        for t in &self.tables {
            tables::reset_ops(t, pipeline, &mut ops);
        }
        replication::reset_ops(pipeline, &mut ops);
        counters::reset_ops(&mut ops);
        registers::reset_ops(&self.registers, &mut ops);
        ops
    }
}

/// Entities of kinds the program has no object of.
fn unsupported(e: &E) -> Failure {
    match e {
        E::ActionProfileMember(_) | E::ActionProfileGroup(_) => {
            Failure::unimplemented("action profiles are not supported (the program declares none)")
        }
        E::ExternEntry(_) => Failure::unimplemented("extern entries are not supported (the program declares none)"),
        E::MeterEntry(m) => {
            Failure::invalid(format!("no meter with id {:#010x} in the P4Info (the program has no meters)", m.meter_id))
        }
        E::DirectMeterEntry(_) => Failure::invalid("the program has no direct meters (DirectMeterEntry)"),
        E::ValueSetEntry(v) => Failure::invalid(format!(
            "no value set with id {:#010x} in the P4Info (the program has none)",
            v.value_set_id
        )),
        E::DigestEntry(d) => {
            Failure::invalid(format!("no digest with id {:#010x} in the P4Info (the program has none)", d.digest_id))
        }
        _ => Failure::invalid("unsupported entity"),
    }
}

/// An `Index` from P4Runtime: `None` = all cells; negative → INVALID_ARGUMENT;
/// ≥ `size` → OUT_OF_RANGE.
pub(crate) fn check_index(index: Option<&p4::Index>, size: usize, what: &str) -> Result<Option<u32>, Failure> {
    let Some(i) = index else {
        return Ok(None);
    };
    if i.index < 0 {
        return Err(Failure::invalid(format!("{what}: index {} is negative", i.index)));
    }
    if i.index as u64 >= size as u64 {
        return Err(Failure::out_of_range(format!("{what}: index {} is out of range (size {size})", i.index)));
    }
    Ok(Some(i.index as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_program_binds() {
        let p = program();
        assert_eq!(p.tables().len(), 8);
        assert_eq!(p.counters.len(), 2);
        assert_eq!(p.registers.len(), 1);
        assert_eq!(p.table(0x0200_0004).unwrap().info.name, "clone_rewrite");
        assert_eq!(p.table(7).unwrap_err().code, tonic::Code::InvalidArgument);
    }

    #[test]
    fn the_read_budget_refuses_oversized_batches() {
        let mut b = Budget::new();
        b.spend(Budget::ENTITIES - 10).unwrap();
        b.spend(10).unwrap();
        assert_eq!(b.spend(1).unwrap_err().code, tonic::Code::ResourceExhausted);
    }

    #[test]
    fn wildcard_fills_expand_lazily() {
        let fill = Fill::RrCursor { value: 3, cells: 5 };
        let planned =
            Planned { ops: vec![TableOp::WriteRrCursor { index: 9, value: 1 }], fill: Some(fill), side: vec![] };
        let ops: Vec<TableOp> = planned.into_ops().collect();
        assert_eq!(ops.len(), 6);
        assert_eq!(ops[5], TableOp::WriteRrCursor { index: 4, value: 3 });
    }

    #[test]
    fn strict_and_lenient_bytestrings() {
        let what = || "x".to_string();
        let strict = Parse::default();
        let lenient = Parse { canonical_only: false };
        assert_eq!(strict.uint(&[1, 0], 16, &what).unwrap(), 256);
        assert!(strict.uint(&[0, 1], 16, &what).is_err());
        assert_eq!(lenient.uint(&[0, 1], 16, &what).unwrap(), 1);
        assert!(lenient.uint(&[2, 0], 9, &what).is_err());
        assert!(lenient.uint(&[], 9, &what).is_err());
        assert_eq!(strict.uint(&[0], 9, &what).unwrap(), 0);
    }
}
