//! The generated tonic server and client talk to each other over loopback, and
//! per-update Write errors survive the trip in the gRPC status details.

use std::pin::Pin;

use p4clone_proto::p4::v1::p4_runtime_client::P4RuntimeClient;
use p4clone_proto::p4::v1::p4_runtime_server::{P4Runtime, P4RuntimeServer};
use p4clone_proto::p4::v1::{
    entity, CapabilitiesRequest, CapabilitiesResponse, Entity, GetForwardingPipelineConfigRequest,
    GetForwardingPipelineConfigResponse, ReadRequest, ReadResponse, SetForwardingPipelineConfigRequest,
    SetForwardingPipelineConfigResponse, StreamMessageRequest, StreamMessageResponse, TableEntry, Update, WriteRequest,
    WriteResponse,
};
use p4clone_proto::status;
use tonic::codegen::tokio_stream::{self, Stream};
use tonic::{Request, Response, Status, Streaming};

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// Accepts updates of even table ids, rejects odd ones.
struct Fake;

#[tonic::async_trait]
impl P4Runtime for Fake {
    async fn write(&self, req: Request<WriteRequest>) -> Result<Response<WriteResponse>, Status> {
        let errors: Vec<_> = req
            .into_inner()
            .updates
            .iter()
            .map(|u| match &u.entity.as_ref().and_then(|e| e.entity.as_ref()) {
                Some(entity::Entity::TableEntry(t)) if t.table_id % 2 == 0 => status::ok(),
                _ => status::error(tonic::Code::InvalidArgument, "odd table"),
            })
            .collect();
        if errors.iter().all(status::is_ok) {
            Ok(Response::new(WriteResponse {}))
        } else {
            Err(status::write_failure(&errors))
        }
    }

    type ReadStream = BoxStream<ReadResponse>;

    async fn read(&self, _: Request<ReadRequest>) -> Result<Response<Self::ReadStream>, Status> {
        let chunks = (1..=2).map(|id| Ok(ReadResponse { entities: vec![table_entity(id)] }));
        Ok(Response::new(Box::pin(tokio_stream::iter(chunks))))
    }

    async fn set_forwarding_pipeline_config(
        &self,
        _: Request<SetForwardingPipelineConfigRequest>,
    ) -> Result<Response<SetForwardingPipelineConfigResponse>, Status> {
        Err(Status::unimplemented("not in this test"))
    }

    async fn get_forwarding_pipeline_config(
        &self,
        _: Request<GetForwardingPipelineConfigRequest>,
    ) -> Result<Response<GetForwardingPipelineConfigResponse>, Status> {
        Err(Status::failed_precondition("no pipeline"))
    }

    type StreamChannelStream = BoxStream<StreamMessageResponse>;

    async fn stream_channel(
        &self,
        _: Request<Streaming<StreamMessageRequest>>,
    ) -> Result<Response<Self::StreamChannelStream>, Status> {
        Err(Status::unimplemented("not in this test"))
    }

    async fn capabilities(&self, _: Request<CapabilitiesRequest>) -> Result<Response<CapabilitiesResponse>, Status> {
        Ok(Response::new(CapabilitiesResponse { p4runtime_api_version: "1.4.1".into(), experimental: None }))
    }
}

fn table_entity(table_id: u32) -> Entity {
    Entity { entity: Some(entity::Entity::TableEntry(TableEntry { table_id, ..Default::default() })) }
}

fn insert(table_id: u32) -> Update {
    Update { r#type: p4clone_proto::p4::v1::update::Type::Insert as i32, entity: Some(table_entity(table_id)) }
}

#[tokio::test]
async fn client_and_server_over_loopback() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(P4RuntimeServer::new(Fake))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );

    let mut client = P4RuntimeClient::connect(format!("http://{addr}")).await.unwrap();

    let caps = client.capabilities(CapabilitiesRequest::default()).await;
    assert_eq!(caps.unwrap().into_inner().p4runtime_api_version, "1.4.1");

    let ok = client.write(WriteRequest { updates: vec![insert(2), insert(4)], ..Default::default() }).await;
    assert!(ok.is_ok(), "{ok:?}");

    let err =
        client.write(WriteRequest { updates: vec![insert(2), insert(3)], ..Default::default() }).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unknown);
    let per_update = status::write_errors(&err).unwrap();
    assert_eq!(per_update, vec![status::ok(), status::error(tonic::Code::InvalidArgument, "odd table")]);

    let batch = client.get_forwarding_pipeline_config(GetForwardingPipelineConfigRequest::default()).await.unwrap_err();
    assert_eq!(batch.code(), tonic::Code::FailedPrecondition);
    assert!(status::write_errors(&batch).unwrap().is_empty());

    let mut stream = client.read(ReadRequest::default()).await.unwrap().into_inner();
    let mut ids = Vec::new();
    while let Some(resp) = stream.message().await.unwrap() {
        for e in resp.entities {
            if let Some(entity::Entity::TableEntry(t)) = e.entity {
                ids.push(t.table_id);
            }
        }
    }
    assert_eq!(ids, [1, 2]);

    server.abort();
}
