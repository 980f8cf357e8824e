"""Webhook tests never open a connection outside loopback: every `connect` to another address
fails the test, and host names resolve only through a stub (`dns`). A refused address is judged,
never contacted. A real receiver (http.server in a thread) listens on 127.0.0.1."""

import ipaddress
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.factories import ApiKeyFactory

_real_connect = socket.socket.connect
_real_getaddrinfo = socket.getaddrinfo


class OutsideConnection(AssertionError):
    pass


def _is_loopback(address) -> bool:
    if isinstance(address, tuple):
        address = address[0]
    if not isinstance(address, str):  # AF_UNIX paths
        return True
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch):
    attempts: list = []

    def connect(self, address):
        if not _is_loopback(address):
            attempts.append(address)
            raise OutsideConnection(f"a test tried to connect to {address!r}")
        return _real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    yield attempts
    assert attempts == [], f"connections attempted outside loopback: {attempts}"


class Dns(dict):
    """name → list of addresses; IP literals resolve to themselves; anything else fails."""

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
        host = host.strip("[]") if isinstance(host, str) else host
        try:
            ipaddress.ip_address(host)
            return _real_getaddrinfo(host, port, family, type, proto, flags)
        except ValueError:
            pass
        if host not in self:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        out = []
        for address in self[host]:
            fam = socket.AF_INET6 if ":" in address else socket.AF_INET
            sockaddr = (address, port, 0, 0) if fam == socket.AF_INET6 else (address, port)
            out.append((fam, socket.SOCK_STREAM, 6, "", sockaddr))
        return out


@pytest.fixture(autouse=True)
def dns(monkeypatch):
    stub = Dns(localhost=["127.0.0.1"])
    monkeypatch.setattr(socket, "getaddrinfo", stub.getaddrinfo)
    return stub


class Receiver:
    """A webhook receiver on 127.0.0.1: records each request, answers from `statuses` (then 200)."""

    def __init__(self):
        self.received: list[dict] = []
        self.statuses: list[int] = []
        self.delay = 0.0  # seconds before answering (a slow receiver)
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length).decode()
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                if receiver.delay:
                    time.sleep(receiver.delay)
                with receiver.arrived:
                    receiver.received.append(
                        {"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body, "status": status}
                    )
                    receiver.arrived.notify_all()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"nope " * 400)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def payloads(self, event_type: str | None = None) -> list[dict]:
        found = [json.loads(r["body"]) for r in self.received]
        return [p for p in found if event_type is None or p["type"] == event_type]

    def wait_for(self, count: int, timeout: float = 5) -> None:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.received) >= count, timeout)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def allow_private(settings):
    """Tests run with DEBUG=0: the loopback receiver needs WEBHOOKS_ALLOW_PRIVATE."""
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    return settings


@pytest.fixture
def live_key(unlocked_project):
    return ApiKeyFactory(project=unlocked_project, name="deploy", permissions=["read", "write"])
