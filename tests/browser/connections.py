"""Every connection Chromium opens, recorded by a local listener that answers nothing.

``page.route`` sees the requests a page makes through the fetch machinery, not the sockets the
browser opens by itself: ``<link rel=preconnect>``, speculation-rules prefetches, learned
preconnects. So the browser is launched with a host resolver rule that maps every name (and
every IP literal, and every port) but 127.0.0.1 to this listener: no name is looked up, no packet
leaves the machine, and each connection attempt arrives here, where its first bytes say where it
was going: the TLS ClientHello's server name, the ``Host`` of a plain HTTP request or a
WebSocket handshake, the target of a ``CONNECT``. Then the listener closes the connection, so the
browser gets an error and nothing else. A UDP socket on the same port records datagrams (QUIC,
WebRTC's STUN to a host name) the same way, by their mere arrival.

What cannot be named is still recorded, with an empty host: an ``http://`` preconnect sends no
byte (a TCP connection only), a TLS connection to an IP literal has no server name. A test that
asserts "nothing was contacted" counts those too. To tell a vendor's unnamed contact from
anyone else's, the hosts given as ``vendor_hosts`` (and their subdomains) are mapped to a port
of their own: a contact that arrives there is a vendor's (``Contact.vendor``), named or not.

A ``<link rel=dns-prefetch>`` opens no connection: Chromium only resolves the name, and under
the resolver rule the answer is made in the browser without a lookup, so there is nothing to
record (Chromium's net log shows only the mapped address, 127.0.0.1, either).
"""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

# Chromium's own connections on start-up, each stopped by pointing its service at a closed local
# port (found by launching Chromium on about:blank with this listener; with both switches a
# fresh profile opens no connection in 8 s):
# - the component updater's on-demand check (update.googleapis.com/service/update2/json) that
#   --disable-component-update does not stop;
# - Gaia's account list (accounts.google.com), retried with a back-off.
OWN_SERVICES_OFF = (
    "--component-updater=url-source=http://127.0.0.1:9",
    "--gaia-url=http://127.0.0.1:9",
)
FIRST_BYTES_TIMEOUT = 1.0  # an http:// preconnect sends nothing: give up on its first bytes
MAX_HELLO = 16 * 1024 + 5  # one TLS record


@dataclass(frozen=True, slots=True)
class Contact:
    """One connection attempt (or datagram) that reached the listener."""

    host: str  # "" when the first bytes do not name one
    kind: str  # "tls", "http", "connect", "tcp" (no byte sent), "udp"
    detail: str  # the request line of plain HTTP, else ""
    at: float
    vendor: bool = False  # arrived at the port the vendor hosts are mapped to

    def __str__(self) -> str:
        text = f"{self.kind} {self.host or '?'} {self.detail}".rstrip()
        return f"{text} (vendor)" if self.vendor else text


