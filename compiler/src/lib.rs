//! p4clone compiler: from a declarative clone configuration to P4Runtime entities.
//!
//! Phases, one module each, pure functions (no I/O besides [`source::load_file`]):
//! - [`config`]: the serde model of the config file (YAML or JSON).
//! - [`source`]: loading text into a [`config::Config`] plus a map from object paths
//!   to YAML line:column, for error messages; [`source::fast_yaml`] is the one YAML
//!   reader (a fast parser of the subset configs use, `yaml-rust2` outside it).
//! - [`net`]: MAC, prefix, interface-address and endpoint value types.
//! - [`diag`]: diagnostics (errors and warnings naming an object path).
//! - [`filter`]: clone filter rules and sampling parsed, and port-range arithmetic.
//! - [`limits`]: every numeric limit (ports, VLANs, truncation, clone servers,
//!   clone session ids), in one place.
//! - [`model`]: the config resolved once: names turned into indices, addresses,
//!   prefixes, MACs and endpoints parsed; read by validation and intent alike.
//! - [`validate`]: the reference graph (petgraph) and every validation rule;
//!   [`validate::check`] returns the resolved model with the diagnostics.
//! - [`intent`]: target-neutral per-device intent (wires, clone members, classify
//!   rules, NAT bindings) with stable member ids, compiled from the model.
//! - [`route`]: which SE interface and next hop reach an encapsulated clone server.
//! - [`lower`]: intent to ordered P4Runtime `Update`s through the P4Info schema.
//! - [`target`]: what each kind of device asks of the entities (program, clone
//!   session ids and form, who truncates), as data.
//! - [`synthetic`]: a generator of large valid configs for benchmarks and tests.

pub mod config;
pub mod diag;
pub mod filter;
pub mod import;
pub mod intent;
pub mod limits;
pub mod lower;
pub mod model;
pub mod net;
pub mod route;
pub mod source;
pub mod synthetic;
pub mod target;
pub mod validate;
