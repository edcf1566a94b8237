//! `p4clone controller`: a long-running process that keeps every device of a
//! config in sync.
//!
//! One task per device (`device.rs`), independent of the others (an
//! unreachable device never blocks the rest): it holds the P4Runtime
//! StreamChannel with the controller's election id, reconnecting with capped
//! exponential backoff and jitter ([`ReconnectBackoff`]); as primary it installs the
//! pipeline where the cookie differs and reconciles (read → diff → ordered
//! minimal writes, [`crate::reconcile`]) at start, on every reconnect, when
//! it becomes primary, when the config changes and every resync period (a
//! drift check: it writes only when the device differs, and logs what it
//! repaired); as backup it never writes.
//!
//! Logs are `tracing` events (one per state change) with the fields
//! `device`, `address`, `election_id`, `error`, …; the command installs the
//! subscriber.
//!
//! A supervisor task owns the config: it re-reads the file when its bytes
//! change (a filesystem watch on its directory, with a poll every
//! [`ControllerOptions::watch_interval`] as a fallback) or on
//! [`Controller::reload`] (SIGHUP); a config that does not validate is not
//! applied — the last good one stays in force and the error (object paths,
//! lines) is logged and shown on the [`StatusBoard`] (`/healthz`, metrics).
//!
//! | file | job |
//! |---|---|
//! | `mod.rs` | [`Controller`]: options, start, the supervisor (config reloads, device tasks), shutdown |
//! | `device.rs` | one device's task: connection, arbitration, reconcile, backoff |
//! | `status.rs` | [`StatusBoard`]: per-device state and counters, `/healthz`, controller metrics |
//! | `config_file.rs` | loading and validating the config file; its fingerprint |
//! | `backoff.rs` | reconnect delays |
//! | `bindings/` | live NAT bindings: the table, the gRPC service, its client ([`bindings`]) |
//! | `http.rs` | `/metrics` (clone statistics + controller metrics) and `/healthz` |

mod backoff;
pub mod bindings;
pub mod config_file;
mod device;
pub mod http;
pub mod status;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use p4clone_compiler::config::Config;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

pub use backoff::ReconnectBackoff;
pub use bindings::BindingTable;
pub use config_file::{ConfigError, LoadedConfig};
pub use status::{DeviceStatus, Role, StatusBoard};

use crate::fleet::FleetOptions;

/// How long [`Controller::shutdown`] waits for the device tasks to finish
/// the Write batches in flight and close their streams.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// How long the config file must be quiet after a filesystem event before it
/// is read (an editor may write it in several steps).
const WATCH_SETTLE: Duration = Duration::from_millis(100);

/// How the controller runs.
#[derive(Debug, Clone)]
pub struct ControllerOptions {
    /// The config file (re-read when it changes).
    pub config_path: PathBuf,
    /// Election id, TLS, timeouts, batch size (as `push`).
    pub fleet: FleetOptions,
    /// Period of the drift check (default 30 s).
    pub resync: Duration,
    /// How often the config file is polled for changes besides the
    /// filesystem watch (default 1 s).
    pub watch_interval: Duration,
    /// First reconnect delay (default 200 ms).
    pub reconnect_initial: Duration,
    /// Largest reconnect delay (default 10 s).
    pub reconnect_max: Duration,
    /// Live bindings per device and family at most (default and upper bound:
    /// the NAT table's size in the program's P4Info), config bindings included.
    pub max_bindings: Option<usize>,
    /// Live bindings no add refreshed for this long are removed (default: never).
    pub binding_idle_timeout: Option<Duration>,
    /// How long a changed binding may wait to be batched with others before a
    /// device task writes it (default 2 ms; a full batch is written at once).
    pub binding_flush: Duration,
}

impl ControllerOptions {
    /// Defaults for `config_path`.
    pub fn new(config_path: impl Into<PathBuf>) -> ControllerOptions {
        ControllerOptions {
            config_path: config_path.into(),
            fleet: FleetOptions::default(),
            resync: Duration::from_secs(30),
            watch_interval: Duration::from_secs(1),
            reconnect_initial: Duration::from_millis(200),
            reconnect_max: Duration::from_secs(10),
            max_bindings: None,
            binding_idle_timeout: None,
            binding_flush: Duration::from_millis(2),
        }
    }
}

