"""Legacy members.json: import, export, and the files we refuse."""

import json
import os
from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command

from telegram_sources.models import TelegramUser
from telegram_sources.services import legacy_export as legacy
from telegram_sources.services.legacy import import_members
from telegram_sources.services.legacy_export import export_members, member_row
from telegram_sources.services.legacy_files import LegacyFileError
from tests.conftest import run_manage
from tests.telegram_sources.legacy_files import (
    SEED_000_KEYS,
    member,
    members,
    members_file,
    telegram_id,
    username,
    write_json,
)

pytestmark = pytest.mark.django_db


def parse(value):
    return datetime.fromisoformat(value) if value is not None else None


def normalised(row: dict) -> dict:
    """A seed-000 member as the database keeps it: '@' stripped, null names as '', times parsed, naive = UTC."""

    def when(value):
        moment = parse(value)
        return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment

    return {
        "id": row.get("id"),
        "username": (row.get("username") or "").lstrip("@"),
        "first_name": row.get("first_name") or "",
        "last_name": row.get("last_name") or "",
        "offline_cnt": row.get("offline_cnt") or 0,
        "first_seen_at": when(row.get("first_seen_at")),
        "last_offline_at": when(row.get("last_offline_at")),
        "in_s16_space": bool(row.get("in_s16_space")),
    }


def keyed(rows):
    return {(row["id"], (row.get("username") or "").lstrip("@").lower()): normalised(row) for row in rows}


def exported(tmp_path, name="out.json", extenders=None) -> list[dict]:
    out = tmp_path / name
    export_members(path=out, extenders=extenders)
    return json.loads(out.read_text(encoding="utf-8"))["members"]


def db_state():
    return sorted(
        TelegramUser.objects.values_list(
            "pk", "telegram_id", "username", "first_name", "offline_cnt", "first_seen_at", "in_reference"
        )
    )


def variety() -> list[dict]:
    """Synthetic members covering the shapes legacy files have."""
    rows = members(40)
    rows += [
        member(41, id=None),  # known only by username
        member(42, username=None),  # no username
        member(43, username="@User_0043"),  # '@' and mixed case
        member(44, first_seen_at="2023-05-01T18:00:00", last_offline_at="2024-01-02 09:30:00"),  # naive: UTC
        member(45, first_seen_at="2023-05-01T18:00:00Z", last_offline_at="2024-01-02T12:30:00+03:00"),
        member(46, first_name="Имя", last_name="Фамилия"),  # non-ASCII kept as is
        member(47, offline_cnt=None, in_s16_space=None, first_seen_at=None),
    ]
    return rows


@pytest.mark.parametrize("root", ["object", "list"])
def test_it_round_trips_a_seed_000_file_field_for_field(tmp_path, root):
    rows = variety()
    path = members_file(tmp_path / "members.json", rows, root=root)

    result = import_members(path=path)

    assert (result.members, result.created, result.updated) == (len(rows), len(rows), 0)
    out = exported(tmp_path, extenders=[])  # this app's keys only: the seeders' stale* are tests/seeders'
    assert len(out) == len(rows)
    assert all(list(row) == SEED_000_KEYS for row in out)  # same keys, same order, no stale*
    assert keyed(out) == keyed(rows)
    names = {row["username"]: row for row in out}
    assert names["User_0043"]["username"] == "User_0043"
    assert names["user_0044"]["first_seen_at"] == "2023-05-01T18:00:00+00:00"
    assert names["user_0045"]["last_offline_at"] == "2024-01-02T09:30:00+00:00"
    assert names["user_0046"]["last_name"] == "Фамилия"
    assert names["user_0041"]["id"] is None
    assert [row for row in out if row["username"] is None][0]["id"] == telegram_id(42)


def test_it_reimports_its_own_export_without_changing_anything(tmp_path):
    import_members(path=members_file(tmp_path / "members.json", variety()))
    before = db_state()
    first = tmp_path / "first.json"
    export_members(path=first)

    result = import_members(path=first)

    assert (result.created, result.updated, result.unchanged) == (0, 0, len(variety()))
    assert db_state() == before


