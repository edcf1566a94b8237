//! `PacketReplicationEngineEntry`: clone sessions (multicast groups are not
//! supported: the program never multicasts), under one of two rule sets
//! ([`SessionRules`]).
//!
//! BMv2's: session ids are 1..=32767 (0 is the read wildcard; BMv2 refuses 32768
//! with INVALID_ARGUMENT, `docs/targets.md`). A replica's port is the deprecated
//! `egress_port` or the v1.4 `port` bytestring; a session is read back in the form
//! it was written. `packet_length_bytes` is honoured (the clone is cut to at most
//! that many bytes); BMv2 refuses non-zero values, the software target does not.
//!
//! Stratum's on Tofino (`$mirror.cfg`, `docs/targets.md` "Tofino"), each refusal
//! INVALID_ARGUMENT as Stratum reports it: session ids 1..=1015 and
//! `packet_length_bytes` ≤ 65535 (every update type); on INSERT / MODIFY exactly
//! one replica, whose (deprecated) `egress_port` is non-zero and `instance` 0, and
//! `class_of_service` < 8. The session truncates (`$max_pkt_len`). The member
//! travels in the TNA program's mirror header, keyed by the session id, so the
//! pipeline's replica instance is the session id; it reads back as 0.

use p4clone_pipeline::{CloneSession, CloneSessionEntry, Pipeline, Replica, TableOp};
use p4clone_proto::bytestring;
use p4clone_proto::p4::v1::{
    self as p4, entity::Entity as E, packet_replication_engine_entry::Type as PreType, replica::PortKind,
    update::Type as UpdateType,
};

use super::update::{entity, Budget, EntityIter, Failure, Parse, Planned, SideEffect, SideState};

/// Highest clone session id (BMv2 accepts 32767, refuses 32768).
pub(crate) const MAX_SESSION_ID: u32 = 32_767;
/// Highest clone session id Stratum accepts on Tofino (`kMaxCloneSessionId`).
pub(crate) const STRATUM_MAX_SESSION_ID: u32 = p4clone_proto::program_tna::limits::MAX_CLONE_SESSION as u32;
/// Number of port numbers (v1model and TNA `bit<9>`).
const PORTS: u32 = 512;

/// Whose clone-session rules the target follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionRules {
    /// BMv2 (PI) running the v1model program.
    Bmv2,
    /// Stratum (BfRt `$mirror.cfg`) on a Tofino running the TNA program.
    Stratum,
}

fn session_id(id: u32) -> Result<u16, Failure> {
    if id == 0 {
        return Err(Failure::invalid("clone session id 0 is reserved (it is the read wildcard)"));
    }
    if id > MAX_SESSION_ID {
        return Err(Failure::invalid(format!("clone session id {id} is out of range (1..={MAX_SESSION_ID})")));
    }
    Ok(id as u16)
}

