//! `SetForwardingPipelineConfig` / `GetForwardingPipelineConfig`, and the P4Info
//! comparison.
//!
//! The software target runs one program. A config is realisable when its P4Info
//! describes exactly that program: same tables (ids, names, match fields with ids,
//! names, bitwidths and match kinds, action refs and scopes, direct resources,
//! const default action), actions (ids, names, parameters with ids, names,
//! bitwidths), counters and direct counters (ids, names, units, sizes, tables) and
//! registers (ids, names, sizes, types), and nothing else (no meters, action
//! profiles, digests, ...). Table sizes and documentation may differ. The first
//! difference is reported with INVALID_ARGUMENT, e.g.
//! `table clone_rewrite (id 0x02000004): match field 1 bitwidth 9, expected 16`.
//! The device config bytes are not interpreted (kept and returned).

use std::collections::BTreeSet;

use p4clone_proto::p4::config::v1::{self as cfg, P4Info};
use p4clone_proto::p4::v1::{
    forwarding_pipeline_config::Cookie, get_forwarding_pipeline_config_request::ResponseType,
    set_forwarding_pipeline_config_request::Action, ForwardingPipelineConfig, GetForwardingPipelineConfigRequest,
    GetForwardingPipelineConfigResponse, SetForwardingPipelineConfigRequest,
};
use p4clone_proto::schema::P4Schema;
use p4clone_proto::Bytes;
use tonic::Status;

use super::inner::{Config, Inner, State};
use crate::translate::SideState;

/// The `SetForwardingPipelineConfig` RPC.
pub(crate) fn set(inner: &Inner, req: SetForwardingPipelineConfigRequest) -> Result<(), Status> {
    inner.check_device(req.device_id)?;
    #[allow(deprecated)]
    let role_id = req.role_id;
    if role_id != 0 {
        return Err(Status::not_found(format!("unknown role id {role_id} (only the default role exists)")));
    }
    Inner::check_role(&req.role)?;
    if !inner.arbiter.is_primary(req.election_id.as_ref()) {
        return Err(Status::permission_denied(
            "only the primary client may set the forwarding pipeline config (election id is not the primary's)",
        ));
    }
    let action = Action::try_from(req.action).unwrap_or(Action::Unspecified);
    match action {
        Action::Verify => {
            verify(inner, req.config)?;
        }
        Action::VerifyAndSave => {
            let config = verify(inner, req.config)?;
            inner.write_state().saved = Some(config);
        }
        Action::VerifyAndCommit => {
            let config = verify(inner, req.config)?;
            let mut st = inner.write_state();
            reset(inner, &mut st);
            st.committed = Some(config);
            st.saved = None;
        }
        Action::Commit => {
            if req.config.is_some() {
                return Err(Status::invalid_argument(
                    "COMMIT takes no config (it commits the one saved by VERIFY_AND_SAVE)",
                ));
            }
            let mut st = inner.write_state();
            let Some(saved) = st.saved.take() else {
                return Err(Status::not_found("no saved config to commit (send VERIFY_AND_SAVE first)"));
            };
            // The writes made since the save already reached the pipeline.
            st.committed = Some(saved);
        }
        Action::ReconcileAndCommit => {
            // The program can only be this one, so the forwarding state is kept.
            let config = verify(inner, req.config)?;
            let mut st = inner.write_state();
            st.committed = Some(config);
            st.saved = None;
        }
        Action::Unspecified => {
            return Err(Status::invalid_argument(format!("unknown or unspecified action {}", req.action)))
        }
    }
    Ok(())
}

/// `VERIFY_AND_COMMIT` without gRPC or arbitration.
pub(crate) fn commit_in_process(inner: &Inner, p4info: P4Info, cookie: Option<u64>) -> Result<(), Status> {
    let config = verify(
        inner,
        Some(ForwardingPipelineConfig {
            p4info: Some(p4info),
            p4_device_config: Bytes::new(),
            cookie: cookie.map(|cookie| Cookie { cookie }),
        }),
    )?;
    let mut st = inner.write_state();
    reset(inner, &mut st);
    st.committed = Some(config);
    st.saved = None;
    Ok(())
}