def test_it_matches_members_without_id_by_username_on_reimport(tmp_path):
    rows = [member(n, id=None) for n in range(1, 11)]
    import_members(path=members_file(tmp_path / "a.json", rows))
    again = [member(n, id=None, username=f"@USER_{n:04d}", offline_cnt=20 + n) for n in range(1, 11)]

    result = import_members(path=members_file(tmp_path / "b.json", again))

    assert (result.created, result.updated) == (0, 10)
    assert TelegramUser.objects.count() == 10
    user = TelegramUser.objects.get(username="USER_0003")
    assert (user.telegram_id, user.offline_cnt) == (None, 23)


def test_it_fills_in_the_id_when_a_later_import_has_it(tmp_path):
    import_members(path=members_file(tmp_path / "a.json", [member(n, id=None) for n in range(1, 6)]))
    pk = TelegramUser.objects.get(username="user_0002").pk

    result = import_members(path=members_file(tmp_path / "b.json", [member(2, username="User_0002")]))

    assert (result.created, result.updated, result.ids_filled) == (0, 1, 1)
    assert TelegramUser.objects.count() == 5
    assert TelegramUser.objects.get(telegram_id=telegram_id(2)).pk == pk


def test_it_updates_users_by_id_even_when_the_username_changed(tmp_path):
    import_members(path=members_file(tmp_path / "a.json", members(3)))

    result = import_members(path=members_file(tmp_path / "b.json", [member(2, username="renamed_0002", offline_cnt=6)]))

    assert (result.created, result.updated, result.ids_filled) == (0, 1, 0)
    user = TelegramUser.objects.get(telegram_id=telegram_id(2))
    assert (user.username, user.offline_cnt) == ("renamed_0002", 6)


def test_it_overwrites_every_imported_field_on_update(tmp_path):
    import_members(path=members_file(tmp_path / "a.json", [member(5, in_s16_space=False)]))
    newer = member(
        5,
        username="@Renamed_0005",
        first_name="Имя",
        last_name=None,
        offline_cnt=12,
        first_seen_at="2022-01-01T00:00:00+05:00",
        last_offline_at=None,
        in_s16_space=True,
    )

    result = import_members(path=members_file(tmp_path / "b.json", [newer]))

    assert result.updated == 1
    [row] = exported(tmp_path)
    assert row == {
        "id": telegram_id(5),
        "username": "Renamed_0005",
        "first_name": "Имя",
        "last_name": None,
        "offline_cnt": 12,
        "first_seen_at": "2021-12-31T19:00:00+00:00",
        "last_offline_at": None,
        "in_s16_space": True,
    }


def test_it_does_not_hand_an_id_to_a_user_who_already_has_another(tmp_path):
    # user_0001's username now belongs to a different account: a new user, not a merge.
    import_members(path=members_file(tmp_path / "a.json", [member(1)]))

    result = import_members(path=members_file(tmp_path / "b.json", [member(900, username="user_0001")]))

    assert (result.created, result.updated, result.ids_filled) == (1, 0, 0)
    assert TelegramUser.objects.get(telegram_id=telegram_id(1)).username == "user_0001"


def test_it_merges_repeated_members_of_one_file(tmp_path):
    rows = [
        member(1, offline_cnt=1),
        member(1, offline_cnt=5),  # same id again: the later one wins
        member(2, id=None, offline_cnt=1),
        member(2, id=None, username="@USER_0002", offline_cnt=2),  # same username without id
        member(3, offline_cnt=3),
        member(3, id=None, offline_cnt=0, last_name="Filled"),  # the id-less copy of member 3
    ]
    rows[4].pop("last_name")

    result = import_members(path=members_file(tmp_path / "members.json", rows))

    assert (result.members, result.created, result.duplicates) == (6, 3, 3)
    assert TelegramUser.objects.get(telegram_id=telegram_id(1)).offline_cnt == 5
    assert TelegramUser.objects.get(telegram_id=None).offline_cnt == 2
    third = TelegramUser.objects.get(telegram_id=telegram_id(3))
    assert (third.offline_cnt, third.last_name) == (3, "Filled")  # the member with id wins; gaps filled


def test_it_leaves_fields_the_member_lacks_alone(tmp_path):
    import_members(path=members_file(tmp_path / "a.json", [member(1, offline_cnt=4, in_s16_space=True)]))

    import_members(path=members_file(tmp_path / "b.json", [{"id": telegram_id(1), "first_name": "New"}]))

    user = TelegramUser.objects.get(telegram_id=telegram_id(1))
    assert (user.first_name, user.username, user.offline_cnt, user.in_reference) == ("New", "user_0001", 4, True)


