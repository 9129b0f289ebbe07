#!/usr/bin/env python3
"""A small download client on aioquic with the command line of our h3-client example.

    aioquic_client.py [--ca CA.pem | --insecure] --downloads DIR [--alpn h3|hq-interop]
                      [--keylog FILE] [--qlog-dir DIR] URL...

Fetches every URL in parallel on one connection and saves each body as DIR/<basename>.
Without URLs it takes them from REQUESTS (space-separated). TESTCASE selects test-case
behaviour; unknown test cases exit with 127. The exit status is 0 only when every download
completed and the test case's own condition held (resumed session, 0-RTT accepted, key
update done, version 2 negotiated, Retry received, connection moved to the server's
preferred address).

resumption and zerortt follow the QUIC interop runner: the first URL is fetched on a first
connection, the others on a second one that resumes the session (zerortt: and sends its
requests as 0-RTT data).
"""

import argparse
import asyncio
import os
import ssl
import sys
import time
from urllib.parse import urlsplit

from aioquic.asyncio import QuicConnectionProtocol, connect
from aioquic.h0.connection import H0Connection
from aioquic.h3.connection import H3Connection
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ConnectionTerminated, HandshakeCompleted, StreamReset
from aioquic.quic.packet import QuicProtocolVersion
from aioquic.tls import Epoch

import peer_common


class Download:
    """One request in flight: its body so far and the future that settles with it."""

    def __init__(self, path, future):
        self.path = path
        self.future = future
        self.status = None
        self.body = bytearray()


class DownloadProtocol(QuicConnectionProtocol):
    """A client connection that runs GET requests over HTTP/3 or HTTP/0.9."""

    alpn = "hq-interop"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The client offers exactly one ALPN, so the HTTP layer can exist before the
        # handshake ends; requests sent early then go out as 0-RTT when a ticket allows.
        if self.alpn == "h3":
            self._http = H3Connection(self._quic)
        else:
            self._http = H0Connection(self._quic)
        self._downloads = {}
        self.handshake = None

    async def get(self, authority, path):
        """Sends one GET and returns the response body (raises on any failure)."""
        stream_id = self._quic.get_next_available_stream_id()
        download = Download(path, self._loop.create_future())
        self._downloads[stream_id] = download
        self._http.send_headers(
            stream_id,
            [
                (b":method", b"GET"),
                (b":scheme", b"https"),
                (b":authority", authority.encode()),
                (b":path", path.encode()),
            ],
            end_stream=True,
        )
        self.transmit()
        return await download.future

    def quic_event_received(self, event):
        if isinstance(event, HandshakeCompleted):
            self.handshake = event
        elif isinstance(event, StreamReset):
            self._fail(event.stream_id, f"stream reset with code {event.error_code}")
        elif isinstance(event, ConnectionTerminated):
            for stream_id in list(self._downloads):
                self._fail(
                    stream_id,
                    f"connection closed: {event.error_code:#x} {event.reason_phrase}",
                )
        for http_event in self._http.handle_event(event):
            self._on_http_event(http_event)

    def _on_http_event(self, event):
        download = self._downloads.get(event.stream_id)
        if download is None:
            return
        if isinstance(event, HeadersReceived):
            if isinstance(self._http, H3Connection):
                download.status = dict(event.headers).get(b":status", b"?").decode()
        elif isinstance(event, DataReceived):
            download.body += event.data
        if getattr(event, "stream_ended", False):
            del self._downloads[event.stream_id]
            if download.status not in (None, "200"):
                download.future.set_exception(
                    RuntimeError(f"{download.path}: HTTP status {download.status}")
                )
            else:
                download.future.set_result(bytes(download.body))

    def _fail(self, stream_id, reason):
        download = self._downloads.pop(stream_id, None)
        if download is not None and not download.future.done():
            download.future.set_exception(RuntimeError(f"{download.path}: {reason}"))


def make_config(args, case):
    config = QuicConfiguration(is_client=True, alpn_protocols=[args.alpn])
    if args.insecure:
        config.verify_mode = ssl.CERT_NONE
    elif args.ca:
        config.load_verify_locations(args.ca)
    peer_common.apply_common_options(config, args, case)
    return config


