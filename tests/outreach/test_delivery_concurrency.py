"""Real worker processes against real PostgreSQL row locks and a real SMTP server: never the same email twice.

Each worker is its own OS process (`python -m tests.outreach.delivery_worker`) with its own
database connection, claiming with SELECT … FOR UPDATE SKIP LOCKED in the test database.
"""

import json
import os
import signal
import subprocess
import sys
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from outreach.models import OutreachMessage
from outreach.services.deliver import deliver_due, expire_leases
from tests.conftest import ROOT
from tests.emulators.smtp import SmtpServer
from tests.outreach.delivery_data import make_mailbox, make_messages

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True), pytest.mark.timeout(600)]
Status = OutreachMessage.Status
LEASE = 300


def database_url() -> str:
    """The test database this test writes to, for the worker processes."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def start_workers(count: int, *, batch_size: int = 20) -> list[subprocess.Popen]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(),
        "EMAIL_SENDING_ENABLED": "true",
        "EMAIL_TIMEOUT": "20",
    }
    command = [sys.executable, "-m", "tests.outreach.delivery_worker", "--batch-size", str(batch_size)]
    command += ["--lease", str(LEASE)]
    return [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(count)
    ]


def finish(workers: list[subprocess.Popen], timeout: float = 400) -> list[dict]:
    summaries = []
    for worker in workers:
        out, err = worker.communicate(timeout=timeout)
        assert worker.returncode == 0, err[-3000:]
        summaries.append(json.loads(out.strip().splitlines()[-1]))
    return summaries


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        yield server
    connection.close()  # nothing of ours keeps the test database open for its teardown


def test_eight_workers_deliver_two_thousand_messages_exactly_once(smtp):
    messages = make_messages(2000, mailbox=make_mailbox(smtp))

    summaries = finish(start_workers(8))

    counts = smtp.count_by_recipient()
    assert len(counts) == 2000 and set(counts.values()) == {1}
    assert sum(s["sent"] for s in summaries) == 2000
    assert sum(s["sent"] > 0 for s in summaries) >= 2  # the work really was shared
    assert set(OutreachMessage.objects.values_list("status", flat=True)) == {Status.SENT}
    sent_ids = set(OutreachMessage.objects.values_list("message_id", flat=True))
    assert len(sent_ids) == len(messages)
    assert {m.parsed["Message-ID"] for m in smtp.messages} == sent_ids


def test_a_worker_killed_mid_batch_leaves_no_duplicate_and_its_in_flight_message_for_review(smtp, settings):
    make_messages(300, mailbox=make_mailbox(smtp))
    smtp.delay = 0.25  # slow answers to DATA: the victim is caught with a message in flight
    [victim] = start_workers(1)
    caught = smtp.wait_for(lambda s: len(s.messages) >= 2 and s.in_data >= 1, timeout=120)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=30)
    assert caught, victim.stderr.read()[-3000:]
    smtp.delay = 0

    finish(start_workers(7))

    # The victim's rows stay claimed until their lease expires; nobody else touched them.
    orphaned = OutreachMessage.objects.filter(status=Status.SENDING)
    assert orphaned.count() == 20 - 2  # its batch of 20, less the two it finished
    assert orphaned.exclude(message_id="").count() == 1  # handed to SMTP when it died
    assert expire_leases(now=timezone.now() + timedelta(seconds=LEASE + 1)) == 18

    settings.EMAIL_SENDING_ENABLED = True
    while deliver_due(batch_size=50).touched:  # the 17 it never started go out now
        pass

    [review] = OutreachMessage.objects.filter(status=Status.NEEDS_REVIEW)
    counts = smtp.count_by_recipient()
    assert max(counts.values()) == 1  # no duplicates, including the message in flight
    assert counts.get(review.contact.email, 0) <= 1
    sent = OutreachMessage.objects.filter(status=Status.SENT).select_related("contact")
    assert sent.count() == 299
    assert all(counts[m.contact.email] == 1 for m in sent)
