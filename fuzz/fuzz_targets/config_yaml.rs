//! Config loading from arbitrary text, YAML and JSON. Differential: whenever the
//! YAML fast path (`source::fast_yaml`) returns a config, `serde_norway` must return
//! an equal one; `source::load_str(.., Yaml)` must give exactly what `serde_norway`
//! gives (same config, or both refuse); JSON loading must not panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use p4clone_compiler::config::Config;
use p4clone_compiler::source::fast_yaml;
use p4clone_compiler::source::{load_str, Format};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // `load_str` strips a byte-order mark before parsing; compare on the same text.
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    let norway = serde_norway::from_str::<Config>(body);
    if let Ok(fast) = fast_yaml::from_str::<Config>(body) {
        match &norway {
            Ok(n) => assert_eq!(n, &fast, "fast path and serde_norway differ on {body:?}"),
            Err(e) => panic!("fast path accepted what serde_norway rejects ({e}): {body:?}"),
        }
    }
    match (load_str(text, Format::Yaml), &norway) {
        (Ok(l), Ok(n)) => assert_eq!(&l.config, n, "load_str and serde_norway differ on {body:?}"),
        (Err(_), Err(_)) => {}
        (l, n) => panic!("load_str and serde_norway disagree on {body:?}: {:?} vs {n:?}", l.map(|l| l.config)),
    }
    let _ = load_str(text, Format::Json);
});
