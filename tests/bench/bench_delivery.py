"""Delivery throughput: 10,000 messages, 4 worker processes, a local aiosmtpd, PostgreSQL.

Window and spacing play no part here (the messages are made due at once, as the queue
would with them switched off); each worker is a real OS process running deliver_due in
a loop (claim with SKIP LOCKED, opt-out check, stamp, SMTP, mark sent). Prints messages/s
over the workers' busy time (first claim to last mark), and the wall time including
their start-up. Target: >= 200 messages/s.
"""

import time

import pytest
from django.db import connection

from outreach.models import OutreachMessage
from tests.emulators.smtp import SmtpServer
from tests.outreach.delivery_data import make_mailbox, make_messages
from tests.outreach.test_delivery_concurrency import finish, start_workers

MESSAGES = 10_000
WORKERS = 4
TARGET = 200  # messages/s


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(1200)
def bench_delivery():
    with SmtpServer() as smtp:
        make_messages(MESSAGES, mailbox=make_mailbox(smtp))
        began = time.perf_counter()
        summaries = finish(start_workers(WORKERS, batch_size=50), timeout=1100)
        wall = time.perf_counter() - began
        counts = smtp.count_by_recipient()
    connection.close()
    busy = max(s["finished"] for s in summaries) - min(s["started"] for s in summaries)
    sent = sum(s["sent"] for s in summaries)
    rate = sent / busy
    print(
        f"\n[bench] delivery: {sent} messages by {WORKERS} worker processes in {busy:.1f} s: {rate:,.0f} messages/s "
        f"(target >= {TARGET}); {wall:.1f} s wall with start-up; per worker {[s['sent'] for s in summaries]}"
    )
    assert sent == MESSAGES and len(counts) == MESSAGES and set(counts.values()) == {1}
    assert OutreachMessage.objects.filter(status="sent").count() == MESSAGES
    assert rate >= TARGET
