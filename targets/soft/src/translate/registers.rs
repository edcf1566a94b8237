//! `RegisterEntry`: the `rr_cursor` and `sample_cursor` registers (`bit<16>`, one
//! cell per profile block's first member) and the `erspan_seq` register (`bit<32>`,
//! one cell per member).
//!
//! Writes are MODIFY only; an unset `index` writes every cell (spec "RegisterEntry":
//! wildcard reads and writes). Data is a `P4Data` bitstring of the register's width.

use p4clone_pipeline::{Pipeline, TableOp, ERSPAN_SEQ_SIZE, RR_CURSOR_SIZE};
use p4clone_proto::bytestring;
use p4clone_proto::p4::v1::{self as p4, entity::Entity as E, p4_data::Data, update::Type as UpdateType};
use p4clone_proto::program::registers;
use p4clone_proto::schema::{P4Schema, RegisterInfo};

use super::update::{check_index, entity, Budget, EntityIter, Failure, Fill, Parse, Planned};

/// Which of the pipeline's registers a P4Info register is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reg {
    /// `rr_cursor`.
    RrCursor,
    /// `erspan_seq`.
    ErspanSeq,
    /// `sample_cursor`.
    SampleCursor,
}

impl Reg {
    /// One cell write.
    pub(crate) fn op(self, index: u32, value: u32) -> TableOp {
        match self {
            Reg::RrCursor => TableOp::WriteRrCursor { index, value: value as u16 },
            Reg::ErspanSeq => TableOp::WriteErspanSeq { index, value },
            Reg::SampleCursor => TableOp::WriteSampleCursor { index, value: value as u16 },
        }
    }
}

/// The contract's registers: (name, register, width, pipeline size).
const REGISTERS: &[(&str, Reg, u32, usize)] = &[
    (registers::RR_CURSOR.name, Reg::RrCursor, 16, RR_CURSOR_SIZE),
    (registers::ERSPAN_SEQ.name, Reg::ErspanSeq, 32, ERSPAN_SEQ_SIZE),
    (registers::SAMPLE_CURSOR.name, Reg::SampleCursor, 16, RR_CURSOR_SIZE),
];

/// A register of the contract, bound to the pipeline's.
#[derive(Debug)]
pub(crate) struct RegisterDef {
    pub info: RegisterInfo,
    pub reg: Reg,
    pub bitwidth: u32,
    pub size: usize,
}

/// Registers a TNA P4Info may leave out (its program has no ERSPAN encapsulation).
const ABSENT_FROM_TNA: [Reg; 2] = [Reg::ErspanSeq, Reg::SampleCursor];

/// Binds every P4Info register to the pipeline's; with `tna`, those of
/// [`ABSENT_FROM_TNA`] may be absent.
pub(crate) fn bind(schema: &P4Schema, tna: bool) -> Result<Vec<RegisterDef>, String> {
    let mut out = Vec::new();
    for r in schema.registers() {
        let Some(&(name, reg, bits, size)) = REGISTERS.iter().find(|(n, ..)| *n == r.name) else {
            return Err(format!("register `{}` is not in the data-plane contract", r.name));
        };
        if r.bitwidth != Some(bits) {
            return Err(format!("register `{name}` is {:?} bits, the contract says bit<{bits}>", r.bitwidth));
        }
        out.push(RegisterDef {
            info: r.clone(),
            reg,
            bitwidth: bits,
            size: usize::try_from(r.size).unwrap_or(0).min(size),
        });
    }
    let mut required = REGISTERS.iter().filter(|(_, reg, ..)| !(tna && ABSENT_FROM_TNA.contains(reg)));
    if let Some((name, ..)) = required.find(|(_, reg, ..)| !out.iter().any(|d| d.reg == *reg)) {
        return Err(format!("the P4Info has no register `{name}`"));
    }
    Ok(out)
}

