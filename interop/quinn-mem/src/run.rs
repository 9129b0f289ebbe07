//! The driver: builds the two ends of a cell, runs its connections over the in-memory link
//! with virtual time, and hands what it saw to [`crate::check`].
//!
//! The loop (str0m's "progress", quinn's `Pair::drive`): fire due timers, let both
//! applications run, drain both ends' transmits onto the link, deliver what is due; when
//! nothing was delivered, jump the clock to the next arrival or deadline. It is bounded in
//! virtual time and in rounds, so a stuck cell fails instead of hanging.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::net::{Datagram, Host, Net, Way};
use crate::tls::{Hooks, Pki};
use crate::{addr, check, ours, quinn, unsupported, Case, Impl, Options, Outcome};

/// Most virtual time one connection may take.
const CONNECTION_LIMIT: Duration = Duration::from_secs(120);
/// Most rounds of the loop one connection may take (a livelock guard).
const ROUND_LIMIT: u64 = 5_000_000;
/// How long the first connection of resumption/zerortt waits for a session ticket after
/// its downloads (virtual time).
const TICKET_WAIT: Duration = Duration::from_secs(2);
/// connectionmigration: the client moves once it has received this many body bytes.
pub const MIGRATE_AFTER: u64 = 256 * 1024;

/// One connection the client makes.
#[derive(Debug, Clone)]
pub struct Job {
    /// The files to fetch.
    pub files: Vec<String>,
    /// Send the requests in 0-RTT.
    pub early: bool,
    /// Start a key update as soon as the handshake is confirmed.
    pub key_update: bool,
    /// Move to this local address after [`MIGRATE_AFTER`] bytes.
    pub migrate_to: Option<SocketAddr>,
    /// Where bodies are saved.
    pub downloads: PathBuf,
}

/// What one end saw of one connection; fields a stack's API cannot tell stay `None`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Notes {
    /// The negotiated ALPN.
    pub alpn: Option<Vec<u8>>,
    /// Whether the handshake resumed a TLS session (ours: `Connection::is_resumed`).
    pub resumed: Option<bool>,
    /// Client: whether the server accepted 0-RTT.
    pub zero_rtt_accepted: Option<bool>,
    /// Server: requests read before the handshake completed, so sent in 0-RTT.
    pub early_requests: usize,
    /// Server: requests answered.
    pub requests: usize,
    /// Client: files saved.
    pub files: usize,
    /// Client: body bytes received.
    pub bytes: u64,
    /// Client: body bytes received when the stack accepted our request to update keys.
    pub key_update_at: Option<u64>,
    /// Ours: the 1-RTT key phase bit at the end (one update flips it).
    pub key_phase: Option<bool>,
    /// Ours: the suite of the 1-RTT keys.
    pub suite: Option<quic_wire::crypto::Suite>,
    /// quinn: the integrity limit of its 1-RTT packet key, which names the AEAD
    /// (RFC 9001 §6.6).
    pub integrity_limit: Option<u64>,
    /// quinn: key updates its crypto session went through.
    pub key_updates: Option<usize>,
    /// Client: moved to its new local address, or to the server's preferred address.
    pub migrated: bool,
    /// The peer's address as this end last saw it.
    pub peer: Option<SocketAddr>,
    /// Whether this end validated the peer's current address (ours: `is_path_validated`;
    /// quinn: it sent PATH_CHALLENGE and received PATH_RESPONSE).
    pub path_validated: Option<bool>,
    /// Client: streams that had to wait for the server's stream credit (MAX_STREAMS).
    pub credit_waits: usize,
}

/// The client end of a cell: one connection at a time.
pub trait Client: Host {
    /// Opens a connection for `job`.
    fn connect(&mut self, now: Duration, job: Job) -> Result<(), String>;
    /// The application's turn: events, requests, reads. `Ok(true)` once every file of the
    /// job is saved (and the key update or migration it asks for was started).
    fn step(&mut self, now: Duration) -> Result<bool, String>;
    /// Closes the connection (application error 0).
    fn close(&mut self, now: Duration);
    /// Whether the connection is over (drained or removed).
    fn is_gone(&mut self) -> bool;
    /// Notes of every connection so far.
    fn notes(&self) -> Vec<Notes>;
}

/// The server end of a cell.
pub trait Server: Host {
    /// The application's turn for every connection.
    fn step(&mut self, now: Duration) -> Result<(), String>;
    /// Notes of every connection accepted, in order.
    fn notes(&self) -> Vec<Notes>;
}

