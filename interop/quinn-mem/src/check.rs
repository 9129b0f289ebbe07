//! Evidence that a cell's test case really took place, from both ends' APIs, rustls' ticket
//! hooks and the wire. A missing piece fails the cell, whatever the downloads say.
//!
//! Where quinn-proto's API cannot tell (it exposes neither its key phase, nor whether TLS
//! resumed, nor the negotiated cipher suite), the check relies on our end of the cell, on
//! quinn's crypto session as [`crate::quinn_tls`] watches it, and on what rustls reports
//! through the session stores both stacks use.

use std::net::SocketAddr;

use quic_wire::crypto::Suite;

use crate::quinn_tls::CHACHA20_INTEGRITY_LIMIT;
use crate::run::{Notes, Report};
use crate::{addr, Case, Impl, ALPN};

/// `Ok(summary)` when every file arrived and the case's evidence is there.
pub fn check(r: &Report) -> Result<String, String> {
    let mut facts = Vec::new();
    downloads(r)?;
    let files: usize = r.jobs.iter().map(Vec::len).sum();
    facts.push(format!("{files} files on {} connection(s)", r.jobs.len()));
    match r.case {
        Case::Multiplexing => {
            let waits: usize = r.client_notes.iter().map(|n| n.credit_waits).sum();
            need(waits > 0, "the client never waited for stream credit")?;
            facts.push(format!("{waits} stream credit waits"));
        }
        Case::ChaCha20 => {
            let suite = ours_notes(r).last().and_then(|n| n.suite);
            need(
                suite == Some(Suite::ChaCha20Poly1305),
                &format!("our end's 1-RTT keys are {suite:?}, not ChaCha20Poly1305"),
            )?;
            if let Some(limit) = quinn_notes(r).last().map(|n| n.integrity_limit) {
                need(
                    limit == Some(CHACHA20_INTEGRITY_LIMIT),
                    &format!(
                        "quinn's 1-RTT key has integrity limit {limit:?}, not ChaCha20's 2^36"
                    ),
                )?;
            }
            facts.push("1-RTT suite ChaCha20Poly1305 (both ends)".into());
        }
        Case::Retry => {
            need(r.down.retries > 0, "no Retry packet on the wire")?;
            need(
                r.up.initials_with_token > 0,
                "no client Initial carried the Retry token",
            )?;
            facts.push(format!("{} Retry packet(s)", r.down.retries));
        }
        Case::Resumption | Case::ZeroRtt => {
            resumption(r, &mut facts)?;
            if r.case == Case::ZeroRtt {
                zero_rtt(r, &mut facts)?;
            }
        }
        Case::KeyUpdate => {
            let n = &r.client_notes[0];
            let at = n
                .key_update_at
                .ok_or("the client never started a key update")?;
            need(
                at < n.bytes / 2,
                &format!("the key update started late ({at} of {} bytes)", n.bytes),
            )?;
            let phase = ours_notes(r).first().and_then(|n| n.key_phase);
            need(
                phase == Some(true),
                "our end's key phase did not change (RFC 9001 §6)",
            )?;
            if let Some(updates) = quinn_notes(r).first().map(|n| n.key_updates) {
                need(
                    updates.is_some_and(|u| u > 0),
                    &format!("quinn went through {updates:?} key updates"),
                )?;
            }
            facts.push(format!(
                "key update after {at} bytes, key phase 1, quinn updated too"
            ));
        }
        Case::Ecn => ecn(r, &mut facts)?,
        Case::ConnectionMigration => migration(r, &mut facts)?,
        Case::Handshake | Case::Transfer | Case::Http3 | Case::V2 => {}
    }
    facts.push(format!("{:.3}s virtual", r.virtual_time.as_secs_f64()));
    Ok(facts.join(", "))
}

fn need(ok: bool, why: &str) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(why.to_owned())
    }
}

/// Our end's notes, whichever role it played.
fn ours_notes(r: &Report) -> &[Notes] {
    if r.client == Impl::Ours {
        &r.client_notes
    } else if r.server == Impl::Ours {
        &r.server_notes
    } else {
        &[]
    }
}

/// quinn's notes, whichever role it played.
fn quinn_notes(r: &Report) -> &[Notes] {
    if r.client == Impl::Quinn {
        &r.client_notes
    } else if r.server == Impl::Quinn {
        &r.server_notes
    } else {
        &[]
    }
}

