//! `CounterEntry` (indexed counters `clones_requested`, `clones_emitted`, `truncated_mtu`,
//! `skipped_by_filter`, `not_sampled`) and
//! `DirectCounterEntry` (`classify_v4_hits`, `classify_v6_hits`).
//!
//! Writes are MODIFY only (INSERT/DELETE → INVALID_ARGUMENT). An unset `index`
//! writes or reads every cell; an unset `data` leaves the value alone. A negative
//! index is INVALID_ARGUMENT, one past the size OUT_OF_RANGE (spec "CounterEntry").

use p4clone_pipeline::{Counter, Pipeline, TableOp, COUNTER_SIZE};
use p4clone_proto::p4::v1::{self as p4, entity::Entity as E, update::Type as UpdateType};
use p4clone_proto::program::counters;
use p4clone_proto::schema::{CounterInfo, P4Schema};

use super::tables::{self, TableDef};
use super::update::{check_index, entity, Budget, EntityIter, Failure, Fill, Parse, Planned};

/// An indexed counter bound to the pipeline's.
#[derive(Debug)]
pub(crate) struct CounterDef {
    pub info: CounterInfo,
    pub counter: Counter,
    /// Cells addressable through P4Runtime.
    pub size: usize,
}

/// The contract's indexed counters, by name.
const COUNTERS: &[(&str, Counter)] = &[
    (counters::CLONES_REQUESTED.name, Counter::ClonesRequested),
    (counters::CLONES_EMITTED.name, Counter::ClonesEmitted),
    (counters::TRUNCATED_MTU.name, Counter::TruncatedMtu),
    (counters::SKIPPED_BY_FILTER.name, Counter::SkippedByFilter),
    (counters::NOT_SAMPLED.name, Counter::NotSampled),
];

/// Counters a TNA P4Info may leave out (its program has no encapsulation, filters
/// or sampling yet; the pipeline's counters stay 0).
const ABSENT_FROM_TNA: [Counter; 3] = [Counter::TruncatedMtu, Counter::SkippedByFilter, Counter::NotSampled];

/// Binds every P4Info counter to the pipeline's; with `tna`, those of
/// [`ABSENT_FROM_TNA`] may be absent.
pub(crate) fn bind(schema: &P4Schema, tna: bool) -> Result<Vec<CounterDef>, String> {
    let mut out = Vec::new();
    for c in schema.counters() {
        let Some(&(_, counter)) = COUNTERS.iter().find(|(n, _)| *n == c.name) else {
            return Err(format!("counter `{}` is not in the data-plane contract", c.name));
        };
        let size = usize::try_from(c.size).unwrap_or(0).min(COUNTER_SIZE);
        out.push(CounterDef { info: c.clone(), counter, size });
    }
    let required = COUNTERS.iter().filter(|(_, c)| !(tna && ABSENT_FROM_TNA.contains(c)));
    if let Some((name, _)) = required.into_iter().find(|(_, c)| !out.iter().any(|d| d.counter == *c)) {
        return Err(format!("the P4Info has no counter `{name}`"));
    }
    Ok(out)
}

/// The counter `id` of `counters` (INVALID_ARGUMENT when the P4Info has none).
fn find(counters: &[CounterDef], id: u32) -> Result<&CounterDef, Failure> {
    {
        counters
            .iter()
            .find(|c| c.info.id == id)
            .ok_or_else(|| Failure::invalid(format!("no counter with id {id:#010x} in the P4Info")))
    }
}

/// A Write update of a `CounterEntry`.
pub(crate) fn plan_counter_write(
    counters: &[CounterDef],
    ty: UpdateType,
    ce: &p4::CounterEntry,
) -> Result<Planned, Failure> {
    if ty != UpdateType::Modify {
        return Err(Failure::invalid("counter entries can only be modified (INSERT and DELETE are not allowed)"));
    }
    let def = find(counters, ce.counter_id)?;
    let index = check_index(ce.index.as_ref(), def.size, &def.info.name)?;
    let Some(data) = &ce.data else {
        return Ok(Planned::default());
    };
    let value = tables::counter_value(data)?;
    Ok(match index {
        Some(index) => Planned::ops(vec![TableOp::WriteCounter { counter: def.counter, index, value }]),
        None => Planned::fill(Fill::Counter { counter: def.counter, value, cells: def.size as u32 }),
    })
}

/// The classify table a `DirectCounterEntry` names.
fn direct_def<'p>(tables: &'p [TableDef], te: &p4::TableEntry) -> Result<&'p TableDef, Failure> {
    let def = tables::find(tables, te.table_id)?;
    if def.direct_counter.is_none() {
        return Err(Failure::invalid(format!("table {} has no direct counter", def.info.name)));
    }
    if te.is_default_action {
        return Err(Failure::unimplemented(format!(
            "table {}: the default entry has no direct counter on this target",
            def.info.name
        )));
    }
    Ok(def)
}

