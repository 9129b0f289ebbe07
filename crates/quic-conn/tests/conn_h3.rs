//! HTTP/3 (quic-streams' session) running on our connections through `h3::Transport`.

mod util;

use bytes::Bytes;
use quic_conn::conn::{Config, Connection, Event};
use quic_streams::h3::{self, Field, H3};
use quic_streams::StreamEvent;
use quic_wire::{Side, StreamId};
use util::Pair;

/// Feeds every readable stream of `conn` (from the events since `seen`) to `h3`.
fn pump(
    conn: &mut Connection,
    events: &[Event],
    seen: &mut usize,
    session: &mut H3,
    out: &mut Vec<h3::Event>,
) {
    let mut ids: Vec<StreamId> = Vec::new();
    for e in &events[*seen..] {
        if let Event::Stream(StreamEvent::Readable { id } | StreamEvent::Opened { id }) = e {
            if !ids.contains(id) {
                ids.push(*id);
            }
        }
    }
    *seen = events.len();
    for id in ids {
        // Bounded by the data buffered in the connection.
        loop {
            let Ok(chunk) = conn.streams().read_chunk(id, 64 * 1024) else {
                break;
            };
            if chunk.data.is_empty() && !chunk.fin {
                break;
            }
            let fin = chunk.fin;
            session
                .on_stream_data(conn, id, chunk.data, fin)
                .expect("h3 input");
            if fin {
                break;
            }
        }
    }
    while let Some(e) = session.poll_event() {
        out.push(e);
    }
}

#[test]
fn an_http3_request_and_response_cross_the_connection() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.connect();
    let mut client = H3::new(Side::Client, h3::Config::default());
    let mut server = H3::new(Side::Server, h3::Config::default());
    client.start(&mut pair.client).expect("client start");
    server.start(pair.server()).expect("server start");
    let request = [
        Field::new(":method", "GET"),
        Field::new(":scheme", "https"),
        Field::new(":authority", "localhost"),
        Field::new(":path", "/"),
    ];
    let stream = client
        .send_request(&mut pair.client, &request, true)
        .expect("request");
    let (mut cseen, mut sseen) = (0, 0);
    let (mut cevents, mut sevents) = (Vec::new(), Vec::new());
    let mut responded = false;
    for _ in 0..50 {
        pair.drive();
        let events = std::mem::take(&mut pair.server_events);
        let s = pair.server.as_mut().expect("server");
        pump(s, &events, &mut sseen, &mut server, &mut sevents);
        pair.server_events = events;
        if !responded
            && sevents
                .iter()
                .any(|e| matches!(e, h3::Event::Request { .. }))
        {
            let s = pair.server.as_mut().expect("server");
            server
                .send_response(s, stream, &[Field::new(":status", "200")], false)
                .expect("response");
            server
                .send_data(s, stream, Bytes::from_static(b"hello"), true)
                .expect("body");
            responded = true;
        }
        let events = std::mem::take(&mut pair.client_events);
        pump(
            &mut pair.client,
            &events,
            &mut cseen,
            &mut client,
            &mut cevents,
        );
        pair.client_events = events;
        if cevents
            .iter()
            .any(|e| matches!(e, h3::Event::Finished { .. }))
        {
            break;
        }
    }
    let status = cevents.iter().find_map(|e| match e {
        h3::Event::Response { fields, .. } => fields
            .iter()
            .find(|f| &f.name[..] == b":status")
            .map(|f| f.value.clone()),
        _ => None,
    });
    assert_eq!(status, Some(Bytes::from_static(b"200")));
    let body: Vec<u8> = cevents
        .iter()
        .filter_map(|e| match e {
            h3::Event::Data { data, .. } => Some(data.to_vec()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(body, b"hello");
}
