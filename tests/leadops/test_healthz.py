"""/healthz: 200 only when the database, the broker, beat and a worker are fine; 503 naming what is not."""

import json
import os
import time
import uuid
from io import StringIO
from types import SimpleNamespace

import pytest
from celery.signals import after_task_publish, beat_init
from django.core.management import call_command
from django.db import connections
from django_celery_beat.models import PeriodicTask

from leadops import health, heartbeat
from leadops.models import JobRun
from leadops.tasks import heartbeat as heartbeat_task
from tests.conftest import using_postgres
from tests.leadops.outages import RedisServer, TcpProxy
from tests.workers import celery_worker

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def health_store(settings, tmp_path, monkeypatch):
    """Heartbeats in the test Redis (emptied between tests by conftest) or in a fresh folder; a broker
    that exists: the test Redis, or a filesystem broker of our own; this process is not beat."""
    settings.HEALTH_DIR = tmp_path / "health"
    if not settings.REDIS_URL:
        folders = {key: str(tmp_path / "broker" / key) for key in health.FILESYSTEM_BROKER_FOLDERS}
        for folder in folders.values():
            os.makedirs(folder)
        settings.CELERY_BROKER_URL = "filesystem://"
        settings.CELERY_BROKER_TRANSPORT_OPTIONS = folders
    monkeypatch.setattr(heartbeat, "IN_BEAT", False)


def beat_publishes_its_heartbeat() -> None:
    """What `celery beat` does: announce itself at start, then publish the heartbeat task."""
    beat_init.send(sender=None)
    after_task_publish.send(
        sender=heartbeat.HEARTBEAT_TASK,
        body=((), {}, {}),
        headers={"task": heartbeat.HEARTBEAT_TASK, "id": str(uuid.uuid4())},
        exchange="",
        routing_key="celery",
    )


def everything_alive() -> None:
    beat_publishes_its_heartbeat()
    heartbeat.record_worker_heartbeat(hostname="celery@worker-1")


def get_healthz(client, query=""):
    response = client.get(f"/healthz{query}")
    return response, json.loads(response.content)


def test_it_answers_200_when_database_broker_beat_and_worker_are_fine(client):
    everything_alive()

    response, body = get_healthz(client)

    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert body["failing"] == []
    assert set(body["checks"]) == {"database", "broker", "beat", "worker"}
    assert all(check["ok"] for check in body["checks"].values())
    assert body["checks"]["beat"]["last_tick"] is not None
    assert body["checks"]["beat"]["age_s"] < 60
    assert body["checks"]["worker"]["workers"] == 1
    assert all(isinstance(check["ms"], float) for check in body["checks"].values())


def test_it_needs_no_login_sets_no_cookie_and_is_never_cached(client):
    everything_alive()

    response, _ = get_healthz(client)

    assert response.status_code == 200
    assert not response.cookies
    assert "no-store" in response["Cache-Control"]
    assert response["Content-Type"] == "application/json"


def test_it_answers_503_naming_the_worker_when_no_worker_wrote_a_heartbeat(client):
    beat_publishes_its_heartbeat()

    response, body = get_healthz(client)

    assert response.status_code == 503
    assert body["status"] == "fail"
    assert body["failing"] == ["worker"]
    assert body["checks"]["worker"]["ok"] is False
    assert "no worker heartbeat" in body["checks"]["worker"]["error"]


def test_it_answers_503_when_the_only_worker_heartbeat_is_stale(client):
    beat_publishes_its_heartbeat()
    heartbeat.record_worker_heartbeat(hostname="celery@gone", at=time.time() - 10 * 60)

    response, body = get_healthz(client)

    assert response.status_code == 503
    assert body["failing"] == ["worker"]
    assert body["checks"]["worker"]["age_s"] >= 600


def test_it_answers_503_when_the_beat_tick_is_stale(client):
    heartbeat.record_worker_heartbeat(hostname="celery@worker-1")
    heartbeat.record_beat_tick(at=time.time() - 10 * 60)

    response, body = get_healthz(client)

    assert response.status_code == 503
    assert body["failing"] == ["beat"]
    assert body["checks"]["beat"]["age_s"] >= 600
    assert "older than 180 s" in body["checks"]["beat"]["error"]


def test_a_heartbeat_published_outside_beat_is_not_a_beat_tick(client):
    heartbeat.record_worker_heartbeat(hostname="celery@worker-1")
    after_task_publish.send(sender=heartbeat.HEARTBEAT_TASK, body=((), {}, {}), headers={}, exchange="")

    _, body = get_healthz(client)

    assert body["failing"] == ["beat"]
    assert "no beat tick recorded" in body["checks"]["beat"]["error"]


def test_running_the_heartbeat_task_shows_as_the_last_task_run(client):
    everything_alive()

    heartbeat_task.delay()

    _, body = get_healthz(client)
    assert body["checks"]["worker"]["last_task_run"] is not None


