//! The resolved model: names resolve to the first object so named, values are
//! parsed once with their parser's message kept, and validation and intent read
//! the same model (`validate::check` + `intent::compile_model` = `validate` +
//! `intent::compile`).

use p4clone_compiler::config::{Config, Tenant};
use p4clone_compiler::intent::{compile, compile_model, Allocation};
use p4clone_compiler::model::{Kind, Model, TenantRef};
use p4clone_compiler::{synthetic, validate};

const BASIC: &str = include_str!("../../examples/basic.yaml");

fn basic() -> Config {
    serde_norway::from_str(BASIC).expect("basic.yaml parses")
}

#[test]
fn basic_resolves_every_reference() {
    let cfg = basic();
    let m = Model::resolve(&cfg);
    assert_eq!(m.ses.len(), 1);
    assert_eq!(m.ses[0].device, Some(0));
    assert_eq!(m.interfaces.len(), cfg.se_groups[0].service_engines[0].interfaces.len());
    assert!(m.interfaces.iter().all(|i| i.addr.is_ok() && i.mac.is_ok() && i.network.is_some()));
    let vs = &m.virtual_services[0];
    assert_eq!((vs.se_group, vs.pool, vs.profile), (Some(0), Some(0), Some(0)));
    assert!(vs.vip.is_ok() && vs.tenant.is_some());
    assert_eq!(m.pool_servers.len(), cfg.pools[0].servers.len());
    assert_eq!(m.networks[1].vlan, Some(50));
    assert!(m.duplicates.is_empty());
}

#[test]
fn first_name_wins_and_duplicates_are_recorded() {
    let mut cfg = basic();
    let mut p2 = cfg.pools[0].clone();
    p2.servers.clear();
    cfg.pools.push(p2);
    let m = Model::resolve(&cfg);
    assert_eq!(m.lookup(Kind::Pool, &cfg.pools[0].name), Some(0));
    assert_eq!(m.duplicates, vec![(Kind::Pool, 1, 0)]);
    assert_eq!(m.virtual_services[0].pool, Some(0));
}

#[test]
fn implicit_admin_and_named_tenants() {
    let mut cfg = basic();
    cfg.tenants.clear();
    let m = Model::resolve(&cfg);
    assert!(m.has_implicit_admin());
    assert_eq!(m.tenant("admin"), Some(TenantRef::Admin));
    assert_eq!(m.tenant("nobody"), None);
    cfg.tenants.push(Tenant { name: "admin".into() });
    let m = Model::resolve(&cfg);
    assert!(!m.has_implicit_admin());
    assert_eq!(m.tenant("admin"), Some(TenantRef::Named(0)));
}

#[test]
fn unparsable_values_keep_their_message() {
    let mut cfg = basic();
    cfg.networks[0].subnet = "10.20.0.1/16".into();
    cfg.networks[1].vlan = Some(4095);
    cfg.pools[0].servers[0].ip = "999.1.1.1".into();
    cfg.virtual_services[0].se_group = "ghost".into();
    let m = Model::resolve(&cfg);
    assert!(m.networks[0].subnet.as_ref().unwrap_err().contains("host bits"));
    assert_eq!(m.networks[1].vlan, None, "out-of-range VLANs are not usable");
    assert_eq!(m.pool_servers[0].as_ref().unwrap_err(), "`999.1.1.1` is not an IP address");
    assert_eq!(m.virtual_services[0].se_group, None);
}

#[test]
fn check_then_compile_model_equals_validate_then_compile() {
    for cfg in [basic(), synthetic::fleet(30, 3, 7, 3, 3), synthetic::fleet(50, 2, 100, 10, 5)] {
        let checked = validate::check(&cfg);
        assert_eq!(checked.diagnostics, validate::validate(&cfg));
        assert_eq!(compile_model(&checked.model, &Allocation::default()), compile(&cfg, &Allocation::default()));
    }
}
