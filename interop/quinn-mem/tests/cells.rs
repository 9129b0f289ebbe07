//! The interop cells between our stack and quinn-proto, both directions, run in-process:
//! each test serves generated files, runs one cell in memory and compares every download
//! byte for byte with what was served.

use std::path::PathBuf;

use quinn_interop::{addr, check, run, Case, Impl, Options, Outcome};

/// Deterministic, incompressible content: xorshift64* seeded from the name.
fn content(name: &str, len: usize) -> Vec<u8> {
    let mut x = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    }) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A fresh directory for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("quinn-interop-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `case` from `client` to `server` over `files` (name, size); returns the outcome,
/// after checking that a pass means every download equals its source.
fn cell(case: Case, client: Impl, server: Impl, files: &[(String, usize)]) -> Outcome {
    cell_with(case, client, server, files, false)
}

fn cell_with(
    case: Case,
    client: Impl,
    server: Impl,
    files: &[(String, usize)],
    bleach_ecn: bool,
) -> Outcome {
    let dir = scratch(&format!(
        "{}-{}-{}-{bleach_ecn}",
        case.name(),
        client.name(),
        server.name()
    ));
    let www = dir.join("www");
    let downloads = dir.join("downloads");
    std::fs::create_dir_all(&www).unwrap();
    for (name, size) in files {
        std::fs::write(www.join(name), content(name, *size)).unwrap();
    }
    let outcome = run(&Options {
        case,
        client,
        server,
        www,
        downloads: downloads.clone(),
        keylog: None,
        bleach_ecn,
        offer_preferred: None,
    });
    if let Outcome::Pass(_) = outcome {
        for (name, size) in files {
            let got = std::fs::read(downloads.join(name)).unwrap();
            assert!(got == content(name, *size), "{name} differs");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    outcome
}

fn files(prefix: &str, sizes: &[usize]) -> Vec<(String, usize)> {
    sizes
        .iter()
        .enumerate()
        .map(|(i, &s)| (format!("{prefix}-{i}"), s))
        .collect()
}

const MIB: usize = 1 << 20;
const BOTH: [(Impl, Impl); 2] = [(Impl::Ours, Impl::Quinn), (Impl::Quinn, Impl::Ours)];

/// Runs `case` both directions and expects a pass whose summary mentions `evidence`.
fn passes_both_ways(case: Case, files: &[(String, usize)], evidence: &str) {
    for (client, server) in BOTH {
        match cell(case, client, server, files) {
            Outcome::Pass(summary) => assert!(
                summary.contains(evidence),
                "{} {client:?} -> {server:?}: {summary}",
                case.name()
            ),
            other => panic!("{} {client:?} -> {server:?}: {other:?}", case.name()),
        }
    }
}

#[test]
fn handshake_both_ways() {
    passes_both_ways(
        Case::Handshake,
        &files("hs", &[1024, 5 * 1024, 10 * 1024]),
        "3 files on 1 connection",
    );
}

#[test]
fn transfer_of_several_megabytes_both_ways() {
    passes_both_ways(
        Case::Transfer,
        &files("transfer", &[2 * MIB, 3 * MIB]),
        "2 files on 1 connection",
    );
}

#[test]
fn multiplexing_waits_for_stream_credit_both_ways() {
    let many: Vec<(String, usize)> = (0..1200)
        .map(|i| (format!("mux-{i:04}"), 32 + (i * 37) % 2000))
        .collect();
    passes_both_ways(Case::Multiplexing, &many, "stream credit waits");
}

#[test]
fn chacha20_is_the_suite_in_use_both_ways() {
    passes_both_ways(
        Case::ChaCha20,
        &files("chacha", &[1500, 15_000]),
        "ChaCha20Poly1305",
    );
}

#[test]
fn retry_is_seen_on_the_wire_both_ways() {
    passes_both_ways(
        Case::Retry,
        &files("retry", &[4000, 40_000]),
        "Retry packet",
    );
}

#[test]
fn resumption_resumes_both_ways() {
    passes_both_ways(
        Case::Resumption,
        &files("resume", &[2000, 20_000, 50_000]),
        "resumed",
    );
}

/// Regression: a resuming quinn client greases the fixed bit of its Initials (RFC 9287);
/// our server dropped them until it accepted a cleared bit whenever it advertises
/// grease_quic_bit, and 0-RTT was lost.
#[test]
fn zerortt_requests_arrive_before_the_handshake_completes_both_ways() {
    passes_both_ways(
        Case::ZeroRtt,
        &files("zrtt", &[500, 1000, 2000, 4000]),
        "read before the handshake completed",
    );
}

/// Regression: after a key update our connection kept reporting the key-discard deadline
/// while closing, which `handle_timeout` never cleared (a driver would spin on it).
#[test]
fn keyupdate_changes_the_key_phase_both_ways() {
    passes_both_ways(Case::KeyUpdate, &files("ku", &[2 * MIB]), "key phase 1");
}

#[test]
fn ecn_marks_survive_validation_both_ways() {
    passes_both_ways(Case::Ecn, &files("ecn", &[100_000, 300_000]), "validated");
}

/// The ECN check can fail: a link that clears every mark makes both stacks' ECN
/// validation fail (RFC 9000 §13.4.2) as client and as server, and they stop marking.
#[test]
fn ecn_bleaching_link_fails_the_cell_both_ways() {
    for (client, server) in BOTH {
        let out = cell_with(
            Case::Ecn,
            client,
            server,
            &files("bleach", &[100_000, 300_000]),
            true,
        );
        match out {
            Outcome::Fail(why) => {
                // Each stack noticed, whichever role it played.
                assert!(why.contains("the client stopped marking"), "{why}");
                assert!(why.contains("the server stopped marking"), "{why}");
            }
            other => panic!("{client:?} -> {server:?}: {other:?}"),
        }
    }
}

/// The runner's meaning where the client can: our client moves to the preferred address
/// a quinn server offers (RFC 9000 §9.6). quinn's client cannot, so it moves to a new
/// local address itself and our server follows (§9.2, §9.3).
#[test]
fn connection_migration_moves_the_client_both_ways() {
    let files = files("migrate", &[MIB, 2 * MIB]);
    for (client, server, evidence) in [
        (
            Impl::Ours,
            Impl::Quinn,
            "client moved to the preferred address",
        ),
        (Impl::Quinn, Impl::Ours, "path validated"),
    ] {
        match cell(Case::ConnectionMigration, client, server, &files) {
            Outcome::Pass(summary) => assert!(summary.contains(evidence), "{summary}"),
            other => panic!("{client:?} -> {server:?}: {other:?}"),
        }
    }
}

/// Why quinn -> ours runs the active-migration variant: quinn-proto's client reads the
/// preferred_address our server offers (the transfer completes with it in the transport
/// parameters) but never moves there. When quinn learns to, this fails and the cell can
/// switch to the runner's meaning.
#[test]
fn a_quinn_client_does_not_move_to_our_servers_preferred_address() {
    let dir = scratch("quinn-ignores-preferred");
    let www = dir.join("www");
    std::fs::create_dir_all(&www).unwrap();
    for (name, size) in files("p", &[300_000, 30]) {
        std::fs::write(www.join(&name), content(&name, size)).unwrap();
    }
    let report = run::collect(&Options {
        case: Case::ConnectionMigration,
        client: Impl::Quinn,
        server: Impl::Ours,
        www,
        downloads: dir.join("downloads"),
        keylog: None,
        bleach_ecn: false,
        offer_preferred: Some(true),
    })
    .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(report.preferred, Some(addr::server_preferred()));
    assert_eq!(report.client_notes[0].files, 2);
    assert!(!report.client_notes[0].migrated);
    assert_eq!(report.client_notes[0].peer, Some(addr::server()));
    assert_eq!(
        report.up.delivered_to[1], 0,
        "nothing sent to the preferred address"
    );
    let why = check::check(&report).unwrap_err();
    assert!(
        why.contains("did not move to the preferred address"),
        "{why}"
    );
}

#[test]
fn http3_and_v2_are_unsupported_against_quinn() {
    for case in [Case::Http3, Case::V2] {
        for (client, server) in BOTH {
            let out = cell(case, client, server, &files("x", &[10]));
            assert!(
                matches!(&out, Outcome::Unsupported(why) if why.contains("quinn")),
                "{} {client:?} -> {server:?}: {out:?}",
                case.name()
            );
        }
    }
}

#[test]
fn a_missing_www_fails_the_cell() {
    let out = run(&Options {
        case: Case::Handshake,
        client: Impl::Ours,
        server: Impl::Quinn,
        www: scratch("missing").join("nope"),
        downloads: scratch("missing-dl"),
        keylog: None,
        bleach_ecn: false,
        offer_preferred: None,
    });
    assert!(matches!(out, Outcome::Fail(_)), "{out:?}");
}

/// What the watched quinn crypto session reports is real: no key update and AES-128-GCM's
/// integrity limit (2^52) in a plain cell, against ChaCha20's (2^36) and one key update in
/// the cases that ask for them.
#[test]
fn quinn_key_notes_tell_cases_apart() {
    let notes = |case: Case, client: Impl, server: Impl| {
        let dir = scratch(&format!("notes-{}-{}", case.name(), client.name()));
        let www = dir.join("www");
        std::fs::create_dir_all(&www).unwrap();
        std::fs::write(www.join("f"), content("f", 300_000)).unwrap();
        let report = quinn_interop::run::collect(&Options {
            case,
            client,
            server,
            www,
            downloads: dir.join("downloads"),
            keylog: None,
            bleach_ecn: false,
            offer_preferred: None,
        })
        .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        if client == Impl::Quinn {
            report.client_notes[0].clone()
        } else {
            report.server_notes[0].clone()
        }
    };
    for (client, server) in BOTH {
        let plain = notes(Case::Handshake, client, server);
        assert_eq!(plain.key_updates, Some(0));
        assert_eq!(plain.integrity_limit, Some(1 << 52));
        let chacha = notes(Case::ChaCha20, client, server);
        assert_eq!(chacha.integrity_limit, Some(1 << 36));
        let updated = notes(Case::KeyUpdate, client, server);
        assert_eq!(updated.key_updates, Some(1));
    }
}

/// Virtual time, a fixed-size certificate signature and ordered application state make a
/// cell repeat itself: the same datagrams each way and the same virtual duration.
#[test]
fn a_cell_repeats_itself_exactly() {
    for (client, server) in BOTH {
        let once = || {
            let dir = scratch(&format!("repeat-{}", client.name()));
            let www = dir.join("www");
            std::fs::create_dir_all(&www).unwrap();
            for (name, size) in files("r", &[200_000, 700_000, 30]) {
                std::fs::write(www.join(&name), content(&name, size)).unwrap();
            }
            let r = quinn_interop::run::collect(&Options {
                case: Case::Transfer,
                client,
                server,
                www,
                downloads: dir.join("downloads"),
                keylog: None,
                bleach_ecn: false,
                offer_preferred: None,
            })
            .unwrap();
            let _ = std::fs::remove_dir_all(&dir);
            (r.virtual_time, r.up, r.down)
        };
        assert_eq!(once(), once(), "{client:?} -> {server:?}");
    }
}
