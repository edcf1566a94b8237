//! What translating one P4Runtime request produces, shared by the entity
//! modules: a refusal ([`Failure`]: canonical code and message), the bytestring
//! checks ([`Parse`]), the planned pipeline operations of an update ([`Planned`]),
//! the server-side state the pipeline does not hold ([`SideState`]), and the
//! entity budget of a read ([`Budget`]).

use std::collections::{HashMap, HashSet};

use p4clone_pipeline::{TableError, TableOp};
use p4clone_proto::bytestring;
use p4clone_proto::p4::v1::{self as p4, entity::Entity as E};
use p4clone_proto::status;

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
    /// `class_of_service` of clone sessions written with a non-zero one (Stratum
    /// rules only; the pipeline does not keep it).
    pub(crate) session_cos: HashMap<u16, u32>,
}

/// A change to [`SideState`] made when its update succeeds.
#[derive(Debug, Clone)]
pub(crate) enum SideEffect {
    DefaultMetadata(u32, Vec<u8>),
    SessionPortForm(u16, bool),
    SessionCos(u16, u32),
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
            SideEffect::SessionCos(s, cos) => {
                if cos == 0 {
                    self.session_cos.remove(&s);
                } else {
                    self.session_cos.insert(s, cos);
                }
            }
            SideEffect::SessionRemoved(s) => {
                self.session_port_bytes.remove(&s);
                self.session_cos.remove(&s);
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
    pub(super) fn ops(ops: Vec<TableOp>) -> Self {
        Planned { ops, ..Default::default() }
    }

    pub(super) fn fill(fill: Fill) -> Self {
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
    Register { reg: super::registers::Reg, value: u32, cells: u32 },
}

impl Fill {
    pub(super) fn ops(self) -> impl Iterator<Item = TableOp> {
        let cells = match self {
            Fill::Counter { cells, .. } | Fill::Register { cells, .. } => cells,
        };
        (0..cells).map(move |index| match self {
            Fill::Counter { counter, value, .. } => TableOp::WriteCounter { counter, index, value },
            Fill::Register { reg, value, .. } => reg.op(index, value),
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
