//! What each kind of device ([`Target`]) asks of the compiled entities, as data:
//! which program's P4Info it runs, how many clone sessions it has, what a clone
//! session must look like, and who truncates a clone. Intent and lowering read
//! these rules; nothing else asks which target a device is.
//!
//! | target | program | session ids | replica instance | truncation | clone port |
//! |---|---|---|---|---|---|
//! | `soft`, `bmv2` | `traffic_clone.p4` (v1model) | 1..=32767 | member id (`egress_rid`) | program (`truncate_len`) | any |
//! | `tofino` | `traffic_clone_tna.p4` (TNA) | 1..=1015 | 0 | session (`packet_length_bytes`) | non-zero |
//!
//! The Tofino rules are Stratum's (`docs/targets.md`, "Tofino").

use p4clone_proto::schema::P4Schema;
use p4clone_proto::{program, program_tna};

use crate::config::Target;

/// Who cuts a clone to the profile's `truncate` length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truncation {
    /// The program, from `clone_rewrite_set.truncate_len`; sessions carry
    /// `packet_length_bytes` 0.
    Program,
    /// The clone session, from `packet_length_bytes`; `truncate_len` is 0.
    Session,
}

/// What a clone session's one replica carries as `instance`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaInstance {
    /// The member id (the egress reads it back as `egress_rid`).
    Member,
    /// Always 0 (the member travels in the mirror header instead).
    Zero,
}

/// The rules one kind of device puts on its entities.
#[derive(Debug, Clone, Copy)]
pub struct TargetRules {
    /// The target's name in a config.
    pub name: &'static str,
    /// The P4 source it runs, relative to `p4src/`.
    pub program_source: &'static str,
    /// The highest clone session id (= member id) it accepts; ids start at 1.
    pub max_session_id: u16,
    /// The replica's `instance`.
    pub replica_instance: ReplicaInstance,
    /// Who truncates.
    pub truncation: Truncation,
    /// The lowest port a clone session may send to.
    pub min_clone_port: u32,
    /// The largest `packet_length_bytes` a session may carry.
    pub max_packet_length: u32,
    /// Whether its program delivers encapsulated copies (`clone_encap`).
    pub encapsulation: bool,
    /// Whether its program has filter and sampling actions (`classify_skip`,
    /// `classify_hit_sampled`).
    pub filtering: bool,
    schema: fn() -> Result<&'static P4Schema, p4clone_proto::Error>,
}

impl TargetRules {
    /// The schema of the program the target runs.
    pub fn schema(&self) -> Result<&'static P4Schema, p4clone_proto::Error> {
        (self.schema)()
    }
}

const V1MODEL: TargetRules = TargetRules {
    name: "",
    program_source: program::build::SOURCE,
    max_session_id: program::limits::MAX_CLONE_SESSION,
    replica_instance: ReplicaInstance::Member,
    truncation: Truncation::Program,
    min_clone_port: 0,
    max_packet_length: 0,
    encapsulation: true,
    filtering: true,
    schema: program::schema,
};

const SOFT: TargetRules = TargetRules { name: "soft", ..V1MODEL };
const BMV2: TargetRules = TargetRules { name: "bmv2", ..V1MODEL };
const TOFINO: TargetRules = TargetRules {
    name: "tofino",
    program_source: program_tna::build::SOURCE,
    max_session_id: program_tna::limits::MAX_CLONE_SESSION,
    replica_instance: ReplicaInstance::Zero,
    truncation: Truncation::Session,
    min_clone_port: 1,
    max_packet_length: program_tna::limits::MAX_PACKET_LENGTH,
    encapsulation: false,
    filtering: false,
    schema: program_tna::schema,
};

impl Target {
    /// The rules of this kind of device.
    pub fn rules(self) -> &'static TargetRules {
        match self {
            Target::Soft => &SOFT,
            Target::Bmv2 => &BMV2,
            Target::Tofino => &TOFINO,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_has_its_program_and_limits() {
        for t in [Target::Soft, Target::Bmv2, Target::Tofino] {
            let r = t.rules();
            let s = r.schema().unwrap();
            assert!(s.table(program::tables::CLONE_REWRITE.name).is_ok(), "{}", r.name);
            assert!(r.max_session_id >= 1);
        }
        assert_eq!(Target::Tofino.rules().max_session_id, 1015);
        assert_eq!(Target::Bmv2.rules().max_session_id, 32_767);
        for t in [Target::Soft, Target::Bmv2, Target::Tofino] {
            let r = t.rules();
            let has = r.schema().unwrap().table(program::tables::CLONE_ENCAP.name).is_ok();
            assert_eq!(
                r.encapsulation, has,
                "{}: `encapsulation` must say whether the program has clone_encap",
                r.name
            );
            let has = r.schema().unwrap().action(program::actions::CLASSIFY_SKIP.name).is_ok()
                && r.schema().unwrap().action(program::actions::CLASSIFY_HIT_SAMPLED.name).is_ok();
            assert_eq!(r.filtering, has, "{}: `filtering` must say whether the program has the filter actions", r.name);
        }
        assert_eq!(Target::Tofino.rules().schema().unwrap().p4info().pkg_info.as_ref().unwrap().arch, "tna");
        assert_eq!(Target::Soft.rules().schema().unwrap().p4info().pkg_info.as_ref().unwrap().arch, "v1model");
    }
}