/// Clears the forwarding state (every entry, session, counter and register).
fn reset(inner: &Inner, st: &mut State) {
    let ops = inner.program.reset_ops(&inner.pipeline);
    if !ops.is_empty() {
        inner.pipeline.apply(ops);
    }
    st.side = SideState::default();
}

fn verify(inner: &Inner, config: Option<ForwardingPipelineConfig>) -> Result<Config, Status> {
    let Some(config) = config else {
        return Err(Status::invalid_argument("no forwarding pipeline config given"));
    };
    let Some(p4info) = config.p4info else {
        return Err(Status::invalid_argument("the config has no P4Info"));
    };
    compare(&p4info, inner.program.p4info()).map_err(|e| {
        Status::invalid_argument(format!(
            "this target runs only the p4clone program (p4src/{}): {e}",
            inner.program.source()
        ))
    })?;
    Ok(Config { p4info, device_config: config.p4_device_config.to_vec(), cookie: config.cookie.map(|c| c.cookie) })
}

/// The `GetForwardingPipelineConfig` RPC.
pub(crate) fn get(
    inner: &Inner,
    req: &GetForwardingPipelineConfigRequest,
) -> Result<GetForwardingPipelineConfigResponse, Status> {
    inner.check_device(req.device_id)?;
    let st = inner.read_state();
    let Some(c) = &st.committed else {
        // Spec: no config known → the `config` field is unset.
        return Ok(GetForwardingPipelineConfigResponse { config: None });
    };
    let ty = ResponseType::try_from(req.response_type)
        .map_err(|_| Status::invalid_argument(format!("unknown response type {}", req.response_type)))?;
    let cookie = c.cookie.map(|cookie| Cookie { cookie });
    let (p4info, device) = match ty {
        ResponseType::All => (true, true),
        ResponseType::CookieOnly => (false, false),
        ResponseType::P4infoAndCookie => (true, false),
        ResponseType::DeviceConfigAndCookie => (false, true),
    };
    Ok(GetForwardingPipelineConfigResponse {
        config: Some(ForwardingPipelineConfig {
            p4info: p4info.then(|| c.p4info.clone()),
            p4_device_config: if device { c.device_config.clone().into() } else { Bytes::new() },
            cookie,
        }),
    })
}

// ------------------------------------------------------------------ comparison

fn preamble(p: &Option<cfg::Preamble>) -> (u32, &str) {
    p.as_ref().map_or((0, ""), |p| (p.id, p.name.as_str()))
}

/// `kind name (id 0x…)`.
fn label(kind: &str, p: &Option<cfg::Preamble>) -> String {
    let (id, name) = preamble(p);
    format!("{kind} {name} (id {id:#010x})")
}

/// Matches the objects of `given` to those of `reference` by id, in reference
/// order; reports a missing object, a different name, or an extra object.
fn pair<'a, T>(
    kind: &str,
    given: &'a [T],
    reference: &'a [T],
    pre: impl Fn(&T) -> &Option<cfg::Preamble>,
    mut each: impl FnMut(&str, &T, &T) -> Result<(), String>,
) -> Result<(), String> {
    for r in reference {
        let (rid, rname) = preamble(pre(r));
        let at = label(kind, pre(r));
        let Some(g) = given.iter().find(|g| preamble(pre(g)).0 == rid) else {
            return Err(format!("{at} is missing"));
        };
        let gname = preamble(pre(g)).1;
        if gname != rname {
            return Err(format!("{at}: named `{gname}`, expected `{rname}`"));
        }
        each(&at, g, r)?;
    }
    for g in given {
        let gid = preamble(pre(g)).0;
        if !reference.iter().any(|r| preamble(pre(r)).0 == gid) {
            return Err(format!("{} is not in the program", label(kind, pre(g))));
        }
    }
    Ok(())
}

fn differ<T: PartialEq + std::fmt::Debug>(at: &str, what: &str, given: T, expected: T) -> Result<(), String> {
    if given != expected {
        return Err(format!("{at}: {what} {given:?}, expected {expected:?}"));
    }
    Ok(())
}

