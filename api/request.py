"""The request as the API sees it, for type checking: what django-ninja and api.auth put on it,
and the rate-limit budget (`Budget`) that api.ratelimit leaves on it. Imports nothing of the API:
the modules that set these attributes import this one, never the reverse."""

from dataclasses import dataclass

from django.http import HttpRequest

from keys.models import ApiKey


@dataclass(frozen=True)
class Budget:
    """What is left of a key's requests this minute (api.ratelimit.check works it out)."""

    limit: int
    remaining: int
    reset_at: int  # Unix time (s) at which the window ends
    retry_after: int  # seconds until then (at least 1)

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_at),
        }


class ApiRequest(HttpRequest):
    """An authenticated API request. Annotation only: requests are plain HttpRequests that
    `api.auth.authenticate_key` (and django-ninja, `auth`) give these attributes."""

    auth: ApiKey  # django-ninja: what the authentication class returned
    api_key: ApiKey  # api.auth: the request counts as authenticated (headers, usage, logs)
    first_use_this_minute: bool | None  # api.auth, from the key cache (None: cache down)
    rate_budget: Budget  # api.ratelimit.check