/// Every connection ran hq-interop and every file was saved and served.
fn downloads(r: &Report) -> Result<(), String> {
    need(
        r.client_notes.len() == r.jobs.len(),
        "the client made the wrong number of connections",
    )?;
    need(
        r.server_notes.len() == r.jobs.len(),
        &format!(
            "the server saw {} connection(s), expected {}",
            r.server_notes.len(),
            r.jobs.len()
        ),
    )?;
    for (i, (job, (c, s))) in r
        .jobs
        .iter()
        .zip(r.client_notes.iter().zip(&r.server_notes))
        .enumerate()
    {
        let alpn = Some(ALPN.to_vec());
        need(
            c.alpn == alpn && s.alpn == alpn,
            &format!("connection {}: ALPN is not hq-interop on both ends", i + 1),
        )?;
        need(
            c.files == job.len(),
            &format!(
                "connection {}: {} of {} files saved",
                i + 1,
                c.files,
                job.len()
            ),
        )?;
        need(
            s.requests == job.len(),
            &format!(
                "connection {}: the server answered {} of {} requests",
                i + 1,
                s.requests,
                job.len()
            ),
        )?;
    }
    Ok(())
}

fn resumption(r: &Report, facts: &mut Vec<String>) -> Result<(), String> {
    need(r.tickets_stored > 0, "the client got no session ticket")?;
    need(
        r.tickets_offered > 0,
        "the second connection offered no ticket",
    )?;
    need(
        r.server_resumed > 0,
        "the server's session store found no session to resume",
    )?;
    let ours = ours_notes(r);
    if !ours.is_empty() {
        let resumed: Vec<Option<bool>> = ours.iter().map(|n| n.resumed).collect();
        need(
            resumed == [Some(false), Some(true)],
            &format!("our end's is_resumed per connection: {resumed:?}, expected [false, true]"),
        )?;
    }
    facts.push("second connection resumed (both ends)".into());
    Ok(())
}

fn zero_rtt(r: &Report, facts: &mut Vec<String>) -> Result<(), String> {
    need(r.up.zero_rtt > 0, "no 0-RTT packet on the wire")?;
    let accepted = r.client_notes[1].zero_rtt_accepted;
    need(
        accepted == Some(true),
        &format!("the client's 0-RTT accepted: {accepted:?}"),
    )?;
    let early = r.server_notes[1].early_requests;
    need(
        early > 0,
        "the server read no request before its handshake completed",
    )?;
    facts.push(format!(
        "{} 0-RTT packets, {early} request(s) read before the handshake completed",
        r.up.zero_rtt
    ));
    Ok(())
}

/// RFC 9000 §13.4: both ends marked ECT(0), and still did when the downloads completed,
/// so neither end's ECN validation (§13.4.2) failed on the ACK frames' counts.
fn ecn(r: &Report, facts: &mut Vec<String>) -> Result<(), String> {
    // Both ends are judged, so that a failure names every end whose validation failed.
    let mut missing = Vec::new();
    for (who, s) in [("client", r.up_at_done), ("server", r.down_at_done)] {
        if s.ect0 == 0 {
            missing.push(format!("the {who} marked nothing ECT(0)"));
        } else if !s.last_short_ect0 {
            missing.push(format!(
                "the {who} stopped marking ECT(0): ECN validation failed"
            ));
        }
    }
    need(missing.is_empty(), &missing.join("; "))?;
    facts.push(format!(
        "ECT(0) on {} up / {} down datagrams, validated",
        r.up_at_done.ect0, r.down_at_done.ect0
    ));
    Ok(())
}

/// RFC 9000 §9: the client moved, the server followed and validated the new path; or,
/// with a preferred address offered (§9.6), the client validated it and moved there.
fn migration(r: &Report, facts: &mut Vec<String>) -> Result<(), String> {
    if let Some(preferred) = r.preferred {
        return preferred_address(r, preferred, facts);
    }
    let c = &r.client_notes[0];
    let s = &r.server_notes[0];
    need(c.migrated, "the client did not migrate")?;
    let new: SocketAddr = addr::client_migrated();
    need(
        s.peer == Some(new),
        &format!("the server's peer address is {:?}, not {new}", s.peer),
    )?;
    need(
        s.path_validated == Some(true),
        "the server did not validate the new path",
    )?;
    need(
        r.down.delivered_to[1] > 0,
        "nothing reached the client at its new address",
    )?;
    facts.push(format!(
        "migrated to {new}, {} datagrams delivered there, path validated",
        r.down.delivered_to[1]
    ));
    Ok(())
}