def test_it_imports_a_large_file_in_a_few_statements(tmp_path, django_assert_max_num_queries):
    rows = members(5000)
    import_members(path=members_file(tmp_path / "a.json", rows[:2500]))
    for row in rows:
        row["offline_cnt"] += 1

    # Batches, not rows: SQLite's parameter limit makes bulk_update batches small, still far below 5000.
    with django_assert_max_num_queries(150):
        result = import_members(path=members_file(tmp_path / "b.json", rows))

    assert (result.created, result.updated) == (2500, 2500)
    assert TelegramUser.objects.count() == 5000


# --- files we refuse ---------------------------------------------------------------------------

MANY = 300


def bad_member(**overrides) -> list[dict]:
    """MANY good members, the last one broken: a half-written import would show."""
    rows = members(MANY)
    rows[-1] = {**rows[-1], **overrides}
    return rows


def without(key: str) -> list[dict]:
    rows = members(MANY)
    rows[-1] = {k: v for k, v in rows[-1].items() if k != key}
    return rows


BAD_FILES = {
    "not json": ('{"members": [', ["not valid JSON", "line 1"]),
    "wrong root": (json.dumps({"users": members(2)}), ["expected a list or an object", '"members"']),
    "root is a string": (json.dumps("members"), ["expected a list"]),
    "members not a list": (json.dumps({"members": {"id": 1}}), ['"members" must be a list']),
    "member not an object": (members(MANY - 1) + ["user_9999"], [f"members[{MANY - 1}]", "must be an object"]),
    "bad time": (bad_member(last_offline_at="yesterday"), [f"members[{MANY - 1}]", '"last_offline_at"', "ISO 8601"]),
    "time not a string": (bad_member(first_seen_at=1700000000), ['"first_seen_at"', "ISO 8601"]),
    "negative offline_cnt": (bad_member(offline_cnt=-1), [f"members[{MANY - 1}]", '"offline_cnt"', "non-negative"]),
    "float offline_cnt": (bad_member(offline_cnt=2.5), ['"offline_cnt"', "non-negative integer"]),
    "id not an int": (bad_member(id="7000000300"), ['"id"', "must be an integer"]),
    "id is a bool": (bad_member(id=True), ['"id"', "must be an integer"]),
    "in_s16_space not a bool": (bad_member(in_s16_space="yes"), ['"in_s16_space"', "true or false"]),
    "username not a string": (bad_member(username=42), ['"username"', "string"]),
    "neither id nor username": (bad_member(id=None, username="@"), [f"members[{MANY - 1}]", "neither"]),
    "no id key, no username key": (without("id")[:-1] + [{"first_name": "Nobody"}], ["neither"]),
}


@pytest.fixture
def existing_user():
    return TelegramUser.objects.create(telegram_id=telegram_id(1), username="user_0001", offline_cnt=99)


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_it_refuses_a_malformed_file_and_writes_nothing(tmp_path, existing_user, case):
    content, expected = BAD_FILES[case]
    path = tmp_path / "members.json"
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        write_json(path, {"members": content})
    before = db_state()

    with pytest.raises(LegacyFileError) as caught:
        import_members(path=path)

    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert "\n" not in message
    for fragment in expected:
        assert fragment in message
    assert db_state() == before
    assert TelegramUser.objects.count() == 1


def test_it_names_the_index_in_a_bare_list_file(tmp_path):
    path = write_json(tmp_path / "members.json", bad_member(offline_cnt=-5))

    with pytest.raises(LegacyFileError, match=rf"members\[{MANY - 1}\] \(@user_0300\), field \"offline_cnt\""):
        import_members(path=path)
    assert TelegramUser.objects.count() == 0


def test_it_refuses_a_file_that_is_not_utf8_or_missing(tmp_path):
    latin = tmp_path / "latin.json"
    latin.write_bytes('[{"id": 1, "first_name": "Jos\u00e9"}]'.encode("latin-1"))
    with pytest.raises(LegacyFileError, match="not UTF-8"):
        import_members(path=latin)
    with pytest.raises(LegacyFileError, match="cannot read"):
        import_members(path=tmp_path / "nowhere.json")


