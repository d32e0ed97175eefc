"""`seeders preview` computes exactly what the playbook's own snippet computes.

A synthetic seed-000 members.json (6,000 made-up users, seeded random: many ties in
offline_cnt and last_offline_at, missing last_offline_at and offline_cnt, reference
members, active and expired legacy stale marks, times in several offsets, file order
shuffled) is imported with import_members; the preview's top-10 and the whole
candidate order must equal tests.seeders.playbook's re-implementation of the snippet,
with telegram_id as the tie-break. Stale times are decades away from today, so the
command's timezone.now() and the playbook's "now" cannot disagree.
"""

import io
import json
import random
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.core.management import call_command

from seeders import selectors
from seeders.models import SeederBatch, StaleMark
from telegram_sources.services.legacy import import_members
from tests.seeders import playbook
from tests.telegram_sources.legacy_files import members_file

pytestmark = pytest.mark.django_db

COUNT = 6000
BASE_ID = 7_100_000_000
OFFSETS = [UTC, UTC, timezone(timedelta(hours=3)), timezone(timedelta(hours=-5, minutes=-30))]
# A small pool of instants: many members share one, so (offline_cnt, last_offline_at) ties are common.
INSTANTS = [datetime(2024, 1, 1, 19, tzinfo=UTC) + timedelta(days=7 * k, minutes=30 * (k % 3)) for k in range(12)]
ACTIVE = ("2025-02-01T10:00:00+00:00", "2090-01-01T10:00:00+00:00")
EXPIRED = ("2001-01-01T10:00:00+00:00", "2001-06-30T10:00:00+00:00")


def iso(moment: datetime, rng: random.Random) -> str:
    text = moment.astimezone(rng.choice(OFFSETS)).isoformat()
    return text.replace("+00:00", "Z") if rng.random() < 0.3 else text


def synthetic_members(count: int = COUNT, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    ids = rng.sample(range(BASE_ID, BASE_ID + 10 * count), count)  # shuffled: file order is not id order
    rows = []
    for n, telegram_id in enumerate(ids):
        row = {
            "id": telegram_id,
            "username": f"pb_{n:05d}",
            "first_name": f"First{n:05d}",
            "last_name": None,
            # skewed like real event counts: few people at the top, long tails of ties
            "offline_cnt": min(int(rng.expovariate(0.45)), 14),
            "first_seen_at": iso(datetime(2023, 1, 1, tzinfo=UTC) + timedelta(hours=n), rng),
            "last_offline_at": iso(rng.choice(INSTANTS), rng),
            "in_s16_space": rng.random() < 0.10,
        }
        roll = rng.random()
        if roll < 0.12:
            row["last_offline_at"] = None
        elif roll < 0.15:
            del row["last_offline_at"]
        if rng.random() < 0.02:
            row["offline_cnt"] = None  # the snippet's `or 0`
        if rng.random() < 0.02:
            del row["in_s16_space"]
        stale = rng.random()
        if stale < 0.10:  # an active mark, as step 4 writes it
            row.update(stale=True, stale_set_at=ACTIVE[0], stale_until=ACTIVE[1], stale_reason="seeders-next-top10 x")
        elif stale < 0.20:  # an expired one: history, a candidate again (`stale` still true, as the playbook left it)
            row.update(stale=True, stale_set_at=EXPIRED[0], stale_until=EXPIRED[1], stale_reason="seeders-next-top10 y")
        elif stale < 0.22:  # stale false with its times kept: imported as it is (expired)
            row.update(stale=False, stale_set_at=EXPIRED[0], stale_until=EXPIRED[1])
        elif stale < 0.23:  # stale false but stale_until in the future: rule 3 still skips it, so do we
            row.update(stale=False, stale_set_at=ACTIVE[0], stale_until=ACTIVE[1])
        elif stale < 0.25:
            row["stale"] = False
        rows.append(row)
    return rows


@pytest.fixture
def members_json(tmp_path):
    rows = synthetic_members()
    path = members_file(tmp_path / "members.json", rows)
    import_members(path=path)
    return path


def test_the_synthetic_file_has_what_the_equivalence_needs(members_json):
    rows = playbook.load_members(members_json)
    assert len(rows) >= 5000
    now = datetime.now(UTC)
    candidates = playbook.playbook_order(rows, now=now)
    keys = [(playbook.offline_cnt(x), playbook.last_offline(x)) for x in candidates]
    assert len(set(keys)) < len(keys) / 10  # ties everywhere
    top = candidates[:40]
    assert len({(playbook.offline_cnt(x), playbook.last_offline(x)) for x in top}) < len(top)  # ties in the top
    assert any(x.get("last_offline_at") is None for x in candidates[:200])  # missing among the high counts
    assert sum(1 for x in rows if x.get("in_s16_space")) > 400
    active = [x for x in rows if playbook.is_active_stale(x, now)]
    assert len(active) > 400
    assert any(playbook.is_active_stale(x, now) for x in playbook.snippet_order(rows)[:20])  # some skipped at the top
    # the import made them marks of one legacy batch: active and expired
    assert SeederBatch.objects.get().is_legacy_import
    assert StaleMark.objects.active().count() == len(active)
    assert StaleMark.objects.count() > StaleMark.objects.active().count() + 400


def test_preview_json_is_the_playbooks_top_10(members_json):
    rows = playbook.load_members(members_json)
    out = io.StringIO()

    call_command("seeders", "preview", "--json", stdout=out)

    preview = [row["telegram_id"] for row in json.loads(out.getvalue())]
    assert preview == playbook.playbook_top(rows, 10)


def test_the_whole_candidate_order_is_the_playbooks(members_json):
    rows = playbook.load_members(members_json)
    now = datetime.now(UTC)

    ours = list(selectors.candidates().values_list("telegram_id", flat=True))

    expected = [x["id"] for x in playbook.playbook_order(rows, now=now)]
    assert len(ours) == len(expected) > 4000
    assert ours == expected


def test_the_literal_snippet_agrees_up_to_its_unstable_ties(members_json):
    # The snippet itself (file order within ties, stale members listed): same sort keys, same
    # members once active stale ones are dropped; only the order inside a tie differs.
    rows = playbook.load_members(members_json)
    now = datetime.now(UTC)
    snippet = [x for x in playbook.snippet_order(rows) if not playbook.is_active_stale(x, now)]
    exact = playbook.playbook_order(rows, now=now)

    def key(x):
        return playbook.offline_cnt(x), playbook.last_offline(x)

    assert [key(x) for x in snippet] == [key(x) for x in exact]
    assert [x["id"] for x in snippet] != [x["id"] for x in exact]  # the file order is not the id order
