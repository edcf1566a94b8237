//! `TableEntry`: the contract's eight tables (`docs/dataplane.md`, "Tables").
//!
//! The pipeline's table definitions carry the contract ([`Schema`]: every table, key
//! field, action and parameter by name and width); [`bind`] finds each in the
//! P4Info by name and checks its width and match kind, so ids and field / parameter
//! order come from the P4Info alone. Entries cross to and from the pipeline as
//! contract values ([`MatchValues`], [`ActionValues`], [`EntryValues`]), so nothing
//! here is specific to one table.

use p4clone_pipeline::{
    ActionValues, CounterValue, EntryValues, MatchValues, Op, Pipeline, Schema, TableId, TableOp, ValuesOp,
};
use p4clone_proto::bytestring;
use p4clone_proto::p4::v1::{
    self as p4, entity::Entity as E, field_match::FieldMatchType as Fm, table_action::Type as TaType,
    update::Type as UpdateType,
};
use p4clone_proto::schema::{ActionInfo, MatchKind, P4Schema, TableInfo};

use super::update::{entity, Budget, EntityIter, Failure, Parse, Planned, SideEffect, SideState};

/// An action of a table, with its parameters mapped to the contract's order.
#[derive(Debug)]
pub(crate) struct ActionDef {
    pub info: ActionInfo,
    /// Contract parameter `i` is `info.params[param_pos[i]]`.
    param_pos: Vec<usize>,
}

/// A P4Info table bound to its pipeline table.
#[derive(Debug)]
pub(crate) struct TableDef {
    /// The pipeline table.
    pub id: TableId,
    pub info: TableInfo,
    /// Contract field `i` is `info.match_fields[field_pos[i]]`.
    field_pos: Vec<usize>,
    /// The table's actions, in contract order.
    actions: Vec<ActionDef>,
    /// The program's default action (index into `actions`).
    default_action: usize,
    /// Id of the attached direct counter.
    pub direct_counter: Option<u32>,
}

impl TableDef {
    fn needs_priority(&self) -> bool {
        self.info.needs_priority()
    }

    fn has_direct_counter(&self) -> bool {
        self.direct_counter.is_some()
    }
}

/// The contract of the pipeline table named `name`.
fn contract(name: &str) -> Option<(TableId, &'static Schema)> {
    TableId::P4_TABLES.iter().find_map(|&id| id.schema().filter(|s| s.name == name).map(|s| (id, s)))
}

/// Tables a TNA P4Info may leave out: the TNA program has no encapsulated delivery
/// yet (`docs/dataplane.md`, "The TNA program"); the pipeline's table stays empty.
const ABSENT_FROM_TNA: [TableId; 1] = [TableId::CloneEncap];

/// Actions a TNA P4Info may leave out: the TNA program has no filters or sampling
/// yet. They are the last actions of their table, so the others keep their index.
const ACTIONS_ABSENT_FROM_TNA: [&str; 2] = ["classify_hit_sampled", "classify_skip"];