fn match_type(f: &cfg::MatchField) -> String {
    use cfg::match_field::{Match, MatchType};
    match &f.r#match {
        Some(Match::MatchType(t)) => {
            MatchType::try_from(*t).map(|t| t.as_str_name().to_string()).unwrap_or_else(|_| format!("match type {t}"))
        }
        Some(Match::OtherMatchType(o)) => o.clone(),
        None => "none".to_string(),
    }
}

fn compare_table(at: &str, g: &cfg::Table, r: &cfg::Table) -> Result<(), String> {
    for rf in &r.match_fields {
        let Some(gf) = g.match_fields.iter().find(|f| f.id == rf.id) else {
            return Err(format!("{at}: match field {} ({}) is missing", rf.id, rf.name));
        };
        if gf.name != rf.name {
            return Err(format!("{at}: match field {} named `{}`, expected `{}`", rf.id, gf.name, rf.name));
        }
        if gf.bitwidth != rf.bitwidth {
            return Err(format!("{at}: match field {} bitwidth {}, expected {}", rf.id, gf.bitwidth, rf.bitwidth));
        }
        if gf.r#match != rf.r#match {
            return Err(format!(
                "{at}: match field {} match type {}, expected {}",
                rf.id,
                match_type(gf),
                match_type(rf)
            ));
        }
    }
    if let Some(gf) = g.match_fields.iter().find(|gf| !r.match_fields.iter().any(|rf| rf.id == gf.id)) {
        return Err(format!("{at}: match field {} ({}) is not in the program", gf.id, gf.name));
    }
    for ra in &r.action_refs {
        let Some(ga) = g.action_refs.iter().find(|a| a.id == ra.id) else {
            return Err(format!("{at}: action {:#010x} is missing from its actions", ra.id));
        };
        if ga.scope != ra.scope {
            return Err(format!("{at}: action {:#010x} scope {}, expected {}", ra.id, ga.scope, ra.scope));
        }
    }
    if let Some(ga) = g.action_refs.iter().find(|ga| !r.action_refs.iter().any(|ra| ra.id == ga.id)) {
        return Err(format!("{at}: action {:#010x} is not one of its actions", ga.id));
    }
    differ(at, "const default action", g.const_default_action_id, r.const_default_action_id)?;
    differ(at, "implementation", g.implementation_id, r.implementation_id)?;
    let gd: BTreeSet<u32> = g.direct_resource_ids.iter().copied().collect();
    let rd: BTreeSet<u32> = r.direct_resource_ids.iter().copied().collect();
    differ(at, "direct resources", gd, rd)?;
    differ(at, "is_const_table", g.is_const_table, r.is_const_table)?;
    differ(at, "idle timeout behavior", g.idle_timeout_behavior, r.idle_timeout_behavior)?;
    differ(at, "has_initial_entries", g.has_initial_entries, r.has_initial_entries)?;
    Ok(())
}

fn compare_action(at: &str, g: &cfg::Action, r: &cfg::Action) -> Result<(), String> {
    for rp in &r.params {
        let Some(gp) = g.params.iter().find(|p| p.id == rp.id) else {
            return Err(format!("{at}: parameter {} ({}) is missing", rp.id, rp.name));
        };
        if gp.name != rp.name {
            return Err(format!("{at}: parameter {} named `{}`, expected `{}`", rp.id, gp.name, rp.name));
        }
        if gp.bitwidth != rp.bitwidth {
            return Err(format!("{at}: parameter {} bitwidth {}, expected {}", rp.id, gp.bitwidth, rp.bitwidth));
        }
    }
    if let Some(gp) = g.params.iter().find(|gp| !r.params.iter().any(|rp| rp.id == gp.id)) {
        return Err(format!("{at}: parameter {} ({}) is not in the program", gp.id, gp.name));
    }
    Ok(())
}

