"""Finding 8 of issue #27: the shipped HAProxy never logs a path with a token. Its log line (written
for errors, timeouts, retries and 5xx only: `dontlog-normal`) carries the method, the path without
its query string, and every token segment masked: password-reset links, email-confirmation links
and invitation links. Checked with the real haproxy on the shipped configuration (loopback ports,
a backend that is down, so each request is a logged failure), for a sample path of every route
whose URL carries a token (found through Django's resolver, so a new token route is not forgotten).
"""

import http.client
import os
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from tests.processes import stop_process
from tests.test_deploy import DEPLOY, self_signed_pem

TOKEN_PARAMETERS = {"key", "token", "uidb36"}  # URL parameters that carry a secret


def _haproxy() -> str:
    found = shutil.which("haproxy") or ("/usr/sbin/haproxy" if os.path.exists("/usr/sbin/haproxy") else None)
    if found is None:
        pytest.skip("haproxy is not installed (.ci/run installs it)")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _token_routes() -> list[str]:
    """Every route whose pattern names a token parameter, as `prefix + pattern` text."""
    found = []

    def walk(resolver, prefix=""):
        for entry in resolver.url_patterns:
            text = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                walk(entry, text)
            elif isinstance(entry, URLPattern) and TOKEN_PARAMETERS & set(entry.pattern.regex.groupindex):
                found.append(text)

    walk(get_resolver())
    return found


def _sample(route: str, secret: str) -> str:
    """A concrete path of `route` with `secret` in every parameter."""
    path = route.replace("^", "").replace("$", "")
    path = re.sub(r"\(\?P<uidb36>[^)]*\)", "3", path)
    path = re.sub(r"\(\?P<\w+>[^)]*\)", secret, path)
    path = re.sub(r"<(?:\w+:)?\w+>", secret, path)
    return "/" + path


def test_every_token_route_is_known_to_the_test():
    routes = _token_routes()
    assert any("password/reset/key" in r for r in routes)
    assert any("confirm-email" in r for r in routes)
    assert any("invitations/<str:token>" in r for r in routes)


def test_haproxy_logs_no_token_and_no_query(tmp_path: Path):
    haproxy = _haproxy()
    http_port, tls_port, dead = _free_port(), _free_port(), _free_port()
    shipped = (DEPLOY / "haproxy.cfg").read_text()
    config = re.sub(r"\nresolvers docker\n(?:    .*\n)+", "\n", shipped)
    config = config.replace("    bind :8080\n", f"    bind 127.0.0.1:{http_port}\n")
    cert = self_signed_pem(tmp_path / "site.pem")
    config = config.replace('bind :8443 ssl crt "${TLS_CERT}"', f'bind 127.0.0.1:{tls_port} ssl crt "{cert}"')
    template = "    server-template app 8 app:8000 check resolvers docker init-addr none\n"
    assert template in config, "deploy/haproxy.cfg changed: update the test's rewrite"
    config = config.replace(template, f"    server app1 127.0.0.1:{dead}\n")  # nothing listens: 503
    (tmp_path / "haproxy.cfg").write_text(config)
    log = open(tmp_path / "haproxy.log", "wb")  # noqa: SIM115 -- closed below
    process = subprocess.Popen([haproxy, "-db", "-f", str(tmp_path / "haproxy.cfg")], stdout=log, stderr=log)
    secrets_sent = []
    try:
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", tls_port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and process.poll() is None, (tmp_path / "haproxy.log").read_text()
                time.sleep(0.1)
        paths = []
        for route in _token_routes():
            secret = "tok" + secrets.token_hex(12)
            secrets_sent.append(secret)
            paths.append(_sample(route, secret))
        query_secret = "q" + secrets.token_hex(12)
        secrets_sent.append(query_secret)
        paths.append(f"/accounts/login/?code={query_secret}&next=/")
        for path in paths:
            connection = http.client.HTTPSConnection("127.0.0.1", tls_port, context=context, timeout=10)
            connection.request("GET", path, headers={"Host": "keys.example.com"})
            assert connection.getresponse().status == 503
            connection.close()
        time.sleep(0.5)
    finally:
        stop_process(process, grace=10)
        log.close()
    text = (tmp_path / "haproxy.log").read_text()
    lines = [line for line in text.splitlines() if " 503 " in line]
    assert len(lines) == len(paths), text  # every failure is logged ...
    for secret in secrets_sent:
        assert secret not in text, f"a token reached HAProxy's log: {text}"  # ... with no token
    assert any("/accounts/login/" in line for line in lines)  # the path is still there, less its query
