"""Several queuers at once over the same drafts, on real PostgreSQL row locks."""

import random
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from outreach.models import Company, Contact, OutreachMessage, SenderMailbox
from outreach.services import queue
from outreach.services.queue import queue_messages

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

MSK = ZoneInfo("Europe/Moscow")
NOW = datetime(2025, 3, 5, 10, 0, tzinfo=MSK)
WORKERS = 4
DRAFTS = 60
CAP = 10


@pytest.fixture(autouse=True)
def outreach_settings(settings):
    settings.OUTREACH_TIMEZONE = "Europe/Moscow"
    settings.OUTREACH_WINDOW = "09:10-19:45"
    settings.OUTREACH_SPACING = "240-480"
    settings.OUTREACH_SKIP_WEEKENDS = False


def slow_route(email: str) -> str:
    time.sleep(0.002)  # a DNS lookup takes a moment: the workers' steps interleave
    return "ru" if email.endswith(".ru.test") else "other"


@pytest.fixture
def slow_reads(monkeypatch):
    """Widens the gap between reading a mailbox's latest slot and committing the next one, so a queuer
    that did not hold the mailbox lock would be caught nearly every run, not once in a while."""
    read = queue.mailbox_latest

    def slowly(mailbox):
        latest = read(mailbox)
        time.sleep(0.005)
        return latest

    monkeypatch.setattr(queue, "mailbox_latest", slowly)


def test_concurrent_queuers_schedule_each_message_once_and_keep_every_mailboxs_spacing_and_cap(slow_reads):
    boxes = [
        SenderMailbox.objects.create(
            name=f"box-{route}-{n}",
            host="127.0.0.1",
            from_address=f"{route}{n}@sender.test",
            route=route,
            daily_cap=CAP,
        )
        for route in ("ru", "other")
        for n in range(2)
    ]
    for n in range(DRAFTS):
        domain = f"firm{n}.ru.test" if n % 3 == 0 else f"firm{n}.test"
        company = Company.objects.create(name=f"Firm {n}", canonical_domain=domain)
        contact = Contact.objects.create(company=company, email=f"info@{domain}", is_primary=True)
        OutreachMessage.objects.create(
            company=company,
            contact=contact,
            subject="Hi",
            body="Synthetic",
            metadata={"ready": True},
            created_at=NOW - timedelta(minutes=DRAFTS - n),
        )
    barrier = threading.Barrier(WORKERS)
    results, errors = [], []

    def worker(seed):
        try:
            barrier.wait()
            results.append(queue_messages(now=NOW, route_for=slow_route, rng=random.Random(seed)))
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()  # each thread has its own connection: a real race

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert len(results) == WORKERS
    assert sum(r.scheduled for r in results) == DRAFTS, "a message was scheduled by two queuers"
    assert sum(r.skipped + r.no_mailbox + r.deferred for r in results) == 0
    assert OutreachMessage.objects.filter(status="scheduled").count() == DRAFTS
    for box in boxes:
        times = list(
            OutreachMessage.objects.filter(mailbox=box)
            .order_by("scheduled_for")
            .values_list("scheduled_for", flat=True)
        )
        assert times, f"{box} got nothing"
        gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
        assert min(gaps, default=240) >= 240, f"{box}: two sends closer than the minimum spacing"
        per_day = Counter(t.astimezone(MSK).date() for t in times)
        assert max(per_day.values()) <= CAP, f"{box}: over its daily cap {per_day}"
