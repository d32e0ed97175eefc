"""Seed 000's stale* keys: imported as marks of one legacy batch, exported back."""

import json
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from seeders import legacy as seeders_legacy
from seeders import selectors, services
from seeders.models import SeederBatch, StaleMark
from telegram_sources.models import TelegramUser
from telegram_sources.services.legacy import IMPORT_HOOKS, import_members
from telegram_sources.services.legacy_export import ROW_EXTENDERS, export_members
from telegram_sources.services.legacy_files import LegacyFileError
from tests.telegram_sources.legacy_files import SEED_000_KEYS, member, members, members_file, telegram_id

pytestmark = pytest.mark.django_db

STALE_KEYS = ["stale", "stale_set_at", "stale_until", "stale_reason"]
NOW = timezone.now().replace(microsecond=0)
ACTIVE = {
    "stale": True,
    "stale_set_at": (NOW - timedelta(days=10)).isoformat(),
    "stale_until": (NOW + timedelta(days=170)).isoformat(),
    "stale_reason": f"seeders-next-top10 {(NOW - timedelta(days=10)).isoformat()}",
}
EXPIRED = {  # what tests.telegram_sources.legacy_files.member gives every 6th member
    "stale": True,
    "stale_set_at": "2024-06-01T10:00:00+00:00",
    "stale_until": "2024-11-28T10:00:00+00:00",
    "stale_reason": "seeders-next-top10 2024-06-01T10:00:00+00:00",
}


def has_stale(row: dict) -> bool:
    return row.get("stale_set_at") is not None or row.get("stale_until") is not None


def sample() -> list[dict]:
    """60 members: every 6th expired (from member()), every 10th active, and the odd shapes."""
    rows = [member(n, **ACTIVE) if n % 10 == 0 else member(n) for n in range(1, 61)]
    rows += [
        # naive times are UTC, other offsets normalised; stale false with times: imported as is (expired)
        member(61, stale=False, stale_set_at="2024-01-01T12:00:00", stale_until="2024-06-29T15:00:00+03:00"),
        member(62, stale=False),  # no times: no mark
        member(63, stale=None, stale_reason="forgotten"),  # neither: no mark
        member(64, stale=True, stale_set_at="2024-02-01T00:00:00Z", stale_until=None, stale_reason=None),
        member(65, stale=True, stale_until=(NOW + timedelta(days=30)).isoformat(), in_s16_space=False),
    ]
    return rows


def marked(rows):
    return [row for row in rows if has_stale(row)]


def exported(tmp_path, name="out.json") -> list[dict]:
    out = tmp_path / name
    export_members(path=out)
    return json.loads(out.read_text(encoding="utf-8"))["members"]


def mark_state():
    return sorted(StaleMark.objects.values_list("user__telegram_id", "set_at", "until", "reason", "revoked_at"))


def test_the_hooks_are_registered_once_from_ready():
    assert [hook.name for hook in IMPORT_HOOKS].count(seeders_legacy.HOOK_NAME) == 1
    assert [e.extend for e in ROW_EXTENDERS].count(seeders_legacy.extend_row) == 1
    seeders_legacy.register()  # again: replaces, never duplicates
    assert [hook.name for hook in IMPORT_HOOKS].count(seeders_legacy.HOOK_NAME) == 1
    assert [e.extend for e in ROW_EXTENDERS].count(seeders_legacy.extend_row) == 1


