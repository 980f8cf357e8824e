"""Not collected on its own (the name does not start with test_): `test_session_teardown.py` runs it
in a pytest of its own, in the order a worker of `make test` meets such tests: a database test
first (the test database is made before Playwright starts), a browser test, then a test that
reaches the database while Playwright is alive and leaves its connection open, as `db` tests do
(pytest-django runs it after the browser test: it asks for `db` only at run time)."""

import pytest
from django.db import connection


@pytest.mark.django_db
def test_the_database_first():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_page_in_the_browser(page, live_server):
    page.goto(live_server.url + "/healthz")
    assert page.locator("body").inner_text()


def test_a_query_after_playwright_started(request):
    request.getfixturevalue("db")
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
