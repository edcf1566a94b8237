//! Clone filters and sampling: the classify entries a profile's filters compile to
//! decide every packet as the filter list does read top to bottom (first match
//! wins, no match = clone), sampling reaches the entries, and every new rule
//! rejects a config that breaks it at the exact object path.

use std::net::IpAddr;
use std::path::Path;

use p4clone_compiler::config::FilterAction;
use p4clone_compiler::diag::{Diagnostic, Severity};
use p4clone_compiler::filter::{PortRange, SampleMode};
use p4clone_compiler::intent::{compile, Allocation, ClassifyRule};
use p4clone_compiler::lower::{lower_entities, program_schema};
use p4clone_compiler::net::Prefix;
use p4clone_compiler::source::{load_str, Format};
use p4clone_proto::p4::v1::entity::Entity as E;
use p4clone_proto::program::actions;
use proptest::prelude::*;

fn basic_text() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/basic.yaml")).unwrap()
}

/// basic.yaml with `extra` (YAML lines at the profile's field indentation) added
/// to the `ids` profile.
fn with_profile(extra: &str) -> String {
    let text = basic_text();
    let anchor = "    truncate: 0                   # bytes kept per clone; 0 = whole packet\n";
    assert_eq!(text.matches(anchor).count(), 1);
    text.replace(anchor, &format!("{anchor}{extra}"))
}

fn check(text: &str) -> Vec<Diagnostic> {
    load_str(text, Format::Yaml).unwrap_or_else(|e| panic!("does not load: {e}\n{text}")).check()
}

/// Exactly one diagnostic of `severity` at `path` containing every word.
#[track_caller]
fn only(text: &str, severity: Severity, path: &str, words: &[&str]) {
    let d = check(text);
    assert_eq!(d.len(), 1, "want one diagnostic at {path}: {d:#?}");
    assert_eq!((d[0].severity, d[0].path.as_str()), (severity, path), "{d:#?}");
    for w in words {
        assert!(d[0].message.contains(w), "message {:?} lacks {w:?}", d[0].message);
    }
}

const P: &str = "traffic_clone_profiles[0]";

#[test]
fn filters_and_sampling_compile_to_skip_and_sampled_entries() {
    let text = with_profile(
        "    filters:\n      - { action: skip, direction: from_pool, src: 10.20.1.12 }\n      - { action: clone, \
         src_ports: 1024-65535 }\n      - { action: skip }\n    sample: { flows_percent: 12.5 }\n",
    );
    assert!(check(&text).is_empty(), "{:#?}", check(&text));
    let cfg = load_str(&text, Format::Yaml).unwrap().config;
    let d = &compile(&cfg, &Allocation::default()).unwrap().devices[0];
    // 2 members x 2 directions = 4 base rules; the forward ones get 6 port blocks each.
    assert_eq!(d.rules.len(), 4 + 2 * 6, "{:#?}", d.rules);
    let skip = d.rules.iter().filter(|r| r.action == FilterAction::Skip).count();
    assert_eq!(skip, 2 + 1, "both forward bases and the reverse of 10.20.1.12");
    assert!(d.rules.iter().filter(|r| r.action == FilterAction::Clone).all(|r| r.sample == SampleMode::Flows(1250)));
    let schema = program_schema().unwrap();
    let ents = lower_entities(d, schema).unwrap();
    let ids: Vec<u32> = ents
        .iter()
        .filter_map(|e| match &e.entity {
            Some(E::TableEntry(t)) => t.action.as_ref().and_then(|a| match &a.r#type {
                Some(p4clone_proto::p4::v1::table_action::Type::Action(a)) => Some(a.action_id),
                _ => None,
            }),
            _ => None,
        })
        .collect();
    assert_eq!(ids.iter().filter(|&&i| i == actions::CLASSIFY_SKIP.id).count(), 3);
    assert_eq!(ids.iter().filter(|&&i| i == actions::CLASSIFY_HIT_SAMPLED.id).count(), 4 + 2 * 6 - 3);
    assert_eq!(ids.iter().filter(|&&i| i == actions::CLASSIFY_HIT.id).count(), 0);
}