/// Binds every P4Info table to the contract (see the module doc). With `tna` (the
/// TNA program) direct counters and the tables of [`ABSENT_FROM_TNA`] may be absent.
pub(crate) fn bind(schema: &P4Schema, tna: bool) -> Result<Vec<TableDef>, String> {
    let mut defs = Vec::new();
    for t in schema.tables() {
        let (id, spec) =
            contract(&t.name).ok_or_else(|| format!("table `{}` is not in the data-plane contract", t.name))?;
        let at = |what: String| format!("table `{}`: {what}", t.name);
        if t.match_fields.len() != spec.fields.len() {
            return Err(at(format!("{} match fields, the contract has {}", t.match_fields.len(), spec.fields.len())));
        }
        let want_kind = if spec.ternary { MatchKind::Ternary } else { MatchKind::Exact };
        let mut field_pos = Vec::new();
        for &(name, bits) in spec.fields {
            let pos = t
                .match_fields
                .iter()
                .position(|f| f.name == name)
                .ok_or_else(|| at(format!("no match field `{name}`")))?;
            let f = &t.match_fields[pos];
            if f.bitwidth != bits || f.match_type != want_kind {
                return Err(at(format!(
                    "match field `{name}` is {:?} {} bits, the contract says {want_kind:?} {bits}",
                    f.match_type, f.bitwidth
                )));
            }
            field_pos.push(pos);
        }
        let mut actions = Vec::new();
        for &(name, params) in spec.actions {
            if tna && ACTIONS_ABSENT_FROM_TNA.contains(&name) && schema.action(name).is_err() {
                continue;
            }
            let info = schema.action(name).map_err(|e| at(e.to_string()))?.clone();
            if !t.has_action(info.id) {
                return Err(at(format!("action `{name}` is not one of its actions")));
            }
            if info.params.len() != params.len() {
                return Err(at(format!(
                    "action `{name}` has {} parameters, the contract has {}",
                    info.params.len(),
                    params.len()
                )));
            }
            let mut param_pos = Vec::new();
            for &(pname, bits) in params {
                let pos = info
                    .params
                    .iter()
                    .position(|p| p.name == pname)
                    .ok_or_else(|| at(format!("action `{name}` has no parameter `{pname}`")))?;
                if info.params[pos].bitwidth != bits {
                    return Err(at(format!(
                        "parameter `{name}.{pname}` is {} bits, the contract says {bits}",
                        info.params[pos].bitwidth
                    )));
                }
                param_pos.push(pos);
            }
            actions.push(ActionDef { info, param_pos });
        }
        if t.action_ids.len() != actions.len() {
            return Err(at(format!("{} actions, the contract has {}", t.action_ids.len(), actions.len())));
        }
        let default_action = spec.default_action;
        let direct_counter = schema.direct_counter_of_table(t.id).map(|d| d.id);
        // A program may leave a table's direct counter out (the TNA program does):
        // the pipeline still counts, P4Runtime just cannot read it.
        if direct_counter.is_some() != spec.direct_counter && !(tna && direct_counter.is_none()) {
            return Err(at("direct counter presence differs from the contract".into()));
        }
        defs.push(TableDef { id, info: t.clone(), field_pos, actions, default_action, direct_counter });
    }
    let required = TableId::P4_TABLES.iter().filter(|id| !(tna && ABSENT_FROM_TNA.contains(id)));
    if let Some(name) = required.map(|id| id.name()).find(|n| !defs.iter().any(|d| d.info.name == *n)) {
        return Err(format!("the P4Info has no table `{name}`"));
    }
    Ok(defs)
}

// ------------------------------------------------------------------ values

fn mismatch() -> Failure {
    Failure::new(tonic::Code::Internal, "internal error: not a table of the pipeline")
}

/// A write to `def`'s table, as contract values.
fn table_op(def: &TableDef, op: ValuesOp) -> Result<TableOp, Failure> {
    TableOp::from_values(def.id, op).ok_or_else(mismatch)
}

fn entry(key: MatchValues, action: ActionValues, metadata: Vec<u8>) -> EntryValues {
    EntryValues { key, action, metadata, counter: None }
}

/// The direct-counter write of an entry (`None` for tables without one).
pub(crate) fn counter_op(def: &TableDef, key: &MatchValues, value: CounterValue) -> Option<TableOp> {
    if !def.has_direct_counter() {
        return None;
    }
    TableOp::from_values(def.id, Op::SetDirectCounter(key.clone(), value))
}

fn default_act(def: &TableDef) -> ActionValues {
    let n = def.actions[def.default_action].param_pos.len();
    ActionValues { index: def.default_action, params: vec![0; n] }
}

/// One installed entry, looked up by its identity.
pub(crate) fn lookup(def: &TableDef, p: &Pipeline, key: &MatchValues) -> Option<EntryValues> {
    p.entry_as_values(def.id, key)
}

/// Number of installed entries of a table.
pub(crate) fn len(def: &TableDef, p: &Pipeline) -> usize {
    p.entry_count_of(def.id)
}

