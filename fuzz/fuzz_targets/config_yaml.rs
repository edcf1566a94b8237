//! Config loading from arbitrary text, YAML and JSON. Differential against
//! `serde_norway`, the oracle: whenever the YAML fast path (`source::fast_yaml::from_str`)
//! returns a config, `serde_norway` returns an equal one; `source::load_str(.., Yaml)`
//! (the fast parser's events, or the full parser's, read by one deserializer) gives
//! the same config as `serde_norway` or both refuse, except for the differences
//! RELIABILITY.md documents (tags, some tabs, `#` right after a token, implicit keys
//! over 1024 characters, alias expansion bounds); a refusal carries a position; the
//! source map of an accepted text builds; JSON loading does not panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use p4clone_compiler::config::Config;
use p4clone_compiler::source::fast_yaml;
use p4clone_compiler::source::{load_str, Format};

/// Refusals of `load_str` that serde_norway does not share (RELIABILITY.md).
const DOCUMENTED: &[&str] = &[
    "a tag (`!...`)",
    "must be followed by a valid YAML whitespace",
    "tabs disallowed",
    "comments must be separated",
    "aliases expand",
    "nesting deeper",
    "invalid indentation in quoted scalar",
    "(U+FEFF) is not allowed",
];

/// Equal configs, a NaN `flows_percent` equal to a NaN (both parsers read `.nan`;
/// `f64`'s `==` would call them different). The Debug form spells NaN alike.
fn same(a: &Config, b: &Config) -> bool {
    a == b || format!("{a:?}") == format!("{b:?}")
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // `load_str` strips a byte-order mark before parsing; compare on the same text.
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    let norway = serde_norway::from_str::<Config>(body);
    if let Ok(fast) = fast_yaml::from_str::<Config>(body) {
        match &norway {
            Ok(n) => assert!(same(n, &fast), "fast path and serde_norway differ on {body:?}: {n:?} vs {fast:?}"),
            Err(e) => panic!("fast path accepted what serde_norway rejects ({e}): {body:?}"),
        }
    }
    match (load_str(text, Format::Yaml), &norway) {
        (Ok(l), Ok(n)) => {
            assert!(same(&l.config, n), "load_str and serde_norway differ on {body:?}: {:?} vs {n:?}", l.config);
            let _ = l.source_map.len();
        }
        (Err(l), Err(_)) => assert!(l.location().is_some(), "error without a position on {body:?}: {l}"),
        (Err(l), Ok(_)) if DOCUMENTED.iter().any(|m| l.to_string().contains(m)) => {}
        (l, n) => panic!("load_str and serde_norway disagree on {body:?}: {:?} vs {n:?}", l.map(|l| l.config)),
    }
    let _ = load_str(text, Format::Json);
});
