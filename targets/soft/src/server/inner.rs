//! What the server's RPCs share: [`Inner`] (device, pipeline, arbitration and
//! P4Runtime state), the forwarding pipeline [`Config`] and [`State`].

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use p4clone_pipeline::Pipeline;
use p4clone_proto::p4::config::v1::P4Info;
use tonic::codegen::tokio_stream::Stream;
use tonic::Status;

use super::arbitration::Arbiter;
use crate::translate::{Parse, Program, SideState};

/// A stream of RPC responses.
pub(crate) type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// A forwarding pipeline config as set by a client.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub p4info: P4Info,
    pub device_config: Vec<u8>,
    pub cookie: Option<u64>,
}

/// What the server keeps besides the pipeline.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// The realised config (`VERIFY_AND_COMMIT`, `COMMIT`, `RECONCILE_AND_COMMIT`).
    pub committed: Option<Config>,
    /// A config saved by `VERIFY_AND_SAVE`, waiting for `COMMIT`.
    pub saved: Option<Config>,
    /// Read-back state the pipeline does not hold.
    pub side: SideState,
}

impl State {
    /// Whether Read / Write may proceed (a config was committed or saved).
    pub fn has_pipeline(&self) -> bool {
        self.committed.is_some() || self.saved.is_some()
    }
}

pub(crate) struct Inner {
    pub device_id: u64,
    pub pipeline: Arc<Pipeline>,
    pub program: &'static Program,
    pub arbiter: Arbiter,
    /// Writes and config changes take it exclusively, reads shared.
    pub state: RwLock<State>,
    /// Accept non-canonical (zero-padded) bytestrings.
    pub lenient_bytestrings: AtomicBool,
    /// Most updates per Write request (RESOURCE_EXHAUSTED beyond).
    pub max_batch_updates: AtomicUsize,
    /// Tells open `StreamChannel`s that the server is stopping.
    pub shutdown: tokio::sync::watch::Sender<bool>,
}

impl Inner {
    pub fn parse(&self) -> Parse {
        Parse { canonical_only: !self.lenient_bytestrings.load(Ordering::Relaxed) }
    }

    pub fn read_state(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn write_state(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn check_device(&self, device_id: u64) -> Result<(), Status> {
        if device_id != self.device_id {
            return Err(Status::not_found(format!(
                "unknown device id {device_id} (this target is device {})",
                self.device_id
            )));
        }
        Ok(())
    }

    pub fn check_role(role: &str) -> Result<(), Status> {
        if !role.is_empty() {
            return Err(Status::not_found(format!("unknown role `{role}` (only the default role exists)")));
        }
        Ok(())
    }
}

/// A request handler task that failed.
pub(crate) fn internal(e: tokio::task::JoinError) -> Status {
    Status::internal(format!("request handler failed: {e}"))
}