#[test]
fn every_new_field_is_checked_at_its_path() {
    let f = |rule: &str| with_profile(&format!("    filters:\n      - {rule}\n"));
    let e = Severity::Error;
    only(&f("{ action: skip, src: 10.0.0.300/8 }"), e, &format!("{P}.filters[0].src"), &["10.0.0.300"]);
    only(&f("{ action: skip, dst: 10.0.0.1/8 }"), e, &format!("{P}.filters[0].dst"), &["host bits"]);
    only(
        &f("{ action: skip, src: 10.0.0.0/8, dst: \"2001:db8::/32\" }"),
        e,
        &format!("{P}.filters[0].dst"),
        &["address families"],
    );
    only(&f("{ action: skip, src_ports: 70000 }"), e, &format!("{P}.filters[0].src_ports"), &["70000"]);
    only(&f("{ action: skip, dst_ports: 9-8 }"), e, &format!("{P}.filters[0].dst_ports"), &["ends before"]);
    let s = |v: &str| with_profile(&format!("    sample: {v}\n"));
    only(&s("{ flows_percent: 0.001 }"), e, &format!("{P}.sample.flows_percent"), &["0.01%"]);
    only(&s("{ flows_percent: 150 }"), e, &format!("{P}.sample.flows_percent"), &["0.01..100"]);
    only(&s("{ one_in: 0 }"), e, &format!("{P}.sample.one_in"), &["1..65535"]);
    only(&s("{ one_in: 3, flows_percent: 5 }"), e, &format!("{P}.sample.one_in"), &["not both"]);
    only(&s("{}"), e, &format!("{P}.sample.flows_percent"), &["needs"]);
    // Unknown values of the enums are load errors naming the field.
    let err = load_str(&f("{ action: drop }"), Format::Yaml).unwrap_err().to_string();
    assert!(err.contains("filters[0].action") && err.contains("drop"), "{err}");
    let err = load_str(&f("{ action: skip, direction: sideways }"), Format::Yaml).unwrap_err().to_string();
    assert!(err.contains("filters[0].direction"), "{err}");
    // At most 64 rules.
    let many = (0..65).map(|i| format!("      - {{ action: skip, src_ports: {i} }}\n")).collect::<String>();
    only(&with_profile(&format!("    filters:\n{many}")), e, &format!("{P}.filters"), &["65 filter rules", "64"]);
}

#[test]
fn hidden_rules_are_warnings_naming_both() {
    let w = Severity::Warning;
    let text = with_profile(
        "    filters:\n      - { action: skip, src: 10.20.0.0/16 }\n      - { action: clone, src: 10.20.1.0/24, \
         dst_ports: 8080 }\n",
    );
    only(&text, w, &format!("{P}.filters[1]"), &["filters[1] (clone) conflicts with filters[0] (skip)"]);
    let text = with_profile(
        "    filters:\n      - { action: skip, direction: to_pool }\n      - { action: skip, direction: to_pool, \
         protocol: tcp }\n",
    );
    only(&text, w, &format!("{P}.filters[1]"), &["never reached", "filters[0]"]);
    // Partial overlap with another action is what ordering is for: no warning.
    let text = with_profile(
        "    filters:\n      - { action: clone, src_ports: 1024-2047 }\n      - { action: skip, src_ports: \
         1000-65535 }\n",
    );
    assert!(check(&text).is_empty(), "{:#?}", check(&text));
}

#[test]
fn a_tofino_device_has_no_filters_or_sampling() {
    let target = "    target: soft                  # soft | bmv2 | tofino\n";
    for extra in ["    filters:\n      - { action: skip }\n", "    sample: { one_in: 4 }\n"] {
        let text = with_profile(extra);
        assert_eq!(text.matches(target).count(), 1);
        let text = text.replace(target, "    target: tofino\n");
        let field = if extra.contains("sample") { "sample" } else { "filters" };
        only(&text, Severity::Error, &format!("{P}.{field}"), &["nic0", "tofino", "no filter or sampling actions"]);
    }
}

// ------------------------------------------------------------------ semantics

/// A filter rule as the test builds it: (action, direction, protocol, src, dst, src ports, dst ports).
type Rule = (
    bool,
    u8,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
);

const PREFIXES: &[&str] = &["10.0.0.0/8", "10.20.0.5", "10.20.1.11", "10.20.1.0/24", "192.168.0.0/16"];
const PORTS: &[&str] = &["8080", "1024-65535", "41000-41049", "0-1023", "41040-41099", "8000-8999", "0-65535"];
const SE_PORTS: &[u16] = &[0, 1, 1023, 1024, 8080, 40999, 41000, 41039, 41040, 41049, 41050, 41099, 41100, 65535];

fn rule() -> impl Strategy<Value = Rule> {
    let pick = |xs: &'static [&'static str]| prop::option::of(prop::sample::select(xs));
    (
        any::<bool>(),
        0u8..3,
        prop::option::of(prop::sample::select(&["tcp", "udp"][..])),
        pick(PREFIXES),
        pick(PREFIXES),
        pick(PORTS),
        pick(PORTS),
    )
}

fn rule_yaml(r: &Rule) -> String {
    let mut s = format!("{{ action: {}", if r.0 { "clone" } else { "skip" });
    s += ["", ", direction: to_pool", ", direction: from_pool"][usize::from(r.1)];
    for (k, v) in [("protocol", r.2), ("src", r.3), ("dst", r.4), ("src_ports", r.5), ("dst_ports", r.6)] {
        if let Some(v) = v {
            s += &format!(", {k}: \"{v}\"");
        }
    }
    s + " }"
}

