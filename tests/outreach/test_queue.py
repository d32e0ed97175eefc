"""The queue service: who is skipped, which mailbox, and when (spacing, window, caps per mailbox)."""

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError

from outreach.models import Company, Contact, OutreachMessage, SenderMailbox
from outreach.optouts import record_opt_out
from outreach.routing import RouteUnavailable
from outreach.services.queue import queue_messages

pytestmark = pytest.mark.django_db

MSK = ZoneInfo("Europe/Moscow")
NOW = datetime(2025, 3, 5, 10, 0, tzinfo=MSK)  # a Wednesday, inside the window
Status = OutreachMessage.Status


def ru_by_tld(email: str) -> str:
    """Stands in for the MX lookup: .ru.test domains are "Russian-hosted"."""
    return "ru" if email.endswith(".ru.test") else "other"


@pytest.fixture(autouse=True)
def outreach_settings(settings):
    settings.OUTREACH_TIMEZONE = "Europe/Moscow"
    settings.OUTREACH_WINDOW = "09:10-19:45"
    settings.OUTREACH_SPACING = "240-480"
    settings.OUTREACH_DAILY_CAP = 50
    settings.OUTREACH_SKIP_WEEKENDS = False
    return settings


def make_mailbox(name="box-other", route="other", daily_cap=50, active=True):
    return SenderMailbox.objects.create(
        name=name,
        host="127.0.0.1",
        from_address=f"{name}@sender.test",
        daily_cap=daily_cap,
        route=route,
        active=active,
    )


_seq = iter(range(1, 1_000_000))


def make_draft(domain=None, *, email=None, ready=True, primary=True, created=None, **company_fields):
    n = next(_seq)
    domain = domain or f"firm{n}.test"
    company = Company.objects.create(name=f"Firm {n}", canonical_domain=domain, **company_fields)
    contact = Contact.objects.create(company=company, email=email or f"info@{domain}", is_primary=primary)
    return OutreachMessage.objects.create(
        company=company,
        contact=contact,
        subject="Hello",
        body="Synthetic body",
        metadata={"ready": True} if ready else {},
        created_at=created or NOW - timedelta(hours=1) + timedelta(seconds=n),
    )


def run(**kwargs):
    kwargs.setdefault("now", NOW)
    kwargs.setdefault("route_for", ru_by_tld)
    kwargs.setdefault("rng", random.Random(7))
    return queue_messages(**kwargs)


def scheduled_times(mailbox):
    return list(
        OutreachMessage.objects.filter(mailbox=mailbox, status=Status.SCHEDULED)
        .order_by("scheduled_for")
        .values_list("scheduled_for", flat=True)
    )


def gaps(times):
    return [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]


def test_it_schedules_a_ready_draft_on_its_routes_mailbox():
    box = make_mailbox()
    message = make_draft()

    result = run()

    message.refresh_from_db()
    assert result.counts() == {"scheduled": 1, "skipped": 0, "no_mailbox": 0, "deferred": 0}
    assert message.status == Status.SCHEDULED
    assert message.mailbox == box
    assert 240 <= (message.scheduled_for - NOW).total_seconds() <= 480
    assert message.metadata["route"] == "other"
    assert message.metadata["mailbox"] == "box-other"
    assert message.metadata["ready"] is True  # the generator's metadata is kept
    assert "route_fallback" not in message.metadata


def test_it_leaves_drafts_that_are_not_ready():
    make_mailbox()
    message = make_draft(ready=False)

    assert run().counts()["scheduled"] == 0
    message.refresh_from_db()
    assert message.status == Status.DRAFT and message.scheduled_for is None


@pytest.mark.parametrize(
    ("company_fields", "reason"),
    [
        ({"status": Company.Status.DUPLICATE, "opt_out": True}, "company is a duplicate"),
        ({"status": Company.Status.DUPLICATE}, "company is a duplicate"),
        ({"opt_out": True}, "company opted out"),
    ],
)
def test_it_skips_duplicate_and_opted_out_companies(company_fields, reason):
    make_mailbox()
    message = make_draft(**company_fields)

    result = run()

    message.refresh_from_db()
    assert result.skipped == 1 and result.scheduled == 0
    assert message.status == Status.SKIPPED
    assert message.last_error == reason
    assert message.scheduled_for is None and message.mailbox is None