fn unit(s: &Option<cfg::CounterSpec>) -> String {
    let u = s.as_ref().map_or(0, |s| s.unit);
    cfg::counter_spec::Unit::try_from(u).map(|u| u.as_str_name().to_string()).unwrap_or_else(|_| u.to_string())
}

fn none_of<T>(kind: &str, given: &[T], pre: impl Fn(&T) -> &Option<cfg::Preamble>) -> Result<(), String> {
    match given.first() {
        Some(g) => Err(format!("{} is not in the program (it has no {kind}s)", label(kind, pre(g)))),
        None => Ok(()),
    }
}

/// The first difference between a client's P4Info and the program's.
pub(crate) fn compare(given: &P4Info, reference: &P4Info) -> Result<(), String> {
    P4Schema::new(given.clone()).map_err(|e| e.to_string())?;
    pair("table", &given.tables, &reference.tables, |t| &t.preamble, compare_table)?;
    pair("action", &given.actions, &reference.actions, |a| &a.preamble, compare_action)?;
    pair(
        "counter",
        &given.counters,
        &reference.counters,
        |c| &c.preamble,
        |at, g, r| {
            differ(at, "unit", unit(&g.spec), unit(&r.spec))?;
            differ(at, "size", g.size, r.size)
        },
    )?;
    pair(
        "direct counter",
        &given.direct_counters,
        &reference.direct_counters,
        |c| &c.preamble,
        |at, g, r| {
            differ(at, "unit", unit(&g.spec), unit(&r.spec))?;
            differ(at, "table", g.direct_table_id, r.direct_table_id)
        },
    )?;
    pair(
        "register",
        &given.registers,
        &reference.registers,
        |x| &x.preamble,
        |at, g, r| {
            differ(at, "size", g.size, r.size)?;
            differ(at, "type", &g.type_spec, &r.type_spec)
        },
    )?;
    none_of("action profile", &given.action_profiles, |x| &x.preamble)?;
    none_of("meter", &given.meters, |x| &x.preamble)?;
    none_of("direct meter", &given.direct_meters, |x| &x.preamble)?;
    none_of("controller packet metadata", &given.controller_packet_metadata, |x| &x.preamble)?;
    none_of("value set", &given.value_sets, |x| &x.preamble)?;
    none_of("digest", &given.digests, |x| &x.preamble)?;
    if let Some(x) = given.externs.first() {
        return Err(format!(
            "extern type {} ({}) is not in the program (it has no externs)",
            x.extern_type_name, x.extern_type_id
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::program_p4info;

    #[test]
    fn program_equals_itself() {
        let p = program_p4info();
        compare(&p, &p).unwrap();
    }

    #[test]
    fn first_difference_is_named() {
        let r = program_p4info();
        let mut g = r.clone();
        let t = g.tables.iter_mut().find(|t| t.preamble.as_ref().unwrap().name == "clone_rewrite").unwrap();
        t.match_fields[0].bitwidth = 9;
        assert_eq!(
            compare(&g, &r).unwrap_err(),
            "table clone_rewrite (id 0x02000004): match field 1 bitwidth 9, expected 16"
        );

        let mut g = r.clone();
        g.tables.iter_mut().for_each(|t| t.size = 1);
        compare(&g, &r).unwrap();

        let mut g = r.clone();
        g.actions.retain(|a| a.preamble.as_ref().unwrap().name != "nat_miss");
        assert_eq!(compare(&g, &r).unwrap_err(), "action nat_miss (id 0x01000009) is missing");

        let mut g = r.clone();
        g.actions[0].params[0].name = "egress".into();
        assert_eq!(
            compare(&g, &r).unwrap_err(),
            "action wire_forward (id 0x01000001): parameter 1 named `egress`, expected `port`"
        );

        let mut g = r.clone();
        g.tables[1].match_fields[2].r#match =
            Some(cfg::match_field::Match::MatchType(cfg::match_field::MatchType::Exact as i32));
        assert_eq!(
            compare(&g, &r).unwrap_err(),
            "table clone_classify_v4 (id 0x02000002): match field 3 match type EXACT, expected TERNARY"
        );
    }
}
