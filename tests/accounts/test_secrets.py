"""The accounts' secrets never show: not in admin pages, logs, command output, messages or task arguments."""

import json
import logging
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from accounts.models import JoinTarget, TelegramAccount
from accounts.services.starters import start_join_batch
from accounts.tasks import join_batch_task

pytestmark = pytest.mark.django_db

SECRETS = {
    "phone": "+380991234567",
    "api_id": "98765432",
    "api_hash": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    "string_session": "1BVtsOKABu-SESSION-SECRET-zq9w8e7r6t5y",
    "proxy_url": "socks5://proxyuser:proxypass-SECRET@10.11.12.13:1080",
}
# Every piece that would give a secret away, the proxy's parts included.
FRAGMENTS = [*SECRETS.values(), "proxyuser", "proxypass-SECRET", "10.11.12.13", "SESSION-SECRET", "0f1e2d3c4b5a"]
SEED_ENTRY = {
    "session_name": "promo_secret",
    "api_id": int(SECRETS["api_id"]),
    "api_hash": SECRETS["api_hash"],
    "string_session": SECRETS["string_session"],
    "proxy": SECRETS["proxy_url"],
    "phone": SECRETS["phone"],
}


def assert_no_secret(text: str, where: str) -> None:
    leaked = [fragment for fragment in FRAGMENTS if fragment in text]
    assert not leaked, f"{where} shows {leaked}"


@pytest.fixture
def account(db):
    return TelegramAccount.objects.create(session_name="promo_secret", last_error="FloodWait 3600 s", **SECRETS)


def test_no_admin_page_of_an_account_shows_its_secrets(admin_client, account):
    JoinTarget.objects.create(link="@chat_000", username="@chat_000", niche="cars", assigned_account=account)
    urls = {
        "changelist": reverse("admin:accounts_telegramaccount_changelist"),
        "changelist searched": reverse("admin:accounts_telegramaccount_changelist") + "?q=promo",
        "change page": reverse("admin:accounts_telegramaccount_change", args=[account.pk]),
        "history": reverse("admin:accounts_telegramaccount_history", args=[account.pk]),
        "targets": reverse("admin:accounts_jointarget_changelist"),
        "target page": reverse("admin:accounts_jointarget_change", args=[JoinTarget.objects.get().pk]),
    }
    for where, url in urls.items():
        response = admin_client.get(url)
        assert response.status_code == 200, where
        assert_no_secret(response.content.decode(), where)

    change_page = admin_client.get(urls["change page"]).content.decode()
    assert change_page.count('<span class="secret-status">set</span>') == 5  # write-only: only "set"


def test_saving_the_account_page_keeps_the_secrets_and_shows_none(admin_client, account):
    url = reverse("admin:accounts_telegramaccount_change", args=[account.pk])
    form = {"session_name": "promo_secret", "status": "cooldown", "channels_joined_count": 0, "_continue": "1"}

    response = admin_client.post(url, form, follow=True)

    assert_no_secret(response.content.decode(), "the page after saving")
    account.refresh_from_db()
    assert account.status == "cooldown"
    assert {name: getattr(account, name) for name in SECRETS} == SECRETS  # empty inputs keep what is stored
    history = admin_client.get(reverse("admin:accounts_telegramaccount_history", args=[account.pk]))
    assert_no_secret(history.content.decode(), "history after saving")


def test_the_admin_actions_say_nothing_secret(admin_client, account, settings):
    url = reverse("admin:accounts_telegramaccount_changelist")
    for action in ("check_session", "clear_cooldown", "disable"):
        data = {"action": action, "_selected_action": [account.pk], "index": 0}
        assert_no_secret(admin_client.post(url, data, follow=True).content.decode(), action)

    settings.TELEGRAM_GATEWAY = "telegram_sources.telethon_gateway.TelethonGateway"  # the session does not parse
    data = {"action": "check_session", "_selected_action": [account.pk], "index": 0}
    html = admin_client.post(url, data, follow=True).content.decode()
    assert "string_session is not a valid session" in html
    assert_no_secret(html, "check session with Telethon")


def test_import_accounts_logs_and_prints_no_secret(tmp_path, caplog):
    path = tmp_path / "accounts_config.json"
    path.write_text(json.dumps([SEED_ENTRY]), encoding="utf-8")
    out, err = StringIO(), StringIO()

    with caplog.at_level(logging.DEBUG):
        call_command("import_accounts", str(path), stdout=out, stderr=err)
        call_command("import_accounts", str(path), stdout=out, stderr=err)  # the update path too

    assert "1 created, 0 updated" in out.getvalue()
    assert_no_secret(out.getvalue() + err.getvalue(), "command output")
    assert_no_secret(caplog.text, "logs")
    assert any("import_accounts" in record.getMessage() for record in caplog.records)  # the logs were captured


def test_a_rejected_accounts_file_echoes_none_of_its_secrets(tmp_path, caplog):
    bad = {**SEED_ENTRY, "api_id": SECRETS["api_hash"], "proxy": "proxyuser:proxypass-SECRET@10.11.12.13:1080"}
    path = tmp_path / "accounts_config.json"
    path.write_text(json.dumps([SEED_ENTRY | {"session_name": "fine"}, bad]), encoding="utf-8")

    with caplog.at_level(logging.DEBUG), pytest.raises(CommandError) as caught:
        call_command("import_accounts", str(path))

    assert "entry [1] (promo_secret): api_id must be a whole positive number; proxy must be" in str(caught.value)
    assert_no_secret(str(caught.value), "the error")
    assert_no_secret(caplog.text, "logs")
    assert not TelegramAccount.objects.exists()


def test_a_join_batch_logs_no_secret_and_its_task_gets_names_and_ids_only(
    account, fake_world, caplog, monkeypatch, django_capture_on_commit_callbacks
):
    targets = [JoinTarget.objects.create(link=f"@chat_00{n}", username=f"@chat_00{n}", niche="cars") for n in range(2)]
    sent = []
    real_apply_async = join_batch_task.apply_async

    def record(**options):
        sent.append(options)
        return real_apply_async(**options)

    monkeypatch.setattr(join_batch_task, "apply_async", record)

    with caplog.at_level(logging.DEBUG), django_capture_on_commit_callbacks(execute=True):
        job = start_join_batch(niche="cars", batch_size=2, target_ids=[t.pk for t in targets])

    (options,) = sent
    assert options["kwargs"] == {
        "niche": "cars",
        "batch_size": 2,
        "target_ids": [t.pk for t in targets],
        "job_id": job.pk,
    }
    assert_no_secret(repr(options), "the task's arguments")
    assert JoinTarget.objects.filter(status="joined", assigned_account=account).count() == 2
    assert "joined with promo_secret" in caplog.text
    assert_no_secret(caplog.text, "the join batch's logs")
    job.refresh_from_db()
    assert_no_secret(job.log_tail + job.error + json.dumps(job.counters), "the JobRun")


def test_the_join_batch_command_prints_no_secret(account, fake_world, caplog):
    JoinTarget.objects.create(link="@chat_000", username="@chat_000", niche="cars")
    out = StringIO()

    with caplog.at_level(logging.DEBUG):
        call_command("join_batch", "cars", stdout=out)

    assert "1 joined" in out.getvalue()
    assert_no_secret(out.getvalue() + caplog.text, "join_batch")
