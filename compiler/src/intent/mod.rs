//! Target-neutral, per-device intent: what each device must hold, as pure data.
//!
//! [`compile`] turns a validated [`Config`] into an [`Intent`]: for every device its
//! wire pairs, clone members (one per clone server per profile block, each a clone
//! session), classify rules (both directions of every VS ↔ pool-member pair) and NAT
//! bindings. Lowering to P4Runtime entities is [`crate::lower`]'s job; nothing here
//! knows ids or encodings, and nothing here does I/O.
//!
//! `compile` reads the resolved [`Model`] ([`crate::model`]: names already indices,
//! values already parsed; [`crate::validate::check`] returns it) and assumes
//! [`crate::validate`] passed, but never panics on a config that did not: what it
//! cannot compile comes back as [`Diagnostic`]s naming the object path.
//!
//! One file per section: `inputs` (the SEs and profiles in compact form),
//! `placement` (cloned VSs on devices), `clone_sessions` (blocks and members:
//! clone sessions and `clone_rewrite`), `classify` (classify rules), `nat` (NAT
//! entries); `blocks` allocates member ids, `digest` computes digests, `entities`
//! holds the data model and `summary` the counts `p4clone check` prints.
//!
//! # Member ids (clone session ids)
//!
//! The allocation unit is a **block**: one (clone profile, service engine) pair on a
//! device. Every SE of a cloned VS's SE group that sits on the device gets its own
//! block of the profile's clone servers, so each SE has its own round-robin cursor
//! (the `rr_cursor` register is indexed by the block's first member id) and its own
//! per-clone-server statistics. Several VSs sharing a profile on one SE share the
//! block.
//!
//! Blocks are [`BLOCK_WIDTH`] (10, the maximum number of clone servers) ids wide:
//! block `b` (`0 <= b <` [`MAX_BLOCKS`] `= 3276`) holds member ids `10*b + 1 ..= 10*b + 10`,
//! so ids stay within BMv2's clone session range 1..=32767 (`docs/targets.md`). A profile with
//! `k` clone servers uses the first `k` ids of its block: clone server `i` (0-based, in
//! declaration order) is member `10*b + 1 + i`.
//!
//! Which block a key gets, per device:
//! 1. **Hints first.** `hints` ([`Allocation`], e.g. what the runtime read back from
//!    the device, or [`Intent::allocation`] of the previous compile) map
//!    (device, profile, SE) to a block. Every key still present keeps its hinted block,
//!    so ids never move across edits. Hints are taken in (profile, SE) order; a hint
//!    out of range or naming a block already taken by an earlier hint is ignored, and
//!    hints for keys that no longer exist are dropped.
//! 2. **Then hashing.** Each remaining key has a *home* block: the first 8 bytes
//!    (big-endian) of `sha256("profile\0se")` modulo 3276. Keys are placed in
//!    (home, profile, SE) order, each at its home or, if taken, the next free block
//!    (linear probing, wrapping around).
//!
//! The result depends only on the set of keys and the hints, never on the order of
//! objects in the file. Without hints, adding or removing a key moves at most keys
//! that had collided with it; with hints, nothing moves. A device needing more than
//! 3276 blocks is an error ("needs more than 32767 clone sessions").
//!
//! # Classify rules and priorities
//!
//! For each cloned VS, each SE of its SE group on the device, each pool server, each
//! interface of that SE whose network's subnet contains the server address (the "SE
//! side"), and each distinct protocol of the VS's services, two rules are generated:
//! - forward: `src = SE address/32|128, dst = server/32|128, protocol, sport *, dport = server port`;
//! - reverse: `src = server, dst = SE address, protocol, sport = server port, dport *`.
//!
//! Rules with identical keys from several VSs that select the same block are merged
//! into one (the owning VSs are listed); identical keys selecting different blocks are
//! an error naming both VSs. Every generated rule is exact on both addresses and the
//! protocol and exact on one port, so all rules have the same specificity: they all get
//! the constant priority [`RULE_PRIORITY`]. After deduplication two rules can only
//! overlap if an SE interface address is also a pool-member address.
//!
//! Rules are sorted by (family, src, src length, dst, dst length, protocol, sport,
//! dport); members by id; blocks by first id; NAT entries by (SE address, port,
//! protocol).
//!
//! # Digests
//!
//! A profile's `config_digest` is 16 hex characters of sha256 over the canonical JSON
//! serialization of every field of the profile, so any change to the profile changes
//! it (the runtime resets that profile's counters then). A rule's `owner_digest` is the
//! digest over its sorted owning VS names and its profile's digest. Lowering stores
//! these as entry metadata so a later sync can detect change.

