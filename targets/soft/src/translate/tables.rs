//! `TableEntry`: the contract's eight tables (`docs/dataplane.md`, "Tables").
//!
//! The contract below names every table, key field, action and parameter; [`bind`]
//! finds each in the P4Info by name and checks its width and match kind, so ids
//! and field / parameter order come from the P4Info alone.

use p4clone_pipeline::{
    ClassifyAction, ClassifyEntry, ClassifyKeyV4, ClassifyKeyV6, CounterValue, NatAction, NatActionV4, NatActionV6,
    NatDir, NatEntry, NatKeyV4, NatKeyV6, Pipeline, RewriteAction, RewriteEntry, RewriteParams, TableOp, Ternary,
    WireAction, WireEntry,
};
use p4clone_proto::bytestring;
use p4clone_proto::p4::v1::{
    self as p4, entity::Entity as E, field_match::FieldMatchType as Fm, table_action::Type as TaType,
    update::Type as UpdateType,
};
use p4clone_proto::schema::{ActionInfo, MatchKind, P4Schema, TableInfo};

use super::{entity, Budget, EntityIter, Failure, Parse, Planned, Program, SideEffect, SideState};

/// Which pipeline table a P4Info table is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Wire,
    ClassifyV4,
    ClassifyV6,
    Rewrite,
    NatV4(NatDir),
    NatV6(NatDir),
}

type Params = &'static [(&'static str, u32)];

/// One table of the contract.
struct Spec {
    name: &'static str,
    kind: Kind,
    ternary: bool,
    fields: Params,
    actions: &'static [(&'static str, Params)],
    default: &'static str,
    direct_counter: bool,
}

const CLASSIFY_ACTIONS: &[(&str, Params)] =
    &[("classify_hit", &[("first_member", 16), ("member_count", 16), ("mode", 8)]), ("classify_miss", &[])];
const NAT_V4_ACTIONS: &[(&str, Params)] =
    &[("nat_set_v4", &[("client_addr", 32), ("client_port", 16)]), ("nat_miss", &[])];
const NAT_V6_ACTIONS: &[(&str, Params)] =
    &[("nat_set_v6", &[("client_addr", 128), ("client_port", 16)]), ("nat_miss", &[])];
const NAT_V4_FIELDS: Params = &[("addr", 32), ("port", 16), ("protocol", 8)];
const NAT_V6_FIELDS: Params = &[("addr", 128), ("port", 16), ("next_header", 8)];

const SPECS: &[Spec] = &[
    Spec {
        name: "wire",
        kind: Kind::Wire,
        ternary: false,
        fields: &[("ingress_port", 9)],
        actions: &[("wire_forward", &[("port", 9)]), ("wire_drop", &[])],
        default: "wire_drop",
        direct_counter: false,
    },
    Spec {
        name: "clone_classify_v4",
        kind: Kind::ClassifyV4,
        ternary: true,
        fields: &[("src_addr", 32), ("dst_addr", 32), ("protocol", 8), ("l4_src_port", 16), ("l4_dst_port", 16)],
        actions: CLASSIFY_ACTIONS,
        default: "classify_miss",
        direct_counter: true,
    },
    Spec {
        name: "clone_classify_v6",
        kind: Kind::ClassifyV6,
        ternary: true,
        fields: &[("src_addr", 128), ("dst_addr", 128), ("next_header", 8), ("l4_src_port", 16), ("l4_dst_port", 16)],
        actions: CLASSIFY_ACTIONS,
        default: "classify_miss",
        direct_counter: true,
    },
    Spec {
        name: "clone_rewrite",
        kind: Kind::Rewrite,
        ternary: false,
        fields: &[("member", 16)],
        actions: &[
            (
                "clone_rewrite_set",
                &[("dst_mac", 48), ("src_mac", 48), ("vlan_id", 12), ("truncate_len", 16), ("nat_restore", 1)],
            ),
            ("clone_rewrite_miss", &[]),
        ],
        default: "clone_rewrite_miss",
        direct_counter: false,
    },
    Spec {
        name: "nat_src_v4",
        kind: Kind::NatV4(NatDir::Src),
        ternary: false,
        fields: NAT_V4_FIELDS,
        actions: NAT_V4_ACTIONS,
        default: "nat_miss",
        direct_counter: false,
    },
    Spec {
        name: "nat_dst_v4",
        kind: Kind::NatV4(NatDir::Dst),
        ternary: false,
        fields: NAT_V4_FIELDS,
        actions: NAT_V4_ACTIONS,
        default: "nat_miss",
        direct_counter: false,
    },
    Spec {
        name: "nat_src_v6",
        kind: Kind::NatV6(NatDir::Src),
        ternary: false,
        fields: NAT_V6_FIELDS,
        actions: NAT_V6_ACTIONS,
        default: "nat_miss",
        direct_counter: false,
    },
    Spec {
        name: "nat_dst_v6",
        kind: Kind::NatV6(NatDir::Dst),
        ternary: false,
        fields: NAT_V6_FIELDS,
        actions: NAT_V6_ACTIONS,
        default: "nat_miss",
        direct_counter: false,
    },
];

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
    pub kind: Kind,
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

