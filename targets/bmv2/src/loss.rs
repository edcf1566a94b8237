//! Frames BMv2 lost in file mode, told apart from data-plane differences.
//!
//! BMv2's `--use-files` reader replays inputs with no pacing, and
//! `simple_switch` drops a frame when the egress queue of its port (64 frames)
//! is full (`docs/targets.md`). Those drops are silent: a run can lose frames or,
//! by luck, none. A lost frame is not a difference of the data plane, so a run is
//! accounted before its outputs are compared:
//!
//! - every input frame on a wire port leaves the wire peer unchanged (the
//!   contract in `docs/dataplane.md`: parser errors and zero-length frames
//!   included), so the originals a port must send follow from the inputs;
//! - every clone the ingress requested is counted in `clones_requested[member]`,
//!   read back over P4Runtime, and leaves the member's clone port.
//!
//! So port P must have written `originals(P) + clones(P)` frames. Fewer is a loss
//! ([`PortLoss`]); a frame lost before the ingress still removes its original, so
//! no loss goes unnoticed.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use p4clone_compiler::intent::DeviceIntent;

/// The frames one port should have sent and what it wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortAccount {
    /// The port.
    pub port: u16,
    /// Originals it must forward (input frames of its wire peer).
    pub originals: u64,
    /// Clones the ingress requested for members whose clone port it is.
    pub clones: u64,
    /// Frames BMv2 wrote to the port's output file.
    pub written: u64,
}

impl PortAccount {
    /// Frames the port should have written.
    pub fn expected(&self) -> u64 {
        self.originals + self.clones
    }

    /// Frames missing (0 when the port wrote at least what it should).
    pub fn lost(&self) -> u64 {
        self.expected().saturating_sub(self.written)
    }
}

/// The ports of a run that lost frames; empty when none did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Losses(pub Vec<PortAccount>);

impl Losses {
    /// True when no port lost a frame.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Frames lost over all ports.
    pub fn total(&self) -> u64 {
        self.0.iter().map(PortAccount::lost).sum()
    }
}

impl fmt::Display for Losses {
    /// One line per port: `BMv2 dropped N frames on port P (queue overflow): ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(
                f,
                "BMv2 dropped {} frame{} on port {} (queue overflow): expected {} ({} originals + {} clones requested), \
                 wrote {}",
                a.lost(),
                if a.lost() == 1 { "" } else { "s" },
                a.port,
                a.expected(),
                a.originals,
                a.clones,
                a.written
            )?;
        }
        Ok(())
    }
}

/// Accounts every port of a run: `frames_in` per input port, `clones_requested`
/// per member id (the ingress counter's packets), `written` per output port.
/// Returns every port's account, sorted by port.
pub fn account(
    device: &DeviceIntent,
    frames_in: &BTreeMap<u16, u64>,
    clones_requested: &HashMap<u16, u64>,
    written: &BTreeMap<u16, u64>,
) -> Vec<PortAccount> {
    let mut acc: BTreeMap<u16, PortAccount> = BTreeMap::new();
    fn entry(acc: &mut BTreeMap<u16, PortAccount>, port: u16) -> &mut PortAccount {
        acc.entry(port).or_insert(PortAccount { port, originals: 0, clones: 0, written: 0 })
    }
    for w in &device.wires {
        let (Ok(a), Ok(b)) = (u16::try_from(w.0), u16::try_from(w.1)) else { continue };
        entry(&mut acc, b).originals += frames_in.get(&a).copied().unwrap_or(0);
        entry(&mut acc, a).originals += frames_in.get(&b).copied().unwrap_or(0);
    }
    for m in &device.members {
        let Ok(port) = u16::try_from(m.egress_port) else { continue };
        entry(&mut acc, port).clones += clones_requested.get(&m.id.0).copied().unwrap_or(0);
    }
    for (&port, &n) in written {
        entry(&mut acc, port).written = n;
    }
    acc.into_values().collect()
}

/// The ports of `accounts` that lost frames.
pub fn losses(accounts: &[PortAccount]) -> Losses {
    Losses(accounts.iter().copied().filter(|a| a.lost() > 0).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use p4clone_compiler::intent::WirePair;

    fn device() -> DeviceIntent {
        use p4clone_compiler::{intent, source};
        let yaml = include_str!("../../../examples/basic.yaml");
        let loaded = source::load_str(yaml, source::Format::Yaml).expect("example loads");
        let intent = intent::compile(&loaded.config, &intent::Allocation::default()).expect("example compiles");
        intent.devices.into_iter().next().expect("one device")
    }

    #[test]
    fn originals_follow_the_wires_and_clones_their_member_ports() {
        let d = device();
        assert_eq!(d.wires, vec![WirePair(1, 2)]);
        let clone_port = u16::try_from(d.members[0].egress_port).unwrap();
        let ids: Vec<u16> = d.members.iter().map(|m| m.id.0).collect();
        let frames_in = BTreeMap::from([(1, 47), (2, 52)]);
        let requested = HashMap::from([(ids[0], 47), (ids[1], 46)]);
        let full = BTreeMap::from([(1, 52), (2, 47), (clone_port, 93)]);
        let acc = account(&d, &frames_in, &requested, &full);
        assert_eq!(acc.iter().map(|a| (a.port, a.expected())).collect::<Vec<_>>(), vec![(1, 52), (2, 47), (3, 93)]);
        assert!(losses(&acc).is_empty());

        let short = BTreeMap::from([(1, 52), (2, 40), (clone_port, 90)]);
        let l = losses(&account(&d, &frames_in, &requested, &short));
        assert_eq!(l.total(), 10);
        assert_eq!(
            l.to_string(),
            "BMv2 dropped 7 frames on port 2 (queue overflow): expected 47 (47 originals + 0 clones requested), \
             wrote 40\nBMv2 dropped 3 frames on port 3 (queue overflow): expected 93 (0 originals + 93 clones \
             requested), wrote 90"
        );
    }

    #[test]
    fn a_port_with_more_than_expected_is_no_loss() {
        let d = device();
        let acc = account(&d, &BTreeMap::from([(1, 1)]), &HashMap::new(), &BTreeMap::from([(2, 5)]));
        assert!(losses(&acc).is_empty());
        assert_eq!(acc.iter().find(|a| a.port == 2).unwrap().written, 5);
    }
}