mod blocks;
mod classify;
mod clone_sessions;
mod digest;
mod entities;
mod filters;
mod inputs;
mod nat;
mod placement;
mod summary;

pub use blocks::{
    allocate_blocks, allocate_blocks_in, home_block, home_block_in, BLOCK_WIDTH, MAX_BLOCKS, MAX_SESSION_ID,
};
pub use classify::RULE_PRIORITY;
pub use digest::{owner_digest, profile_digest, Digest};
pub use entities::{
    distribution_name, Allocation, ClassifyRule, CloneMember, DeviceIntent, Family, Intent, MemberBlock, MemberEncap,
    MemberId, NatEntry, TableCounts, WirePair,
};
pub use summary::{summarize, DeviceSummary, Summary};

use crate::config::Config;
use crate::diag::Diagnostic;
use crate::model::Model;
use classify::Candidates;
use inputs::Inputs;
use p4clone_proto::program::tables;
use placement::Placement;

/// Compiles a config into per-device intent, honouring block `hints`.
///
/// Assumes [`crate::validate::validate`] passed, but reports (never panics on) any
/// problem it meets: unparsable values, dangling references, unreachable clone
/// networks, conflicting rules, too many blocks on a device. Resolves the config
/// first; [`compile_model`] compiles an already resolved one.
pub fn compile(cfg: &Config, hints: &Allocation) -> Result<Intent, Vec<Diagnostic>> {
    compile_model(&Model::resolve(cfg), hints)
}

/// [`compile`] on a resolved model (e.g. [`crate::validate::Checked::model`]), so a
/// config validated and compiled is resolved once.
pub fn compile_model(model: &Model<'_>, hints: &Allocation) -> Result<Intent, Vec<Diagnostic>> {
    let cfg = model.config;
    let mut errs: Vec<Diagnostic> = Vec::new();
    let inputs = Inputs::gather(model, &mut errs);
    let mut placement = Placement::of_virtual_services(model, &inputs, &mut errs);
    nat::place_bindings(model, &inputs, &mut placement.devices, &mut errs);

    let mut devices = Vec::with_capacity(cfg.devices.len());
    let mut candidates = Candidates::default();
    for (di, dev) in cfg.devices.iter().enumerate() {
        let acc = &placement.devices[di];
        let Some(block_of) = clone_sessions::allocate(model, &inputs, acc, di, hints, &mut errs) else {
            continue;
        };
        let (blocks, members) = clone_sessions::blocks_and_members(model, &inputs, acc, di, &block_of, &mut errs);
        let rules = candidates.device_rules(model, &inputs, &placement, acc, &block_of, &dev.name, &mut errs);
        check_classify_sizes(di, dev, &rules, &mut errs);
        let nat = nat::device_entries(cfg, &acc.nat, &mut errs);
        devices.push(DeviceIntent {
            name: dev.name.clone(),
            target: dev.target,
            address: dev.address.clone(),
            device_id: dev.device_id,
            wires: dev.wires.iter().map(|w| WirePair(w[0], w[1])).collect(),
            members,
            rules,
            nat,
            blocks,
        });
    }

    if !errs.is_empty() {
        return Err(errs);
    }
    devices.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Intent { devices })
}

/// A device's classify rules fit its program's classify tables (filter rules with
/// a port range on the SE's side multiply them).
fn check_classify_sizes(di: usize, dev: &crate::config::Device, rules: &[ClassifyRule], errs: &mut Vec<Diagnostic>) {
    let Ok(schema) = dev.target.rules().schema() else { return };
    for (family, table) in [(Family::V4, tables::CLASSIFY_V4.name), (Family::V6, tables::CLASSIFY_V6.name)] {
        let Ok(size) = schema.table(table).map(|t| usize::try_from(t.size).unwrap_or(usize::MAX)) else { continue };
        let n = rules.iter().filter(|r| r.family == family).count();
        if n > size {
            errs.push(Diagnostic::error(
                format!("devices[{di}]"),
                format!(
                    "device `{}` needs {n} `{table}` entries but its program's table holds {size}: clone fewer \
                     virtual services or pool members there (a filter rule with a port range on the SE's port adds \
                     entries for every rule it applies to)",
                    dev.name
                ),
            ));
        }
    }
}
