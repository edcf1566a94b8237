//! `p4clone soft`'s P4Runtime service flags: TLS / mutual TLS
//! (`--tls-cert`, `--tls-key`, `--tls-client-ca`) and the resource limits
//! (`--max-message-bytes`, `--max-batch-updates`, `--max-connections`,
//! `--max-concurrent-streams`, `--idle-timeout`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use p4clone_soft::server::{Limits, ServeOptions, ServerTls};

use crate::failure::Failure;

/// How the software target serves P4Runtime: TLS and limits.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "P4Runtime service (TLS and limits)")]
pub struct ServeArgs {
    /// Serve P4Runtime over TLS with this certificate chain (PEM; with --tls-key).
    /// Plaintext clients are then refused
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Mutual TLS: refuse clients without a certificate signed by this CA (PEM; with --tls-cert)
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
    /// Largest request message; larger → RESOURCE_EXHAUSTED
    #[arg(long, value_name = "BYTES", default_value_t = Limits::DEFAULT_MAX_MESSAGE_BYTES as u64,
          value_parser = clap::value_parser!(u64).range(1024..=(u32::MAX as u64)))]
    pub max_message_bytes: u64,
    /// Most updates in one Write; more → RESOURCE_EXHAUSTED, nothing applied
    #[arg(long, value_name = "N", default_value_t = Limits::DEFAULT_MAX_BATCH_UPDATES as u64,
          value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub max_batch_updates: u64,
    /// Most open client connections; more are closed at once
    #[arg(long, value_name = "N", default_value_t = Limits::DEFAULT_MAX_CONNECTIONS as u64,
          value_parser = clap::value_parser!(u64).range(1..=65_536))]
    pub max_connections: u64,
    /// Most concurrent RPCs (HTTP/2 streams) per connection
    #[arg(long, value_name = "N", default_value_t = Limits::DEFAULT_MAX_CONCURRENT_STREAMS,
          value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub max_concurrent_streams: u32,
    /// Close a connection that sends nothing for this long (the server pings
    /// every connection at a third of it, so live clients stay)
    #[arg(long, value_name = "SECONDS", default_value_t = Limits::DEFAULT_IDLE_TIMEOUT.as_secs_f64(),
          value_parser = idle_seconds)]
    pub idle_timeout: f64,
}

impl ServeArgs {
    /// The server options; an unreadable or invalid TLS file: exit 2, naming it.
    pub fn options(&self) -> Result<ServeOptions, Failure> {
        let tls = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(
                ServerTls::from_files(cert, key, self.tls_client_ca.as_deref())
                    .map_err(|e| Failure::Input(e.to_string()))?,
            ),
            _ => None,
        };
        let limits = Limits {
            max_message_bytes: self.max_message_bytes as usize,
            max_batch_updates: self.max_batch_updates as usize,
            max_connections: self.max_connections as usize,
            max_concurrent_streams: self.max_concurrent_streams,
            idle_timeout: Duration::from_secs_f64(self.idle_timeout),
        };
        Ok(ServeOptions { tls, limits })
    }

    /// The warning to print when serving plaintext on an address other hosts
    /// can reach (`None`: TLS, or loopback).
    pub fn plaintext_warning(&self, listen: SocketAddr) -> Option<String> {
        if self.tls_cert.is_some() || listen.ip().is_loopback() {
            return None;
        }
        Some(format!(
            "warning: serving P4Runtime in plaintext on {listen}: anyone who can reach it can reprogram \
             this target; use --tls-cert/--tls-key (and --tls-client-ca), or listen on 127.0.0.1"
        ))
    }
}

/// Seconds in [0.1, 86400].
fn idle_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.1..=86_400.0).contains(&v) => Ok(v),
        _ => Err(format!("{s:?} is not a number of seconds in [0.1, 86400]")),
    }
}
