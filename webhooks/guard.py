"""Where a webhook may be sent: no server-side request forgery.

With `DEBUG=0` an endpoint's URL must be `https://` and its host must resolve to public addresses
only; no loopback, private, shared (CGNAT), link-local (cloud metadata), multicast, reserved or
unspecified address. `WEBHOOKS_ALLOW_PRIVATE=1` (receivers inside the operator's network) lifts
that, `http://` included, except for multicast, unspecified and the cloud metadata addresses.
With `DEBUG=1` (make run) loopback and `http://` are allowed, so a local receiver can be tried.

The rule is judged when the endpoint is saved and again at every send, against the address the
connection is actually made to: the host is resolved once, every address it resolves to is
judged, and the socket connects to that very address (the request still carries the host name in
`Host` and, over TLS, in SNI and certificate checks). A name that resolves to a public address
when checked and to a private one a moment later (DNS rebinding) cannot slip through, because
nothing resolves it a second time. Redirects are never followed.
"""

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

TIMEOUT_SECONDS = 10
RESPONSE_EXCERPT_BYTES = 500
METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeUrl(ValueError):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    address: str  # the address judged, and the one the socket connects to


def allow_private() -> bool:
    return bool(getattr(settings, "WEBHOOKS_ALLOW_PRIVATE", False))


def address_problem(address: Address) -> str | None:
    """Why a webhook may not go to `address`, or None."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_unspecified or address.is_multicast or address in METADATA:
        return "a reserved or cloud metadata address"
    if allow_private():
        return None
    if address.is_loopback:
        return None if settings.DEBUG else "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_private or address.is_reserved or not address.is_global:
        return "a private address"
    return None


def check_url(url: str) -> Target:
    """Judge `url` (scheme, then every address its host resolves to); raise UnsafeUrl saying why.
    Returns where to connect. Resolution goes through `socket.getaddrinfo` once."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise UnsafeUrl("Enter a valid URL.") from None
    plain_http_ok = settings.DEBUG or allow_private()
    if parts.scheme != "https" and not (parts.scheme == "http" and plain_http_ok):
        raise UnsafeUrl("The URL must start with https://." if not plain_http_ok else "Use an http:// or https:// URL.")
    if parts.username or parts.password:
        raise UnsafeUrl("Leave the user name and password out of the URL: the signature authenticates the sender.")
    host = parts.hostname
    if not host:
        raise UnsafeUrl("Enter a valid URL.")
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UnsafeUrl(f"The host {host} could not be resolved.") from None
    addresses = []
    for info in infos:
        try:
            address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        except ValueError:
            continue
        problem = address_problem(address)
        if problem is not None:
            raise UnsafeUrl(f"The host {host} resolves to {problem} ({address}); webhooks go to public addresses only.")
        addresses.append(address)
    if not addresses:
        raise UnsafeUrl(f"The host {host} could not be resolved.")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme=parts.scheme, host=host, port=port, path=path, address=str(addresses[0]))


@dataclass
class Response:
    status_code: int | None
    excerpt: str
    error: str
    duration_ms: int


def _connect(target: Target, timeout: float) -> socket.socket:
    family = socket.AF_INET6 if ":" in target.address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect((target.address, target.port))
        peer = ipaddress.ip_address(sock.getpeername()[0].split("%")[0])
        if peer != ipaddress.ip_address(target.address) or address_problem(peer) is not None:
            raise UnsafeUrl("The connection reached another address than the one checked.")
    except BaseException:
        sock.close()
        raise
    return sock


class _PinnedHTTP(http.client.HTTPConnection):
    target: Target

    def connect(self):
        self.sock = _connect(self.target, self.timeout or TIMEOUT_SECONDS)


class _PinnedHTTPS(http.client.HTTPSConnection):
    target: Target
    tls: ssl.SSLContext

    def connect(self):
        sock = _connect(self.target, self.timeout or TIMEOUT_SECONDS)
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.target.host)


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float = TIMEOUT_SECONDS) -> Response:
    """POST `body` to `url` under the rule above: judged, resolved once, connected to the judged
    address, no redirects, `timeout` seconds for the whole try, the answer's body truncated."""
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        target = check_url(url)
    except UnsafeUrl as exc:
        return Response(None, "", f"Not sent: {exc.message}"[:200], took())
    connection: http.client.HTTPConnection
    if target.scheme == "https":
        connection = _PinnedHTTPS(target.host, target.port, timeout=timeout)
        connection.tls = ssl.create_default_context()
    else:
        connection = _PinnedHTTP(target.host, target.port, timeout=timeout)
    connection.target = target
    # The timeout bounds each socket operation; this bounds the whole try, so a receiver that
    # answers one byte at a time cannot hold a worker: the socket is shut down at the deadline.
    # `expired` is set before the socket is shut, so a read that the shutdown ended always sees it
    # (the timer's thread is still alive while `_shut` runs: is_alive() said "in time" then).
    expired = threading.Event()

    def at_deadline() -> None:
        expired.set()
        _shut(connection)

    deadline = threading.Timer(timeout, at_deadline)
    deadline.daemon = True
    deadline.start()
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        answer = connection.getresponse()
        excerpt = answer.read(RESPONSE_EXCERPT_BYTES).decode("utf-8", "replace")
        if expired.is_set():
            return Response(None, "", f"No complete answer within {timeout:g} s", took())
        return Response(answer.status, excerpt, "", took())
    except UnsafeUrl as exc:
        return Response(None, "", f"Not sent: {exc.message}"[:200], took())
    except TimeoutError:
        return Response(None, "", f"No answer within {timeout:g} s", took())
    except (OSError, ValueError, http.client.HTTPException) as exc:
        if expired.is_set():
            return Response(None, "", f"No complete answer within {timeout:g} s", took())
        return Response(None, "", f"{type(exc).__name__}: {str(exc)[:150]}", took())
    finally:
        deadline.cancel()
        connection.close()


def _shut(connection: http.client.HTTPConnection) -> None:
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
