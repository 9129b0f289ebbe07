//! NAT in front of a host address, and rebinding.
//!
//! A NAT maps a host's private address to a public one. Outgoing datagrams leave with
//! the public address as their source; datagrams addressed to the public address are
//! forwarded to the private one. Rebinding gives the private address a new public
//! address, as a NAT does when its mapping times out: from then on the old public
//! address forwards nothing, so datagrams still addressed to it (or in flight towards
//! it) are dropped. A host address without a NAT is reachable as itself.

use core::net::SocketAddr;
use std::collections::BTreeMap;

/// Where a destination address leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Resolved {
    /// The host address the datagram travels towards.
    pub(crate) local: SocketAddr,
    /// The NAT public address it was sent to, if any, to check again on arrival.
    pub(crate) via_public: Option<SocketAddr>,
}

/// All NAT mappings of the simulated network.
#[derive(Debug, Default)]
pub(crate) struct Nat {
    /// private -> current public.
    outbound: BTreeMap<SocketAddr, SocketAddr>,
    /// current public -> private.
    inbound: BTreeMap<SocketAddr, SocketAddr>,
    /// Former public addresses -> the private address they used to forward to.
    retired: BTreeMap<SocketAddr, SocketAddr>,
}

impl Nat {
    /// The source address the world sees for `private`.
    pub(crate) fn public_of(&self, private: SocketAddr) -> SocketAddr {
        self.outbound.get(&private).copied().unwrap_or(private)
    }

    /// Maps `private` to `public`, retiring its previous public address.
    pub(crate) fn bind(&mut self, private: SocketAddr, public: SocketAddr) {
        let old = self.public_of(private);
        if old != public && (old == private || self.inbound.get(&old) == Some(&private)) {
            self.inbound.remove(&old);
            self.retired.insert(old, private);
        }
        self.retired.remove(&public);
        self.outbound.insert(private, public);
        self.inbound.insert(public, private);
    }

    /// Where a datagram addressed to `destination` goes.
    pub(crate) fn resolve(&self, destination: SocketAddr) -> Resolved {
        if let Some(&local) = self
            .inbound
            .get(&destination)
            .or_else(|| self.retired.get(&destination))
        {
            return Resolved {
                local,
                via_public: Some(destination),
            };
        }
        Resolved {
            local: destination,
            via_public: None,
        }
    }

    /// Whether `public` still forwards to `local` (checked when a datagram arrives).
    pub(crate) fn forwards(&self, public: SocketAddr, local: SocketAddr) -> bool {
        self.inbound.get(&public) == Some(&local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn rebinding_retires_the_old_public_address() {
        let mut nat = Nat::default();
        let host = addr("10.0.0.1:4433");
        let peer = addr("192.0.2.1:443");
        assert_eq!(nat.public_of(host), host);
        assert_eq!(nat.resolve(host).via_public, None);

        nat.bind(host, addr("198.51.100.1:1000"));
        assert_eq!(nat.public_of(host), addr("198.51.100.1:1000"));
        // The host's own address was its public one: now stale.
        let stale = nat.resolve(host);
        assert_eq!(stale.local, host);
        assert!(!nat.forwards(stale.via_public.unwrap(), host));

        nat.bind(host, addr("198.51.100.1:2000"));
        let old = nat.resolve(addr("198.51.100.1:1000"));
        assert_eq!(old.local, host);
        assert!(!nat.forwards(addr("198.51.100.1:1000"), host));
        let new = nat.resolve(addr("198.51.100.1:2000"));
        assert_eq!(new.local, host);
        assert!(nat.forwards(addr("198.51.100.1:2000"), host));
        // Unrelated addresses pass through.
        assert_eq!(nat.resolve(peer).local, peer);
        assert_eq!(nat.resolve(peer).via_public, None);
    }
}
