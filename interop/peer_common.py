"""Pieces shared by aioquic_client.py and aioquic_server.py.

Both programs follow the command-line contract of our h3-client / h3-server examples
(see interop/README.md): the QUIC interop runner's TESTCASE variable, --alpn, --keylog
(or SSLKEYLOGFILE) and --qlog-dir (or QLOGDIR).
"""

import os
import sys

from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.logger import QuicFileLogger
from aioquic.quic.packet import QuicProtocolVersion
from aioquic.tls import CipherSuite

# Exit status that tells the harness "this test case is not implemented here".
EXIT_UNSUPPORTED = 127

# Test cases these programs know how to run. Anything else exits with 127.
SUPPORTED_CASES = {
    "handshake",
    "transfer",
    "multiplexing",
    "http3",
    "chacha20",
    "retry",
    "resumption",
    "zerortt",
    "keyupdate",
    "v2",
    "connectionmigration",
}

# Test cases one role cannot run, with the reason printed before exiting with 127.
UNSUPPORTED_BY_ROLE = {
    ("server", "connectionmigration"): (
        "aioquic's server cannot offer a preferred_address: QuicConnection never puts one "
        "in its transport parameters and its asyncio server has one socket"
    ),
}

ALPNS = ("h3", "hq-interop")


def test_case() -> str:
    """The TESTCASE variable; an unset variable means a plain transfer."""
    return os.environ.get("TESTCASE", "") or "transfer"


def exit_if_unsupported(case: str, who: str, role: str) -> None:
    """Exits with 127 when `role` ("client" or "server") cannot run `case`."""
    why = UNSUPPORTED_BY_ROLE.get((role, case))
    if case not in SUPPORTED_CASES or why:
        reason = f": {why}" if why else ""
        print(f"{who}: test case {case!r} is not supported{reason}", file=sys.stderr)
        sys.exit(EXIT_UNSUPPORTED)


def add_common_options(parser) -> None:
    parser.add_argument(
        "--alpn",
        choices=ALPNS,
        help="application protocol: h3 (HTTP/3) or hq-interop (HTTP/0.9 over QUIC)",
    )
    parser.add_argument("--keylog", help="append TLS secrets to this file (NSS format)")
    parser.add_argument("--qlog-dir", help="write one qlog file per connection here")


def apply_common_options(config: QuicConfiguration, args, case: str) -> None:
    """Fills in keylog, qlog and the cipher/version choices a test case asks for."""
    keylog = args.keylog or os.environ.get("SSLKEYLOGFILE")
    if keylog:
        config.secrets_log_file = open(keylog, "a")
    qlog_dir = args.qlog_dir or os.environ.get("QLOGDIR")
    if qlog_dir:
        os.makedirs(qlog_dir, exist_ok=True)
        config.quic_logger = QuicFileLogger(qlog_dir)
    if case == "chacha20":
        config.cipher_suites = [CipherSuite.CHACHA20_POLY1305_SHA256]
    if case == "v2":
        # Start in version 1 and offer version 2 so that the server can switch to it
        # (compatible version negotiation, RFC 9368).
        config.original_version = QuicProtocolVersion.VERSION_1
        config.supported_versions = [
            QuicProtocolVersion.VERSION_2,
            QuicProtocolVersion.VERSION_1,
        ]


def basename(path: str) -> str:
    """The file name a download of `path` is saved under."""
    name = path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return name or "index.html"