def test_it_skips_an_opted_out_address_but_not_its_neighbour():
    make_mailbox()
    gone = make_draft("shop.test", email="Owner@Shop.test")
    kept = make_draft("shop2.test", email="owner@shop2.test")
    record_opt_out(email="owner@shop.test", source="unsubscribe")

    result = run()

    gone.refresh_from_db()
    kept.refresh_from_db()
    assert (result.skipped, result.scheduled) == (1, 1)
    assert gone.status == Status.SKIPPED
    assert "opted out" in gone.last_error
    assert kept.status == Status.SCHEDULED


def test_it_skips_an_opted_out_domain():
    make_mailbox()
    message = make_draft("agency.test", email="sales@agency.test")
    record_opt_out(domain="agency.test")

    run()

    message.refresh_from_db()
    assert message.status == Status.SKIPPED
    assert "opted out" in message.last_error


def test_it_skips_a_company_whose_own_domain_opted_out_even_with_a_free_mail_address():
    make_mailbox()
    message = make_draft("bakery.test", email="bakery-owner@freemail.test")
    record_opt_out(domain="bakery.test")

    run()

    message.refresh_from_db()
    assert message.status == Status.SKIPPED
    assert message.last_error == "company's domain opted out"


def test_it_skips_a_contact_that_is_not_the_primary():
    make_mailbox()
    message = make_draft(primary=False)

    run()

    message.refresh_from_db()
    assert message.status == Status.SKIPPED
    assert message.last_error == "contact is not the company's primary"


def test_one_message_per_company_and_a_second_run_changes_nothing():
    make_mailbox()
    message = make_draft()
    run()
    message.refresh_from_db()
    first = message.scheduled_for

    again = run(now=NOW + timedelta(hours=1))

    message.refresh_from_db()
    assert again.counts() == {"scheduled": 0, "skipped": 0, "no_mailbox": 0, "deferred": 0}
    assert message.scheduled_for == first
    with pytest.raises(IntegrityError):
        OutreachMessage.objects.create(company=message.company, contact=message.contact, subject="again")


def test_it_spaces_one_mailboxs_messages_by_the_pause_inside_the_window():
    box = make_mailbox()
    for _ in range(20):
        make_draft()

    assert run().scheduled == 20

    times = scheduled_times(box)
    assert len(times) == 20
    assert all(240 <= gap <= 480 for gap in gaps(times))
    assert times[0] >= NOW + timedelta(seconds=240)
    assert all(t.astimezone(MSK).date() == NOW.date() for t in times)


def test_it_continues_after_the_mailboxs_latest_slot_from_an_earlier_run():
    box = make_mailbox()
    make_draft()
    run()
    make_draft()

    run(now=NOW + timedelta(seconds=10))  # the first message is still minutes ahead

    times = scheduled_times(box)
    assert 240 <= gaps(times)[0] <= 480


def test_it_counts_an_already_sent_message_for_spacing_and_cap():
    box = make_mailbox(daily_cap=2)
    sent = make_draft()
    OutreachMessage.objects.filter(pk=sent.pk).update(
        status=Status.SENT, mailbox=box, scheduled_for=NOW - timedelta(minutes=5), sent_at=NOW + timedelta(minutes=1)
    )
    first, second = make_draft(), make_draft()

    run()

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.scheduled_for - (NOW + timedelta(minutes=1))).total_seconds() >= 240
    assert second.scheduled_for == datetime(2025, 3, 6, 9, 10, tzinfo=MSK)  # sent + first fill the cap of 2


def test_caps_move_the_overflow_to_the_next_days_window():
    box = make_mailbox(daily_cap=3)
    for _ in range(7):
        make_draft()

    run()

    by_day = {}
    for t in scheduled_times(box):
        by_day.setdefault(t.astimezone(MSK).date().isoformat(), []).append(t.astimezone(MSK))
    assert {day: len(ts) for day, ts in by_day.items()} == {"2025-03-05": 3, "2025-03-06": 3, "2025-03-07": 1}
    assert by_day["2025-03-06"][0].time().isoformat() == "09:10:00"
    assert by_day["2025-03-07"][0].time().isoformat() == "09:10:00"


