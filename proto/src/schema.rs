//! [`P4Schema`]: name and id lookups over a P4Info.
//!
//! Objects are found by their P4Info `name` or `alias`, or by id; match fields
//! and action parameters by name or id within their table / action. Unknown
//! names fail with an error listing what exists.
//!
//! ```
//! use p4clone_proto::schema::{MatchKind, P4Schema};
//! let schema = P4Schema::from_text(r#"
//!   tables {
//!     preamble { id: 33554433 name: "ingress.wire" alias: "wire" }
//!     match_fields { id: 1 name: "ingress_port" bitwidth: 9 match_type: EXACT }
//!     action_refs { id: 16777217 }
//!     size: 512
//!   }
//!   actions {
//!     preamble { id: 16777217 name: "wire_forward" alias: "wire_forward" }
//!     params { id: 1 name: "port" bitwidth: 9 }
//!   }
//! "#).unwrap();
//! let wire = schema.table("wire").unwrap();
//! assert_eq!(wire.id, 0x0200_0001);
//! assert_eq!(wire.match_field("ingress_port").unwrap().match_type, MatchKind::Exact);
//! assert_eq!(schema.action_param("wire_forward", "port").unwrap().bitwidth, 9);
//! let err = schema.table("nope").unwrap_err().to_string();
//! assert_eq!(err, "no table `nope` in the P4Info (tables: ingress.wire)");
//! ```

use std::collections::HashMap;

use crate::p4::config::v1 as cfg;
use crate::Error;

pub use cfg::counter_spec::Unit as CounterUnit;

/// How many names an "unknown name" error lists before abbreviating.
const MAX_LISTED: usize = 24;

/// The match kind of a key field.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MatchKind {
    /// `exact`.
    Exact,
    /// `lpm`.
    Lpm,
    /// `ternary`.
    Ternary,
    /// `range`.
    Range,
    /// `optional`.
    Optional,
    /// An architecture-specific match kind (`other_match_type`).
    Other(String),
}

impl MatchKind {
    /// Whether entries of a table with such a key need a priority.
    pub fn needs_priority(&self) -> bool {
        matches!(self, Self::Ternary | Self::Range | Self::Optional)
    }
}

/// A table key field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchFieldInfo {
    /// Field id (unique within the table).
    pub id: u32,
    /// Field name.
    pub name: String,
    /// Width in bits.
    pub bitwidth: u32,
    /// Match kind.
    pub match_type: MatchKind,
}

/// A match-action table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableInfo {
    /// Table id.
    pub id: u32,
    /// P4Info name.
    pub name: String,
    /// P4Info alias.
    pub alias: String,
    /// Key fields, in P4Info order.
    pub match_fields: Vec<MatchFieldInfo>,
    /// Ids of the actions the table may use.
    pub action_ids: Vec<u32>,
    /// Id of the const default action, if the default action is const.
    pub const_default_action_id: Option<u32>,
    /// Id of the initial default action, if the P4Info states it (v1.4+).
    pub initial_default_action_id: Option<u32>,
    /// Ids of attached direct counters / meters.
    pub direct_resource_ids: Vec<u32>,
    /// Maximum number of entries.
    pub size: i64,
    /// Whether the entries are fixed by the program (`const entries`).
    pub is_const: bool,
}

impl TableInfo {
    /// The key field called `name`.
    pub fn match_field(&self, name: &str) -> Result<&MatchFieldInfo, Error> {
        self.match_fields.iter().find(|f| f.name == name).ok_or_else(|| self.unknown_field(name.to_string()))
    }

    /// The key field with id `id`.
    pub fn match_field_by_id(&self, id: u32) -> Result<&MatchFieldInfo, Error> {
        self.match_fields.iter().find(|f| f.id == id).ok_or_else(|| self.unknown_field(format!("#{id}")))
    }

    /// Whether `action_id` is one of the table's actions.
    pub fn has_action(&self, action_id: u32) -> bool {
        self.action_ids.contains(&action_id)
    }

    /// Whether entries need a priority (some key is ternary, range or optional).
    pub fn needs_priority(&self) -> bool {
        self.match_fields.iter().any(|f| f.match_type.needs_priority())
    }

    fn unknown_field(&self, name: String) -> Error {
        Error::UnknownMember {
            owner_kind: "table",
            owner: self.name.clone(),
            kind: "match field",
            name,
            known: list(self.match_fields.iter().map(|f| f.name.as_str())),
        }
    }
}

