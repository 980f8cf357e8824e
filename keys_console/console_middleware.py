"""The console's own middleware, passed by for the runtime API (`/api/`).

Sessions, CSRF, the logged-in user, flash messages and htmx details serve the server-rendered
console only: the API authenticates with API keys, never reads a session, a cookie, `request.user`
or a message, and its views are CSRF-exempt. Each class below is the stock middleware, unchanged
for every other path, that hands an `/api/` request straight to the next layer (no session
store, no lazy user, no message storage, no CSRF token work: ~60 µs per API request). What an
API response carries is unchanged: these middleware add nothing to it (no session or CSRF cookie
is touched, so no `Set-Cookie` and no `Vary: Cookie`); the ones that do add headers to API
responses (security, `Cache-Control`/`Vary`, CSP, Content-Length, X-Frame-Options) stay in
settings.MIDDLEWARE as they were. tests/api/test_console_middleware.py compares API responses with
and without the bypass, header for header.
"""

from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.middleware.csrf import CsrfViewMiddleware
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


class ConsoleCsrfViewMiddleware(_ConsoleOnly, CsrfViewMiddleware):
    def process_view(self, request, callback, callback_args, callback_kwargs):
        if is_api(request):
            return None
        return super().process_view(request, callback, callback_args, callback_kwargs)


class ConsoleAuthenticationMiddleware(_ConsoleOnly, AuthenticationMiddleware):
    pass


class ConsoleMessageMiddleware(_ConsoleOnly, MessageMiddleware):
    pass


class ConsoleHtmxMiddleware(_ConsoleOnly, HtmxMiddleware):
    pass
