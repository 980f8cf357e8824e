"""The request as the API sees it, for type checking: what django-ninja and api.auth put on it."""

from typing import TYPE_CHECKING

from django.http import HttpRequest

if TYPE_CHECKING:
    from keys.models import ApiKey

    from .ratelimit import Budget


class ApiRequest(HttpRequest):
    """An authenticated API request. Annotation only: requests are plain HttpRequests that
    `api.auth.authenticate_key` (and django-ninja, `auth`) give these attributes."""

    auth: "ApiKey"  # django-ninja: what the authentication class returned
    api_key: "ApiKey"  # api.auth: the request counts as authenticated (headers, usage, logs)
    first_use_this_minute: bool | None  # api.auth, from the key cache (None: cache down)
    rate_budget: "Budget"  # api.ratelimit.check