/// Binds every P4Info table to the contract (see the module doc).
pub(crate) fn bind(schema: &P4Schema) -> Result<Vec<TableDef>, String> {
    let mut defs = Vec::new();
    for t in schema.tables() {
        let spec = SPECS
            .iter()
            .find(|s| s.name == t.name)
            .ok_or_else(|| format!("table `{}` is not in the data-plane contract", t.name))?;
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
        let default_action =
            spec.actions.iter().position(|(n, _)| *n == spec.default).ok_or_else(|| at("no default action".into()))?;
        let direct_counter = schema.direct_counter_of_table(t.id).map(|d| d.id);
        if direct_counter.is_some() != spec.direct_counter {
            return Err(at("direct counter presence differs from the contract".into()));
        }
        defs.push(TableDef { kind: spec.kind, info: t.clone(), field_pos, actions, default_action, direct_counter });
    }
    if let Some(s) = SPECS.iter().find(|s| !defs.iter().any(|d| d.info.name == s.name)) {
        return Err(format!("the P4Info has no table `{}`", s.name));
    }
    Ok(defs)
}

// ------------------------------------------------------------------ typed forms

/// A table entry's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Key {
    Wire(u16),
    V4(ClassifyKeyV4, i32),
    V6(ClassifyKeyV6, i32),
    Rewrite(u16),
    NatV4(NatDir, NatKeyV4),
    NatV6(NatDir, NatKeyV6),
}

/// A table entry's action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Act {
    Wire(WireAction),
    Classify(ClassifyAction),
    Rewrite(RewriteAction),
    NatV4(NatActionV4),
    NatV6(NatActionV6),
}

/// An entry as read from the pipeline.
#[derive(Debug, Clone)]
pub(crate) struct Rec {
    key: Key,
    act: Act,
    meta: Vec<u8>,
    counter: Option<CounterValue>,
}

fn tern<T: TryFrom<u128> + Default>(v: (u128, u128)) -> Ternary<T> {
    Ternary { value: T::try_from(v.0).unwrap_or_default(), mask: T::try_from(v.1).unwrap_or_default() }
}

fn cast<T: TryFrom<u128> + Default>(v: u128) -> T {
    T::try_from(v).unwrap_or_default()
}

fn tv<T: Into<u128> + Copy>(t: &Ternary<T>) -> (u128, u128) {
    (t.value.into(), t.mask.into())
}

fn ex<T: Into<u128>>(v: T) -> (u128, u128) {
    (v.into(), u128::MAX)
}

fn mac(v: u128) -> [u8; 6] {
    let b = (v as u64).to_be_bytes();
    [b[2], b[3], b[4], b[5], b[6], b[7]]
}

fn mac_value(m: &[u8; 6]) -> u128 {
    m.iter().fold(0u128, |acc, &b| (acc << 8) | u128::from(b))
}

