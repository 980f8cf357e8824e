"""Mail off the request path (keys_console/mail.py): requests enqueue, the django-tasks-db worker
sends over real SMTP, and a send that fails is tried again later."""

import email
import re
import time

import pytest
from django.core import mail
from django.core.management import call_command
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from keys_console import mail as mail_tasks
from projects.models import Invitation
from tests.smtp_sink import BlackHole, SmtpSink

SMTP = "django.core.mail.backends.smtp.EmailBackend"
DATABASE_QUEUE = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def run_worker() -> None:
    """`manage.py db_worker --batch`: every task that is due, then exit."""
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)


@pytest.fixture
def production_queue(settings):
    settings.TASKS = DATABASE_QUEUE
    return settings


def smtp_on(settings, port: int) -> None:
    settings.MAILERS = {
        "default": {"BACKEND": SMTP, "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 5, "use_tls": False}}
    }


@pytest.mark.django_db(transaction=True)
def test_invitation_answers_at_once_with_smtp_down_and_the_mail_goes_when_it_is_back(
    production_queue, owner_client, unlocked_project, monkeypatch
):
    hole = BlackHole()  # an SMTP server that hangs: a send in the request would take its 5 s timeout
    port = hole.port
    smtp_on(production_queue, port)
    members = reverse("projects:members", args=[unlocked_project.slug])
    started = time.monotonic()
    response = owner_client.post(members, {"email": "joiner@example.com", "role": "viewer"})
    elapsed = time.monotonic() - started
    assert response.status_code == 302
    assert elapsed < 1.0, f"the invitation took {elapsed:.2f} s"
    assert Invitation.objects.filter(project=unlocked_project, email="joiner@example.com").exists()
    queued = DBTaskResult.objects.get()
    assert queued.status == "READY" and queued.task_path == "keys_console.mail.send_email"

    hole.close()  # now down for good: connection refused
    monkeypatch.setattr(mail_tasks, "RETRY_DELAYS", (1,))
    run_worker()
    first, retry = DBTaskResult.objects.order_by("enqueued_at")
    assert first.status == "FAILED" and "ConnectionRefusedError" in first.exception_class_path
    assert retry.status == "READY" and retry.run_after is not None
    run_worker()  # the retry is not due yet
    assert DBTaskResult.objects.filter(status="READY").count() == 1

    sink = SmtpSink(port).start()  # the server is back
    try:
        time.sleep(1.2)
        run_worker()
        assert DBTaskResult.objects.get(pk=retry.pk).status == "SUCCESSFUL"
        # the rows keep who and what, not the body with its invitation link
        for row in DBTaskResult.objects.all():
            assert "invitations/" not in str(row.args_kwargs), row.args_kwargs
            assert row.args_kwargs["kwargs"]["to"] == ["joiner@example.com"]
        assert len(sink.messages) == 1
        message = sink.messages[0]
        assert message["to"] == ["joiner@example.com"]
        parsed = email.message_from_string(message["data"])
        assert parsed["To"] == "joiner@example.com" and "invited" in parsed["Subject"]
        assert re.search(r"/projects/invitations/\S+/", parsed.get_payload(decode=True).decode())
    finally:
        sink.stop()


@pytest.mark.django_db(transaction=True)
def test_a_mail_is_given_up_after_its_last_try(production_queue, monkeypatch, caplog):
    smtp_on(production_queue, BlackHole().port)  # closed at once below: refused
    monkeypatch.setattr(mail_tasks, "RETRY_DELAYS", ())
    mail_tasks.send_mail_later("Hello", "Body", ["a@example.com"])
    with caplog.at_level("ERROR", logger="keys_console.mail"):
        run_worker()
    assert DBTaskResult.objects.get().status == "FAILED"
    assert any("giving up" in record.getMessage() for record in caplog.records)


@pytest.mark.django_db(transaction=True)
def test_allauth_mails_are_enqueued_too(production_queue, client, user, settings):
    """A password-reset mail: rendered in the request, sent by the worker."""
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    response = client.post(reverse("account_reset_password"), {"email": user.email})
    assert response.status_code == 302
    assert mail.outbox == []  # not sent in the request
    task = DBTaskResult.objects.get()
    assert task.args_kwargs["kwargs"]["to"] == [user.email]
    run_worker()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [user.email]
    assert "/accounts/password/reset/key/" in mail.outbox[0].body


def test_immediate_backend_sends_in_the_process(mailoutbox):
    """Development and tests (TASKS_BACKEND=immediate): the task runs at once."""
    mail_tasks.send_mail_later("Hi", "There", ["b@example.com"])
    assert [m.subject for m in mailoutbox] == ["Hi"]


def test_html_alternative_and_headers_survive_the_queue(mailoutbox):
    message = mail.EmailMultiAlternatives("S", "text", "from@example.com", ["c@example.com"], headers={"X-T": "1"})
    message.attach_alternative("<p>html</p>", "text/html")
    mail_tasks.send_later(message)
    sent = mailoutbox[0]
    assert sent.body == "text" and sent.alternatives[0].content == "<p>html</p>"
    assert sent.from_email == "from@example.com" and sent.extra_headers == {"X-T": "1"}


@pytest.mark.parametrize(("attempt", "delay"), [(0, None), (1, 10), (2, 60), (7, 3 * 3600), (8, None)])
def test_retry_delays(attempt, delay):
    assert mail_tasks.retry_delay(attempt) == delay


@pytest.mark.parametrize(
    ("env", "backend"),
    [
        ({"DEBUG": "0"}, "django_tasks_db.DatabaseBackend"),
        ({"DEBUG": "1"}, "django.tasks.backends.immediate.ImmediateBackend"),
        ({"DEBUG": "0", "TASKS_BACKEND": "immediate"}, "django.tasks.backends.immediate.ImmediateBackend"),
    ],
)
def test_production_queues_mail_in_the_database_and_development_sends_at_once(env, backend):
    import os
    import secrets
    import subprocess
    import sys

    from django.conf import settings

    base = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "TASKS_BACKEND"}}
    done = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.TASKS['default']['BACKEND'])"],
        cwd=settings.BASE_DIR,
        env={**base, **env, "SECRET_KEY": secrets.token_urlsafe(50), "DJANGO_SETTINGS_MODULE": "keys_console.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == backend
