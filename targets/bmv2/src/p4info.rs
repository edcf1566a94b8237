//! Semantic comparison of two P4Infos (the hand-kept
//! `p4src/traffic_clone.p4info.txtpb` and the one p4c writes).
//!
//! Equal means: the same objects (tables, actions, action profiles, counters,
//! direct counters, meters, direct meters, registers, digests, value sets,
//! controller packet metadata, externs) with the same ids, names and aliases,
//! match fields (id, name, bitwidth, match type), action references and scopes,
//! parameters (id, name, bitwidth), sizes, units, type specs, direct resources
//! and the package's architecture. Order does not matter; annotations
//! (plain and structured), their source locations, documentation strings,
//! `pkg_info` other than `arch`, and `type_info` are ignored.

use std::collections::{BTreeMap, BTreeSet};

use p4clone_proto::format;
use p4clone_proto::p4::config::v1::P4Info;
use serde_json::Value;

use crate::error::{Bmv2Error, Result};

/// Keys dropped wherever they occur.
const IGNORED: [&str; 5] = ["annotations", "annotationLocations", "structuredAnnotations", "doc", "sourceLocation"];

/// Top-level lists of objects with a preamble, and how to call one.
const KINDS: [(&str, &str); 12] = [
    ("tables", "table"),
    ("actions", "action"),
    ("actionProfiles", "action profile"),
    ("counters", "counter"),
    ("directCounters", "direct counter"),
    ("meters", "meter"),
    ("directMeters", "direct meter"),
    ("controllerPacketMetadata", "controller packet metadata"),
    ("valueSets", "value set"),
    ("registers", "register"),
    ("digests", "digest"),
    ("externs", "extern"),
];

/// Parses a P4Info in protobuf text format.
pub fn parse_text(text: &str) -> Result<P4Info> {
    format::from_text::<P4Info>(text).map_err(|e| Bmv2Error::Compile(format!("not a P4Info text file: {e}")))
}

/// The value without ignored keys, object keys sorted (serde_json's map is
/// ordered), arrays sorted by their canonical text.
fn canonical(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter().filter(|(k, _)| !IGNORED.contains(&k.as_str())).map(|(k, v)| (k.clone(), canonical(v))).collect(),
        ),
        Value::Array(a) => {
            let mut items: Vec<Value> = a.iter().map(canonical).collect();
            items.sort_by_cached_key(|x| x.to_string());
            Value::Array(items)
        }
        other => other.clone(),
    }
}

/// Flattens `v` into `path: value` facts. Array elements that carry an `id`
/// are addressed by it (`matchFields[id=2].bitwidth`), others by content.
fn flatten(v: &Value, path: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if IGNORED.contains(&k.as_str()) {
                    continue;
                }
                let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                flatten(x, &p, out);
            }
        }
        Value::Array(a) => {
            for x in a {
                match x.get("id") {
                    Some(id) if x.is_object() => {
                        let id = id.as_str().map_or_else(|| id.to_string(), str::to_string);
                        flatten(x, &format!("{path}[id={id}]"), out);
                    }
                    _ => {
                        out.insert(format!("{path}[]: {}", canonical(x)));
                    }
                }
            }
        }
        other => {
            out.insert(format!("{path}: {other}"));
        }
    }
}

/// `(kind, id)` → (display name, facts).
type Objects = BTreeMap<(String, u64), (String, BTreeSet<String>)>;

fn objects(p: &P4Info) -> Result<Objects> {
    let json = format::to_json(p).map_err(|e| Bmv2Error::Compile(format!("cannot render a P4Info: {e}")))?;
    let mut out = Objects::new();
    for (key, kind) in KINDS {
        for o in json.get(key).and_then(Value::as_array).into_iter().flatten() {
            let pre = o.get("preamble");
            let id = pre.and_then(|p| p.get("id")).and_then(Value::as_u64).unwrap_or(0);
            let name = pre.and_then(|p| p.get("name")).and_then(Value::as_str).unwrap_or("?");
            let mut facts = BTreeSet::new();
            flatten(o, "", &mut facts);
            out.insert((kind.to_string(), id), (format!("{kind} `{name}` (id {id})"), facts));
        }
    }
    let arch = json.pointer("/pkgInfo/arch").and_then(Value::as_str).unwrap_or("").to_string();
    out.insert(("package".to_string(), 0), ("pkg_info".to_string(), [format!("arch: {arch:?}")].into_iter().collect()));
    Ok(out)
}

/// The differences between `a` (named `a_name`) and `b`, one line each; empty
/// when they are semantically equal.
pub fn differences(a: &P4Info, a_name: &str, b: &P4Info, b_name: &str) -> Result<Vec<String>> {
    let oa = objects(a)?;
    let ob = objects(b)?;
    let mut out = Vec::new();
    for (k, (name, fa)) in &oa {
        match ob.get(k) {
            None => out.push(format!("{name}: only in {a_name}")),
            Some((_, fb)) => {
                for f in fa.difference(fb) {
                    out.push(format!("{name}: {a_name} has `{f}`"));
                }
                for f in fb.difference(fa) {
                    out.push(format!("{name}: {b_name} has `{f}`"));
                }
            }
        }
    }
    for (k, (name, _)) in &ob {
        if !oa.contains_key(k) {
            out.push(format!("{name}: only in {b_name}"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hand_kept() -> String {
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../p4src/traffic_clone.p4info.txtpb")).unwrap()
    }

    #[test]
    fn equal_to_itself_reordered_and_reannotated() {
        let a = parse_text(&hand_kept()).unwrap();
        let mut b = a.clone();
        b.tables.reverse();
        b.actions.reverse();
        for t in &mut b.tables {
            t.match_fields.reverse();
            t.action_refs.reverse();
            if let Some(p) = t.preamble.as_mut() {
                p.annotations.push("@brief(\"x\")".into());
            }
        }
        assert_eq!(differences(&a, "hand-kept", &b, "p4c").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn finds_bitwidth_size_name_and_missing_object() {
        let a = parse_text(&hand_kept()).unwrap();
        let mut b = a.clone();
        b.tables[0].match_fields[0].bitwidth += 1;
        b.tables[1].size = 7;
        b.actions[0].preamble.as_mut().unwrap().name = "renamed".into();
        let removed = b.registers.pop().unwrap();
        let d = differences(&a, "hand-kept", &b, "p4c").unwrap();
        let all = d.join("\n");
        assert!(all.contains("matchFields[id=1].bitwidth"), "{all}");
        assert!(all.contains("size"), "{all}");
        assert!(all.contains("\"renamed\""), "{all}");
        let rid = removed.preamble.unwrap().id;
        assert!(all.contains(&format!("(id {rid}): only in hand-kept")), "{all}");
    }
}
