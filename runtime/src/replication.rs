//! Packet replication engine: clone sessions.

use p4clone_proto::p4::v1::{
    entity, packet_replication_engine_entry, replica, CloneSessionEntry, Entity, PacketReplicationEngineEntry, Replica,
};

/// A clone session as an entity.
pub fn entity_of(c: CloneSessionEntry) -> Entity {
    Entity {
        entity: Some(entity::Entity::PacketReplicationEngineEntry(PacketReplicationEngineEntry {
            r#type: Some(packet_replication_engine_entry::Type::CloneSessionEntry(c)),
        })),
    }
}

/// A wildcard read of every clone session (session id 0).
pub fn wildcard() -> Entity {
    entity_of(CloneSessionEntry::default())
}

/// A clone session with one replica `{egress_port, instance}` and
/// `packet_length_bytes` 0 (what BMv2 accepts, `docs/targets.md`).
pub fn clone_session(session_id: u32, egress_port: u32, instance: u32) -> CloneSessionEntry {
    #[allow(deprecated)] // the `egress_port` form is what BMv2/PI implements
    let port_kind = Some(replica::PortKind::EgressPort(egress_port));
    CloneSessionEntry {
        session_id,
        replicas: vec![Replica { instance, backup_replicas: Vec::new(), port_kind }],
        class_of_service: 0,
        packet_length_bytes: 0,
    }
}

/// The clone session of an entity, if it is one.
pub fn as_clone_session(e: &Entity) -> Option<&CloneSessionEntry> {
    match &e.entity {
        Some(entity::Entity::PacketReplicationEngineEntry(PacketReplicationEngineEntry {
            r#type: Some(packet_replication_engine_entry::Type::CloneSessionEntry(c)),
        })) => Some(c),
        _ => None,
    }
}