/// A controller: made with [`Controller::new`] (nothing runs yet, so its
/// endpoints can be bound first), run by [`Controller::start`] (its tasks run
/// on the current tokio runtime).
pub struct Controller {
    opts: Arc<ControllerOptions>,
    board: Arc<StatusBoard>,
    bindings: Arc<BindingTable>,
    config: watch::Receiver<Arc<Config>>,
    reload: Arc<Notify>,
    shutdown: watch::Sender<bool>,
    /// Before [`Controller::start`]: the supervisor to run; after: its task.
    supervisor: SupervisorState,
}

enum SupervisorState {
    Ready(Box<Supervisor>),
    Running(JoinHandle<()>),
    Stopped,
}

impl std::fmt::Debug for Controller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Controller")
            .field("config_path", &self.opts.config_path)
            .field("running", &matches!(self.supervisor, SupervisorState::Running(_)))
            .finish()
    }
}

impl Controller {
    /// A controller for `initial` (already loaded and validated, see
    /// [`config_file::load`]); nothing is connected until [`Controller::start`].
    pub fn new(opts: ControllerOptions, initial: LoadedConfig) -> Controller {
        let opts = Arc::new(opts);
        let board = Arc::new(StatusBoard::default());
        for d in &initial.config.devices {
            board.register(&d.name, &d.address);
        }
        let bindings = Arc::new(BindingTable::new(&initial.config, opts.max_bindings, opts.fleet.batch_size));
        let (config_tx, config) = watch::channel(Arc::new(initial.config));
        let (shutdown, shutdown_rx) = watch::channel(false);
        let reload = Arc::new(Notify::new());
        let sup = Supervisor {
            opts: Arc::clone(&opts),
            board: Arc::clone(&board),
            bindings: Arc::clone(&bindings),
            config: config_tx,
            fingerprint: initial.fingerprint,
            stamp: None,
            reload: Arc::clone(&reload),
            shutdown: shutdown_rx,
            devices: HashMap::new(),
        };
        Controller {
            opts,
            board,
            bindings,
            config,
            reload,
            shutdown,
            supervisor: SupervisorState::Ready(Box::new(sup)),
        }
    }

    /// Starts the supervisor and one task per device (once; later calls do
    /// nothing). Must be called from within a tokio runtime.
    pub fn start(&mut self) {
        if let SupervisorState::Ready(sup) = std::mem::replace(&mut self.supervisor, SupervisorState::Stopped) {
            self.supervisor = SupervisorState::Running(tokio::spawn(sup.run()));
        }
    }

    /// The options it runs with.
    pub fn options(&self) -> &ControllerOptions {
        &self.opts
    }

    /// The shared device and config status.
    pub fn board(&self) -> Arc<StatusBoard> {
        Arc::clone(&self.board)
    }

    /// The live NAT bindings (serve them with [`bindings::serve`]).
    pub fn bindings(&self) -> Arc<BindingTable> {
        Arc::clone(&self.bindings)
    }

    /// A receiver of the config in force.
    pub fn config_watch(&self) -> watch::Receiver<Arc<Config>> {
        self.config.clone()
    }

    /// Re-reads the config file now (SIGHUP).
    pub fn reload(&self) {
        self.reload.notify_one();
    }

    /// Stops: a reconcile in flight stops at a Write-batch boundary (the
    /// Write RPCs in flight finish, no further batch is sent), accepted live
    /// bindings not yet written are written, and every device task closes its
    /// stream and ends (all for at most 30 s); then this returns.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        if let SupervisorState::Running(mut sup) = self.supervisor {
            if tokio::time::timeout(SHUTDOWN_GRACE, &mut sup).await.is_err() {
                sup.abort();
            }
        }
    }
}

/// Sleeps until `at`, or forever when `None`.
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// Owns the config and the device tasks.
struct Supervisor {
    opts: Arc<ControllerOptions>,
    board: Arc<StatusBoard>,
    bindings: Arc<BindingTable>,
    config: watch::Sender<Arc<Config>>,
    fingerprint: Option<u64>,
    /// Size and modification time at the last poll.
    stamp: Option<(Option<std::time::SystemTime>, u64)>,
    reload: Arc<Notify>,
    shutdown: watch::Receiver<bool>,
    devices: HashMap<String, JoinHandle<()>>,
}

