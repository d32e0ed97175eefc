"""Estimating the gender of 100,000 freshly exported Telegram users (what an export's end costs). Prints rows/s.

The users come from the export writer (so they start at gender = ""), then refresh_genders
reads them in batches of 5,000, runs the scorer and writes the estimates back.
"""

import time

import pytest
from django.utils import timezone

from telegram_sources.fake_world import synthetic_people
from telegram_sources.models import TelegramGroup, TelegramUser
from telegram_sources.services.gender import refresh_genders
from telegram_sources.services.writer import write_participants

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
TOTAL = 100_000


def bench_refresh_genders_of_100k_users():
    people = synthetic_people(TOTAL, seed=100)
    group = TelegramGroup.objects.create(telegram_id=-1000000000900)
    for start in range(0, TOTAL, 5_000):
        now = timezone.now()
        write_participants(group=group, participants=people[start : start + 5_000], seen_at=now, run_started_at=now)

    began = time.perf_counter()
    estimated = refresh_genders()
    elapsed = time.perf_counter() - began

    assert estimated == TOTAL and not TelegramUser.objects.filter(gender="").exists()
    began = time.perf_counter()
    assert refresh_genders() == 0
    idle = time.perf_counter() - began
    print(
        f"\n[bench] refresh_genders: {TOTAL:,} users in {elapsed:.2f} s = {TOTAL / elapsed:,.0f} rows/s; "
        f"with nothing pending: {idle * 1000:.1f} ms"
    )
    TelegramUser.objects.all().delete()
