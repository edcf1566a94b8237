//! The forwarding pipeline: what the device runs, and installing ours.
//!
//! # Cookie
//! Our pipeline's cookie is the first 8 bytes (big-endian) of
//! `sha256(P4Info bytes ‖ device config)`, where the P4Info bytes are the
//! protobuf encoding of the P4Info of the program the target runs
//! (`p4src/traffic_clone.p4info.txtpb`, or `traffic_clone_tna.p4info.txtpb` for
//! Tofino) and the device config is the target's blob (empty for the software
//! target, the BMv2 JSON for BMv2, the device's `device_config` file if the config
//! names one). [`ensure_pipeline`] reads
//! the device's cookie (`COOKIE_ONLY`) and sets the pipeline with
//! `VERIFY_AND_COMMIT` only when it is absent or differs; the cookie is the only
//! state the runtime keeps about the pipeline, and it lives on the device.

use std::path::{Path, PathBuf};

use p4clone_compiler::config::Target;
use p4clone_proto::p4::config::v1::P4Info;
use p4clone_proto::p4::v1::{forwarding_pipeline_config, ForwardingPipelineConfig};
use p4clone_proto::program::build;
use prost::Message;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::client::Client;
use crate::error::PipelineError;

/// The BMv2 program, relative to the `p4src` directory.
pub const BMV2_JSON: &str = p4clone_proto::program::build::BMV2_JSON;

/// What a device is programmed with.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineArtifacts {
    /// The P4Info.
    pub p4info: P4Info,
    /// Target-specific blob (`p4_device_config`).
    pub device_config: Vec<u8>,
    /// [`cookie`] of the two.
    pub cookie: u64,
}

/// The cookie of a pipeline: first 8 bytes of `sha256(p4info ‖ device_config)`.
pub fn cookie(p4info_bytes: &[u8], device_config: &[u8]) -> u64 {
    let mut h = Sha256::new();
    h.update(p4info_bytes);
    h.update(device_config);
    let d = h.finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    u64::from_be_bytes(b)
}

/// The `p4src` directory: `$P4CLONE_P4SRC`, else `./p4src` if it exists, else
/// the source tree's `p4src` (where this crate was built from).
pub fn default_p4src_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("P4CLONE_P4SRC") {
        return PathBuf::from(d);
    }
    let local = PathBuf::from("p4src");
    if local.is_dir() {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../p4src")
}

impl PipelineArtifacts {
    /// Artifacts from a P4Info and a device config.
    pub fn new(p4info: P4Info, device_config: Vec<u8>) -> PipelineArtifacts {
        let c = cookie(&p4info.encode_to_vec(), &device_config);
        PipelineArtifacts { p4info, device_config, cookie: c }
    }

    /// Our program's artifacts for `target` with no device config file given
    /// ([`PipelineArtifacts::for_device`]).
    pub fn for_target(target: Target, p4src_dir: Option<&Path>) -> Result<PipelineArtifacts, PipelineError> {
        Self::for_device(target, None, p4src_dir)
    }

    /// What a device of kind `target` is programmed with: the P4Info of the
    /// program the target runs (`Target::rules`: v1model for the software target
    /// and BMv2, the TNA program for Tofino) and, as the device config, the bytes
    /// of `device_config` if given, else: nothing for the software target,
    /// `p4src/build/traffic_clone.json` for BMv2 (under `p4src_dir`, default
    /// [`default_p4src_dir`]), nothing for Tofino (which the software target in
    /// Tofino mode accepts; Stratum needs its `bf_pipeline_builder` output, the
    /// device's `device_config`).
    pub fn for_device(
        target: Target,
        device_config: Option<&Path>,
        p4src_dir: Option<&Path>,
    ) -> Result<PipelineArtifacts, PipelineError> {
        let schema = target.rules().schema().map_err(|e| PipelineError::P4Info(e.to_string()))?;
        let p4info = schema.p4info().clone();
        if let Some(path) = device_config {
            let bytes = std::fs::read(path).map_err(|e| PipelineError::MissingArtifact {
                path: path.display().to_string(),
                hint: format!("{e}; it is the device's `device_config` in the config"),
            })?;
            return Ok(Self::new(p4info, bytes));
        }
        match target {
            Target::Soft | Target::Tofino => Ok(Self::new(p4info, Vec::new())),
            Target::Bmv2 => {
                let dir = p4src_dir.map_or_else(default_p4src_dir, Path::to_path_buf);
                let path = dir.join(BMV2_JSON);
                let json = std::fs::read(&path).map_err(|e| PipelineError::MissingArtifact {
                    path: path.display().to_string(),
                    hint: format!(
                        "{e}; it is produced by p4c from p4src/{}: run `{}` (or `{}` in p4src/), see p4src/README.md",
                        build::SOURCE,
                        build::REBUILD_SCRIPT,
                        build::P4C_COMMAND
                    ),
                })?;
                Ok(Self::new(p4info, json))
            }
        }
    }

