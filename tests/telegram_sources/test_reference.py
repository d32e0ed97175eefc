"""The in_reference flag: sync_reference and the s16_space_all_participants.json import."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command

from telegram_sources.models import TelegramGroup, TelegramUser
from telegram_sources.services.legacy import import_reference
from telegram_sources.services.legacy_files import LegacyFileError
from telegram_sources.services.reference import sync_reference
from tests.telegram_sources.legacy_files import participant, participants_file, telegram_id, username, write_json

pytestmark = pytest.mark.django_db

SYNCED = datetime(2025, 8, 4, 21, 27, 43, tzinfo=UTC)
EARLIER = SYNCED - timedelta(days=3)


def make_user(n: int, *, known_id: bool = True, name: str | None = None, in_reference: bool = False) -> TelegramUser:
    return TelegramUser.objects.create(
        telegram_id=telegram_id(n) if known_id else None,
        username=username(n) if name is None else name,
        in_reference=in_reference,
        reference_synced_at=EARLIER if in_reference else None,
    )


def flagged() -> set[str]:
    return set(TelegramUser.objects.filter(in_reference=True).values_list("username", flat=True))


def test_it_matches_by_id_first_then_by_username_case_insensitively():
    by_id = make_user(1, name="renamed_since")  # the snapshot has the old username: the id still matches
    by_name = make_user(2, known_id=False)
    by_at_name = make_user(3, known_id=False)
    bystander = make_user(4)

    result = sync_reference(
        entries=[(telegram_id(1), "user_0001"), (telegram_id(2), "USER_0002"), (None, "@User_0003"), (555, "ghost")],
        synced_at=SYNCED,
    )

    assert flagged() == {"renamed_since", "user_0002", "user_0003"}
    assert (result.entries, result.matched_by_id, result.matched_by_username, result.unmatched) == (4, 1, 2, 1)
    assert (result.cleared, result.flagged) == (0, 3)
    for user in (by_id, by_name, by_at_name):
        user.refresh_from_db()
        assert user.reference_synced_at == SYNCED
    bystander.refresh_from_db()
    assert bystander.reference_synced_at is None
    by_name.refresh_from_db()
    assert by_name.telegram_id is None  # the sync sets flags only


def test_it_does_not_match_by_username_a_user_whose_known_id_differs():
    make_user(1)  # user_0001 with id ...001; the snapshot's user_0001 is another account now

    result = sync_reference(entries=[(telegram_id(900), "user_0001")], synced_at=SYNCED)

    assert flagged() == set()
    assert (result.matched_by_id, result.matched_by_username, result.unmatched) == (0, 0, 1)


def test_it_matches_an_entry_without_id_to_any_user_with_the_username():
    make_user(1)

    result = sync_reference(entries=[(None, "USER_0001")], synced_at=SYNCED)

    assert flagged() == {"user_0001"}
    assert result.matched_by_username == 1


def test_it_clears_users_no_longer_in_the_snapshot():
    make_user(1, in_reference=True)
    gone = make_user(2, in_reference=True)
    gone_too = make_user(3, known_id=False, in_reference=True)
    never = make_user(4)

    result = sync_reference(entries=[(telegram_id(1), None)], synced_at=SYNCED)

    assert flagged() == {"user_0001"}
    assert (result.cleared, result.flagged, result.matched_by_id) == (2, 1, 1)
    for user in (gone, gone_too):
        user.refresh_from_db()
        assert (user.in_reference, user.reference_synced_at) == (False, SYNCED)
    never.refresh_from_db()
    assert never.reference_synced_at is None


def test_it_clears_correctly_when_run_twice_with_the_same_time():
    make_user(1)
    make_user(2)
    sync_reference(entries=[(telegram_id(1), None), (telegram_id(2), None)], synced_at=SYNCED)

    result = sync_reference(entries=[(telegram_id(2), None)], synced_at=SYNCED)

    assert flagged() == {"user_0002"}
    assert result.cleared == 1


def test_it_counts_repeated_entries_once():
    make_user(1)

    result = sync_reference(
        entries=[(telegram_id(1), "user_0001"), (telegram_id(1), "user_0001"), (None, "@x"), (None, "X")],
        synced_at=SYNCED,
    )

    assert (result.entries, result.matched_by_id, result.unmatched) == (2, 1, 1)


def test_it_syncs_thousands_of_users_in_a_few_statements(django_assert_max_num_queries):
    TelegramUser.objects.bulk_create(
        [TelegramUser(telegram_id=telegram_id(n), username=username(n), in_reference=n % 2 == 0) for n in range(9000)]
        + [TelegramUser(username=f"idless_{n:04d}") for n in range(3000)],
        batch_size=2000,
    )
    entries = [(telegram_id(n), None) for n in range(4500, 9000)]
    entries += [(None, f"@IDLESS_{n:04d}") for n in range(3000)]

    with django_assert_max_num_queries(30):
        result = sync_reference(entries=entries, synced_at=SYNCED)

    assert (result.matched_by_id, result.matched_by_username, result.unmatched) == (4500, 3000, 0)
    assert result.cleared == 2250  # the even ones below 4500
    assert TelegramUser.objects.filter(in_reference=True).count() == 7500


def test_it_is_one_transaction(monkeypatch):
    make_user(1, in_reference=True)
    make_user(2)
    from django.db.models import QuerySet

    real_update = QuerySet.update
    calls = []

    def failing_update(self, **kwargs):
        calls.append(kwargs)
        if kwargs.get("in_reference") is False:
            raise RuntimeError("connection lost")
        return real_update(self, **kwargs)

    monkeypatch.setattr(QuerySet, "update", failing_update)
    with pytest.raises(RuntimeError):
        sync_reference(entries=[(telegram_id(2), None)], synced_at=SYNCED)

    assert len(calls) == 2
    assert flagged() == {"user_0001"}  # user_0002's flag was rolled back with the failed clear


# --- import_reference --------------------------------------------------------------------------


@pytest.mark.parametrize("root", ["list", "object"])
def test_it_imports_a_reference_snapshot_in_either_root_shape(tmp_path, root):
    make_user(1)
    make_user(2, known_id=False)
    make_user(3, in_reference=True)
    path = participants_file(
        tmp_path / "s16_space_all_participants.json",
        [participant(1), participant(2, username="@USER_0002"), {"username": "someone_else"}],
        root=root,
    )

    result = import_reference(path=path, synced_at=SYNCED)

    assert flagged() == {"user_0001", "user_0002"}
    assert result.participants == 3
    assert (result.sync.matched_by_id, result.sync.matched_by_username, result.sync.cleared) == (1, 1, 1)
    assert set(TelegramUser.objects.values_list("reference_synced_at", flat=True)) == {SYNCED}


def test_it_stamps_now_and_the_reference_group(tmp_path, settings):
    settings.REFERENCE_GROUP = "-1002000000001"
    group = TelegramGroup.objects.create(telegram_id=-1002000000001, kind=TelegramGroup.Kind.REFERENCE, title="ref")
    other = TelegramGroup.objects.create(telegram_id=-1002000000002, kind=TelegramGroup.Kind.EVENT, title="event")
    make_user(1)
    path = participants_file(tmp_path / "p.json", [participant(1)])
    before = datetime.now(UTC)

    result = import_reference(path=path)

    group.refresh_from_db()
    other.refresh_from_db()
    user = TelegramUser.objects.get()
    assert before <= user.reference_synced_at <= datetime.now(UTC)
    assert group.last_exported_at == user.reference_synced_at
    assert other.last_exported_at is None
    assert result.reference_group == group


def test_it_finds_the_reference_group_by_username_too(tmp_path, settings):
    settings.REFERENCE_GROUP = "@s16_space_test"
    group = TelegramGroup.objects.create(username="S16_Space_Test", kind=TelegramGroup.Kind.REFERENCE)

    import_reference(path=participants_file(tmp_path / "p.json", [participant(1)]), synced_at=SYNCED)

    group.refresh_from_db()
    assert group.last_exported_at == SYNCED


def test_it_imports_through_the_command_with_synced_at(tmp_path, capsys):
    make_user(1)
    path = participants_file(tmp_path / "p.json", [participant(1)], root="object")

    call_command("import_reference", str(path), "--synced-at", "2025-08-04T21:27:43")

    assert TelegramUser.objects.get().reference_synced_at == SYNCED
    assert capsys.readouterr().out.strip() == (
        "1 participants read; 1 reference entries: 1 matched by id, 0 by username, 0 unmatched; "
        "1 users flagged, 0 cleared"
    )
    with pytest.raises(CommandError, match="--synced-at"):
        call_command("import_reference", str(path), "--synced-at", "last tuesday")


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ({"members": []}, "expected a list or an object"),
        ([participant(n) for n in range(1, 50)] + [{"first_name": "Nobody"}], 'participants[49]: has neither "id"'),
        ([participant(n) for n in range(1, 50)] + [participant(50, id="50")], '"id": must be an integer'),
        ([participant(1), 7], "participants[1]: must be an object"),
        ([], "no participants"),
    ],
)
def test_it_refuses_a_malformed_snapshot_and_changes_nothing(tmp_path, content, fragment):
    make_user(1, in_reference=True)
    make_user(2)
    path = write_json(tmp_path / "p.json", content)

    with pytest.raises(LegacyFileError) as caught:
        import_reference(path=path, synced_at=SYNCED)

    assert fragment in str(caught.value)
    assert flagged() == {"user_0001"}
    with pytest.raises(CommandError):
        call_command("import_reference", str(path))
    assert set(TelegramUser.objects.values_list("reference_synced_at", flat=True)) == {EARLIER, None}
