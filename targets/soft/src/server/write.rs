//! The `Write` RPC: checks (device, role, primary, pipeline, atomicity), then every
//! update is validated and translated, and all of them are applied in **one**
//! pipeline batch, published to the data plane atomically. Updates succeed or fail
//! one by one (CONTINUE_ON_ERROR); failures come back as gRPC UNKNOWN with one
//! `p4.v1.Error` per update (OK for those that were applied).

use p4clone_proto::p4::v1::{write_request::Atomicity, WriteRequest};
use p4clone_proto::status;
use tonic::Status;

use super::inner::Inner;
use crate::translate::Failure;

pub(crate) fn write(inner: &Inner, req: &WriteRequest, check_arbitration: bool) -> Result<(), Status> {
    inner.check_device(req.device_id)?;
    Inner::check_role(&req.role)?;
    if check_arbitration && !inner.arbiter.is_primary(req.election_id.as_ref()) {
        return Err(Status::permission_denied("not the primary client: the election id is not the primary's"));
    }
    let max = inner.max_batch_updates.load(std::sync::atomic::Ordering::Relaxed);
    if req.updates.len() > max {
        return Err(Status::resource_exhausted(format!(
            "the Write carries {} updates, more than this server's limit of {max} per batch \
             (p4clone soft --max-batch-updates); split it",
            req.updates.len()
        )));
    }
    let mut st = inner.write_state();
    if !st.has_pipeline() {
        return Err(Status::failed_precondition("no forwarding pipeline config set for this device"));
    }
    match Atomicity::try_from(req.atomicity) {
        Ok(Atomicity::ContinueOnError) => {}
        Ok(a) => {
            return Err(Status::unimplemented(format!(
                "atomicity {} is not supported (only CONTINUE_ON_ERROR)",
                a.as_str_name()
            )))
        }
        Err(_) => return Err(Status::invalid_argument(format!("unknown atomicity {}", req.atomicity))),
    }
    if req.updates.is_empty() {
        return Ok(());
    }
    let parse = inner.parse();
    let plans: Vec<_> = req.updates.iter().map(|u| inner.program.plan_update(u, &inner.pipeline, parse)).collect();
    let mut results: Vec<Result<(), Failure>> = Vec::with_capacity(plans.len());
    let mut side = Vec::new();
    inner.pipeline.write(|batch| {
        for plan in plans {
            let mut planned = match plan {
                Ok(p) => p,
                Err(f) => {
                    results.push(Err(f));
                    continue;
                }
            };
            let mut result = Ok(());
            let effects = std::mem::take(&mut planned.side);
            for op in planned.into_ops() {
                if let Err(e) = batch.apply(op) {
                    result = Err(Failure::from(e));
                    break;
                }
            }
            if result.is_ok() {
                side.extend(effects);
            }
            results.push(result);
        }
    });
    for e in side {
        st.side.apply(e);
    }
    if results.iter().all(Result::is_ok) {
        return Ok(());
    }
    let errors: Vec<_> = results
        .iter()
        .map(|r| match r {
            Ok(()) => status::ok(),
            Err(f) => f.to_p4_error(),
        })
        .collect();
    Err(status::write_failure(&errors))
}