/// Everything a cell ran with and saw, for [`crate::check`].
#[derive(Debug)]
pub struct Report {
    /// The case.
    pub case: Case,
    /// Client stack.
    pub client: Impl,
    /// Server stack.
    pub server: Impl,
    /// Files fetched per connection.
    pub jobs: Vec<Vec<String>>,
    /// The client's notes per connection.
    pub client_notes: Vec<Notes>,
    /// The server's notes per connection.
    pub server_notes: Vec<Notes>,
    /// Client to server, as seen on the wire.
    pub up: crate::net::WireStats,
    /// Server to client.
    pub down: crate::net::WireStats,
    /// Client to server when the last connection's downloads completed (before closing).
    pub up_at_done: crate::net::WireStats,
    /// Server to client when the last connection's downloads completed.
    pub down_at_done: crate::net::WireStats,
    /// Ticket counters.
    pub tickets_stored: usize,
    /// Tickets the client offered.
    pub tickets_offered: usize,
    /// Sessions the server resumed.
    pub server_resumed: usize,
    /// Virtual time the cell took.
    pub virtual_time: Duration,
    /// The server offered this preferred address (connectionmigration, RFC 9000 §9.6).
    pub preferred: Option<SocketAddr>,
}

/// Runs one cell.
pub fn run(opts: &Options) -> Outcome {
    if let Some(why) = unsupported(opts.case, opts.client, opts.server) {
        return Outcome::Unsupported(why);
    }
    match collect(opts) {
        Ok(report) => match check::check(&report) {
            Ok(summary) => Outcome::Pass(summary),
            Err(e) => Outcome::Fail(e),
        },
        Err(e) => Outcome::Fail(e),
    }
}

/// The regular files of `www`, by name.
fn read_www(www: &Path) -> Result<BTreeMap<String, Bytes>, String> {
    let mut files = BTreeMap::new();
    let entries = std::fs::read_dir(www).map_err(|e| format!("{}: {e}", www.display()))?;
    for e in entries {
        let e = e.map_err(|e| e.to_string())?;
        if !e.file_type().map_err(|e| e.to_string())?.is_file() {
            continue;
        }
        let name = e.file_name().to_string_lossy().into_owned();
        let data = std::fs::read(e.path()).map_err(|err| format!("{name}: {err}"))?;
        files.insert(name, Bytes::from(data));
    }
    if files.is_empty() {
        return Err(format!("{}: no files to serve", www.display()));
    }
    Ok(files)
}

/// The connections of a case: one, or two for resumption and zerortt.
/// `preferred`: the server offers a preferred address, so the client does not move by itself.
fn jobs(
    case: Case,
    names: Vec<String>,
    downloads: &Path,
    preferred: bool,
) -> Result<Vec<Job>, String> {
    let job = |files: Vec<String>, early: bool| Job {
        files,
        early,
        key_update: case == Case::KeyUpdate,
        migrate_to: (case == Case::ConnectionMigration && !preferred).then(addr::client_migrated),
        downloads: downloads.to_path_buf(),
    };
    if matches!(case, Case::Resumption | Case::ZeroRtt) {
        if names.len() < 2 {
            return Err(format!("{} needs at least two files", case.name()));
        }
        let mut first = names;
        let rest = first.split_off(1);
        return Ok(vec![job(first, false), job(rest, case == Case::ZeroRtt)]);
    }
    Ok(vec![job(names, false)])
}

