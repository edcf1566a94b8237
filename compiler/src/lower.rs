//! Lowering: [`DeviceIntent`] → P4Runtime entities and `Update`s for the one
//! pipeline of `docs/dataplane.md`.
//!
//! Every table, action, match-field and parameter id and every bitwidth comes from the
//! P4Info through [`P4Schema`]; nothing here hard-codes an id. The program's P4Info
//! (`p4src/traffic_clone.p4info.txtpb`) is embedded at build time: [`program_schema`].
//!
//! # Encoding
//! - Exact matches and action parameters are canonical bytestrings (P4Runtime §8.4),
//!   checked against the field's bitwidth. (Classify and `clone_rewrite` entries,
//!   almost all of a large apply, check every value first and, when all fit, encode
//!   them without further checks; otherwise the checked encoders report the first
//!   problem.)
//! - Ternary matches (`clone_classify_v4/v6`): `value & mask`, both canonical; a
//!   wildcard field (prefix length 0, port `None`) is omitted, as the P4Runtime spec
//!   requires for don't-care ternary fields. Entries of ternary tables carry the rule's
//!   priority; exact tables carry none.
//! - Clone sessions: `PacketReplicationEngineEntry.clone_session_entry` with
//!   `session_id` = member id, one replica `{egress_port, instance}` and
//!   `class_of_service` 0, in the form the device's target asks for
//!   ([`crate::target`]): on v1model `instance` = member id and
//!   `packet_length_bytes` 0 (truncation is the `clone_rewrite_set.truncate_len`
//!   parameter, `docs/dataplane.md`, `docs/targets.md`); on Tofino `instance` 0 and
//!   `packet_length_bytes` = the profile's truncation, with `truncate_len` 0. The replica uses the
//!   `egress_port` form, which BMv2/PI accepts; its value is checked against the width
//!   of `wire.ingress_port` (the program's port width).
//!
//! # Metadata (change detection on later syncs)
//! `TableEntry.metadata` carries:
//! - `wire`: `wire:A-B` (the pair the entry belongs to);
//! - `clone_rewrite`: the profile's `config_digest` (16 hex characters), then NUL, the
//!   profile name, NUL, the SE name ([`rewrite_metadata`]). The names let a runtime
//!   rebuild the block [`Allocation`](crate::intent::Allocation) from what a device
//!   holds ([`allocation_from_rewrites`]): block = (member id - 1) / 10;
//! - `clone_encap`: the same as the member's `clone_rewrite` entry;
//! - `nat_*`: a digest of the binding ([`nat_digest`]);
//! - `clone_classify_*`: the rule's `owner_digest` (owning VSs + profile digest).
//!
//! # Order
//! [`lower_entities`] returns a full apply in dependency order: `wire` entries, clone
//! sessions, `clone_rewrite`, `clone_encap`, `nat_src_v4`, `nat_dst_v4`, `nat_src_v6`, `nat_dst_v6`,
//! and the classify entries last (they select sessions). Deletions go in the reverse
//! order ([`deletion_updates`]). Default actions are the program's own
//! (`docs/dataplane.md`) and are not part of a full apply; [`default_action_entities`]
//! gives them for a controller that wants to reset them.

use std::net::IpAddr;

use p4clone_proto::p4::v1::{
    action, entity, field_match, packet_replication_engine_entry, replica, table_action, update, write_request, Action,
    CloneSessionEntry, Entity, FieldMatch, PacketReplicationEngineEntry, Replica, TableAction, TableEntry, Update,
    WriteRequest,
};
use p4clone_proto::program::{actions, tables};
use p4clone_proto::schema::{MatchKind, P4Schema};
use p4clone_proto::{bytestring, Bytes};

use crate::config::{Distribution, EncapKind, FilterAction};
use crate::filter::SampleMode;
use crate::intent::{ClassifyRule, CloneMember, DeviceIntent, Digest, Family, NatEntry, WirePair};
use crate::target::{ReplicaInstance, TargetRules, Truncation};

/// The program's P4Info text (`p4clone_proto::program`, where it is embedded).
pub use p4clone_proto::program::P4INFO_TEXT;

/// What can go wrong while lowering.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LowerError {
    /// The P4Info lacks an object the lowering needs, or has it with another shape.
    #[error("P4Info does not match the data-plane contract: {0}")]
    Schema(String),
    /// A value does not fit the bitwidth of its field or parameter.
    #[error("device `{device}`: {what} = {value} does not fit {bits} bits")]
    TooWide {
        /// Device being lowered.
        device: String,
        /// `table.field` or `action.param`.
        what: String,
        /// The value.
        value: u128,
        /// The available width.
        bits: u32,
    },
    /// An intent is inconsistent (e.g. a rule whose addresses mix families).
    #[error("device `{device}`: {message}")]
    Intent {
        /// Device being lowered.
        device: String,
        /// What is wrong.
        message: String,
    },
    /// An entity does not resolve in the P4Info ([`verify_entity`]).
    #[error("entity does not match the P4Info: {0}")]
    Entity(String),
}

/// The embedded program's [`P4Schema`], parsed once.
pub fn program_schema() -> Result<&'static P4Schema, LowerError> {
    p4clone_proto::program::schema().map_err(|e| LowerError::Schema(e.to_string()))
}

// ---------------------------------------------------------------------------------
// resolved ids

#[derive(Debug, Clone, Copy)]
struct Field {
    id: u32,
    bits: u32,
}

