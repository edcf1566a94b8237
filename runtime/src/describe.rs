//! Human-readable one-line forms of P4Runtime entities, with names from the
//! P4Info: `clone_classify_v4 src_addr=10.20.0.5 dst_addr=10.20.1.11 protocol=6
//! l4_dst_port=8080 priority=100 → classify_hit(first_member=11, member_count=2,
//! mode=0)`.
//!
//! Values are shown by field name and width: `*addr*` fields of 32 / 128 bits as
//! IPv4 / IPv6 addresses, `*mac*` fields of 48 bits as MACs, everything else in
//! decimal. A ternary match with a prefix mask is shown as `value/len`, with any
//! other partial mask as `value&&&0xMASK`.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use p4clone_proto::bytestring;
use p4clone_proto::p4::v1::{
    entity, field_match, packet_replication_engine_entry, replica, table_action, Action, CloneSessionEntry, Entity,
    FieldMatch, TableEntry,
};
use p4clone_proto::schema::P4Schema;

/// The canonical upper-case name of a gRPC / `google.rpc.Code` value.
pub fn code_name(code: i32) -> &'static str {
    match code {
        0 => "OK",
        1 => "CANCELLED",
        2 => "UNKNOWN",
        3 => "INVALID_ARGUMENT",
        4 => "DEADLINE_EXCEEDED",
        5 => "NOT_FOUND",
        6 => "ALREADY_EXISTS",
        7 => "PERMISSION_DENIED",
        8 => "RESOURCE_EXHAUSTED",
        9 => "FAILED_PRECONDITION",
        10 => "ABORTED",
        11 => "OUT_OF_RANGE",
        12 => "UNIMPLEMENTED",
        13 => "INTERNAL",
        14 => "UNAVAILABLE",
        15 => "DATA_LOSS",
        16 => "UNAUTHENTICATED",
        _ => "UNKNOWN_CODE",
    }
}