    /// As a `ForwardingPipelineConfig` with the cookie set.
    pub fn to_config(&self) -> ForwardingPipelineConfig {
        ForwardingPipelineConfig {
            p4info: Some(self.p4info.clone()),
            p4_device_config: self.device_config.clone().into(),
            cookie: Some(forwarding_pipeline_config::Cookie { cookie: self.cookie }),
        }
    }
}

/// The cookie of the device's pipeline; `None` if it has no pipeline or no cookie.
pub async fn device_cookie(client: &mut Client) -> Result<Option<u64>, PipelineError> {
    Ok(client.get_pipeline(false).await?.and_then(|c| c.cookie.map(|c| c.cookie)))
}

/// The device's pipeline, with its P4Info (`P4INFO_AND_COOKIE`).
pub async fn device_pipeline(client: &mut Client) -> Result<Option<ForwardingPipelineConfig>, PipelineError> {
    Ok(client.get_pipeline(true).await?)
}

/// What [`ensure_pipeline`] found or did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum PipelineStatus {
    /// The device already runs our pipeline.
    Unchanged {
        /// Its cookie.
        cookie: u64,
    },
    /// The pipeline was (or, in a plan, would be) set.
    Installed {
        /// The device's previous cookie, if it had one.
        previous: Option<u64>,
        /// The new cookie.
        cookie: u64,
    },
}

impl PipelineStatus {
    /// Whether the pipeline was (or would be) set.
    pub fn installed(&self) -> bool {
        matches!(self, PipelineStatus::Installed { .. })
    }
}

impl std::fmt::Display for PipelineStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PipelineStatus::Unchanged { cookie } => write!(f, "pipeline up to date (cookie {cookie:#018x})"),
            PipelineStatus::Installed { previous: None, cookie } => {
                write!(f, "pipeline installed (cookie {cookie:#018x}; device had none)")
            }
            PipelineStatus::Installed { previous: Some(p), cookie } => {
                write!(f, "pipeline replaced (cookie {p:#018x} → {cookie:#018x})")
            }
        }
    }
}

/// What the device needs, without changing anything.
pub async fn check_pipeline(
    client: &mut Client,
    artifacts: &PipelineArtifacts,
) -> Result<PipelineStatus, PipelineError> {
    let current = device_cookie(client).await?;
    Ok(if current == Some(artifacts.cookie) {
        PipelineStatus::Unchanged { cookie: artifacts.cookie }
    } else {
        PipelineStatus::Installed { previous: current, cookie: artifacts.cookie }
    })
}

/// Sets our pipeline (`VERIFY_AND_COMMIT`) unless the device already runs it.
pub async fn ensure_pipeline(
    client: &mut Client,
    artifacts: &PipelineArtifacts,
) -> Result<PipelineStatus, PipelineError> {
    let status = check_pipeline(client, artifacts).await?;
    if status.installed() {
        client.set_pipeline(artifacts.to_config()).await?;
    }
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_depends_on_both_parts() {
        assert_ne!(cookie(b"a", b""), cookie(b"a", b"x"));
        assert_eq!(cookie(b"a", b"b"), cookie(b"a", b"b"));
    }

    #[test]
    fn missing_bmv2_json_names_file_and_command() {
        let dir = std::env::temp_dir().join("p4clone-no-such-p4src");
        let e = PipelineArtifacts::for_target(Target::Bmv2, Some(&dir)).unwrap_err();
        let m = e.to_string();
        assert!(m.contains("build/traffic_clone.json"), "{m}");
        assert!(m.contains("p4c"), "{m}");
        assert!(PipelineArtifacts::for_target(Target::Soft, None).is_ok());
    }

    #[test]
    fn tofino_runs_the_tna_program_with_the_given_device_config() {
        let bare = PipelineArtifacts::for_target(Target::Tofino, None).unwrap();
        assert_eq!(bare.p4info.pkg_info.as_ref().unwrap().arch, "tna");
        assert!(bare.device_config.is_empty());
        let soft = PipelineArtifacts::for_target(Target::Soft, None).unwrap();
        assert_ne!(bare.cookie, soft.cookie, "the two programs have different cookies");

        let file = std::env::temp_dir().join(format!("p4clone-tofino-devcfg-{}", std::process::id()));
        std::fs::write(&file, b"bf pipeline config").unwrap();
        let with = PipelineArtifacts::for_device(Target::Tofino, Some(&file), None).unwrap();
        std::fs::remove_file(&file).unwrap();
        assert_eq!(with.device_config, b"bf pipeline config");
        assert_ne!(with.cookie, bare.cookie);

        let missing = std::env::temp_dir().join("p4clone-no-such-device-config.bin");
        let e = PipelineArtifacts::for_device(Target::Tofino, Some(&missing), None).unwrap_err().to_string();
        assert!(e.contains("p4clone-no-such-device-config.bin") && e.contains("device_config"), "{e}");
    }
}
