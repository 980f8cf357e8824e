"""The project's Usage tab, its Export CSV and a key's Details, against the known mix of issue #31
sent through the real API (tests/usage_mix.py); the tab's queries are bounded."""

import csv
import io
import re
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from api import usage
from keys.models import KeyUsageCount
from tests.factories import ApiKeyFactory, ProjectFactory
from tests.usage_mix import AGENT, BEHIND_PROXY, DIRECT, EXPECTED, REFUSED, TOTAL, known_mix_key, send_known_mix

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clean_usage_buffer(settings):
    settings.API_USAGE_FLUSH_SECONDS = 3600
    usage.discard_pending()
    yield
    usage.discard_pending()


@pytest.fixture
def mixed(owner_client, unlocked_project, settings, monkeypatch):
    """The project (12 active questions) and its key that sent the known mix."""
    for _ in range(2):
        unlocked_project.questions.create(text=f"Extra {_}", is_active=True)
    key = known_mix_key(unlocked_project)
    send_known_mix(owner_client, key, settings, monkeypatch)
    return key


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_details_show_the_known_mix_per_endpoint_and_where_it_came_from(owner_client, unlocked_project, mixed):
    body = owner_client.get(
        f"/projects/{unlocked_project.slug}/keys/{mixed.key_id}/", headers={"HX-Request": "true"}
    ).content.decode()
    text = text_of(body)
    assert f"{TOTAL} in all, {REFUSED} refused or failed" in text
    rows = {m[0]: text_of(m[1]) for m in re.findall(r'<tr><th scope="row"><code>(\w+)</code></th>(.*?)</tr>', body)}
    assert rows["listQuestions"].split()[:3] == ["17", "12", "5"]
    assert "200 × 12" in rows["listQuestions"] and "429 rate_limited × 5" in rows["listQuestions"]
    assert rows["getQuestion"].split()[:3] == ["3", "0", "3"] and "404 not_found × 3" in rows["getQuestion"]
    assert rows["createQuestion"].split()[:3] == ["2", "0", "2"]
    assert "403 insufficient_permission × 2" in rows["createQuestion"]
    # where from: the last use (its address, its user agent) and both addresses
    assert re.search(
        rf"from <code>{re.escape(DIRECT)}</code>, <span class=\"user-agent\">{re.escape(AGENT)}</span>", body
    )
    addresses = re.search(r'<ul class="reach addresses">(.*?)</ul>', body).group(1)
    assert f"<code>{DIRECT}</code>" in addresses and f"<code>{BEHIND_PROXY}</code>" in addresses
    # the chart's legend and its table alternative say the same per outcome group
    legend = text_of(re.search(r'<figcaption class="legend">(.*?)</figcaption>', body, re.S).group(1))
    for label, n in [
        ("Succeeded (2xx, 3xx)", 12),
        ("Refused: key or permission (401, 403)", 2),
        ("Rate limited (429)", 5),
        ("Other client errors (4xx)", 3),
        ("Server errors (5xx)", 0),
    ]:
        assert f"{label}: {n}" in legend
    today = timezone.now().date()
    day_row = re.search(rf'<time datetime="{today:%Y-%m-%d}">[^<]+</time></th>(.*?)</tr>', body).group(1)
    assert text_of(day_row).split() == ["12", "2", "5", "3", "0", "22"]


def test_the_usage_tab_lists_the_known_mix(owner_client, unlocked_project, mixed):
    page = owner_client.get(f"/projects/{unlocked_project.slug}/usage/?days=7").content.decode()
    assert '<a href="/projects/' in page and 'aria-current="page">Usage</a>' in page  # the project tab bar
    row = re.search(rf"<code class=\"muted\">{mixed.key_id}</code></th>(.*?)</tr>", page, re.S).group(1)
    cells = text_of(row).split()
    assert cells[:4] == ["Project", "key", str(TOTAL), str(REFUSED)]
    assert re.search(r'<time datetime="[^"]+" title="\d{4}-\d\d-\d\d \d\d:\d\d UTC">just now</time>', row)
    assert f"{TOTAL} requests in the last 7 days" in text_of(page)


def test_export_csv_has_exactly_the_known_mix(owner_client, unlocked_project, mixed):
    response = owner_client.get(f"/projects/{unlocked_project.slug}/usage/export.csv?days=30")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response.streaming
    content = b"".join(response.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(content.lstrip("\ufeff"))))
    assert rows[0] == ["Day (UTC)", "Key ID", "Key name", "Kind", "Endpoint", "Outcome", "Count"]
    today = timezone.now().date().isoformat()
    found = {}
    for day, key_id, name, kind, endpoint, outcome, count in rows[1:]:
        assert (day, key_id, name, kind) == (today, mixed.key_id, "Nightly import", "project")
        status, _, code = outcome.partition(" ")
        found[(endpoint, int(status), code)] = int(count)
    assert found == EXPECTED


def test_export_csv_cells_are_formula_safe(owner_client, unlocked_project):
    key = ApiKeyFactory(project=unlocked_project, name='=HYPERLINK("http://x")')
    KeyUsageCount.objects.create(
        api_key=key, project=unlocked_project, day=timezone.now().date(), endpoint="getKey", status=200, count=1
    )
    content = b"".join(owner_client.get(f"/projects/{unlocked_project.slug}/usage/export.csv").streaming_content)
    assert "'=HYPERLINK" in content.decode()


