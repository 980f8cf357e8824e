"""/api/v1/docs renders in a real browser with nothing fetched from outside and no CSP violation.

Playwright runs in a thread of its own (not through pytest-playwright's session fixtures), so its
event loop never shares a thread with the ORM: no DJANGO_ALLOW_ASYNC_UNSAFE needed, nothing leaks
into other tests.
"""

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.browser.conftest import CHROMIUM_ARGS
from tests.conftest import CHROMIUM

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def render_docs(base_url: str) -> dict:
    from playwright.sync_api import sync_playwright

    outside, console = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()

            def only_local(route):
                if route.request.url.startswith(base_url):
                    route.continue_()
                else:
                    outside.append(route.request.url)
                    route.abort()

            page.route("**/*", only_local)
            page.on("console", lambda message: console.append(message.text))
            page.goto(base_url + "/api/v1/docs")
            title = page.locator(".swagger-ui .info .title").filter(has_text="NBQ runtime API")
            title.wait_for(timeout=15_000)
            page.get_by_text("/api/v1/next-question").first.wait_for(timeout=15_000)
            return {
                "outside": outside,
                "console": console,
                "authorize": page.get_by_role("button", name="Authorize").is_visible(),
            }
        finally:
            browser.close()


def test_docs_render_offline(live_server):
    with ThreadPoolExecutor(1) as pool:
        seen = pool.submit(render_docs, live_server.url).result(timeout=120)
    assert seen["authorize"]
    assert seen["outside"] == []
    assert not [m for m in seen["console"] if "Content Security Policy" in m], seen["console"]