impl Field {
    /// All ones over the field's width.
    fn full_mask(self) -> u128 {
        bytestring::mask(self.bits)
    }
}

#[derive(Debug, Clone)]
struct Tbl {
    name: &'static str,
    id: u32,
    fields: Vec<Field>,
}

#[derive(Debug, Clone)]
struct Act {
    name: &'static str,
    id: u32,
    params: Vec<Field>,
}

/// Every id and width the lowering uses, resolved once per schema.
#[derive(Debug, Clone)]
struct Ids {
    wire: Tbl,
    wire_forward: Act,
    classify: [Tbl; 2],
    classify_hit: Act,
    /// `classify_hit_sampled` and `classify_skip`, where the program has them.
    classify_filter: Option<(Act, Act)>,
    rewrite: Tbl,
    rewrite_set: Act,
    /// nat_src_v4, nat_dst_v4, nat_src_v6, nat_dst_v6
    nat: [Tbl; 4],
    nat_set: [Act; 2],
    port_bits: u32,
    /// `clone_encap` and its vxlan, gre, erspan actions; `None` when the program
    /// has no encapsulation (members that need it then fail to lower).
    encap: Option<(Tbl, [Act; 3])>,
}

fn schema_err(e: impl std::fmt::Display) -> LowerError {
    LowerError::Schema(e.to_string())
}

fn tbl(
    schema: &P4Schema,
    name: &'static str,
    fields: &[(&str, MatchKind)],
    actions: &[&Act],
) -> Result<Tbl, LowerError> {
    let t = schema.table(name).map_err(schema_err)?;
    let mut out = Vec::with_capacity(fields.len());
    for (f, kind) in fields {
        let mf = t.match_field(f).map_err(schema_err)?;
        if &mf.match_type != kind {
            return Err(LowerError::Schema(format!(
                "match field `{f}` of table `{name}` is {:?}, the contract says {kind:?}",
                mf.match_type
            )));
        }
        out.push(Field { id: mf.id, bits: mf.bitwidth });
    }
    if t.match_fields.len() != fields.len() {
        return Err(LowerError::Schema(format!(
            "table `{name}` has {} match fields, the contract says {}",
            t.match_fields.len(),
            fields.len()
        )));
    }
    for a in actions {
        if !t.has_action(a.id) {
            return Err(LowerError::Schema(format!("table `{name}` does not list action `{}`", a.name)));
        }
    }
    Ok(Tbl { name, id: t.id, fields: out })
}

fn act(schema: &P4Schema, name: &'static str, params: &[&str]) -> Result<Act, LowerError> {
    let a = schema.action(name).map_err(schema_err)?;
    let mut out = Vec::with_capacity(params.len());
    for p in params {
        let pi = a.param(p).map_err(schema_err)?;
        out.push(Field { id: pi.id, bits: pi.bitwidth });
    }
    if a.params.len() != params.len() {
        return Err(LowerError::Schema(format!(
            "action `{name}` has {} parameters, the contract says {}",
            a.params.len(),
            params.len()
        )));
    }
    Ok(Act { name, id: a.id, params: out })
}

impl Ids {
    fn resolve(schema: &P4Schema) -> Result<Ids, LowerError> {
        use MatchKind::{Exact, Ternary};
        let wire_forward = act(schema, actions::WIRE_FORWARD.name, &["port"])?;
        let wire = tbl(schema, tables::WIRE.name, &[("ingress_port", Exact)], &[&wire_forward])?;
        let classify_hit = act(schema, actions::CLASSIFY_HIT.name, &["first_member", "member_count", "mode"])?;
        let v4 = tbl(
            schema,
            tables::CLASSIFY_V4.name,
            &[
                ("src_addr", Ternary),
                ("dst_addr", Ternary),
                ("protocol", Ternary),
                ("l4_src_port", Ternary),
                ("l4_dst_port", Ternary),
            ],
            &[&classify_hit],
        )?;
        let v6 = tbl(
            schema,
            tables::CLASSIFY_V6.name,
            &[
                ("src_addr", Ternary),
                ("dst_addr", Ternary),
                ("next_header", Ternary),
                ("l4_src_port", Ternary),
                ("l4_dst_port", Ternary),
            ],
            &[&classify_hit],
        )?;
        let classify_filter =
            match (schema.action(actions::CLASSIFY_HIT_SAMPLED.name), schema.action(actions::CLASSIFY_SKIP.name)) {
                (Ok(_), Ok(_)) => {
                    let sampled = act(
                        schema,
                        actions::CLASSIFY_HIT_SAMPLED.name,
                        &["first_member", "member_count", "mode", "sample_mode", "sample_arg"],
                    )?;
                    let skip = act(schema, actions::CLASSIFY_SKIP.name, &["first_member"])?;
                    for t in [tables::CLASSIFY_V4.name, tables::CLASSIFY_V6.name] {
                        let info = schema.table(t).map_err(schema_err)?;
                        if let Some(a) = [&sampled, &skip].into_iter().find(|a| !info.has_action(a.id)) {
                            return Err(LowerError::Schema(format!("table `{t}` does not list action `{}`", a.name)));
                        }
                    }
                    Some((sampled, skip))
                }
                _ => None,
            };
        let rewrite_set = act(
            schema,
            actions::CLONE_REWRITE_SET.name,
            &["dst_mac", "src_mac", "vlan_id", "truncate_len", "nat_restore"],
        )?;
        let rewrite = tbl(schema, tables::CLONE_REWRITE.name, &[("member", Exact)], &[&rewrite_set])?;
        let set4 = act(schema, actions::NAT_SET_V4.name, &["client_addr", "client_port"])?;
        let set6 = act(schema, actions::NAT_SET_V6.name, &["client_addr", "client_port"])?;
        let f4 = [("addr", Exact), ("port", Exact), ("protocol", Exact)];
        let f6 = [("addr", Exact), ("port", Exact), ("next_header", Exact)];
        let nat = [
            tbl(schema, tables::NAT_SRC_V4.name, &f4, &[&set4])?,
            tbl(schema, tables::NAT_DST_V4.name, &f4, &[&set4])?,
            tbl(schema, tables::NAT_SRC_V6.name, &f6, &[&set6])?,
            tbl(schema, tables::NAT_DST_V6.name, &f6, &[&set6])?,
        ];
        let port_bits = wire.fields[0].bits;
        let encap = if schema.table(tables::CLONE_ENCAP.name).is_ok() {
            let acts = [
                act(schema, actions::CLONE_ENCAP_VXLAN_V4.name, &["src_addr", "dst_addr", "vni", "mtu"])?,
                act(schema, actions::CLONE_ENCAP_GRE_V4.name, &["src_addr", "dst_addr", "key", "key_present", "mtu"])?,
                act(schema, actions::CLONE_ENCAP_ERSPAN_V4.name, &["src_addr", "dst_addr", "session_id", "mtu"])?,
            ];
            let t = tbl(schema, tables::CLONE_ENCAP.name, &[("member", Exact)], &[&acts[0], &acts[1], &acts[2]])?;
            Some((t, acts))
        } else {
            None
        };
        Ok(Ids {
            encap,
            wire,
            wire_forward,
            classify: [v4, v6],
            classify_hit,
            classify_filter,
            rewrite,
            rewrite_set,
            nat,
            nat_set: [set4, set6],
            port_bits,
        })
    }
}

