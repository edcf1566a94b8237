//! The controller's HTTP endpoints (the server of [`crate::metrics`]):
//! `/metrics` serves the clone statistics as `stats --listen` does (read
//! afresh on every scrape from the devices the controller is connected to;
//! the others are reported as errors) followed by the controller's own
//! metrics and its live bindings' metrics; `/healthz` the [`StatusBoard::health`](super::StatusBoard::health).

use std::sync::Arc;

use tokio::sync::Mutex;

use super::{Controller, Role};
use crate::fleet::{DeviceTarget, StatsCollector};
use crate::metrics::{self, MetricsServer};
use crate::stats;

/// The stats collector of the devices it was made for (rebuilt when the
/// config's devices change).
type CollectorSlot = Arc<Mutex<Option<(Vec<DeviceTarget>, StatsCollector)>>>;

/// Binds `addr` and serves the controller's `/metrics` and `/healthz`.
pub async fn serve(addr: &str, controller: &Controller) -> std::io::Result<MetricsServer> {
    let board = controller.board();
    let bindings = controller.bindings();
    let health_board = Arc::clone(&board);
    let config = controller.config_watch();
    let opts = controller.options().fleet.clone();
    let collector: CollectorSlot = Arc::new(Mutex::new(None));
    let render = move || {
        let (board, bindings, config, opts, collector) =
            (Arc::clone(&board), Arc::clone(&bindings), config.clone(), opts.clone(), Arc::clone(&collector));
        async move {
            let cfg = config.borrow().clone();
            // Only the devices the controller is connected to are read: an
            // unreachable one would hold every scrape for a connect timeout.
            let status = board.devices();
            let (targets, down): (Vec<DeviceTarget>, Vec<DeviceTarget>) = DeviceTarget::from_config(&cfg)
                .into_iter()
                .partition(|t| status.get(&t.name).is_some_and(|d| d.role != Role::Disconnected));
            let mut slot = collector.lock().await;
            let stale = slot.as_ref().is_none_or(|(t, _)| *t != targets);
            if stale {
                *slot = Some((targets.clone(), StatsCollector::new(targets, opts)));
            }
            let mut reads = match slot.as_mut() {
                Some((_, c)) => c.read().await,
                None => Default::default(),
            };
            for t in down {
                reads.insert(t.name, Err(format!("not connected ({})", t.address)));
            }
            let clone_stats = stats::render_prometheus(&stats::build_report(&cfg, &reads, None));
            Ok::<_, String>(format!("{clone_stats}{}{}", board.render_prometheus(), bindings.render_prometheus()))
        }
    };
    metrics::serve_with_health(addr, render, move || health_board.health()).await
}