/// Every installed entry of a table (classify tables: with direct counters, in
/// insertion order).
pub(crate) fn all_records(def: &TableDef, p: &Pipeline) -> Vec<EntryValues> {
    p.entries_as_values(def.id)
}

// ------------------------------------------------------------- P4Runtime -> typed

/// Validates the `match` of a (non-default) entry; returns (value, mask) per field,
/// in contract order (exact fields: mask all ones; omitted ternary fields: 0/0).
pub(crate) fn parse_match(
    def: &TableDef,
    matches: &[p4::FieldMatch],
    parse: Parse,
) -> Result<Vec<(u128, u128)>, Failure> {
    let fields = &def.info.match_fields;
    let mut got: Vec<Option<(u128, u128)>> = vec![None; fields.len()];
    for fm in matches {
        let Some(pos) = fields.iter().position(|f| f.id == fm.field_id) else {
            return Err(Failure::invalid(format!(
                "table {} has no match field with id {}",
                def.info.name, fm.field_id
            )));
        };
        let f = &fields[pos];
        let what = || format!("table {} match field {} ({})", def.info.name, f.id, f.name);
        if got[pos].is_some() {
            return Err(Failure::invalid(format!("{}: given twice", what())));
        }
        let value = match (&f.match_type, &fm.field_match_type) {
            (MatchKind::Exact, Some(Fm::Exact(e))) => (parse.uint(&e.value, f.bitwidth, &what)?, u128::MAX),
            (MatchKind::Ternary, Some(Fm::Ternary(t))) => {
                let v = parse.uint(&t.value, f.bitwidth, &|| format!("{} value", what()))?;
                let m = parse.uint(&t.mask, f.bitwidth, &|| format!("{} mask", what()))?;
                if m == 0 {
                    return Err(Failure::invalid(format!(
                        "{}: ternary mask is 0; omit the field for a don't-care match",
                        what()
                    )));
                }
                if v & !m != 0 {
                    return Err(Failure::invalid(format!(
                        "{}: value {} has bits outside mask {}",
                        what(),
                        super::update::hex(&t.value),
                        super::update::hex(&t.mask)
                    )));
                }
                (v, m)
            }
            (_, None) => {
                return Err(Failure::invalid(format!("{}: no match value set", what())));
            }
            (kind, Some(other)) => {
                return Err(Failure::invalid(format!(
                    "{}: is a {} field, got a{} match",
                    what(),
                    kind_name(kind),
                    match other {
                        Fm::Exact(_) => "n exact",
                        Fm::Ternary(_) => " ternary",
                        Fm::Lpm(_) => "n LPM",
                        Fm::Range(_) => " range",
                        Fm::Optional(_) => "n optional",
                        Fm::Other(_) => "n architecture-specific",
                    }
                )));
            }
        };
        got[pos] = Some(value);
    }
    let mut out = Vec::with_capacity(def.field_pos.len());
    for &pos in &def.field_pos {
        let f = &fields[pos];
        match got[pos] {
            Some(v) => out.push(v),
            None if f.match_type == MatchKind::Exact => {
                return Err(Failure::invalid(format!(
                    "table {} match field {} ({}) is exact and cannot be omitted",
                    def.info.name, f.id, f.name
                )));
            }
            None => out.push((0, 0)),
        }
    }
    Ok(out)
}

fn kind_name(k: &MatchKind) -> &str {
    match k {
        MatchKind::Exact => "exact",
        MatchKind::Lpm => "LPM",
        MatchKind::Ternary => "ternary",
        MatchKind::Range => "range",
        MatchKind::Optional => "optional",
        MatchKind::Other(s) => s,
    }
}

fn check_priority(def: &TableDef, priority: i32) -> Result<(), Failure> {
    if def.needs_priority() && priority == 0 {
        return Err(Failure::invalid(format!(
            "table {} has ternary match fields: entries need a non-zero priority",
            def.info.name
        )));
    }
    if !def.needs_priority() && priority != 0 {
        return Err(Failure::invalid(format!(
            "table {} has only exact match fields: priority must be 0, got {priority}",
            def.info.name
        )));
    }
    Ok(())
}