/// A Write update of a clone session under Stratum's rules (see the module docs).
fn plan_stratum(ty: UpdateType, cs: &p4::CloneSessionEntry) -> Result<Planned, Failure> {
    let id = cs.session_id;
    if id == 0 || id > STRATUM_MAX_SESSION_ID {
        return Err(Failure::invalid(format!(
            "Invalid session id in CloneSessionEntry: session id {id} (Stratum accepts 1..={STRATUM_MAX_SESSION_ID})"
        )));
    }
    let id = id as u16;
    let max_len = p4clone_proto::program_tna::limits::MAX_PACKET_LENGTH;
    let Ok(length) = u32::try_from(cs.packet_length_bytes) else {
        return Err(Failure::invalid(format!(
            "clone session {id}: packet_length_bytes {} is negative",
            cs.packet_length_bytes
        )));
    };
    if length > max_len {
        return Err(Failure::invalid(format!(
            "Packet length exceeds maximum value: clone session {id}, packet_length_bytes {length} > {max_len}"
        )));
    }
    if ty == UpdateType::Delete {
        return Ok(Planned {
            ops: vec![TableOp::delete_clone_session(id)],
            fill: None,
            side: vec![SideEffect::SessionRemoved(id)],
        });
    }
    let [r] = cs.replicas.as_slice() else {
        return Err(Failure::invalid(format!(
            "Multiple replicas are not supported: clone session {id} has {} replicas (Stratum takes exactly 1)",
            cs.replicas.len()
        )));
    };
    // Stratum reads the deprecated `egress_port`; the v1.4 `port` form leaves it 0.
    #[allow(deprecated)]
    let port = match r.port_kind {
        Some(PortKind::EgressPort(p)) => p,
        _ => 0,
    };
    if port == 0 {
        return Err(Failure::invalid(format!(
            "Invalid egress port in Replica: clone session {id} (Stratum needs a non-zero egress_port)"
        )));
    }
    if port >= PORTS {
        return Err(Failure::invalid(format!("replica port {port} does not exist (ports are 1..={})", PORTS - 1)));
    }
    if r.instance != 0 {
        return Err(Failure::invalid(format!(
            "Instances on Replicas are not supported: clone session {id} replica instance {} (must be 0)",
            r.instance
        )));
    }
    if cs.class_of_service >= 8 {
        return Err(Failure::invalid(format!(
            "Class of service must be smaller than 8: clone session {id} class_of_service {}",
            cs.class_of_service
        )));
    }
    // The TNA program keys its egress on the member carried in the mirror
    // header, which is the session id: the pipeline's replica instance.
    let replica = Replica { egress_port: port as u16, instance: id };
    let entry = CloneSessionEntry {
        session_id: id,
        session: CloneSession { replicas: vec![replica], packet_length_bytes: length },
    };
    let op = if ty == UpdateType::Insert {
        TableOp::insert_clone_session(entry)
    } else {
        TableOp::modify_clone_session(entry)
    };
    Ok(Planned {
        ops: vec![op],
        fill: None,
        side: vec![SideEffect::SessionPortForm(id, false), SideEffect::SessionCos(id, cs.class_of_service)],
    })
}

/// The port of a replica and whether it was given as bytes.
fn replica_port(r: &p4::Replica, parse: Parse) -> Result<(u16, bool), Failure> {
    #[allow(deprecated)]
    let (port, bytes) = match &r.port_kind {
        None => (0, false),
        Some(PortKind::EgressPort(p)) => (u128::from(*p), false),
        Some(PortKind::Port(b)) => (parse.uint(b, 32, &|| "replica port".to_string())?, true),
    };
    if port >= u128::from(PORTS) {
        return Err(Failure::invalid(format!("replica port {port} does not exist (ports are 0..={})", PORTS - 1)));
    }
    Ok((port as u16, bytes))
}