/// A Write update of a `DirectCounterEntry`.
pub(crate) fn plan_direct_write(
    tables: &[TableDef],
    ty: UpdateType,
    dce: &p4::DirectCounterEntry,
    pipeline: &Pipeline,
    parse: Parse,
) -> Result<Planned, Failure> {
    if ty != UpdateType::Modify {
        return Err(Failure::invalid(
            "direct counter entries can only be modified (INSERT and DELETE are not allowed)",
        ));
    }
    let Some(te) = &dce.table_entry else {
        return Err(Failure::invalid("a DirectCounterEntry write needs its table_entry"));
    };
    let def = direct_def(tables, te)?;
    let key = tables::direct_key(def, te, parse)?;
    match &dce.data {
        Some(data) => {
            let value = tables::counter_value(data)?;
            Ok(Planned::ops(tables::counter_op(def, &key, value).into_iter().collect()))
        }
        None => {
            if tables::lookup(def, pipeline, &key).is_none() {
                return Err(Failure::not_found(format!("table {}: entry not found", def.info.name)));
            }
            Ok(Planned::default())
        }
    }
}

fn counter_entity(def: &CounterDef, index: u32, v: p4clone_pipeline::CounterValue) -> p4::Entity {
    entity(E::CounterEntry(p4::CounterEntry {
        counter_id: def.info.id,
        index: Some(p4::Index { index: i64::from(index) }),
        data: Some(p4::CounterData { byte_count: v.bytes as i64, packet_count: v.packets as i64 }),
    }))
}

/// A `CounterEntry` read request: counter id 0 = all counters, no index = all cells.
pub(crate) fn read_counters(
    counters: &'static [CounterDef],
    ce: &p4::CounterEntry,
    p: &Pipeline,
    budget: &mut Budget,
) -> Result<EntityIter, Failure> {
    let defs: Vec<&'static CounterDef> =
        if ce.counter_id == 0 { counters.iter().collect() } else { vec![find(counters, ce.counter_id)?] };
    let mut parts: Vec<EntityIter> = Vec::new();
    for def in defs {
        match check_index(ce.index.as_ref(), def.size, &def.info.name)? {
            Some(i) => {
                budget.spend(1)?;
                let v = p.counter(def.counter, i).map_err(Failure::from)?;
                parts.push(Box::new(std::iter::once(counter_entity(def, i, v))));
            }
            None => {
                budget.spend(def.size)?;
                let cells = p.counters(def.counter);
                parts.push(Box::new(
                    cells.into_iter().take(def.size).enumerate().map(move |(i, v)| counter_entity(def, i as u32, v)),
                ));
            }
        }
    }
    Ok(Box::new(parts.into_iter().flatten()))
}

/// A `DirectCounterEntry` read request: no `table_entry` or table id 0 = every
/// table with a direct counter; no match = every entry of the table.
pub(crate) fn read_direct(
    tables: &'static [TableDef],
    dce: &p4::DirectCounterEntry,
    p: &Pipeline,
    parse: Parse,
    budget: &mut Budget,
) -> Result<EntityIter, Failure> {
    let te = dce.table_entry.clone().unwrap_or_default();
    if te.table_id == 0 {
        if !te.r#match.is_empty() {
            return Err(Failure::invalid(
                "a direct counter read of all tables (table_id 0) cannot filter on match fields",
            ));
        }
        let mut parts: Vec<EntityIter> = Vec::new();
        for def in tables.iter().filter(|t| t.direct_counter.is_some()) {
            budget.spend(tables::len(def, p))?;
            let recs = tables::all_records(def, p);
            parts.push(Box::new(
                recs.into_iter()
                    .map(move |r| entity(E::DirectCounterEntry(Box::new(tables::direct_counter_proto(def, &r))))),
            ));
        }
        return Ok(Box::new(parts.into_iter().flatten()));
    }
    let def: &'static TableDef = direct_def(tables, &te)?;
    debug_assert!(def.direct_counter.is_some());
    let recs = if te.r#match.is_empty() {
        budget.spend(tables::len(def, p))?;
        tables::all_records(def, p)
    } else {
        let recs = tables::select(def, &te, p, parse, budget)?;
        if recs.is_empty() {
            // Spec: reading the direct counter of a missing entry is NOT_FOUND.
            return Err(Failure::not_found(format!("table {}: entry not found", def.info.name)));
        }
        recs
    };
    Ok(Box::new(
        recs.into_iter().map(move |r| entity(E::DirectCounterEntry(Box::new(tables::direct_counter_proto(def, &r))))),
    ))
}

/// Zeroes every cell of the contract counters and of the diagnostics that follow
/// the forwarding state (`clone_no_session`, `clone_rewrite_miss`).
pub(crate) fn reset_ops(ops: &mut Vec<TableOp>) {
    for counter in [
        Counter::ClonesRequested,
        Counter::ClonesEmitted,
        Counter::TruncatedMtu,
        Counter::CloneNoSession,
        Counter::CloneRewriteMiss,
    ] {
        for index in 0..COUNTER_SIZE as u32 {
            ops.push(TableOp::WriteCounter { counter, index, value: Default::default() });
        }
    }
}