impl Supervisor {
    async fn run(mut self) {
        let mut poll = tokio::time::interval(self.opts.watch_interval);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let (fs_tx, mut fs_events) = tokio::sync::mpsc::unbounded_channel();
        let watcher = config_file::watch(&self.opts.config_path, fs_tx);
        if watcher.is_none() {
            tracing::warn!(
                config = %self.opts.config_path.display(),
                every_ms = self.opts.watch_interval.as_millis() as u64,
                "cannot watch the config file's directory; polling the file"
            );
        }
        // A burst of events (an editor writing) is checked once it settles.
        let mut settle_at: Option<tokio::time::Instant> = None;
        let idle = self.opts.binding_idle_timeout;
        let mut expire =
            tokio::time::interval(idle.map_or(Duration::from_secs(3600), |d| {
                (d / 4).clamp(Duration::from_millis(10), Duration::from_secs(1))
            }));
        expire.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            self.spawn_devices();
            tokio::select! {
                _ = self.shutdown.changed() => break,
                _ = self.reload.notified() => self.reload_config("SIGHUP"),
                Some(()) = fs_events.recv() => settle_at = Some(tokio::time::Instant::now() + WATCH_SETTLE),
                () = sleep_until(settle_at) => {
                    settle_at = None;
                    self.check_file();
                }
                _ = poll.tick() => self.poll_file(),
                _ = expire.tick() => if let Some(idle) = idle {
                    let n = self.bindings.expire(idle);
                    if n > 0 {
                        tracing::info!(removed = n, idle_s = idle.as_secs_f64(), "idle live bindings removed");
                    }
                },
            }
        }
        drop(watcher);
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        for (_, mut h) in self.devices.drain() {
            if tokio::time::timeout_at(deadline, &mut h).await.is_err() {
                h.abort();
            }
        }
        tracing::info!("controller stopped");
    }

    /// The poll: reads the file only when its size or modification time
    /// changed (a large config is not hashed every second).
    fn poll_file(&mut self) {
        let stamp = std::fs::metadata(&self.opts.config_path).ok().map(|m| (m.modified().ok(), m.len()));
        if stamp.is_some() && stamp != self.stamp {
            self.stamp = stamp;
            self.check_file();
        }
    }

    /// Reloads when the file's bytes differ from the config in force (or
    /// from the last refused version).
    fn check_file(&mut self) {
        let fp = config_file::fingerprint(&self.opts.config_path);
        // A missing file (an editor replacing it) is not a change.
        if fp.is_some() && fp != self.fingerprint {
            self.reload_config("file changed");
        }
    }

    /// A task for every device of the config in force that has none running.
    fn spawn_devices(&mut self) {
        self.devices.retain(|_, h| !h.is_finished());
        let cfg = self.config.borrow().clone();
        for d in &cfg.devices {
            if self.devices.contains_key(&d.name) {
                continue;
            }
            self.board.register(&d.name, &d.address);
            let cx = device::DeviceContext {
                name: d.name.clone(),
                opts: Arc::clone(&self.opts),
                board: Arc::clone(&self.board),
                bindings: Arc::clone(&self.bindings),
                config: self.config.subscribe(),
                shutdown: self.shutdown.clone(),
            };
            self.devices.insert(d.name.clone(), tokio::spawn(device::run(cx)));
        }
    }

    fn reload_config(&mut self, why: &str) {
        let path = &self.opts.config_path;
        match config_file::load(path) {
            Ok(loaded) => {
                self.fingerprint = loaded.fingerprint;
                for w in &loaded.warnings {
                    tracing::warn!(config = %path.display(), "{w}");
                }
                tracing::info!(
                    config = %path.display(),
                    trigger = why,
                    devices = loaded.config.devices.len(),
                    "config reloaded; reconciling"
                );
                self.board.set_config_result(None);
                for d in self.bindings.set_config(&loaded.config) {
                    tracing::warn!(config = %path.display(), "live binding {d}");
                }
                self.config.send_replace(Arc::new(loaded.config));
            }
            Err(e) => {
                self.fingerprint = config_file::fingerprint(path);
                tracing::error!(
                    config = %path.display(),
                    trigger = why,
                    errors = e.errors.len(),
                    "config refused; the last good config stays in force, nothing written"
                );
                for line in &e.errors {
                    tracing::error!(config = %path.display(), "{line}");
                }
                self.board.set_config_result(Some(e.to_string()));
            }
        }
    }
}