/// Validates a table action: an `Action` of the table with every parameter.
fn parse_action(def: &TableDef, ta: &p4::TableAction, parse: Parse) -> Result<ActionValues, Failure> {
    let a = match &ta.r#type {
        Some(TaType::Action(a)) => a,
        Some(_) => {
            return Err(Failure::invalid(format!(
                "table {} is a direct table: its action must be an Action, not an action profile member, group or set",
                def.info.name
            )))
        }
        None => return Err(Failure::invalid(format!("table {}: the action has no type set", def.info.name))),
    };
    let Some(idx) = def.actions.iter().position(|d| d.info.id == a.action_id) else {
        return Err(Failure::invalid(match super::program().schema().action_by_id(a.action_id) {
            Ok(info) => format!("action {} is not an action of table {}", info.name, def.info.name),
            Err(_) => format!("no action with id {:#010x} in the P4Info", a.action_id),
        }));
    };
    let ad = &def.actions[idx];
    let params = &ad.info.params;
    let mut got: Vec<Option<u128>> = vec![None; params.len()];
    for p in &a.params {
        let Some(pos) = params.iter().position(|i| i.id == p.param_id) else {
            return Err(Failure::invalid(format!("action {} has no parameter with id {}", ad.info.name, p.param_id)));
        };
        let info = &params[pos];
        let what = || format!("action {} parameter {} ({})", ad.info.name, info.id, info.name);
        if got[pos].is_some() {
            return Err(Failure::invalid(format!("{}: given twice", what())));
        }
        got[pos] = Some(parse.uint(&p.value, info.bitwidth, &what)?);
    }
    let mut vals = Vec::with_capacity(ad.param_pos.len());
    for &pos in &ad.param_pos {
        match got[pos] {
            Some(v) => vals.push(v),
            None => {
                return Err(Failure::invalid(format!(
                    "action {} parameter {} ({}) is missing",
                    ad.info.name, params[pos].id, params[pos].name
                )))
            }
        }
    }
    Ok(ActionValues { index: idx, params: vals })
}

pub(crate) fn counter_value(cd: &p4::CounterData) -> Result<CounterValue, Failure> {
    if cd.byte_count < 0 || cd.packet_count < 0 {
        return Err(Failure::invalid(format!(
            "counter data must not be negative (packets {}, bytes {})",
            cd.packet_count, cd.byte_count
        )));
    }
    Ok(CounterValue { packets: cd.packet_count as u64, bytes: cd.byte_count as u64 })
}

/// Checks the fields other than key and action of an INSERT/MODIFY.
fn check_extras(def: &TableDef, te: &p4::TableEntry) -> Result<(), Failure> {
    let name = &def.info.name;
    if te.idle_timeout_ns != 0 {
        return Err(Failure::invalid(format!(
            "table {name} does not support idle timeouts (idle_timeout_ns must be 0)"
        )));
    }
    if te.time_since_last_hit.is_some() {
        return Err(Failure::invalid(format!(
            "table {name}: time_since_last_hit is read-only and this table has no idle timeout"
        )));
    }
    if te.meter_config.is_some() || te.meter_counter_data.is_some() {
        return Err(Failure::invalid(format!("table {name} has no direct meter")));
    }
    if te.counter_data.is_some() && !def.has_direct_counter() {
        return Err(Failure::invalid(format!("table {name} has no direct counter")));
    }
    #[allow(deprecated)]
    if te.controller_metadata != 0 {
        return Err(Failure::unimplemented("the deprecated controller_metadata is not stored; use metadata"));
    }
    Ok(())
}

/// The table `id` of `tables` (INVALID_ARGUMENT when the P4Info has none).
pub(crate) fn find(tables: &[TableDef], id: u32) -> Result<&TableDef, Failure> {
    tables
        .iter()
        .find(|t| t.info.id == id)
        .ok_or_else(|| Failure::invalid(format!("no table with id {id:#010x} in the P4Info")))
}