/// An action parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamInfo {
    /// Parameter id (unique within the action).
    pub id: u32,
    /// Parameter name.
    pub name: String,
    /// Width in bits.
    pub bitwidth: u32,
}

/// An action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionInfo {
    /// Action id.
    pub id: u32,
    /// P4Info name.
    pub name: String,
    /// P4Info alias.
    pub alias: String,
    /// Parameters, in P4Info order.
    pub params: Vec<ParamInfo>,
}

impl ActionInfo {
    /// The parameter called `name`.
    pub fn param(&self, name: &str) -> Result<&ParamInfo, Error> {
        self.params.iter().find(|p| p.name == name).ok_or_else(|| self.unknown_param(name.to_string()))
    }

    /// The parameter with id `id`.
    pub fn param_by_id(&self, id: u32) -> Result<&ParamInfo, Error> {
        self.params.iter().find(|p| p.id == id).ok_or_else(|| self.unknown_param(format!("#{id}")))
    }

    fn unknown_param(&self, name: String) -> Error {
        Error::UnknownMember {
            owner_kind: "action",
            owner: self.name.clone(),
            kind: "parameter",
            name,
            known: list(self.params.iter().map(|p| p.name.as_str())),
        }
    }
}

/// An indexed counter array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterInfo {
    /// Counter id.
    pub id: u32,
    /// P4Info name.
    pub name: String,
    /// P4Info alias.
    pub alias: String,
    /// Number of cells.
    pub size: i64,
    /// What is counted.
    pub unit: CounterUnit,
}

/// A counter attached to a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectCounterInfo {
    /// Direct counter id.
    pub id: u32,
    /// P4Info name.
    pub name: String,
    /// P4Info alias.
    pub alias: String,
    /// Id of the table it is attached to.
    pub table_id: u32,
    /// What is counted.
    pub unit: CounterUnit,
}

/// A register array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterInfo {
    /// Register id.
    pub id: u32,
    /// P4Info name.
    pub name: String,
    /// P4Info alias.
    pub alias: String,
    /// Number of cells.
    pub size: i64,
    /// Cell width in bits for `bit<W>` / `int<W>` registers, `None` for other
    /// cell types.
    pub bitwidth: Option<u32>,
}

/// Objects of one kind, indexed by id and by name / alias.
#[derive(Debug, Clone)]
struct Index<T> {
    kind: &'static str,
    items: Vec<T>,
    by_id: HashMap<u32, usize>,
    by_name: HashMap<String, usize>,
}

impl<T> Index<T> {
    fn build(kind: &'static str, items: Vec<T>, key: impl Fn(&T) -> (u32, &str, &str)) -> Result<Self, Error> {
        let mut by_id = HashMap::new();
        let mut by_name = HashMap::new();
        for (i, item) in items.iter().enumerate() {
            let (id, name, _) = key(item);
            if id == 0 {
                return Err(Error::InvalidP4Info(format!("{kind} `{name}` has id 0")));
            }
            if by_id.insert(id, i).is_some() {
                return Err(Error::InvalidP4Info(format!("two {kind}s have id {id:#010x}")));
            }
            if by_name.insert(name.to_string(), i).is_some() {
                return Err(Error::InvalidP4Info(format!("two {kind}s are named `{name}`")));
            }
        }
        // Aliases never shadow names.
        for (i, item) in items.iter().enumerate() {
            let (_, _, alias) = key(item);
            if !alias.is_empty() {
                by_name.entry(alias.to_string()).or_insert(i);
            }
        }
        Ok(Self { kind, items, by_id, by_name })
    }

    fn get(&self, name: &str, names: impl Fn(&T) -> &str) -> Result<&T, Error> {
        self.by_name.get(name).map(|&i| &self.items[i]).ok_or_else(|| Error::UnknownName {
            kind: self.kind,
            name: name.to_string(),
            known: list(self.items.iter().map(names)),
        })
    }

    fn get_id(&self, id: u32) -> Result<&T, Error> {
        self.by_id.get(&id).map(|&i| &self.items[i]).ok_or(Error::UnknownId { kind: self.kind, id })
    }
}

/// A P4Info with name / id indexes over its tables, actions, counters, direct
/// counters and registers. Built once, then read-only (cheap to share).
#[derive(Debug, Clone)]
pub struct P4Schema {
    p4info: cfg::P4Info,
    tables: Index<TableInfo>,
    actions: Index<ActionInfo>,
    counters: Index<CounterInfo>,
    direct_counters: Index<DirectCounterInfo>,
    registers: Index<RegisterInfo>,
}

