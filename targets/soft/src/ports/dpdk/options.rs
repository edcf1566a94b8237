//! [`DpdkOptions`]: device and packet-loop settings, and [`CloneCopy`].

use std::fmt;

use p4clone_pipeline::BURST;

/// Largest RX burst a handle asks the driver for.
pub(crate) const MAX_RX_BURST: usize = 1024;

/// When a clone is copied rather than chained zero-copy (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloneCopy {
    /// Copy when the tail (the part of the input frame a clone reuses) is shorter
    /// than this many bytes, chain zero-copy otherwise.
    Auto {
        /// Tail length from which clones are zero-copy.
        zero_copy_from: usize,
    },
    /// Always copy.
    Always,
    /// Always zero-copy where possible (input frame in an mbuf; device takes
    /// multi-segment frames unless [`DpdkOptions::force_multi_seg`]).
    Never,
}

impl fmt::Display for CloneCopy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloneCopy::Auto { zero_copy_from } => write!(f, "auto:{zero_copy_from}"),
            CloneCopy::Always => f.write_str("copy"),
            CloneCopy::Never => f.write_str("zero-copy"),
        }
    }
}

impl std::str::FromStr for CloneCopy {
    type Err = String;

    /// `copy`, `zero-copy`, `auto` (copy below [`ZERO_COPY_FROM`] bytes of tail) or
    /// `auto:BYTES`.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "copy" => Ok(CloneCopy::Always),
            "zero-copy" => Ok(CloneCopy::Never),
            "auto" => Ok(CloneCopy::Auto { zero_copy_from: ZERO_COPY_FROM }),
            _ => match s.strip_prefix("auto:").map(str::parse::<usize>) {
                Some(Ok(n)) => Ok(CloneCopy::Auto { zero_copy_from: n }),
                _ => Err(format!("{s:?} is not a clone mode: expected copy, zero-copy, auto or auto:BYTES")),
            },
        }
    }
}

/// Tail length from which [`CloneCopy::Auto`] chains clones zero-copy: only tails
/// longer than a 1500-byte MTU frame (jumbo frames, with an `rx` pool of larger
/// buffers) are chained, following the copy-versus-zero-copy measurements in
/// BENCHMARKS.md ("DPDK"). Where a NIC's DMA leaves the payload cold in cache the
/// break-even may be lower: re-measure with the benchmark's clone rows on that NIC.
pub const ZERO_COPY_FROM: usize = 2048;

/// Device and packet-loop settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpdkOptions {
    /// RX descriptors per queue (adjusted to the device's limits).
    pub rx_desc: u16,
    /// TX descriptors per queue.
    pub tx_desc: u16,
    /// Frames per RX burst.
    pub burst: usize,
    /// Mbufs in each device's `rx` pool (`None`: sized from queues and descriptors).
    pub rx_pool: Option<u32>,
    /// Mbufs in each device's `tx` pool (`None`: sized from queues and descriptors).
    pub tx_pool: Option<u32>,
    /// Per-lcore mempool cache.
    pub pool_cache: u32,
    /// Copy or chain clones.
    pub clone_copy: CloneCopy,
    /// Send zero-copy chains even where the device does not announce
    /// `RTE_ETH_TX_OFFLOAD_MULTI_SEGS` (e.g. `net_null`, which only frees them).
    pub force_multi_seg: bool,
    /// Extra `rte_eth_tx_burst` attempts for frames a full TX ring did not take.
    pub tx_retries: u32,
    /// Put the devices in promiscuous mode (a bump in the wire sees every MAC).
    pub promiscuous: bool,
}

impl DpdkOptions {
    /// The defaults (also [`Default`]).
    pub const DEFAULT: DpdkOptions = DpdkOptions {
        rx_desc: 1024,
        tx_desc: 1024,
        burst: BURST,
        rx_pool: None,
        tx_pool: None,
        pool_cache: 256,
        clone_copy: CloneCopy::Auto { zero_copy_from: ZERO_COPY_FROM },
        force_multi_seg: false,
        tx_retries: 0,
        promiscuous: true,
    };
}

impl Default for DpdkOptions {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clone_modes_parse_and_print() {
        for (text, mode) in [
            ("copy", CloneCopy::Always),
            ("zero-copy", CloneCopy::Never),
            ("auto:512", CloneCopy::Auto { zero_copy_from: 512 }),
        ] {
            assert_eq!(text.parse::<CloneCopy>().unwrap(), mode);
            assert_eq!(mode.to_string(), text);
        }
        assert_eq!("auto".parse::<CloneCopy>().unwrap(), CloneCopy::Auto { zero_copy_from: ZERO_COPY_FROM });
        assert!("auto:x".parse::<CloneCopy>().unwrap_err().contains("not a clone mode"));
        assert!("chain".parse::<CloneCopy>().is_err());
    }
}
