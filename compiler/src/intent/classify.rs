//! Classify rules of one device: every candidate rule (both directions of every
//! VS <-> pool member pair, per SE side and protocol), sorted by key and merged
//! (see the [`crate::intent`] module docs, "Classify rules and priorities").

use std::net::IpAddr;

use super::blocks::BLOCK_WIDTH;
use super::digest::{owner_digest, Digest};
use super::entities::{ClassifyRule, Family, MemberId};
use super::filters::expand;
use super::inputs::{Inputs, ProfileInfo};
use super::placement::{protocol_bit, DeviceAcc, Placement, PROTOCOLS};
use crate::config::{Config, FilterAction};
use crate::diag::Diagnostic;
use crate::filter::SampleMode;
use crate::model::Model;
use crate::net::{family_bits, FastHashSet};

/// The priority of every generated classify rule (see the module docs).
pub const RULE_PRIORITY: i32 = 100;

/// Rule candidates, reused from device to device.
#[derive(Default)]
pub(super) struct Candidates {
    fwd4: Vec<Cand<u128>>,
    rev4: Vec<Cand<u128>>,
    cands6: Vec<Cand<RuleKey>>,
    protos: Vec<u8>,
}

impl Candidates {
    /// The classify rules of one device, sorted by key: every candidate generated,
    /// sorted, equal keys merged; equal keys selecting different blocks reported.
    ///
    /// IPv4 keys are packed into one integer (cheap to sort); all IPv4 rules sort
    /// before all IPv6 ones. Candidates are generated in VS order, so a stable sort
    /// by key alone leaves equal keys in VS order. Forward and reverse candidates go
    /// to separate lists: each is often nearly sorted already (addresses allocated
    /// in order), which the stable sort takes advantage of; the two sorted lists
    /// are then merged on the fly.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn device_rules(
        &mut self,
        model: &Model<'_>,
        inputs: &Inputs<'_>,
        placement: &Placement,
        acc: &DeviceAcc,
        block_of: &[u16],
        device: &str,
        errs: &mut Vec<Diagnostic>,
    ) -> Vec<ClassifyRule> {
        self.generate(model, inputs, placement, acc, block_of);
        let Candidates { fwd4, rev4, cands6, .. } = self;
        fwd4.sort_by_key(|c| c.key);
        rev4.sort_by_key(|c| c.key);
        cands6.sort_by_key(|c| c.key);
        let cfg = model.config;
        let mut out: Vec<ClassifyRule> = Vec::with_capacity(fwd4.len() + rev4.len() + cands6.len());
        let mut merge = Merge {
            cfg,
            profs: &inputs.profiles,
            device,
            errs,
            reported: FastHashSet::default(),
            vs_digest: vec![None; cfg.virtual_services.len()],
            owners: Vec::new(),
        };
        merge.run(merge_sorted(fwd4, rev4), RuleKey::unpack_v4, &mut out);
        merge.run(cands6.iter().copied(), |k| k, &mut out);
        out
    }

    /// Fills the candidate lists: for each VS on each SE of the device, each pool
    /// server, each SE interface whose network contains the server (the SE side)
    /// and each protocol, a forward and a reverse rule.
    fn generate(
        &mut self,
        model: &Model<'_>,
        inputs: &Inputs<'_>,
        placement: &Placement,
        acc: &DeviceAcc,
        block_of: &[u16],
    ) {
        self.fwd4.clear();
        self.rev4.clear();
        self.cands6.clear();
        for w in &acc.work {
            let (vi, ki) = (w.vs as usize, w.key as usize);
            let (pi, se) = acc.keys[ki];
            let block = block_of[ki];
            let Some(servers) = placement.servers(w.pool as usize) else {
                continue;
            };
            self.protos.clear();
            self.protos.extend(PROTOCOLS.iter().filter(|&&p| w.protocols & protocol_bit(p) != 0).map(|p| p.number()));
            let (profile, vs_ix) = (pi as u32, vi as u32);
            for &(sip, sport) in servers {
                for itf in inputs.ses[se].ifaces.iter().flatten() {
                    let Some(net) = itf.net else { continue };
                    let Ok(prefix) = &model.networks[net].subnet else {
                        continue;
                    };
                    if Family::of(&itf.addr.addr) != Family::of(&sip) || !prefix.contains(&sip) {
                        continue;
                    }
                    let v6 = sip.is_ipv6();
                    let bits = family_bits(&sip);
                    let (se_ip, srv) = (addr_u128(&itf.addr.addr), addr_u128(&sip));
                    let port = u32::from(sport) + 1;
                    for &proto in &self.protos {
                        let fwd = RuleKey {
                            v6,
                            src: se_ip,
                            src_len: bits,
                            dst: srv,
                            dst_len: bits,
                            protocol: proto,
                            sport: 0,
                            dport: port,
                        };
                        let rev = RuleKey {
                            v6,
                            src: srv,
                            src_len: bits,
                            dst: se_ip,
                            dst_len: bits,
                            protocol: proto,
                            sport: port,
                            dport: 0,
                        };
                        if v6 {
                            self.cands6.push(Cand { key: fwd, block, profile, vs: vs_ix });
                            self.cands6.push(Cand { key: rev, block, profile, vs: vs_ix });
                        } else {
                            self.fwd4.push(Cand { key: fwd.pack_v4(), block, profile, vs: vs_ix });
                            self.rev4.push(Cand { key: rev.pack_v4(), block, profile, vs: vs_ix });
                        }
                    }
                }
            }
        }
    }
}