def test_a_mailbox_without_its_own_cap_uses_the_default(outreach_settings):
    outreach_settings.OUTREACH_DAILY_CAP = 2
    box = make_mailbox(daily_cap=0)
    for _ in range(3):
        make_draft()

    run()

    days = [t.astimezone(MSK).date().isoformat() for t in scheduled_times(box)]
    assert days == ["2025-03-05", "2025-03-05", "2025-03-06"]


def test_friday_overflow_goes_to_monday_when_weekends_are_skipped(outreach_settings):
    outreach_settings.OUTREACH_SKIP_WEEKENDS = True
    box = make_mailbox(daily_cap=1)
    make_draft()
    make_draft()

    run(now=datetime(2025, 3, 7, 15, 0, tzinfo=MSK))

    days = [t.astimezone(MSK).date().isoformat() for t in scheduled_times(box)]
    assert days == ["2025-03-07", "2025-03-10"]


def test_two_mailboxes_of_a_route_share_the_load_and_each_keeps_its_spacing():
    one, two = make_mailbox("box-a"), make_mailbox("box-b")
    for _ in range(10):
        make_draft()

    run()

    in_order = list(
        OutreachMessage.objects.filter(status=Status.SCHEDULED).order_by("created_at").values_list("mailbox", flat=True)
    )
    assert in_order.count(one.pk) == in_order.count(two.pk) == 5
    assert in_order[:2] in ([one.pk, two.pk], [two.pk, one.pk])  # interleaved, not one box first
    for box in (one, two):
        assert all(gap >= 240 for gap in gaps(scheduled_times(box)))


def test_two_mailboxes_add_up_their_caps():
    one, two = make_mailbox("box-a", daily_cap=2), make_mailbox("box-b", daily_cap=2)
    for _ in range(5):
        make_draft()

    run()

    today = [t for box in (one, two) for t in scheduled_times(box) if t.astimezone(MSK).date() == NOW.date()]
    assert len(today) == 4
    assert OutreachMessage.objects.filter(status=Status.SCHEDULED).count() == 5


def test_it_chooses_the_mailbox_by_the_injected_route():
    ru_box, other_box = make_mailbox("box-ru", route="ru"), make_mailbox("box-world", route="other")
    to_ru = make_draft("shop.ru.test")
    to_world = make_draft("shop.example.test")

    run()

    to_ru.refresh_from_db()
    to_world.refresh_from_db()
    assert (to_ru.mailbox, to_ru.metadata["route"]) == (ru_box, "ru")
    assert (to_world.mailbox, to_world.metadata["route"]) == (other_box, "other")


def test_a_route_without_an_active_mailbox_borrows_the_other_and_says_so():
    make_mailbox("box-ru-off", route="ru", active=False)
    other_box = make_mailbox("box-world", route="other")
    message = make_draft("shop.ru.test")

    run()

    message.refresh_from_db()
    assert message.mailbox == other_box
    assert message.metadata["route"] == "ru"
    assert "no active ru mailbox" in message.metadata["route_fallback"]


def test_without_any_active_mailbox_drafts_wait():
    make_mailbox(active=False)
    message = make_draft()

    result = run()

    message.refresh_from_db()
    assert result.no_mailbox == 1
    assert message.status == Status.DRAFT


def test_an_mx_lookup_that_failed_for_now_leaves_the_draft_for_the_next_run():
    make_mailbox()
    message = make_draft()

    def flaky(email):
        raise RouteUnavailable("SERVFAIL")

    result = run(route_for=flaky)

    message.refresh_from_db()
    assert result.deferred == 1
    assert message.status == Status.DRAFT
    assert run().scheduled == 1


def test_an_excluded_message_costs_no_mx_lookup():
    make_mailbox()
    make_draft(opt_out=True)
    asked = []

    run(route_for=lambda email: asked.append(email) or "other")

    assert asked == []


def test_it_rejects_an_unknown_route():
    make_mailbox()
    make_draft()

    with pytest.raises(ValueError, match="route_for returned"):
        run(route_for=lambda email: "mars")


def test_it_takes_the_oldest_drafts_first_up_to_the_limit():
    make_mailbox()
    old = make_draft(created=NOW - timedelta(days=2))
    new = make_draft(created=NOW - timedelta(minutes=1))

    assert run(limit=1).scheduled == 1

    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.status, new.status) == (Status.SCHEDULED, Status.DRAFT)
