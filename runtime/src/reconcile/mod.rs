//! Reconcile: read what the program owns on a device, diff it against the
//! compiled intent, and write the minimal set of updates in dependency order.
//!
//! # What is read
//! One Read with a wildcard `TableEntry` per table of the program's P4Info and a
//! wildcard `CloneSessionEntry` (every clone session: the program owns the
//! packet replication engine's clone sessions), plus one Read of the tables'
//! default entries (skipped if the device cannot read default entries). All of
//! it belongs to this program: entries the intent does not have are deleted.
//!
//! # Diff
//! Identity: table + match (canonical bytestrings, fields sorted by id) +
//! priority for table entries, session id for clone sessions, table for default
//! entries. Change: action and parameters, or metadata (table entries); replicas,
//! class of service, packet length (sessions). Same identity, different content
//! → `MODIFY`; only in the intent → `INSERT`; only on the device → `DELETE`.
//!
//! # Order (every phase its own Write RPCs; batches never span phases, because
//! a device may reorder the updates of one batch)
//! 1. deletes, dependents first: `clone_classify_*`, then `nat_*`,
//!    `clone_rewrite`, then clone sessions, then `wire`;
//! 2. modifies and inserts, dependencies first: `wire`, clone sessions,
//!    `clone_rewrite`, `nat_*`, then `clone_classify_*` (per level: modifies,
//!    then inserts), so a classify entry never selects a member whose session
//!    or rewrite is not there yet; then default entries;
//! 3. counter resets (after the new configuration is in place).
//!
//! Within a phase the updates are independent, so up to
//! [`ReconcileOptions::in_flight`] Write RPCs of [`ReconcileOptions::batch_size`]
//! updates are outstanding at once; the next phase starts when all of them
//! have answered.
//!
//! # Member ids across edits (allocation recovery)
//! The compiler's lowering writes `clone_rewrite` metadata as
//! `<profile config digest hex>\0<profile>\0<se>` ([`p4clone_compiler::lower::rewrite_metadata`]),
//! the same bytes `p4clone compile` prints. [`allocation`] reads it back into an [`Allocation`](p4clone_compiler::intent::Allocation) (block =
//! `(member − 1) / 10`), which the next compile takes as hints, so a
//! (profile, SE) keeps its member ids — and its counters — across edits, with no
//! local state file.
//!
//! # Counter resets
//! A member's `clones_requested` / `clones_emitted` / `truncated_mtu` cells (and, at a
//! block's first member, the block's `skipped_by_filter` / `not_sampled`) are reset when its
//! `clone_rewrite` entry on the device is missing (a new member: the cells may
//! hold a former occupant's counts) or carries another profile digest or owner
//! (the profile's configuration changed: "any configuration change of a clone
//! profile resets its stats"). [`Reconciler::plan`] then reads those cells and
//! keeps only the non-zero ones, so a push writes no reset that changes nothing
//! (and [`crate::fleet`] skips the read after installing a pipeline: its
//! counters start at zero).
//!
//! # Files
//! | file | job |
//! |---|---|
//! | `state.rs` | reading a device's state; names, ids and dependency levels; allocation recovery |
//! | `keys.rs` | canonical identity and content of entities (diff keys) |
//! | `plan.rs` | [`Plan`], [`Change`], [`CounterReset`] and the plan's human form |
//! | `diff.rs` | plan computation ([`diff()`]) |
//! | `order.rs` | the apply order: a plan split in dependency phases |
//! | `apply.rs` | [`Reconciler`] (read, plan, apply) and [`PushResult`] |

mod apply;
mod diff;
mod keys;
mod order;
mod plan;
mod state;

pub use apply::{PushError, PushResult, ReconcileOptions, Reconciler};
pub use diff::diff;
pub use keys::{entry_key, entry_value, session_value};
pub use plan::{Change, CounterReset, Op, Plan, ResetReason};
pub use state::{
    allocation, desired_entities, merge_allocation, parse_rewrite_metadata, read_state, rewrite_metadata, DeviceState,
    RewriteOwner, EMITTED_COUNTER, REQUESTED_COUNTER, REWRITE_TABLE, TRUNCATED_MTU_COUNTER,
};
