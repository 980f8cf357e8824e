"""allauth's pages in a real browser (issue 22): the 2FA QR code decodes in the dark scheme (a white
tile with a quiet zone), and screenshots of the account pages in both schemes."""

import base64
from urllib.parse import parse_qs, urlparse

import pytest
import zxingcpp
from playwright.sync_api import expect

from tests.browser.conftest import log_in
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The screenshot's pixels as grey levels, read by the browser itself (no imaging library needed).
GREY_PIXELS = """async (b64) => {
    const img = new Image();
    img.src = "data:image/png;base64," + b64;
    await img.decode();
    const canvas = document.createElement("canvas");
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const ctx = canvas.getContext("2d");
    ctx.drawImage(img, 0, 0);
    const d = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    const grey = new Array(canvas.width * canvas.height);
    for (let i = 0; i < grey.length; i++) {
        grey[i] = Math.round(0.299 * d[4 * i] + 0.587 * d[4 * i + 1] + 0.114 * d[4 * i + 2]);
    }
    return [canvas.width, canvas.height, grey];
}"""


@pytest.fixture
def person(transactional_db):
    return UserFactory(email="person@example.com")


def open_totp_setup(page, base_url):
    page.goto(base_url + "/accounts/2fa/totp/activate/")
    if "reauthenticate" in page.url:
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Confirm").click()
        page.wait_for_url("**/2fa/totp/activate/")


def grey_image(page, locator) -> tuple[int, int, list[int]]:
    png = locator.screenshot()
    return page.evaluate(GREY_PIXELS, base64.b64encode(png).decode())


def quiet_zone_in_modules(width: int, height: int, grey: list[int], corner: int = 10) -> float:
    """The light margin around the code, in modules (the top-left finder pattern is 7 modules
    wide). The tile's rounded corners and its 1-px border are left out."""
    dark = [
        (x, y)
        for y in range(corner, height - corner)
        for x in range(corner, width - corner)
        if grey[y * width + x] < 128
    ]
    left, top = min(x for x, _ in dark), min(y for _, y in dark)
    right, bottom = max(x for x, _ in dark), max(y for _, y in dark)
    run = 0
    while grey[top * width + left + run] < 128:
        run += 1
    module = run / 7
    margin = min(left, top, width - 1 - right, height - 1 - bottom) - 1
    return margin / module


def decode_qr(page, locator) -> str | None:
    """What a scanner reads in the element as drawn. A phone camera needs contrast: a fixed
    mid-grey threshold (zxing's own adaptive binarizer reads black modules even on a dark-grey
    background in a perfect screenshot, which no camera does), and no inverted reading."""
    width, height, grey = grey_image(page, locator)
    image = memoryview(bytes(grey)).cast("B", (height, width))
    found = zxingcpp.read_barcode(
        image,
        formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode),
        try_invert=False,
        binarizer=zxingcpp.Binarizer.FixedThreshold,
    )
    return found.text if found else None


@pytest.mark.parametrize("scheme", ["dark", "light"])
def test_two_factor_qr_code_decodes_in_both_schemes(browser, live_server, person, scheme, screenshot_dir):
    context = browser.new_context(
        viewport={"width": 1280, "height": 1000}, color_scheme=scheme, permissions=["clipboard-read", "clipboard-write"]
    )
    page = context.new_page()
    try:
        log_in(page, live_server.url, person.email, PASSWORD)
        open_totp_setup(page, live_server.url)
        page.screenshot(path=screenshot_dir / f"account-2fa-setup-{scheme}-1280.png", full_page=True)
        secret = page.get_by_label("Or enter this secret by hand").input_value()
        tile = page.locator(".qr-tile")
        text = decode_qr(page, tile)
        assert text is not None, f"the QR code does not decode in the {scheme} scheme"
        url = urlparse(text)
        assert url.scheme == "otpauth" and parse_qs(url.query)["secret"] == [secret]
        # The tile is white and leaves a quiet zone of at least 4 modules around the code.
        assert tile.evaluate("(el) => getComputedStyle(el).backgroundColor") == "rgb(255, 255, 255)"
        assert quiet_zone_in_modules(*grey_image(page, tile)) >= 4
        # The secret is copyable: a Copy button (shown by JavaScript) puts it on the clipboard.
        page.get_by_role("button", name="Copy").click()
        expect(page.get_by_role("status").filter(has_text="The secret is on your clipboard.")).to_be_visible()
        assert page.evaluate("navigator.clipboard.readText()") == secret
    finally:
        context.close()


# --- axe-core: the account pages and the API docs, both schemes, phone and desktop --------------

AXE_PAGES = [
    ("login", "/accounts/login/", False),
    ("sign-up", "/accounts/signup/", False),
    ("password reset", "/accounts/password/reset/", False),
    ("api docs", "/api/v1/docs", False),
    ("account", "/accounts/", True),
    ("email", "/accounts/email/", True),
    ("password change", "/accounts/password/change/", True),
    ("reauthenticate", "/accounts/reauthenticate/", True),
    ("2fa", "/accounts/2fa/", True),
    ("2fa setup", "/accounts/2fa/totp/activate/", True),
]
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]}
}


@pytest.mark.parametrize("width", [390, 1280])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_nothing_on_account_pages_and_api_docs(browser, live_server, person, scheme, width, screenshot_dir):
    """WCAG 2.2 A/AA and best practice, 0 violations; links on /accounts/ are >= 24 px tall."""
    from axe_playwright_python.sync_playwright import Axe

    context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme, bypass_csp=True)
    page = context.new_page()
    axe = Axe()
    reports, small = [], []
    try:
        for logged_in in (False, True):
            if logged_in:
                log_in(page, live_server.url, person.email, PASSWORD)
            for name, path, needs_login in AXE_PAGES:
                if needs_login != logged_in:
                    continue
                page.goto(live_server.url + path)
                if name == "2fa setup" and "reauthenticate" in page.url:
                    open_totp_setup(page, live_server.url)
                if name == "api docs":
                    page.get_by_text("/api/v1/next-question").first.wait_for()
                results = axe.run(page, options=AXE_OPTIONS)
                if results.violations_count:
                    reports.append(f"--- {name} ({scheme}, {width} px)\n" + results.generate_report())
                if path.startswith("/accounts/"):
                    small += page.evaluate(
                        """() => [...document.querySelectorAll('main a, main button')]
                            .filter((el) => el.offsetParent && el.getBoundingClientRect().height < 24)
                            .map((el) => el.textContent.trim())"""
                    )
                page.screenshot(
                    path=screenshot_dir / f"axe-{name.replace(' ', '-')}-{scheme}-{width}.png", full_page=True
                )
    finally:
        context.close()
    assert not reports, "\n".join(reports)
    assert not small, f"targets under 24 px on /accounts/: {small}"