/// Key from the field values in contract order (value, mask) (widths already checked).
fn key_from(kind: Kind, v: &[(u128, u128)], prio: i32) -> Key {
    match kind {
        Kind::Wire => Key::Wire(cast(v[0].0)),
        Kind::ClassifyV4 => Key::V4(
            ClassifyKeyV4 {
                src_addr: tern(v[0]),
                dst_addr: tern(v[1]),
                protocol: tern(v[2]),
                l4_src_port: tern(v[3]),
                l4_dst_port: tern(v[4]),
            },
            prio,
        ),
        Kind::ClassifyV6 => Key::V6(
            ClassifyKeyV6 {
                src_addr: tern(v[0]),
                dst_addr: tern(v[1]),
                next_header: tern(v[2]),
                l4_src_port: tern(v[3]),
                l4_dst_port: tern(v[4]),
            },
            prio,
        ),
        Kind::Rewrite => Key::Rewrite(cast(v[0].0)),
        Kind::NatV4(d) => Key::NatV4(d, NatKeyV4 { addr: cast(v[0].0), port: cast(v[1].0), protocol: cast(v[2].0) }),
        Kind::NatV6(d) => Key::NatV6(d, NatKeyV6 { addr: v[0].0, port: cast(v[1].0), next_header: cast(v[2].0) }),
    }
}

/// Field values in contract order, and the priority.
fn key_values(key: &Key) -> (Vec<(u128, u128)>, i32) {
    match key {
        Key::Wire(p) => (vec![ex(*p)], 0),
        Key::V4(k, prio) => {
            (vec![tv(&k.src_addr), tv(&k.dst_addr), tv(&k.protocol), tv(&k.l4_src_port), tv(&k.l4_dst_port)], *prio)
        }
        Key::V6(k, prio) => {
            (vec![tv(&k.src_addr), tv(&k.dst_addr), tv(&k.next_header), tv(&k.l4_src_port), tv(&k.l4_dst_port)], *prio)
        }
        Key::Rewrite(m) => (vec![ex(*m)], 0),
        Key::NatV4(_, k) => (vec![ex(k.addr), ex(k.port), ex(k.protocol)], 0),
        Key::NatV6(_, k) => (vec![ex(k.addr), ex(k.port), ex(k.next_header)], 0),
    }
}

/// Action from its index in the contract's list and its parameters in contract order.
fn act_from(kind: Kind, idx: usize, p: &[u128]) -> Act {
    match (kind, idx) {
        (Kind::Wire, 0) => Act::Wire(WireAction::Forward(cast(p[0]))),
        (Kind::Wire, _) => Act::Wire(WireAction::Drop),
        (Kind::ClassifyV4 | Kind::ClassifyV6, 0) => {
            Act::Classify(ClassifyAction::Hit { first_member: cast(p[0]), member_count: cast(p[1]), mode: cast(p[2]) })
        }
        (Kind::ClassifyV4 | Kind::ClassifyV6, _) => Act::Classify(ClassifyAction::Miss),
        (Kind::Rewrite, 0) => Act::Rewrite(RewriteAction::Set(RewriteParams {
            dst_mac: mac(p[0]),
            src_mac: mac(p[1]),
            vlan_id: cast(p[2]),
            truncate_len: cast(p[3]),
            nat_restore: p[4] != 0,
        })),
        (Kind::Rewrite, _) => Act::Rewrite(RewriteAction::Miss),
        (Kind::NatV4(_), 0) => Act::NatV4(NatAction::Set { client_addr: cast(p[0]), client_port: cast(p[1]) }),
        (Kind::NatV4(_), _) => Act::NatV4(NatAction::Miss),
        (Kind::NatV6(_), 0) => Act::NatV6(NatAction::Set { client_addr: p[0], client_port: cast(p[1]) }),
        (Kind::NatV6(_), _) => Act::NatV6(NatAction::Miss),
    }
}

