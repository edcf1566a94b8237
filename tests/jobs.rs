//! The library's jobs without the binary: a vector case read with
//! `p4clone::jobs::vectors`, run on the in-process software target with
//! `run_soft`, and compared with its expected frames by `compare_dirs`, the
//! way `p4clone diff --vectors` does; and the typed errors of bad input.

use p4clone::jobs::compare::compare_dirs;
use p4clone::jobs::inputs::parse_pcap_inputs;
use p4clone::jobs::soft::run_soft;
use p4clone::jobs::vectors::{output_ports, vector_cases, VectorCase};
use p4clone_compiler::intent::{self, Allocation};
use p4clone_compiler::source;

fn case(name: &str) -> VectorCase {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors").join(name);
    let mut cases = vector_cases(&dir).expect("one case");
    assert_eq!(cases.len(), 1);
    cases.remove(0)
}

#[test]
fn soft_run_of_a_vector_matches_its_expected_frames() {
    let case = case("example-basic");
    assert_eq!(case.name(), "example-basic");
    assert_eq!(case.input_ports().into_iter().collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(case.expected_ports().into_iter().collect::<Vec<_>>(), vec![1, 2, 3]);

    let config = source::load_file(&case.config()).expect("config").config;
    let intent = intent::compile(&config, &Allocation::default()).expect("compiles");
    let device = intent.devices.first().expect("a device");
    let out = tempfile::tempdir().unwrap();
    let run = run_soft(&config, device, &case.inputs(), out.path(), &|_| {}).expect("soft run");
    assert_eq!(run.device, device.name);
    assert!(run.stats.errors.is_empty(), "{:?}", run.stats.errors);

    let ports = case.expected_ports().union(&output_ports(out.path())).copied().collect();
    let expected = |p: u16| case.expected(p);
    let c = compare_dirs(case.name(), ("soft", out.path()), ("expected", &expected), &ports, 5).expect("readable");
    assert!(c.identical(), "{c:?}");
    assert!(c.frames() > 0);
}

#[test]
fn bad_inputs_are_typed_input_errors() {
    let e = parse_pcap_inputs(&["1=/nonexistent.pcap".to_string()]).unwrap_err();
    assert!(e.is_input());
    assert_eq!(e.to_string(), "invalid --pcap \"1=/nonexistent.pcap\": pcap file /nonexistent.pcap does not exist");
    let e = vector_cases(std::path::Path::new("/nonexistent")).unwrap_err();
    assert!(e.to_string().starts_with("/nonexistent: "), "{e}");
}
