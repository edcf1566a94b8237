//! Canonical forms for the diff: the identity of a table entry ([`entry_key`])
//! and the content compared under one identity ([`entry_value`],
//! [`session_value`]).

use std::collections::HashMap;

use p4clone_proto::bytestring;
use p4clone_proto::p4::v1::{action, field_match, table_action, CloneSessionEntry, FieldMatch, TableEntry};
use prost::Message;

use crate::describe;

/// A map keyed by [`entry_key`] bytes, hashed with foldhash (short byte strings
/// from the device; no attacker-chosen collisions to fear, and much faster
/// than SipHash).
pub(super) type KeyMap<V> = HashMap<Vec<u8>, V, foldhash::fast::FixedState>;

fn push_bytes(out: &mut Vec<u8>, b: &[u8]) {
    let first = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    let c: &[u8] = if first == b.len() { &[0] } else { &b[first..] };
    out.extend_from_slice(&(c.len() as u32).to_be_bytes());
    out.extend_from_slice(c);
}

fn is_zero(b: &[u8]) -> bool {
    b.iter().all(|&x| x == 0)
}

/// Identity of a table entry: table, canonical match (fields by id, all-zero
/// ternary masks dropped), priority, default flag.
pub fn entry_key(e: &TableEntry) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + e.r#match.len() * 24);
    out.extend_from_slice(&e.table_id.to_be_bytes());
    out.extend_from_slice(&e.priority.to_be_bytes());
    out.push(u8::from(e.is_default_action));
    if e.r#match.windows(2).all(|w| w[0].field_id <= w[1].field_id) {
        key_matches(&mut out, e.r#match.iter());
    } else {
        let mut fms: Vec<&FieldMatch> = e.r#match.iter().collect();
        fms.sort_by_key(|f| f.field_id);
        key_matches(&mut out, fms.into_iter());
    }
    out
}

fn key_matches<'a>(out: &mut Vec<u8>, fms: impl Iterator<Item = &'a FieldMatch>) {
    use field_match::FieldMatchType as T;
    for fm in fms {
        match &fm.field_match_type {
            Some(T::Ternary(x)) if is_zero(&x.mask) => continue,
            Some(T::Lpm(x)) if x.prefix_len == 0 => continue,
            _ => {}
        }
        out.extend_from_slice(&fm.field_id.to_be_bytes());
        match &fm.field_match_type {
            Some(T::Exact(x)) => {
                out.push(1);
                push_bytes(out, &x.value);
            }
            Some(T::Ternary(x)) => {
                out.push(2);
                if bytestring::is_masked(&x.value, &x.mask) {
                    push_bytes(out, &x.value);
                } else {
                    push_bytes(out, &bytestring::apply_mask(&x.value, &x.mask));
                }
                push_bytes(out, &x.mask);
            }
            Some(T::Lpm(x)) => {
                out.push(3);
                push_bytes(out, &x.value);
                out.extend_from_slice(&x.prefix_len.to_be_bytes());
            }
            Some(T::Range(x)) => {
                out.push(4);
                push_bytes(out, &x.low);
                push_bytes(out, &x.high);
            }
            Some(T::Optional(x)) => {
                out.push(5);
                push_bytes(out, &x.value);
            }
            Some(other) => {
                out.push(6);
                out.extend_from_slice(format!("{other:?}").as_bytes());
            }
            None => out.push(0),
        }
    }
}

