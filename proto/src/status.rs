//! `google.rpc.Status` with per-update `p4.v1.Error` details (P4Runtime spec,
//! Write RPC error reporting).
//!
//! When any update of a Write batch fails, the server answers with gRPC code
//! `UNKNOWN` and a `google.rpc.Status` whose `details` hold one packed
//! `p4.v1.Error` per update, in batch order (`OK` for the updates that
//! succeeded). gRPC carries that `google.rpc.Status`, encoded, as the status
//! details (`grpc-status-details-bin`).
//!
//! ```
//! use p4clone_proto::status;
//! let errors = vec![
//!     status::ok(),
//!     status::error(tonic::Code::AlreadyExists, "entry exists"),
//! ];
//! let grpc = status::write_failure(&errors);
//! assert_eq!(grpc.code(), tonic::Code::Unknown);
//! assert_eq!(status::write_errors(&grpc).unwrap(), errors);
//! ```

use prost::{Message, Name};
use prost_types::Any;

use crate::google::rpc::Status as RpcStatus;
use crate::p4::v1::Error as P4Error;
use crate::Error;

/// Type URL of a packed `p4.v1.Error`.
pub const P4_ERROR_TYPE_URL: &str = "type.googleapis.com/p4.v1.Error";

/// A `p4.v1.Error` for an update that succeeded.
pub fn ok() -> P4Error {
    P4Error::default()
}

/// A `p4.v1.Error` for an update that failed with `code`.
pub fn error(code: tonic::Code, message: impl Into<String>) -> P4Error {
    P4Error { canonical_code: code as i32, message: message.into(), ..Default::default() }
}

/// Whether a per-update error reports success.
pub fn is_ok(error: &P4Error) -> bool {
    error.canonical_code == tonic::Code::Ok as i32
}

/// Packs `msg` into a `google.protobuf.Any` (type URL
/// `type.googleapis.com/<full name>`).
pub fn pack<M: Message + Name>(msg: &M) -> Any {
    Any { type_url: M::type_url(), value: msg.encode_to_vec() }
}

/// Unpacks an `Any` holding an `M` (the type URL's domain is ignored).
pub fn unpack<M: Message + Default + Name>(any: &Any) -> Result<M, Error> {
    let actual = any.type_url.rsplit('/').next().unwrap_or_default();
    if actual != M::full_name() {
        return Err(Error::AnyTypeMismatch { expected: M::type_url(), actual: any.type_url.clone() });
    }
    Ok(M::decode(any.value.as_slice())?)
}

/// The `google.rpc.Status` for a Write batch with per-update `errors` (one per
/// update, in order): `OK` without details if every entry is OK, otherwise
/// `UNKNOWN` with every entry packed into `details`.
pub fn write_status(errors: &[P4Error]) -> RpcStatus {
    let failed: Vec<&P4Error> = errors.iter().filter(|e| !is_ok(e)).collect();
    if failed.is_empty() {
        return RpcStatus::default();
    }
    let message = match failed.as_slice() {
        [only] => format!("1 of {} updates failed: {}", errors.len(), only.message),
        many => format!("{} of {} updates failed; first: {}", many.len(), errors.len(), many[0].message),
    };
    RpcStatus { code: tonic::Code::Unknown as i32, message, details: errors.iter().map(pack).collect() }
}

/// [`write_status`] as a `tonic::Status` (for a server's `Err` return). Use it
/// only when some update failed; a fully successful batch answers `Ok`.
pub fn write_failure(errors: &[P4Error]) -> tonic::Status {
    to_tonic(&write_status(errors))
}

/// A `google.rpc.Status` as a `tonic::Status`, with the encoded status as the
/// gRPC details.
pub fn to_tonic(status: &RpcStatus) -> tonic::Status {
    tonic::Status::with_details(
        tonic::Code::from_i32(status.code),
        status.message.clone(),
        status.encode_to_vec().into(),
    )
}

/// The `google.rpc.Status` carried by a `tonic::Status`: its decoded details,
/// or (without details) one built from the gRPC code and message.
pub fn from_tonic(status: &tonic::Status) -> Result<RpcStatus, Error> {
    if status.details().is_empty() {
        return Ok(RpcStatus {
            code: status.code() as i32,
            message: status.message().to_string(),
            details: Vec::new(),
        });
    }
    RpcStatus::decode(status.details()).map_err(Error::BadStatusDetails)
}

/// The per-update errors of a failed Write: the `p4.v1.Error` details of the
/// status, in order. Empty if the status carries none (a batch-level error:
/// see the gRPC code and message). Details of other types are skipped.
pub fn write_errors(status: &tonic::Status) -> Result<Vec<P4Error>, Error> {
    rpc_errors(&from_tonic(status)?)
}

/// The `p4.v1.Error` details of a `google.rpc.Status`, in order (details of
/// other types are skipped).
pub fn rpc_errors(status: &RpcStatus) -> Result<Vec<P4Error>, Error> {
    status
        .details
        .iter()
        .filter(|any| any.type_url.rsplit('/').next() == Some("p4.v1.Error"))
        .map(unpack::<P4Error>)
        .collect()
}
