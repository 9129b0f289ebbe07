//! A deterministic network simulator: virtual time, a seeded RNG, impaired links, hosts
//! with several addresses, NAT rebinding. It drives any [`SansIo`] node (an endpoint, or
//! a toy stand-in from [`toy`]) through that public surface only.
//!
//! # Usage
//!
//! 1. [`Sim::new`] with a seed; [`Sim::add_host`] for each node with its addresses.
//! 2. [`Sim::link`] (one direction) or [`Sim::duplex`] between addresses, each with a
//!    [`LinkConfig`]; optionally [`Sim::nat`] / [`Sim::rebind`] for NATs.
//! 3. Run: [`Sim::run_until`] a predicate holds, [`Sim::run_for`] a stretch of virtual
//!    time, or [`Sim::run_until_idle`]. Between runs, reach into a node with
//!    [`Sim::node_mut`] (which also marks it to be polled for output).
//! 4. Inspect [`Sim::link_stats`], or watch every datagram with [`Sim::on_trace`].
//!
//! Scripted faults beyond the random ones: [`Sim::set_filter`] drops or rewrites chosen
//! datagrams on a link, [`Sim::inject`] delivers a datagram from anywhere (an off-path
//! attacker), [`Sim::link_config_mut`] changes a link mid-run.
//!
//! ```
//! use core::time::Duration;
//! use quic_conn::sim::{toy::{Echo, Planned, Scripted}, LinkConfig, Sim};
//! use quic_wire::Instant;
//!
//! let client_addr = "10.0.0.1:5000".parse().unwrap();
//! let server_addr = "192.0.2.1:443".parse().unwrap();
//! let mut sim = Sim::new(42);
//! let client = sim.add_host(Scripted::new(), &[client_addr]);
//! sim.add_host(Echo::new(), &[server_addr]);
//! let ten_ms = LinkConfig::with_delay(Duration::from_millis(10));
//! sim.duplex(client_addr, server_addr, ten_ms);
//! let ping = Planned::new(Instant::ZERO, server_addr, b"ping".to_vec());
//! sim.node_mut::<Scripted>(client).plan(ping);
//! let answered = sim
//!     .run_until(
//!         |s| !s.node::<Scripted>(client).received().is_empty(),
//!         Duration::from_secs(1),
//!     )
//!     .unwrap();
//! assert_eq!(answered, Instant::ZERO + Duration::from_millis(20));
//! ```
//!
//! # The driving contract
//!
//! After every input to a node (a datagram, a timeout, access through
//! [`Sim::node_mut`]), the simulator drains [`SansIo::poll_transmit`] until it returns
//! `None`. A transmit with `send_at` in the future is held and put on the link at that
//! time; a GSO batch (`segment_size`) is split into datagrams of that size. The clock
//! then jumps to the earliest of the next network event and the nodes'
//! [`SansIo::poll_timeout`] deadlines; a deadline already in the past fires at the
//! current time, and [`Instant::FAR_FUTURE`] counts as no deadline. Network events
//! scheduled at the same time as a deadline go first; deadlines of several nodes at the
//! same time fire in the order the hosts were added.
//!
//! # Determinism
//!
//! Nothing reads a clock or the system's randomness. Events at the same virtual time are
//! ordered by when they were scheduled, hosts and links are kept in vectors and ordered
//! maps, and each link draws from its own generator forked from the seed at creation. The
//! same seed and the same sequence of calls give the identical trace.

mod event;
mod link;
mod nat;
mod net;
mod rng;
mod stats;
pub mod toy;

use core::{any::Any, fmt, net::SocketAddr, time::Duration};
use std::{boxed::Box, collections::BTreeMap, vec, vec::Vec};

use bytes::BytesMut;
use quic_wire::{Ecn, Instant};

pub use link::{GilbertElliott, LinkConfig, Loss, Reorder};
pub use rng::SimRng;
pub use stats::{DropCause, LinkStats, TraceEvent, TraceKind};

use crate::io::SansIo;
use event::{Datagram, Event, EventQueue};
use link::Link;
use nat::Nat;

/// Identifies a host in a [`Sim`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostId(pub usize);

/// Identifies a directional link in a [`Sim`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LinkId(pub usize);