/// Content of a table entry: canonical action (params by id) and metadata.
pub fn entry_value(e: &TableEntry) -> Vec<u8> {
    let mut out = Vec::with_capacity(48 + e.metadata.len());
    match e.action.as_ref().and_then(|a| a.r#type.as_ref()) {
        Some(table_action::Type::Action(a)) => {
            out.push(1);
            out.extend_from_slice(&a.action_id.to_be_bytes());
            let mut push = |p: &action::Param| {
                out.extend_from_slice(&p.param_id.to_be_bytes());
                push_bytes(&mut out, &p.value);
            };
            if a.params.windows(2).all(|w| w[0].param_id <= w[1].param_id) {
                a.params.iter().for_each(&mut push);
            } else {
                let mut ps: Vec<&action::Param> = a.params.iter().collect();
                ps.sort_by_key(|p| p.param_id);
                ps.into_iter().for_each(&mut push);
            }
        }
        Some(other) => {
            out.push(2);
            let ta = p4clone_proto::p4::v1::TableAction { r#type: Some(other.clone()) };
            out.extend_from_slice(&ta.encode_to_vec());
        }
        None => out.push(0),
    }
    out.push(0xff);
    out.extend_from_slice(&e.metadata);
    out
}

/// Content of a clone session: sorted (port, instance) replicas, class of
/// service, packet length.
pub fn session_value(c: &CloneSessionEntry) -> Vec<u8> {
    let mut r: Vec<(u64, u32)> =
        c.replicas.iter().map(|r| (describe::replica_port(r).unwrap_or(u64::MAX), r.instance)).collect();
    r.sort_unstable();
    let mut out = Vec::with_capacity(16 + r.len() * 12);
    for (p, i) in r {
        out.extend_from_slice(&p.to_be_bytes());
        out.extend_from_slice(&i.to_be_bytes());
    }
    out.extend_from_slice(&c.class_of_service.to_be_bytes());
    out.extend_from_slice(&c.packet_length_bytes.to_be_bytes());
    out
}

/// Bytes without leading zeros (the canonical form, `[]` for zero).
fn significant(b: &[u8]) -> &[u8] {
    let first = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    &b[first..]
}

/// `entry_value(a) == entry_value(b)`, without allocating in the usual case
/// (one direct action, parameters in the same order).
pub(super) fn same_content(a: &TableEntry, b: &TableEntry) -> bool {
    if a.metadata != b.metadata {
        return false;
    }
    match (a.action.as_ref().and_then(|x| x.r#type.as_ref()), b.action.as_ref().and_then(|x| x.r#type.as_ref())) {
        (Some(table_action::Type::Action(x)), Some(table_action::Type::Action(y)))
            if x.params.len() == y.params.len() =>
        {
            x.action_id == y.action_id
                && (x
                    .params
                    .iter()
                    .zip(&y.params)
                    .all(|(p, q)| p.param_id == q.param_id && significant(&p.value) == significant(&q.value))
                    || entry_value(a) == entry_value(b))
        }
        _ => entry_value(a) == entry_value(b),
    }
}

/// The identity fields of `e` alone (what a DELETE sends).
pub(super) fn key_only(e: &TableEntry) -> TableEntry {
    TableEntry { table_id: e.table_id, r#match: e.r#match.clone(), priority: e.priority, ..Default::default() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p4clone_proto::p4::v1::{Action, TableAction};

    fn exact(field_id: u32, value: Vec<u8>) -> FieldMatch {
        FieldMatch {
            field_id,
            field_match_type: Some(field_match::FieldMatchType::Exact(field_match::Exact { value: value.into() })),
        }
    }

    fn ternary(field_id: u32, value: Vec<u8>, mask: Vec<u8>) -> FieldMatch {
        FieldMatch {
            field_id,
            field_match_type: Some(field_match::FieldMatchType::Ternary(field_match::Ternary {
                value: value.into(),
                mask: mask.into(),
            })),
        }
    }

    fn entry(m: Vec<FieldMatch>, params: Vec<Vec<u8>>, metadata: &[u8]) -> TableEntry {
        TableEntry {
            table_id: 7,
            r#match: m,
            priority: 10,
            action: Some(TableAction {
                r#type: Some(table_action::Type::Action(Action {
                    action_id: 3,
                    params: params
                        .into_iter()
                        .enumerate()
                        .map(|(i, value)| action::Param { param_id: i as u32 + 1, value: value.into() })
                        .collect(),
                })),
            }),
            metadata: metadata.to_vec().into(),
            ..Default::default()
        }
    }

    #[test]
    fn identity_ignores_padding_field_order_and_zero_masks() {
        let a = entry(vec![exact(1, vec![1]), ternary(2, vec![10, 0, 0, 0], vec![255, 0, 0, 0])], vec![vec![5]], b"m");
        let b = entry(
            vec![
                ternary(3, vec![0], vec![0]),
                ternary(2, vec![10, 0, 0, 0], vec![255, 0, 0, 0]),
                exact(1, vec![0, 0, 1]),
            ],
            vec![vec![0, 5]],
            b"m",
        );
        assert_eq!(entry_key(&a), entry_key(&b));
        assert_eq!(entry_value(&a), entry_value(&b));
        let mut c = b.clone();
        c.priority = 11;
        assert_ne!(entry_key(&a), entry_key(&c));
        let d = entry(vec![exact(1, vec![1])], vec![vec![5]], b"other");
        assert_ne!(entry_value(&a), entry_value(&d), "metadata is content");
        assert!(same_content(&a, &b));
        assert!(!same_content(&a, &d));
        let e = entry(vec![exact(1, vec![1])], vec![vec![6]], b"m");
        assert!(!same_content(&a, &e), "parameter values are content");
    }
}