/// A Write update of a `TableEntry`.
pub(crate) fn plan_write(
    tables: &[TableDef],
    ty: UpdateType,
    te: &p4::TableEntry,
    pipeline: &Pipeline,
    parse: Parse,
) -> Result<Planned, Failure> {
    let def = find(tables, te.table_id)?;
    if te.is_const {
        return Err(Failure::invalid("is_const must be false in a write"));
    }
    if te.is_default_action {
        return plan_default(def, ty, te, parse);
    }
    let vals = parse_match(def, &te.r#match, parse)?;
    check_priority(def, te.priority)?;
    let key = MatchValues { fields: vals, priority: te.priority };
    if ty == UpdateType::Delete {
        // Only the key counts; every other field is ignored (spec).
        return Ok(Planned::ops(vec![table_op(def, Op::Delete(key))?]));
    }
    check_extras(def, te)?;
    let counter = te.counter_data.as_deref().map(counter_value).transpose()?;
    let mut ops = Vec::new();
    match (ty, &te.action) {
        (UpdateType::Insert, None) => {
            return Err(Failure::invalid(format!("an INSERT into table {} needs an action", def.info.name)))
        }
        (UpdateType::Insert, Some(ta)) => {
            let act = parse_action(def, ta, parse)?;
            ops.push(table_op(def, Op::Insert(entry(key.clone(), act, te.metadata.to_vec())))?);
        }
        (_, Some(ta)) => {
            let act = parse_action(def, ta, parse)?;
            ops.push(table_op(def, Op::Modify(entry(key.clone(), act, te.metadata.to_vec())))?);
        }
        (_, None) => {
            // MODIFY without an action changes only the direct counter, if given.
            if lookup(def, pipeline, &key).is_none() {
                return Err(Failure::not_found(format!("table {}: entry not found", def.info.name)));
            }
        }
    }
    if let Some(c) = counter {
        ops.extend(counter_op(def, &key, c));
    }
    Ok(Planned::ops(ops))
}

fn plan_default(def: &TableDef, ty: UpdateType, te: &p4::TableEntry, parse: Parse) -> Result<Planned, Failure> {
    let name = &def.info.name;
    if ty != UpdateType::Modify {
        return Err(Failure::invalid(format!(
            "the default entry of table {name} can only be modified (INSERT and DELETE are not allowed)"
        )));
    }
    if !te.r#match.is_empty() || te.priority != 0 {
        return Err(Failure::invalid(format!("the default entry of table {name} has no match fields and priority 0")));
    }
    if def.info.const_default_action_id.is_some() {
        return Err(Failure::new(
            tonic::Code::PermissionDenied,
            format!("the default action of table {name} is const"),
        ));
    }
    check_extras(def, te)?;
    if te.counter_data.is_some() {
        return Err(Failure::unimplemented(format!(
            "table {name}: the default entry has no direct counter on this target"
        )));
    }
    let (act, meta) = match &te.action {
        None => (default_act(def), Vec::new()),
        Some(ta) => (parse_action(def, ta, parse)?, te.metadata.to_vec()),
    };
    Ok(Planned {
        ops: vec![table_op(def, Op::SetDefault(act))?],
        fill: None,
        side: vec![SideEffect::DefaultMetadata(def.info.id, meta)],
    })
}

/// Operations resetting a table: delete every entry, restore the default action.
pub(crate) fn reset_ops(def: &TableDef, p: &Pipeline, ops: &mut Vec<TableOp>) {
    for r in all_records(def, p) {
        ops.extend(TableOp::from_values(def.id, Op::Delete(r.key)));
    }
    if let Ok(op) = table_op(def, Op::SetDefault(default_act(def))) {
        ops.push(op);
    }
}

// ------------------------------------------------------------- typed -> P4Runtime

fn action_proto(def: &TableDef, act: &ActionValues) -> p4::TableAction {
    let vals = &act.params;
    let ad = &def.actions[act.index];
    let mut params: Vec<(usize, p4::action::Param)> = ad
        .param_pos
        .iter()
        .zip(vals)
        .map(|(&pos, &v)| {
            (pos, p4::action::Param { param_id: ad.info.params[pos].id, value: bytestring::encode(v).into() })
        })
        .collect();
    params.sort_by_key(|(pos, _)| *pos);
    p4::TableAction {
        r#type: Some(TaType::Action(p4::Action {
            action_id: ad.info.id,
            params: params.into_iter().map(|(_, p)| p).collect(),
        })),
    }
}