impl P4Schema {
    /// Indexes `p4info`. Fails on duplicate or zero ids, duplicate names,
    /// missing preambles and key fields without a match kind.
    pub fn new(p4info: cfg::P4Info) -> Result<Self, Error> {
        let tables = p4info.tables.iter().map(table_info).collect::<Result<Vec<_>, _>>()?;
        let actions = p4info.actions.iter().map(action_info).collect::<Result<Vec<_>, _>>()?;
        let counters = p4info
            .counters
            .iter()
            .map(|c| {
                let (id, name, alias) = preamble("counter", c.preamble.as_ref())?;
                Ok(CounterInfo { id, name, alias, size: c.size, unit: counter_unit(c.spec.as_ref()) })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let direct_counters = p4info
            .direct_counters
            .iter()
            .map(|c| {
                let (id, name, alias) = preamble("direct counter", c.preamble.as_ref())?;
                Ok(DirectCounterInfo {
                    id,
                    name,
                    alias,
                    table_id: c.direct_table_id,
                    unit: counter_unit(c.spec.as_ref()),
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let registers = p4info
            .registers
            .iter()
            .map(|r| {
                let (id, name, alias) = preamble("register", r.preamble.as_ref())?;
                Ok(RegisterInfo { id, name, alias, size: i64::from(r.size), bitwidth: register_bitwidth(r) })
            })
            .collect::<Result<Vec<_>, Error>>()?;

        Ok(Self {
            tables: Index::build("table", tables, |t| (t.id, &t.name, &t.alias))?,
            actions: Index::build("action", actions, |a| (a.id, &a.name, &a.alias))?,
            counters: Index::build("counter", counters, |c| (c.id, &c.name, &c.alias))?,
            direct_counters: Index::build("direct counter", direct_counters, |c| (c.id, &c.name, &c.alias))?,
            registers: Index::build("register", registers, |r| (r.id, &r.name, &r.alias))?,
            p4info,
        })
    }

    /// Parses a P4Info in protobuf text format and indexes it.
    pub fn from_text(text: &str) -> Result<Self, Error> {
        Self::new(crate::format::from_text(text)?)
    }

    /// The underlying P4Info.
    pub fn p4info(&self) -> &cfg::P4Info {
        &self.p4info
    }

    /// All tables, in P4Info order.
    pub fn tables(&self) -> &[TableInfo] {
        &self.tables.items
    }

    /// The table called `name` (P4Info name or alias).
    pub fn table(&self, name: &str) -> Result<&TableInfo, Error> {
        self.tables.get(name, |t| &t.name)
    }

    /// The table with id `id`.
    pub fn table_by_id(&self, id: u32) -> Result<&TableInfo, Error> {
        self.tables.get_id(id)
    }

    /// The key field `field` of table `table`.
    pub fn match_field(&self, table: &str, field: &str) -> Result<&MatchFieldInfo, Error> {
        self.table(table)?.match_field(field)
    }

    /// All actions, in P4Info order.
    pub fn actions(&self) -> &[ActionInfo] {
        &self.actions.items
    }

    /// The action called `name` (P4Info name or alias).
    pub fn action(&self, name: &str) -> Result<&ActionInfo, Error> {
        self.actions.get(name, |a| &a.name)
    }

    /// The action with id `id`.
    pub fn action_by_id(&self, id: u32) -> Result<&ActionInfo, Error> {
        self.actions.get_id(id)
    }

    /// The parameter `param` of action `action`.
    pub fn action_param(&self, action: &str, param: &str) -> Result<&ParamInfo, Error> {
        self.action(action)?.param(param)
    }

    /// All indexed counters, in P4Info order.
    pub fn counters(&self) -> &[CounterInfo] {
        &self.counters.items
    }

    /// The counter called `name` (P4Info name or alias).
    pub fn counter(&self, name: &str) -> Result<&CounterInfo, Error> {
        self.counters.get(name, |c| &c.name)
    }

    /// The counter with id `id`.
    pub fn counter_by_id(&self, id: u32) -> Result<&CounterInfo, Error> {
        self.counters.get_id(id)
    }

    /// All direct counters, in P4Info order.
    pub fn direct_counters(&self) -> &[DirectCounterInfo] {
        &self.direct_counters.items
    }

    /// The direct counter called `name` (P4Info name or alias).
    pub fn direct_counter(&self, name: &str) -> Result<&DirectCounterInfo, Error> {
        self.direct_counters.get(name, |c| &c.name)
    }

    /// The direct counter with id `id`.
    pub fn direct_counter_by_id(&self, id: u32) -> Result<&DirectCounterInfo, Error> {
        self.direct_counters.get_id(id)
    }

    /// The direct counter attached to table `table_id`, if any.
    pub fn direct_counter_of_table(&self, table_id: u32) -> Option<&DirectCounterInfo> {
        self.direct_counters.items.iter().find(|c| c.table_id == table_id)
    }

    /// All registers, in P4Info order.
    pub fn registers(&self) -> &[RegisterInfo] {
        &self.registers.items
    }

    /// The register called `name` (P4Info name or alias).
    pub fn register(&self, name: &str) -> Result<&RegisterInfo, Error> {
        self.registers.get(name, |r| &r.name)
    }

    /// The register with id `id`.
    pub fn register_by_id(&self, id: u32) -> Result<&RegisterInfo, Error> {
        self.registers.get_id(id)
    }
}

fn preamble(kind: &str, p: Option<&cfg::Preamble>) -> Result<(u32, String, String), Error> {
    let p = p.ok_or_else(|| Error::InvalidP4Info(format!("a {kind} has no preamble")))?;
    Ok((p.id, p.name.clone(), p.alias.clone()))
}

fn table_info(t: &cfg::Table) -> Result<TableInfo, Error> {
    let (id, name, alias) = preamble("table", t.preamble.as_ref())?;
    let match_fields = t
        .match_fields
        .iter()
        .map(|f| {
            let match_type = match &f.r#match {
                Some(cfg::match_field::Match::MatchType(m)) => {
                    use cfg::match_field::MatchType as M;
                    match M::try_from(*m) {
                        Ok(M::Exact) => MatchKind::Exact,
                        Ok(M::Lpm) => MatchKind::Lpm,
                        Ok(M::Ternary) => MatchKind::Ternary,
                        Ok(M::Range) => MatchKind::Range,
                        Ok(M::Optional) => MatchKind::Optional,
                        Ok(M::Unspecified) | Err(_) => {
                            return Err(Error::InvalidP4Info(format!(
                                "match field `{}` of table `{name}` has no valid match type",
                                f.name
                            )))
                        }
                    }
                }
                Some(cfg::match_field::Match::OtherMatchType(o)) => MatchKind::Other(o.clone()),
                None => {
                    return Err(Error::InvalidP4Info(format!(
                        "match field `{}` of table `{name}` has no match type",
                        f.name
                    )))
                }
            };
            Ok(MatchFieldInfo { id: f.id, name: f.name.clone(), bitwidth: width(f.bitwidth), match_type })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(TableInfo {
        id,
        name,
        alias,
        match_fields,
        action_ids: t.action_refs.iter().map(|a| a.id).collect(),
        const_default_action_id: (t.const_default_action_id != 0).then_some(t.const_default_action_id),
        initial_default_action_id: t.initial_default_action.as_ref().map(|a| a.action_id),
        direct_resource_ids: t.direct_resource_ids.clone(),
        size: t.size,
        is_const: t.is_const_table,
    })
}

fn action_info(a: &cfg::Action) -> Result<ActionInfo, Error> {
    let (id, name, alias) = preamble("action", a.preamble.as_ref())?;
    Ok(ActionInfo {
        id,
        name,
        alias,
        params: a
            .params
            .iter()
            .map(|p| ParamInfo { id: p.id, name: p.name.clone(), bitwidth: width(p.bitwidth) })
            .collect(),
    })
}

fn counter_unit(spec: Option<&cfg::CounterSpec>) -> CounterUnit {
    spec.and_then(|s| CounterUnit::try_from(s.unit).ok()).unwrap_or(CounterUnit::Unspecified)
}

fn register_bitwidth(r: &cfg::Register) -> Option<u32> {
    use cfg::p4_bitstring_like_type_spec::TypeSpec as B;
    use cfg::p4_data_type_spec::TypeSpec as D;
    match r.type_spec.as_ref()?.type_spec.as_ref()? {
        D::Bitstring(b) => match b.type_spec.as_ref()? {
            B::Bit(bit) => Some(width(bit.bitwidth)),
            B::Int(int) => Some(width(int.bitwidth)),
            B::Varbit(_) => None,
        },
        _ => None,
    }
}

fn width(bitwidth: i32) -> u32 {
    u32::try_from(bitwidth).unwrap_or(0)
}

fn list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.collect();
    if names.is_empty() {
        return "none".to_string();
    }
    let mut out = names.iter().take(MAX_LISTED).copied().collect::<Vec<_>>().join(", ");
    if names.len() > MAX_LISTED {
        out.push_str(&format!(", ... ({} in all)", names.len()));
    }
    out
}