/// A [`SansIo`] node the simulator can also hand back by its concrete type. Implemented
/// for every `SansIo + 'static` type.
pub trait Node: SansIo + Any {
    /// `self` as [`Any`], for [`Sim::node`].
    fn as_any(&self) -> &dyn Any;
    /// `self` as [`Any`], for [`Sim::node_mut`].
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<T: SansIo + Any> Node for T {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// Why a run stopped before its goal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RunError {
    /// Nothing is left to happen (no datagram in flight, no deadline) and the predicate
    /// still does not hold.
    Stalled {
        /// The virtual time it stalled at.
        at: Instant,
    },
    /// The virtual-time limit passed; the clock stands at the limit.
    TimedOut {
        /// The limit.
        at: Instant,
    },
    /// The step budget ([`Sim::set_max_steps`]) ran out: probably a node that keeps
    /// asking for a timeout in the past or keeps transmitting.
    StepLimit {
        /// The virtual time when it ran out.
        at: Instant,
        /// The steps taken.
        steps: u64,
    },
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Stalled { at } => write!(f, "simulation stalled at {at:?}"),
            RunError::TimedOut { at } => write!(f, "simulation reached its time limit {at:?}"),
            RunError::StepLimit { at, steps } => {
                write!(f, "simulation used its {steps} steps by {at:?}")
            }
        }
    }
}

impl core::error::Error for RunError {}

/// What one step of the loop did.
enum Step {
    /// Processed an event or a deadline.
    Progress,
    /// Nothing is scheduled at all.
    Idle,
    /// The next thing happens after the limit.
    Beyond,
}

struct Host {
    node: Box<dyn Node>,
    addrs: Vec<SocketAddr>,
    /// Needs its output drained.
    dirty: bool,
}

/// Callback for [`Sim::on_trace`].
type TraceHook = Box<dyn FnMut(&TraceEvent)>;

/// The simulated network, its hosts and its clock. See the [module docs](self).
pub struct Sim {
    now: Instant,
    rng: SimRng,
    hosts: Vec<Host>,
    owners: BTreeMap<SocketAddr, HostId>,
    links: Vec<Link>,
    routes: BTreeMap<(SocketAddr, SocketAddr), LinkId>,
    nat: Nat,
    events: EventQueue<Event>,
    no_route: u64,
    trace: Option<TraceHook>,
    tx_buf: Vec<u8>,
    max_steps: u64,
}

/// The most transmits drained from one node in one go before the loop moves on (and
/// counts a step), so a node that never stops sending cannot hang the simulator.
const MAX_DRAIN: usize = 10_000;

impl Sim {
    /// An empty network at time zero whose randomness all derives from `seed`.
    pub fn new(seed: u64) -> Self {
        Sim {
            now: Instant::ZERO,
            rng: SimRng::new(seed),
            hosts: Vec::new(),
            owners: BTreeMap::new(),
            links: Vec::new(),
            routes: BTreeMap::new(),
            nat: Nat::default(),
            events: EventQueue::new(),
            no_route: 0,
            trace: None,
            tx_buf: vec![0; 65_535],
            max_steps: 10_000_000,
        }
    }

    /// The current virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// A new generator forked from the simulator's, to seed a node (connection IDs, TLS)
    /// reproducibly. Each call gives a different, deterministic stream.
    pub fn fork_rng(&mut self) -> SimRng {
        self.rng.fork()
    }

    /// Sets the length of the buffer handed to [`SansIo::poll_transmit`] (default
    /// 65 535 bytes, room for a GSO batch).
    pub fn set_transmit_buffer_len(&mut self, len: usize) {
        self.tx_buf = vec![0; len];
    }

    /// Sets the most steps one `run_*` call may take (default ten million).
    pub fn set_max_steps(&mut self, steps: u64) {
        self.max_steps = steps;
    }

