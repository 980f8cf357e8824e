"""No server-side request forgery: which URLs an endpoint may have, and where a delivery may go.
Refused addresses are judged, never contacted (conftest: any connect outside loopback fails the
test; names resolve through a stub)."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from tests.factories import ApiKeyFactory
from tests.helpers import page_text
from webhooks import guard
from webhooks.models import Attempt, Delivery, Endpoint
from webhooks.services import endpoint_create

pytestmark = pytest.mark.django_db

PUBLIC = "93.184.215.14"  # data only: never connected to


def new_endpoint(client, project, url):
    return client.post(
        reverse("webhooks:endpoint_new", args=[project.slug]),
        {"url": url, "description": "ci", "event_types": ["key.revoked"]},
    )


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://127.0.0.1/hook", "loopback"),
        ("https://10.0.0.1/hook", "private"),
        ("https://169.254.169.254/latest/meta-data", "metadata"),
        ("https://[::1]/hook", "loopback"),
        ("https://[::ffff:127.0.0.1]/hook", "loopback"),
        ("https://internal.example/hook", "private"),
        ("https://mixed.example/hook", "private"),
        ("https://100.64.0.7/hook", "private"),
        ("https://[fe80::1]/hook", "link-local"),
        ("https://224.0.0.1/hook", "reserved"),
        ("http://public.example/hook", "https://"),
        ("https://nowhere.example/hook", "could not be resolved"),
        ("ftp://public.example/hook", "https://"),
        ("https://user:pw@public.example/hook", "user name"),
    ],
)
def test_with_debug_off_unsafe_urls_are_refused_with_a_form_error(owner_client, unlocked_project, dns, url, why):
    dns["internal.example"] = ["10.20.30.40"]
    dns["mixed.example"] = [PUBLIC, "192.168.1.1"]
    dns["public.example"] = [PUBLIC]
    response = new_endpoint(owner_client, unlocked_project, url)
    assert response.status_code == 422
    assert why in page_text(response)
    assert not Endpoint.objects.exists()


def test_a_public_https_url_is_accepted_and_its_secret_shown_once(owner_client, unlocked_project, dns):
    dns["hooks.example"] = [PUBLIC]
    response = new_endpoint(owner_client, unlocked_project, "https://hooks.example/nbq")
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0") or "no-store" in response["Cache-Control"]
    endpoint = Endpoint.objects.get()
    html = response.content.decode()
    secret = html.split('id="webhook-secret" value="')[1].split('"')[0]
    assert secret.startswith("whsec_") and secret not in endpoint.secret_encrypted
    page = owner_client.get(reverse("webhooks:endpoint_detail", args=[unlocked_project.slug, endpoint.pk]))
    assert secret not in page.content.decode()
    settings_list = owner_client.get(reverse("webhooks:endpoints", args=[unlocked_project.slug]))
    assert "https://hooks.example/nbq" in settings_list.content.decode()
    assert secret not in settings_list.content.decode()


def test_a_delivery_whose_host_now_resolves_to_a_private_address_is_not_sent(
    unlocked_project, dns, django_capture_on_commit_callbacks, _loopback_only
):
    dns["hooks.example"] = [PUBLIC]
    endpoint, _ = endpoint_create(
        project=unlocked_project, url="https://hooks.example/nbq", all_events=True, event_types=[]
    )
    dns["hooks.example"] = ["10.0.0.5"]  # DNS rebinding: the name now points inside
    with django_capture_on_commit_callbacks(execute=True):
        call_command("revoke_api_key", ApiKeyFactory(project=unlocked_project).key_id, stdout=StringIO())
    attempt = Attempt.objects.get(delivery__endpoint=endpoint)
    assert attempt.status_code is None and not attempt.succeeded
    assert attempt.error.startswith("Not sent") and "private address" in attempt.error
    assert _loopback_only == []  # nothing was contacted
    assert Delivery.objects.get(endpoint=endpoint).next_attempt_at is not None  # retried later, judged again


def test_the_socket_connects_to_the_checked_address_and_sends_the_name_as_host(allow_private, dns, receiver):
    dns["receiver.test"] = ["127.0.0.1"]
    answer = guard.post(f"http://receiver.test:{receiver.port}/x", b"{}", {"Content-Type": "application/json"})
    assert answer.status_code == 200, answer.error
    receiver.wait_for(1)
    assert receiver.received[0]["headers"]["host"] == f"receiver.test:{receiver.port}"


def test_redirects_are_not_followed(allow_private, receiver):
    receiver.statuses = [302]
    answer = guard.post(receiver.url, b"{}", {})
    assert answer.status_code == 302 and len(receiver.received) == 1


def test_debug_allows_loopback_and_http_but_not_private(settings, dns):
    settings.DEBUG = True
    assert guard.check_url("http://127.0.0.1:8001/hook").address == "127.0.0.1"
    assert guard.check_url("http://localhost:8001/hook").address == "127.0.0.1"
    with pytest.raises(guard.UnsafeUrl, match="private"):
        guard.check_url("http://10.0.0.1/hook")


def test_allow_private_lets_private_and_http_in_but_never_metadata(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    assert guard.check_url("http://10.0.0.1/hook").address == "10.0.0.1"
    assert guard.check_url("http://[::1]:8080/hook").address == "::1"
    for url in ("http://169.254.169.254/", "http://[fd00:ec2::254]/", "http://0.0.0.0/", "http://224.0.0.1/"):
        with pytest.raises(guard.UnsafeUrl):
            guard.check_url(url)


def test_the_environment_variable_is_strict():
    import subprocess
    import sys

    probe = "import django; django.setup(); from django.conf import settings; print(settings.WEBHOOKS_ALLOW_PRIVATE)"
    for value, expected in (("1", "True"), ("", "False")):
        out = subprocess.run(
            [sys.executable, "-c", probe],
            env={
                **__import__("os").environ,
                "DJANGO_SETTINGS_MODULE": "keys_console.settings",
                "WEBHOOKS_ALLOW_PRIVATE": value,
            },
            capture_output=True,
            text=True,
            check=True,
        )
        assert out.stdout.strip().endswith(expected)
    bad = subprocess.run(
        [sys.executable, "-c", probe],
        env={
            **__import__("os").environ,
            "DJANGO_SETTINGS_MODULE": "keys_console.settings",
            "WEBHOOKS_ALLOW_PRIVATE": "maybe",
        },
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0 and "WEBHOOKS_ALLOW_PRIVATE" in bad.stderr


@pytest.mark.parametrize("slow_shutdown", [False, True])
def test_a_receiver_dripping_its_answer_cannot_hold_the_worker(allow_private, monkeypatch, slow_shutdown):
    """With `slow_shutdown`, the deadline's thread is still busy after the socket is shut (as on a
    loaded machine): the cut-off answer must still count as no answer, never as a 200 (it did: the
    check asked whether the timer's thread was alive)."""
    import socket as sockets
    import threading
    import time

    server = sockets.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]

    def drip():
        conn, _ = server.accept()
        conn.recv(65536)
        try:
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 100:
                conn.send(bytes([byte]))
                time.sleep(0.05)  # each byte well within the per-operation timeout
        except OSError:
            pass
        finally:
            conn.close()

    threading.Thread(target=drip, daemon=True).start()
    if slow_shutdown:
        shut = guard._shut

        def shut_then_linger(connection):
            shut(connection)
            time.sleep(0.5)

        monkeypatch.setattr(guard, "_shut", shut_then_linger)
    started = time.monotonic()
    answer = guard.post(f"http://127.0.0.1:{port}/", b"{}", {}, timeout=1)
    server.close()
    assert time.monotonic() - started < 2.5
    assert answer.status_code is None and "within 1 s" in answer.error


def _certificate(tmp_path, name: str):
    """A self-signed certificate for `name` (its own CA), as PEM files."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def test_over_tls_the_pinned_connection_sends_the_name_in_sni_and_checks_its_certificate(
    allow_private, dns, receiver, tmp_path, monkeypatch
):
    import ssl

    cert, key = _certificate(tmp_path, "receiver.test")
    names: list = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: names.append(name)
    receiver.server.socket = context.wrap_socket(receiver.server.socket, server_side=True)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the client trusts this certificate only
    dns["receiver.test"] = ["127.0.0.1"]
    dns["other.test"] = ["127.0.0.1"]

    answer = guard.post(f"https://receiver.test:{receiver.port}/hooks", b"{}", {})
    assert answer.status_code == 200, answer.error
    assert names == ["receiver.test"]
    assert receiver.received[0]["headers"]["host"] == f"receiver.test:{receiver.port}"
    # The same address under another name: its certificate does not match, nothing is delivered.
    refused = guard.post(f"https://other.test:{receiver.port}/hooks", b"{}", {})
    assert refused.status_code is None and "CERTIFICATE" in refused.error.upper()
    assert len(receiver.received) == 1