// ---------------------------------------------------------------------------------
// encoding helpers

/// The canonical bytestring of `value` (P4Runtime §8.4), shared where possible
/// ([`bytestring::encode_shared`]: small values and prefix masks cost no allocation).
#[inline]
fn canonical(value: u128) -> Bytes {
    bytestring::encode_shared(value)
}

struct Enc<'a> {
    device: &'a str,
}

impl Enc<'_> {
    #[inline]
    fn value(&self, what: impl FnOnce() -> String, value: u128, bits: u32) -> Result<Bytes, LowerError> {
        if bytestring::value_fits(value, bits) {
            Ok(canonical(value))
        } else {
            Err(LowerError::TooWide { device: self.device.to_string(), what: what(), value, bits })
        }
    }

    #[inline]
    fn exact(&self, t: &Tbl, i: usize, value: u128) -> Result<FieldMatch, LowerError> {
        let f = t.fields[i];
        let v = self.value(|| format!("{}.#{}", t.name, f.id), value, f.bits)?;
        Ok(FieldMatch {
            field_id: f.id,
            field_match_type: Some(field_match::FieldMatchType::Exact(field_match::Exact { value: v })),
        })
    }

    /// A ternary match of `value` under a `len`-bit prefix mask; `None` for a wildcard.
    #[inline]
    fn ternary_prefix(&self, t: &Tbl, i: usize, value: u128, len: u32) -> Result<Option<FieldMatch>, LowerError> {
        if len == 0 {
            return Ok(None);
        }
        let f = t.fields[i];
        if len > f.bits {
            return Err(LowerError::Intent {
                device: self.device.to_string(),
                message: format!("prefix length {len} is longer than {}.#{} ({} bits)", t.name, f.id, f.bits),
            });
        }
        let full = f.full_mask();
        let mask = if len == f.bits { full } else { full & !(full >> len) };
        if !bytestring::value_fits(value, f.bits) {
            return Err(LowerError::TooWide {
                device: self.device.to_string(),
                what: format!("{}.#{}", t.name, f.id),
                value,
                bits: f.bits,
            });
        }
        Ok(Some(FieldMatch {
            field_id: f.id,
            field_match_type: Some(field_match::FieldMatchType::Ternary(field_match::Ternary {
                value: canonical(value & mask),
                mask: canonical(mask),
            })),
        }))
    }

    #[inline]
    fn param(&self, a: &Act, i: usize, value: u128) -> Result<action::Param, LowerError> {
        let p = a.params[i];
        let v = self.value(|| format!("{}.#{}", a.name, p.id), value, p.bits)?;
        Ok(action::Param { param_id: p.id, value: v })
    }
}

fn addr_bits(a: &IpAddr) -> u128 {
    match a {
        IpAddr::V4(a) => u128::from(u32::from(*a)),
        IpAddr::V6(a) => u128::from(*a),
    }
}

fn table_entity(e: TableEntry) -> Entity {
    Entity { entity: Some(entity::Entity::TableEntry(e)) }
}