fn match_proto(def: &TableDef, key: &MatchValues) -> (Vec<p4::FieldMatch>, i32) {
    let (vals, prio) = (&key.fields, key.priority);
    let mut out: Vec<(usize, p4::FieldMatch)> = Vec::with_capacity(vals.len());
    for (&pos, &(v, m)) in def.field_pos.iter().zip(vals) {
        let f = &def.info.match_fields[pos];
        let fmt = match f.match_type {
            MatchKind::Ternary if m == 0 => continue,
            MatchKind::Ternary => Fm::Ternary(p4::field_match::Ternary {
                value: bytestring::encode(v).into(),
                mask: bytestring::encode(m).into(),
            }),
            _ => Fm::Exact(p4::field_match::Exact { value: bytestring::encode(v).into() }),
        };
        out.push((pos, p4::FieldMatch { field_id: f.id, field_match_type: Some(fmt) }));
    }
    out.sort_by_key(|(pos, _)| *pos);
    (out.into_iter().map(|(_, f)| f).collect(), prio)
}

fn counter_proto(c: CounterValue) -> p4::CounterData {
    p4::CounterData { byte_count: c.bytes as i64, packet_count: c.packets as i64 }
}

fn entry_proto(def: &TableDef, r: &EntryValues, with_counter: bool) -> p4::TableEntry {
    let (r#match, priority) = match_proto(def, &r.key);
    p4::TableEntry {
        table_id: def.info.id,
        r#match,
        action: Some(action_proto(def, &r.action)),
        priority,
        metadata: r.metadata.clone().into(),
        counter_data: if with_counter { r.counter.map(|c| Box::new(counter_proto(c))) } else { None },
        ..Default::default()
    }
}

/// The `table_entry` of a `DirectCounterEntry`: key fields only.
pub(crate) fn direct_counter_proto(def: &TableDef, r: &EntryValues) -> p4::DirectCounterEntry {
    let (r#match, priority) = match_proto(def, &r.key);
    p4::DirectCounterEntry {
        table_entry: Some(p4::TableEntry { table_id: def.info.id, r#match, priority, ..Default::default() }),
        data: Some(counter_proto(r.counter.unwrap_or_default())),
    }
}

/// Parses the key of a classify entry named by a `DirectCounterEntry`.
pub(crate) fn direct_key(def: &TableDef, te: &p4::TableEntry, parse: Parse) -> Result<MatchValues, Failure> {
    let vals = parse_match(def, &te.r#match, parse)?;
    check_priority(def, te.priority)?;
    Ok(MatchValues { fields: vals, priority: te.priority })
}

/// Entries a `TableEntry` read request selects (`match` set: that entry, or with
/// priority 0 on a ternary table every priority of that match).
pub(crate) fn select(
    def: &TableDef,
    te: &p4::TableEntry,
    p: &Pipeline,
    parse: Parse,
    budget: &mut Budget,
) -> Result<Vec<EntryValues>, Failure> {
    if te.r#match.is_empty() {
        budget.spend(len(def, p))?;
        return Ok(all_records(def, p));
    }
    let vals = parse_match(def, &te.r#match, parse)?;
    if def.needs_priority() && te.priority == 0 {
        budget.spend(len(def, p))?;
        return Ok(all_records(def, p).into_iter().filter(|r| r.key.fields == vals).collect());
    }
    check_priority(def, te.priority)?;
    Ok(lookup(def, p, &MatchValues { fields: vals, priority: te.priority }).into_iter().collect())
}

/// A `TableEntry` read request (spec "Wildcard Reads").
pub(crate) fn read(
    tables: &'static [TableDef],
    te: &p4::TableEntry,
    p: &Pipeline,
    side: &SideState,
    parse: Parse,
    budget: &mut Budget,
) -> Result<EntityIter, Failure> {
    let defs: Vec<&'static TableDef> = if te.table_id == 0 {
        if !te.r#match.is_empty() {
            return Err(Failure::invalid("a read of all tables (table_id 0) cannot filter on match fields"));
        }
        tables.iter().collect()
    } else {
        vec![find(tables, te.table_id)?]
    };
    if te.is_default_action {
        if !te.r#match.is_empty() || te.priority != 0 {
            return Err(Failure::invalid("a read of the default entry has no match fields and priority 0"));
        }
        let entries: Vec<p4::Entity> = defs
            .iter()
            .map(|def| {
                entity(E::TableEntry(p4::TableEntry {
                    table_id: def.info.id,
                    action: p.default_action_values(def.id).map(|a| action_proto(def, &a)),
                    is_default_action: true,
                    metadata: side.default_metadata.get(&def.info.id).cloned().unwrap_or_default().into(),
                    ..Default::default()
                }))
            })
            .collect();
        return Ok(Box::new(entries.into_iter()));
    }
    let action_filter = match &te.action {
        None | Some(p4::TableAction { r#type: None }) => None,
        Some(p4::TableAction { r#type: Some(TaType::Action(a)) }) => Some(a.action_id),
        Some(_) => return Err(Failure::invalid("reads can filter on an action id only (direct tables)")),
    };
    let with_counter = te.counter_data.is_some();
    let priority = te.priority;
    let mut parts: Vec<EntityIter> = Vec::with_capacity(defs.len());
    for def in defs {
        let recs = select(def, te, p, parse, budget)?;
        let metadata = te.metadata.clone();
        let iter = recs
            .into_iter()
            .filter(move |r| {
                (priority == 0 || r.key.priority == priority)
                    && (metadata.is_empty() || r.metadata == metadata)
                    && action_filter.is_none_or(|id| def.actions[r.action.index].info.id == id)
            })
            .map(move |r| entity(E::TableEntry(entry_proto(def, &r, with_counter))));
        parts.push(Box::new(iter));
    }
    Ok(Box::new(parts.into_iter().flatten()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every table's key and actions survive the trip through the pipeline: an
    /// INSERT as contract values reads back as the same values, and so does each
    /// action as the default.
    #[test]
    fn key_and_action_round_trip() {
        let schema = p4clone_proto::program::schema().expect("the embedded P4Info loads");
        for def in &bind(schema, false).expect("the embedded P4Info binds") {
            let n = def.field_pos.len();
            let fields: Vec<(u128, u128)> = (0..n)
                .map(|i| {
                    let f = &def.info.match_fields[def.field_pos[i]];
                    let m = bytestring::mask(f.bitwidth);
                    if f.match_type == MatchKind::Ternary {
                        (1 & m, m)
                    } else {
                        (1, u128::MAX)
                    }
                })
                .collect();
            let priority = if def.needs_priority() { 7 } else { 0 };
            let key = MatchValues { fields, priority };
            for index in 0..def.actions.len() {
                let ad = &def.actions[index];
                // All ones, but within the pipeline's ranges (a port is below 511).
                let params: Vec<u128> =
                    ad.param_pos.iter().map(|&pos| bytestring::mask(ad.info.params[pos].bitwidth).min(500)).collect();
                let action = ActionValues { index, params };
                let p = Pipeline::new();
                let ops = [
                    table_op(def, Op::Insert(entry(key.clone(), action.clone(), vec![9]))).unwrap(),
                    table_op(def, Op::SetDefault(action.clone())).unwrap(),
                ];
                assert_eq!(p.apply(ops), vec![Ok(()), Ok(())], "{}", def.info.name);
                let got = all_records(def, &p);
                assert_eq!(got.len(), 1, "{}", def.info.name);
                assert_eq!(
                    (&got[0].key, &got[0].action, &got[0].metadata),
                    (&key, &action, &vec![9]),
                    "{}",
                    def.info.name
                );
                assert_eq!(p.default_action_values(def.id), Some(action), "{}", def.info.name);
            }
        }
    }
}