def test_it_turns_a_bad_file_into_a_command_error(tmp_path, existing_user):
    path = write_json(tmp_path / "members.json", {"members": bad_member(offline_cnt=-1)})
    before = db_state()

    with pytest.raises(CommandError, match='"offline_cnt": must be a non-negative integer, got -1'):
        call_command("import_members", str(path))

    assert db_state() == before


def test_it_tells_the_operator_in_one_line_and_exits_non_zero(tmp_path):
    path = tmp_path / "members.json"
    path.write_text("not json", encoding="utf-8")

    done = run_manage("import_members", str(path), env={"DJANGO_SETTINGS_MODULE": "tests.settings"}, check=False)

    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("CommandError: ") and "not valid JSON" in lines[0]


def test_it_imports_and_exports_through_the_commands(tmp_path, capsys):
    path = members_file(tmp_path / "members.json", members(5))

    call_command("import_members", str(path))
    call_command("export_members", str(tmp_path / "out.json"))

    out = capsys.readouterr().out.splitlines()
    assert out == [
        "5 members: 5 created, 0 updated (0 ids filled in), 0 unchanged, 0 duplicates merged",
        f"5 members written to {tmp_path / 'out.json'}",
    ]
    assert len(json.loads((tmp_path / "out.json").read_text())["members"]) == 5


# --- export ------------------------------------------------------------------------------------


def test_it_exports_20000_users_as_valid_json(tmp_path):
    TelegramUser.objects.bulk_create(
        [TelegramUser(telegram_id=telegram_id(n), username=username(n), offline_cnt=n % 9) for n in range(20_000)],
        batch_size=2000,
    )
    out = tmp_path / "members.json"

    result = export_members(path=out)

    data = json.loads(out.read_text(encoding="utf-8"))
    assert result.members == 20_000
    assert len(data["members"]) == 20_000
    assert data["members"][123]["username"] == username(123)


def test_it_writes_what_json_dump_would(tmp_path):
    import_members(path=members_file(tmp_path / "members.json", variety()))
    rows = [member_row(user) for user in TelegramUser.objects.order_by("pk")]
    out = tmp_path / "out.json"

    export_members(path=out, extenders=[])

    assert out.read_text(encoding="utf-8") == json.dumps({"members": rows}, ensure_ascii=False, indent=2) + "\n"


def test_it_exports_an_empty_database_as_an_empty_list(tmp_path):
    out = tmp_path / "out.json"
    export_members(path=out)
    assert out.read_text(encoding="utf-8") == json.dumps({"members": []}, indent=2) + "\n"


def test_it_never_leaves_a_half_written_file(tmp_path):
    TelegramUser.objects.bulk_create([TelegramUser(telegram_id=telegram_id(n)) for n in range(5000)])
    out = tmp_path / "members.json"
    out.write_text('{"members": []}', encoding="utf-8")
    os.chmod(out, 0o640)

    def explode(user, row):
        if user.telegram_id == telegram_id(4321):
            raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        export_members(path=out, extenders=[legacy.RowExtender(extend=explode)])

    assert out.read_text(encoding="utf-8") == '{"members": []}'
    assert os.listdir(tmp_path) == ["members.json"]
    export_members(path=out, extenders=[])
    assert len(json.loads(out.read_text())["members"]) == 5000
    assert os.stat(out).st_mode & 0o777 == 0o640  # replacing a file keeps its permissions


def test_it_lets_another_app_extend_the_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(legacy, "ROW_EXTENDERS", [])
    import_members(path=members_file(tmp_path / "members.json", members(3)))
    prepared = []

    def prepare(queryset):
        prepared.append(True)
        return queryset.filter(offline_cnt__gte=2)

    def stale(user, row):
        row["stale"] = user.offline_cnt == 3

    legacy.register_row_extender(stale, prepare=prepare)
    legacy.register_row_extender(stale, prepare=prepare)  # registering twice is harmless
    out = exported(tmp_path)

    assert prepared == [True]
    assert [row["username"] for row in out] == ["user_0002", "user_0003"]
    assert list(out[0]) == [*SEED_000_KEYS, "stale"]
    assert [row["stale"] for row in out] == [False, True]


def test_it_reports_an_unwritable_path_clearly(tmp_path):
    with pytest.raises(LegacyFileError, match="cannot write"):
        export_members(path=tmp_path / "no" / "such" / "dir.json")
    with pytest.raises(CommandError, match="cannot write"):
        call_command("export_members", str(tmp_path / "no" / "dir.json"))
