"""/api/v1/docs renders in a real browser with nothing fetched from outside and no CSP violation."""

import os

import pytest

from tests.conftest import CHROMIUM

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM,
            "args": [*browser_type_launch_args.get("args", []), *CHROMIUM_ARGS]}


def test_docs_render_offline(page, live_server):
    outside, console = [], []

    def only_local(route):
        if route.request.url.startswith(live_server.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    page.on("console", lambda message: console.append(message.text))
    page.goto(live_server.url + "/api/v1/docs")
    page.locator(".swagger-ui .info .title").filter(has_text="NBQ runtime API").wait_for(timeout=15_000)
    page.get_by_text("/api/v1/next-question").first.wait_for()
    assert page.get_by_role("button", name="Authorize").is_visible()
    assert outside == []
    assert not [m for m in console if "Content Security Policy" in m], console