/// RFC 9000 §9.6.1: the client moved to the server's preferred address (its peer address
/// is that address when the downloads completed) and sent datagrams there that the server
/// received.
fn preferred_address(
    r: &Report,
    preferred: SocketAddr,
    facts: &mut Vec<String>,
) -> Result<(), String> {
    let c = &r.client_notes[0];
    need(
        c.migrated,
        "the client did not move to the preferred address",
    )?;
    need(
        c.peer == Some(preferred),
        &format!(
            "the client's peer address is {:?}, not the preferred address {preferred}",
            c.peer
        ),
    )?;
    let there = r.up_at_done.delivered_to[1];
    need(
        there > 0,
        "no datagram of the client reached the preferred address",
    )?;
    // Not required: RFC 9000 §9.6.2 has the server send from its preferred address once
    // it validated the client there, but quinn-proto 0.11 sends every datagram from the
    // local IP a connection was accepted on.
    facts.push(format!(
        "client moved to the preferred address {preferred}, {there} of {} datagrams to it, \
         {} server datagrams from it",
        there + r.up_at_done.delivered_to[0],
        r.down_at_done.sent_from_other
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::net::WireStats;

    /// A one-connection cell with one file where everything went right.
    fn report(case: Case) -> Report {
        let n = Notes {
            alpn: Some(ALPN.to_vec()),
            files: 1,
            requests: 1,
            bytes: 1000,
            ..Notes::default()
        };
        Report {
            case,
            client: Impl::Ours,
            server: Impl::Quinn,
            jobs: vec![vec!["f".into()]],
            client_notes: vec![n.clone()],
            server_notes: vec![n],
            up: WireStats::default(),
            down: WireStats::default(),
            up_at_done: WireStats::default(),
            down_at_done: WireStats::default(),
            tickets_stored: 0,
            tickets_offered: 0,
            server_resumed: 0,
            virtual_time: Duration::from_millis(100),
            preferred: None,
        }
    }

    #[test]
    fn a_plain_cell_passes_and_a_missing_file_fails_it() {
        assert!(check(&report(Case::Handshake)).is_ok());
        let mut r = report(Case::Handshake);
        r.client_notes[0].files = 0;
        assert!(check(&r).unwrap_err().contains("0 of 1 files"));
        let mut r = report(Case::Transfer);
        r.server_notes[0].alpn = Some(b"h3".to_vec());
        assert!(check(&r).unwrap_err().contains("ALPN"));
    }

    #[test]
    fn each_case_fails_without_its_evidence() {
        for case in [
            Case::Multiplexing,
            Case::ChaCha20,
            Case::Retry,
            Case::KeyUpdate,
            Case::Ecn,
            Case::ConnectionMigration,
        ] {
            assert!(check(&report(case)).is_err(), "{}", case.name());
        }
        let mut r = report(Case::Retry);
        r.down.retries = 1;
        assert!(check(&r).unwrap_err().contains("token"));
        r.up.initials_with_token = 1;
        assert!(check(&r).is_ok());
    }

    #[test]
    fn the_preferred_address_variant_needs_the_client_there() {
        let preferred = addr::server_preferred();
        let mut r = report(Case::ConnectionMigration);
        r.preferred = Some(preferred);
        assert!(check(&r).unwrap_err().contains("did not move"));
        r.client_notes[0].migrated = true;
        r.client_notes[0].peer = Some(addr::server());
        assert!(check(&r).unwrap_err().contains("not the preferred address"));
        r.client_notes[0].peer = Some(preferred);
        assert!(check(&r)
            .unwrap_err()
            .contains("reached the preferred address"));
        r.up_at_done.delivered_to = [3, 40];
        assert!(check(&r).unwrap().contains("40 of 43 datagrams"));
    }

    #[test]
    fn keyupdate_needs_both_ends() {
        let mut r = report(Case::KeyUpdate);
        r.client_notes[0].key_update_at = Some(10);
        r.client_notes[0].key_phase = Some(true);
        r.server_notes[0].key_updates = Some(0);
        assert!(check(&r).unwrap_err().contains("quinn went through"));
        r.server_notes[0].key_updates = Some(1);
        assert!(check(&r).is_ok());
        r.client_notes[0].key_update_at = Some(900);
        assert!(check(&r).unwrap_err().contains("late"));
    }
}