/// Index in the contract's action list and parameters in contract order.
fn act_values(act: &Act) -> (usize, Vec<u128>) {
    match act {
        Act::Wire(WireAction::Forward(p)) => (0, vec![(*p).into()]),
        Act::Wire(WireAction::Drop) => (1, vec![]),
        Act::Classify(ClassifyAction::Hit { first_member, member_count, mode }) => {
            (0, vec![(*first_member).into(), (*member_count).into(), (*mode).into()])
        }
        Act::Classify(ClassifyAction::Miss) => (1, vec![]),
        Act::Rewrite(RewriteAction::Set(r)) => (
            0,
            vec![
                mac_value(&r.dst_mac),
                mac_value(&r.src_mac),
                r.vlan_id.into(),
                r.truncate_len.into(),
                u128::from(r.nat_restore),
            ],
        ),
        Act::Rewrite(RewriteAction::Miss) => (1, vec![]),
        Act::NatV4(NatAction::Set { client_addr, client_port }) => {
            (0, vec![(*client_addr).into(), (*client_port).into()])
        }
        Act::NatV4(NatAction::Miss) => (1, vec![]),
        Act::NatV6(NatAction::Set { client_addr, client_port }) => (0, vec![*client_addr, (*client_port).into()]),
        Act::NatV6(NatAction::Miss) => (1, vec![]),
    }
}

fn mismatch() -> Failure {
    Failure::new(tonic::Code::Internal, "internal error: key and action of different tables")
}

fn insert_op(key: Key, act: Act, metadata: Vec<u8>) -> Result<TableOp, Failure> {
    Ok(match (key, act) {
        (Key::Wire(p), Act::Wire(a)) => TableOp::InsertWire(WireEntry { ingress_port: p, action: a, metadata }),
        (Key::V4(k, priority), Act::Classify(a)) => {
            TableOp::InsertClassifyV4(ClassifyEntry { key: k, priority, action: a, metadata })
        }
        (Key::V6(k, priority), Act::Classify(a)) => {
            TableOp::InsertClassifyV6(ClassifyEntry { key: k, priority, action: a, metadata })
        }
        (Key::Rewrite(m), Act::Rewrite(a)) => TableOp::InsertRewrite(RewriteEntry { member: m, action: a, metadata }),
        (Key::NatV4(d, k), Act::NatV4(a)) => TableOp::InsertNatV4(d, NatEntry { key: k, action: a, metadata }),
        (Key::NatV6(d, k), Act::NatV6(a)) => TableOp::InsertNatV6(d, NatEntry { key: k, action: a, metadata }),
        _ => return Err(mismatch()),
    })
}

fn modify_op(key: Key, act: Act, metadata: Vec<u8>) -> Result<TableOp, Failure> {
    Ok(match insert_op(key, act, metadata)? {
        TableOp::InsertWire(e) => TableOp::ModifyWire(e),
        TableOp::InsertClassifyV4(e) => TableOp::ModifyClassifyV4(e),
        TableOp::InsertClassifyV6(e) => TableOp::ModifyClassifyV6(e),
        TableOp::InsertRewrite(e) => TableOp::ModifyRewrite(e),
        TableOp::InsertNatV4(d, e) => TableOp::ModifyNatV4(d, e),
        TableOp::InsertNatV6(d, e) => TableOp::ModifyNatV6(d, e),
        _ => return Err(mismatch()),
    })
}

fn delete_op(key: Key) -> TableOp {
    match key {
        Key::Wire(p) => TableOp::DeleteWire { ingress_port: p },
        Key::V4(key, priority) => TableOp::DeleteClassifyV4 { key, priority },
        Key::V6(key, priority) => TableOp::DeleteClassifyV6 { key, priority },
        Key::Rewrite(member) => TableOp::DeleteRewrite { member },
        Key::NatV4(d, k) => TableOp::DeleteNatV4(d, k),
        Key::NatV6(d, k) => TableOp::DeleteNatV6(d, k),
    }
}

fn default_op(kind: Kind, act: Act) -> Result<TableOp, Failure> {
    Ok(match (kind, act) {
        (Kind::Wire, Act::Wire(a)) => TableOp::SetWireDefault(a),
        (Kind::ClassifyV4, Act::Classify(a)) => TableOp::SetClassifyV4Default(a),
        (Kind::ClassifyV6, Act::Classify(a)) => TableOp::SetClassifyV6Default(a),
        (Kind::Rewrite, Act::Rewrite(a)) => TableOp::SetRewriteDefault(a),
        (Kind::NatV4(d), Act::NatV4(a)) => TableOp::SetNatV4Default(d, a),
        (Kind::NatV6(d), Act::NatV6(a)) => TableOp::SetNatV6Default(d, a),
        _ => return Err(mismatch()),
    })
}

