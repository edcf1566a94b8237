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
//! | Tofino mode (Stratum's rules, `replication`): session id 0 or > 1015, `packet_length_bytes` > 65535, not exactly one replica, replica `egress_port` 0 (or given as `port` bytes), instance ≠ 0, class_of_service ≥ 8 | INVALID_ARGUMENT |
//! | counter / register index negative | INVALID_ARGUMENT |
//! | counter / register index ≥ size | OUT_OF_RANGE |
//! | multicast groups, action profiles, extern entries, backup replicas, deprecated `controller_metadata` | UNIMPLEMENTED |
//! | entry exists (INSERT) / missing (MODIFY, DELETE, direct counter) | ALREADY_EXISTS / NOT_FOUND |
//! | no such meter / value set / digest (the program has none) | INVALID_ARGUMENT |
//! | table full; a read batch selecting more than 2,000,000 entities | RESOURCE_EXHAUSTED |
//!
//! Modules, one per entity kind: `tables` (TableEntry), `replication` (clone
//! sessions), `counters` (CounterEntry, DirectCounterEntry), `registers`
//! (RegisterEntry); `update` holds what they share (refusals, bytestring checks,
//! planned operations, read budget). The entity modules take the definitions
//! they need, never the [`Program`], so no module imports this one back.

mod counters;
mod registers;
mod replication;
mod tables;
mod update;

use std::sync::LazyLock;

use p4clone_pipeline::{Pipeline, TableOp};
use p4clone_proto::p4::config::v1::P4Info;
use p4clone_proto::p4::v1::{self as p4, entity::Entity as E, update::Type as UpdateType};
use p4clone_proto::schema::P4Schema;

pub use replication::SessionRules;
pub(crate) use tables::TableDef;
pub(crate) use update::{Budget, EntityIter, Planned};
pub use update::{Failure, Parse, SideState};

/// The program's P4Info (`p4src/traffic_clone.p4info.txtpb`), in protobuf text format.
pub use p4clone_proto::program::P4INFO_TEXT as PROGRAM_P4INFO_TEXT;

static PROGRAM: LazyLock<Program> = LazyLock::new(|| {
    let p4info = p4clone_proto::program::p4info().expect("the embedded P4Info parses").clone();
    Program::new(p4info).expect("the embedded P4Info matches docs/dataplane.md")
});

static TNA_PROGRAM: LazyLock<Program> = LazyLock::new(|| {
    let p4info = p4clone_proto::program_tna::p4info().expect("the embedded TNA P4Info parses").clone();
    Program::bind(p4info, SessionRules::Stratum, p4clone_proto::program_tna::build::SOURCE)
        .expect("the embedded TNA P4Info matches docs/dataplane.md")
});

/// The software target's program: the embedded P4Info, bound to the pipeline.
pub fn program() -> &'static Program {
    &PROGRAM
}

/// The TNA program (`p4src/traffic_clone_tna.p4`) bound to the same pipeline,
/// with Stratum's clone-session rules: what the software target runs in Tofino
/// mode. Its objects are the v1model program's, less the classify direct counters.
pub fn tna_program() -> &'static Program {
    &TNA_PROGRAM
}

/// The software target's P4Info (what `SetForwardingPipelineConfig` must be given).
pub fn program_p4info() -> P4Info {
    program().p4info().clone()
}

/// The program: its P4Info, schema and the bindings of its objects.
#[derive(Debug)]
pub struct Program {
    schema: P4Schema,
    tables: Vec<TableDef>,
    counters: Vec<counters::CounterDef>,
    registers: Vec<registers::RegisterDef>,
    sessions: SessionRules,
    source: &'static str,
}

impl Program {
    /// Binds a P4Info to the pipeline. Fails (naming the object) when the P4Info
    /// does not describe the contract of `docs/dataplane.md`.
    pub fn new(p4info: P4Info) -> Result<Self, String> {
        Self::bind(p4info, SessionRules::Bmv2, p4clone_proto::program::build::SOURCE)
    }

