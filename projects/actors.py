"""Who performed an action, for the event log: a console user, the admin, the CLI or the API."""

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.http import HttpRequest

from keys_console.client_ip import client_ip

if TYPE_CHECKING:
    from accounts.models import User


@dataclass(frozen=True)
class Actor:
    user: "User | None"
    label: str
    ip: str | None = None
    user_agent: str = ""
    via_key: str = ""  # the Key ID an API call was made with (the event log records it)

    @classmethod
    def from_request(cls, request: HttpRequest, *, prefix: str = "") -> "Actor":
        user = request.user if request.user.is_authenticated else None
        label = prefix + (user.email if user else "anonymous")
        return cls(
            user=user,
            label=label,
            ip=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:256],
        )

    @classmethod
    def cli(cls) -> "Actor":
        return cls(user=None, label="cli")

    @classmethod
    def api(cls, request: HttpRequest, *, key=None) -> "Actor":
        return cls(
            user=None,
            label="api",
            ip=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:256],
            via_key=key.key_id if key is not None else "",
        )