/// The direct-counter write of a classify entry (`None` for tables without one).
pub(crate) fn counter_op(key: &Key, value: CounterValue) -> Option<TableOp> {
    match key {
        Key::V4(k, priority) => Some(TableOp::WriteClassifyV4Counter { key: *k, priority: *priority, value }),
        Key::V6(k, priority) => Some(TableOp::WriteClassifyV6Counter { key: *k, priority: *priority, value }),
        _ => None,
    }
}

fn default_act(def: &TableDef) -> Act {
    let n = def.actions[def.default_action].param_pos.len();
    act_from(def.kind, def.default_action, &vec![0; n])
}

fn current_default(def: &TableDef, p: &Pipeline) -> Act {
    match def.kind {
        Kind::Wire => Act::Wire(p.wire_default()),
        Kind::ClassifyV4 => Act::Classify(p.classify_v4_default()),
        Kind::ClassifyV6 => Act::Classify(p.classify_v6_default()),
        Kind::Rewrite => Act::Rewrite(p.rewrite_default()),
        Kind::NatV4(d) => Act::NatV4(p.nat_v4_default(d)),
        Kind::NatV6(d) => Act::NatV6(p.nat_v6_default(d)),
    }
}

/// One installed entry, looked up by its identity.
pub(crate) fn lookup(p: &Pipeline, key: &Key) -> Option<Rec> {
    let rec = |act, meta, counter| Rec { key: key.clone(), act, meta, counter };
    match key {
        Key::Wire(port) => p.wire_entry(*port).map(|e| rec(Act::Wire(e.action), e.metadata, None)),
        Key::V4(k, prio) => {
            p.classify_v4_entry(k, *prio).map(|r| rec(Act::Classify(r.entry.action), r.entry.metadata, Some(r.counter)))
        }
        Key::V6(k, prio) => {
            p.classify_v6_entry(k, *prio).map(|r| rec(Act::Classify(r.entry.action), r.entry.metadata, Some(r.counter)))
        }
        Key::Rewrite(m) => p.rewrite_entry(*m).map(|e| rec(Act::Rewrite(e.action), e.metadata, None)),
        Key::NatV4(d, k) => p.nat_v4_entry(*d, k).map(|e| rec(Act::NatV4(e.action), e.metadata, None)),
        Key::NatV6(d, k) => p.nat_v6_entry(*d, k).map(|e| rec(Act::NatV6(e.action), e.metadata, None)),
    }
}

fn nat_index(d: NatDir) -> usize {
    match d {
        NatDir::Src => 0,
        NatDir::Dst => 1,
    }
}

/// Number of installed entries of a table.
pub(crate) fn len(def: &TableDef, p: &Pipeline) -> usize {
    let s = p.table_sizes();
    match def.kind {
        Kind::Wire => s.wire,
        Kind::ClassifyV4 => s.classify_v4,
        Kind::ClassifyV6 => s.classify_v6,
        Kind::Rewrite => s.rewrite,
        Kind::NatV4(d) => s.nat_v4[nat_index(d)],
        Kind::NatV6(d) => s.nat_v6[nat_index(d)],
    }
}