/// Runs one cell and returns everything it saw, without judging it (that is
/// [`crate::check`]'s job); `Err` when the cell could not complete.
pub fn collect(opts: &Options) -> Result<Report, String> {
    let files = read_www(&opts.www)?;
    std::fs::create_dir_all(&opts.downloads)
        .map_err(|e| format!("{}: {e}", opts.downloads.display()))?;
    let pki = Pki::generate()?;
    let hooks = Arc::new(Hooks::default());
    let keylog = opts.keylog.as_deref();
    let case = opts.case;
    let client_tls = crate::tls::client_config(&pki, case, &hooks, keylog)?;
    let server_tls = crate::tls::server_config(&pki, case, &hooks, keylog)?;
    let retry = case == Case::Retry;
    let preferred = opts
        .offer_preferred
        .unwrap_or_else(|| case.preferred_address(opts.client));
    let offer = preferred.then(addr::server_preferred);
    let mut server: Box<dyn Server> = match opts.server {
        Impl::Ours => Box::new(ours::OurServer::new(
            server_tls,
            files.clone(),
            retry,
            offer,
        )?),
        Impl::Quinn => Box::new(quinn::QuinnServer::new(
            server_tls,
            files.clone(),
            retry,
            offer,
        )?),
    };
    let mut client: Box<dyn Client> = match opts.client {
        Impl::Ours => Box::new(ours::OurClient::new(client_tls)?),
        Impl::Quinn => Box::new(quinn::QuinnClient::new(client_tls, case)?),
    };
    let mut net = Net::new(crate::LINK_DELAY, addr::client());
    net.bleach_ecn = opts.bleach_ecn;

    let jobs = jobs(
        case,
        files.keys().cloned().collect(),
        &opts.downloads,
        preferred,
    )?;
    let wait_ticket = jobs.len() > 1;
    let mut at_done = (net.up, net.down);
    for (i, job) in jobs.iter().enumerate() {
        client.connect(net.now, job.clone())?;
        let start = net.now;
        let first_of_two = wait_ticket && i == 0;
        let mut done_at = None;
        drive(
            &mut net,
            client.as_mut(),
            server.as_mut(),
            start,
            |c, now| {
                if !c.step(now)? {
                    return Ok(false);
                }
                // The first of two connections stays until the server's ticket arrived.
                let since = *done_at.get_or_insert(now);
                let ticket = Hooks::get(&hooks.tickets_stored) > 0;
                Ok(!first_of_two || ticket || now - since >= TICKET_WAIT)
            },
        )
        .map_err(|e| format!("connection {}: {e}", i + 1))?;
        at_done = (net.up, net.down);
        client.close(net.now);
        let start = net.now;
        drive(&mut net, client.as_mut(), server.as_mut(), start, |c, _| {
            Ok(c.is_gone())
        })
        .map_err(|e| format!("connection {}: closing: {e}", i + 1))?;
    }
    // The caller compares the downloads with its own copy too; this catches a damaged body
    // even when the binary runs alone.
    for (name, body) in &files {
        let path = opts.downloads.join(name);
        let got = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        if got != body[..] {
            return Err(format!("{name}: the download differs from the served file"));
        }
    }
    Ok(Report {
        case,
        client: opts.client,
        server: opts.server,
        jobs: jobs.iter().map(|j| j.files.clone()).collect(),
        client_notes: client.notes(),
        server_notes: server.notes(),
        up: net.up,
        down: net.down,
        up_at_done: at_done.0,
        down_at_done: at_done.1,
        tickets_stored: Hooks::get(&hooks.tickets_stored),
        tickets_offered: Hooks::get(&hooks.tickets_offered),
        server_resumed: Hooks::get(&hooks.server_resumed),
        virtual_time: net.now,
        preferred: offer,
    })
}

/// Runs the loop until `done` says so, within [`CONNECTION_LIMIT`] of `start`.
fn drive(
    net: &mut Net,
    client: &mut dyn Client,
    server: &mut dyn Server,
    start: Duration,
    mut done: impl FnMut(&mut dyn Client, Duration) -> Result<bool, String>,
) -> Result<(), String> {
    let mut out = Vec::new();
    // Rounds in a row that neither moved a datagram nor the clock: a deadline that keeps
    // firing without effect would spin here forever.
    let mut idle = 0u32;
    for _ in 0..ROUND_LIMIT {
        let now = net.now;
        if now - start > CONNECTION_LIMIT {
            return Err(format!(
                "not done after {}s of virtual time",
                CONNECTION_LIMIT.as_secs()
            ));
        }
        if client.poll_timeout().is_some_and(|t| t <= now) {
            client.handle_timeout(now);
        }
        if server.poll_timeout().is_some_and(|t| t <= now) {
            server.handle_timeout(now);
        }
        server.step(now).map_err(|e| format!("server: {e}"))?;
        if done(client, now).map_err(|e| format!("client: {e}"))? {
            return Ok(());
        }
        client.poll_transmit(now, &mut out);
        let mut moved = !out.is_empty();
        for (d, at) in out.drain(..) {
            net.send(Way::Up, d, at);
        }
        server.poll_transmit(now, &mut out);
        moved |= !out.is_empty();
        for (d, at) in out.drain(..) {
            net.send(Way::Down, d, at);
        }
        let mut delivered = false;
        while let Some((way, d)) = net.pop_due() {
            deliver(net, way, d, client, server, now);
            delivered = true;
        }
        if delivered || moved {
            idle = 0;
            continue;
        }
        let next = [
            net.next_arrival(),
            client.poll_timeout(),
            server.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min();
        match next {
            Some(t) if t > now => {
                idle = 0;
                net.now = t;
            }
            Some(_) => {
                idle += 1;
                if idle > 1000 {
                    return Err(format!(
                        "a deadline at {now:?} keeps firing without effect (client {:?}, \
                         server {:?})",
                        client.poll_timeout(),
                        server.poll_timeout()
                    ));
                }
            }
            None => return Err("stalled: nothing in flight, no timer, not done".into()),
        }
    }
    Err(format!("no progress after {ROUND_LIMIT} rounds"))
}

/// Hands a datagram to the end that owns its destination; anything else is lost.
fn deliver(
    net: &mut Net,
    way: Way,
    d: Datagram,
    client: &mut dyn Client,
    server: &mut dyn Server,
    now: Duration,
) {
    let dst = d.dst;
    let owned = match way {
        Way::Up => server.owns(dst),
        Way::Down => client.owns(dst),
    };
    net.note_delivery(way, dst, owned);
    if !owned {
        return;
    }
    match way {
        Way::Up => server.handle_datagram(now, d),
        Way::Down => client.handle_datagram(now, d),
    }
}
