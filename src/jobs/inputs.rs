//! Pcap inputs of a job: `N=FILE` values (`--pcap`), one classic pcap file per
//! device port, opened as the engine's pcap ports.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use p4clone_soft::ports::pcap::{output_path, PcapPort};
use p4clone_soft::ports::Port;

use crate::jobs::embedded::parse_port_number;
use crate::jobs::error::JobError;

/// One `--pcap N=FILE`: the frames arriving on device port N.
#[derive(Debug, Clone)]
pub struct PcapInput {
    /// Device port.
    pub port: u16,
    /// The file.
    pub path: PathBuf,
    /// The flag's value as given (named in messages).
    pub text: String,
}

impl PcapInput {
    /// The input `port=path`, as if given by `--pcap`.
    pub fn new(port: u16, path: PathBuf) -> PcapInput {
        PcapInput { port, text: format!("{port}={}", path.display()), path }
    }
}

/// Parses the `--pcap` values; refuses bad syntax, out-of-range or repeated
/// ports and files that do not exist (bad input, naming the value). Sorted by port.
pub fn parse_pcap_inputs(specs: &[String]) -> Result<Vec<PcapInput>, JobError> {
    let mut out: BTreeMap<u16, PcapInput> = BTreeMap::new();
    for s in specs {
        let bad = |why: String| JobError::Input(format!("invalid --pcap {s:?}: {why}"));
        let Some((n, file)) = s.split_once('=') else {
            return Err(bad("expected N=FILE, e.g. 1=in.pcap".into()));
        };
        let port = parse_port_number(n).map_err(bad)?;
        if file.is_empty() {
            return Err(bad("missing file name".into()));
        }
        let path = PathBuf::from(file);
        if !path.is_file() {
            return Err(bad(if path.exists() {
                format!("{file} is not a regular file")
            } else {
                format!("pcap file {file} does not exist")
            }));
        }
        if let Some(prev) = out.get(&port) {
            return Err(bad(format!("port {port} is already given by --pcap {:?}", prev.text)));
        }
        out.insert(port, PcapInput { port, path, text: s.clone() });
    }
    Ok(out.into_values().collect())
}

/// `(value, file)` of each input, for [`crate::jobs::embedded::prepare_output_dir`].
pub fn named(inputs: &[PcapInput]) -> Vec<(&str, &Path)> {
    inputs.iter().map(|i| (i.text.as_str(), i.path.as_path())).collect()
}

/// Opens the inputs as pcap ports writing to `dir/port-<N>.pcap`.
pub fn open_inputs(inputs: &[PcapInput], dir: &Path) -> Result<BTreeMap<u16, Box<dyn Port>>, JobError> {
    let mut ports: BTreeMap<u16, Box<dyn Port>> = BTreeMap::new();
    for i in inputs {
        let p = PcapPort::new(Some(&i.path), Some(output_path(dir, i.port)))
            .map_err(|e| JobError::Input(format!("--pcap {:?}: {e}", i.text)))?;
        ports.insert(i.port, Box::new(p));
    }
    Ok(ports)
}
