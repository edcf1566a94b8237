//! `wire`: the port-to-port forwarding table, keyed by ingress port.

use super::contract::{
    check_port, exact_value, from_value, ActionValues, EntryOp, MatchValues, Op, Schema, Table, TableError, TableId,
};
use super::store::{Change, ReadCtx, Stored, WriteCtx};
use crate::sizes::{Port, DROP_PORT, PORT_COUNT};
use crate::state::CounterValue;

/// Action of `wire`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WireAction {
    /// `wire_forward(port)`.
    Forward(Port),
    /// `wire_drop`.
    Drop,
}

/// An entry of `wire`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireEntry {
    /// Key: `ingress_port`.
    pub ingress_port: Port,
    /// Action.
    pub action: WireAction,
    /// Opaque `TableEntry.metadata`.
    pub metadata: Vec<u8>,
}

/// The `wire` table (see [`WIRE`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct WireTable;

/// `wire`.
pub const WIRE: WireTable = WireTable;

static SCHEMA: Schema = Schema {
    name: "wire",
    ternary: false,
    fields: &[("ingress_port", 9)],
    actions: &[("wire_forward", &[("port", 9)]), ("wire_drop", &[])],
    default_action: 1,
    direct_counter: false,
};

/// Resolved `wire` lookup for one ingress port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WireFast {
    /// `egress_spec` after the action (511 = drop).
    pub egress: Port,
    /// `wire.apply().hit`.
    pub hit: bool,
}

/// One copy of `wire`.
pub struct WireStore {
    entries: Box<[Option<WireAction>]>,
    /// By ingress port: what the packet path reads.
    pub(crate) fast: Box<[WireFast]>,
    default: WireAction,
    len: usize,
}

fn egress(a: WireAction) -> Port {
    match a {
        WireAction::Forward(p) => p,
        WireAction::Drop => DROP_PORT,
    }
}

impl WireStore {
    /// No entries, default `wire_drop`.
    pub(crate) fn new() -> Self {
        WireStore {
            entries: vec![None; PORT_COUNT].into_boxed_slice(),
            fast: vec![WireFast { egress: DROP_PORT, hit: false }; PORT_COUNT].into_boxed_slice(),
            default: WireAction::Drop,
            len: 0,
        }
    }

    fn refresh(&mut self, port: usize) {
        self.fast[port] = match self.entries[port] {
            Some(a) => WireFast { egress: egress(a), hit: true },
            None => WireFast { egress: egress(self.default), hit: false },
        };
    }

    fn set(&mut self, port: Port, a: Option<WireAction>) {
        let p = usize::from(port);
        match (self.entries[p].is_some(), a.is_some()) {
            (false, true) => self.len += 1,
            (true, false) => self.len -= 1,
            _ => {}
        }
        self.entries[p] = a;
        self.refresh(p);
    }

    fn set_default(&mut self, a: WireAction) {
        self.default = a;
        for p in 0..PORT_COUNT {
            self.refresh(p);
        }
    }

    fn record(&self, ctx: &ReadCtx<'_>, port: Port) -> Option<WireEntry> {
        let action = (*self.entries.get(usize::from(port))?)?;
        Some(WireEntry { ingress_port: port, action, metadata: ctx.meta(&meta_key(port)) })
    }
}

fn meta_key(port: Port) -> (TableId, u128, u32) {
    (TableId::Wire, port.into(), 0)
}

fn check_action(a: &WireAction) -> Result<(), TableError> {
    match a {
        WireAction::Forward(p) => check_port(TableId::Wire, "port", *p),
        WireAction::Drop => Ok(()),
    }
}

impl Table for WireTable {
    type Key = Port;
    type Action = WireAction;
    type Entry = WireEntry;
    type Record = WireEntry;

    fn id(self) -> TableId {
        TableId::Wire
    }
    fn schema(self) -> &'static Schema {
        &SCHEMA
    }
    fn entry(ingress_port: Port, action: WireAction, metadata: Vec<u8>) -> WireEntry {
        WireEntry { ingress_port, action, metadata }
    }
    fn entry_parts(e: WireEntry) -> (Port, WireAction, Vec<u8>) {
        (e.ingress_port, e.action, e.metadata)
    }
    fn record_parts(r: WireEntry) -> (WireEntry, Option<CounterValue>) {
        (r, None)
    }
    fn key_from_values(v: &MatchValues) -> Port {
        from_value(v.fields[0].0)
    }
    fn key_values(k: &Port) -> MatchValues {
        MatchValues { fields: vec![exact_value(*k)], priority: 0 }
    }
    fn action_from_values(v: &ActionValues) -> WireAction {
        match v.index {
            0 => WireAction::Forward(from_value(v.params[0])),
            _ => WireAction::Drop,
        }
    }
    fn action_values(a: &WireAction) -> ActionValues {
        match a {
            WireAction::Forward(p) => ActionValues { index: 0, params: vec![(*p).into()] },
            WireAction::Drop => ActionValues { index: 1, params: vec![] },
        }
    }
}

impl Stored for WireTable {
    type Store = WireStore;

    fn write(
        self,
        s: &WireStore,
        ctx: &mut WriteCtx<'_>,
        op: EntryOp<Self>,
    ) -> Result<Option<Change<WireStore>>, TableError> {
        let table = TableId::Wire;
        let (e, insert) = match op {
            Op::Insert(e) => (e, true),
            Op::Modify(e) => (e, false),
            Op::Delete(port) => {
                check_port(table, "ingress_port", port)?;
                if s.entries[usize::from(port)].is_none() {
                    return Err(TableError::NotFound { table });
                }
                ctx.remove_meta(&meta_key(port));
                return Ok(Some(Box::new(move |s: &mut WireStore| s.set(port, None))));
            }
            Op::SetDefault(a) => {
                check_action(&a)?;
                return Ok(Some(Box::new(move |s: &mut WireStore| s.set_default(a))));
            }
            Op::SetDirectCounter(..) => return Err(TableError::NotFound { table }),
        };
        check_port(table, "ingress_port", e.ingress_port)?;
        check_action(&e.action)?;
        match (insert, s.entries[usize::from(e.ingress_port)].is_some()) {
            (true, true) => return Err(TableError::AlreadyExists { table }),
            (false, false) => return Err(TableError::NotFound { table }),
            _ => {}
        }
        let (port, action) = (e.ingress_port, e.action);
        ctx.set_meta(meta_key(port), e.metadata);
        Ok(Some(Box::new(move |s: &mut WireStore| s.set(port, Some(action)))))
    }

    fn len(s: &WireStore) -> usize {
        s.len
    }
    fn default_action(s: &WireStore) -> WireAction {
        s.default
    }
    fn record(self, s: &WireStore, ctx: &ReadCtx<'_>, key: &Port) -> Option<WireEntry> {
        s.record(ctx, *key)
    }
    fn records(self, s: &WireStore, ctx: &ReadCtx<'_>) -> Vec<WireEntry> {
        (0..PORT_COUNT as Port).filter_map(|p| s.record(ctx, p)).collect()
    }
}
