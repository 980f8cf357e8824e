"""Schemathesis against the live OpenAPI document: gunicorn (DEBUG=0) on PostgreSQL and Redis, a key
with every permission, all of schemathesis' phases (examples, coverage, fuzzing, stateful).

Checks: every check schemathesis has (no 5xx, documented status codes, content types, headers
and response schemas, negative data rejected, ...) except `positive_data_acceptance` on the whole
API: it refuses some schema-valid requests on purpose, by state (a question id that does not
exist, a rate limit). The invitation routes pass every check, that one included: their email is
`format: email`, and an address already invited or a member is a documented 409 `conflict`.

RELIABILITY_FUZZ_EXAMPLES (default 60 per operation) and RELIABILITY_FUZZ_SEED (default: random,
printed) bound and reproduce the run.
"""

import os
import random
import re
import subprocess
import time

import pytest

from keys.services import api_key_create
from projects.actors import Actor
from tests.conftest import REQUIRE_POSTGRES
from tests.factories import ProjectFactory, UserFactory

from . import live

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

EXAMPLES = int(os.environ.get("RELIABILITY_FUZZ_EXAMPLES", "60"))
SEED = int(os.environ.get("RELIABILITY_FUZZ_SEED") or random.randrange(1, 2**31))


def _schemathesis_binary():
    binary = live.VENV_BIN / "schemathesis"
    if not binary.exists():
        message = "schemathesis is not installed (make test installs the dev group)"
        if REQUIRE_POSTGRES:
            pytest.fail(message)
        pytest.skip(message)
    return binary


def _run_schemathesis(binary, server, plaintext: str, tmp_path, *options: str) -> tuple[int, str]:
    """`schemathesis run` against the server's OpenAPI document, with the key and the proxy's
    header; the exit status and everything it printed (the server is stopped afterwards)."""
    result = subprocess.run(
        [
            str(binary),
            "run",
            f"http://127.0.0.1:{server.port}/api/v1/openapi.json",
            "-H",
            f"Authorization: Bearer {plaintext}",
            "-H",
            "X-Forwarded-Proto: https",
            *options,
            "--max-examples",
            str(EXAMPLES),
            "--seed",
            str(SEED),
            "--no-color",
            "--request-timeout",
            "20",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
    )
    output = result.stdout + result.stderr
    server.stop()
    print(output[-2500:])
    return result.returncode, output


def _failures(output: str) -> str:
    return (output[output.find("FAILURES") :] if "FAILURES" in output else output)[:12000]


def test_schemathesis_finds_no_5xx_and_no_schema_violation(start_gunicorn, redis_url, tmp_path, figures):
    binary = _schemathesis_binary()
    project = ProjectFactory(owner=UserFactory(), active_questions=12)
    ProjectFactory(active_questions=12)  # another project: its questions must stay out of reach
    _, plaintext = api_key_create(
        project=project, name="fuzz", actor=Actor.cli(), permissions=["create", "read", "write", "delete", "invite"]
    )
    server = start_gunicorn(redis_url=redis_url, workers=2, env={"API_KEY_RATE_LIMIT_PER_MINUTE": 100_000_000})
    started = time.monotonic()
    returncode, output = _run_schemathesis(
        binary, server, plaintext, tmp_path, "--checks", "all", "--exclude-checks", "positive_data_acceptance"
    )
    elapsed = time.monotonic() - started
    assert returncode == 0, f"schemathesis (seed {SEED}) found failures:\n{_failures(output)}"
    log = server.log_text()
    assert "Traceback" not in log and "unhandled error" not in log, log[-3000:]
    generated = re.search(r"(\d+) generated", output)
    live.assert_no_secrets({plaintext}, database=live.dump_database(), logs=log)
    figures.update(
        seed=SEED,
        max_examples_per_operation=EXAMPLES,
        test_cases=int(generated.group(1)) if generated else None,
        seconds=round(elapsed, 1),
        failures=0,
    )


def test_invitation_routes_pass_every_schemathesis_check(start_gunicorn, redis_url, tmp_path, figures):
    """`--checks all`, positive_data_acceptance included: any schema-valid invitation is accepted
    (201) or refused with a documented status (409 for an address already invited)."""
    binary = _schemathesis_binary()
    project = ProjectFactory(owner=UserFactory(), active_questions=12)
    _, plaintext = api_key_create(project=project, name="fuzz", actor=Actor.cli(), permissions=["invite"])
    unlimited = {
        "API_KEY_RATE_LIMIT_PER_MINUTE": 100_000_000,
        "INVITATION_MAILS_PER_PROJECT_PER_HOUR": 100_000_000,
        "INVITATION_MAILS_PER_INVITER_PER_HOUR": 100_000_000,
    }
    server = start_gunicorn(redis_url=redis_url, workers=2, env=unlimited)
    returncode, output = _run_schemathesis(
        binary, server, plaintext, tmp_path, "--include-path-regex", "invitations$", "--checks", "all"
    )
    assert returncode == 0, f"schemathesis (seed {SEED}) found failures:\n{_failures(output)}"
    assert "Traceback" not in server.log_text()
    generated = re.search(r"(\d+) generated", output)
    figures.update(seed=SEED, test_cases=int(generated.group(1)) if generated else None, failures=0)
