"""`manage.py tg ...` through the fake gateway: seed 001's CLI, same answers."""

import csv
import io
import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command

from telegram_sources.fake_world import synthetic_people
from telegram_sources.models import TelegramGroup, TelegramUser
from tests.conftest import run_manage

pytestmark = pytest.mark.django_db


@pytest.fixture
def chat(world, clock):
    people = synthetic_people(450, seed=11)
    people[5] = replace(people[5], is_bot=True, username="helper_bot")
    world.add_group(
        -1002188300001,
        "Synthetic Chat",
        people,
        username="synthetic_chat",
        first_message_date=datetime(2023, 4, 5, 6, 7, tzinfo=UTC),
    )
    return people


def tg(*args) -> str:
    out = io.StringIO()
    call_command("tg", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.mark.parametrize(
    "ref", ["-1002188300001", "2188300001", "@synthetic_chat", "synthetic_chat", "https://t.me/synthetic_chat"]
)
def test_it_accepts_every_way_of_naming_a_group(chat, ref):
    info = json.loads(tg("info", ref))
    assert info == {
        "id": -1002188300001,
        "title": "Synthetic Chat",
        "username": "synthetic_chat",
        "participants_count": 450,
        "is_broadcast": False,
    }


def test_participants_drops_bots_and_honours_the_limit(chat):
    rows = json.loads(tg("participants", "@synthetic_chat", "--limit", "10"))
    assert [r["id"] for r in rows] == [p.id for p in chat if not p.is_bot][:10]
    assert set(rows[0]) == {"id", "username", "first_name", "last_name", "phone", "is_verified", "is_premium", "status"}


def test_participants_writes_csv_when_the_output_ends_in_csv(chat, tmp_path):
    target = tmp_path / "members.csv"
    tg("participants", "@synthetic_chat", "--output", str(target))
    with target.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == [
        "id",
        "username",
        "first_name",
        "last_name",
        "phone",
        "is_verified",
        "is_premium",
        "status",
    ]
    assert len(rows) == sum(not p.is_bot for p in chat) < 450
    assert "helper_bot" not in target.read_text()


def test_search_finds_by_name_prefix(chat):
    rows = json.loads(tg("search", "@synthetic_chat", "--query", "Ив", "--limit", "1000"))
    assert rows
    for row in rows:
        words = " ".join(filter(None, [row["first_name"], row["last_name"], row["username"]])).lower().split()
        assert any(w.startswith("ив") for w in words)


def test_search_without_a_query_fails_clearly(chat):
    with pytest.raises(CommandError, match="tg search needs --query TEXT"):
        tg("search", "@synthetic_chat")


def test_export_without_an_output_fails_clearly(chat):
    with pytest.raises(CommandError, match="tg export needs --output FILE"):
        tg("export", "@synthetic_chat")


def test_a_failing_command_exits_non_zero_with_one_line(tmp_path):
    result = run_manage("tg", "export", "@synthetic_chat", check=False)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == ["CommandError: tg export needs --output FILE (.json or .csv)"]


def test_export_writes_the_database_and_the_file(chat, tmp_path):
    target = tmp_path / "members.json"
    tg("export", "-1002188300001", "--output", str(target), "--kind", "event", "--event-date", "2024-05-01")

    rows = json.loads(target.read_text())
    assert len(rows) == sum(not p.is_bot for p in chat) and "helper_bot" not in target.read_text()
    group = TelegramGroup.objects.get(telegram_id=-1002188300001)
    assert (group.kind, str(group.event_date), group.last_export_coverage) == ("event", "2024-05-01", 1.0)
    assert TelegramUser.objects.filter(offline_cnt=1).count() == 450


def test_an_unknown_group_is_an_error_not_an_empty_list(chat):
    with pytest.raises(CommandError, match="no group"):
        tg("participants", "@nobody_here")


def test_creation_date_is_the_first_message(chat):
    assert tg("creation-date", "@synthetic_chat").strip() == "2023-04-05T06:07:00+00:00"


def test_refresh_reference_flags_members_and_clears_the_rest(world, clock, settings):
    people = synthetic_people(300, seed=12)
    world.add_group(-1001999000001, "Reference", people[:200])
    settings.REFERENCE_GROUP = "-1001999000001"
    outsider = TelegramUser.objects.create(telegram_id=people[250].id, in_reference=True)

    out = tg("refresh-reference")

    assert "200 users flagged" in out
    assert TelegramUser.objects.filter(in_reference=True).count() == 200
    outsider.refresh_from_db()
    assert not outsider.in_reference
    group = TelegramGroup.objects.get(telegram_id=-1001999000001)
    assert group.kind == "reference" and group.last_exported_at is not None


def test_refresh_reference_without_the_setting_fails_clearly(settings):
    settings.REFERENCE_GROUP = ""
    with pytest.raises(CommandError, match="REFERENCE_GROUP is not set"):
        tg("refresh-reference")