/// A rule's match key in compact form. Field order = sort order: family, src, src
/// length, dst, dst length, protocol, sport, dport (ports: 0 = wildcard, else port + 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct RuleKey {
    v6: bool,
    src: u128,
    src_len: u8,
    dst: u128,
    dst_len: u8,
    protocol: u8,
    sport: u32,
    dport: u32,
}

impl RuleKey {
    /// An IPv4 key as one integer with the same order: src (32 bits), src length
    /// (8), dst (32), dst length (8), protocol (8), sport (17), dport (17).
    fn pack_v4(&self) -> u128 {
        debug_assert!(!self.v6 && self.src >> 32 == 0 && self.dst >> 32 == 0);
        (self.src << 90)
            | (u128::from(self.src_len) << 82)
            | (self.dst << 50)
            | (u128::from(self.dst_len) << 42)
            | (u128::from(self.protocol) << 34)
            | (u128::from(self.sport) << 17)
            | u128::from(self.dport)
    }

    /// The inverse of [`RuleKey::pack_v4`].
    fn unpack_v4(k: u128) -> RuleKey {
        const PORT: u128 = (1 << 17) - 1;
        RuleKey {
            v6: false,
            src: (k >> 90) & 0xffff_ffff,
            src_len: (k >> 82) as u8,
            dst: (k >> 50) & 0xffff_ffff,
            dst_len: (k >> 42) as u8,
            protocol: (k >> 34) as u8,
            sport: ((k >> 17) & PORT) as u32,
            dport: (k & PORT) as u32,
        }
    }
}

/// One generated rule before deduplication; `K` is a [`RuleKey`] or a packed IPv4 key.
#[derive(Debug, Clone, Copy)]
struct Cand<K> {
    key: K,
    block: u16,
    profile: u32,
    vs: u32,
}

/// The candidates of two lists sorted by key, in key order (`a`'s first on equal
/// keys, as a stable sort of `a` then `b` would have them).
fn merge_sorted<'a, K: Copy + Ord>(a: &'a [Cand<K>], b: &'a [Cand<K>]) -> impl Iterator<Item = Cand<K>> + 'a {
    let (mut i, mut j) = (0, 0);
    std::iter::from_fn(move || {
        let next = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if y.key < x.key => {
                j += 1;
                *y
            }
            (Some(x), _) => {
                i += 1;
                *x
            }
            (None, Some(y)) => {
                j += 1;
                *y
            }
            (None, None) => return None,
        };
        Some(next)
    })
}

/// Merging sorted candidates of one device into rules.
struct Merge<'c, 'e> {
    cfg: &'c Config,
    profs: &'c [ProfileInfo],
    device: &'c str,
    errs: &'e mut Vec<Diagnostic>,
    /// (first VS, other VS) pairs already reported as conflicting.
    reported: FastHashSet<(u32, u32)>,
    /// The owner digest of a rule owned by one VS alone, per VS.
    vs_digest: Vec<Option<Digest>>,
    owners: Vec<u32>,
}