/// Every installed entry of a table (classify tables: with direct counters, in
/// insertion order).
pub(crate) fn all_records(def: &TableDef, p: &Pipeline) -> Vec<Rec> {
    match def.kind {
        Kind::Wire => p
            .wire_entries()
            .into_iter()
            .map(|e| Rec { key: Key::Wire(e.ingress_port), act: Act::Wire(e.action), meta: e.metadata, counter: None })
            .collect(),
        Kind::ClassifyV4 => p
            .classify_v4_entries()
            .into_iter()
            .map(|r| Rec {
                key: Key::V4(r.entry.key, r.entry.priority),
                act: Act::Classify(r.entry.action),
                meta: r.entry.metadata,
                counter: Some(r.counter),
            })
            .collect(),
        Kind::ClassifyV6 => p
            .classify_v6_entries()
            .into_iter()
            .map(|r| Rec {
                key: Key::V6(r.entry.key, r.entry.priority),
                act: Act::Classify(r.entry.action),
                meta: r.entry.metadata,
                counter: Some(r.counter),
            })
            .collect(),
        Kind::Rewrite => p
            .rewrite_entries()
            .into_iter()
            .map(|e| Rec { key: Key::Rewrite(e.member), act: Act::Rewrite(e.action), meta: e.metadata, counter: None })
            .collect(),
        Kind::NatV4(d) => p
            .nat_v4_entries(d)
            .into_iter()
            .map(|e| Rec { key: Key::NatV4(d, e.key), act: Act::NatV4(e.action), meta: e.metadata, counter: None })
            .collect(),
        Kind::NatV6(d) => p
            .nat_v6_entries(d)
            .into_iter()
            .map(|e| Rec { key: Key::NatV6(d, e.key), act: Act::NatV6(e.action), meta: e.metadata, counter: None })
            .collect(),
    }
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
                        super::hex(&t.value),
                        super::hex(&t.mask)
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
fn parse_action(def: &TableDef, ta: &p4::TableAction, parse: Parse) -> Result<Act, Failure> {
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
    Ok(act_from(def.kind, idx, &vals))
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

/// A Write update of a `TableEntry`.
pub(crate) fn plan_write(
    prog: &Program,
    ty: UpdateType,
    te: &p4::TableEntry,
    pipeline: &Pipeline,
    parse: Parse,
) -> Result<Planned, Failure> {
    let def = prog.table(te.table_id)?;
    if te.is_const {
        return Err(Failure::invalid("is_const must be false in a write"));
    }
    if te.is_default_action {
        return plan_default(def, ty, te, parse);
    }
    let vals = parse_match(def, &te.r#match, parse)?;
    check_priority(def, te.priority)?;
    let key = key_from(def.kind, &vals, te.priority);
    if ty == UpdateType::Delete {
        // Only the key counts; every other field is ignored (spec).
        return Ok(Planned::ops(vec![delete_op(key)]));
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
            ops.push(insert_op(key.clone(), act, te.metadata.to_vec())?);
        }
        (_, Some(ta)) => {
            let act = parse_action(def, ta, parse)?;
            ops.push(modify_op(key.clone(), act, te.metadata.to_vec())?);
        }
        (_, None) => {
            // MODIFY without an action changes only the direct counter, if given.
            if lookup(pipeline, &key).is_none() {
                return Err(Failure::not_found(format!("table {}: entry not found", def.info.name)));
            }
        }
    }
    if let Some(c) = counter {
        ops.extend(counter_op(&key, c));
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
        ops: vec![default_op(def.kind, act)?],
        fill: None,
        side: vec![SideEffect::DefaultMetadata(def.info.id, meta)],
    })
}

/// Operations resetting a table: delete every entry, restore the default action.
pub(crate) fn reset_ops(def: &TableDef, p: &Pipeline, ops: &mut Vec<TableOp>) {
    for r in all_records(def, p) {
        ops.push(delete_op(r.key));
    }
    if let Ok(op) = default_op(def.kind, default_act(def)) {
        ops.push(op);
    }
}

// ------------------------------------------------------------- typed -> P4Runtime

fn action_proto(def: &TableDef, act: &Act) -> p4::TableAction {
    let (idx, vals) = act_values(act);
    let ad = &def.actions[idx];
    let mut params: Vec<(usize, p4::action::Param)> = ad
        .param_pos
        .iter()
        .zip(&vals)
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

fn match_proto(def: &TableDef, key: &Key) -> (Vec<p4::FieldMatch>, i32) {
    let (vals, prio) = key_values(key);
    let mut out: Vec<(usize, p4::FieldMatch)> = Vec::with_capacity(vals.len());
    for (&pos, &(v, m)) in def.field_pos.iter().zip(&vals) {
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

fn entry_proto(def: &TableDef, r: &Rec, with_counter: bool) -> p4::TableEntry {
    let (r#match, priority) = match_proto(def, &r.key);
    p4::TableEntry {
        table_id: def.info.id,
        r#match,
        action: Some(action_proto(def, &r.act)),
        priority,
        metadata: r.meta.clone().into(),
        counter_data: if with_counter { r.counter.map(|c| Box::new(counter_proto(c))) } else { None },
        ..Default::default()
    }
}

/// The `table_entry` of a `DirectCounterEntry`: key fields only.
pub(crate) fn direct_counter_proto(def: &TableDef, r: &Rec) -> p4::DirectCounterEntry {
    let (r#match, priority) = match_proto(def, &r.key);
    p4::DirectCounterEntry {
        table_entry: Some(p4::TableEntry { table_id: def.info.id, r#match, priority, ..Default::default() }),
        data: Some(counter_proto(r.counter.unwrap_or_default())),
    }
}

/// Parses the key of a classify entry named by a `DirectCounterEntry`.
pub(crate) fn direct_key(def: &TableDef, te: &p4::TableEntry, parse: Parse) -> Result<Key, Failure> {
    let vals = parse_match(def, &te.r#match, parse)?;
    check_priority(def, te.priority)?;
    Ok(key_from(def.kind, &vals, te.priority))
}

/// Whether two keys are equal up to the priority.
fn same_match(a: &Key, b: &Key) -> bool {
    match (a, b) {
        (Key::V4(x, _), Key::V4(y, _)) => x == y,
        (Key::V6(x, _), Key::V6(y, _)) => x == y,
        _ => a == b,
    }
}

/// Entries a `TableEntry` read request selects (`match` set: that entry, or with
/// priority 0 on a ternary table every priority of that match).
pub(crate) fn select(
    def: &TableDef,
    te: &p4::TableEntry,
    p: &Pipeline,
    parse: Parse,
    budget: &mut Budget,
) -> Result<Vec<Rec>, Failure> {
    if te.r#match.is_empty() {
        budget.spend(len(def, p))?;
        return Ok(all_records(def, p));
    }
    let vals = parse_match(def, &te.r#match, parse)?;
    if def.needs_priority() && te.priority == 0 {
        budget.spend(len(def, p))?;
        let probe = key_from(def.kind, &vals, 0);
        return Ok(all_records(def, p).into_iter().filter(|r| same_match(&r.key, &probe)).collect());
    }
    check_priority(def, te.priority)?;
    Ok(lookup(p, &key_from(def.kind, &vals, te.priority)).into_iter().collect())
}

/// A `TableEntry` read request (spec "Wildcard Reads").
pub(crate) fn read(
    prog: &'static Program,
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
        prog.tables().iter().collect()
    } else {
        vec![prog.table(te.table_id)?]
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
                    action: Some(action_proto(def, &current_default(def, p))),
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
                (priority == 0 || key_values(&r.key).1 == priority)
                    && (metadata.is_empty() || r.meta == metadata)
                    && action_filter.is_none_or(|id| def.actions[act_values(&r.act).0].info.id == id)
            })
            .map(move |r| entity(E::TableEntry(entry_proto(def, &r, with_counter))));
        parts.push(Box::new(iter));
    }
    Ok(Box::new(parts.into_iter().flatten()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_and_action_round_trip() {
        let prog = super::super::program();
        for def in prog.tables() {
            let n = def.field_pos.len();
            let vals: Vec<(u128, u128)> = (0..n)
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
            let prio = if def.needs_priority() { 7 } else { 0 };
            let key = key_from(def.kind, &vals, prio);
            assert_eq!(key_values(&key), (vals.clone(), prio), "{}", def.info.name);
            for idx in 0..def.actions.len() {
                let params: Vec<u128> = def.actions[idx]
                    .param_pos
                    .iter()
                    .map(|&pos| bytestring::mask(def.actions[idx].info.params[pos].bitwidth))
                    .collect();
                let act = act_from(def.kind, idx, &params);
                assert_eq!(act_values(&act), (idx, params), "{}", def.info.name);
            }
        }
    }
}
