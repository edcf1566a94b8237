//! Client arbitration of `StreamChannel` (spec "Client Arbitration and Controller
//! Replication"), default role only; the RPC itself is in `stream`.
//!
//! Each stream that sent a valid `MasterArbitrationUpdate` is a live client with an
//! election id. The primary is the live client with the highest non-zero election
//! id; clients without one (unset or 0) are backups that can never become primary.
//! Every accepted update is answered on its own stream; when the primary changes
//! (a higher id arrives, the primary lowers its id or leaves) every live client is
//! notified. The answer carries the primary's election id (or, with no primary,
//! the highest ever seen) and a status: OK for the primary, ALREADY_EXISTS for a
//! backup, NOT_FOUND for everyone while there is no primary.
//!
//! When the primary's stream ends, the next highest live client becomes primary at
//! once, as PI / BMv2 do (spec v1.4 would leave the device without a primary until
//! some client sends a new update); all clients are notified.

use std::sync::{Mutex, MutexGuard, PoisonError};

use p4clone_proto::google::rpc::Status as RpcStatus;
use p4clone_proto::p4::v1::{
    stream_message_response::Update as Resp, MasterArbitrationUpdate, StreamMessageResponse, Uint128,
};
use tokio::sync::mpsc::UnboundedSender;
use tonic::{Code, Status};

type Tx = UnboundedSender<Result<StreamMessageResponse, Status>>;

/// Most live streams per device (PI allows 16).
const MAX_CLIENTS: usize = 64;

fn u128_of(u: &Uint128) -> u128 {
    (u128::from(u.high) << 64) | u128::from(u.low)
}

fn uint128(v: u128) -> Uint128 {
    Uint128 { high: (v >> 64) as u64, low: v as u64 }
}

struct Client {
    id: u64,
    /// `None`: no (or a zero) election id — a backup that is never primary.
    election: Option<u128>,
    tx: Tx,
}

#[derive(Default)]
struct Clients {
    next_id: u64,
    live: Vec<Client>,
    /// The highest election id ever seen.
    highest: Option<u128>,
}

impl Clients {
    fn primary(&self) -> Option<&Client> {
        self.live.iter().filter(|c| c.election.is_some()).max_by_key(|c| c.election)
    }

    fn notify(&self, device_id: u64, c: &Client) {
        let primary = self.primary();
        let (code, message) = match primary {
            Some(p) if p.id == c.id => (Code::Ok, "primary"),
            Some(_) => (Code::AlreadyExists, "backup: another client is primary"),
            None => (Code::NotFound, "no primary"),
        };
        let update = MasterArbitrationUpdate {
            device_id,
            role: None,
            election_id: primary.and_then(|p| p.election).or(self.highest).map(uint128),
            status: Some(RpcStatus { code: code as i32, message: message.to_string(), details: Vec::new() }),
        };
        let _ = c.tx.send(Ok(StreamMessageResponse { update: Some(Resp::Arbitration(update)) }));
    }

    fn notify_all(&self, device_id: u64) {
        for c in &self.live {
            self.notify(device_id, c);
        }
    }
}

/// The live clients of the device.
pub(crate) struct Arbiter {
    device_id: u64,
    clients: Mutex<Clients>,
}

impl Arbiter {
    pub fn new(device_id: u64) -> Self {
        Arbiter { device_id, clients: Mutex::new(Clients::default()) }
    }

    fn lock(&self) -> MutexGuard<'_, Clients> {
        self.clients.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The primary's election id.
    pub fn primary(&self) -> Option<u128> {
        self.lock().primary().and_then(|p| p.election)
    }

    /// Whether `election_id` (of a Write / SetForwardingPipelineConfig) is the
    /// primary's.
    pub fn is_primary(&self, election_id: Option<&Uint128>) -> bool {
        match (self.primary(), election_id) {
            (Some(p), Some(e)) => u128_of(e) == p,
            _ => false,
        }
    }

    /// Handles a `MasterArbitrationUpdate` of the stream `client` (None until its
    /// first accepted update). An error terminates the stream with that status.
    pub(super) fn update(&self, client: &mut Option<u64>, tx: &Tx, m: &MasterArbitrationUpdate) -> Result<(), Status> {
        if m.device_id != self.device_id {
            return Err(match client {
                None => Status::not_found(format!(
                    "unknown device id {} (this target is device {})",
                    m.device_id, self.device_id
                )),
                Some(_) => Status::failed_precondition(format!(
                    "this stream belongs to device {}, the update names device {}",
                    self.device_id, m.device_id
                )),
            });
        }
        if let Some(role) = &m.role {
            #[allow(deprecated)]
            let named = !role.name.is_empty() || role.id != 0;
            if named {
                return Err(match client {
                    None => Status::unimplemented("only the default role is supported (leave `role` unset)"),
                    Some(_) => Status::failed_precondition(
                        "this stream has the default role; open a new stream to change role",
                    ),
                });
            }
            if role.config.is_some() {
                return Err(Status::invalid_argument("the default role takes no role config"));
            }
        }
        let election = m.election_id.as_ref().map(u128_of).filter(|&e| e != 0);
        let mut st = self.lock();
        if let Some(e) = election {
            if st.live.iter().any(|c| Some(c.id) != *client && c.election == Some(e)) {
                return Err(Status::invalid_argument(format!(
                    "election id {e} is already used by another live client"
                )));
            }
        }
        let before = st.primary().map(|p| p.id);
        let id = match *client {
            Some(id) => {
                if let Some(c) = st.live.iter_mut().find(|c| c.id == id) {
                    c.election = election;
                }
                id
            }
            None => {
                if st.live.len() >= MAX_CLIENTS {
                    return Err(Status::resource_exhausted(format!(
                        "too many P4Runtime clients (at most {MAX_CLIENTS})"
                    )));
                }
                st.next_id += 1;
                let id = st.next_id;
                st.live.push(Client { id, election, tx: tx.clone() });
                *client = Some(id);
                id
            }
        };
        if let Some(e) = election {
            st.highest = Some(st.highest.map_or(e, |h| h.max(e)));
        }
        let after = st.primary().map(|p| p.id);
        if before != after {
            st.notify_all(self.device_id);
        } else if let Some(c) = st.live.iter().find(|c| c.id == id) {
            st.notify(self.device_id, c);
        }
        Ok(())
    }

    /// Removes a client whose stream ended; if it was the primary, the next one is
    /// promoted and everybody is told.
    pub(super) fn remove(&self, id: u64) {
        let mut st = self.lock();
        let was_primary = st.primary().map(|p| p.id) == Some(id);
        st.live.retain(|c| c.id != id);
        if was_primary {
            st.notify_all(self.device_id);
        }
    }
}
