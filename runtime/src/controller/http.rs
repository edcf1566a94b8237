//! The controller's HTTP endpoints (the server of [`crate::metrics`]):
//! `/metrics` serves the clone statistics as `stats --listen` does (read
//! afresh from the devices on every scrape) followed by the controller's own
//! metrics; `/healthz` the [`StatusBoard::health`](super::StatusBoard::health).

use std::sync::Arc;

use tokio::sync::Mutex;

use super::Controller;
use crate::fleet::{DeviceTarget, StatsCollector};
use crate::metrics::{self, MetricsServer};
use crate::stats;

/// The stats collector of the devices it was made for (rebuilt when the
/// config's devices change).
type CollectorSlot = Arc<Mutex<Option<(Vec<DeviceTarget>, StatsCollector)>>>;

/// Binds `addr` and serves the controller's `/metrics` and `/healthz`.
pub async fn serve(addr: &str, controller: &Controller) -> std::io::Result<MetricsServer> {
    let board = controller.board();
    let health_board = Arc::clone(&board);
    let config = controller.config_watch();
    let opts = controller.options().fleet.clone();
    let collector: CollectorSlot = Arc::new(Mutex::new(None));
    let render = move || {
        let (board, config, opts, collector) =
            (Arc::clone(&board), config.clone(), opts.clone(), Arc::clone(&collector));
        async move {
            let cfg = config.borrow().clone();
            let targets = DeviceTarget::from_config(&cfg);
            let mut slot = collector.lock().await;
            let stale = slot.as_ref().is_none_or(|(t, _)| *t != targets);
            if stale {
                *slot = Some((targets.clone(), StatsCollector::new(targets, opts)));
            }
            let clone_stats = match slot.as_mut() {
                Some((_, c)) => stats::render_prometheus(&c.collect(&cfg, None).await),
                None => String::new(),
            };
            Ok::<_, String>(format!("{clone_stats}{}", board.render_prometheus()))
        }
    };
    metrics::serve_with_health(addr, render, move || health_board.health()).await
}