def test_import_makes_one_legacy_batch_with_a_mark_per_stale_member(tmp_path, settings):
    rows = sample()
    result = import_members(path=members_file(tmp_path / "members.json", rows))

    batch = SeederBatch.objects.get()
    assert batch.is_legacy_import
    assert batch.created_by is None
    assert batch.reason.startswith("legacy import ")
    datetime.fromisoformat(batch.reason.removeprefix("legacy import "))
    assert batch.status == SeederBatch.Status.APPROVED

    expected = marked(rows)
    assert StaleMark.objects.filter(batch=batch).count() == StaleMark.objects.count() == len(expected)
    marks = {m.user.telegram_id: m for m in StaleMark.objects.select_related("user")}
    assert set(marks) == {row["id"] for row in expected}
    assert telegram_id(62) not in marks and telegram_id(63) not in marks

    active_ids = {row["id"] for row in rows if row["id"] % 10 == 0} | {telegram_id(65)}
    assert {m.user.telegram_id for m in StaleMark.objects.active()} == active_ids
    m30 = marks[telegram_id(30)]  # every 6th and every 10th: the file's (active) keys win
    assert (m30.set_at, m30.until, m30.reason) == (
        NOW - timedelta(days=10),
        NOW + timedelta(days=170),
        ACTIVE["stale_reason"],
    )
    m6 = marks[telegram_id(6)]
    assert (m6.set_at, m6.until) == (datetime(2024, 6, 1, 10, tzinfo=UTC), datetime(2024, 11, 28, 10, tzinfo=UTC))
    m61 = marks[telegram_id(61)]
    assert (m61.set_at, m61.until) == (datetime(2024, 1, 1, 12, tzinfo=UTC), datetime(2024, 6, 29, 12, tzinfo=UTC))
    assert m61.reason == ""
    # stale true without stale_until: the playbook's default, set_at + SEEDERS_STALE_DAYS
    m64 = marks[telegram_id(64)]
    assert m64.until == datetime(2024, 2, 1, tzinfo=UTC) + timedelta(days=settings.SEEDERS_STALE_DAYS)
    # stale_until without stale_set_at: set SEEDERS_STALE_DAYS before it ends
    m65 = marks[telegram_id(65)]
    assert m65.set_at == NOW + timedelta(days=30) - timedelta(days=settings.SEEDERS_STALE_DAYS)

    assert f"{len(expected)} stale marks imported in seeder batch {batch.pk}" in result.summary()


def test_candidates_exclude_active_marks_only(tmp_path):
    rows = sample()
    import_members(path=members_file(tmp_path / "members.json", rows))

    active = {m.user.telegram_id for m in StaleMark.objects.active().select_related("user")}
    expired = {row["id"] for row in marked(rows)} - active
    assert active and expired
    got = set(selectors.candidates().values_list("telegram_id", flat=True))
    not_reference = {row["id"] for row in rows if not row.get("in_s16_space")}
    assert got == not_reference - active
    assert expired - got == {row["id"] for row in rows if row["id"] in expired and row.get("in_s16_space")}


def test_export_writes_the_marks_back_in_seed_000_shape(tmp_path):
    rows = sample()
    import_members(path=members_file(tmp_path / "members.json", rows))

    out = {row["id"]: row for row in exported(tmp_path)}

    for row in rows:
        keys = list(out[row["id"]])
        assert keys == (SEED_000_KEYS + STALE_KEYS if has_stale(row) else SEED_000_KEYS), row["id"]
    assert out[telegram_id(10)]["stale"] is True
    assert out[telegram_id(10)]["stale_set_at"] == (NOW - timedelta(days=10)).isoformat()
    assert {key: out[telegram_id(6)][key] for key in STALE_KEYS} == {**EXPIRED, "stale": False}
    assert out[telegram_id(61)]["stale_set_at"] == "2024-01-01T12:00:00+00:00"
    assert out[telegram_id(61)]["stale_until"] == "2024-06-29T12:00:00+00:00"
    assert out[telegram_id(61)]["stale_reason"] is None


def normalised_stale(row: dict) -> dict:
    """A member's stale keys as the export writes them: times in UTC ISO (naive = UTC), stale = active."""

    def when(value):
        moment = datetime.fromisoformat(value)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment

    until = when(row["stale_until"])
    return {
        "stale": until > timezone.now(),
        "stale_set_at": when(row["stale_set_at"]).astimezone(UTC).isoformat(),
        "stale_until": until.astimezone(UTC).isoformat(),
        "stale_reason": row.get("stale_reason") or None,
    }


def test_it_round_trips_the_stale_keys_field_for_field(tmp_path):
    # A consistent file (both times on every mark, `stale` = "stale_until is in the future") comes back as it went
    # in; an expired mark's `stale: true` (the playbook never cleared it) comes back false, its times kept.
    rows = [row for row in sample() if row["id"] not in (telegram_id(64), telegram_id(65))]
    rows.append(
        member(70, **{**ACTIVE, "stale_set_at": "2025-01-01T09:00:00", "stale_until": "2099-01-01T12:00:00+03:00"})
    )
    for row in marked(rows):
        row["stale"] = normalised_stale(row)["stale"]
    import_members(path=members_file(tmp_path / "members.json", rows))

    out = {row["id"]: row for row in exported(tmp_path)}

    for row in rows:
        if has_stale(row):
            assert {key: out[row["id"]][key] for key in STALE_KEYS} == normalised_stale(row)
        else:
            assert not set(STALE_KEYS) & set(out[row["id"]])
    assert out[telegram_id(70)]["stale_until"] == "2099-01-01T09:00:00+00:00"

    # and the exported file imports to exactly the same marks, adding nothing
    before = mark_state()
    result = import_members(path=tmp_path / "out.json")
    assert mark_state() == before
    assert SeederBatch.objects.count() == 1
    assert "stale marks: " in result.summary() and "already imported" in result.summary()