fn action(a: Action) -> Option<TableAction> {
    Some(TableAction { r#type: Some(table_action::Type::Action(a)) })
}

/// The distribution mode as the `classify_hit.mode` parameter: 0 round robin, 1 flow hash.
pub fn mode_value(d: Distribution) -> u8 {
    match d {
        Distribution::RoundRobin => 0,
        Distribution::FlowHash => 1,
    }
}

/// Metadata of a NAT entry: 16 hex characters of sha256 over the binding.
pub fn nat_digest(n: &NatEntry) -> Digest {
    Digest::of(format!("{}|{}|{}|{}|{}", n.se_addr, n.se_port, n.client_addr, n.client_port, n.protocol).as_bytes())
}

/// Metadata of a `clone_rewrite` entry: `<config digest hex>\0<profile>\0<se>`.
pub fn rewrite_metadata(m: &CloneMember) -> Vec<u8> {
    let mut v = Vec::with_capacity(18 + m.profile.len() + m.se.len());
    v.extend_from_slice(&m.config_digest.hex_bytes());
    v.push(0);
    v.extend_from_slice(m.profile.as_bytes());
    v.push(0);
    v.extend_from_slice(m.se.as_bytes());
    v
}

/// Splits `clone_rewrite` metadata into (config digest hex, profile, SE); `None` if it
/// is not in the [`rewrite_metadata`] form.
pub fn parse_rewrite_metadata(bytes: &[u8]) -> Option<(String, String, String)> {
    let mut parts = bytes.splitn(3, |b| *b == 0);
    let digest = std::str::from_utf8(parts.next()?).ok()?;
    let profile = std::str::from_utf8(parts.next()?).ok()?;
    let se = std::str::from_utf8(parts.next()?).ok()?;
    if digest.len() != 16 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some((digest.to_string(), profile.to_string(), se.to_string()))
}

/// Rebuilds block hints for `device` from `clone_rewrite` entries read back from it
/// (as (member id, metadata) pairs), to pass to [`crate::intent::compile`] so ids
/// already on the device do not move. Entries whose metadata does not parse, and ids
/// outside 1..=32760, are skipped.
pub fn allocation_from_rewrites<'a>(
    device: &str,
    entries: impl IntoIterator<Item = (u16, &'a [u8])>,
) -> crate::intent::Allocation {
    let mut a = crate::intent::Allocation::default();
    for (id, meta) in entries {
        let Some((_, profile, se)) = parse_rewrite_metadata(meta) else { continue };
        if id == 0 {
            continue;
        }
        let block = (id - 1) / crate::intent::BLOCK_WIDTH;
        if block < crate::intent::MAX_BLOCKS {
            a.insert(device, &profile, &se, block);
        }
    }
    a
}

/// Metadata of a `wire` entry.
pub fn wire_metadata(w: &WirePair) -> Vec<u8> {
    format!("wire:{}-{}", w.0, w.1).into_bytes()
}

// ---------------------------------------------------------------------------------
// lowering

struct Lowerer<'a> {
    ids: Ids,
    enc: Enc<'a>,
    rules: &'static TargetRules,
}

/// Where lowered entities go, in order: entities, or `INSERT` updates. Table entries
/// are handed over unwrapped so that they are moved as few times as possible (a
/// `TableEntry` is a few hundred bytes).
trait Sink {
    fn entity(&mut self, e: Entity);
    fn table_entry(&mut self, e: TableEntry) {
        self.entity(table_entity(e));
    }
}

impl Sink for Vec<Entity> {
    fn entity(&mut self, e: Entity) {
        self.push(e);
    }
}

impl Sink for Vec<Update> {
    fn entity(&mut self, e: Entity) {
        self.push(Update { r#type: update::Type::Insert as i32, entity: Some(e) });
    }
    #[inline]
    fn table_entry(&mut self, e: TableEntry) {
        self.push(Update {
            r#type: update::Type::Insert as i32,
            entity: Some(Entity { entity: Some(entity::Entity::TableEntry(e)) }),
        });
    }
}

impl Lowerer<'_> {
    fn wire(&self, w: &WirePair) -> Result<[Entity; 2], LowerError> {
        let t = &self.ids.wire;
        let a = &self.ids.wire_forward;
        let entry = |from: u32, to: u32| -> Result<Entity, LowerError> {
            Ok(table_entity(TableEntry {
                table_id: t.id,
                r#match: vec![self.enc.exact(t, 0, u128::from(from))?],
                action: action(Action { action_id: a.id, params: vec![self.enc.param(a, 0, u128::from(to))?] }),
                metadata: wire_metadata(w).into(),
                ..Default::default()
            }))
        };
        Ok([entry(w.0, w.1)?, entry(w.1, w.0)?])
    }

    fn session(&self, m: &CloneMember) -> Result<Entity, LowerError> {
        let port = u128::from(m.egress_port);
        if !bytestring::value_fits(port, self.ids.port_bits) {
            return Err(LowerError::TooWide {
                device: self.enc.device.to_string(),
                what: format!("clone session {} egress_port", m.id),
                value: port,
                bits: self.ids.port_bits,
            });
        }
        #[allow(deprecated)] // `egress_port` is the form BMv2/PI implements
        let port_kind = Some(replica::PortKind::EgressPort(m.egress_port));
        let instance = match self.rules.replica_instance {
            ReplicaInstance::Member => u32::from(m.id.0),
            ReplicaInstance::Zero => 0,
        };
        let packet_length_bytes = match self.rules.truncation {
            Truncation::Program => 0,
            Truncation::Session => {
                if u32::from(m.truncate) > self.rules.max_packet_length {
                    return Err(LowerError::TooWide {
                        device: self.enc.device.to_string(),
                        what: format!("clone session {} packet_length_bytes", m.id),
                        value: u128::from(m.truncate),
                        bits: 16,
                    });
                }
                i32::from(m.truncate)
            }
        };
        Ok(Entity {
            entity: Some(entity::Entity::PacketReplicationEngineEntry(PacketReplicationEngineEntry {
                r#type: Some(packet_replication_engine_entry::Type::CloneSessionEntry(CloneSessionEntry {
                    session_id: u32::from(m.id.0),
                    replicas: vec![Replica { instance, backup_replicas: Vec::new(), port_kind }],
                    class_of_service: 0,
                    packet_length_bytes,
                })),
            })),
        })
    }

    fn rewrite(&self, m: &CloneMember, out: &mut impl Sink) -> Result<(), LowerError> {
        let t = &self.ids.rewrite;
        let a = &self.ids.rewrite_set;
        let e = &self.enc;
        let member = u128::from(m.id.0);
        let values = [
            u128::from(m.dst_mac.to_u64()),
            u128::from(m.src_mac.to_u64()),
            u128::from(m.vlan.unwrap_or(0)),
            match self.rules.truncation {
                Truncation::Program => u128::from(m.truncate),
                Truncation::Session => 0,
            },
            u128::from(m.nat_restore),
        ];
        // Fast path when everything fits, as in `classify`.
        let valid = bytestring::value_fits(member, t.fields[0].bits)
            && a.params.iter().zip(values).all(|(p, v)| bytestring::value_fits(v, p.bits));
        let (r#match, params) = if valid {
            let exact = field_match::FieldMatchType::Exact(field_match::Exact { value: canonical(member) });
            (
                vec![FieldMatch { field_id: t.fields[0].id, field_match_type: Some(exact) }],
                a.params
                    .iter()
                    .zip(values)
                    .map(|(p, v)| action::Param { param_id: p.id, value: canonical(v) })
                    .collect(),
            )
        } else {
            let r#match = vec![e.exact(t, 0, member)?];
            let params = vec![
                e.param(a, 0, values[0])?,
                e.param(a, 1, values[1])?,
                e.param(a, 2, values[2])?,
                e.param(a, 3, values[3])?,
                e.param(a, 4, values[4])?,
            ];
            (r#match, params)
        };
        out.table_entry(TableEntry {
            table_id: t.id,
            r#match,
            action: action(Action { action_id: a.id, params }),
            metadata: rewrite_metadata(m).into(),
            ..Default::default()
        });
        Ok(())
    }

    /// The `clone_encap` entry of an encapsulated member (none for a plain one).
    fn encap(&self, m: &CloneMember, out: &mut impl Sink) -> Result<(), LowerError> {
        let Some(enc) = &m.encap else {
            return Ok(());
        };
        let Some((t, acts)) = &self.ids.encap else {
            return Err(LowerError::Intent {
                device: self.enc.device.to_string(),
                message: format!("member {} needs `clone_encap`, which the device's program lacks", m.id),
            });
        };
        let (src, dst, id, mtu) = (
            u128::from(u32::from(enc.src)),
            u128::from(u32::from(enc.remote)),
            u128::from(enc.id),
            u128::from(enc.mtu),
        );
        let (a, values): (&Act, Vec<u128>) = match enc.kind {
            EncapKind::Vxlan => (&acts[0], vec![src, dst, id, mtu]),
            EncapKind::Gre => (&acts[1], vec![src, dst, id, u128::from(enc.key_present), mtu]),
            EncapKind::Erspan => (&acts[2], vec![src, dst, id, mtu]),
        };
        let params = values.iter().enumerate().map(|(i, &v)| self.enc.param(a, i, v)).collect::<Result<_, _>>()?;
        out.table_entry(TableEntry {
            table_id: t.id,
            r#match: vec![self.enc.exact(t, 0, u128::from(m.id.0))?],
            action: action(Action { action_id: a.id, params }),
            metadata: rewrite_metadata(m).into(),
            ..Default::default()
        });
        Ok(())
    }

    /// `which`: 0 = src table, 1 = dst table.
    fn nat(&self, n: &NatEntry, which: usize) -> Result<Entity, LowerError> {
        let fam = match (n.se_addr, n.client_addr) {
            (IpAddr::V4(_), IpAddr::V4(_)) => 0,
            (IpAddr::V6(_), IpAddr::V6(_)) => 1,
            _ => {
                return Err(LowerError::Intent {
                    device: self.enc.device.to_string(),
                    message: format!("NAT binding {}:{} mixes address families", n.se_addr, n.se_port),
                })
            }
        };
        let t = &self.ids.nat[fam * 2 + which];
        let a = &self.ids.nat_set[fam];
        let e = &self.enc;
        Ok(table_entity(TableEntry {
            table_id: t.id,
            r#match: vec![
                e.exact(t, 0, addr_bits(&n.se_addr))?,
                e.exact(t, 1, u128::from(n.se_port))?,
                e.exact(t, 2, u128::from(n.protocol))?,
            ],
            action: action(Action {
                action_id: a.id,
                params: vec![e.param(a, 0, addr_bits(&n.client_addr))?, e.param(a, 1, u128::from(n.client_port))?],
            }),
            metadata: Bytes::copy_from_slice(&nat_digest(n).hex_bytes()),
            ..Default::default()
        }))
    }

    fn classify(&self, r: &ClassifyRule, out: &mut impl Sink) -> Result<(), LowerError> {
        let fam = match (r.family, r.src_addr, r.dst_addr) {
            (Family::V4, IpAddr::V4(_), IpAddr::V4(_)) => 0,
            (Family::V6, IpAddr::V6(_), IpAddr::V6(_)) => 1,
            _ => {
                return Err(LowerError::Intent {
                    device: self.enc.device.to_string(),
                    message: format!("classify rule {} -> {} mixes address families", r.src_addr, r.dst_addr),
                })
            }
        };
        let t = &self.ids.classify[fam];
        let (src, dst) = (addr_bits(&r.src_addr), addr_bits(&r.dst_addr));
        let (src_len, dst_len) = (u32::from(r.src_len), u32::from(r.dst_len));
        let (first, count, mode) =
            (u128::from(r.first_member.0), u128::from(r.member_count), u128::from(mode_value(r.mode)));
        let filter = |which: fn(&(Act, Act)) -> &Act| {
            self.ids.classify_filter.as_ref().map(which).ok_or_else(|| LowerError::Intent {
                device: self.enc.device.to_string(),
                message: "the device's program has no filter or sampling actions (classify_skip, \
                          classify_hit_sampled)"
                    .to_string(),
            })
        };
        let (a, values): (&Act, &[u128]) = match (r.action, r.sample) {
            (FilterAction::Skip, _) => (filter(|f| &f.1)?, &[first]),
            (FilterAction::Clone, SampleMode::All) => (&self.ids.classify_hit, &[first, count, mode]),
            (FilterAction::Clone, s) => {
                (filter(|f| &f.0)?, &[first, count, mode, u128::from(s.mode_value()), u128::from(s.arg_value())])
            }
        };
        let (sport_len, dport_len) = (u32::from(r.l4_src_len), u32::from(r.l4_dst_len));
        // Fast path: every value fits (the usual case), so encode without checks.
        // Otherwise the checked path below reports the first problem.
        let f = &t.fields;
        let fits = |i: usize, v: u128, len: u32| len <= f[i].bits && bytestring::value_fits(v, f[i].bits);
        let valid = fits(0, src, src_len)
            && fits(1, dst, dst_len)
            && fits(2, u128::from(r.protocol), f[2].bits)
            && r.l4_src_port.is_none_or(|p| fits(3, u128::from(p), sport_len))
            && r.l4_dst_port.is_none_or(|p| fits(4, u128::from(p), dport_len))
            && a.params.len() == values.len()
            && a.params.iter().zip(values).all(|(p, &v)| bytestring::value_fits(v, p.bits));
        let fields = usize::from(src_len > 0)
            + usize::from(dst_len > 0)
            + 1
            + usize::from(r.l4_src_port.is_some())
            + usize::from(r.l4_dst_port.is_some());
        let mut m = Vec::with_capacity(fields);
        let params = if valid {
            let mut ternary = |i: usize, value: u128, len: u32| {
                if len > 0 {
                    let full = f[i].full_mask();
                    let mask = if len == f[i].bits { full } else { full & !(full >> len) };
                    m.push(FieldMatch {
                        field_id: f[i].id,
                        field_match_type: Some(field_match::FieldMatchType::Ternary(field_match::Ternary {
                            value: canonical(value & mask),
                            mask: canonical(mask),
                        })),
                    });
                }
            };
            ternary(0, src, src_len);
            ternary(1, dst, dst_len);
            ternary(2, u128::from(r.protocol), f[2].bits);
            if let Some(p) = r.l4_src_port {
                ternary(3, u128::from(p), sport_len);
            }
            if let Some(p) = r.l4_dst_port {
                ternary(4, u128::from(p), dport_len);
            }
            a.params.iter().zip(values).map(|(p, &v)| action::Param { param_id: p.id, value: canonical(v) }).collect()
        } else {
            let e = &self.enc;
            m.extend(e.ternary_prefix(t, 0, src, src_len)?);
            m.extend(e.ternary_prefix(t, 1, dst, dst_len)?);
            m.extend(e.ternary_prefix(t, 2, u128::from(r.protocol), f[2].bits)?);
            if let Some(p) = r.l4_src_port {
                m.extend(e.ternary_prefix(t, 3, u128::from(p), sport_len)?);
            }
            if let Some(p) = r.l4_dst_port {
                m.extend(e.ternary_prefix(t, 4, u128::from(p), dport_len)?);
            }
            values.iter().enumerate().map(|(i, &v)| e.param(a, i, v)).collect::<Result<Vec<_>, _>>()?
        };
        out.table_entry(TableEntry {
            table_id: t.id,
            r#match: m,
            action: action(Action { action_id: a.id, params }),
            priority: r.priority,
            metadata: Bytes::copy_from_slice(&r.owner_digest.hex_bytes()),
            ..Default::default()
        });
        Ok(())
    }
}

