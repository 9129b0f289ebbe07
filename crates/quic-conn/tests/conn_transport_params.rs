//! Transport parameters: the connection-ID authentication of RFC 9000 §7.3 and the
//! values each side applies.

mod util;

use quic_conn::conn::{Config, ConnectionError};
use quic_conn::tls::{Keys, Session, TlsConfig, TlsError};
use quic_wire::codec::Writer;
use quic_wire::{ConnectionId, Side, TransportErrorCode, TransportParameters, Version};
use util::Pair;

/// A TLS configuration that rewrites the transport parameters it is asked to send.
struct Tamper<T> {
    inner: T,
    edit: fn(&mut TransportParameters),
}

impl<T: TlsConfig> TlsConfig for Tamper<T> {
    fn start_session(
        &self,
        side: Side,
        version: Version,
        params: &[u8],
        server_name: Option<&str>,
    ) -> Result<Box<dyn Session>, TlsError> {
        let mut tp = TransportParameters::decode(params, side).expect("our own parameters");
        (self.edit)(&mut tp);
        let mut out = vec![0u8; tp.encoded_len()];
        let mut w = Writer::new(&mut out);
        tp.encode(&mut w).expect("encode");
        self.inner.start_session(side, version, &out, server_name)
    }

    fn initial_keys(&self, v: Version, dcid: &ConnectionId, side: Side) -> Result<Keys, TlsError> {
        self.inner.initial_keys(v, dcid, side)
    }
}

fn fake_cid() -> Option<ConnectionId> {
    Some(ConnectionId::new(&[0xee; 8]).expect("cid"))
}

fn closed_with_tp_error(err: Option<&ConnectionError>) {
    match err {
        Some(ConnectionError::Transport(e)) => {
            assert_eq!(
                e.code,
                TransportErrorCode::TRANSPORT_PARAMETER_ERROR,
                "{e:?}"
            )
        }
        other => panic!("expected TRANSPORT_PARAMETER_ERROR, got {other:?}"),
    }
}

fn pair_with(
    client_edit: Option<fn(&mut TransportParameters)>,
    server_edit: Option<fn(&mut TransportParameters)>,
) -> Pair {
    let (c, s) = util::tls_configs(0);
    let noop: fn(&mut TransportParameters) = |_| {};
    let c = Tamper {
        inner: c,
        edit: client_edit.unwrap_or(noop),
    };
    let s = Tamper {
        inner: s,
        edit: server_edit.unwrap_or(noop),
    };
    let mut pair = Pair::with_tls(Config::default(), Config::default(), (c, s));
    pair.drive();
    pair
}

#[test]
fn server_source_cid_mismatch_is_a_transport_parameter_error() {
    let pair = pair_with(
        None,
        Some(|tp| tp.initial_source_connection_id = fake_cid()),
    );
    closed_with_tp_error(pair.client.error());
}

#[test]
fn missing_original_destination_cid_is_a_transport_parameter_error() {
    let pair = pair_with(
        None,
        Some(|tp| tp.original_destination_connection_id = None),
    );
    closed_with_tp_error(pair.client.error());
}

#[test]
fn wrong_original_destination_cid_is_a_transport_parameter_error() {
    let pair = pair_with(
        None,
        Some(|tp| tp.original_destination_connection_id = fake_cid()),
    );
    closed_with_tp_error(pair.client.error());
}

#[test]
fn client_source_cid_mismatch_is_a_transport_parameter_error() {
    let mut pair = pair_with(
        Some(|tp| tp.initial_source_connection_id = fake_cid()),
        None,
    );
    closed_with_tp_error(pair.server().error());
}

#[test]
fn missing_client_source_cid_is_a_transport_parameter_error() {
    let mut pair = pair_with(Some(|tp| tp.initial_source_connection_id = None), None);
    closed_with_tp_error(pair.server().error());
}

#[test]
fn the_smaller_idle_timeout_wins() {
    let client = Config {
        idle_timeout: Some(std::time::Duration::from_secs(3)),
        ..Config::default()
    };
    let server = Config {
        idle_timeout: Some(std::time::Duration::from_secs(20)),
        ..Config::default()
    };
    let mut pair = Pair::new(client, server);
    pair.connect();
    let start = pair.now;
    assert!(pair.drive_bounded(100_000, std::time::Duration::from_secs(60)));
    assert_eq!(pair.server().error(), Some(&ConnectionError::TimedOut));
    let waited = pair.now.saturating_duration_since(start);
    assert!(
        waited < std::time::Duration::from_secs(5),
        "server waited {waited:?}"
    );
}
