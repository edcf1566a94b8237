//! P4Runtime protocol bindings for p4clone.
//!
//! - [`p4::v1`], [`p4::config::v1`], [`google::rpc`]: prost messages generated
//!   from our wire-compatible copies of the P4Runtime protos, plus the tonic
//!   client ([`p4::v1::p4_runtime_client::P4RuntimeClient`]) and server
//!   ([`p4::v1::p4_runtime_server::P4RuntimeServer`] /
//!   [`p4::v1::p4_runtime_server::P4Runtime`]). Every message implements
//!   [`prost::Name`].
//! - [`p4clone::soft::v1`]: p4clone's own `CloneDiagnostics` service, which the
//!   software target serves beside P4Runtime (per-member send failures).
//! - [`p4clone::controller::v1`]: the `Bindings` service of `p4clone
//!   controller` (live NAT bindings).
//! - [`FILE_DESCRIPTOR_SET`] / [`descriptor_pool`]: the compiled descriptors,
//!   for reflection.
//! - [`format`]: protobuf text format and JSON rendering / parsing.
//! - [`bytestring`]: canonical P4Runtime bytestrings (spec §8.4).
//! - [`schema`]: [`schema::P4Schema`], name/id lookups over a P4Info.
//! - [`program`]: the P4 program p4clone drives: its P4Info (embedded once),
//!   schema, object names and ids, limits, and the p4c build.
//! - [`status`]: `google.rpc.Status` with per-update `p4.v1.Error` details.
//! - [`error`]: the crate's [`Error`] type.

use std::sync::LazyLock;

use prost_reflect::DescriptorPool;

pub mod bytestring;
pub mod error;
pub mod format;
pub mod program;
pub mod program_tna;
pub mod schema;
pub mod status;

pub use error::Error;
/// The type of every protobuf `bytes` field (`prost` generates them as
/// `bytes::Bytes`): cheap to clone and to slice.
pub use prost::bytes::Bytes;

/// Generated code for the `p4.*` protobuf packages.
pub mod p4 {
    /// `p4.v1`: the P4Runtime service and its messages.
    #[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/p4.v1.rs"));
    }

    /// `p4.config.*`: the P4Info schema.
    pub mod config {
        /// `p4.config.v1`: P4Info and P4 type descriptions.
        #[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/p4.config.v1.rs"));
        }
    }
}

/// Generated code for the `google.*` protobuf packages.
pub mod google {
    /// `google.rpc`: `Status` and `Code`.
    #[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
    pub mod rpc {
        include!(concat!(env!("OUT_DIR"), "/google.rpc.rs"));
    }
}

/// Generated code for p4clone's own protobuf packages.
pub mod p4clone {
    /// `p4clone.soft.*`: services of the p4clone software target.
    pub mod soft {
        /// `p4clone.soft.v1`: `CloneDiagnostics` (per-member send failures).
        #[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/p4clone.soft.v1.rs"));
        }
    }

    /// `p4clone.controller.*`: services of `p4clone controller`.
    pub mod controller {
        /// `p4clone.controller.v1`: `Bindings` (live NAT bindings).
        #[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/p4clone.controller.v1.rs"));
        }
    }
}

/// The encoded `google.protobuf.FileDescriptorSet` of every proto in this
/// crate (and the well-known types they import).
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/p4runtime.fds"));

static POOL: LazyLock<DescriptorPool> = LazyLock::new(|| {
    DescriptorPool::decode(FILE_DESCRIPTOR_SET)
        .expect("the embedded FILE_DESCRIPTOR_SET was produced by build.rs and is valid")
});

/// The descriptor pool built (once, on first use) from [`FILE_DESCRIPTOR_SET`].
pub fn descriptor_pool() -> &'static DescriptorPool {
    &POOL
}
