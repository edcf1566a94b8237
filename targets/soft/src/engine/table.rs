//! [`PortTable`]: the port backends of one worker by port number.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use crate::ports::error::Result;
use crate::ports::pcap::{output_path, PcapPort};
use crate::ports::port::{BackendStats, Port};

/// The port backends by port number, plus the output directory for ports that
/// have none.
pub struct PortTable {
    ports: BTreeMap<u16, Box<dyn Port>>,
    out_dir: Option<PathBuf>,
}

impl fmt::Debug for PortTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m: BTreeMap<u16, String> = self.ports.iter().map(|(k, p)| (*k, p.describe())).collect();
        f.debug_struct("PortTable").field("ports", &m).field("out_dir", &self.out_dir).finish()
    }
}

impl PortTable {
    /// A table of `ports`; frames to other ports are dropped unless an output
    /// directory is set.
    pub fn new(ports: BTreeMap<u16, Box<dyn Port>>) -> Self {
        PortTable { ports, out_dir: None }
    }

    /// Frames to a port without a backend go to `dir/port-<N>.pcap`.
    pub fn set_output_dir(&mut self, dir: Option<PathBuf>) {
        self.out_dir = dir;
    }

    /// The backends.
    pub fn ports(&self) -> &BTreeMap<u16, Box<dyn Port>> {
        &self.ports
    }

    /// The backends, mutably.
    pub fn ports_mut(&mut self) -> &mut BTreeMap<u16, Box<dyn Port>> {
        &mut self.ports
    }

    /// The description and counters of `port`'s backend, if it has one (a
    /// [`RunReport`](super::RunReport) line).
    pub(crate) fn backend(&mut self, port: u16) -> Option<(String, BackendStats)> {
        self.ports.get_mut(&port).map(|b| (b.describe(), b.backend_stats()))
    }

    /// The backend of `port`, creating a pcap output for it if an output directory
    /// is set. `None`: no backend (frames are dropped).
    pub fn get_or_create(&mut self, port: u16) -> Option<&mut Box<dyn Port>> {
        if !self.ports.contains_key(&port) {
            let dir = self.out_dir.as_ref()?;
            self.ports.insert(port, Box::new(PcapPort::output_only(output_path(dir, port))));
        }
        self.ports.get_mut(&port)
    }

    /// Flushes every port; returns the first error.
    pub fn flush_all(&mut self) -> Result<()> {
        let mut first = Ok(());
        for p in self.ports.values_mut() {
            let r = p.flush();
            if first.is_ok() {
                first = r;
            }
        }
        first
    }

    /// Closes every port; returns the first error.
    pub fn close_all(&mut self) -> Result<()> {
        let mut first = Ok(());
        for p in self.ports.values_mut() {
            let r = p.close();
            if first.is_ok() {
                first = r;
            }
        }
        first
    }
}