    /// Adds a host owning `addrs` (the first is its default source address).
    ///
    /// # Panics
    /// If `addrs` is empty or an address already belongs to a host.
    pub fn add_host<T: SansIo + 'static>(&mut self, node: T, addrs: &[SocketAddr]) -> HostId {
        self.add_boxed_host(Box::new(node), addrs)
    }

    /// [`Sim::add_host`] for a node already boxed (hosts of mixed types built in a loop).
    ///
    /// # Panics
    /// If `addrs` is empty or an address already belongs to a host.
    pub fn add_boxed_host(&mut self, node: Box<dyn Node>, addrs: &[SocketAddr]) -> HostId {
        assert!(!addrs.is_empty(), "a host needs at least one address");
        let id = HostId(self.hosts.len());
        self.hosts.push(Host {
            node,
            addrs: Vec::new(),
            // Polled once at the start, in case it has something to say.
            dirty: true,
        });
        for &addr in addrs {
            self.add_address(id, addr);
        }
        id
    }

    /// Gives `host` another address (a new interface, as for connection migration).
    ///
    /// # Panics
    /// If the address already belongs to a host.
    pub fn add_address(&mut self, host: HostId, addr: SocketAddr) {
        let previous = self.owners.insert(addr, host);
        assert!(previous.is_none(), "{addr} already belongs to a host");
        self.hosts[host.0].addrs.push(addr);
    }

    /// The addresses of `host`, default source first.
    pub fn addresses(&self, host: HostId) -> &[SocketAddr] {
        &self.hosts[host.0].addrs
    }

    /// The node of `host` as its concrete type.
    ///
    /// # Panics
    /// If the node is not a `T`.
    pub fn node<T: SansIo + 'static>(&self, host: HostId) -> &T {
        self.hosts[host.0]
            .node
            .as_any()
            .downcast_ref()
            .expect("node has a different type")
    }

    /// The node of `host` as its concrete type, for the application to act on it. The
    /// node is polled for output before the simulation moves on.
    ///
    /// # Panics
    /// If the node is not a `T`.
    pub fn node_mut<T: SansIo + 'static>(&mut self, host: HostId) -> &mut T {
        let h = &mut self.hosts[host.0];
        h.dirty = true;
        h.node
            .as_any_mut()
            .downcast_mut()
            .expect("node has a different type")
    }

    /// Adds a directional link carrying datagrams sent from `from` to `to`.
    ///
    /// # Panics
    /// If that link already exists.
    pub fn link(&mut self, from: SocketAddr, to: SocketAddr, config: LinkConfig) -> LinkId {
        let id = LinkId(self.links.len());
        let previous = self.routes.insert((from, to), id);
        assert!(previous.is_none(), "a link {from} -> {to} already exists");
        let rng = self.rng.fork();
        self.links.push(Link::new(from, to, config, rng));
        id
    }

    /// Adds links both ways between `a` and `b` with the same configuration; returns
    /// (a to b, b to a).
    pub fn duplex(&mut self, a: SocketAddr, b: SocketAddr, config: LinkConfig) -> (LinkId, LinkId) {
        let ab = self.link(a, b, config.clone());
        let ba = self.link(b, a, config);
        (ab, ba)
    }

    /// The link from `from` to `to` (private addresses), if any.
    pub fn link_between(&self, from: SocketAddr, to: SocketAddr) -> Option<LinkId> {
        self.routes.get(&(from, to)).copied()
    }

    /// The configuration of a link, to change it mid-run (takes effect for datagrams
    /// offered from now on).
    pub fn link_config_mut(&mut self, link: LinkId) -> &mut LinkConfig {
        &mut self.links[link.0].config
    }

    /// The counters of a link.
    pub fn link_stats(&self, link: LinkId) -> &LinkStats {
        &self.links[link.0].stats
    }

    /// The endpoints (from, to) of a link.
    pub fn link_ends(&self, link: LinkId) -> (SocketAddr, SocketAddr) {
        let l = &self.links[link.0];
        (l.from, l.to)
    }

    /// Hands every datagram offered to `link` to `filter` first, with the current time
    /// and the payload: it may rewrite the payload, and drops the datagram
    /// ([`DropCause::Filter`]) by returning `false`. For scripted faults such as "lose the
    /// server's first flight" or an on-path attacker. Replaces any earlier filter.
    pub fn set_filter(
        &mut self,
        link: LinkId,
        filter: impl FnMut(Instant, &mut BytesMut) -> bool + 'static,
    ) {
        self.links[link.0].filter = Some(Box::new(filter));
    }

    /// Removes the filter of `link`.
    pub fn clear_filter(&mut self, link: LinkId) {
        self.links[link.0].filter = None;
    }

    /// At `at`, delivers `data` to the host owning `local` as if it came from `remote`,
    /// without crossing any link: an off-path sender, a spoofed or replayed datagram.
    /// Traced as delivered with no link; dropped as [`DropCause::NoRoute`] if no host
    /// owns `local`.
    pub fn inject(
        &mut self,
        at: Instant,
        remote: SocketAddr,
        local: SocketAddr,
        ecn: Ecn,
        data: BytesMut,
    ) {
        let datagram = Datagram {
            source: remote,
            destination: local,
            ecn,
            data,
        };
        self.events.push(at, Event::Inject { local, datagram });
    }

    /// Datagrams dropped for lack of a route (see [`DropCause::NoRoute`]).
    pub fn no_route_drops(&self) -> u64 {
        self.no_route
    }

    /// Puts `private` behind a NAT with public address `public`, now.
    pub fn nat(&mut self, private: SocketAddr, public: SocketAddr) {
        self.nat.bind(private, public);
    }

    /// At virtual time `at`, the NAT in front of `private` rebinds it to `public`: peers
    /// see the new source address, and the old public address stops forwarding.
    /// A host address that had no NAT gets one.
    pub fn rebind(&mut self, private: SocketAddr, at: Instant, public: SocketAddr) {
        self.events.push(at, Event::Rebind { private, public });
    }

    /// The address peers currently see for `private`.
    pub fn public_address(&self, private: SocketAddr) -> SocketAddr {
        self.nat.public_of(private)
    }

    /// Calls `hook` on every datagram sent, delivered or dropped (replacing any earlier
    /// hook).
    pub fn on_trace(&mut self, hook: impl FnMut(&TraceEvent) + 'static) {
        self.trace = Some(Box::new(hook));
    }

    /// How many network events (datagrams in flight, paced sends, rebinds) are pending.
    pub fn pending_events(&self) -> usize {
        self.events.len()
    }

    /// Runs until `done` holds, checking it before every step. Returns the virtual time
    /// it first held.
    ///
    /// # Errors
    /// [`RunError::TimedOut`] after `limit` of virtual time, [`RunError::Stalled`] when
    /// nothing is left to happen, [`RunError::StepLimit`] when the step budget runs out.
    pub fn run_until(
        &mut self,
        mut done: impl FnMut(&mut Sim) -> bool,
        limit: Duration,
    ) -> Result<Instant, RunError> {
        let deadline = self.now + limit;
        let mut steps = 0;
        loop {
            self.flush();
            if done(self) {
                return Ok(self.now);
            }
            match self.step(deadline) {
                Step::Progress => {}
                Step::Idle => return Err(RunError::Stalled { at: self.now }),
                Step::Beyond => {
                    self.now = self.now.max(deadline);
                    return Err(RunError::TimedOut { at: self.now });
                }
            }
            steps += 1;
            if steps >= self.max_steps {
                return Err(RunError::StepLimit {
                    at: self.now,
                    steps,
                });
            }
        }
    }

    /// Runs everything that happens within `duration` of virtual time; the clock ends at
    /// `now + duration`.
    ///
    /// # Errors
    /// Only [`RunError::StepLimit`].
    pub fn run_for(&mut self, duration: Duration) -> Result<(), RunError> {
        let end = self.now + duration;
        match self.run_until(|_| false, duration) {
            Err(RunError::Stalled { .. }) | Err(RunError::TimedOut { .. }) => {
                self.now = self.now.max(end);
                Ok(())
            }
            Err(e) => Err(e),
            Ok(_) => unreachable!("the predicate never holds"),
        }
    }

    /// Runs until nothing is left to happen: no datagram in flight and no node deadline.
    /// Returns the time of the last event.
    ///
    /// # Errors
    /// [`RunError::TimedOut`] after `limit` of virtual time, [`RunError::StepLimit`].
    pub fn run_until_idle(&mut self, limit: Duration) -> Result<Instant, RunError> {
        match self.run_until(|_| false, limit) {
            Err(RunError::Stalled { at }) => Ok(at),
            Err(e) => Err(e),
            Ok(_) => unreachable!("the predicate never holds"),
        }
    }

    /// Processes the earliest event or deadline, if it is not after `deadline`.
    fn step(&mut self, deadline: Instant) -> Step {
        if !self.flush() {
            // A node is still transmitting: count a step and come back.
            return Step::Progress;
        }
        let event_at = self.events.peek_time();
        let timer = self.earliest_timer();
        let (at, is_event) = match (event_at, timer) {
            (None, None) => return Step::Idle,
            (Some(e), None) => (e, true),
            (None, Some((t, _))) => (t, false),
            (Some(e), Some((t, _))) => (e.min(t), e <= t),
        };
        if at > deadline {
            return Step::Beyond;
        }
        self.now = self.now.max(at);
        if is_event {
            if let Some((_, event)) = self.events.pop() {
                self.handle_event(event);
            }
        } else if let Some((_, host)) = timer {
            let h = &mut self.hosts[host.0];
            h.node.handle_timeout(self.now);
            h.dirty = true;
        }
        Step::Progress
    }

    /// The earliest node deadline and whose it is (lowest host id on ties).
    fn earliest_timer(&self) -> Option<(Instant, HostId)> {
        self.hosts
            .iter()
            .enumerate()
            .filter_map(|(i, h)| {
                let t = h.node.poll_timeout()?;
                // FAR_FUTURE is the conventional "disarmed" value: not a deadline.
                (t != Instant::FAR_FUTURE).then_some((t, HostId(i)))
            })
            .min()
    }

    /// Drains the output of every host that had an input, in host order. Returns
    /// `false` if a host is still transmitting.
    fn flush(&mut self) -> bool {
        let mut drained = true;
        for i in 0..self.hosts.len() {
            if self.hosts[i].dirty {
                drained &= self.drain(HostId(i));
            }
        }
        drained
    }
}

impl fmt::Debug for Sim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sim")
            .field("now", &self.now)
            .field("hosts", &self.hosts.len())
            .field("links", &self.links.len())
            .field("pending_events", &self.events.len())
            .finish_non_exhaustive()
    }
}