/// The filter list read top to bottom on one packet.
fn first_match(rules: &[Rule], to_pool: bool, src: IpAddr, dst: IpAddr, sport: u16, dport: u16) -> FilterAction {
    let pfx = |p: &str| -> Prefix {
        if p.contains('/') {
            p.parse().unwrap()
        } else {
            Prefix { addr: p.parse().unwrap(), len: 32 }
        }
    };
    for r in rules {
        let ok = (r.1 == 0 || (r.1 == 1) == to_pool)
            && r.2.is_none_or(|p| p == "tcp")
            && r.3.is_none_or(|p| pfx(p).contains(&src))
            && r.4.is_none_or(|p| pfx(p).contains(&dst))
            && r.5.is_none_or(|p| p.parse::<PortRange>().unwrap().contains(sport))
            && r.6.is_none_or(|p| p.parse::<PortRange>().unwrap().contains(dport));
        if ok {
            return if r.0 { FilterAction::Clone } else { FilterAction::Skip };
        }
    }
    FilterAction::Clone
}

/// The action of the highest-priority entry matching the packet (ternary match).
fn table_action(rules: &[ClassifyRule], src: IpAddr, dst: IpAddr, sport: u16, dport: u16) -> Option<FilterAction> {
    let port_ok = |p: Option<u16>, len: u8, v: u16| {
        p.is_none_or(|p| {
            let mask = if len == 0 { 0 } else { u16::MAX << (16 - u32::from(len)) };
            p & mask == v & mask
        })
    };
    let hits: Vec<&ClassifyRule> = rules
        .iter()
        .filter(|r| {
            r.src_addr == src
                && r.dst_addr == dst
                && r.protocol == 6
                && port_ok(r.l4_src_port, r.l4_src_len, sport)
                && port_ok(r.l4_dst_port, r.l4_dst_len, dport)
        })
        .collect();
    let top = hits.iter().map(|r| r.priority).max()?;
    let at_top: Vec<_> = hits.iter().filter(|r| r.priority == top).collect();
    assert_eq!(at_top.len(), 1, "overlapping entries at one priority: {at_top:#?}");
    Some(at_top[0].action)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// For every packet of the VS's traffic (both directions, every interesting SE
    /// port), the entries decide as the filter list does.
    #[test]
    fn entries_decide_as_the_list_read_top_to_bottom(rules in prop::collection::vec(rule(), 0..6)) {
        let yaml: String = rules.iter().map(|r| format!("      - {}\n", rule_yaml(r))).collect();
        let text = with_profile(&if rules.is_empty() { String::new() } else { format!("    filters:\n{yaml}") });
        let cfg = load_str(&text, Format::Yaml).unwrap().config;
        let d = &compile(&cfg, &Allocation::default()).unwrap().devices[0];
        let se: IpAddr = "10.20.0.5".parse().unwrap();
        for server in ["10.20.1.11", "10.20.1.12"] {
            let srv: IpAddr = server.parse().unwrap();
            for &p in SE_PORTS {
                let want = first_match(&rules, true, se, srv, p, 8080);
                prop_assert_eq!(table_action(&d.rules, se, srv, p, 8080), Some(want), "to {} from port {}", server, p);
                let want = first_match(&rules, false, srv, se, 8080, p);
                prop_assert_eq!(table_action(&d.rules, srv, se, 8080, p), Some(want), "from {} to port {}", server, p);
            }
            // Traffic of another member port is not the VS's: no entry.
            prop_assert_eq!(table_action(&d.rules, se, srv, 5000, 8081), None);
        }
    }
}

#[test]
fn a_device_whose_classify_table_overflows_is_an_error_naming_it() {
    let servers = "      - { ip: 10.20.1.11, port: 8080 }\n      - { ip: 10.20.1.12, port: 8080 }\n";
    let text = basic_text();
    assert_eq!(text.matches(servers).count(), 1);
    // 4,100 members x 2 directions = 8,200 entries; the TNA program's table holds 8,192.
    let many: String =
        (0..4100).map(|i| format!("      - {{ ip: 10.20.{}.{}, port: 8080 }}\n", 2 + i / 250, 1 + i % 250)).collect();
    let target = "    target: soft                  # soft | bmv2 | tofino\n";
    let text = text.replace(servers, &many).replace(target, "    target: tofino\n");
    let cfg = load_str(&text, Format::Yaml).unwrap().config;
    let errs = compile(&cfg, &Allocation::default()).unwrap_err();
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert_eq!(errs[0].path, "devices[0]");
    assert!(
        errs[0].message.contains("needs 8200 `clone_classify_v4` entries") && errs[0].message.contains("8192"),
        "{}",
        errs[0].message
    );
    // The same on the v1model program (262,144 entries) fits.
    let cfg = load_str(&text.replace("    target: tofino\n", target), Format::Yaml).unwrap().config;
    assert!(compile(&cfg, &Allocation::default()).is_ok());
}
