//! Reading the packet test vectors (`tests/vectors/README.md`): a case is a
//! directory holding `config.yaml`, `in-<N>.pcap` (frames arriving on port N)
//! and `expected-<N>.pcap` (what port N must send; a port without one sends
//! nothing). Shared by `diff --vectors` and the vector tests.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use p4clone_soft::ports::pcap::output_path;

use crate::jobs::embedded::parse_port_number;
use crate::jobs::inputs::PcapInput;

/// Why the cases of a directory cannot be listed.
#[derive(Debug, thiserror::Error)]
pub enum VectorError {
    /// The directory cannot be read.
    #[error("{}: {source}", dir.display())]
    Unreadable {
        /// The directory.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Neither the directory nor any subdirectory is a case.
    #[error("{}: no test vector (a directory with config.yaml) found", dir.display())]
    NoCases {
        /// The directory.
        dir: PathBuf,
    },
}

/// One test vector case directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VectorCase {
    /// The directory.
    pub dir: PathBuf,
}

impl VectorCase {
    /// The case's name: its directory's name.
    pub fn name(&self) -> String {
        self.dir.file_name().map_or_else(|| self.dir.display().to_string(), |n| n.to_string_lossy().into_owned())
    }

    /// `config.yaml` of the case.
    pub fn config(&self) -> PathBuf {
        self.dir.join("config.yaml")
    }

    /// The ports with an input, `in-<N>.pcap`, ascending.
    pub fn input_ports(&self) -> BTreeSet<u16> {
        ports_named(&self.dir, "in-")
    }

    /// The input files as `--pcap N=FILE` inputs, by port.
    pub fn inputs(&self) -> Vec<PcapInput> {
        self.input_ports().into_iter().map(|p| PcapInput::new(p, self.input(p))).collect()
    }

    /// The input file of `port` (whether or not it exists).
    pub fn input(&self, port: u16) -> PathBuf {
        self.dir.join(format!("in-{port}.pcap"))
    }

    /// The ports with expected output, `expected-<N>.pcap`, ascending.
    pub fn expected_ports(&self) -> BTreeSet<u16> {
        ports_named(&self.dir, "expected-")
    }

    /// The expected output file of `port` (whether or not it exists).
    pub fn expected(&self, port: u16) -> PathBuf {
        self.dir.join(format!("expected-{port}.pcap"))
    }
}

/// The cases under `dir`: `dir` itself if it holds `config.yaml`, else its
/// subdirectories that do, sorted by path.
pub fn vector_cases(dir: &Path) -> Result<Vec<VectorCase>, VectorError> {
    if dir.join("config.yaml").is_file() {
        return Ok(vec![VectorCase { dir: dir.to_path_buf() }]);
    }
    let rd = std::fs::read_dir(dir).map_err(|source| VectorError::Unreadable { dir: dir.to_path_buf(), source })?;
    let mut v: Vec<PathBuf> =
        rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.join("config.yaml").is_file()).collect();
    v.sort();
    if v.is_empty() {
        return Err(VectorError::NoCases { dir: dir.to_path_buf() });
    }
    Ok(v.into_iter().map(|dir| VectorCase { dir }).collect())
}

/// The ports N of the files `<prefix>N.pcap` in `dir` (N a valid port number);
/// none if `dir` cannot be read.
pub fn ports_named(dir: &Path, prefix: &str) -> BTreeSet<u16> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            parse_port_number(name.strip_prefix(prefix)?.strip_suffix(".pcap")?).ok()
        })
        .collect()
}

/// The ports that sent frames in an output directory (`port-<N>.pcap`).
pub fn output_ports(dir: &Path) -> BTreeSet<u16> {
    ports_named(dir, "port-")
}

/// The output file of `port` in an output directory (`dir/port-<N>.pcap`).
pub fn output_file(dir: &Path, port: u16) -> PathBuf {
    output_path(dir, port)
}
