"""import_accounts (all or nothing, encrypted at rest), join_batch, target-link imports, the beat entry."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from accounts.models import JoinTarget, TelegramAccount
from accounts.services.starters import JOIN_KIND
from accounts.services.target_import import (
    TargetImportError,
    import_targets,
    parse_target_csv,
    parse_target_text,
)
from accounts.tasks import join_batch_task, scheduled_join_batches
from leadops.models import JobRun
from leadops.schedules import collect_schedules

pytestmark = pytest.mark.django_db

ENTRIES = [
    {
        "session_name": "promotion_alpha",
        "api_id": 12345678,
        "api_hash": "abcdef1234567890-hash-alpha",
        "string_session": "1AlphaSessionSecretValue==",
        "proxy": "socks5://alphauser:alphapass@10.9.8.7:1080",
        "phone": "+380501112233",
    },
    {
        "session_name": "promotion_beta",
        "api_id": "87654321",
        "api_hash": "fedcba0987654321-hash-beta",
        "string_session": "1BetaSessionSecretValue==",
    },
]
SECRET_VALUES = [
    "12345678",
    "abcdef1234567890-hash-alpha",
    "1AlphaSessionSecretValue==",
    "alphapass",
    "alphauser",
    "10.9.8.7",
    "+380501112233",
    "87654321",
    "fedcba0987654321-hash-beta",
    "1BetaSessionSecretValue==",
]


def write(tmp_path, data, name="accounts_config.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def run_import(path) -> str:
    out = StringIO()
    call_command("import_accounts", str(path), stdout=out)
    return out.getvalue().strip()


def raw_secret_columns() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT phone, api_id, api_hash, string_session, proxy_url FROM accounts_telegramaccount")
        return [value or "" for row in cursor.fetchall() for value in row]


# --- import_accounts -----------------------------------------------------------------------------


def test_it_imports_the_seed_file_encrypted(tmp_path):
    assert run_import(write(tmp_path, ENTRIES)) == "2 created, 0 updated"

    alpha = TelegramAccount.objects.get(session_name="promotion_alpha")
    assert (alpha.api_id, alpha.api_hash, alpha.string_session) == (
        "12345678",
        "abcdef1234567890-hash-alpha",
        "1AlphaSessionSecretValue==",
    )
    assert alpha.proxy_url == "socks5://alphauser:alphapass@10.9.8.7:1080"
    assert alpha.phone == "+380501112233" and alpha.status == TelegramAccount.Status.ACTIVE
    beta = TelegramAccount.objects.get(session_name="promotion_beta")
    assert (beta.api_id, beta.proxy_url, beta.phone) == ("87654321", "", "")
    columns = raw_secret_columns()
    assert all(value.startswith("gAAAA") for value in columns if value)  # Fernet tokens
    stored = " ".join(columns)
    for secret in SECRET_VALUES:
        assert secret not in stored


def test_it_updates_by_session_name_and_leaves_status_and_counters(tmp_path):
    run_import(write(tmp_path, ENTRIES))
    cooling_until = timezone.now() + timedelta(hours=3)
    TelegramAccount.objects.filter(session_name="promotion_alpha").update(
        status=TelegramAccount.Status.COOLDOWN, next_allowed_action_time=cooling_until, channels_joined_count=7
    )
    changed = [
        {k: v for k, v in ENTRIES[0].items() if k not in ("proxy", "phone")} | {"api_hash": "new-hash-alpha"},
        ENTRIES[1] | {"proxy": "http://10.0.0.1:3128"},
        {**ENTRIES[1], "session_name": "promotion_gamma"},
    ]

    assert run_import(write(tmp_path, changed)) == "1 created, 2 updated"
    assert run_import(write(tmp_path, changed)) == "0 created, 0 updated, 3 unchanged"

    alpha = TelegramAccount.objects.get(session_name="promotion_alpha")
    assert alpha.api_hash == "new-hash-alpha"
    assert alpha.proxy_url == "socks5://alphauser:alphapass@10.9.8.7:1080"  # no "proxy" key: kept
    assert alpha.phone == "+380501112233"
    assert (alpha.status, alpha.next_allowed_action_time, alpha.channels_joined_count) == (
        TelegramAccount.Status.COOLDOWN,
        cooling_until,
        7,
    )
    assert TelegramAccount.objects.get(session_name="promotion_beta").proxy_url == "http://10.0.0.1:3128"

    assert run_import(write(tmp_path, [ENTRIES[0] | {"proxy": None}])) == "0 created, 1 updated"
    assert TelegramAccount.objects.get(session_name="promotion_alpha").proxy_url == ""  # null clears


BAD_ENTRY = ENTRIES[1]


@pytest.mark.parametrize(
    ("second_entry", "expected"),
    [
        ({k: v for k, v in BAD_ENTRY.items() if k != "api_id"}, "entry [1] (promotion_beta): api_id is missing"),
        (BAD_ENTRY | {"api_id": "87654321abc"}, "entry [1] (promotion_beta): api_id must be a whole positive number"),
        (BAD_ENTRY | {"api_id": True}, "api_id must be a whole number, got true/false"),
        (BAD_ENTRY | {"api_hash": ""}, "entry [1] (promotion_beta): api_hash is empty"),
        (BAD_ENTRY | {"string_session": 42}, "string_session must be text, got a number"),
        (BAD_ENTRY | {"string_session": None}, "string_session is missing"),
        (BAD_ENTRY | {"proxy": "socks5://beta:betapass-secret@"}, "proxy must name a host and a port"),
        (BAD_ENTRY | {"proxy": "betauser:betapass-secret@10.1.1.1:1080"}, "proxy must be a socks5://"),
        (
            BAD_ENTRY | {"session_name": "promotion_alpha"},
            "entry [1] (promotion_alpha): session_name repeats entry [0]",
        ),
        ({k: v for k, v in BAD_ENTRY.items() if k != "session_name"}, "entry [1]: session_name is missing"),
        (BAD_ENTRY | {"session_name": "x" * 65}, "entry [1]: session_name is longer than 64 characters"),
        (["not", "an", "object"], "entry [1]: must be an object, got a list"),
    ],
)
def test_a_malformed_entry_writes_nothing_and_quotes_no_value(tmp_path, second_entry, expected):
    path = write(tmp_path, [ENTRIES[0], second_entry])

    with pytest.raises(CommandError) as caught:
        run_import(path)

    message = str(caught.value)
    assert message.startswith(str(path)) and expected in message
    assert "\n" not in message
    for secret in [*SECRET_VALUES, "betapass-secret", "betauser", "87654321abc"]:
        assert secret not in message
    assert not TelegramAccount.objects.exists()


def test_it_lists_every_problem_of_an_entry(tmp_path):
    path = write(tmp_path, [{"session_name": "promotion_alpha", "api_id": "x1", "api_hash": " "}])

    with pytest.raises(
        CommandError,
        match=r"api_id must be a whole positive number; api_hash is empty; "
        r"string_session is missing",
    ):
        run_import(path)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('[{"session_name": "a", "api_hash": "secret-in-broken-json"', "not valid JSON: Expecting"),
        (json.dumps({"accounts": ENTRIES}), "expected a list of account objects at the root, got an object"),
        (b"\xff\xfe[]", "not UTF-8 text"),
    ],
)
def test_an_unreadable_file_writes_nothing(tmp_path, content, expected):
    path = tmp_path / "accounts_config.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())

    with pytest.raises(CommandError, match=expected) as caught:
        run_import(path)
    assert "secret-in-broken-json" not in str(caught.value)
    assert not TelegramAccount.objects.exists()


def test_a_missing_file_is_one_clear_line(tmp_path):
    with pytest.raises(CommandError, match="cannot read the file"):
        run_import(tmp_path / "nope.json")


# --- join_batch ----------------------------------------------------------------------------------


def add_account(name="promo_1", **fields):
    return TelegramAccount.objects.create(
        session_name=name, api_id="12345", api_hash="synthetic-hash", string_session="synthetic-session", **fields
    )


def add_targets(usernames, niche="cars"):
    return [JoinTarget.objects.create(link=f"https://t.me/{u}", username=f"@{u}", niche=niche) for u in usernames]


def join_batch(*args) -> str:
    out = StringIO()
    call_command("join_batch", *args, stdout=out)
    return out.getvalue()


def test_join_batch_joins_one_niche_inline_with_a_job(fake_world):
    add_account()
    add_targets(["chat_000", "chat_001", "chat_002"])

    output = join_batch("cars", "2")

    job = JobRun.objects.get()
    assert (job.kind, job.target, job.trigger, job.status) == (JOIN_KIND, "cars", JobRun.Trigger.COMMAND, "succeeded")
    assert f"niche 'cars': 2 joined, 0 errors, 0 skipped (job #{job.pk})" in output
    assert "@chat_000: joined with promo_1" in job.log_tail
    assert JoinTarget.objects.filter(status=JoinTarget.Status.JOINED).count() == 2


def test_join_batch_without_a_niche_takes_every_niche_with_new_targets(fake_world):
    add_account()
    add_targets(["chat_000"], niche="cars")
    add_targets(["chat_001"], niche="boats")
    JoinTarget.objects.create(link="@chat_002", username="@chat_002", niche="done", status=JoinTarget.Status.JOINED)

    output = join_batch()

    assert sorted(JobRun.objects.values_list("target", flat=True)) == ["boats", "cars"]
    assert "niche 'boats': 1 joined" in output and "niche 'cars': 1 joined" in output


def test_join_batch_says_in_one_line_when_no_account_may_act(fake_world):
    add_account(status=TelegramAccount.Status.COOLDOWN, next_allowed_action_time=timezone.now() + timedelta(hours=1))
    add_targets(["chat_000"])

    with pytest.raises(CommandError) as caught:
        join_batch("cars")

    assert "no usable account" in str(caught.value) and "\n" not in str(caught.value)
    assert JobRun.objects.get().status == JobRun.Status.FAILED
    assert JoinTarget.objects.get().status == JoinTarget.Status.NEW


def test_join_batch_refuses_while_a_join_job_of_the_niche_is_active(fake_world):
    add_account()
    add_targets(["chat_000"])
    active = JobRun.objects.create(kind=JOIN_KIND, target="cars", status=JobRun.Status.RUNNING)

    with pytest.raises(CommandError, match=f"join job #{active.pk} is running"):
        join_batch("cars")
    assert "1 joined" in join_batch("cars", "--force")


def test_join_batch_checks_the_batch_size(fake_world):
    with pytest.raises(CommandError, match="batch size must be between 1 and 10"):
        join_batch("cars", "50")
    assert join_batch().strip() == "no niche has new targets: nothing to join"


# --- target links ----------------------------------------------------------------------------------


def test_pasted_links_are_normalised_and_duplicates_counted():
    JoinTarget.objects.create(link="@old_group", username="@old_group", niche="cars")
    text = "https://t.me/Old_Group\n\n# a comment\n@new_group\nt.me/+AbCdEfGhIjKl\nt.me/new_group/123\n"

    result = import_targets(lines=parse_target_text(text, niche="cars"))

    assert result.summary() == "2 added, 2 already there"
    assert sorted(JoinTarget.objects.values_list("username", "invite_hash")) == [
        ("", "AbCdEfGhIjKl"),
        ("@new_group", ""),
        ("@old_group", ""),
    ]
    assert JoinTarget.objects.get(username="@new_group").link == "@new_group"


def test_the_same_link_in_another_niche_is_another_target():
    JoinTarget.objects.create(link="@shared_group", username="@shared_group", niche="cars")

    result = import_targets(lines=parse_target_text("@shared_group", niche="boats"))

    assert result.summary() == "1 added, 0 already there"


def test_one_bad_line_and_nothing_is_written():
    text = "@good_group\nhttps://example.com/x\n@ab\n@another_good"

    with pytest.raises(TargetImportError) as caught:
        import_targets(lines=parse_target_text(text, niche="cars"))

    assert [error.split(":")[0] for error in caught.value.errors] == ["line 2", "line 3"]
    assert "not a Telegram group link or username" in caught.value.errors[0]
    assert not JoinTarget.objects.exists()


def test_a_csv_gives_niche_and_title_per_row():
    data = b"link,niche,title\nhttps://t.me/car_chat,,Cars\n@boat_chat,boats,Boats\n"

    result = import_targets(lines=parse_target_csv(data, niche="cars"))

    assert result.summary() == "2 added, 0 already there"
    assert sorted(JoinTarget.objects.values_list("username", "niche", "title")) == [
        ("@boat_chat", "boats", "Boats"),
        ("@car_chat", "cars", "Cars"),
    ]


def test_a_csv_without_a_niche_anywhere_or_a_link_column_is_refused():
    with pytest.raises(TargetImportError, match="line 2: no niche"):
        parse_target_csv("link\n@car_chat\n")
    with pytest.raises(TargetImportError, match="no 'link' column"):
        parse_target_csv("url,niche\n@car_chat,cars\n")
    semicolons = parse_target_csv("link;title\n@car_chat;Cars\n", niche="cars")
    assert [(line.ref.username, line.title) for line in semicolons] == [("@car_chat", "Cars")]


# --- the task and the beat entry -------------------------------------------------------------------


@pytest.fixture
def enqueued(monkeypatch):
    calls = []
    monkeypatch.setattr(join_batch_task, "apply_async", lambda **options: calls.append(options))
    return calls


def test_the_beat_entry_starts_one_job_per_niche_with_new_targets(enqueued, django_capture_on_commit_callbacks):
    add_targets(["chat_000", "chat_001"], niche="cars")
    add_targets(["chat_002"], niche="boats")
    add_targets(["chat_003"], niche="bikes")
    JoinTarget.objects.filter(niche="bikes").update(status=JoinTarget.Status.JOINED)
    busy = JobRun.objects.create(kind=JOIN_KIND, target="boats", status=JobRun.Status.QUEUED)

    with django_capture_on_commit_callbacks(execute=True):
        started = scheduled_join_batches()

    job = JobRun.objects.exclude(pk=busy.pk).get()
    assert started == [job.pk]
    assert (job.kind, job.target, job.trigger) == (JOIN_KIND, "cars", JobRun.Trigger.SCHEDULE)
    assert [call["kwargs"] for call in enqueued] == [{"niche": "cars", "batch_size": 5, "job_id": job.pk}]


def test_the_join_task_is_not_acks_late_and_has_room_for_a_batch():
    assert join_batch_task.acks_late is False
    assert join_batch_task.soft_time_limit >= 2 * 3600
    assert join_batch_task.time_limit > join_batch_task.soft_time_limit


def test_the_schedule_is_declared():
    entry = next(s for s in collect_schedules() if s.task == "accounts.tasks.scheduled_join_batches")
    entry.check_task()
    assert entry.name == "Join new target groups every 2 hours"
    assert entry.crontab_fields() == {
        "minute": "0",
        "hour": "*/2",
        "day_of_month": "*",
        "month_of_year": "*",
        "day_of_week": "*",
    }
    assert entry.description
