//! Plan computation: the pure diff of a device's intent against its state.

use std::borrow::Cow;
use std::collections::HashMap;

use p4clone_compiler::intent::DeviceIntent;
use p4clone_compiler::lower;
use p4clone_proto::p4::v1::{entity, CloneSessionEntry, TableEntry};
use p4clone_proto::schema::P4Schema;

use super::keys::{entry_key, entry_value, key_only, same_content, session_value, KeyMap};
use super::plan::{Change, CounterReset, Plan, ResetReason};
use super::state::{
    desired_entities, parse_rewrite_metadata, rewrite_member, table_entry, DeviceState, Ids, RewriteOwner,
    DEFAULT_LEVEL, SESSION_LEVEL,
};
use crate::describe;
use crate::error::ReconcileError;
use crate::replication;
use crate::tables;

/// The P4Info name of `table_id` (borrowed: the schema lives for the program).
fn table_name(schema: &'static P4Schema, table_id: u32) -> Cow<'static, str> {
    match schema.table_by_id(table_id) {
        Ok(t) => Cow::Borrowed(t.name.as_str()),
        Err(_) => Cow::Owned(describe::table_name(schema, table_id)),
    }
}

/// Diffs the intent of one device against its state (pure). Counter resets are
/// the candidates (see the [module docs](crate::reconcile); [`Reconciler::plan`](crate::reconcile::Reconciler::plan) drops the cells
/// that are already zero).
pub fn diff(
    d: &DeviceIntent,
    address: &str,
    state: &DeviceState,
    schema: &'static P4Schema,
) -> Result<Plan, ReconcileError> {
    let ids = Ids::new(schema);
    let desired = desired_entities(d, schema)?;
    let mut plan = Plan {
        device: d.name.clone(),
        address: address.to_string(),
        pipeline: None,
        inserts: Vec::new(),
        modifies: Vec::new(),
        deletes: Vec::new(),
        counter_resets: Vec::new(),
    };

    // table entries
    let mut on_device: KeyMap<(usize, bool)> =
        KeyMap::with_capacity_and_hasher(state.entries.len(), Default::default());
    for (i, e) in state.entries.iter().enumerate() {
        on_device.insert(entry_key(e), (i, false));
    }
    let mut sessions: HashMap<u32, (usize, bool)> =
        state.sessions.iter().enumerate().map(|(i, s)| (s.session_id, (i, false))).collect();
    // A device holding nothing (a cold push) needs no identities: all inserts.
    let device_empty = state.entries.is_empty() && state.sessions.is_empty();
    if device_empty {
        plan.inserts.reserve_exact(desired.len());
    }
    for e in desired {
        match &e.entity {
            Some(entity::Entity::TableEntry(t)) => {
                let level = ids.level(t.table_id);
                let found = if device_empty { None } else { on_device.get_mut(&entry_key(t)) };
                match found {
                    None => plan.inserts.push(Change::new(schema, table_name(schema, t.table_id), e, None, level)),
                    Some((i, seen)) => {
                        *seen = true;
                        let old = &state.entries[*i];
                        if !same_content(old, t) {
                            let was = modify_note(schema, old, t);
                            plan.modifies.push(Change::new(
                                schema,
                                table_name(schema, t.table_id),
                                e,
                                Some(was),
                                level,
                            ));
                        }
                    }
                }
            }
            _ => {
                let Some(c) = replication::as_clone_session(&e) else {
                    continue;
                };
                match sessions.get_mut(&c.session_id) {
                    None => plan.inserts.push(Change::new(schema, "clone_session", e, None, SESSION_LEVEL)),
                    Some((i, seen)) => {
                        *seen = true;
                        let old = &state.sessions[*i];
                        if session_value(old) != session_value(c) {
                            let was = Some(format!("was {}", describe::replicas(old)));
                            plan.modifies.push(Change::new(schema, "clone_session", e, was, SESSION_LEVEL));
                        }
                    }
                }
            }
        }
    }
    let mut stale: Vec<(usize, &TableEntry)> =
        on_device.values().filter(|(_, seen)| !seen).map(|&(i, _)| (i, &state.entries[i])).collect();
    stale.sort_unstable_by_key(|(i, _)| *i);
    for (_, t) in stale {
        let text = format!("{} → {}", describe::table_key(schema, t), describe::table_action(schema, t));
        plan.deletes.push(
            Change::new(
                schema,
                table_name(schema, t.table_id),
                tables::entity_of(key_only(t)),
                None,
                ids.level(t.table_id),
            )
            .with_text(text),
        );
    }
    let mut stale_sessions: Vec<usize> = sessions.values().filter(|(_, seen)| !seen).map(|&(i, _)| i).collect();
    stale_sessions.sort_unstable();
    for i in stale_sessions {
        let s = &state.sessions[i];
        let e = replication::entity_of(CloneSessionEntry { session_id: s.session_id, ..Default::default() });
        let text = format!("clone_session {} → {}", s.session_id, describe::replicas(s));
        plan.deletes.push(Change::new(schema, "clone_session", e, None, SESSION_LEVEL).with_text(text));
    }

    // default entries
    if let Some(defaults) = &state.defaults {
        let wanted = lower::default_action_entities(schema)
            .map_err(|e| ReconcileError::Lower { device: d.name.clone(), message: e.to_string() })?;
        let have: HashMap<u32, &TableEntry> = defaults.iter().map(|t| (t.table_id, t)).collect();
        for e in wanted {
            let Some(t) = table_entry(&e) else { continue };
            let Some(old) = have.get(&t.table_id) else {
                continue;
            };
            if old.action.is_none() {
                continue;
            }
            if entry_value(old) != entry_value(t) {
                let was = Some(format!("was {}", describe::table_action(schema, old)));
                let table = table_name(schema, t.table_id);
                plan.modifies.push(Change::new(schema, table, e.clone(), was, DEFAULT_LEVEL));
            }
        }
    }

    // counter reset candidates
    if let Some(rewrite) = ids.rewrite {
        let owners: HashMap<u16, Option<RewriteOwner>> = state
            .entries
            .iter()
            .filter(|e| e.table_id == rewrite)
            .filter_map(|e| Some((rewrite_member(e)?, parse_rewrite_metadata(&e.metadata))))
            .collect();
        for m in &d.members {
            let reason = match owners.get(&m.id.0) {
                None => Some(ResetReason::NewMember),
                Some(Some(o)) if o.digest == m.config_digest.to_string() && o.profile == m.profile && o.se == m.se => {
                    None
                }
                Some(_) => Some(ResetReason::ProfileChanged),
            };
            if let Some(reason) = reason {
                plan.counter_resets.push(CounterReset {
                    member: m.id.0,
                    profile: m.profile.clone(),
                    se: m.se.clone(),
                    reason,
                });
            }
        }
    }
    Ok(plan)
}

/// What a modify changes: `was <old action>` and/or `metadata <old> → <new>`.
fn modify_note(schema: &P4Schema, old: &TableEntry, new: &TableEntry) -> String {
    let mut parts = Vec::new();
    let (oa, na) = (describe::table_action(schema, old), describe::table_action(schema, new));
    if oa != na {
        parts.push(format!("was {oa}"));
    }
    if old.metadata != new.metadata {
        parts.push(format!("metadata {} → {}", short_metadata(&old.metadata), short_metadata(&new.metadata)));
    }
    if parts.is_empty() {
        parts.push("was encoded differently".into());
    }
    parts.join("; ")
}

fn short_metadata(m: &[u8]) -> String {
    if m.is_empty() {
        return "(none)".into();
    }
    if let Some(o) = parse_rewrite_metadata(m) {
        return o.digest;
    }
    let s = describe::metadata(m);
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(40).collect::<String>())
    } else {
        s
    }
}
