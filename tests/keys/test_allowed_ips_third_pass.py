"""Issue #32, finding 8: the allowed-IP list refuses zone ids, says what a single address becomes,
names each bad line on a line of its own, and has a limit; the account key's "Chosen projects"
error is tied to the project checkboxes."""

import re

import pytest
from django.urls import reverse

from keys.errors import InvalidKeyRequest
from keys.forms import ALLOWED_IPS_HELP
from keys.services import ALLOWED_IPS_MAX, clean_allowed_ips
from tests.factories import MembershipFactory, ProjectFactory
from tests.helpers import HX

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("entry", ["fe80::1%eth0", "fe80::1%1", "fe80::/64%eth0"])
def test_a_zone_id_is_refused(entry):
    with pytest.raises(InvalidKeyRequest) as refused:
        clean_allowed_ips(entry)
    assert refused.value.field == "allowed_ips"
    assert "zone" in refused.value.message and entry in refused.value.message


def test_a_single_address_becomes_its_slash_32_and_the_form_says_so():
    assert clean_allowed_ips("203.0.113.7\n2001:db8::1") == ["203.0.113.7/32", "2001:db8::1/128"]
    assert "/32" in ALLOWED_IPS_HELP and "single address" in ALLOWED_IPS_HELP


def test_each_bad_line_is_named_on_a_line_of_its_own():
    with pytest.raises(InvalidKeyRequest) as refused:
        clean_allowed_ips("10.0.0.1\nnot-an-ip\n300.1.1.1\n10.0.0.1/8\nfe80::1%eth0\n10.0.0.2")
    lines = refused.value.message.splitlines()
    assert len(lines) == 4
    assert "“not-an-ip”" in lines[0] and "“300.1.1.1”" in lines[1]
    assert "did you mean 10.0.0.0/8" in lines[2] and "zone" in lines[3]


def test_the_list_has_a_limit_counted_before_anything_is_parsed():
    entries = "\n".join(f"10.0.{i // 256}.{i % 256}" for i in range(ALLOWED_IPS_MAX + 1))
    with pytest.raises(InvalidKeyRequest, match=rf"At most {ALLOWED_IPS_MAX} .*there are {ALLOWED_IPS_MAX + 1}"):
        clean_allowed_ips(entries)
    assert len(clean_allowed_ips("\n".join(entries.splitlines()[:ALLOWED_IPS_MAX]))) == ALLOWED_IPS_MAX


def test_the_generate_dialog_shows_each_bad_line_as_its_own_paragraph(owner_client, unlocked_project):
    response = owner_client.post(
        reverse("project_keys:key_new", args=[unlocked_project.slug]),
        {"name": "fenced", "permissions": ["read"], "expiration": "90", "allowed_ips": "nope\nfe80::1%eth0\n1.2.3"},
        **HX,
    )
    assert response.status_code == 422
    block = re.search(r'<div id="id_allowed_ips_error">(.*?)</div>', response.content.decode(), re.S).group(1)
    assert block.count('<p class="error"') == 3


def test_chosen_projects_with_none_ticked_ties_the_error_to_the_checkboxes(owner_client, user):
    for name in ("Alpha", "Beta"):
        MembershipFactory(project=ProjectFactory(name=name, active_questions=10), user=user, role="owner")
    response = owner_client.post(
        reverse("account_keys:key_new"),
        {"name": "laptop", "permissions": ["read"], "expiration": "90", "scope": "chosen"},
        **HX,
    )
    assert response.status_code == 422
    body = response.content.decode()
    assert '<div id="projects-error">' in body and "Choose at least one project" in body
    boxes = re.findall(r'<input type="checkbox" name="projects"[^>]*>', body)
    assert len(boxes) == 2
    assert all('aria-describedby="projects-error"' in box and 'aria-invalid="true"' in box for box in boxes)
    # The error marks the projects' fieldset, not the Scope radios (which console.js would focus first).
    assert re.search(r'<fieldset class="field scope">', body)
    assert re.search(r'<fieldset class="field nested scope-projects has-error"', body)
