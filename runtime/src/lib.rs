//! p4clone runtime: talks P4Runtime to the devices.
//!
//! | module | what |
//! |---|---|
//! | [`client`] | connection (TLS, mTLS), StreamChannel arbitration (primary/backup), reconnect, RPCs |
//! | [`pipeline`] | the device's pipeline and cookie; installing ours (`VERIFY_AND_COMMIT`) |
//! | [`tables`], [`replication`], [`counters`], [`registers`] | reads and updates per P4Runtime entity kind |
//! | [`encode`] | Write requests in wire form, encoded from borrowed entities |
//! | [`write`](mod@write) | batched `CONTINUE_ON_ERROR` writes with per-update errors |
//! | [`reconcile`] | read → diff → ordered minimal writes ([`reconcile::Reconciler`], [`reconcile::Plan`]) |
//! | [`stats`] | mirror counters → per-clone-server statistics; table / JSON / Prometheus renderers |
//! | [`metrics`] | the `/metrics` (Prometheus) and `/healthz` HTTP server (hyper) |
//! | [`fleet`] | plan / push / stats over many devices concurrently |
//! | [`controller`] | `p4clone controller`: per-device tasks that hold the stream and keep devices in sync; config reloads; health |
//! | [`describe`] | one-line human forms of entities |
//!
//! No local state: what the runtime needs to know about a device (pipeline
//! cookie, which member block belongs to which profile and SE, each profile's
//! config digest) is stored on the device, in the pipeline cookie and in table
//! entry metadata.

pub mod client;
pub mod controller;
pub mod counters;
pub mod describe;
pub mod encode;
pub mod error;
pub mod fleet;
pub mod metrics;
pub mod pipeline;
pub mod reconcile;
pub mod registers;
pub mod replication;
pub mod stats;
pub mod tables;
pub mod write;

pub use client::{Client, ConnectOptions, TlsOptions};
pub use error::{ClientError, PipelineError, ReconcileError};
pub use fleet::{DeviceTarget, FleetOptions, FleetPlan, FleetPush};
pub use reconcile::{Plan, PushResult, Reconciler};
pub use stats::StatsReport;
