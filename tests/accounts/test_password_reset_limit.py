"""Finding 10 of issue #27: password-reset mails to one address are limited to a few an hour
(they were 5 a minute: up to 7,200 a day to one inbox), whatever addresses the requests come from
and however the address is spelled."""

from django.urls import reverse


def test_at_most_three_reset_mails_an_hour_to_one_address_from_any_client(client, user, mailoutbox):
    url = reverse("account_reset_password")
    spellings = [user.email, user.email.upper(), user.email, user.email.title(), user.email]
    statuses = [
        client.post(url, {"email": email}, REMOTE_ADDR=f"198.51.100.{i}").status_code
        for i, email in enumerate(spellings, start=1)
    ]
    assert statuses == [302, 302, 302, 429, 429]
    assert len(mailoutbox) == 3


def test_the_limit_is_per_hour_not_per_minute(settings):
    from allauth.core.internal.ratelimit import parse_rates

    per_key = [rate for rate in parse_rates(settings.ACCOUNT_RATE_LIMITS["reset_password"]) if rate.per == "key"]
    assert per_key and all(rate.amount <= 3 and rate.duration >= 3600 for rate in per_key)
