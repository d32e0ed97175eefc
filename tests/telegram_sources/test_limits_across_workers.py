"""One Telegram account, three worker processes exporting at once: the account's
request rate holds across all of them, because the bucket lives in Redis."""

import json
import os
import subprocess
import sys
import time
import uuid

import pytest

from tests.conftest import ROOT, redis_url

pytestmark = pytest.mark.redis

WORKER = """
import json, sys, time
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from leadops.jobs import create_job
from telegram_sources.fake_gateway import FakeTelegramGateway
from telegram_sources.fake_world import FakeWorld, synthetic_people
from telegram_sources.models import TelegramGroup
from telegram_sources.services.jobs import run_group_export

group_id, account, start = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
world = FakeWorld()
world.add_group(group_id, "chat", synthetic_people(1600, seed=-group_id))
FakeTelegramGateway.use_world(world)
group = TelegramGroup.objects.create(telegram_id=group_id)
time.sleep(max(0.0, start - time.time()))
result = run_group_export(group_id=group.pk, job_id=create_job(kind="tg-export").pk, account=account)
print(json.dumps({"fetched": result.fetched, "requests": [t for t, _, _ in world.requests]}))
"""


def test_three_workers_share_one_accounts_rate(tmp_path):
    account = f"shared-{uuid.uuid4().hex[:8]}"
    start = time.time() + 4  # time for three interpreters to start and migrate
    workers = []
    for n in range(3):
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": f"sqlite:///{tmp_path / f'worker{n}.sqlite3'}",  # each worker's own rows
            "REDIS_URL": redis_url(),  # one limiter for all of them
            "TELEGRAM_RPS": "4",
        }
        workers.append(
            subprocess.Popen(
                [sys.executable, "-c", WORKER, str(-1001888000000 - n), account, str(start)],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    results = []
    for worker in workers:
        out, err = worker.communicate(timeout=90)
        assert worker.returncode == 0, err[-2000:]
        results.append(json.loads(out.strip().splitlines()[-1]))

    assert [r["fetched"] for r in results] == [1600, 1600, 1600]
    stamps = sorted(t for r in results for t in r["requests"])
    assert len(stamps) == 3 * (1 + 8 + 1)  # group lookup, 8 pages, the empty page that ends the listing
    rate, burst = 4, 1
    for i, first in enumerate(stamps):
        in_window = sum(1 for t in stamps[i:] if t < first + 1)
        assert in_window <= rate + burst, f"{in_window} requests within 1 s from {first}"
