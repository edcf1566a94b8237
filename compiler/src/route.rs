//! Where an encapsulated clone server is reached from one SE: the interface its
//! copies leave through and the next hop. Shared by validation (which reports a
//! remote no interface reaches) and intent (which compiles the route).
//!
//! The rule, in interface order (config order): the first interface whose
//! network's subnet holds the remote (directly connected: the next hop is the
//! remote itself); otherwise the first interface of the remote's address family
//! whose network has a gateway (the next hop is the gateway).

use std::net::IpAddr;

use crate::model::Model;
use crate::net::{family_bits, Mac};

/// The next hop of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextHop {
    /// The remote is on the interface's subnet.
    Direct,
    /// Through the network's gateway (its MAC).
    Gateway(Mac),
}

/// A route to a remote from one SE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The interface, flattened (index into [`Model::interfaces`]).
    pub interface: usize,
    /// Its network.
    pub network: usize,
    /// The next hop.
    pub next_hop: NextHop,
}

/// The route from SE `se` (flattened) to `remote`, if any interface reaches it.
pub fn route(model: &Model<'_>, se: usize, remote: IpAddr) -> Option<Route> {
    let ifaces = model.ses.get(se)?.interfaces.clone();
    let usable = |i: usize| {
        let itf = &model.interfaces[i];
        let net = itf.network?;
        let addr = itf.addr.as_ref().ok()?;
        (family_bits(&addr.addr) == family_bits(&remote)).then_some(net)
    };
    let direct = ifaces.clone().find_map(|i| {
        let net = usable(i)?;
        model.subnet(net).filter(|s| s.contains(&remote)).map(|_| Route {
            interface: i,
            network: net,
            next_hop: NextHop::Direct,
        })
    });
    direct.or_else(|| {
        ifaces.into_iter().find_map(|i| {
            let net = usable(i)?;
            let (_, mac) = model.networks[net].gateway()?;
            Some(Route { interface: i, network: net, next_hop: NextHop::Gateway(mac) })
        })
    })
}