class ConnectionLog:
    """The listener and its record. A context manager: one per test session."""

    def __init__(self, vendor_hosts: Iterable[str] = ()) -> None:
        self.vendor_hosts = sorted(set(vendor_hosts))
        self._tcp = listening_socket(0)
        self.port = self._tcp.getsockname()[1]
        self._vendor_tcp = listening_socket(0)
        self.vendor_port = self._vendor_tcp.getsockname()[1]
        self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._udp.bind(("127.0.0.1", self.port))
        self._lock = threading.Lock()
        self._contacts: list[Contact] = []
        self._threads = [
            threading.Thread(target=self._accept, args=(self._tcp, False), daemon=True),
            threading.Thread(target=self._accept, args=(self._vendor_tcp, True), daemon=True),
            threading.Thread(target=self._datagrams, daemon=True),
        ]

    def __enter__(self) -> ConnectionLog:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for sock in (self._tcp, self._vendor_tcp, self._udp):
            # A UDP socket, or one already closed, has nothing to wake.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in self._threads:
            thread.join(2)

    def chromium_args(self) -> list[str]:
        """The switches that send every connection here (and stop Chromium's own)."""
        # The first rule that matches wins: the vendors' before the catch-all.
        vendors = [
            f"MAP {pattern} 127.0.0.1:{self.vendor_port}"
            for host in self.vendor_hosts
            for pattern in (host, f"*.{host}")
        ]
        rules = ", ".join([*vendors, f"MAP * 127.0.0.1:{self.port}", "EXCLUDE 127.0.0.1"])
        return [f"--host-resolver-rules={rules}", *OWN_SERVICES_OFF]

    # The record

    def mark(self) -> float:
        """Now, for ``since``: a contact belongs to the time it was accepted, not to when its
        first bytes arrived (a bare preconnect is recorded only after FIRST_BYTES_TIMEOUT,
        maybe after the next test has begun)."""
        return time.monotonic()

    def since(self, mark: float = 0.0) -> list[Contact]:
        with self._lock:
            return [c for c in self._contacts if c.at >= mark]

    def hosts(self, mark: float = 0.0) -> set[str]:
        return {c.host for c in self.since(mark)}

    def wait_for(self, hosts: set[str], mark: float = 0.0, timeout: float = 8.0) -> None:
        """Until every host in ``hosts`` has been contacted since ``mark``."""
        deadline = time.monotonic() + timeout
        while not hosts <= self.hosts(mark):
            if time.monotonic() > deadline:
                missing = sorted(hosts - self.hosts(mark))
                raise AssertionError(f"never contacted: {missing}; got {self.since(mark)}")
            time.sleep(0.02)

    def _add(self, contact: Contact) -> None:
        with self._lock:
            self._contacts.append(contact)

    # The listener

    def _accept(self, listener: socket.socket, vendor: bool) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return  # closed
            at = time.monotonic()
            threading.Thread(target=self._read, args=(conn, at, vendor), daemon=True).start()

    def _read(self, conn: socket.socket, at: float, vendor: bool) -> None:
        with conn:
            conn.settimeout(FIRST_BYTES_TIMEOUT)
            data = b""
            try:
                while not complete(data):
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
            except OSError:
                pass  # a timeout (a bare preconnect) or a reset: what arrived says what it can
        self._add(dataclasses.replace(identify(data, at), vendor=vendor))

    def _datagrams(self) -> None:
        while True:
            try:
                self._udp.recvfrom(65536)
            except OSError:
                return
            self._add(Contact("", "udp", "", time.monotonic()))


def listening_socket(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    return sock


def complete(data: bytes) -> bool:
    """Enough of the first bytes to name the host: a whole TLS record, or HTTP headers."""
    if data[:1] == b"\x16":
        return len(data) >= 5 and len(data) >= 5 + int.from_bytes(data[3:5], "big")
    return b"\r\n\r\n" in data or len(data) > MAX_HELLO


def identify(data: bytes, at: float) -> Contact:
    if not data:
        return Contact("", "tcp", "", at)
    if data[:1] == b"\x16":
        return Contact(server_name(data), "tls", "", at)
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    request_line, *fields = head.split("\r\n")
    method, _, rest = request_line.partition(" ")
    if method == "CONNECT":
        return Contact(host_of(rest.split(" ", 1)[0]), "connect", "", at)
    headers = dict(f.split(":", 1) for f in fields if ":" in f)
    host = next((v.strip() for k, v in headers.items() if k.strip().lower() == "host"), "")
    return Contact(host_of(host), "http", request_line, at)


def host_of(authority: str) -> str:
    """The host of ``host[:port]`` or ``[v6]:port``, lowercased."""
    if authority.startswith("["):
        return authority[1:].split("]", 1)[0].lower()
    return authority.rsplit(":", 1)[0].lower() if authority.count(":") == 1 else authority.lower()


def server_name(record: bytes) -> str:
    """The server_name extension of a TLS ClientHello (RFC 8446 4.1.2, RFC 6066 3); "" when
    there is none (an IP literal) or the record is not one."""
    body = record[5:]
    if body[:1] != b"\x01":
        return ""
    i = 4 + 2 + 32  # handshake header, legacy_version, random
    try:
        i += 1 + body[i]  # legacy_session_id
        i += 2 + int.from_bytes(body[i : i + 2], "big")  # cipher_suites
        i += 1 + body[i]  # legacy_compression_methods
        end = i + 2 + int.from_bytes(body[i : i + 2], "big")
        i += 2
        while i + 4 <= end:
            kind = int.from_bytes(body[i : i + 2], "big")
            size = int.from_bytes(body[i + 2 : i + 4], "big")
            if kind == 0:  # server_name: list length, name type, name length, name
                length = int.from_bytes(body[i + 7 : i + 9], "big")
                return body[i + 9 : i + 9 + length].decode("ascii", "replace").lower()
            i += 4 + size
    except IndexError:
        return ""
    return ""
