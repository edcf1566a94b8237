//! The [`program`] module's constants against the embedded P4Info: every table,
//! action, counter, direct counter and register is named with its P4Info id, no
//! P4Info object lacks a constant, and the sizes in `limits` are the P4Info's.

use p4clone_proto::program::{self, actions, counters, direct_counters, limits, registers, tables};

#[test]
fn every_object_has_its_p4info_id() {
    let s = program::schema().expect("the embedded P4Info loads");
    for t in tables::ALL {
        assert_eq!(s.table(t.name).unwrap().id, t.id, "table {}", t.name);
    }
    for a in actions::ALL {
        assert_eq!(s.action(a.name).unwrap().id, a.id, "action {}", a.name);
    }
    for c in counters::ALL {
        assert_eq!(s.counter(c.name).unwrap().id, c.id, "counter {}", c.name);
    }
    for c in direct_counters::ALL {
        assert_eq!(s.direct_counter(c.name).unwrap().id, c.id, "direct counter {}", c.name);
    }
    for r in registers::ALL {
        assert_eq!(s.register(r.name).unwrap().id, r.id, "register {}", r.name);
    }
}

#[test]
fn no_p4info_object_lacks_a_constant() {
    let info = program::p4info().unwrap();
    let names = |v: Vec<&str>| {
        let mut v: Vec<String> = v.into_iter().map(String::from).collect();
        v.sort();
        v
    };
    fn pre(p: &Option<p4clone_proto::p4::config::v1::Preamble>) -> &str {
        p.as_ref().map_or("", |p| p.name.as_str())
    }
    assert_eq!(
        names(info.tables.iter().map(|t| pre(&t.preamble)).collect()),
        names(tables::ALL.iter().map(|o| o.name).collect())
    );
    assert_eq!(
        names(info.actions.iter().map(|t| pre(&t.preamble)).collect()),
        names(actions::ALL.iter().map(|o| o.name).collect())
    );
    assert_eq!(
        names(info.counters.iter().map(|t| pre(&t.preamble)).collect()),
        names(counters::ALL.iter().map(|o| o.name).collect())
    );
    assert_eq!(
        names(info.direct_counters.iter().map(|t| pre(&t.preamble)).collect()),
        names(direct_counters::ALL.iter().map(|o| o.name).collect())
    );
    assert_eq!(
        names(info.registers.iter().map(|t| pre(&t.preamble)).collect()),
        names(registers::ALL.iter().map(|o| o.name).collect())
    );
}

#[test]
fn limits_are_the_p4info_sizes() {
    let s = program::schema().unwrap();
    for c in counters::ALL {
        assert_eq!(s.counter(c.name).unwrap().size, limits::COUNTER_SIZE as i64, "{}", c.name);
    }
    assert_eq!(s.register(registers::RR_CURSOR.name).unwrap().size, limits::RR_CURSOR_SIZE as i64);
    assert_eq!(s.register(registers::ERSPAN_SEQ.name).unwrap().size, limits::ERSPAN_SEQ_SIZE as i64);
    assert_eq!(s.table(tables::CLONE_ENCAP.name).unwrap().size, limits::CLONE_ENCAP_SIZE as i64);
    assert_eq!(s.table(tables::WIRE.name).unwrap().size, limits::PORT_COUNT as i64);
    assert_eq!(limits::DROP_PORT as usize, limits::PORT_COUNT - 1);
    assert_eq!(limits::MAX_DEVICE_PORT, limits::DROP_PORT - 1);
    assert!(usize::from(limits::MAX_CLONE_SESSION) < limits::COUNTER_SIZE);
}