impl Merge<'_, '_> {
    /// Merges runs of equal keys in `cands` (sorted by key, then VS) into rules;
    /// reports equal keys that select different blocks.
    fn run<K: Copy + Eq>(
        &mut self,
        cands: impl Iterator<Item = Cand<K>>,
        unpack: impl Fn(K) -> RuleKey,
        out: &mut Vec<ClassifyRule>,
    ) {
        let cfg = self.cfg;
        let mut cands = cands.peekable();
        while let Some(first) = cands.next() {
            self.owners.clear();
            self.owners.push(first.vs);
            while let Some(c) = cands.next_if(|c| c.key == first.key) {
                if c.block != first.block {
                    if self.reported.insert((first.vs, c.vs)) {
                        self.errs.push(Diagnostic::error(
                            format!("virtual_services[{}]", c.vs),
                            format!(
                                "virtual services `{}` and `{}` both clone traffic {} on device `{}` but to \
                                 different clone profiles or service engines (`{}` and `{}`)",
                                cfg.virtual_services[first.vs as usize].name,
                                cfg.virtual_services[c.vs as usize].name,
                                describe_key(&unpack(first.key)),
                                self.device,
                                cfg.traffic_clone_profiles[first.profile as usize].name,
                                cfg.traffic_clone_profiles[c.profile as usize].name,
                            ),
                        ));
                    }
                } else if self.owners.last() != Some(&c.vs) {
                    self.owners.push(c.vs);
                }
            }
            let pi = first.profile as usize;
            let info = &self.profs[pi];
            let (names, digest) = if let [vi] = self.owners[..] {
                let name = cfg.virtual_services[vi as usize].name.clone();
                let digest = *self.vs_digest[vi as usize]
                    .get_or_insert_with(|| owner_digest(std::slice::from_ref(&name), info.digest));
                (vec![name], digest)
            } else {
                let mut names: Vec<String> =
                    self.owners.iter().map(|&v| cfg.virtual_services[v as usize].name.clone()).collect();
                names.sort_unstable();
                names.dedup();
                let digest = owner_digest(&names, info.digest);
                (names, digest)
            };
            let k = unpack(first.key);
            let base = ClassifyRule {
                family: if k.v6 { Family::V6 } else { Family::V4 },
                src_addr: u128_addr(k.v6, k.src),
                src_len: k.src_len,
                dst_addr: u128_addr(k.v6, k.dst),
                dst_len: k.dst_len,
                protocol: k.protocol,
                l4_src_port: port_of(k.sport),
                l4_dst_port: port_of(k.dport),
                l4_src_len: 16,
                l4_dst_len: 16,
                action: FilterAction::Clone,
                sample: SampleMode::All,
                priority: RULE_PRIORITY,
                first_member: MemberId(first.block * BLOCK_WIDTH + 1),
                member_count: info.servers.as_ref().map_or(0, |s| s.len() as u16),
                mode: cfg.traffic_clone_profiles[pi].distribution,
                vs: names,
                owner_digest: digest,
            };
            expand(base, &info.filters, info.sample, out);
        }
    }
}

fn addr_u128(a: &IpAddr) -> u128 {
    match a {
        IpAddr::V4(a) => u128::from(u32::from(*a)),
        IpAddr::V6(a) => u128::from(*a),
    }
}

fn u128_addr(v6: bool, a: u128) -> IpAddr {
    if v6 {
        IpAddr::V6(a.into())
    } else {
        IpAddr::V4((a as u32).into())
    }
}

fn port_of(p: u32) -> Option<u16> {
    p.checked_sub(1).map(|p| p as u16)
}

/// A rule key for messages: `src/len port p -> dst/len port p protocol n`.
fn describe_key(k: &RuleKey) -> String {
    let port = |p: u32| port_of(p).map_or_else(|| "*".to_string(), |p| p.to_string());
    format!(
        "{}/{} port {} -> {}/{} port {} protocol {}",
        u128_addr(k.v6, k.src),
        k.src_len,
        port(k.sport),
        u128_addr(k.v6, k.dst),
        k.dst_len,
        port(k.dport),
        k.protocol
    )
}
