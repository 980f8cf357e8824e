"""Issue 22, details: numbers grouped, "just now" instead of "0 minutes ago", the question counter
as "12 active (10 needed)"."""

from datetime import timedelta

import pytest
from django.template import Context, Template
from django.utils import timezone

from projects.gate import QuestionGate
from projects.templatetags.console import ago, grouped


def test_grouped_numbers():
    assert grouped(137949) == "137,949"
    assert grouped(1000000) == "1,000,000"
    assert grouped(7) == "7"
    assert grouped(None) == ""
    assert Template("{% load console %}{{ n|grouped }} in all").render(Context({"n": 137949})) == "137,949 in all"


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(0, "just now"), (59, "just now"), (60, "1\xa0minute ago"), (3 * 3600 + 5, "3\xa0hours ago")],
)
def test_relative_times_say_just_now(seconds, expected):
    assert ago(timezone.now() - timedelta(seconds=seconds)) == expected


def test_last_used_just_now_on_the_key_list():
    from types import SimpleNamespace

    html = Template('{% include "keys/key/_last_used.html" %}').render(
        Context({"key": SimpleNamespace(last_used_at=timezone.now())})
    )
    assert ">just now</time>" in html
    assert "0\xa0minutes" not in html and "0 minutes" not in html


def test_question_counter_reads_active_and_needed():
    assert QuestionGate(active=12, required=10).counter == "12 active (10 needed)"
    assert QuestionGate(active=1500, required=10).counter == "1,500 active (10 needed)"
