//! A profile's filters and sampling folded into one classify rule: the rule as the
//! base (what no filter rule decides), and for each filter rule that matches only
//! part of the rule's traffic (a port range on the port the rule leaves open) one
//! entry per port block, at a priority above the base that falls with the rule's
//! position, so the first matching filter rule wins on the device as in the config
//! (`docs/dataplane.md`, "Filters and sampling").

use std::net::IpAddr;

use super::entities::ClassifyRule;
use crate::config::FilterAction;
use crate::filter::{Filter, SampleMode};
use crate::net::Prefix;

fn holds(p: &Option<Prefix>, addr: &IpAddr) -> bool {
    p.as_ref().is_none_or(|p| p.contains(addr))
}

/// Pushes the entries that implement `filters` and `sample` for `base` (a rule
/// exact on both addresses, the protocol and one port: the pool member's).
pub(super) fn expand(mut base: ClassifyRule, filters: &[Filter], sample: SampleMode, out: &mut Vec<ClassifyRule>) {
    base.sample = sample;
    if filters.is_empty() {
        out.push(base);
        return;
    }
    // Forward rules (SE -> member) are exact on the destination port, reverse ones
    // on the source port; the other port is the SE's, left open.
    let to_pool = base.l4_dst_port.is_some();
    let exact_port = if to_pool { base.l4_dst_port } else { base.l4_src_port };
    let first = out.len();
    let mut decided = FilterAction::Clone;
    let n = filters.len() as i32;
    for (i, f) in filters.iter().enumerate() {
        if !f.has_direction(to_pool)
            || f.protocol.is_some_and(|p| p != base.protocol)
            || !holds(&f.src, &base.src_addr)
            || !holds(&f.dst, &base.dst_addr)
        {
            continue;
        }
        let (exact_range, open_range) = if to_pool { (f.dst_ports, f.src_ports) } else { (f.src_ports, f.dst_ports) };
        if let (Some(r), Some(p)) = (exact_range, exact_port) {
            if !r.contains(p) {
                continue;
            }
        }
        let Some(range) = open_range else {
            decided = f.action;
            break;
        };
        for (value, len) in range.prefixes() {
            let mut e = base.clone();
            if to_pool {
                (e.l4_src_port, e.l4_src_len) = (Some(value), len);
            } else {
                (e.l4_dst_port, e.l4_dst_len) = (Some(value), len);
            }
            e.action = f.action;
            e.priority = base.priority + (n - i as i32);
            if f.action == FilterAction::Skip {
                e.sample = SampleMode::All;
            }
            out.push(e);
        }
    }
    base.action = decided;
    if decided == FilterAction::Skip {
        base.sample = SampleMode::All;
    }
    // The base first: it sorts before its narrower entries (an open port is a wildcard).
    out.insert(first, base);
}
