//! What an established, idle connection keeps: the heap a client and a server hold after
//! the handshake is confirmed and everything is acknowledged, measured by a counting global
//! allocator, plus the inline size of the two `Connection` values (an endpoint keeps its
//! connections inline in a hash table).
//!
//! Where the bound comes from (x86_64, default `Config`, rustls 0.23 with the ring
//! provider, AES-128-GCM, a self-signed P-256 certificate, no resumption state): the pair
//! measured 16,640 heap bytes plus 2 x 1,816 inline, 20,272 in all, when this test was
//! written. The largest parts: the 1-RTT packet and header keys (3.3 KB, ring's AES and
//! GHASH tables), the two paths with their application-space recovery (about 2.7 KB), the
//! boxed configuration, transport parameters and key spaces (3.4 KB), one application-space
//! sent-packet ring that never empties (it ends with ACK-only packets; 1.2 KB). Before this
//! memory work the same pair held about 45 KB: a 16-slot sent-packet ring and a 65-range
//! receive history allocated up front per space (about 9 KB more for the pair), the whole
//! rustls connection kept for the connection's life (9 KB more, measured by turning the
//! release off), Initial and Handshake recovery state inline in every path, and a
//! 4,064-byte `Connection`. The bound, 23,000 bytes, leaves about 13% for platform and
//! dependency differences (rustls and ring versions) and fails if the TLS release or the
//! lazy rings are lost.
//!
//! A counting `#[global_allocator]` needs `unsafe impl GlobalAlloc`; the package's lint
//! table sets `unsafe_code = "deny"` (not the workspace's `forbid`) so that this file alone
//! can allow it. The library keeps `#![forbid(unsafe_code)]` in `lib.rs`.
#![cfg(feature = "rustls")]
#![allow(unsafe_code)]

mod util;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;

use quic_conn::conn::{Config, Connection};
use quic_conn::tls::rustls::RustlsConfig;
use util::{tls_configs, Pair};

// Bytes allocated minus bytes freed, per thread: tests running in parallel threads do not
// disturb each other. Const-initialised cells without destructors never allocate.
thread_local! {
    static CURRENT: Cell<i64> = const { Cell::new(0) };
}

fn count(delta: i64) {
    // `try_with` fails only while the thread is torn down; nothing is measured then.
    let _ = CURRENT.try_with(|c| c.set(c.get() + delta));
}

struct Counting;

// SAFETY: every method forwards its arguments unchanged to `System`, which upholds the
// `GlobalAlloc` contract; counting touches only a const-initialised thread-local cell,
// which does not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            count(layout.size() as i64);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            count(layout.size() as i64);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` (through this type) with this `layout`.
        unsafe { System.dealloc(ptr, layout) };
        count(-(layout.size() as i64));
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` and `layout` come from this allocator; the caller upholds the rest.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            count(new_size as i64 - layout.size() as i64);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn current() -> i64 {
    CURRENT.with(Cell::get)
}

/// The heap a confirmed, idle client and server hold between them, and the two
/// connections.
fn idle_pair() -> (i64, Connection, Connection) {
    // The TLS configurations are shared by every connection of an endpoint: made first,
    // not counted. Neither end keeps sessions for resumption: the client's ticket cache and
    // the server's session cache are shared, bounded stores, not per-connection state.
    let (client_tls, server_tls) = tls_configs(0);
    let (RustlsConfig::Client(c), RustlsConfig::Server(s)) = (client_tls, server_tls) else {
        unreachable!("tls_configs returns a client and a server configuration")
    };
    let mut c = (*c).clone();
    c.resumption = rustls::client::Resumption::disabled();
    let mut s = (*s).clone();
    s.send_tls13_tickets = 0;
    s.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    let tls = (
        RustlsConfig::Client(Arc::new(c)),
        RustlsConfig::Server(Arc::new(s)),
    );
    let before = current();
    let mut pair = Pair::with_tls(Config::default(), Config::default(), tls);
    pair.connect();
    assert!(pair.client.is_handshake_confirmed(), "client confirmed");
    assert!(
        pair.drive(),
        "settles: everything acknowledged, no timer within 1 s"
    );
    let Pair { client, server, .. } = pair;
    // The harness (its wire queue, event logs, the server's TLS configuration) is gone;
    // only the two connections are left.
    let server = server.expect("server accepted");
    assert!(client.is_established() && server.is_established());
    (current() - before, client, server)
}

#[test]
fn an_idle_connection_pair_holds_less_than_23_kb() {
    let (heap, client, server) = idle_pair();
    let inline = 2 * std::mem::size_of::<Connection>() as i64;
    let total = heap + inline;
    assert!(
        total < 23_000,
        "idle pair: {heap} heap bytes + {inline} inline = {total}"
    );
    // The measurement is real: the pair holds its keys, streams and recovery state.
    assert!(heap > 4_000, "idle pair: {heap} heap bytes");
    drop((client, server));
}

/// The connection stays small inline: its large, rarely used parts are boxed. 2,300 bytes
/// leave about 5% over the 2,176 measured (2,040 before the stream map's four windows
/// replaced a hash table); before the boxing, it was 4,064. An endpoint keeps each
/// connection in its own allocation of this size.
#[test]
fn a_connection_is_under_2300_bytes_inline() {
    let size = std::mem::size_of::<Connection>();
    assert!(size < 2_300, "size_of::<Connection>() = {size}");
}

/// Dropping a connection pair gives back what it held: nothing is left behind in shared
/// state, so the idle figure above is all of it.
#[test]
fn dropping_an_idle_pair_frees_its_heap() {
    let before = current();
    let (heap, client, server) = idle_pair();
    assert!(heap > 0);
    drop((client, server));
    assert!(
        current() - before <= 0,
        "{} bytes left after the drop",
        current() - before
    );
}
