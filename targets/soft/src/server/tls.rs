//! TLS and mutual TLS for the P4Runtime server: [`ServerTls`] reads and checks
//! the PEM files (`--tls-cert`, `--tls-key`, `--tls-client-ca`) so that a bad
//! file is reported by name before anything is served.

use std::path::{Path, PathBuf};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tonic::transport::{Certificate, Identity, ServerTlsConfig};

/// The server's TLS material, PEM encoded and checked. With a client CA, every
/// client must present a certificate it signed (mutual TLS). `Debug` never
/// shows the private key.
#[derive(Clone)]
pub struct ServerTls {
    cert: Vec<u8>,
    key: Vec<u8>,
    client_ca: Option<Vec<u8>>,
    /// Where the material came from, for error messages.
    origin: String,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field("cert", &format!("{} bytes", self.cert.len()))
            .field("key", &"(redacted)")
            .field("client_ca", &self.client_ca.as_ref().map(|c| format!("{} bytes", c.len())))
            .finish()
    }
}

/// Why TLS material was refused. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file could not be read.
    #[error("cannot read {what} {}: {source}", path.display())]
    Read {
        /// `TLS certificate`, `TLS private key` or `TLS client CA`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not the PEM it should be.
    #[error("{what} {}: {message}", path.display())]
    Invalid {
        /// `TLS certificate`, `TLS private key` or `TLS client CA`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The files are each valid PEM but do not make a TLS configuration
    /// (e.g. the key does not belong to the certificate).
    #[error("TLS configuration from {origin}: {message}")]
    Config {
        /// The files involved.
        origin: String,
        /// What rustls said.
        message: String,
    },
}

const CERT: &str = "TLS certificate";
const KEY: &str = "TLS private key";
const CLIENT_CA: &str = "TLS client CA";

impl ServerTls {
    /// Reads and checks the server certificate chain, its private key and,
    /// for mutual TLS, the CA that client certificates must be signed by.
    pub fn from_files(cert: &Path, key: &Path, client_ca: Option<&Path>) -> Result<ServerTls, TlsError> {
        let read = |what: &'static str, path: &Path| {
            std::fs::read(path).map_err(|source| TlsError::Read { what, path: path.to_path_buf(), source })
        };
        let cert_pem = read(CERT, cert)?;
        let key_pem = read(KEY, key)?;
        let ca_pem = client_ca.map(|p| read(CLIENT_CA, p)).transpose()?;
        let mut origin = format!("{} and {}", cert.display(), key.display());
        if let Some(p) = client_ca {
            origin = format!("{}, {} and {}", cert.display(), key.display(), p.display());
        }
        let tls = ServerTls::from_pem(cert_pem, key_pem, ca_pem).map_err(|e| match e {
            PemError::Cert(message) => TlsError::Invalid { what: CERT, path: cert.to_path_buf(), message },
            PemError::Key(message) => TlsError::Invalid { what: KEY, path: key.to_path_buf(), message },
            PemError::ClientCa(message) => {
                TlsError::Invalid { what: CLIENT_CA, path: client_ca.unwrap_or(cert).to_path_buf(), message }
            }
        })?;
        let tls = ServerTls { origin, ..tls };
        // Let rustls build the configuration once now: a key that does not
        // match the certificate is reported here, not at the first client.
        tonic::transport::Server::builder()
            .tls_config(tls.config())
            .map_err(|e| TlsError::Config { origin: tls.origin.clone(), message: error_chain(&e) })?;
        Ok(tls)
    }

    /// TLS material given as PEM bytes (tests, embedding). The PEM blocks are
    /// checked; whether the key matches the certificate is checked when served.
    pub fn from_pem(
        cert: impl Into<Vec<u8>>,
        key: impl Into<Vec<u8>>,
        client_ca: Option<Vec<u8>>,
    ) -> Result<ServerTls, PemError> {
        let (cert, key) = (cert.into(), key.into());
        certificates(&cert).map_err(PemError::Cert)?;
        PrivateKeyDer::from_pem_slice(&key).map_err(|e| PemError::Key(pem_message(&e, "private key")))?;
        if let Some(ca) = &client_ca {
            certificates(ca).map_err(PemError::ClientCa)?;
        }
        Ok(ServerTls { cert, key, client_ca, origin: "PEM given in process".into() })
    }

    /// Whether clients must present a certificate (mutual TLS).
    pub fn is_mutual(&self) -> bool {
        self.client_ca.is_some()
    }

    /// tonic's server TLS configuration.
    pub(crate) fn config(&self) -> ServerTlsConfig {
        let mut cfg = ServerTlsConfig::new().identity(Identity::from_pem(&self.cert, &self.key));
        if let Some(ca) = &self.client_ca {
            cfg = cfg.client_ca_root(Certificate::from_pem(ca)).client_auth_optional(false);
        }
        cfg
    }

    /// The files (or "PEM given in process") this material came from.
    pub(crate) fn origin(&self) -> &str {
        &self.origin
    }
}

/// Which PEM input of [`ServerTls::from_pem`] is bad, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PemError {
    /// The certificate chain.
    #[error("TLS certificate: {0}")]
    Cert(String),
    /// The private key.
    #[error("TLS private key: {0}")]
    Key(String),
    /// The client CA.
    #[error("TLS client CA: {0}")]
    ClientCa(String),
}

/// At least one `CERTIFICATE` block, every one well formed.
fn certificates(pem: &[u8]) -> Result<usize, String> {
    let mut n = 0;
    for c in CertificateDer::pem_slice_iter(pem) {
        c.map_err(|e| pem_message(&e, "certificate"))?;
        n += 1;
    }
    if n == 0 {
        return Err("no PEM certificate (-----BEGIN CERTIFICATE-----) in the file".into());
    }
    Ok(n)
}

fn pem_message(e: &rustls_pki_types::pem::Error, what: &str) -> String {
    match e {
        rustls_pki_types::pem::Error::NoItemsFound => format!("no PEM {what} in the file"),
        e => format!("not a valid PEM {what}: {e}"),
    }
}

/// An error and its sources, joined with ": ".
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let t = s.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        cur = s.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_refused_naming_the_input() {
        assert!(matches!(ServerTls::from_pem("nope", "nope", None), Err(PemError::Cert(_))));
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("cert.pem");
        std::fs::write(&cert, "not a certificate").unwrap();
        let e = ServerTls::from_files(&cert, &dir.path().join("missing.pem"), None).unwrap_err();
        assert!(e.to_string().contains("missing.pem"), "{e}");
        let key = dir.path().join("key.pem");
        std::fs::write(&key, "").unwrap();
        let e = ServerTls::from_files(&cert, &key, None).unwrap_err();
        assert!(e.to_string().contains("cert.pem") && e.to_string().contains("TLS certificate"), "{e}");
    }
}