/// The entities of a full apply of `d`, in dependency order (see the module docs).
pub fn lower_entities(d: &DeviceIntent, schema: &P4Schema) -> Result<Vec<Entity>, LowerError> {
    let mut out: Vec<Entity> = Vec::with_capacity(entity_count(d));
    lower_into(d, schema, &mut out)?;
    Ok(out)
}

fn entity_count(d: &DeviceIntent) -> usize {
    d.wires.len() * 2
        + d.members.len() * 2
        + d.members.iter().filter(|m| m.encap.is_some()).count()
        + d.nat.len() * 2
        + d.rules.len()
}

/// Feeds the entities of a full apply of `d`, in order, to `out`.
fn lower_into(d: &DeviceIntent, schema: &P4Schema, out: &mut impl Sink) -> Result<(), LowerError> {
    let l = Lowerer { ids: Ids::resolve(schema)?, enc: Enc { device: &d.name }, rules: d.target.rules() };
    for w in &d.wires {
        for e in l.wire(w)? {
            out.entity(e);
        }
    }
    for m in &d.members {
        out.entity(l.session(m)?);
    }
    for m in &d.members {
        l.rewrite(m, out)?;
    }
    for m in &d.members {
        l.encap(m, out)?;
    }
    for fam_v4 in [true, false] {
        for which in [0, 1] {
            for n in d.nat.iter().filter(|n| n.se_addr.is_ipv4() == fam_v4) {
                out.entity(l.nat(n, which)?);
            }
        }
    }
    // IPv4 rules, then IPv6 ones (a second pass only if there are any).
    let mut v6 = false;
    for r in &d.rules {
        if r.family == Family::V4 {
            l.classify(r, out)?;
        } else {
            v6 = true;
        }
    }
    if v6 {
        for r in d.rules.iter().filter(|r| r.family == Family::V6) {
            l.classify(r, out)?;
        }
    }
    Ok(())
}

