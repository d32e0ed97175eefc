"""The gender estimate of Telegram users: stored by an export, redone when a name changes, kept otherwise."""

import json
from dataclasses import replace

import pytest
from django.urls import reverse
from django.utils import timezone

from leadops.gender_refresh import refresh_pending
from telegram_sources.gateway import Participant
from telegram_sources.models import TelegramGroup, TelegramUser
from telegram_sources.services.gender import INPUTS, estimate, refresh_genders
from telegram_sources.services.jobs import run_group_export
from telegram_sources.services.legacy import import_members
from telegram_sources.services.writer import write_participants
from telegram_sources.tasks import refresh_genders_task

pytestmark = pytest.mark.django_db

GROUP = -1001
PEOPLE = [
    Participant(id=1, first_name="Анна", last_name="Иванова", username="anna_iv"),
    Participant(id=2, first_name="Sasha", last_name="Petrov"),
    Participant(id=3, first_name="Женя"),
    Participant(id=4, username="crypto_king_2024"),
]


@pytest.fixture
def group(world, clock):
    world.add_group(GROUP, "Meetup", list(PEOPLE))
    return TelegramGroup.objects.create(telegram_id=GROUP)


def export(group, new_job):
    run_group_export(group_id=group.pk, job_id=new_job().pk, account="acct-1")


def stored(telegram_id: int) -> TelegramUser:
    return TelegramUser.objects.get(telegram_id=telegram_id)


def rename(world, telegram_id: int, **names) -> None:
    members = world.groups[GROUP].members
    members[:] = [replace(p, **names) if p.id == telegram_id else p for p in members]


def test_an_export_stores_the_gender_of_everyone_it_wrote(group, new_job):
    export(group, new_job)

    assert {u.telegram_id: u.gender for u in TelegramUser.objects.all()} == {
        1: "female",
        2: "male",
        3: "unknown",
        4: "unknown",
    }
    assert stored(1).gender_rationale == ["first name Анна → female 2", "surname ending -ова in Иванова → female 1.5"]
    assert stored(3).gender_rationale == ["first name Женя is ambiguous"]
    assert not TelegramUser.objects.filter(gender="").exists()


def test_a_changed_name_is_reset_by_the_writer_and_estimated_again_by_the_export(group, world, new_job):
    export(group, new_job)
    rename(world, 3, last_name="Смирнова")
    rename(world, 2, first_name="Ivan")  # still male: recomputed all the same

    write_participants(
        group=group, participants=world.groups[GROUP].members, seen_at=timezone.now(), run_started_at=timezone.now()
    )
    assert {u.telegram_id for u in TelegramUser.objects.filter(gender="")} == {2, 3}

    export(group, new_job)
    assert stored(3).gender == "female"
    assert "surname ending -ова in Смирнова → female 1.5" in stored(3).gender_rationale
    assert stored(2).gender_rationale[0] == "first name Ivan → male 2"


def test_a_new_username_counts_as_a_name_change(group, world, new_job):
    export(group, new_job)
    rename(world, 4, username="maria_k")

    export(group, new_job)

    assert stored(4).gender == "female"
    assert stored(4).gender_rationale == ["username word maria is a first name → female 1"]


def test_an_export_repeating_the_same_names_leaves_the_stored_estimate_alone(group, new_job):
    export(group, new_job)
    # Marked so a recomputation would show: the estimate itself would come out the same.
    TelegramUser.objects.update(gender_rationale=["as stored before"])

    export(group, new_job)

    assert set(TelegramUser.objects.values_list("gender", flat=True)) == {"female", "male", "unknown"}
    assert all(u.gender_rationale == ["as stored before"] for u in TelegramUser.objects.all())


def test_refresh_only_touches_rows_without_an_estimate():
    TelegramUser.objects.create(telegram_id=10, first_name="Ольга")
    TelegramUser.objects.create(telegram_id=11, first_name="Ольга", gender="unknown", gender_rationale=["by hand"])

    assert refresh_genders() == 1
    assert refresh_genders() == 0
    assert stored(10).gender == "female"
    assert stored(11).gender_rationale == ["by hand"]


def test_refresh_goes_through_every_pending_row_in_batches():
    TelegramUser.objects.bulk_create(
        TelegramUser(telegram_id=100 + n, first_name=["Олег", "Ирина", "Саша"][n % 3]) for n in range(25)
    )

    assert refresh_genders(batch_size=4) == 25
    counts = {g: TelegramUser.objects.filter(gender=g).count() for g in ("male", "female", "unknown")}
    assert counts == {"male": 9, "female": 8, "unknown": 8}


def test_a_rename_while_the_refresh_runs_is_not_overwritten_with_the_old_names_estimate():
    user = TelegramUser.objects.create(telegram_id=20, first_name="Анна")

    def estimate_while_renamed(**names):
        # What the export writer does meanwhile: a new name, the estimate reset to "".
        TelegramUser.objects.filter(pk=user.pk).update(first_name="Иван", gender="")
        return estimate(**names)

    assert refresh_pending(model=TelegramUser, inputs=INPUTS, estimate=estimate_while_renamed) == 0
    assert stored(20).gender == ""  # still pending: the next refresh estimates "Иван"

    refresh_genders()
    assert stored(20).gender == "male"


def test_a_legacy_import_that_renames_someone_resets_their_estimate(tmp_path):
    TelegramUser.objects.create(telegram_id=30, username="u30", first_name="Анна", gender="female")
    TelegramUser.objects.create(telegram_id=31, username="u31", first_name="Олег", gender="male")
    path = tmp_path / "members.json"
    members = [
        {"id": 30, "username": "u30", "first_name": "Пётр", "offline_cnt": 1},  # renamed
        {"id": 31, "username": "u31", "first_name": "Олег", "offline_cnt": 5},  # same name, other fields
    ]
    path.write_text(json.dumps({"members": members}), encoding="utf-8")

    import_members(path=path)

    assert stored(30).gender == "" and stored(31).gender == "male"
    refresh_genders_task()  # what the beat entry runs
    assert stored(30).gender == "male"


def test_the_admin_filters_by_gender_and_shows_why(admin_client, group, new_job):
    export(group, new_job)
    url = reverse("admin:telegram_sources_telegramuser_changelist")

    page = admin_client.get(url, {"gender__exact": "female"})
    assert page.status_code == 200
    assert [u.telegram_id for u in page.context["cl"].result_list] == [1]

    detail = admin_client.get(reverse("admin:telegram_sources_telegramuser_change", args=[stored(1).pk]))
    assert "surname ending -ова in Иванова → female 1.5" in detail.content.decode()
