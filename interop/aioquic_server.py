#!/usr/bin/env python3
"""A small file server on aioquic with the command line of our h3-server example.

    aioquic_server.py --listen ADDR:PORT --cert CERT.pem --key KEY.pem --www DIR [--retry]
                      [--alpn h3|hq-interop] [--keylog FILE] [--qlog-dir DIR]

It answers GET requests with the files of DIR, over HTTP/3 (ALPN h3) or HTTP/0.9 over QUIC
(ALPN hq-interop: the request is "GET /path\\r\\n" on a bidirectional stream and the reply
is the bare file). Without --alpn it offers both. TESTCASE selects test-case behaviour
(retry: address validation with a Retry packet; chacha20: only that cipher suite);
unknown test cases exit with 127. It runs until SIGTERM or SIGINT. For each connection it
prints one "handshake done" line to stderr (version, ALPN, resumption, 0-RTT, Retry).
"""

import argparse
import asyncio
import os
import signal
import sys

from aioquic.asyncio import QuicConnectionProtocol, serve
from aioquic.h0.connection import H0Connection
from aioquic.h3.connection import H3Connection
from aioquic.h3.events import HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import HandshakeCompleted, ProtocolNegotiated

import peer_common

# HTTP/3 error code H3_REQUEST_REJECTED, used to reset hq-interop requests we cannot serve.
HQ_NOT_FOUND = 0x10B


class FileServerProtocol(QuicConnectionProtocol):
    """One server-side connection: picks HTTP/3 or HTTP/0.9 once ALPN is known."""

    www = "."
    # Handshakes completed, so that shutdown can wait for their qlog files.
    handshakes = 0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._http = None

    def quic_event_received(self, event):
        if isinstance(event, HandshakeCompleted):
            FileServerProtocol.handshakes += 1
            # One line per connection that the harness reads as evidence for the test
            # cases that change the handshake (retry, resumption, zerortt, v2).
            quic = self._quic
            print(
                f"aioquic_server: handshake done: version={quic._version:#x}"
                f" alpn={event.alpn_protocol} resumed={event.session_resumed}"
                f" early_data={event.early_data_accepted}"
                f" retry={quic._retry_source_connection_id is not None}",
                file=sys.stderr,
                flush=True,
            )
        if isinstance(event, ProtocolNegotiated):
            if event.alpn_protocol == "h3":
                self._http = H3Connection(self._quic)
            else:
                self._http = H0Connection(self._quic)
        if self._http is None:
            return
        for http_event in self._http.handle_event(event):
            if isinstance(http_event, HeadersReceived):
                self._answer(http_event)

    def _answer(self, request):
        headers = dict(request.headers)
        method = headers.get(b":method", b"")
        path = headers.get(b":path", b"/").decode("utf-8", "replace")
        body = self._read(path) if method == b"GET" else None
        stream_id = request.stream_id
        if isinstance(self._http, H3Connection):
            status = b"200" if body is not None else b"404"
            body = body if body is not None else b"not found\n"
            self._http.send_headers(
                stream_id,
                [(b":status", status), (b"content-length", str(len(body)).encode())],
            )
            self._http.send_data(stream_id, body, end_stream=True)
        elif body is None:
            self._quic.reset_stream(stream_id, HQ_NOT_FOUND)
        else:
            self._http.send_data(stream_id, body, end_stream=True)
        self.transmit()

    def _read(self, path):
        """The bytes of the file `path` names under the www directory, or None."""
        relative = path.split("?", 1)[0].lstrip("/")
        root = os.path.realpath(self.www)
        full = os.path.realpath(os.path.join(root, relative))
        if not full.startswith(root + os.sep) or not os.path.isfile(full):
            return None
        with open(full, "rb") as f:
            return f.read()


class TicketStore:
    """Keeps the session tickets we issue, so that clients can resume (and send 0-RTT)."""

    def __init__(self):
        self._tickets = {}

    def add(self, ticket):
        self._tickets[ticket.ticket] = ticket

    def take(self, label):
        # One use per ticket: a replayed ticket is not resumed.
        return self._tickets.pop(label, None)


def parse_listen(value):
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected ADDR:PORT, got {value!r}")
    return host.strip("[]"), int(port)


async def main(args, case):
    config = QuicConfiguration(is_client=False)
    config.alpn_protocols = [args.alpn] if args.alpn else list(peer_common.ALPNS)
    config.load_cert_chain(args.cert, args.key)
    peer_common.apply_common_options(config, args, case)

    FileServerProtocol.www = args.www
    tickets = TicketStore()
    host, port = args.listen
    server = await serve(
        host,
        port,
        configuration=config,
        create_protocol=FileServerProtocol,
        session_ticket_fetcher=tickets.take,
        session_ticket_handler=tickets.add,
        retry=args.retry or case == "retry",
    )

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"aioquic_server: listening on {host}:{port} ({case})", file=sys.stderr)
    await stop.wait()
    server.close()
    # Let the CONNECTION_CLOSE frames and qlog files go out. aioquic writes a connection's
    # qlog file only when the connection has ended (after its closing or draining period),
    # and the harness reads them as evidence: wait for one per handshake, within the
    # harness's grace period.
    qlog_dir = args.qlog_dir or os.environ.get("QLOGDIR")
    deadline = loop.time() + 1.5
    while True:
        await asyncio.sleep(0.05)
        if not qlog_dir or loop.time() >= deadline:
            break
        written = [f for f in os.listdir(qlog_dir) if f.endswith(".qlog")]
        if len(written) >= FileServerProtocol.handshakes:
            break


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="aioquic file server for interop tests")
    parser.add_argument("--listen", type=parse_listen, required=True, help="ADDR:PORT")
    parser.add_argument("--cert", required=True, help="certificate chain (PEM)")
    parser.add_argument("--key", required=True, help="private key (PEM)")
    parser.add_argument("--www", required=True, help="directory of files to serve")
    parser.add_argument("--retry", action="store_true", help="validate addresses with Retry")
    peer_common.add_common_options(parser)
    arguments = parser.parse_args()
    testcase = peer_common.test_case()
    peer_common.exit_if_unsupported(testcase, "aioquic_server", "server")
    asyncio.run(main(arguments, testcase))
