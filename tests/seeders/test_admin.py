"""The seeders pages: review the top-10, approve exactly those through a confirmation page,
verify, roll back, export; looking needs view_seederbatch, writing needs approve_seederbatch."""

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from leadops.models import JobRun
from seeders import services
from seeders.models import SeederBatch, StaleMark
from telegram_sources.models import TelegramGroup, TelegramUser

pytestmark = pytest.mark.django_db

REFERENCE = -100123
REVIEW_URL = reverse("admin:seeders_seederbatch_review")
APPROVE_URL = reverse("admin:seeders_seederbatch_approve")
REFRESH_URL = reverse("admin:seeders_seederbatch_refresh_reference")
VERIFY_URL = reverse("admin:seeders_seederbatch_verify")
BATCHES_URL = reverse("admin:seeders_seederbatch_changelist")
MARKS_URL = reverse("admin:seeders_stalemark_changelist")
TOP10 = list(range(5000, 5010))  # offline_cnt 40, 39, ... 31
NEXT = [5010, 5011]  # 30, 29


@pytest.fixture
def reference(settings):
    settings.REFERENCE_GROUP = str(REFERENCE)
    settings.REFERENCE_MAX_AGE_HOURS = 24
    settings.SEEDERS_BATCH_SIZE = 10
    return TelegramGroup.objects.create(kind="reference", telegram_id=REFERENCE, last_exported_at=timezone.now())


@pytest.fixture
def people(reference):
    """12 ranked candidates (the third has no username), plus a reference member and a bot who outrank them."""
    users = [
        TelegramUser(
            telegram_id=telegram_id,
            username="" if i == 2 else f"seeder_{i:02d}",
            first_name=f"First{i}",
            last_name="Last",
            offline_cnt=40 - i,
            first_seen_at=datetime(2019, 5, 1, tzinfo=UTC),
            last_offline_at=datetime(2024, 3, 1, tzinfo=UTC),
        )
        for i, telegram_id in enumerate(TOP10 + NEXT)
    ]
    users.append(TelegramUser(telegram_id=7001, username="in_reference", offline_cnt=99, in_reference=True))
    users.append(TelegramUser(telegram_id=7002, username="a_bot", offline_cnt=98, is_bot=True))
    TelegramUser.objects.bulk_create(users)


def staff(django_user_model, username, *codenames):
    user = django_user_model.objects.create_user(username, password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="seeders", codename__in=codenames))
    return user


@pytest.fixture
def approver(django_user_model):
    return staff(django_user_model, "approver", "view_seederbatch", "approve_seederbatch", "view_stalemark")


@pytest.fixture
def viewer(django_user_model):
    return staff(django_user_model, "viewer", "view_seederbatch", "view_stalemark")


@pytest.fixture
def approver_client(client, approver):
    client.force_login(approver)
    return client


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


def listed_ids(html: str, table_id: str) -> list[int]:
    table = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    return [int(value) for value in re.findall(r'data-telegram-id="(-?\d+)"', table)]


def hidden_ids(html: str, form_id: str) -> list[int]:
    form = html.split(f'id="{form_id}"', 1)[1].split("</form>", 1)[0]
    return [int(value) for value in re.findall(r'name="ids" value="(-?\d+)"', form)]


def highlighted_ids(html: str) -> list[int]:
    return [int(value) for value in re.findall(r'class="seeder-row in-batch[^"]*" data-telegram-id="(\d+)"', html)]


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def approve_batch(user) -> SeederBatch:
    result = services.approve(ids=TOP10, user=user)
    assert result.ok, result.reason
    return result.batch


# --- review -----------------------------------------------------------------------------------------