def test_personal_keys_that_reached_the_project_are_listed(owner_client, user, unlocked_project, settings):
    personal = ApiKeyFactory(project=None, owner=user, all_projects=True, permissions=["read"], name="Laptop")
    elsewhere = ApiKeyFactory(project=None, owner=user, all_projects=True, permissions=["read"], name="Elsewhere")
    other = ProjectFactory(owner=user, active_questions=10)
    today = timezone.now().date()
    KeyUsageCount.objects.create(
        api_key=personal, project=unlocked_project, day=today, endpoint="listQuestions", status=200, count=4
    )
    KeyUsageCount.objects.create(
        api_key=elsewhere, project=other, day=today, endpoint="listQuestions", status=200, count=9
    )
    page = text_of(owner_client.get(f"/projects/{unlocked_project.slug}/usage/").content.decode())
    assert "Laptop" in page and "Personal key" in page and "Elsewhere" not in page


def test_viewers_read_it_strangers_do_not_see_it(viewer_client, stranger_client, unlocked_project):
    assert viewer_client.get(f"/projects/{unlocked_project.slug}/usage/").status_code == 200
    assert stranger_client.get(f"/projects/{unlocked_project.slug}/usage/").status_code == 404
    assert stranger_client.get(f"/projects/{unlocked_project.slug}/usage/export.csv").status_code == 404


def test_sorting_and_periods_are_in_the_url_and_htmx_swaps_the_body(owner_client, unlocked_project):
    today = timezone.now().date()
    for name, n in [("Alpha", 5), ("Bravo", 50), ("Charlie", 1)]:
        key = ApiKeyFactory(project=unlocked_project, name=name)
        KeyUsageCount.objects.create(
            api_key=key, project=unlocked_project, day=today, endpoint="getKey", status=200, count=n
        )
    url = f"/projects/{unlocked_project.slug}/usage/"
    default = owner_client.get(url).content.decode()
    assert re.findall(r"<bdi>(\w+)</bdi>", default) == ["Bravo", "Alpha", "Charlie"]  # most requests first
    by_name = owner_client.get(url + "?days=90&sort=key&dir=asc", headers={"HX-Request": "true"}).content.decode()
    assert by_name.startswith('\n<div id="usage-body">') or by_name.lstrip().startswith('<div id="usage-body">')
    assert re.findall(r"<bdi>(\w+)</bdi>", by_name) == ["Alpha", "Bravo", "Charlie"]
    assert 'aria-sort="ascending"' in by_name and 'aria-current="page">90 days' in by_name
    junk = owner_client.get(url + "?days=1000&sort=nope&dir=sideways")
    assert junk.status_code == 200  # unknown choices fall back to the defaults


def test_usage_tab_with_50_keys_and_90_days_is_a_bounded_number_of_queries(
    owner_client, unlocked_project, django_assert_max_num_queries, capsys
):
    today = timezone.now().date()
    keys = [ApiKeyFactory(project=unlocked_project, name=f"Key {i:02}") for i in range(50)]
    outcomes = [("listQuestions", 200, ""), ("getQuestion", 404, "not_found"), ("listQuestions", 429, "rate_limited")]
    KeyUsageCount.objects.bulk_create(
        KeyUsageCount(
            api_key=key,
            project=unlocked_project,
            day=today - timedelta(days=d),
            endpoint=e,
            status=s,
            code=c,
            count=d + 1,
        )
        for key in keys
        for d in range(90)
        for e, s, c in outcomes
    )
    url = f"/projects/{unlocked_project.slug}/usage/?days=90"
    owner_client.get(url)  # warm: templates compiled, session read once
    with django_assert_max_num_queries(8):
        started = time.perf_counter()
        response = owner_client.get(url)
        elapsed = time.perf_counter() - started
    assert response.status_code == 200
    assert response.content.decode().count("<bdi>Key ") == 50
    with capsys.disabled():
        print(f"\nUsage tab, 50 keys x 90 days x 3 outcomes ({50 * 90 * 3} rows): {elapsed * 1000:.1f} ms")


def test_cleanup_usage_days_removes_old_counts_per_endpoint_and_old_addresses(unlocked_project):
    from keys.maintenance import cleanup
    from keys.models import KeyAddress, KeyProjectUsageDay

    key = ApiKeyFactory(project=unlocked_project)
    personal = ApiKeyFactory(project=None, owner=unlocked_project.memberships.first().user, all_projects=True)
    now = timezone.now()
    for age in (0, 89, 91, 400):
        day = now.date() - timedelta(days=age)
        KeyUsageCount.objects.create(api_key=key, project=unlocked_project, day=day, endpoint="getKey", status=200)
        KeyProjectUsageDay.objects.create(api_key=personal, project=unlocked_project, day=day, requests=1)
    KeyAddress.objects.create(api_key=key, address="203.0.113.1", last_seen=now - timedelta(days=1))
    KeyAddress.objects.create(api_key=key, address="203.0.113.2", last_seen=now - timedelta(days=95))

    assert cleanup(usage_days=90, invitation_days=30, now=now).usage_days == 2 + 2 + 1
    assert sorted((now.date() - d).days for d in KeyUsageCount.objects.values_list("day", flat=True)) == [0, 89]
    assert KeyProjectUsageDay.objects.count() == 2
    assert list(KeyAddress.objects.values_list("address", flat=True)) == ["203.0.113.1"]
    assert cleanup(usage_days=90, invitation_days=30, now=now).usage_days == 0