async def fetch(protocol, urls, downloads):
    """Fetches all URLs at once on one connection and saves them; returns failures."""

    async def one(url):
        parts = urlsplit(url)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        body = await protocol.get(parts.netloc, path)
        with open(os.path.join(downloads, peer_common.basename(parts.path)), "wb") as f:
            f.write(body)

    results = await asyncio.gather(*(one(u) for u in urls), return_exceptions=True)
    return [str(r) for r in results if isinstance(r, BaseException)]


async def run(args, case, urls):
    first = urlsplit(urls[0])
    host, port = first.hostname, first.port or 443
    DownloadProtocol.alpn = args.alpn
    problems = []

    if case in ("resumption", "zerortt"):
        tickets = []
        async with connect(
            host,
            port,
            configuration=make_config(args, case),
            create_protocol=DownloadProtocol,
            session_ticket_handler=tickets.append,
        ) as protocol:
            problems += await fetch(protocol, urls[:1], args.downloads)
            deadline = time.monotonic() + 5
            while not tickets and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
        if not tickets:
            return problems + ["no session ticket received on the first connection"]
        config = make_config(args, case)
        config.session_ticket = tickets[-1]
        early = case == "zerortt"
        async with connect(
            host,
            port,
            configuration=config,
            create_protocol=DownloadProtocol,
            wait_connected=not early,
        ) as protocol:
            problems += await fetch(protocol, urls[1:], args.downloads)
            # (the library's wait_connected() cannot be used once the handshake is over)
            deadline = time.monotonic() + 5
            while protocol.handshake is None and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            done = protocol.handshake
            if done is None or not done.session_resumed:
                problems.append("the second connection did not resume the session")
            if early and (done is None or not done.early_data_accepted):
                problems.append("the server did not accept 0-RTT data")
        return problems

    async with connect(
        host, port, configuration=make_config(args, case), create_protocol=DownloadProtocol
    ) as protocol:
        # The server address the connection started on (aioquic's first network path).
        start = protocol._quic._network_paths[0].addr
        if case == "keyupdate":
            protocol.request_key_update()
        problems += await fetch(protocol, urls, args.downloads)
        quic = protocol._quic
        if case == "keyupdate" and quic._cryptos[Epoch.ONE_RTT].recv.key_phase == 0:
            problems.append("no packet was received under updated keys")
        if case == "v2" and quic._version != QuicProtocolVersion.VERSION_2:
            problems.append(f"negotiated version {quic._version:#x}, not version 2")
        if case == "retry" and quic._retry_count == 0:
            problems.append("no Retry packet was received")
        if case == "connectionmigration":
            problems += await check_migrated(quic, start)
    return problems


async def check_migrated(quic, start):
    """connectionmigration: aioquic validates the server's preferred address once the
    handshake is confirmed and moves its first network path there (RFC 9000 section 9.6);
    waits a little for that if the downloads were faster, then checks it happened."""
    deadline = time.monotonic() + 2
    while quic._network_paths[0].addr == start and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    now = quic._network_paths[0].addr
    if now == start:
        return [f"the connection stayed on {start[:2]}: no move to a preferred address"]
    print(f"aioquic_client: migrated to {now[0]}:{now[1]} from {start[0]}:{start[1]}",
          file=sys.stderr)
    return []


def main():
    parser = argparse.ArgumentParser(description="aioquic download client for interop tests")
    trust = parser.add_mutually_exclusive_group()
    trust.add_argument("--ca", help="CA certificate(s) that sign the server's (PEM)")
    trust.add_argument("--insecure", action="store_true", help="do not verify the server")
    parser.add_argument("--downloads", required=True, help="directory to save bodies in")
    parser.add_argument("urls", nargs="*", metavar="URL")
    peer_common.add_common_options(parser)
    args = parser.parse_args()

    case = peer_common.test_case()
    peer_common.exit_if_unsupported(case, "aioquic_client", "client")
    if args.alpn is None:
        args.alpn = "h3" if case == "http3" else "hq-interop"
    urls = args.urls or os.environ.get("REQUESTS", "").split()
    if not urls:
        parser.error("no URL given (arguments or REQUESTS)")
    os.makedirs(args.downloads, exist_ok=True)

    try:
        problems = asyncio.run(run(args, case, urls))
    except Exception as e:  # a handshake failure, an unreachable server, ...
        problems = [f"{type(e).__name__}: {e}"]
    for p in problems[:20]:
        print(f"aioquic_client: {p}", file=sys.stderr)
    if len(problems) > 20:
        print(f"aioquic_client: ... and {len(problems) - 20} more", file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