def test_the_review_page_lists_the_next_ten_ranked(people, approver_client):
    response = approver_client.get(REVIEW_URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert listed_ids(html, "seeders-top-table") == TOP10
    assert hidden_ids(html, "approve-form") == TOP10
    assert "Approve these 10" in html and "Refresh reference now" in html
    rows = html.split('id="seeders-top-table"', 1)[1].split("</table>")[0]
    assert "@seeder_00" in rows and "First0 Last" in rows and "2019–2024" in rows
    assert rows.count("no username") == 1  # the third one
    assert [f'<td class="num">{rank}</td>' in rows for rank in range(1, 11)] == [True] * 10
    assert "in_reference" not in rows and "a_bot" not in rows
    assert 'id="reference-age"' in html and 'id="reference-warning"' not in html
    assert 'name="csrfmiddlewaretoken"' in html


def test_the_admin_index_links_to_the_review_page(people, approver_client):
    html = approver_client.get(reverse("admin:index")).content.decode()
    assert 'id="seeders-card"' in html and REVIEW_URL in html


def test_staff_without_the_view_permission_cannot_open_the_pages(people, client, django_user_model):
    client.force_login(staff(django_user_model, "nobody"))

    assert client.get(REVIEW_URL).status_code == 403
    assert client.get(VERIFY_URL).status_code == 403
    assert 'id="seeders-card"' not in client.get(reverse("admin:index")).content.decode()


# --- approve ------------------------------------------------------------------------------------------


def test_approve_asks_for_confirmation_then_marks_exactly_the_ten(people, approver, approver_client):
    response = approver_client.post(APPROVE_URL, {"ids": TOP10})

    assert response.status_code == 200
    html = response.content.decode()
    assert "Are you sure" in html
    assert listed_ids(html, "approve-rows") == TOP10
    assert hidden_ids(html, "confirm-form") == TOP10
    assert 'name="post" value="yes"' in html
    assert not SeederBatch.objects.exists()  # the confirmation page writes nothing

    response = approver_client.post(APPROVE_URL, {"ids": TOP10, "post": "yes"})

    batch = SeederBatch.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{VERIFY_URL}?batch={batch.pk}"
    assert batch.created_by == approver
    assert sorted(batch.marks.values_list("user__telegram_id", flat=True)) == TOP10
    entry = LogEntry.objects.get(object_id=str(batch.pk))
    assert entry.user == approver and "approved 10 seeders" in entry.change_message

    response = approver_client.get(response["Location"])
    html = response.content.decode()
    assert any(f"batch #{batch.pk}" in message for message in messages_of(response))
    assert highlighted_ids(html) == TOP10
    assert listed_ids(html, "verify-table")[:12] == TOP10 + NEXT  # marked or not, the verify view lists them
    assert html.count('<span class="seeders-stale-yes">yes</span>') == 10

    # The next review shows the next ones.
    assert listed_ids(approver_client.get(REVIEW_URL).content.decode(), "seeders-top-table") == NEXT


def test_tampered_ids_are_refused_and_nothing_is_written(people, approver_client):
    tampered = TOP10[:9] + [NEXT[0]]

    response = approver_client.post(APPROVE_URL, {"ids": tampered}, follow=True)
    assert response.redirect_chain == [(REVIEW_URL, 302)]
    assert any("not the current top-10" in message for message in messages_of(response))

    # Posting the confirmation directly: the service itself refuses.
    response = approver_client.post(APPROVE_URL, {"ids": tampered, "post": "yes"}, follow=True)
    assert response.redirect_chain == [(REVIEW_URL, 302)]
    assert any("Nothing was approved: the top-10 changed" in message for message in messages_of(response))

    response = approver_client.post(APPROVE_URL, {"ids": ["5000", "x"], "post": "yes"}, follow=True)
    assert any("no Telegram ids" in message for message in messages_of(response))

    assert not SeederBatch.objects.exists() and not StaleMark.objects.exists()
    assert not LogEntry.objects.exists()


def test_a_stale_reference_snapshot_is_refused_with_the_reason(people, reference, approver_client):
    reference.last_exported_at = timezone.now() - timedelta(hours=30)
    reference.save()

    html = approver_client.get(REVIEW_URL).content.decode()
    assert 'id="reference-warning"' in html and "30 h old (limit 24 h)" in html
    assert re.search(r'id="approve-button" value="Approve these 10" disabled', html)

    response = approver_client.post(APPROVE_URL, {"ids": TOP10, "post": "yes"}, follow=True)

    assert response.redirect_chain == [(REVIEW_URL, 302)]
    assert any("the reference snapshot is 30 h old" in message for message in messages_of(response))
    assert not SeederBatch.objects.exists() and not StaleMark.objects.exists()


def test_a_reference_never_exported_is_warned_about(people, reference, approver_client, settings):
    reference.last_exported_at = None
    reference.save()
    assert "has never been exported" in approver_client.get(REVIEW_URL).content.decode()

    settings.REFERENCE_GROUP = ""
    assert "REFERENCE_GROUP is not set" in approver_client.get(REVIEW_URL).content.decode()


# --- permission -------------------------------------------------------------------------------------


def test_without_the_approve_permission_the_pages_are_read_only(people, viewer_client, approver):
    html = viewer_client.get(REVIEW_URL).content.decode()
    assert listed_ids(html, "seeders-top-table") == TOP10
    assert "Approve these" not in html and "Refresh reference now" not in html
    assert 'id="read-only-note"' in html

    assert viewer_client.post(APPROVE_URL, {"ids": TOP10}).status_code == 403
    assert viewer_client.post(APPROVE_URL, {"ids": TOP10, "post": "yes"}).status_code == 403
    assert viewer_client.post(REFRESH_URL).status_code == 403
    assert not SeederBatch.objects.exists() and not JobRun.objects.exists()

    batch = approve_batch(approver)
    response = viewer_client.get(BATCHES_URL)
    assert response.status_code == 200
    actions = [name for name, _ in response.context["action_form"].fields["action"].choices]
    assert "rollback_selected" not in actions and "export_users_csv" in actions
    rollback_post = {"action": "rollback_selected", "_selected_action": [batch.pk], "post": "yes"}
    assert viewer_client.post(BATCHES_URL, rollback_post).status_code == 403
    rollback_url = reverse("admin:seeders_seederbatch_rollback", args=[batch.pk])
    assert viewer_client.get(rollback_url).status_code == 403
    assert viewer_client.post(rollback_url, {"post": "yes"}).status_code == 403
    assert "Roll back" not in viewer_client.get(f"{VERIFY_URL}?batch={batch.pk}").content.decode()
    assert batch.marks.active().count() == 10


# --- refresh ------------------------------------------------------------------------------------------


def test_refresh_starts_the_reference_job_and_follows_it(people, approver_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = approver_client.post(REFRESH_URL)

    job = JobRun.objects.get()
    assert job.kind == "tg-refresh-reference" and len(callbacks) == 1
    assert response.status_code == 302 and response["Location"] == REVIEW_URL
    html = approver_client.get(REVIEW_URL).content.decode()
    assert reverse("admin:leadops_jobrun_change", args=[job.pk]) in html
    assert '<meta http-equiv="refresh" content="3">' in html  # queued: the page follows it
    assert re.search(r'id="refresh-reference"[^>]*disabled', html)

    JobRun.objects.filter(pk=job.pk).update(status=JobRun.Status.SUCCEEDED)
    assert 'http-equiv="refresh"' not in approver_client.get(REVIEW_URL).content.decode()


def test_refresh_without_a_reference_group_says_why(people, approver_client, settings):
    settings.REFERENCE_GROUP = ""

    response = approver_client.post(REFRESH_URL, follow=True)

    assert response.status_code == 200
    assert any("REFERENCE_GROUP is not set" in message for message in messages_of(response))
    assert not JobRun.objects.exists()


# --- batches: rollback, export -----------------------------------------------------------------------


def test_the_rollback_action_asks_for_confirmation_then_revokes_the_marks(people, approver, approver_client):
    batch = approve_batch(approver)
    action = {"action": "rollback_selected", "_selected_action": [batch.pk]}

    response = approver_client.post(BATCHES_URL, action)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Are you sure you want to roll back this seeder batch" in html
    assert "10 of 10 marks not revoked yet" in html
    assert 'name="post" value="yes"' in html and 'name="action" value="rollback_selected"' in html
    assert batch.marks.active().count() == 10  # nothing yet

    response = approver_client.post(BATCHES_URL, {**action, "post": "yes"}, follow=True)

    assert response.redirect_chain[-1][0].startswith(BATCHES_URL)
    assert any(f"batch {batch.pk} rolled back: 10 stale marks revoked" in m for m in messages_of(response))
    batch.refresh_from_db()
    assert batch.status == SeederBatch.Status.ROLLED_BACK and batch.rolled_back_by == approver
    assert batch.marks.filter(revoked_at__isnull=False).count() == 10
    assert LogEntry.objects.filter(object_id=str(batch.pk), change_message__startswith="rolled back").exists()
    assert listed_ids(approver_client.get(REVIEW_URL).content.decode(), "seeders-top-table") == TOP10


def test_one_batch_rolls_back_from_its_own_page(people, approver, approver_client):
    batch = approve_batch(approver)
    change_html = approver_client.get(reverse("admin:seeders_seederbatch_change", args=[batch.pk])).content.decode()
    url = reverse("admin:seeders_seederbatch_rollback", args=[batch.pk])
    assert url in change_html and "@seeder_00" in change_html  # rows before approval

    assert "Are you sure" in approver_client.get(url).content.decode()
    response = approver_client.post(url, {"post": "yes"})

    assert response.status_code == 302
    assert not batch.marks.active().exists()


def test_the_batches_list_shows_who_when_and_how_many(people, approver, approver_client):
    batch = approve_batch(approver)

    response = approver_client.get(BATCHES_URL)

    assert response.status_code == 200
    listed = response.context["cl"].result_list
    assert [(b.pk, b.marks_count, b.created_by) for b in listed] == [(batch.pk, 10, approver)]
    html = response.content.decode()
    assert batch.reason in html and REVIEW_URL in html
    assert "Add seeder batch" not in html
    marks = approver_client.get(MARKS_URL, {"state": "active"}).context["cl"].result_list
    assert len(marks) == 10
    assert len(approver_client.get(MARKS_URL, {"state": "revoked"}).context["cl"].result_list) == 0


def test_users_export_as_csv(people, approver, approver_client):
    TelegramUser.objects.filter(telegram_id=TOP10[0]).update(first_name="=HYPERLINK(1)")
    batch = approve_batch(approver)

    response = approver_client.post(BATCHES_URL, {"action": "export_users_csv", "_selected_action": [batch.pk]})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert list(rows[0]) == [
        "batch_id",
        "telegram_id",
        "username",
        "first_name",
        "last_name",
        "offline_cnt",
        "last_offline_at",
        "set_at",
        "until",
        "revoked_at",
    ]
    assert [int(row["telegram_id"]) for row in rows] == TOP10
    first = rows[0]
    mark = StaleMark.objects.get(user__telegram_id=TOP10[0])
    assert first["batch_id"] == str(batch.pk)
    assert first["username"] == "seeder_00" and first["first_name"] == "'=HYPERLINK(1)"
    assert first["offline_cnt"] == "40" and first["last_offline_at"].startswith("2024-03-01")
    assert first["set_at"] == mark.set_at.isoformat() and first["until"] == mark.until.isoformat()
    assert first["revoked_at"] == ""
    assert rows[2]["username"] == ""