/// Wraps entities as updates of one type, keeping their order.
pub fn updates(entities: Vec<Entity>, kind: update::Type) -> Vec<Update> {
    entities.into_iter().map(|e| Update { r#type: kind as i32, entity: Some(e) }).collect()
}

/// The `INSERT` updates of a full apply of `d`, in dependency order.
pub fn lower_device(d: &DeviceIntent, schema: &P4Schema) -> Result<Vec<Update>, LowerError> {
    let mut out: Vec<Update> = Vec::with_capacity(entity_count(d));
    lower_into(d, schema, &mut out)?;
    Ok(out)
}

/// `DELETE` updates for `entities` given in apply order: reversed, so classify
/// entries go before the sessions they reference and wires go last.
pub fn deletion_updates(entities: Vec<Entity>) -> Vec<Update> {
    let mut u = updates(entities, update::Type::Delete);
    u.reverse();
    u
}

/// One `WriteRequest` for `device_id` (atomicity `CONTINUE_ON_ERROR`, the only one PI
/// accepts; election id unset — the runtime sets it).
pub fn write_request(device_id: u64, updates: Vec<Update>) -> WriteRequest {
    WriteRequest {
        device_id,
        updates,
        atomicity: write_request::Atomicity::ContinueOnError as i32,
        ..Default::default()
    }
}

/// The default-action entries of the contract (`wire_drop`, `classify_miss`,
/// `clone_rewrite_miss`, `nat_miss`) for every table, to send as `MODIFY` when a
/// controller wants to reset them. Not part of [`lower_entities`].
pub fn default_action_entities(schema: &P4Schema) -> Result<Vec<Entity>, LowerError> {
    let pairs = [
        (tables::WIRE.name, actions::WIRE_DROP.name),
        (tables::CLASSIFY_V4.name, actions::CLASSIFY_MISS.name),
        (tables::CLASSIFY_V6.name, actions::CLASSIFY_MISS.name),
        (tables::CLONE_REWRITE.name, actions::CLONE_REWRITE_MISS.name),
        (tables::CLONE_ENCAP.name, actions::CLONE_ENCAP_NONE.name),
        (tables::NAT_SRC_V4.name, actions::NAT_MISS.name),
        (tables::NAT_DST_V4.name, actions::NAT_MISS.name),
        (tables::NAT_SRC_V6.name, actions::NAT_MISS.name),
        (tables::NAT_DST_V6.name, actions::NAT_MISS.name),
    ];
    pairs
        .iter()
        // A program without encapsulation (e.g. another architecture's) has no `clone_encap`.
        .filter(|(t, _)| *t != tables::CLONE_ENCAP.name || schema.table(t).is_ok())
        .map(|(t, a)| {
            let t = schema.table(t).map_err(schema_err)?;
            let a = schema.action(a).map_err(schema_err)?;
            if !t.has_action(a.id) {
                return Err(LowerError::Schema(format!("table `{}` does not list action `{}`", t.name, a.name)));
            }
            Ok(table_entity(TableEntry {
                table_id: t.id,
                action: action(Action { action_id: a.id, params: Vec::new() }),
                is_default_action: true,
                ..Default::default()
            }))
        })
        .collect()
}

/// Checks one entity against the P4Info the way a P4Runtime server would: the table
/// exists; every match field belongs to it, has the right kind, a canonical value that
/// fits its bitwidth and (ternary) no value bits outside the mask and no all-zero
/// mask; priority is set exactly on ternary tables; the action belongs to the table
/// and its parameters are exactly the action's, canonical and fitting. Clone sessions
/// need an id in 1..=32767, one replica and `packet_length_bytes` 0 (the v1model
/// rules; [`verify_entity_for`] checks another target's).
pub fn verify_entity(schema: &P4Schema, e: &Entity) -> Result<(), LowerError> {
    verify_entity_for(crate::config::Target::Soft.rules(), schema, e)
}

/// [`verify_entity`] with the clone-session rules of a target: session id in
/// 1..=`max_session_id`, one replica whose `instance` and port are the target's,
/// `packet_length_bytes` 0 where the program truncates and at most
/// `max_packet_length` where the session does.
pub fn verify_entity_for(rules: &TargetRules, schema: &P4Schema, e: &Entity) -> Result<(), LowerError> {
    let bad = |m: String| Err(LowerError::Entity(m));
    match &e.entity {
        Some(entity::Entity::TableEntry(te)) => {
            let t = schema.table_by_id(te.table_id).map_err(|e| LowerError::Entity(e.to_string()))?;
            let mut seen = Vec::new();
            for fm in &te.r#match {
                let f = t.match_field_by_id(fm.field_id).map_err(|e| LowerError::Entity(e.to_string()))?;
                if seen.contains(&fm.field_id) {
                    return bad(format!("{}: field {} matched twice", t.name, f.name));
                }
                seen.push(fm.field_id);
                let check = |v: &[u8], what: &str| -> Result<(), LowerError> {
                    if !bytestring::is_canonical(v) {
                        return bad(format!("{}.{}: {what} {v:?} is not canonical", t.name, f.name));
                    }
                    if !bytestring::fits(v, f.bitwidth) {
                        return bad(format!("{}.{}: {what} {v:?} exceeds {} bits", t.name, f.name, f.bitwidth));
                    }
                    Ok(())
                };
                match (&fm.field_match_type, &f.match_type) {
                    (Some(field_match::FieldMatchType::Exact(x)), MatchKind::Exact) => check(&x.value, "value")?,
                    (Some(field_match::FieldMatchType::Ternary(x)), MatchKind::Ternary) => {
                        check(&x.value, "value")?;
                        check(&x.mask, "mask")?;
                        if x.mask.as_ref() == [0] {
                            return bad(format!("{}.{}: all-zero mask must be omitted", t.name, f.name));
                        }
                        if !bytestring::is_masked(&x.value, &x.mask) {
                            return bad(format!("{}.{}: value has bits outside the mask", t.name, f.name));
                        }
                    }
                    (other, kind) => {
                        return bad(format!("{}.{}: {kind:?} field matched as {other:?}", t.name, f.name));
                    }
                }
            }
            for f in &t.match_fields {
                if f.match_type == MatchKind::Exact && !seen.contains(&f.id) {
                    return bad(format!("{}: exact field {} missing", t.name, f.name));
                }
            }
            if t.needs_priority() != (te.priority > 0) {
                return bad(format!(
                    "{}: priority {} on a table that {} one",
                    t.name,
                    te.priority,
                    if t.needs_priority() { "needs" } else { "takes no" }
                ));
            }
            let Some(TableAction { r#type: Some(table_action::Type::Action(a)) }) = &te.action else {
                return bad(format!("{}: entry has no direct action", t.name));
            };
            if !t.has_action(a.action_id) {
                return bad(format!("{}: action {:#010x} is not one of the table's", t.name, a.action_id));
            }
            let ai = schema.action_by_id(a.action_id).map_err(|e| LowerError::Entity(e.to_string()))?;
            if a.params.len() != ai.params.len() {
                return bad(format!("{}: {} params, want {}", ai.name, a.params.len(), ai.params.len()));
            }
            for p in &a.params {
                let pi = ai.param_by_id(p.param_id).map_err(|e| LowerError::Entity(e.to_string()))?;
                if !bytestring::is_canonical(&p.value) || !bytestring::fits(&p.value, pi.bitwidth) {
                    return bad(format!(
                        "{}.{}: value {:?} not canonical or over {} bits",
                        ai.name, pi.name, p.value, pi.bitwidth
                    ));
                }
            }
            Ok(())
        }
        Some(entity::Entity::PacketReplicationEngineEntry(PacketReplicationEngineEntry {
            r#type: Some(packet_replication_engine_entry::Type::CloneSessionEntry(c)),
        })) => {
            let id = c.session_id;
            if id == 0 || id > u32::from(rules.max_session_id) {
                return bad(format!("clone session id {id} outside 1..={}", rules.max_session_id));
            }
            let max_len = match rules.truncation {
                Truncation::Program => 0,
                Truncation::Session => rules.max_packet_length,
            };
            if u32::try_from(c.packet_length_bytes).map_or(true, |l| l > max_len) {
                return bad(format!(
                    "clone session {id}: packet_length_bytes {} outside 0..={max_len}",
                    c.packet_length_bytes
                ));
            }
            let [r] = c.replicas.as_slice() else {
                return bad(format!("clone session {id}: {} replicas, want 1", c.replicas.len()));
            };
            let want = match rules.replica_instance {
                ReplicaInstance::Member => id,
                ReplicaInstance::Zero => 0,
            };
            if r.instance != want {
                return bad(format!("clone session {id}: replica instance {}, want {want}", r.instance));
            }
            #[allow(deprecated)] // `egress_port` is the form the lowering writes
            let port = match r.port_kind {
                Some(replica::PortKind::EgressPort(p)) => p,
                _ => return bad(format!("clone session {id}: replica without an egress_port")),
            };
            if port < rules.min_clone_port {
                return bad(format!("clone session {id}: egress port {port} below {}", rules.min_clone_port));
            }
            Ok(())
        }
        other => bad(format!("unexpected entity {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_is_the_bytestring_encoding() {
        let mut values = vec![0u128, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x1_0000, u128::from(u32::MAX), u128::MAX];
        for shift in 0..128 {
            values.push(1u128 << shift);
            values.push((1u128 << shift) - 1);
            values.push(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef_u128 >> shift);
        }
        for v in values {
            assert_eq!(canonical(v), bytestring::encode(v), "{v:#x}");
        }
    }
}
