//! A plan: the writes that bring one device to its intent ([`Plan`], its
//! [`Change`]s and [`CounterReset`]s) and its human form.

use std::borrow::Cow;
use std::fmt;
use std::sync::OnceLock;

use p4clone_proto::p4::v1::{update, Entity};
use p4clone_proto::schema::P4Schema;
use serde::Serialize;

use super::state::{EMITTED_COUNTER, REQUESTED_COUNTER, TRUNCATED_MTU_COUNTER};
use crate::describe;
use crate::pipeline::PipelineStatus;

/// Insert, modify or delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// `+ insert`.
    Insert,
    /// `~ modify`.
    Modify,
    /// `- delete`.
    Delete,
}

impl Op {
    pub(super) fn update_type(self) -> update::Type {
        match self {
            Op::Insert => update::Type::Insert,
            Op::Modify => update::Type::Modify,
            Op::Delete => update::Type::Delete,
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Op::Insert => "+ insert",
            Op::Modify => "~ modify",
            Op::Delete => "- delete",
        }
    }
}

/// One planned write. Its one-line form ([`Change::entity`]) is made on first
/// use, so planning 100,000 inserts costs no formatting until shown.
#[derive(Clone)]
pub struct Change {
    /// Table name, or `clone_session` (borrowed from the program's P4Info).
    pub table: Cow<'static, str>,
    /// For a modify: what changes, from the device's current state.
    pub was: Option<String>,
    /// The entity sent.
    pub update: Entity,
    text: OnceLock<String>,
    schema: &'static P4Schema,
    pub(super) level: u8,
}

impl Change {
    pub(super) fn new(
        schema: &'static P4Schema,
        table: impl Into<Cow<'static, str>>,
        update: Entity,
        was: Option<String>,
        level: u8,
    ) -> Change {
        Change { table: table.into(), was, update, text: OnceLock::new(), schema, level }
    }

    pub(super) fn with_text(mut self, text: String) -> Change {
        self.text = OnceLock::from(text);
        self
    }

    /// The entity (key → action) as it will be on the device (deletes: as it is).
    pub fn entity(&self) -> &str {
        self.text.get_or_init(|| describe::entity(self.schema, &self.update))
    }
}

impl fmt::Debug for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Change")
            .field("table", &self.table)
            .field("entity", &self.entity())
            .field("was", &self.was)
            .finish()
    }
}

impl PartialEq for Change {
    fn eq(&self, o: &Change) -> bool {
        self.table == o.table && self.was == o.was && self.update == o.update && self.level == o.level
    }
}

impl Serialize for Change {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Change", 3)?;
        st.serialize_field("table", &self.table)?;
        st.serialize_field("entity", self.entity())?;
        if let Some(w) = &self.was {
            st.serialize_field("was", w)?;
        } else {
            st.skip_field("was")?;
        }
        st.end()
    }
}

/// Why a member's counters are reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResetReason {
    /// The member is new on the device (its cells may hold old counts).
    NewMember,
    /// Its profile's configuration (digest) or owner changed.
    ProfileChanged,
}

/// A member whose `clones_requested`, `clones_emitted` and `truncated_mtu` cells are reset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CounterReset {
    /// Member id = counter index.
    pub member: u16,
    /// Clone profile.
    pub profile: String,
    /// Service engine.
    pub se: String,
    /// Why.
    pub reason: ResetReason,
}

/// The writes that bring one device to its intent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// Device name.
    pub device: String,
    /// `host:port`.
    pub address: String,
    /// Pipeline status (set by the fleet functions; `None` when not checked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<PipelineStatus>,
    /// Entities to insert, in apply order.
    pub inserts: Vec<Change>,
    /// Entities to modify, in apply order.
    pub modifies: Vec<Change>,
    /// Entities to delete, in apply order.
    pub deletes: Vec<Change>,
    /// Members whose counters are reset.
    pub counter_resets: Vec<CounterReset>,
}

impl Plan {
    /// Whether nothing would be written (pipeline included).
    pub fn is_empty(&self) -> bool {
        self.write_count() == 0 && !self.pipeline.is_some_and(|p| p.installed())
    }

    /// Number of updates the plan writes (each counter reset is two).
    pub fn write_count(&self) -> usize {
        self.inserts.len() + self.modifies.len() + self.deletes.len() + 3 * self.counter_resets.len()
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.device, self.address)?;
        if self.is_empty() {
            return writeln!(f, ": up to date, nothing to write");
        }
        writeln!(
            f,
            ": {} to insert, {} to modify, {} to delete, {} counter reset{}",
            self.inserts.len(),
            self.modifies.len(),
            self.deletes.len(),
            self.counter_resets.len(),
            if self.counter_resets.len() == 1 { "" } else { "s" }
        )?;
        if let Some(p) = &self.pipeline {
            if p.installed() {
                writeln!(f, "  ! {p}")?;
            }
        }
        for (changes, op) in [(&self.deletes, Op::Delete), (&self.modifies, Op::Modify), (&self.inserts, Op::Insert)] {
            for c in changes {
                match &c.was {
                    Some(w) => writeln!(f, "  {} {} ({w})", op.symbol(), c.entity())?,
                    None => writeln!(f, "  {} {}", op.symbol(), c.entity())?,
                }
            }
        }
        for r in &self.counter_resets {
            writeln!(
                f,
                "  0 reset {REQUESTED_COUNTER}[{m}] {EMITTED_COUNTER}[{m}] {TRUNCATED_MTU_COUNTER}[{m}] (profile {}, se {}: {})",
                r.profile,
                r.se,
                match r.reason {
                    ResetReason::NewMember => "new member",
                    ResetReason::ProfileChanged => "profile changed",
                },
                m = r.member
            )?;
        }
        Ok(())
    }
}