    /// Binds a P4Info of the program in `source` (relative to `p4src/`) whose clone
    /// sessions follow `sessions`. Under Stratum's rules (the TNA program) a
    /// table's direct counter, and the encapsulation objects (`clone_encap`,
    /// `truncated_mtu`, `erspan_seq`), may be absent.
    pub fn bind(p4info: P4Info, sessions: SessionRules, source: &'static str) -> Result<Self, String> {
        let schema = P4Schema::new(p4info).map_err(|e| e.to_string())?;
        // The TNA program (Stratum's rules) has no encapsulation yet: its objects may be absent.
        let tna = sessions == SessionRules::Stratum;
        let tables = tables::bind(&schema, tna)?;
        let counters = counters::bind(&schema, tna)?;
        let registers = registers::bind(&schema, tna)?;
        Ok(Program { schema, tables, counters, registers, sessions, source })
    }

    /// Whose clone-session rules Writes follow.
    pub fn session_rules(&self) -> SessionRules {
        self.sessions
    }

    /// The P4 source the program is, relative to `p4src/` (for messages).
    pub fn source(&self) -> &'static str {
        self.source
    }

    /// The indexed P4Info.
    pub fn schema(&self) -> &P4Schema {
        &self.schema
    }

    /// The P4Info.
    pub fn p4info(&self) -> &P4Info {
        self.schema.p4info()
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
            E::TableEntry(te) => tables::plan_write(&self.tables, ty, te, pipeline, parse),
            E::PacketReplicationEngineEntry(pre) => replication::plan_write(ty, pre, parse, self.sessions),
            E::CounterEntry(ce) => counters::plan_counter_write(&self.counters, ty, ce),
            E::DirectCounterEntry(dce) => counters::plan_direct_write(&self.tables, ty, dce, pipeline, parse),
            E::RegisterEntry(re) => registers::plan_write(&self.registers, ty, re, parse),
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
            E::TableEntry(te) => tables::read(&self.tables, te, pipeline, side, parse, budget),
            E::PacketReplicationEngineEntry(pre) => replication::read(pre, pipeline, side, budget, self.sessions),
            E::CounterEntry(ce) => counters::read_counters(&self.counters, ce, pipeline, budget),
            E::DirectCounterEntry(dce) => counters::read_direct(&self.tables, dce, pipeline, parse, budget),
            E::RegisterEntry(re) => registers::read(&self.registers, re, pipeline, budget),
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

#[cfg(test)]
mod tests {
    use super::update::Fill;
    use super::*;

    #[test]
    fn embedded_program_binds() {
        let p = program();
        assert_eq!(p.tables.len(), 9);
        assert_eq!(p.counters.len(), 5);
        assert_eq!(p.registers.len(), 3);
        assert_eq!(
            tables::find(&p.tables, 0x0200_0004).unwrap().info.name,
            p4clone_proto::program::tables::CLONE_REWRITE.name
        );
        assert_eq!(tables::find(&p.tables, 7).unwrap_err().code, tonic::Code::InvalidArgument);
    }

    #[test]
    fn the_tna_program_binds_with_stratum_rules() {
        let p = tna_program();
        assert_eq!(p.tables.len(), 8);
        assert_eq!(p.counters.len(), 2);
        assert_eq!(p.registers.len(), 1);
        assert_eq!(p.session_rules(), SessionRules::Stratum);
        assert_eq!(program().session_rules(), SessionRules::Bmv2);
        assert!(p.schema().direct_counters().is_empty());
        assert!(p.tables.iter().all(|t| t.info.name != p4clone_proto::program::tables::CLONE_ENCAP.name));
    }

    #[test]
    fn only_the_tna_program_may_lack_clone_encap() {
        let mut p4info = program_p4info();
        p4info.tables.retain(|t| t.preamble.as_ref().is_none_or(|p| p.name != "clone_encap"));
        let e = Program::new(p4info.clone()).unwrap_err();
        assert!(e.contains("no table `clone_encap`"), "{e}");
        let p = Program::bind(p4info, SessionRules::Stratum, p4clone_proto::program_tna::build::SOURCE).unwrap();
        assert_eq!(p.tables.len(), 8);
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
        let fill = Fill::Register { reg: registers::Reg::RrCursor, value: 3, cells: 5 };
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