/// The register `id` of `registers` (INVALID_ARGUMENT when the P4Info has none).
fn find(registers: &[RegisterDef], id: u32) -> Result<&RegisterDef, Failure> {
    {
        registers
            .iter()
            .find(|r| r.info.id == id)
            .ok_or_else(|| Failure::invalid(format!("no register with id {id:#010x} in the P4Info")))
    }
}

/// A Write update of a `RegisterEntry`.
pub(crate) fn plan_write(
    registers: &[RegisterDef],
    ty: UpdateType,
    re: &p4::RegisterEntry,
    parse: Parse,
) -> Result<Planned, Failure> {
    if ty != UpdateType::Modify {
        return Err(Failure::invalid("register entries can only be modified (INSERT and DELETE are not allowed)"));
    }
    let def = find(registers, re.register_id)?;
    let index = check_index(re.index.as_ref(), def.size, &def.info.name)?;
    let value = match re.data.as_ref().and_then(|d| d.data.as_ref()) {
        Some(Data::Bitstring(b)) => parse.uint(b, def.bitwidth, &|| format!("register {} data", def.info.name))? as u32,
        Some(_) => {
            return Err(Failure::invalid(format!(
                "register {} holds bit<{}>: its data must be a bitstring",
                def.info.name, def.bitwidth
            )))
        }
        None => return Err(Failure::invalid(format!("register {}: the write has no data", def.info.name))),
    };
    Ok(match index {
        Some(index) => Planned::ops(vec![def.reg.op(index, value)]),
        None => Planned::fill(Fill::Register { reg: def.reg, value, cells: def.size as u32 }),
    })
}

fn register_entity(def: &RegisterDef, index: u32, value: u32) -> p4::Entity {
    entity(E::RegisterEntry(p4::RegisterEntry {
        register_id: def.info.id,
        index: Some(p4::Index { index: i64::from(index) }),
        data: Some(p4::P4Data { data: Some(Data::Bitstring(bytestring::encode(value.into()).into())) }),
    }))
}

/// A `RegisterEntry` read request: register id 0 = all registers, no index = all cells.
pub(crate) fn read(
    registers: &'static [RegisterDef],
    re: &p4::RegisterEntry,
    p: &Pipeline,
    budget: &mut Budget,
) -> Result<EntityIter, Failure> {
    let defs: Vec<&'static RegisterDef> =
        if re.register_id == 0 { registers.iter().collect() } else { vec![find(registers, re.register_id)?] };
    let mut parts: Vec<EntityIter> = Vec::new();
    for def in defs {
        match check_index(re.index.as_ref(), def.size, &def.info.name)? {
            Some(i) => {
                budget.spend(1)?;
                let v = match def.reg {
                    Reg::RrCursor => p.rr_cursor(i).map(u32::from),
                    Reg::ErspanSeq => p.erspan_seq(i),
                    Reg::SampleCursor => p.sample_cursor(i).map(u32::from),
                }
                .map_err(Failure::from)?;
                parts.push(Box::new(std::iter::once(register_entity(def, i, v))));
            }
            None => {
                budget.spend(def.size)?;
                let cells: Vec<u32> = match def.reg {
                    Reg::RrCursor => p.rr_cursors().into_iter().map(u32::from).collect(),
                    Reg::ErspanSeq => p.erspan_seqs(),
                    Reg::SampleCursor => p.sample_cursors().into_iter().map(u32::from).collect(),
                };
                parts.push(Box::new(
                    cells.into_iter().take(def.size).enumerate().map(move |(i, v)| register_entity(def, i as u32, v)),
                ));
            }
        }
    }
    Ok(Box::new(parts.into_iter().flatten()))
}

/// Zeroes every register cell.
pub(crate) fn reset_ops(defs: &[RegisterDef], ops: &mut Vec<TableOp>) {
    for def in defs {
        for index in 0..def.size as u32 {
            ops.push(def.reg.op(index, 0));
        }
    }
}
