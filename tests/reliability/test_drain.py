"""Restarts drain: a rolling restart behind a balancer that does NOT retry loses no request.

    client ──TLS──> HAProxy (deploy/haproxy.cfg with `retries 0`, no retry-on) ──> 2 gunicorn hosts
                                                                                  (keys_console/gunicorn_conf.py)

The shipped HAProxy retries a request a stopping host refused (`retry-on conn-failure ...`), and
so hid that a host stopped accepting before the balancer had seen it go; behind a balancer that
retries little (HAProxy's default, nginx with non-idempotent requests, most cloud balancers) that
cost requests. With the shipped gunicorn configuration, SIGTERM first makes `/healthz` answer 503
while the host keeps serving for DRAIN_SECONDS (the balancer's fall × inter plus a margin), and only
then stops accepting: every request of the load is answered 200, through every host's restart.

Then Redis is stopped behind the same balancer: `/healthz` says `degraded` (200), so every host
stays in and every request is still answered (the API falls back to the database).
"""

import re
import time

import pytest

from tests.factories import ApiKeyFactory

from . import live
from .test_topology import DEPLOY_CFG, HAProxy, Load, check_interval, summary

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

HOSTS = 2
WORKERS_PER_HOST = 2
# A loaded 2-core machine took 20-30 s to boot a worker (Django and the apps imported per worker).
START_TIMEOUT = 120
CONFIG = live.REPO / "keys_console" / "gunicorn_conf.py"


@pytest.fixture(autouse=True)
def _haproxy():
    from .test_topology import _found

    if _found("haproxy") is None:
        pytest.skip("needs haproxy (Debian package; .ci/run installs it)")


def without_retries(config: str) -> str:
    """The shipped configuration, except that a failed request is never tried again."""
    assert "    retries 3\n" in config and "retry-on " in config, "deploy/haproxy.cfg changed: update the test"
    config = config.replace("    retries 3\n", "    retries 0\n")
    config = re.sub(r"    retry-on [^\n]*\n", "", config)
    return config.replace("    option redispatch 1\n", "")


class NoRetryHAProxy(HAProxy):
    def __init__(self, servers, workdir):
        super().__init__(servers, workdir)
        self.config.write_text(without_retries(self.config.read_text()))


def test_rolling_restart_behind_a_balancer_that_does_not_retry_loses_nothing(
    transactional_db, project, tmp_path, figures
):
    shipped = DEPLOY_CFG.read_text()
    inter, fall, _rise = check_interval(shipped)
    redis = live.PrivateRedis()
    redis.start()
    env = {
        "TRUSTED_PROXIES": "1",
        "API_KEY_RATE_LIMIT_PER_MINUTE": "100000000",
        "API_USAGE_FLUSH_SECONDS": "1",
    }
    hosts = [
        live.Gunicorn(
            database_url=live.database_url(),
            redis_url=redis.url,
            workers=WORKERS_PER_HOST,
            env={**env, "SECRET_KEY": "shared-" + "k" * 50},
            log_dir=tmp_path,
            config=CONFIG,
        )
        for _ in range(HOSTS)
    ]
    balancer = None
    try:
        for host in hosts:
            host.start(timeout=START_TIMEOUT)
        balancer = NoRetryHAProxy([h.port for h in hosts], tmp_path).start()
        assert "retries 0" in balancer.config.read_text()
        key = ApiKeyFactory(project=project, permissions=["read"], name="load").plaintext
        figures.update(hosts=HOSTS, workers_per_host=WORKERS_PER_HOST, check={"inter_s": inter, "fall": fall})

        with Load(balancer.tls_port, key, threads=3) as load:
            time.sleep(2)
            # 1. Rolling restart: SIGTERM (drain, then stop), start again, wait until the balancer has it back.
            started = time.time()
            away = []
            for number, host in enumerate(hosts, 1):
                stopping = time.monotonic()
                host.stop()
                stopped_after = time.monotonic() - stopping
                host.start(timeout=START_TIMEOUT)
                balancer.wait_for(f"host{number}", "UP", timeout=START_TIMEOUT)
                away.append({"stop_s": round(stopped_after, 1), "away_s": round(time.monotonic() - stopping, 1)})
                assert "Draining: /healthz answers 503" in host.log_text()
            ended = time.time()
            figures["rolling_restart"] = {**summary(load.between(started, ended)), "hosts": away}

            # 2. Redis away: every host stays in (healthz 200 "degraded") and every request is answered.
            redis.stop()
            redis_stopped = time.time()
            time.sleep(inter * (fall + 1))
            states = balancer.states()
            probe = hosts[0].get("/healthz", timeout=10)
            redis_ended = time.time()
            figures["redis_stopped"] = {**summary(load.between(redis_stopped, redis_ended)), "states": states}

        figures["total"] = summary(load.outcomes)
        rolling = figures["rolling_restart"]
        assert rolling["requests"] > 30 and rolling["failures"] == 0, figures
        assert all(h["stop_s"] >= 5 for h in away), away  # it did drain (DRAIN_SECONDS, 6 s by default)
        assert set(states.values()) == {"UP"}, states
        assert probe.status == 200 and probe.json()["status"] == "degraded", probe.body
        assert figures["redis_stopped"]["requests"] > 5 and figures["redis_stopped"]["failures"] == 0, figures
    finally:
        if balancer is not None:
            balancer.stop()
        for host in hosts:
            host.stop()
        redis.stop()