def test_setup_schedules_makes_beat_publish_the_heartbeat_every_minute():
    call_command("setup_schedules", stdout=StringIO())

    entry = PeriodicTask.objects.get(task="leadops.tasks.heartbeat")
    cron = entry.crontab
    assert entry.enabled
    assert (cron.minute, cron.hour, cron.day_of_month, cron.month_of_year, cron.day_of_week) == ("*",) * 5


def test_it_runs_only_the_checks_asked_for(client):
    response, body = get_healthz(client, "?checks=database,broker")

    assert response.status_code == 200, body
    assert set(body["checks"]) == {"database", "broker"}


def test_it_rejects_an_unknown_check(client):
    response, body = get_healthz(client, "?checks=database,kettle")

    assert response.status_code == 400
    assert "kettle" in body["error"]


def test_it_answers_head_and_refuses_post(client):
    everything_alive()

    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405


def test_it_never_shows_the_broker_password(client, settings):
    from tests.conftest import free_port

    settings.CELERY_BROKER_URL = f"redis://:s3cret-broker-pass@127.0.0.1:{free_port()}/0"
    everything_alive()

    response, body = get_healthz(client)

    assert response.status_code == 503
    assert body["failing"] == ["broker"]
    assert body["checks"]["broker"]["error"]
    assert b"s3cret-broker-pass" not in response.content


def test_describe_error_masks_credentials_in_urls():
    text = health.describe_error(ValueError("cannot reach redis://user:hunter22@10.0.0.5:6379/0\ntraceback..."))

    assert text == "ValueError: cannot reach redis://***@10.0.0.5:6379/0"


def test_the_command_line_check_exits_0_when_fine_and_1_when_not(capsys):
    heartbeat.record_beat_tick()
    assert health.main(["beat"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "ok"

    assert health.main(["worker"]) == 1
    assert json.loads(capsys.readouterr().out)["failing"] == ["worker"]


@pytest.mark.redis
@pytest.mark.skipif(not RedisServer.available(), reason="needs the redis-server binary")
def test_it_goes_503_while_redis_is_stopped_and_back_to_200_when_it_returns(client, settings, tmp_path):
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        settings.REDIS_URL = settings.CELERY_BROKER_URL = server.url
        everything_alive()
        assert get_healthz(client)[0].status_code == 200

        server.stop()
        response, body = get_healthz(client)
        assert response.status_code == 503
        assert {"broker", "beat", "worker"} <= set(body["failing"])  # heartbeats live in Redis too
        assert "database" not in body["failing"]
        assert heartbeat.record_worker_heartbeat(hostname="celery@worker-1") is False  # logged, not raised

        server.start()
        response, body = get_healthz(client)
        assert response.status_code == 200, body
    finally:
        server.stop()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_goes_503_while_the_database_is_unreachable_and_back_to_200_when_it_returns(client, monkeypatch):
    db = connections["default"].settings_dict
    proxy = TcpProxy(db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432))
    proxy.start()
    try:
        # The check connects through the proxy. Only the check sees the proxy's address: the test's
        # own connection (which Django may close and reopen between requests) keeps the real one.
        through_proxy = SimpleNamespace(settings_dict={**db, "HOST": "127.0.0.1", "PORT": str(proxy.port)})
        monkeypatch.setattr(health, "connections", {"default": through_proxy})
        everything_alive()
        assert get_healthz(client)[0].status_code == 200

        proxy.stop()
        response, body = get_healthz(client)
        assert response.status_code == 503
        assert body["failing"] == ["database"]
        assert body["checks"]["database"]["error"].startswith("OperationalError")

        proxy.start()
        response, body = get_healthz(client)
        assert response.status_code == 200, body
    finally:
        proxy.stop()
    # A failed check leaves nothing broken behind for the ORM.
    assert JobRun.objects.count() == 0


@pytest.mark.redis
def test_a_real_worker_writes_its_heartbeat_and_runs_the_heartbeat_task(tmp_path, settings):
    queue = f"test-health-{uuid.uuid4().hex[:8]}"
    hostname = f"health-{uuid.uuid4().hex[:8]}@test"
    log = tmp_path / "worker.log"
    with celery_worker(queue, log, hostname=hostname, database=False):
        _wait_for(lambda: hostname in heartbeat.read(heartbeat.WORKER), log)
        assert health.check_worker()["ok"]

        # Celery reads CELERY_TASK_ALWAYS_EAGER from Django settings before its own `task_always_eager`.
        settings.CELERY_TASK_ALWAYS_EAGER = False
        heartbeat_task.apply_async(queue=queue)
        _wait_for(lambda: hostname in heartbeat.read(heartbeat.TASK), log)
        assert heartbeat.read(heartbeat.BEAT) == {}  # published by a test, not by beat


def _wait_for(condition, log, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(f"waited {timeout} s in vain; worker output:\n{log.read_text()[-3000:]}")


def test_the_database_check_reports_the_engine_in_use():
    assert health.check_database()["vendor"] == ("postgresql" if using_postgres() else "sqlite")
