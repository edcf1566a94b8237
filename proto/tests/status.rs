//! google.rpc.Status with p4.v1.Error details.

use p4clone_proto::google::rpc::Status as RpcStatus;
use p4clone_proto::p4::v1::{Error as P4Error, TableEntry};
use p4clone_proto::{status, Error};
use prost::Message;

#[test]
fn all_ok_is_plain_ok() {
    let rpc = status::write_status(&[status::ok(), status::ok()]);
    assert_eq!(rpc, RpcStatus::default());
    assert!(status::rpc_errors(&rpc).unwrap().is_empty());
}

#[test]
fn server_to_client_round_trip() {
    let errors = vec![
        status::ok(),
        status::error(tonic::Code::InvalidArgument, "bad match"),
        P4Error {
            canonical_code: tonic::Code::NotFound as i32,
            message: "no entry".into(),
            space: "p4clone-v1model".into(),
            code: 42,
            details: Some(status::pack(&TableEntry { table_id: 7, ..Default::default() })),
        },
    ];
    let rpc = status::write_status(&errors);
    assert_eq!(rpc.code, tonic::Code::Unknown as i32);
    assert_eq!(rpc.message, "2 of 3 updates failed; first: bad match");
    assert_eq!(rpc.details.len(), 3);
    assert!(rpc.details.iter().all(|d| d.type_url == status::P4_ERROR_TYPE_URL));

    let grpc = status::write_failure(&errors);
    assert_eq!(grpc.code(), tonic::Code::Unknown);
    assert_eq!(grpc.message(), rpc.message);
    // gRPC details are the encoded google.rpc.Status.
    assert_eq!(RpcStatus::decode(grpc.details()).unwrap(), rpc);

    assert_eq!(status::from_tonic(&grpc).unwrap(), rpc);
    let back = status::write_errors(&grpc).unwrap();
    assert_eq!(back, errors);
    assert!(status::is_ok(&back[0]) && !status::is_ok(&back[1]));
    let inner: TableEntry = status::unpack(back[2].details.as_ref().unwrap()).unwrap();
    assert_eq!(inner.table_id, 7);
}

#[test]
fn single_failure_message() {
    let rpc = status::write_status(&[status::error(tonic::Code::AlreadyExists, "dup")]);
    assert_eq!(rpc.message, "1 of 1 updates failed: dup");
}

#[test]
fn status_without_details_is_batch_level() {
    let grpc = tonic::Status::failed_precondition("no pipeline");
    let rpc = status::from_tonic(&grpc).unwrap();
    assert_eq!(rpc.code, tonic::Code::FailedPrecondition as i32);
    assert_eq!(rpc.message, "no pipeline");
    assert!(status::write_errors(&grpc).unwrap().is_empty());

    let back = status::to_tonic(&rpc);
    assert_eq!(back.code(), tonic::Code::FailedPrecondition);
    assert_eq!(back.message(), "no pipeline");
}

#[test]
fn bad_details_and_wrong_any_type() {
    let grpc = tonic::Status::with_details(tonic::Code::Unknown, "x", vec![0xff, 0xff, 0xff].into());
    assert!(matches!(status::from_tonic(&grpc), Err(Error::BadStatusDetails(_))));

    let any = status::pack(&TableEntry::default());
    let err = status::unpack::<P4Error>(&any).unwrap_err();
    assert!(matches!(err, Error::AnyTypeMismatch { .. }));
    assert_eq!(
        err.to_string(),
        "expected an Any of type `type.googleapis.com/p4.v1.Error`, \
         got `type.googleapis.com/p4.v1.TableEntry`"
    );

    // Details of other types are skipped by rpc_errors.
    let rpc = RpcStatus { code: 2, message: String::new(), details: vec![any, status::pack(&status::ok())] };
    assert_eq!(status::rpc_errors(&rpc).unwrap(), vec![status::ok()]);
}
