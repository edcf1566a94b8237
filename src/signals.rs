//! The process signals the long-running commands act on (`soft`, `controller`):
//! SIGINT and SIGTERM stop; SIGHUP, where a command asks for it, reloads.

use crate::failure::Failure;

/// A signal received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGHUP (only when installed with `reload`): re-read the config.
    Reload,
    /// SIGINT / SIGTERM (Ctrl-C elsewhere): stop. The signal's name.
    Stop(&'static str),
}

/// Installed handlers for SIGINT, SIGTERM and optionally SIGHUP.
pub struct Signals {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    hup: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    /// Installs the handlers (inside the runtime); SIGHUP too when `reload`.
    pub fn install(reload: bool) -> Result<Signals, Failure> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let err = |e: std::io::Error| Failure::Runtime(format!("cannot install signal handlers: {e}"));
            Ok(Signals {
                int: signal(SignalKind::interrupt()).map_err(err)?,
                term: signal(SignalKind::terminate()).map_err(err)?,
                hup: if reload { Some(signal(SignalKind::hangup()).map_err(err)?) } else { None },
            })
        }
        #[cfg(not(unix))]
        {
            let _ = reload;
            Ok(Signals {})
        }
    }

    /// The next signal.
    pub async fn recv(&mut self) -> Signal {
        #[cfg(unix)]
        {
            let hup = async {
                match self.hup.as_mut() {
                    Some(h) => h.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = self.int.recv() => Signal::Stop("SIGINT"),
                _ = self.term.recv() => Signal::Stop("SIGTERM"),
                _ = hup => Signal::Reload,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            Signal::Stop("Ctrl-C")
        }
    }

    /// The name of the next stop signal (SIGHUP, when installed, is ignored).
    pub async fn stop(&mut self) -> &'static str {
        loop {
            if let Signal::Stop(name) = self.recv().await {
                return name;
            }
        }
    }
}
