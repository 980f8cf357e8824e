"""The console's own middleware, passed by for the runtime API (`/api/`).

Sessions, the logged-in user, flash messages and htmx details serve the server-rendered console
only: the API authenticates with API keys and never reads a session, a cookie, `request.user` or a
message. Each class below is the stock middleware, unchanged for every other path, that hands an
`/api/` request straight to the next layer (no session store, no lazy user, no message storage).
What an API response carries is unchanged: these middleware add nothing to it (no session is
touched, so no `Set-Cookie` and no `Vary: Cookie`); the ones that add headers to API responses
(security, `Cache-Control`/`Vary`, CSP, Content-Length, X-Frame-Options) stay in
settings.MIDDLEWARE as they were, and so does the stock CsrfViewMiddleware (`check --deploy`
asks for it by name; on the API, whose views are CSRF-exempt, it costs a few µs).
tests/api/test_console_middleware.py compares API responses with and without the bypass.
"""

from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django_htmx.middleware import HtmxMiddleware

API_PATH_PREFIX = "/api/"


def is_api(request) -> bool:
    return request.path_info.startswith(API_PATH_PREFIX)


class _ConsoleOnly:
    """Mixin: the wrapped middleware runs for every path but `/api/`."""

    def __call__(self, request):
        if is_api(request):
            return self.get_response(request)  # a coroutine under ASGI, awaited by the caller
        return super().__call__(request)


class ConsoleSessionMiddleware(_ConsoleOnly, SessionMiddleware):
    pass


class ConsoleAuthenticationMiddleware(_ConsoleOnly, AuthenticationMiddleware):
    pass


class ConsoleMessageMiddleware(_ConsoleOnly, MessageMiddleware):
    pass


class ConsoleHtmxMiddleware(_ConsoleOnly, HtmxMiddleware):
    pass
