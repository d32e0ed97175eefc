"""`seeders preview` on 1,000,000 users (target: median <= 10 ms on PostgreSQL here).

Loads a million synthetic users with one INSERT ... SELECT generate_series (~5% in
the reference group, skewed offline counts full of ties, some without
last_offline_at), gives the 10,000 best candidates an active stale mark (so the
index scan has to skip them) and 20,000 others expired ones, ANALYZEs, then:

- times seeders.services.preview() 50 times and prints the median;
- prints the candidate query's EXPLAIN ANALYZE and asserts it reads the partial
  index tguser_seeder_candidates (the only assert: no timing asserts);
- dumps the same users as a seed-000 members.json and times the playbook's way
  (json.load + filter + sort for the top-10), printing the ratio.
"""

import json
import re
import statistics
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from seeders import selectors, services
from seeders.models import SeederBatch, StaleMark
from telegram_sources.models import TelegramUser
from tests.seeders import playbook

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True), pytest.mark.timeout(900)]
TOTAL = 1_000_000
ACTIVE_MARKS = 10_000
EXPIRED_MARKS = 20_000
RUNS = 50
FEWER_MARKS = 1_000  # the second measurement: a more usual number of active marks ahead of the top
BASE_ID = 7_000_000_000


def load_users():
    table = TelegramUser._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.42)")
        cursor.execute(
            f"""
            INSERT INTO {table} (telegram_id, username, first_name, last_name, phone, is_bot, is_premium,
                is_verified, status, first_seen_at, last_offline_at, offline_cnt, in_reference)
            SELECT %s + g, 'user_' || g, 'First' || g, '', '', false, false, false, '',
                timestamptz '2022-01-01 00:00+00' + (g %% 20000) * interval '1 hour',
                CASE WHEN random() < 0.12 THEN NULL
                     ELSE timestamptz '2024-01-01 19:00+00' + floor(random() * 400) * interval '1 day' END,
                floor(power(random(), 4) * 60)::int,
                random() < 0.05
            FROM generate_series(1, %s) AS g
            """,
            [BASE_ID, TOTAL],
        )


def load_marks():
    now = timezone.now()
    batch = SeederBatch.objects.create(
        reason=f"legacy import {now.isoformat(timespec='seconds')}", is_legacy_import=True
    )
    users, marks = TelegramUser._meta.db_table, StaleMark._meta.db_table
    top = selectors._listable().order_by(*selectors.CANDIDATE_ORDER).values("pk")[:ACTIVE_MARKS]
    top_sql, top_params = top.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {marks} (user_id, batch_id, set_at, until, reason)
            SELECT t.pk, %s, %s, %s, 'bench' FROM ({top_sql}) AS t
            """,
            [batch.pk, now, now + timedelta(days=180), *top_params],
        )
        cursor.execute(
            f"""
            INSERT INTO {marks} (user_id, batch_id, set_at, until, reason)
            SELECT id, %s, %s, %s, 'bench expired' FROM {users} WHERE id %% 50 = 7 LIMIT %s
            """,
            [batch.pk, now - timedelta(days=400), now - timedelta(days=220), EXPIRED_MARKS],
        )
    vacuum_analyze()
    assert StaleMark.objects.active().count() == ACTIVE_MARKS
    return batch


def vacuum_analyze():
    """What autovacuum would have done by now: statistics, and the visibility map for index-only probes."""
    with connection.cursor() as cursor:
        for model in (TelegramUser, StaleMark):
            cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")


def dump_members(path):
    """The same users as a seed-000 members.json (indent 2, as the playbook writes it), streamed."""
    users, marks = TelegramUser._meta.db_table, StaleMark._meta.db_table
    sql = f"""
        SELECT u.telegram_id, u.username, u.first_name, u.offline_cnt, u.first_seen_at, u.last_offline_at,
               u.in_reference, m.set_at, m.until, m.reason
        FROM {users} u LEFT JOIN LATERAL (
            SELECT set_at, until, reason FROM {marks}
            WHERE user_id = u.id AND revoked_at IS NULL ORDER BY until DESC LIMIT 1
        ) m ON true
        ORDER BY u.id
    """

    def iso(value):
        return value.isoformat() if value else None

    now = timezone.now()
    with connection.cursor() as cursor, open(path, "w", encoding="utf-8") as out:
        cursor.execute(sql)
        out.write('{\n  "members": [')
        first = True
        while rows := cursor.fetchmany(20_000):
            parts = []
            for tid, name, first_name, cnt, seen, last, ref, set_at, until, reason in rows:
                row = {
                    "id": tid,
                    "username": name,
                    "first_name": first_name,
                    "last_name": None,
                    "offline_cnt": cnt,
                    "first_seen_at": iso(seen),
                    "last_offline_at": iso(last),
                    "in_s16_space": ref,
                }
                if until is not None:
                    row.update(stale=until > now, stale_set_at=iso(set_at), stale_until=iso(until), stale_reason=reason)
                parts.append(json.dumps(row, ensure_ascii=False, indent=2).replace("\n", "\n    "))
            out.write(("\n    " if first else ",\n    ") + ",\n    ".join(parts))
            first = False
        out.write("\n  ]\n}\n")


def playbook_way(path) -> list[int]:
    """What the operator runs: load the file, filter, sort, take ten."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    return playbook.playbook_top(data["members"], 10)


def median_ms(fn, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        began = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times), result


def bench_preview_on_a_million_users(tmp_path):
    began = time.perf_counter()
    load_users()
    loaded = time.perf_counter() - began
    batch = load_marks()
    print(f"\n[bench] seeders preview: {TOTAL:,} users loaded in {loaded:.1f} s")

    services.preview()  # warm the connection and the caches
    preview_ms, rows = median_ms(services.preview, RUNS)
    print(
        f"[bench] seeders preview, {ACTIVE_MARKS:,} active marks ahead of the top-10: "
        f"median of {RUNS} runs {preview_ms:.2f} ms (target: <= 10 ms)"
    )
    # What top_candidates() runs: the ids, off the covering index (then 10 rows by pk).
    top = TelegramUser.objects.filter(pk__in=selectors.candidates().values("pk")[:10])
    plan = top.order_by(*selectors.CANDIDATE_ORDER).explain(analyze=True, buffers=True)
    print("[bench] EXPLAIN (ANALYZE, BUFFERS) of the candidate query (top-10 ids):\n" + plan)

    keep = batch.marks.filter(reason="bench").order_by("pk").values("pk")[:FEWER_MARKS]
    batch.marks.filter(reason="bench").exclude(pk__in=keep).update(revoked_at=timezone.now())
    vacuum_analyze()
    services.preview()
    fewer_ms, _ = median_ms(services.preview, RUNS)
    print(f"[bench] seeders preview, {FEWER_MARKS:,} active marks ahead: median of {RUNS} runs {fewer_ms:.2f} ms")
    batch.marks.filter(reason="bench").update(revoked_at=None)
    vacuum_analyze()

    path = tmp_path / "members.json"
    began = time.perf_counter()
    dump_members(path)
    print(f"[bench] members.json: {path.stat().st_size / 1e6:.0f} MB written in {time.perf_counter() - began:.1f} s")
    playbook_ms, top = median_ms(lambda: playbook_way(path), 3)
    same = "same top-10" if top == [row["telegram_id"] for row in rows] else "DIFFERENT top-10"
    print(
        f"[bench] playbook way {playbook_ms:,.0f} ms vs preview {preview_ms:.2f} ms "
        f"= {playbook_ms / preview_ms:,.0f}x ({same})"
    )

    assert re.search(r"Index (Only )?Scan using tguser_seeder_candidates", plan)
