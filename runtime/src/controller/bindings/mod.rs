//! Live NAT bindings: SE address:port → client address:port (+ protocol),
//! fed at run time through the `p4clone.controller.v1.Bindings` gRPC service
//! and written by the controller, batched, to the NAT tables of the devices
//! whose SEs own the SE address.
//!
//! - The desired state of a device is its config plus its live bindings: a
//!   reconcile writes both and deletes neither; config bindings cannot be
//!   changed live (`FAILED_PRECONDITION`).
//! - Per device and family, config + live bindings are bounded by the NAT
//!   table's size in the program's P4Info (or a lower `max_bindings`); an add
//!   beyond it is refused with `RESOURCE_EXHAUSTED` and counted; nothing
//!   accepted is dropped.
//! - A device task writes its changed bindings within a flush delay (a few
//!   ms), at once when a batch is full; a failed write makes it reconcile.
//! - Failover: a backup refuses changes (`UNAVAILABLE`). When a controller
//!   becomes primary of a device after another controller was its primary,
//!   its first reconcile reads the device's NAT entries back and takes those
//!   that are not config bindings and whose SE address an SE of the device
//!   owns as the device's live bindings, replacing its own (stale) ones: the
//!   device is the truth. At start it does the same but keeps the bindings
//!   accepted meanwhile (merge).
//!
//! | file | job |
//! |---|---|
//! | `binding.rs` | [`Binding`], [`BindingKey`], parsing with errors naming the field |
//! | `table.rs` | [`BindingTable`]: routes, bound, per-device pending writes, counters |
//! | `entries.rs` | bindings as NAT table entries (the compiler's lowering) and back |
//! | `service.rs` | the gRPC service and its server |
//! | `client.rs` | [`BindingsClient`] (the CLI's), `feed` |
//! | `feed.rs` | the JSON-lines form |

pub mod binding;
pub mod client;
pub mod entries;
pub mod feed;
pub mod service;
pub mod table;

pub use binding::{Binding, BindingKey, FieldError};
pub use client::{BindingsClient, BindingsClientError, FeedOptions, FeedReport};
pub use service::{serve, BindingsServerHandle};
pub use table::{Applied, BindingError, BindingOp, BindingTable};
