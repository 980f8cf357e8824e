"""A real OpenID Connect provider for the single sign-on tests: `oidc-provider-mock` (PyPI) as its
own process on a free loopback port. Its people are set over its HTTP API (`PUT /users/<sub>`);
"signing in" there is its authorization form (a POST naming the subject), as a person would.

    with OidcProvider() as provider:
        provider.set_user("ana", email="ana@corp.example", email_verified=True)
        provider.issuer  # http://127.0.0.1:<port>
"""

import socket
import subprocess
import sys
import time

import requests

from tests.processes import stop_process


class OidcProvider:
    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process: subprocess.Popen | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> "OidcProvider":
        self.process = subprocess.Popen(
            [sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(self.issuer + "/.well-known/openid-configuration", timeout=1).ok:
                    return self
            except requests.RequestException:
                pass
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"oidc-provider-mock did not start on port {self.port}")

    def stop(self) -> None:
        stop_process(self.process)

    def __enter__(self) -> "OidcProvider":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def set_user(self, sub: str, **claims) -> None:
        response = requests.put(f"{self.issuer}/users/{sub}", json=claims, timeout=5)
        response.raise_for_status()

    def authorize(self, authorize_url: str, sub: str) -> str:
        """Sign in at the provider as `sub` (its form's POST); returns where it sends the browser
        back (our callback, with the code and state)."""
        response = requests.post(authorize_url, data={"sub": sub}, allow_redirects=False, timeout=5)
        assert response.status_code in (302, 303), (response.status_code, response.text[:500])
        return response.headers["Location"]