/// A Write update of a `PacketReplicationEngineEntry`.
pub(crate) fn plan_write(
    ty: UpdateType,
    pre: &p4::PacketReplicationEngineEntry,
    parse: Parse,
    rules: SessionRules,
) -> Result<Planned, Failure> {
    let cs = match &pre.r#type {
        Some(PreType::CloneSessionEntry(cs)) => cs,
        Some(PreType::MulticastGroupEntry(_)) => {
            return Err(Failure::unimplemented(
                "multicast groups are not supported by this target (the program does not multicast)",
            ))
        }
        None => return Err(Failure::invalid("the packet replication engine entry has no type set")),
    };
    if rules == SessionRules::Stratum {
        return plan_stratum(ty, cs);
    }
    let id = session_id(cs.session_id)?;
    if ty == UpdateType::Delete {
        return Ok(Planned {
            ops: vec![TableOp::delete_clone_session(id)],
            fill: None,
            side: vec![SideEffect::SessionRemoved(id)],
        });
    }
    if cs.class_of_service != 0 {
        return Err(Failure::invalid(format!(
            "clone session {id}: class_of_service {} is not valid on v1model (only 0)",
            cs.class_of_service
        )));
    }
    if cs.packet_length_bytes < 0 {
        return Err(Failure::invalid(format!(
            "clone session {id}: packet_length_bytes {} is negative",
            cs.packet_length_bytes
        )));
    }
    let mut replicas: Vec<Replica> = Vec::with_capacity(cs.replicas.len());
    let mut any_bytes = false;
    for r in &cs.replicas {
        if !r.backup_replicas.is_empty() {
            return Err(Failure::unimplemented(format!("clone session {id}: backup replicas are not supported")));
        }
        let (egress_port, bytes) = replica_port(r, parse)?;
        any_bytes |= bytes;
        let Ok(instance) = u16::try_from(r.instance) else {
            return Err(Failure::invalid(format!(
                "clone session {id}: replica instance {} does not fit egress_rid (16 bits)",
                r.instance
            )));
        };
        let replica = Replica { egress_port, instance };
        if replicas.contains(&replica) {
            return Err(Failure::invalid(format!(
                "clone session {id}: replica (port {egress_port}, instance {instance}) given twice"
            )));
        }
        replicas.push(replica);
    }
    let entry = CloneSessionEntry {
        session_id: id,
        session: CloneSession { replicas, packet_length_bytes: cs.packet_length_bytes as u32 },
    };
    let op = if ty == UpdateType::Insert {
        TableOp::insert_clone_session(entry)
    } else {
        TableOp::modify_clone_session(entry)
    };
    Ok(Planned { ops: vec![op], fill: None, side: vec![SideEffect::SessionPortForm(id, any_bytes)] })
}

fn session_proto(id: u16, s: &CloneSession, side: &SideState, rules: SessionRules) -> p4::Entity {
    let port_bytes = side.session_port_bytes.contains(&id);
    #[allow(deprecated)]
    let replicas = s
        .replicas
        .iter()
        .map(|r| p4::Replica {
            port_kind: Some(if port_bytes {
                PortKind::Port(bytestring::encode(r.egress_port.into()).into())
            } else {
                PortKind::EgressPort(r.egress_port.into())
            }),
            // Stratum reads every replica back with instance 0.
            instance: if rules == SessionRules::Stratum { 0 } else { r.instance.into() },
            backup_replicas: Vec::new(),
        })
        .collect();
    entity(E::PacketReplicationEngineEntry(p4::PacketReplicationEngineEntry {
        r#type: Some(PreType::CloneSessionEntry(p4::CloneSessionEntry {
            session_id: id.into(),
            replicas,
            class_of_service: side.session_cos.get(&id).copied().unwrap_or(0),
            packet_length_bytes: i32::try_from(s.packet_length_bytes).unwrap_or(i32::MAX),
        })),
    }))
}

/// A `PacketReplicationEngineEntry` read request: session id 0 = all sessions.
pub(crate) fn read(
    pre: &p4::PacketReplicationEngineEntry,
    p: &Pipeline,
    side: &SideState,
    budget: &mut Budget,
    rules: SessionRules,
) -> Result<EntityIter, Failure> {
    match &pre.r#type {
        Some(PreType::CloneSessionEntry(cs)) => {
            budget.spend(if cs.session_id == 0 { p.table_sizes().clone_sessions } else { 1 })?;
            let out: Vec<p4::Entity> = if cs.session_id == 0 {
                p.clone_sessions().iter().map(|e| session_proto(e.session_id, &e.session, side, rules)).collect()
            } else {
                let id = session_id(cs.session_id)?;
                p.clone_session(id).map(|s| session_proto(id, &s, side, rules)).into_iter().collect()
            };
            Ok(Box::new(out.into_iter()))
        }
        // No multicast group ever exists.
        Some(PreType::MulticastGroupEntry(_)) => Ok(Box::new(std::iter::empty())),
        None => Err(Failure::invalid("the packet replication engine entry has no type set")),
    }
}

/// Deletes every clone session.
pub(crate) fn reset_ops(p: &Pipeline, ops: &mut Vec<TableOp>) {
    for s in p.clone_sessions() {
        ops.push(TableOp::delete_clone_session(s.session_id));
    }
}