def test_reimporting_the_same_file_does_not_duplicate_marks(tmp_path):
    path = members_file(tmp_path / "members.json", sample())
    import_members(path=path)
    before = mark_state()

    import_members(path=path)

    assert mark_state() == before
    assert SeederBatch.objects.count() == 1

    # a file with one new mark: a second legacy batch holding just that one
    rows = sample()
    rows[0] = member(1, **EXPIRED)
    import_members(path=members_file(tmp_path / "members2.json", rows))
    assert SeederBatch.objects.count() == 2
    assert list(SeederBatch.objects.order_by("-pk")[0].marks.values_list("user__telegram_id", flat=True)) == [
        telegram_id(1)
    ]


def test_a_rolled_back_legacy_batch_is_not_exported_nor_resurrected(tmp_path):
    path = members_file(tmp_path / "members.json", sample())
    import_members(path=path)
    batch = SeederBatch.objects.get()

    services.rollback(batch=batch)

    assert not any(set(STALE_KEYS) & set(row) for row in exported(tmp_path))
    assert StaleMark.objects.active().count() == 0
    import_members(path=path)  # the old file again: the revoked marks stay revoked, none is added
    assert StaleMark.objects.filter(revoked_at__isnull=True).count() == 0
    assert SeederBatch.objects.count() == 1


def test_export_prefers_the_active_mark_and_reads_marks_in_a_few_queries(tmp_path, django_assert_max_num_queries):
    import_members(path=members_file(tmp_path / "members.json", members(5000)))
    user = TelegramUser.objects.get(telegram_id=telegram_id(6))
    later = SeederBatch.objects.create(reason="seeders-next-top10 later")
    StaleMark.objects.create(user=user, batch=later, set_at=NOW, until=NOW + timedelta(days=180), reason=later.reason)

    with django_assert_max_num_queries(12):  # 3 chunks of 2,000 users, each with its marks
        out = {row["id"]: row for row in exported(tmp_path)}

    assert out[telegram_id(6)]["stale"] is True
    assert out[telegram_id(6)]["stale_set_at"] == NOW.astimezone(UTC).isoformat()
    assert out[telegram_id(12)]["stale"] is False
    assert sum(1 for row in out.values() if "stale" in row) == 5000 // 6


BAD = 300  # good members before the bad one: a half-written import would show


@pytest.mark.parametrize(
    "overrides, fragments",
    [
        ({"stale": "yes"}, ['"stale"', "true or false"]),
        ({"stale_set_at": "yesterday"}, ['"stale_set_at"', "ISO 8601"]),
        ({"stale_until": 1700000000}, ['"stale_until"', "ISO 8601"]),
        ({"stale_reason": 5}, ['"stale_reason"', "string"]),
        ({"stale_reason": "x" * 300}, ['"stale_reason"', "longer than 255"]),
        ({"stale": True, "stale_set_at": None, "stale_until": None}, ['"stale_until"', "missing"]),
        ({"stale": False, "stale_set_at": "2024-06-01T10:00:00+00:00"}, ['"stale_until"', "missing", '"stale": true']),
        (
            {"stale_set_at": "2024-06-01T10:00:00+00:00", "stale_until": "2024-05-01T10:00:00+00:00"},
            ['"stale_until"', "before stale_set_at"],
        ),
    ],
)
def test_a_malformed_stale_key_refuses_the_file_and_writes_nothing(tmp_path, overrides, fragments):
    import_members(path=members_file(tmp_path / "first.json", members(12)))
    users_before = sorted(TelegramUser.objects.values_list("telegram_id", "offline_cnt"))
    marks_before = mark_state()
    rows = [{**row, "offline_cnt": 99} for row in members(BAD)]
    rows.append(member(BAD + 1, **overrides))
    path = members_file(tmp_path / "members.json", rows)

    with pytest.raises(LegacyFileError) as caught:
        import_members(path=path)

    message = str(caught.value)
    assert message.startswith(f"{path}: members[{BAD}] (@user_{BAD + 1:04d}), field ")
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message
    assert sorted(TelegramUser.objects.values_list("telegram_id", "offline_cnt")) == users_before
    assert mark_state() == marks_before
    assert SeederBatch.objects.count() == 1


def test_the_import_command_reports_the_marks(tmp_path):
    path = members_file(tmp_path / "members.json", sample())
    out = StringIO()
    call_command("import_members", str(path), stdout=out)
    assert "stale marks imported in seeder batch" in out.getvalue()