/// A value of `bits` bits from field/param `name`, rendered for humans.
pub fn value(name: &str, bits: u32, bytes: &[u8]) -> String {
    let Ok(v) = bytestring::decode(bytes) else {
        return format!("0x{}", hex(bytes));
    };
    let lname = name.to_ascii_lowercase();
    if lname.contains("addr") && bits == 32 {
        return Ipv4Addr::from(v as u32).to_string();
    }
    if lname.contains("addr") && bits == 128 {
        return Ipv6Addr::from(v).to_string();
    }
    if lname.contains("mac") && bits == 48 {
        let b = (v as u64).to_be_bytes();
        return format!("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", b[2], b[3], b[4], b[5], b[6], b[7]);
    }
    v.to_string()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Prefix length of a mask that is a prefix mask of a `bits`-wide field.
fn prefix_len(mask: u128, bits: u32) -> Option<u32> {
    let full = bytestring::mask(bits);
    let ones = (mask & full).count_ones();
    let expect = if ones == 0 { 0 } else { full & !full.checked_shr(ones).unwrap_or(0) };
    (mask == expect).then_some(ones)
}

fn field_match(schema: &P4Schema, table_id: u32, fm: &FieldMatch) -> String {
    let (name, bits) = schema
        .table_by_id(table_id)
        .ok()
        .and_then(|t| t.match_field_by_id(fm.field_id).ok())
        .map_or_else(|| (format!("#{}", fm.field_id), 0), |f| (f.name.clone(), f.bitwidth));
    use field_match::FieldMatchType as T;
    let v = match &fm.field_match_type {
        Some(T::Exact(e)) => value(&name, bits, &e.value),
        Some(T::Ternary(t)) => {
            let m = bytestring::decode(&t.mask).unwrap_or(0);
            match prefix_len(m, bits) {
                Some(l) if l == bits => value(&name, bits, &t.value),
                Some(l) => format!("{}/{l}", value(&name, bits, &t.value)),
                None => format!("{}&&&0x{m:x}", value(&name, bits, &t.value)),
            }
        }
        Some(T::Lpm(l)) => format!("{}/{}", value(&name, bits, &l.value), l.prefix_len),
        Some(T::Range(r)) => format!("{}..{}", value(&name, bits, &r.low), value(&name, bits, &r.high)),
        Some(T::Optional(o)) => value(&name, bits, &o.value),
        Some(other) => format!("{other:?}"),
        None => "?".to_string(),
    };
    format!("{name}={v}")
}

/// `action(param=value, ...)`.
pub fn action(schema: &P4Schema, a: &Action) -> String {
    let info = schema.action_by_id(a.action_id).ok();
    let name = info.map_or_else(|| format!("action#{:#010x}", a.action_id), |i| i.name.clone());
    let params: Vec<String> = a
        .params
        .iter()
        .map(|p| {
            let (pn, bits) = info
                .and_then(|i| i.param_by_id(p.param_id).ok())
                .map_or_else(|| (format!("#{}", p.param_id), 0), |pi| (pi.name.clone(), pi.bitwidth));
            format!("{pn}={}", value(&pn, bits, &p.value))
        })
        .collect();
    format!("{name}({})", params.join(", "))
}

/// The table name of `table_id` (or `table#0x…`).
pub fn table_name(schema: &P4Schema, table_id: u32) -> String {
    schema.table_by_id(table_id).map_or_else(|_| format!("table#{table_id:#010x}"), |t| t.name.clone())
}

/// The key part of a table entry: `table f1=v1 f2=v2 priority=N` (or
/// `table (default)`).
pub fn table_key(schema: &P4Schema, e: &TableEntry) -> String {
    let mut s = table_name(schema, e.table_id);
    if e.is_default_action {
        s.push_str(" (default)");
        return s;
    }
    let mut fms: Vec<&FieldMatch> = e.r#match.iter().collect();
    fms.sort_by_key(|f| f.field_id);
    for fm in fms {
        s.push(' ');
        s.push_str(&field_match(schema, e.table_id, fm));
    }
    if e.priority != 0 {
        let _ = write!(s, " priority={}", e.priority);
    }
    s
}

/// The action part of a table entry.
pub fn table_action(schema: &P4Schema, e: &TableEntry) -> String {
    match e.action.as_ref().and_then(|a| a.r#type.as_ref()) {
        Some(table_action::Type::Action(a)) => action(schema, a),
        Some(other) => format!("{other:?}"),
        None => "(no action)".to_string(),
    }
}

/// The replica list of a clone session: `port 3 instance 11`.
pub fn replicas(c: &CloneSessionEntry) -> String {
    let r: Vec<String> = c
        .replicas
        .iter()
        .map(|r| {
            format!(
                "port {} instance {}",
                replica_port(r).map_or_else(|| "?".to_string(), |p| p.to_string()),
                r.instance
            )
        })
        .collect();
    let mut s = r.join(", ");
    if c.packet_length_bytes != 0 {
        let _ = write!(s, " length {}", c.packet_length_bytes);
    }
    if c.class_of_service != 0 {
        let _ = write!(s, " cos {}", c.class_of_service);
    }
    s
}

/// The egress port of a replica, from either the `port` bytes or the
/// deprecated `egress_port` field.
pub fn replica_port(r: &p4clone_proto::p4::v1::Replica) -> Option<u64> {
    #[allow(deprecated)]
    match &r.port_kind {
        Some(replica::PortKind::EgressPort(p)) => Some(u64::from(*p)),
        Some(replica::PortKind::Port(b)) => bytestring::decode(b).ok().map(|v| v as u64),
        None => Some(0),
    }
}

/// One line for any entity: `key → action` for table entries,
/// `clone_session 11 → port 3 instance 11`, `clones_requested[11]`.
pub fn entity(schema: &P4Schema, e: &Entity) -> String {
    match &e.entity {
        Some(entity::Entity::TableEntry(t)) => {
            format!("{} → {}", table_key(schema, t), table_action(schema, t))
        }
        Some(entity::Entity::PacketReplicationEngineEntry(p)) => match &p.r#type {
            Some(packet_replication_engine_entry::Type::CloneSessionEntry(c)) => {
                format!("clone_session {} → {}", c.session_id, replicas(c))
            }
            Some(packet_replication_engine_entry::Type::MulticastGroupEntry(m)) => {
                format!("multicast_group {}", m.multicast_group_id)
            }
            None => "replication entry".to_string(),
        },
        Some(entity::Entity::CounterEntry(c)) => {
            let name = schema
                .counter_by_id(c.counter_id)
                .map_or_else(|_| format!("counter#{:#010x}", c.counter_id), |i| i.name.clone());
            match &c.index {
                Some(i) => format!("{name}[{}]", i.index),
                None => format!("{name}[*]"),
            }
        }
        Some(entity::Entity::RegisterEntry(r)) => {
            let name = schema
                .register_by_id(r.register_id)
                .map_or_else(|_| format!("register#{:#010x}", r.register_id), |i| i.name.clone());
            match &r.index {
                Some(i) => format!("{name}[{}]", i.index),
                None => format!("{name}[*]"),
            }
        }
        Some(other) => format!("{other:?}"),
        None => "(empty entity)".to_string(),
    }
}

/// Metadata bytes for display: the text if printable ASCII, else hex.
pub fn metadata(m: &[u8]) -> String {
    if m.iter().all(|b| (0x20..0x7f).contains(b)) {
        String::from_utf8_lossy(m).into_owned()
    } else {
        format!("0x{}", hex(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        assert_eq!(value("src_addr", 32, &[10, 20, 0, 5]), "10.20.0.5");
        assert_eq!(value("dst_mac", 48, &[2, 0, 0, 0, 1, 3]), "02:00:00:00:01:03");
        assert_eq!(value("port", 9, &[1, 0]), "256");
        assert_eq!(prefix_len(0xffff_ff00, 32), Some(24));
        assert_eq!(prefix_len(0xff00_ff00, 32), None);
        assert_eq!(code_name(6), "ALREADY_EXISTS");
    }
}
