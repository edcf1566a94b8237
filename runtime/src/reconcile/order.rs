//! Apply order: a plan's updates split in dependency phases (see [`crate::reconcile`]
//! docs of [`crate::reconcile`]), each sent as its own Write RPCs.

use p4clone_proto::p4::v1::{Entity, Update};

use super::plan::{Change, Op, Plan};
use super::state::{ResetCounter, DEFAULT_LEVEL, SESSION_LEVEL};
use crate::counters;
use crate::write::UpdateList;

impl Plan {
    /// The updates in apply order, split in phases (see [`crate::reconcile`]).
    /// `resets` are the counters a member reset zeroes. Planned changes are sent
    /// from where they are (no copy of their entities).
    pub(super) fn phases(&self, resets: &[ResetCounter]) -> Vec<Phase<'_>> {
        let mut phases = Vec::new();
        fn group<'a>(phases: &mut Vec<Phase<'a>>, changes: &'a [Change], op: Op, levels: &[u8]) {
            for &l in levels {
                let sel: Vec<&Change> = changes.iter().filter(|c| c.level == l).collect();
                if sel.is_empty() {
                    continue;
                }
                phases.push(Phase::Changes { op, changes: sel });
            }
        }
        group(&mut phases, &self.deletes, Op::Delete, &[4, 3, 2, SESSION_LEVEL, 0]);
        for l in [0, SESSION_LEVEL, 2, 3, 4, DEFAULT_LEVEL] {
            group(&mut phases, &self.modifies, Op::Modify, &[l]);
            group(&mut phases, &self.inserts, Op::Insert, &[l]);
        }
        let mut updates = Vec::new();
        let mut names = Vec::new();
        for r in &self.counter_resets {
            for c in resets.iter().filter(|c| c.applies_to(r.member)) {
                updates.push(counters::reset_update(c.id, i64::from(r.member)));
                names.push(format!("{}[{}]", c.name, r.member));
            }
        }
        if !updates.is_empty() {
            phases.push(Phase::Resets { updates, names });
        }
        phases
    }
}

/// One dependency phase of a push: its own Write RPCs.
pub(super) enum Phase<'a> {
    /// Planned changes, sent as `op` updates of their entities (no copy).
    Changes { op: Op, changes: Vec<&'a Change> },
    /// Counter-reset updates (MODIFY to zero) and their names.
    Resets { updates: Vec<Update>, names: Vec<String> },
}

impl Phase<'_> {
    pub(super) fn name(&self, i: usize) -> String {
        match self {
            Phase::Changes { changes, .. } => changes.get(i).map(|c| c.entity().to_string()).unwrap_or_default(),
            Phase::Resets { names, .. } => names.get(i).cloned().unwrap_or_default(),
        }
    }
}

impl UpdateList for Phase<'_> {
    fn len(&self) -> usize {
        match self {
            Phase::Changes { changes, .. } => changes.len(),
            Phase::Resets { updates, .. } => updates.len(),
        }
    }

    fn get(&self, i: usize) -> (i32, Option<&Entity>) {
        match self {
            Phase::Changes { op, changes } => (op.update_type() as i32, Some(&changes[i].update)),
            Phase::Resets { updates, .. } => UpdateList::get(updates.as_slice(), i),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::{CounterReset, ResetReason};
    use p4clone_compiler::lower;

    #[test]
    fn phases_delete_dependents_first_and_insert_dependencies_first() {
        let schema = lower::program_schema().unwrap();
        let ch = |level: u8, name: &str| {
            Change::new(schema, name.to_string(), Entity::default(), None, level).with_text(name.to_string())
        };
        let plan = Plan {
            device: "d".into(),
            address: "a".into(),
            pipeline: None,
            inserts: vec![
                ch(4, "ins-classify"),
                ch(2, "ins-rewrite"),
                ch(SESSION_LEVEL, "ins-session"),
                ch(0, "ins-wire"),
            ],
            modifies: vec![ch(4, "mod-classify"), ch(SESSION_LEVEL, "mod-session")],
            deletes: vec![
                ch(0, "del-wire"),
                ch(SESSION_LEVEL, "del-session"),
                ch(2, "del-rewrite"),
                ch(4, "del-classify"),
            ],
            counter_resets: vec![CounterReset {
                member: 5,
                profile: "p".into(),
                se: "s".into(),
                reason: ResetReason::NewMember,
            }],
        };
        let order: Vec<String> = plan
            .phases(&[
                ResetCounter { id: 1, name: "clones_requested", block: false },
                ResetCounter { id: 2, name: "clones_emitted", block: false },
                ResetCounter { id: 3, name: "truncated_mtu", block: false },
                ResetCounter { id: 4, name: "skipped_by_filter", block: true },
            ])
            .into_iter()
            .flat_map(|p| (0..UpdateList::len(&p)).map(move |i| p.name(i)).collect::<Vec<_>>())
            .collect();
        assert_eq!(
            order,
            [
                "del-classify",
                "del-rewrite",
                "del-session",
                "del-wire",
                "ins-wire",
                "mod-session",
                "ins-session",
                "ins-rewrite",
                "mod-classify",
                "ins-classify",
                "clones_requested[5]",
                "clones_emitted[5]",
                "truncated_mtu[5]"
            ]
        );
        assert_eq!(plan.write_count(), 4 + 2 + 4 + 3);
    }
}
