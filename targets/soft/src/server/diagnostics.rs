//! `p4clone.soft.v1.CloneDiagnostics`: the per-member send failures the ports
//! count (`Diag::AllocFailed`, `Diag::DriverFailed`), which no P4 counter can
//! hold. Served beside P4Runtime on the same port; like a P4Runtime Read it needs
//! no arbitration, only the right device id.

use std::sync::Arc;

use p4clone_pipeline::Diag;
use p4clone_proto::p4clone::soft::v1::clone_diagnostics_server::CloneDiagnostics;
use p4clone_proto::p4clone::soft::v1::{MemberDiagnostics, ReadCloneDiagnosticsRequest, ReadCloneDiagnosticsResponse};
use tonic::{Request, Response, Status};

use super::inner::Inner;

/// Largest member id (= clone session id).
const MAX_MEMBER: u32 = 32_767;

/// The tonic `CloneDiagnostics` service of a [`super::SoftTarget`].
#[derive(Clone)]
pub struct DiagnosticsService {
    pub(super) inner: Arc<Inner>,
}

impl std::fmt::Debug for DiagnosticsService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiagnosticsService").field("device_id", &self.inner.device_id).finish()
    }
}

fn member(inner: &Inner, id: u16) -> MemberDiagnostics {
    MemberDiagnostics {
        member: u32::from(id),
        alloc_failed: inner.pipeline.diag(Diag::AllocFailed, id),
        driver_failed: inner.pipeline.diag(Diag::DriverFailed, id),
    }
}

/// The answer to `req` (pure over the pipeline's counts).
pub(crate) fn read(inner: &Inner, req: &ReadCloneDiagnosticsRequest) -> Result<ReadCloneDiagnosticsResponse, Status> {
    inner.check_device(req.device_id)?;
    let mut members = Vec::new();
    if req.members.is_empty() {
        for id in 1..=MAX_MEMBER as u16 {
            let m = member(inner, id);
            if m.alloc_failed != 0 || m.driver_failed != 0 {
                members.push(m);
            }
        }
    } else {
        let mut ids = req.members.clone();
        ids.sort_unstable();
        ids.dedup();
        for id in ids {
            match u16::try_from(id) {
                Ok(m) if (1..=MAX_MEMBER).contains(&id) => members.push(member(inner, m)),
                _ => {
                    return Err(Status::out_of_range(format!("member {id} is not a clone member id (1..{MAX_MEMBER})")))
                }
            }
        }
    }
    Ok(ReadCloneDiagnosticsResponse { members })
}

#[tonic::async_trait]
impl CloneDiagnostics for DiagnosticsService {
    async fn read(
        &self,
        req: Request<ReadCloneDiagnosticsRequest>,
    ) -> Result<Response<ReadCloneDiagnosticsResponse>, Status> {
        read(&self.inner, req.get_ref()).map(Response::new)
    }
}
