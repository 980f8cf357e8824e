"""Hypothesis on every console form, through its view: arbitrary text (any Unicode, NUL, control
characters, right-to-left marks, huge strings), repeated fields and out-of-range values never
produce a 500. The Django test client re-raises any exception a view lets through, so a crash
fails the example (and hypothesis shrinks it).

Forms: ProjectForm (project list), QuestionForm (add and edit), ApiKeyCreateForm (Generate),
RotateForm (Rotate), InvitationForm (Members), SignupForm, LoginForm, and the password-reset form.
RELIABILITY_FORM_EXAMPLES (default 100) bounds the examples per form. A POST with no fields at all
answers 200: the views build their forms as `Form(request.POST or None)`, so an empty body shows
the form again instead of its errors — harmless, and allowed here.
"""

import os
import re
from datetime import date
from urllib.parse import urljoin, urlsplit

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keys.services import api_key_create
from projects.actors import Actor
from tests.factories import PASSWORD, QuestionFactory

from .conftest import write_figures

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

EXAMPLES = int(os.environ.get("RELIABILITY_FORM_EXAMPLES", "100"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=False,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)

TRIED: dict[str, int] = {}  # form -> examples tried (reported in docs/reliability.md)

# Text that breaks naive code: any code point but surrogates (which cannot travel in UTF-8),
# with NUL, controls, bidi overrides, combining marks and emoji likely.
nasty_chars = st.one_of(
    st.characters(exclude_categories=["Cs"]),
    st.sampled_from(
        [
            "\x00",
            "\r",
            "\n",
            "\t",
            "\u202e",
            "\u200b",
            "\ufeff",
            "\u0301",
            "🔑",
            "'",
            '"',
            "<",
            ">",
            "&",
            "%",
            "{",
            "}",
            "\\",
            "/",
            "-",
            ";",
        ]
    ),
)
text = st.text(nasty_chars, max_size=80)
huge = st.builds(
    lambda c, n: c * n,
    st.sampled_from(["a", "é", "🔑", "\x00", " ", "9"]),
    st.integers(min_value=1_000, max_value=200_000),
)
value = st.one_of(
    text,
    huge,
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(
        [
            "",
            " ",
            "0",
            "-1",
            "1e400",
            "NaN",
            "9" * 5000,
            "2026-02-30",
            "9999-12-31",
            "0001-01-01",
            "10000-01-01",
            "true",
            "null",
            "[]",
        ]
    ),
)
values = st.one_of(value, st.lists(value, min_size=0, max_size=3))  # a field sent 0, 1 or many times


@pytest.fixture(autouse=True, scope="module")
def _figures():
    yield
    write_figures("forms", {"examples": TRIED, "total": sum(TRIED.values())})


def form(**fields):
    return st.fixed_dictionaries({name: strategy for name, strategy in fields.items()})


def post(client, url, data, allowed, name):
    TRIED[name] = TRIED.get(name, 0) + 1
    response = client.post(url, data)
    assert response.status_code in allowed, (response.status_code, data)
    return response


def test_project_form(console):
    @FUZZ
    @given(form(name=values))
    def run(data):
        post(console, reverse("projects:list"), data, {200, 302, 422}, "ProjectForm")

    run()


def test_question_form_add_and_edit(console, project):
    question = QuestionFactory(project=project)
    add, edit = (
        reverse("projects:questions", args=[project.slug]),
        reverse("projects:question_edit", args=[project.slug, question.pk]),
    )

    @FUZZ
    @given(form(text=values, priority=values, is_active=values), st.booleans())
    def run(data, editing):
        post(console, edit if editing else add, data, {200, 302, 422}, "QuestionForm")

    run()


def test_api_key_create_form(console, project):
    expiration = st.one_of(values, st.sampled_from(["7", "30", "60", "90", "365", "date", "never"]))
    expires_on = st.one_of(values, st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)).map(str))
    # At most 50 values: past Django's DATA_UPLOAD_MAX_NUMBER_FIELDS (1,000) a post is refused with
    # a 400 before any view runs (seen once), which is Django's rule, not the form's.
    permissions = st.one_of(
        values, st.lists(st.sampled_from(["create", "read", "write", "delete", "invite"]), max_size=50)
    )

    @FUZZ
    @given(form(name=values, permissions=permissions, expiration=expiration, expires_on=expires_on))
    def run(data):
        post(console, reverse("project_keys:key_new", args=[project.slug]), data, {200, 422}, "ApiKeyCreateForm")

    run()


@pytest.mark.parametrize(("expires_on", "status"), [("9999-12-31", 422), ("9999-12-30", 200)])
def test_api_key_far_future_date_is_a_form_error_not_a_500(console, project, expires_on, status):
    """Found by the fuzzing above: the last representable day used to overflow (a 500)."""
    response = console.post(
        reverse("project_keys:key_new", args=[project.slug]),
        {"name": "far", "permissions": ["read"], "expiration": "date", "expires_on": expires_on},
    )
    assert response.status_code == status
    if status == 422:
        assert b"Choose an earlier expiration date." in response.content


def test_rotate_form(console, project):
    @FUZZ
    @given(form(grace=values))
    def run(data):
        key, _ = api_key_create(project=project, name="r", permissions=["read"], actor=Actor.cli())
        post(
            console, reverse("project_keys:key_rotate", args=[project.slug, key.key_id]), data, {200, 422}, "RotateForm"
        )
        key.project.api_keys.all().delete()

    run()


def test_invitation_form(console, project):
    email = st.one_of(values, st.emails().map(str))

    @FUZZ
    @given(form(email=email, role=st.one_of(values, st.sampled_from(["admin", "viewer", "owner"]))))
    def run(data):
        post(console, reverse("projects:members", args=[project.slug]), data, {200, 302, 422}, "InvitationForm")

    run()


def test_signup_form(db):
    email = st.one_of(values, st.emails().map(str))

    @FUZZ
    @given(form(email=email, first_name=values, last_name=values, password1=values, password2=values))
    def run(data):  # 429: allauth's sign-up rate limit per address
        post(Client(), reverse("account_signup"), data, {200, 302, 429}, "SignupForm")

    run()


def stays_on_site(location: str) -> bool:
    """Where a browser would go from /accounts/login/: browsers drop tabs and newlines, strip
    leading controls and spaces, and read a backslash as a slash."""
    cleaned = re.sub(r"[\t\n\r]", "", location).lstrip("".join(map(chr, range(0x21)))).replace("\\", "/")
    target = urlsplit(urljoin("https://testserver/accounts/login/", cleaned))
    return target.netloc == "testserver"


def test_login_form(user):
    email = st.one_of(values, st.just(user.email), st.emails().map(str))

    @FUZZ
    @given(form(login=email, password=st.one_of(values, st.just(PASSWORD)), next=values))
    def run(data):
        response = post(Client(), reverse("account_login"), data, {200, 302}, "LoginForm")
        if response.status_code == 302:  # wherever `next` pointed, the redirect stays on this site
            assert stays_on_site(response["Location"]), response["Location"]

    run()


def test_password_reset_form(db):
    @FUZZ
    @given(form(email=st.one_of(values, st.emails().map(str))))
    def run(data):
        post(Client(), reverse("account_reset_password"), data, {200, 302, 429}, "PasswordResetForm")

    run()


def test_oversized_body_is_a_400(console):
    """Beyond DATA_UPLOAD_MAX_MEMORY_SIZE Django refuses the body: a 400, not a 500."""
    response = console.post(reverse("projects:list"), {"name": "x" * (3 * 1024 * 1024)})
    assert response.status_code == 400
