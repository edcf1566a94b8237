//! `PacketReplicationEngineEntry`: clone sessions (multicast groups are not
//! supported: the program never multicasts).
//!
//! Session ids are 1..=32767 (0 is the read wildcard; BMv2 refuses 32768 with
//! INVALID_ARGUMENT, `docs/targets.md`). A replica's port is the deprecated `egress_port`
//! or the v1.4 `port` bytestring; a session is read back in the form it was
//! written. `packet_length_bytes` is honoured (the clone is cut to at most that
//! many bytes); BMv2 refuses non-zero values, the software target does not.

use p4clone_pipeline::{CloneSession, CloneSessionEntry, Pipeline, Replica, TableOp};
use p4clone_proto::bytestring;
use p4clone_proto::p4::v1::{
    self as p4, entity::Entity as E, packet_replication_engine_entry::Type as PreType, replica::PortKind,
    update::Type as UpdateType,
};

use super::update::{entity, Budget, EntityIter, Failure, Parse, Planned, SideEffect, SideState};

/// Highest clone session id (BMv2 accepts 32767, refuses 32768).
pub(crate) const MAX_SESSION_ID: u32 = 32_767;
/// Number of port numbers (v1model `bit<9>`).
const PORTS: u32 = 512;

fn session_id(id: u32) -> Result<u16, Failure> {
    if id == 0 {
        return Err(Failure::invalid("clone session id 0 is reserved (it is the read wildcard)"));
    }
    if id > MAX_SESSION_ID {
        return Err(Failure::invalid(format!("clone session id {id} is out of range (1..={MAX_SESSION_ID})")));
    }
    Ok(id as u16)
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

fn session_proto(id: u16, s: &CloneSession, port_bytes: bool) -> p4::Entity {
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
            instance: r.instance.into(),
            backup_replicas: Vec::new(),
        })
        .collect();
    entity(E::PacketReplicationEngineEntry(p4::PacketReplicationEngineEntry {
        r#type: Some(PreType::CloneSessionEntry(p4::CloneSessionEntry {
            session_id: id.into(),
            replicas,
            class_of_service: 0,
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
) -> Result<EntityIter, Failure> {
    match &pre.r#type {
        Some(PreType::CloneSessionEntry(cs)) => {
            budget.spend(if cs.session_id == 0 { p.table_sizes().clone_sessions } else { 1 })?;
            let out: Vec<p4::Entity> = if cs.session_id == 0 {
                p.clone_sessions()
                    .iter()
                    .map(|e| session_proto(e.session_id, &e.session, side.session_port_bytes.contains(&e.session_id)))
                    .collect()
            } else {
                let id = session_id(cs.session_id)?;
                p.clone_session(id)
                    .map(|s| session_proto(id, &s, side.session_port_bytes.contains(&id)))
                    .into_iter()
                    .collect()
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
