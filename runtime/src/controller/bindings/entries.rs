//! Bindings as NAT table entries and back. Writing uses the compiler's
//! lowering of `nat_bindings` (one `nat_src_*` and one `nat_dst_*` entry per
//! binding, the same match, action and metadata as a config binding), so a
//! live binding and a config binding are written identically; reading decodes
//! the `nat_src_*` entries of a device back into bindings (failover adoption).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use p4clone_compiler::config::Target;
use p4clone_compiler::intent::{DeviceIntent, NatEntry};
use p4clone_compiler::lower::{self, LowerError};
use p4clone_proto::p4::v1::{field_match, table_action, update, TableEntry, Update};
use p4clone_proto::program::tables;
use p4clone_proto::{bytestring, schema::P4Schema};

use super::binding::Binding;

/// The entities lowering writes for `nat` (both tables of each entry's family).
pub fn lower(nat: Vec<NatEntry>, schema: &P4Schema) -> Result<Vec<p4clone_proto::p4::v1::Entity>, LowerError> {
    let d = DeviceIntent {
        name: "bindings".into(),
        target: Target::Soft,
        address: String::new(),
        device_id: 0,
        wires: Vec::new(),
        members: Vec::new(),
        rules: Vec::new(),
        nat,
        blocks: Vec::new(),
    };
    lower::lower_entities(&d, schema)
}

/// Appends the updates of kind `kind` for `nat` to `out`.
pub fn push_updates(
    out: &mut Vec<Update>,
    kind: update::Type,
    nat: Vec<NatEntry>,
    schema: &P4Schema,
) -> Result<(), LowerError> {
    if nat.is_empty() {
        return Ok(());
    }
    out.extend(lower(nat, schema)?.into_iter().map(|e| Update { r#type: kind as i32, entity: Some(e) }));
    Ok(())
}

/// The binding a `nat_src_v4` / `nat_src_v6` entry holds; `None` for any other
/// table or an entry that is not a well-formed binding.
pub fn decode(e: &TableEntry, schema: &P4Schema) -> Option<Binding> {
    let v6 = if e.table_id == tables::NAT_SRC_V4.id {
        false
    } else if e.table_id == tables::NAT_SRC_V6.id {
        true
    } else {
        return None;
    };
    let t = schema.table_by_id(e.table_id).ok()?;
    let exact = |i: usize| -> Option<u128> {
        let id = t.match_fields.get(i)?.id;
        e.r#match.iter().find(|m| m.field_id == id).and_then(|m| match &m.field_match_type {
            Some(field_match::FieldMatchType::Exact(x)) => bytestring::decode(&x.value).ok(),
            _ => None,
        })
    };
    let Some(table_action::Type::Action(a)) = e.action.as_ref().and_then(|a| a.r#type.as_ref()) else {
        return None;
    };
    let param = |i: usize| a.params.get(i).and_then(|p| bytestring::decode(&p.value).ok());
    let addr = |v: u128| -> Option<IpAddr> {
        if v6 {
            Some(IpAddr::V6(Ipv6Addr::from(v)))
        } else {
            u32::try_from(v).ok().map(|v| IpAddr::V4(Ipv4Addr::from(v)))
        }
    };
    let n = NatEntry {
        se_addr: addr(exact(0)?)?,
        se_port: u16::try_from(exact(1)?).ok()?,
        protocol: u8::try_from(exact(2)?).ok()?,
        client_addr: addr(param(0)?)?,
        client_port: u16::try_from(param(1)?).ok()?,
    };
    Binding::from_nat_entry(&n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::bindings::binding::parse_binding;
    use p4clone_proto::p4::v1::entity;

    #[test]
    fn lowered_entries_decode_back() {
        let schema = lower::program_schema().unwrap();
        for b in [
            parse_binding("", "10.0.0.5:40001", "198.51.100.7:51515", "tcp").unwrap(),
            parse_binding("", "[2001:db8::5]:1", "[2001:db8::9]:65535", "udp").unwrap(),
        ] {
            let es = lower(vec![b.nat_entry()], schema).unwrap();
            assert_eq!(es.len(), 2);
            let decoded: Vec<_> = es
                .iter()
                .filter_map(|e| match &e.entity {
                    Some(entity::Entity::TableEntry(t)) => decode(t, schema),
                    _ => None,
                })
                .collect();
            assert_eq!(decoded, vec![b], "only the src entry decodes");
        }
    }
}
