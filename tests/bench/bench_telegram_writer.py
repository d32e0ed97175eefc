"""Writing 100,000 participants (target: <= 5 s on PostgreSQL here). Prints rows/s.

An export buffers Telegram's 200-member pages and writes 5,000 at a time
(export.FLUSH_ROWS), each batch in one transaction with its checkpoint; the
200 row is what writing every page on its own would cost.
"""

import time

import pytest
from django.utils import timezone

from telegram_sources.fake_world import synthetic_people
from telegram_sources.models import Membership, TelegramGroup, TelegramUser
from telegram_sources.services.writer import write_participants

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
TOTAL = 100_000


@pytest.mark.parametrize("batch", [200, 5_000])
def bench_write_100k_participants(batch):
    people = synthetic_people(TOTAL, seed=100)
    group = TelegramGroup.objects.create(telegram_id=-1000000000100 - batch)
    started_at = timezone.now()
    began = time.perf_counter()
    for start in range(0, TOTAL, batch):
        write_participants(
            group=group, participants=people[start : start + batch], seen_at=timezone.now(), run_started_at=started_at
        )
    elapsed = time.perf_counter() - began
    assert Membership.objects.filter(group=group).count() == TOTAL
    assert TelegramUser.objects.count() == TOTAL
    print(
        f"\n[bench] writer, batches of {batch}: {TOTAL:,} participants in {elapsed:.2f} s "
        f"= {TOTAL / elapsed:,.0f} rows/s (target: <= 5 s)"
    )
    TelegramUser.objects.all().delete()
